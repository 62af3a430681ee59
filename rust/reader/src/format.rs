// SPDX-License-Identifier: GPL-2.0

//! Rendering of events and device status for `leaktrace watch` and
//! `leaktrace status`, as text for people and as JSON for scripts.
//!
//! # `watch --json`
//!
//! One JSON object per line, per [`Event`], with a `type` field:
//!
//! | `type`      | other fields                                              |
//! |-------------|-----------------------------------------------------------|
//! | `loaded`    | `seq`, `time_ns`, `ring_bytes`, `heartbeat_ms`            |
//! | `heartbeat` | `seq`, `time_ns`, `produced`, `delivered`, `dropped`, `queued` |
//! | `test`      | `seq`, `time_ns`, `index`, `burst`                        |
//! | `unknown`   | `seq`, `time_ns`, `kind`, `size`                          |
//! | `lost`      | `first_seq`, `count`                                      |
//!
//! All numbers are unsigned integers; `time_ns` is `CLOCK_MONOTONIC` in
//! nanoseconds at production. A `lost` line comes just before the record
//! whose `seq` revealed the gap.

use crate::decode::Event;
use crate::decode::Record;
use leaktrace_abi::Info;
use serde::Serialize;

/// One line of `watch --json` (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum JsonEvent {
    /// A `Loaded` record.
    Loaded {
        /// Sequence number.
        seq: u64,
        /// `CLOCK_MONOTONIC` at production, ns.
        time_ns: u64,
        /// Capacity of the module's ring, bytes.
        ring_bytes: u32,
        /// Heartbeat period, ms.
        heartbeat_ms: u32,
    },
    /// A `Heartbeat` record with the ring's counters just before it.
    Heartbeat {
        /// Sequence number.
        seq: u64,
        /// `CLOCK_MONOTONIC` at production, ns.
        time_ns: u64,
        /// Records produced.
        produced: u64,
        /// Records delivered to readers.
        delivered: u64,
        /// Records dropped (ring full).
        dropped: u64,
        /// Records queued.
        queued: u64,
    },
    /// A `Test` record.
    Test {
        /// Sequence number.
        seq: u64,
        /// `CLOCK_MONOTONIC` at production, ns.
        time_ns: u64,
        /// Position in its burst, from 0.
        index: u64,
        /// Size of its burst.
        burst: u64,
    },
    /// A record of a kind this build does not know.
    Unknown {
        /// Sequence number.
        seq: u64,
        /// `CLOCK_MONOTONIC` at production, ns.
        time_ns: u64,
        /// Raw `kind` field.
        kind: u16,
        /// Size of the record, bytes.
        size: u16,
    },
    /// Records this reader never saw (dropped, or read by another reader).
    Lost {
        /// First missing sequence number.
        first_seq: u64,
        /// Number of records missing.
        count: u64,
    },
}

impl From<&Event> for JsonEvent {
    fn from(event: &Event) -> Self {
        match *event {
            Event::Lost { first_seq, count } => Self::Lost { first_seq, count },
            Event::Record(record) => {
                let h = *record.header();
                match record {
                    Record::Loaded(r) => Self::Loaded {
                        seq: h.seq,
                        time_ns: h.time_ns,
                        ring_bytes: r.ring_bytes,
                        heartbeat_ms: r.heartbeat_ms,
                    },
                    Record::Heartbeat(r) => Self::Heartbeat {
                        seq: h.seq,
                        time_ns: h.time_ns,
                        produced: r.counters.produced,
                        delivered: r.counters.delivered,
                        dropped: r.counters.dropped,
                        queued: r.counters.queued,
                    },
                    Record::Test(r) => Self::Test {
                        seq: h.seq,
                        time_ns: h.time_ns,
                        index: r.index,
                        burst: r.burst,
                    },
                    Record::Unknown(_) => Self::Unknown {
                        seq: h.seq,
                        time_ns: h.time_ns,
                        kind: h.kind,
                        size: h.size,
                    },
                }
            }
        }
    }
}

