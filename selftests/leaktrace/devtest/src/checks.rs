// SPDX-License-Identifier: GPL-2.0

//! The device tests' verdicts as pure functions over what was read, so
//! that their logic is unit-tested on the host.

use leaktrace::abi::Counters;
use leaktrace::abi::Refusal;
use leaktrace::abi::SyscallEnd;
use leaktrace::abi::VmEvent;
use leaktrace::abi::EMIT_TEST_MAX;
use leaktrace::decode::Event;
use leaktrace::decode::Record;
use std::collections::BTreeSet;

/// `produced == delivered + dropped + queued`.
pub fn identity(c: &Counters) -> Result<(), String> {
    if c.delivered
        .checked_add(c.dropped)
        .and_then(|s| s.checked_add(c.queued))
        == Some(c.produced)
    {
        Ok(())
    } else {
        Err(format!(
            "counters identity broken: produced {} != delivered {} + dropped {} + queued {}",
            c.produced, c.delivered, c.dropped, c.queued
        ))
    }
}

/// Slack allowed between the module's `time_ns` and our later reading of
/// `CLOCK_MONOTONIC` (both are the same clock; this only absorbs rounding).
const CLOCK_SLACK_NS: u64 = 1_000_000;

/// Checks what the ABI promises about one record, read at `now_ns`
/// (`CLOCK_MONOTONIC` after the read returned): its time, and the fields
/// of each kind. The module at this ABI version produces no unknown kind.
pub fn check_record(record: &Record, now_ns: u64) -> Result<(), String> {
    let h = record.header();
    let seq = h.seq;
    if h.time_ns == 0 || h.time_ns > now_ns.saturating_add(CLOCK_SLACK_NS) {
        return Err(format!(
            "record seq {seq}: time_ns {} is not a CLOCK_MONOTONIC time before its read ({now_ns})",
            h.time_ns
        ));
    }
    match record {
        Record::Loaded(r) => {
            if seq != 0 {
                return Err(format!(
                    "Loaded record with seq {seq} (must be the first, seq 0)"
                ));
            }
            if r.heartbeat_ms == 0 || r.ring_bytes == 0 {
                return Err(format!(
                    "Loaded record with heartbeat_ms {} and ring_bytes {}",
                    r.heartbeat_ms, r.ring_bytes
                ));
            }
        }
        Record::Heartbeat(r) => {
            identity(&r.counters).map_err(|e| format!("heartbeat seq {seq}: {e}"))?;
            if r.counters.produced > seq {
                return Err(format!(
                    "heartbeat seq {seq} claims {} records produced before it",
                    r.counters.produced
                ));
            }
        }
        Record::Test(r) => {
            if r.burst == 0 || r.burst > EMIT_TEST_MAX || r.index >= r.burst {
                return Err(format!(
                    "test record seq {seq}: index {} of a burst of {}",
                    r.index, r.burst
                ));
            }
        }
        Record::Vm(r) => {
            if VmEvent::from_raw(r.event).is_none() || Refusal::from_raw(r.refusal).is_none() {
                return Err(format!(
                    "vm record seq {seq}: unknown event {} or refusal {}",
                    r.event, r.refusal
                ));
            }
            if r.reserved != 0 {
                return Err(format!("vm record seq {seq}: reserved {:#x}", r.reserved));
            }
        }
        Record::File(r) => {
            if leaktrace::abi::Resolution::from_raw(r.status).is_none()
                || leaktrace::abi::FileKind::from_raw(r.kind).is_none()
                || r.call_id == 0
            {
                return Err(format!(
                    "file record seq {seq}: status {}, kind {}, call_id {}",
                    r.status, r.kind, r.call_id
                ));
            }
        }
        Record::Syscall(r) => {
            if SyscallEnd::from_raw(r.end).is_none() || r.reserved != 0 {
                return Err(format!(
                    "syscall record seq {seq}: unknown end {} or reserved {:#x}",
                    r.end, r.reserved
                ));
            }
            if r.exit_ns < r.entry_ns {
                return Err(format!(
                    "syscall record seq {seq}: exit_ns {} before entry_ns {}",
                    r.exit_ns, r.entry_ns
                ));
            }
        }
        Record::Diffusion(r) => {
            let known = |n: &leaktrace::abi::Node| {
                leaktrace::abi::NodeKind::from_raw(n.kind).is_some() && n.reserved == 0
            };
            if leaktrace::abi::DiffusionOp::from_raw(r.op).is_none()
                || !known(&r.source)
                || !known(&r.target)
                || r.new_secrets & !r.secrets != 0
            {
                return Err(format!(
                    "diffusion record seq {seq}: op {}, node kinds {} and {}, secrets {:#x}, \
                     new secrets {:#x}",
                    r.op, r.source.kind, r.target.kind, r.secrets, r.new_secrets
                ));
            }
        }
        Record::Pressure(r) => {
            if leaktrace::abi::TableKind::from_raw(r.table).is_none()
                || leaktrace::abi::NodeKind::from_raw(r.node.kind).is_none()
                || r.reserved != 0
            {
                return Err(format!(
                    "pressure record seq {seq}: table {}, node kind {}, reserved {:#x}",
                    r.table, r.node.kind, r.reserved
                ));
            }
        }
        Record::Unknown(h) => {
            return Err(format!(
                "record seq {seq} of unknown kind {} (size {}) from a module of this ABI version",
                h.kind, h.size
            ))
        }
    }
    Ok(())
}

