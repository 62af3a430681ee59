// SPDX-License-Identifier: GPL-2.0

//! A bounded ring of whole, variable-size records.
//!
//! Producers never block and never overwrite: a record that does not fit is
//! dropped and counted, so that `produced == delivered + dropped + queued`
//! holds at every instant. Readers take whole records only, in two steps
//! (copy out, then consume) so that the caller can copy to userspace
//! without holding its lock and consume only what actually reached the
//! reader.
//!
//! Bulk records (one per system call or file use) may not take the last
//! [`RecordRing::bulk_reserve`] bytes: when a reader falls behind they are
//! dropped first, and the rare records that carry conclusions (diffusion,
//! pressure, VM events, heartbeats) still find room.
//!
//! The ring is not synchronised: the kernel wraps it in a spinlock.

use crate::abi::Counters;
use crate::abi::Pod;
use crate::abi::RecordHeader;
use crate::abi::RECORD_ALIGN;
use core::ops::DerefMut;

/// Byte offset of `size` in [`RecordHeader`].
const SIZE_OFFSET: usize = 6;

/// Why [`RecordRing::push`] refused a record outright.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PushError {
    /// The record is not well formed (magic, version, size) or its header's
    /// `size` differs from the slice's length. A bug in the producer; the
    /// record is not counted.
    Malformed,
}

/// What happened to a record offered to [`RecordRing::push`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pushed {
    /// Queued with this sequence number.
    Queued(u64),
    /// The ring was full: dropped and counted, with this sequence number.
    Dropped(u64),
}

/// Records copied by [`RecordRing::copy_out`], to be passed to
/// [`RecordRing::consume`] once delivered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[must_use]
pub struct Batch {
    /// Bytes copied.
    pub bytes: usize,
    /// Whole records copied.
    pub records: u64,
}

/// A ring of records over caller-provided storage.
///
/// # Invariants
///
/// - `tail <= head` and `head - tail <= capacity`; both only grow.
/// - The bytes from `tail` to `head` (modulo `capacity`) are whole, well
///   formed records starting at multiples of [`RECORD_ALIGN`], so a record
///   header's first 8 bytes are never split by the wrap.
/// - `counters.produced == counters.delivered + counters.dropped +
///   counters.queued`.
pub struct RecordRing<S> {
    storage: S,
    capacity: usize,
    head: u64,
    tail: u64,
    counters: Counters,
}

impl<S: DerefMut<Target = [u8]>> RecordRing<S> {
    /// Builds an empty ring over `storage`; its length is rounded down to
    /// a multiple of [`RECORD_ALIGN`].
    pub fn new(storage: S) -> Self {
        let capacity = storage.len() - storage.len() % RECORD_ALIGN;
        // INVARIANT: empty ring, all counters zero.
        Self {
            storage,
            capacity,
            head: 0,
            tail: 0,
            counters: Counters::default(),
        }
    }

    /// Capacity in bytes.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The accounting, with `queued` current.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// Whether no record is waiting.
    pub fn is_empty(&self) -> bool {
        self.head == self.tail
    }

    /// Sequence number the next produced record will get.
    pub fn next_seq(&self) -> u64 {
        self.counters.produced
    }

    fn used(&self) -> usize {
        // Cannot truncate: bounded by `capacity` (invariant).
        (self.head - self.tail) as usize
    }

    fn offset(&self, position: u64) -> usize {
        // A capacity of zero never holds data, so never reaches here with
        // anything to copy; avoid dividing by it anyway.
        if self.capacity == 0 {
            return 0;
        }
        (position % self.capacity as u64) as usize
    }

    /// Bytes of free space bulk records leave to the others: an eighth of
    /// the ring, so that a burst of at least a few hundred diffusion
    /// records fits while the reader catches up.
    pub fn bulk_reserve(&self) -> usize {
        self.capacity / 8
    }

    /// Offers a record: stamps its `seq` and queues it, or drops it (and
    /// counts it) if the ring is full.
    pub fn push(&mut self, record: &mut [u8]) -> Result<Pushed, PushError> {
        self.push_leaving(record, 0)
    }