/// The event as one line of JSON (no newline).
pub fn json_line(event: &Event) -> serde_json::Result<String> {
    serde_json::to_string(&JsonEvent::from(event))
}

/// Formats nanoseconds as seconds with nine decimals.
fn seconds(ns: u64) -> String {
    format!("{}.{:09}", ns / 1_000_000_000, ns % 1_000_000_000)
}

/// The event as one line of text (no newline), for example
/// `seq=4 time=12.000000300 test index=0 burst=1` or
/// `3 records lost (seq 6..8)`.
pub fn text_line(event: &Event) -> String {
    match *event {
        Event::Lost { first_seq, count } => {
            let last = first_seq.saturating_add(count.saturating_sub(1));
            let noun = if count == 1 { "record" } else { "records" };
            format!("{count} {noun} lost (seq {first_seq}..{last})")
        }
        Event::Record(record) => {
            let h = record.header();
            let what = match record {
                Record::Loaded(r) => format!(
                    "loaded ring_bytes={} heartbeat_ms={}",
                    r.ring_bytes, r.heartbeat_ms
                ),
                Record::Heartbeat(r) => format!(
                    "heartbeat produced={} delivered={} dropped={} queued={}",
                    r.counters.produced,
                    r.counters.delivered,
                    r.counters.dropped,
                    r.counters.queued
                ),
                Record::Test(r) => format!("test index={} burst={}", r.index, r.burst),
                Record::Unknown(h) => format!("unknown kind={} size={}", h.kind, h.size),
            };
            format!("seq={} time={} {what}", h.seq, seconds(h.time_ns))
        }
    }
}

/// `status --json`: the reply of `IOCTL_GET_INFO`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct JsonStatus {
    /// Device path that was queried.
    pub device: String,
    /// ABI version of the running module.
    pub abi_version: u16,
    /// Largest record the module produces, bytes.
    pub record_max_size: u32,
    /// Capacity of the module's ring, bytes.
    pub ring_bytes: u64,
    /// Ring accounting: `produced == delivered + dropped + queued`.
    pub counters: JsonCounters,
    /// Open file descriptions of the device, this one included.
    pub readers: u64,
}

/// The counters of [`JsonStatus`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct JsonCounters {
    /// Records produced since load.
    pub produced: u64,
    /// Records copied to a reader.
    pub delivered: u64,
    /// Records dropped because the ring was full.
    pub dropped: u64,
    /// Records waiting in the ring.
    pub queued: u64,
}

impl JsonStatus {
    /// The status of `device` from its `Info`.
    pub fn new(device: &str, info: &Info) -> Self {
        let c = info.counters;
        Self {
            device: device.to_owned(),
            abi_version: info.abi_version,
            record_max_size: info.record_max_size,
            ring_bytes: info.ring_bytes,
            counters: JsonCounters {
                produced: c.produced,
                delivered: c.delivered,
                dropped: c.dropped,
                queued: c.queued,
            },
            readers: info.readers,
        }
    }
}