/// The records among `events`.
pub fn records(events: &[Event]) -> impl Iterator<Item = &Record> {
    events.iter().filter_map(|e| match e {
        Event::Record(r) => Some(r),
        Event::Lost { .. } => None,
    })
}

/// `(index, burst)` of the test records among `events`, in order.
pub fn tests(events: &[Event]) -> Vec<(u64, u64)> {
    records(events)
        .filter_map(|r| match r {
            Record::Test(t) => Some((t.index, t.burst)),
            _ => None,
        })
        .collect()
}

/// A burst of `burst` test records read back by a single reader with no
/// drop: `events` (everything read since the ring was drained) holds no gap,
/// and its test records are exactly indices `0..burst` of a burst of
/// `burst`, in order (heartbeats may interleave).
pub fn check_complete_burst(events: &[Event], burst: u64) -> Result<(), String> {
    if let Some(Event::Lost { first_seq, count }) =
        events.iter().find(|e| matches!(e, Event::Lost { .. }))
    {
        return Err(format!(
            "{count} records missing from seq {first_seq} although nothing should drop"
        ));
    }
    let tests = tests(events);
    for (i, &(index, b)) in tests.iter().enumerate() {
        if b != burst || index != i as u64 {
            return Err(format!(
                "test record #{i} read is index {index} of a burst of {b}, \
                 expected index {i} of a burst of {burst}"
            ));
        }
    }
    if tests.len() as u64 != burst {
        return Err(format!(
            "read {} test records of a burst of {burst}",
            tests.len()
        ));
    }
    Ok(())
}

/// How many sequence numbers in `start..=last` are missing from `seqs`
/// (which must be strictly increasing and start at or after `start`);
/// `last` is the last element.
pub fn missing_seqs(start: u64, seqs: &[u64]) -> Result<u64, String> {
    let mut expected = start;
    let mut missing = 0;
    for &seq in seqs {
        if seq < expected {
            return Err(format!(
                "seq {seq} read where seq >= {expected} was expected (not increasing)"
            ));
        }
        missing += seq - expected;
        expected = seq + 1;
    }
    Ok(missing)
}

/// With nobody reading while bursts of `chunks[i]` test records were
/// emitted into a ring that overflowed, the ring drops the newest: the
/// test records delivered (`tests`, in order, as `(index, burst)`) are the
/// first `k` records of the bursts in order, with `k` smaller than the
/// total. Returns `k`.
pub fn check_delivered_prefix(tests: &[(u64, u64)], chunks: &[u64]) -> Result<usize, String> {
    let total: u64 = chunks.iter().sum();
    let mut expected = chunks
        .iter()
        .flat_map(|&burst| (0..burst).map(move |index| (index, burst)));
    for (i, &got) in tests.iter().enumerate() {
        match expected.next() {
            Some(want) if want == got => {}
            Some((index, burst)) => {
                return Err(format!(
                    "delivered test record #{i} is index {} of a burst of {}, expected \
                     index {index} of a burst of {burst}: the ring did not drop the newest",
                    got.0, got.1
                ))
            }
            None => {
                return Err(format!(
                    "more than the {total} test records emitted were read"
                ))
            }
        }
    }
    if tests.len() as u64 >= total {
        return Err(format!(
            "all {total} test records were delivered although they exceed the ring"
        ));
    }
    Ok(tests.len())
}