    /// Offers a bulk record: like [`Self::push`], but dropped (and counted)
    /// unless [`Self::bulk_reserve`] bytes stay free after it.
    pub fn push_bulk(&mut self, record: &mut [u8]) -> Result<Pushed, PushError> {
        self.push_leaving(record, self.bulk_reserve())
    }

    /// Queues `record` if `reserve` bytes stay free after it.
    fn push_leaving(&mut self, record: &mut [u8], reserve: usize) -> Result<Pushed, PushError> {
        let header = RecordHeader::read_from(record).ok_or(PushError::Malformed)?;
        if !header.is_well_formed() || header.size as usize != record.len() {
            return Err(PushError::Malformed);
        }
        let seq = self.counters.produced;
        self.counters.produced += 1;
        if record.len().saturating_add(reserve) > self.capacity - self.used() {
            self.counters.dropped += 1;
            return Ok(Pushed::Dropped(seq));
        }
        let seq_field = RecordHeader::SEQ_OFFSET..RecordHeader::SEQ_OFFSET + 8;
        record[seq_field].copy_from_slice(&seq.to_ne_bytes());

        let start = self.offset(self.head);
        let first = record.len().min(self.capacity - start);
        self.storage[start..start + first].copy_from_slice(&record[..first]);
        self.storage[..record.len() - first].copy_from_slice(&record[first..]);
        self.head += record.len() as u64;
        self.counters.queued += 1;
        Ok(Pushed::Queued(seq))
    }

    /// Size of the oldest queued record, if any: a reader whose buffer is
    /// smaller cannot make progress.
    pub fn next_record_size(&self) -> Option<usize> {
        if self.is_empty() {
            return None;
        }
        let at = self.offset(self.tail) + SIZE_OFFSET;
        Some(u16::from_ne_bytes([self.storage[at], self.storage[at + 1]]) as usize)
    }

    /// Copies as many whole records as fit into `out`, oldest first,
    /// without consuming them.
    pub fn copy_out(&self, out: &mut [u8]) -> Batch {
        let mut batch = Batch::default();
        let mut position = self.tail;
        while position < self.head {
            let at = self.offset(position);
            let size_at = at + SIZE_OFFSET;
            let size =
                u16::from_ne_bytes([self.storage[size_at], self.storage[size_at + 1]]) as usize;
            // Sizes were checked by `push`; this only guards the loop.
            if size == 0 || batch.bytes + size > out.len() {
                break;
            }
            let first = size.min(self.capacity - at);
            out[batch.bytes..batch.bytes + first].copy_from_slice(&self.storage[at..at + first]);
            out[batch.bytes + first..batch.bytes + size]
                .copy_from_slice(&self.storage[..size - first]);
            batch.bytes += size;
            batch.records += 1;
            position += size as u64;
        }
        batch
    }