/// `status` as text, one `name: value` per line (with final newline).
pub fn status_text(device: &str, info: &Info) -> String {
    let c = info.counters;
    let rows = [
        ("device", device.to_owned()),
        ("abi version", info.abi_version.to_string()),
        ("record max size", format!("{} bytes", info.record_max_size)),
        ("ring size", format!("{} bytes", info.ring_bytes)),
        ("produced", c.produced.to_string()),
        ("delivered", c.delivered.to_string()),
        ("dropped", c.dropped.to_string()),
        ("queued", c.queued.to_string()),
        ("readers", format!("{} (this one included)", info.readers)),
    ];
    let mut out = String::new();
    for (name, value) in rows {
        out.push_str(&format!("{:<16} {value}\n", format!("{name}:")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use leaktrace_abi::Counters;
    use leaktrace_abi::HeartbeatRecord;
    use leaktrace_abi::LoadedRecord;
    use leaktrace_abi::RecordHeader;
    use leaktrace_abi::RecordKind;
    use leaktrace_abi::TestRecord;

    fn header<T: leaktrace_abi::Pod>(kind: RecordKind, seq: u64) -> RecordHeader {
        let mut h = RecordHeader::new::<T>(kind, 1_500_000_002);
        h.seq = seq;
        h
    }

    #[test]
    fn json_lines_have_the_documented_fields() {
        let loaded = Event::Record(Record::Loaded(LoadedRecord {
            header: header::<LoadedRecord>(RecordKind::Loaded, 0),
            ring_bytes: 4096,
            heartbeat_ms: 1000,
        }));
        assert_eq!(
            json_line(&loaded).unwrap(),
            r#"{"type":"loaded","seq":0,"time_ns":1500000002,"ring_bytes":4096,"heartbeat_ms":1000}"#
        );
        let hb = Event::Record(Record::Heartbeat(HeartbeatRecord {
            header: header::<HeartbeatRecord>(RecordKind::Heartbeat, 9),
            counters: Counters {
                produced: 9,
                delivered: 7,
                dropped: 1,
                queued: 1,
            },
        }));
        assert_eq!(
            json_line(&hb).unwrap(),
            r#"{"type":"heartbeat","seq":9,"time_ns":1500000002,"produced":9,"delivered":7,"dropped":1,"queued":1}"#
        );
        let test = Event::Record(Record::Test(TestRecord {
            header: header::<TestRecord>(RecordKind::Test, 10),
            index: 3,
            burst: 5,
        }));
        assert_eq!(
            json_line(&test).unwrap(),
            r#"{"type":"test","seq":10,"time_ns":1500000002,"index":3,"burst":5}"#
        );
        let mut h = header::<TestRecord>(RecordKind::Test, 11);
        h.kind = 42;
        assert_eq!(
            json_line(&Event::Record(Record::Unknown(h))).unwrap(),
            r#"{"type":"unknown","seq":11,"time_ns":1500000002,"kind":42,"size":40}"#
        );
        let lost = Event::Lost {
            first_seq: 12,
            count: 4,
        };
        assert_eq!(
            json_line(&lost).unwrap(),
            r#"{"type":"lost","first_seq":12,"count":4}"#
        );
    }

    #[test]
    fn text_lines() {
        let lost = Event::Lost {
            first_seq: 12,
            count: 4,
        };
        assert_eq!(text_line(&lost), "4 records lost (seq 12..15)");
        let one = Event::Lost {
            first_seq: 3,
            count: 1,
        };
        assert_eq!(text_line(&one), "1 record lost (seq 3..3)");
        let test = Event::Record(Record::Test(TestRecord {
            header: header::<TestRecord>(RecordKind::Test, 10),
            index: 3,
            burst: 5,
        }));
        assert_eq!(
            text_line(&test),
            "seq=10 time=1.500000002 test index=3 burst=5"
        );
    }

    #[test]
    fn status_renders_every_field() {
        let info = Info {
            abi_version: 1,
            reserved: 0,
            record_max_size: 1024,
            ring_bytes: 262144,
            counters: Counters {
                produced: 10,
                delivered: 6,
                dropped: 3,
                queued: 1,
            },
            readers: 2,
        };
        let json = serde_json::to_string(&JsonStatus::new("/dev/leaktrace", &info)).unwrap();
        assert_eq!(
            json,
            r#"{"device":"/dev/leaktrace","abi_version":1,"record_max_size":1024,"ring_bytes":262144,"counters":{"produced":10,"delivered":6,"dropped":3,"queued":1},"readers":2}"#
        );
        let text = status_text("/dev/leaktrace", &info);
        assert!(text.contains("ring size:       262144 bytes\n"), "{text}");
        assert!(text.contains("dropped:         3\n"), "{text}");
        assert_eq!(text.lines().count(), 9);
    }
}