/// Concurrent readers: each reader's sequence numbers (strictly increasing
/// within a reader, checked by its decoder) from `start` (the `produced`
/// counter when the ring was empty and the readers started) must be
/// disjoint, within `start..start + produced`, and together with the
/// records `dropped` and still `queued` account for every record
/// `produced` since (`produced`, `dropped` are deltas over the test).
pub fn check_split(
    start: u64,
    readers: &[Vec<u64>],
    produced: u64,
    dropped: u64,
    queued: u64,
) -> Result<(), String> {
    let end = start + produced;
    let mut seen = BTreeSet::new();
    for (r, seqs) in readers.iter().enumerate() {
        for &seq in seqs {
            if seq < start || seq >= end {
                return Err(format!(
                    "reader {r} read seq {seq}, outside the {start}..{end} produced during the test"
                ));
            }
            if !seen.insert(seq) {
                return Err(format!("seq {seq} was delivered twice"));
            }
        }
    }
    let delivered = seen.len() as u64;
    if delivered + dropped + queued != produced {
        return Err(format!(
            "{produced} records produced but {delivered} read + {dropped} dropped + {queued} \
             queued = {}: records were lost without being counted (or counted twice)",
            delivered + dropped + queued
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use leaktrace::abi::HeartbeatRecord;
    use leaktrace::abi::LoadedRecord;
    use leaktrace::abi::RecordHeader;
    use leaktrace::abi::RecordKind;
    use leaktrace::abi::TestRecord;

    fn test(seq: u64, index: u64, burst: u64) -> Event {
        let mut header = RecordHeader::new::<TestRecord>(RecordKind::Test, 10);
        header.seq = seq;
        Event::Record(Record::Test(TestRecord {
            header,
            index,
            burst,
        }))
    }

    fn heartbeat(seq: u64, counters: Counters) -> Record {
        let mut header = RecordHeader::new::<HeartbeatRecord>(RecordKind::Heartbeat, 10);
        header.seq = seq;
        Record::Heartbeat(HeartbeatRecord { header, counters })
    }

    fn counters(produced: u64, delivered: u64, dropped: u64, queued: u64) -> Counters {
        Counters {
            produced,
            delivered,
            dropped,
            queued,
        }
    }

    #[test]
    fn identity_holds_or_not() {
        assert!(identity(&counters(10, 5, 3, 2)).is_ok());
        assert!(identity(&counters(10, 5, 3, 1)).is_err());
        assert!(identity(&counters(0, u64::MAX, 1, 0)).is_err());
    }

    #[test]
    fn records_are_checked() {
        assert!(check_record(&heartbeat(7, counters(7, 6, 1, 0)), 100).is_ok());
        // Counters not as of before the heartbeat.
        assert!(check_record(&heartbeat(7, counters(8, 7, 1, 0)), 100).is_err());
        assert!(check_record(&heartbeat(7, counters(7, 6, 0, 0)), 100).is_err());
        // Produced in the future (a clock other than CLOCK_MONOTONIC).
        let mut future = heartbeat(7, counters(7, 6, 1, 0));
        if let Record::Heartbeat(h) = &mut future {
            h.header.time_ns = 5_000_000_000;
        }
        assert!(check_record(&future, 1_000_000_000).is_err());
        assert!(check_record(&future, 5_000_000_000).is_ok());
        let Event::Record(ok) = test(3, 4, 5) else {
            unreachable!()
        };
        assert!(check_record(&ok, 100).is_ok());
        let Event::Record(bad) = test(3, 5, 5) else {
            unreachable!()
        };
        assert!(check_record(&bad, 100).is_err());
        let mut header = RecordHeader::new::<LoadedRecord>(RecordKind::Loaded, 10);
        let loaded = |header| {
            Record::Loaded(LoadedRecord {
                header,
                ring_bytes: 4096,
                heartbeat_ms: 1000,
            })
        };
        assert!(check_record(&loaded(header), 100).is_ok());
        header.seq = 1;
        assert!(check_record(&loaded(header), 100).is_err());
        header.kind = 99;
        assert!(check_record(&Record::Unknown(header), 100).is_err());
    }

    #[test]
    fn vm_and_syscall_records_are_checked() {
        use leaktrace::abi::SyscallRecord;
        use leaktrace::abi::VmRecord;
        let vm = VmRecord {
            header: RecordHeader::new::<VmRecord>(RecordKind::Vm, 10),
            event: VmEvent::Created as u32,
            ..VmRecord::default()
        };
        assert!(check_record(&Record::Vm(vm), 100).is_ok());
        let bad = VmRecord { event: 0, ..vm };
        assert!(check_record(&Record::Vm(bad), 100).is_err());
        let call = SyscallRecord {
            header: RecordHeader::new::<SyscallRecord>(RecordKind::Syscall, 10),
            end: SyscallEnd::Returned as u32,
            entry_ns: 5,
            exit_ns: 9,
            ..SyscallRecord::default()
        };
        assert!(check_record(&Record::Syscall(call), 100).is_ok());
        let backwards = SyscallRecord { exit_ns: 4, ..call };
        assert!(check_record(&Record::Syscall(backwards), 100).is_err());
        let unknown_end = SyscallRecord { end: 9, ..call };
        assert!(check_record(&Record::Syscall(unknown_end), 100).is_err());
    }

    #[test]
    fn complete_burst() {
        let hb = Event::Record(heartbeat(2, counters(2, 2, 0, 0)));
        let ok = [test(0, 0, 3), test(1, 1, 3), hb, test(3, 2, 3)];
        assert_eq!(check_complete_burst(&ok, 3), Ok(()));
        // Missing last record.
        assert!(check_complete_burst(&ok[..3], 3).is_err());
        // Out of order.
        let swapped = [test(0, 1, 3), test(1, 0, 3), test(2, 2, 3)];
        assert!(check_complete_burst(&swapped, 3).is_err());
        // A gap, even with all indices present, means a record was lost.
        let gap = [
            test(0, 0, 2),
            Event::Lost {
                first_seq: 1,
                count: 1,
            },
            test(2, 1, 2),
        ];
        assert!(check_complete_burst(&gap, 2).is_err());
        // Wrong burst size.
        assert!(check_complete_burst(&[test(0, 0, 1)], 2).is_err());
    }

    #[test]
    fn missing_seqs_counts_gaps() {
        assert_eq!(missing_seqs(10, &[10, 11, 12]), Ok(0));
        assert_eq!(missing_seqs(10, &[12, 13, 20]), Ok(2 + 6));
        assert_eq!(missing_seqs(10, &[]), Ok(0));
        assert!(missing_seqs(10, &[9]).is_err());
        assert!(missing_seqs(10, &[11, 11]).is_err());
    }

    #[test]
    fn delivered_prefix() {
        let t = |index, burst| (index, burst);
        assert_eq!(check_delivered_prefix(&[t(0, 5), t(1, 5)], &[5]), Ok(2));
        assert_eq!(
            check_delivered_prefix(&[t(0, 2), t(1, 2), t(0, 3)], &[2, 3]),
            Ok(3)
        );
        // Oldest dropped instead of newest.
        assert!(check_delivered_prefix(&[t(3, 5), t(4, 5)], &[5]).is_err());
        // A hole in the middle.
        assert!(check_delivered_prefix(&[t(0, 5), t(2, 5)], &[5]).is_err());
        // Nothing dropped: no overflow happened.
        assert!(check_delivered_prefix(&[t(0, 2), t(1, 2)], &[2]).is_err());
    }

    #[test]
    fn split_between_readers() {
        // 10 produced from 100: 6 read, 3 dropped, 1 queued.
        let readers = vec![vec![100, 102, 105], vec![101, 103, 104]];
        assert_eq!(check_split(100, &readers, 10, 3, 1), Ok(()));
        // Duplicate delivery.
        let dup = vec![vec![100, 102], vec![101, 102]];
        assert!(check_split(100, &dup, 10, 6, 0).is_err());
        // A record lost without being counted.
        assert!(check_split(100, &readers, 10, 2, 1).is_err());
        // A record from before the test.
        assert!(check_split(100, &[vec![99]], 10, 9, 0).is_err());
    }
}