    /// Consumes records previously returned by [`Self::copy_out`] and
    /// counts them delivered. The caller must not have consumed anything
    /// since that `copy_out` (readers are serialised).
    pub fn consume(&mut self, batch: Batch) {
        let bytes = (batch.bytes as u64).min(self.head - self.tail);
        let records = batch.records.min(self.counters.queued);
        self.tail += bytes;
        self.counters.queued -= records;
        self.counters.delivered += records;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::HeartbeatRecord;
    use crate::abi::LoadedRecord;
    use crate::abi::RecordKind;
    use std::vec;
    use std::vec::Vec;

    fn heartbeat(time_ns: u64) -> HeartbeatRecord {
        HeartbeatRecord {
            header: RecordHeader::new::<HeartbeatRecord>(RecordKind::Heartbeat, time_ns),
            counters: Counters::default(),
        }
    }

    fn loaded() -> LoadedRecord {
        LoadedRecord {
            header: RecordHeader::new::<LoadedRecord>(RecordKind::Loaded, 1),
            ring_bytes: 4096,
            heartbeat_ms: 1000,
        }
    }

    fn check_accounting(ring: &RecordRing<Vec<u8>>) {
        let c = ring.counters();
        assert_eq!(c.produced, c.delivered + c.dropped + c.queued);
    }

    /// Splits a read buffer into headers, checking each is well formed.
    fn headers(bytes: &[u8]) -> Vec<RecordHeader> {
        let mut out = Vec::new();
        let mut at = 0;
        while at < bytes.len() {
            let h = RecordHeader::read_from(&bytes[at..]).expect("truncated header");
            assert!(h.is_well_formed(), "malformed record at {at}: {h:?}");
            out.push(h);
            at += h.size as usize;
        }
        assert_eq!(at, bytes.len(), "partial record in read buffer");
        out
    }

    #[test]
    fn records_come_out_whole_in_order_with_sequence_numbers() {
        let mut ring = RecordRing::new(vec![0u8; 1000]);
        assert_eq!(ring.capacity(), 1000);
        assert_eq!(ring.push(loaded().as_bytes_mut()), Ok(Pushed::Queued(0)));
        for i in 0..3 {
            assert_eq!(
                ring.push(heartbeat(i).as_bytes_mut()),
                Ok(Pushed::Queued(i + 1))
            );
        }
        let mut out = vec![0u8; 4096];
        let batch = ring.copy_out(&mut out);
        assert_eq!(batch.records, 4);
        assert_eq!(batch.bytes, 32 + 3 * 56);
        let hs = headers(&out[..batch.bytes]);
        assert_eq!(hs.iter().map(|h| h.seq).collect::<Vec<_>>(), [0, 1, 2, 3]);
        assert_eq!(hs[0].kind, RecordKind::Loaded as u16);
        ring.consume(batch);
        assert!(ring.is_empty());
        assert_eq!(ring.counters().delivered, 4);
        check_accounting(&ring);
    }

    #[test]
    fn short_buffer_gets_only_whole_records() {
        let mut ring = RecordRing::new(vec![0u8; 1024]);
        for i in 0..4 {
            ring.push(heartbeat(i).as_bytes_mut()).unwrap();
        }
        let mut out = vec![0u8; 56 * 2 + 55];
        let batch = ring.copy_out(&mut out);
        assert_eq!(
            batch,
            Batch {
                bytes: 112,
                records: 2
            }
        );
        ring.consume(batch);
        let mut tiny = vec![0u8; 55];
        assert_eq!(ring.copy_out(&mut tiny), Batch::default());
        assert_eq!(ring.next_record_size(), Some(56));
        check_accounting(&ring);
    }

    #[test]
    fn full_ring_drops_newest_and_counts_it() {
        // Room for exactly two heartbeats.
        let mut ring = RecordRing::new(vec![0u8; 112]);
        assert_eq!(
            ring.push(heartbeat(0).as_bytes_mut()),
            Ok(Pushed::Queued(0))
        );
        assert_eq!(
            ring.push(heartbeat(1).as_bytes_mut()),
            Ok(Pushed::Queued(1))
        );
        assert_eq!(
            ring.push(heartbeat(2).as_bytes_mut()),
            Ok(Pushed::Dropped(2))
        );
        check_accounting(&ring);
        let mut out = vec![0u8; 1024];
        let batch = ring.copy_out(&mut out);
        ring.consume(batch);
        assert_eq!(
            ring.push(heartbeat(3).as_bytes_mut()),
            Ok(Pushed::Queued(3))
        );
        let batch = ring.copy_out(&mut out);
        // The gap 1 -> 3 is how a reader sees the drop.
        assert_eq!(headers(&out[..batch.bytes])[0].seq, 3);
        let c = ring.counters();
        assert_eq!((c.produced, c.delivered, c.dropped, c.queued), (4, 2, 1, 1));
        check_accounting(&ring);
    }

    #[test]
    fn bulk_records_leave_the_reserve_to_the_others() {
        // 64 heartbeats' worth: the reserve is 8 of them.
        let mut ring = RecordRing::new(vec![0u8; 64 * 56]);
        assert_eq!(ring.bulk_reserve(), 8 * 56);
        let mut bulk = 0;
        while let Ok(Pushed::Queued(_)) = ring.push_bulk(heartbeat(bulk).as_bytes_mut()) {
            bulk += 1;
        }
        // The refused bulk record is counted like any drop.
        assert_eq!(bulk, 56);
        assert_eq!(ring.counters().dropped, 1);
        // The reserve still takes the other records, to the last byte.
        for i in 0..8 {
            assert!(matches!(
                ring.push(heartbeat(100 + i).as_bytes_mut()),
                Ok(Pushed::Queued(_))
            ));
        }
        assert!(matches!(
            ring.push(heartbeat(200).as_bytes_mut()),
            Ok(Pushed::Dropped(_))
        ));
        check_accounting(&ring);
        // Once read, bulk records get in again.
        let mut out = vec![0u8; 64 * 56];
        let batch = ring.copy_out(&mut out);
        ring.consume(batch);
        assert!(matches!(
            ring.push_bulk(heartbeat(300).as_bytes_mut()),
            Ok(Pushed::Queued(_))
        ));
        check_accounting(&ring);
    }

    #[test]
    fn records_survive_the_wrap() {
        // 3 * 56 = 168 does not divide 200: records straddle the end.
        let mut ring = RecordRing::new(vec![0u8; 200]);
        let mut out = vec![0u8; 200];
        let mut expected_seq = 0;
        for round in 0..50u64 {
            for i in 0..3 {
                let mut hb = heartbeat(round * 10 + i);
                hb.counters.produced = 0xdead_beef_0000 + round;
                assert!(matches!(
                    ring.push(hb.as_bytes_mut()),
                    Ok(Pushed::Queued(_))
                ));
            }
            let batch = ring.copy_out(&mut out);
            assert_eq!(batch.records, 3);
            let mut at = 0;
            for h in headers(&out[..batch.bytes]) {
                assert_eq!(h.seq, expected_seq);
                let hb = HeartbeatRecord::read_from(&out[at..]).unwrap();
                assert_eq!(hb.counters.produced, 0xdead_beef_0000 + round);
                expected_seq += 1;
                at += h.size as usize;
            }
            ring.consume(batch);
        }
        check_accounting(&ring);
    }

    #[test]
    fn malformed_records_are_refused_and_not_counted() {
        let mut ring = RecordRing::new(vec![0u8; 1024]);
        let mut bad_magic = heartbeat(0);
        bad_magic.header.magic = 0;
        assert_eq!(
            ring.push(bad_magic.as_bytes_mut()),
            Err(PushError::Malformed)
        );
        let mut bad_size = heartbeat(0);
        bad_size.header.size = 48;
        assert_eq!(
            ring.push(bad_size.as_bytes_mut()),
            Err(PushError::Malformed)
        );
        assert_eq!(ring.push(&mut [0u8; 4]), Err(PushError::Malformed));
        assert_eq!(ring.counters(), Counters::default());
    }

    #[test]
    fn unconsumed_copy_is_read_again() {
        // A reader whose copy to userspace faulted consumes nothing; the
        // next reader gets the same records.
        let mut ring = RecordRing::new(vec![0u8; 1024]);
        ring.push(heartbeat(0).as_bytes_mut()).unwrap();
        let mut out = vec![0u8; 1024];
        let first = ring.copy_out(&mut out);
        let again = ring.copy_out(&mut out);
        assert_eq!(first, again);
        assert_eq!(ring.counters().delivered, 0);
        check_accounting(&ring);
    }

    #[test]
    fn zero_capacity_ring_drops_everything() {
        let mut ring = RecordRing::new(vec![0u8; 7]);
        assert_eq!(ring.capacity(), 0);
        assert_eq!(
            ring.push(heartbeat(0).as_bytes_mut()),
            Ok(Pushed::Dropped(0))
        );
        assert_eq!(ring.next_record_size(), None);
        check_accounting(&ring);
    }
}
