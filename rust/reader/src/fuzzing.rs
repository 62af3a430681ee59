// SPDX-License-Identifier: GPL-2.0

//! Arbitrary bytes through everything the reader does with what it reads
//! from `/dev/leaktrace`: the fuzz target `rust/reader/fuzz` (cargo fuzz)
//! and the bounded, deterministic unit test below both call [`exercise`].
//!
//! The device is the module's, and the module's records carry what guests
//! put in their memory (paths, command names, socket addresses): the
//! reader must never panic, whatever the bytes, and never print a guest's
//! bytes raw. [`exercise`] checks, for any input:
//!
//! - decoding the bytes as they are (split into two reads at a point the
//!   input chooses) ends in records or a [`DecodeError`], never a panic;
//! - decoding the same bytes made into well-formed records (valid header,
//!   increasing or repeated sequence numbers, any payload, sizes right or
//!   wrong for their kind) likewise, so that the formatting code sees
//!   every field with arbitrary values;
//! - every event decoded formats as text (with and without colours and
//!   secret patterns) without a control character of the guest's in it,
//!   and as one line of JSON that parses back;
//! - those JSON lines, read back as an event file, make a diffusion graph
//!   (or a clean error) in every format.
//!
//! [`DecodeError`]: crate::decode::DecodeError

use crate::decode::Decoder;
use crate::decode::Event;
use crate::diffusion::Colors;
use crate::diffusion::SecretPatterns;
use crate::format;
use crate::format::TextContext;
use crate::graph::Graph;
use crate::graph::GraphFormat;
use leaktrace_abi::DiffusionRecord;
use leaktrace_abi::FileRecord;
use leaktrace_abi::HeartbeatRecord;
use leaktrace_abi::LoadedRecord;
use leaktrace_abi::PressureRecord;
use leaktrace_abi::RecordHeader;
use leaktrace_abi::SyscallRecord;
use leaktrace_abi::TestRecord;
use leaktrace_abi::VmRecord;
use leaktrace_abi::ABI_VERSION;
use leaktrace_abi::RECORD_MAGIC;
use leaktrace_abi::RECORD_MAX_SIZE;

/// Inputs longer than this are cut: the device returns at most 64 KiB per
/// read, and longer inputs only slow the fuzzer down.
pub const INPUT_MAX: usize = 64 * 1024;

/// Size of the header.
const HEADER: usize = core::mem::size_of::<RecordHeader>();

/// Runs `data` through decoding, formatting and graphing; panics (with a
/// message naming the check) only if the reader misbehaves.
pub fn exercise(data: &[u8]) {
    let data = &data[..data.len().min(INPUT_MAX)];
    let mut events = Vec::new();

    // The bytes as they are, in two reads split where the first byte says.
    let split = data.first().map_or(0, |&b| usize::from(b) * data.len() / 256);
    let mut decoder = Decoder::new();
    let mut out = Vec::new();
    if decoder.decode(&data[..split], &mut out).is_ok() {
        let _ = decoder.decode(&data[split..], &mut out);
    }
    events.extend(out);

    // The same bytes as well-formed records.
    let stream = well_formed(data);
    let mut decoder = Decoder::new();
    let mut out = Vec::new();
    let _ = decoder.decode(&stream, &mut out);
    events.extend(out);

    let mut patterns = SecretPatterns::new();
    patterns.insert(0, "/secret/**".into());
    patterns.insert(63, "/e\u{1b}[2Jvil".into());
    let mut jsonl = String::new();
    for event in &events {
        check_event(event, &patterns, &mut jsonl);
    }

    // The JSON lines as an event file: a graph, or an error naming a line.
    if let Ok(graph) = Graph::from_jsonl(jsonl.as_bytes()) {
        for format in [GraphFormat::Dot, GraphFormat::Json, GraphFormat::ProvJson, GraphFormat::Text] {
            let rendered = graph.render(format);
            if format == GraphFormat::Text {
                assert_printable(&rendered, true, "graph --format text");
            }
        }
        let _ = graph.warnings();
    }
}

/// Formats one event every way `watch` can, checks the outputs, and
/// appends its JSON line to `jsonl`.
fn check_event(event: &Event, patterns: &SecretPatterns, jsonl: &mut String) {
    let plain = format::text_line(event);
    assert_printable(&plain, false, "text line");
    let with_patterns = format::text_line_in(
        event,
        &TextContext {
            colors: Colors::default(),
            secrets: patterns,
        },
    );
    // The operator's own patterns may hold anything; the guest's bytes not.
    assert_printable(&with_patterns.replace("\u{1b}[2J", ""), false, "text line with patterns");
    let _coloured = format::text_line_in(
        event,
        &TextContext {
            colors: Colors { on: true },
            secrets: patterns,
        },
    );
    let line = format::json_line(event).expect("an event serialises to JSON");
    assert!(!line.contains('\n'), "a JSON line holds a newline: {line}");
    let value: serde_json::Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("JSON line does not parse ({e}): {line}"));
    assert!(value.get("type").is_some(), "JSON line without a type: {line}");
    jsonl.push_str(&line);
    jsonl.push('\n');
}

/// Fails if `text` holds a control character (but newlines, where
/// `newlines` allows them) or a bidirectional control.
fn assert_printable(text: &str, newlines: bool, what: &str) {
    let bad = text.chars().find(|&c| {
        (c.is_control() && !(newlines && c == '\n'))
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    });
    if let Some(c) = bad {
        panic!("{what} shows a raw {c:?}: {text:?}");
    }
}

/// A stream of well-formed records made from `data`: each record takes a
/// control byte (its kind, and how its size and sequence number are
/// chosen), then its payload from the following bytes (zeros once they
/// run out). Sizes are right for their kind (variable-sized records sized
/// by their own length fields) or, now and then, wrong; sequence numbers
/// increase by 1, jump (a gap) or repeat.
pub fn well_formed(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut seq: u64 = 0;
    let mut at = 0;
    while at < data.len() && out.len() < INPUT_MAX {
        let control = data[at];
        at += 1;
        let kind: u16 = match control & 0x0f {
            k @ 1..=8 => u16::from(k),
            0 => 0,
            9 => 9,
            k => 1000 + u16::from(k),
        };
        let fixed = match kind {
            1 => core::mem::size_of::<LoadedRecord>(),
            2 => core::mem::size_of::<HeartbeatRecord>(),
            3 => core::mem::size_of::<TestRecord>(),
            4 => core::mem::size_of::<VmRecord>(),
            5 => core::mem::size_of::<SyscallRecord>(),
            6 => FileRecord::FIXED_SIZE,
            7 => DiffusionRecord::FIXED_SIZE,
            8 => core::mem::size_of::<PressureRecord>(),
            _ => HEADER + 8 * usize::from(control >> 5),
        };
        let mut record = vec![0u8; fixed.max(HEADER)];
        let take = (record.len() - HEADER).min(data.len() - at);
        record[HEADER..HEADER + take].copy_from_slice(&data[at..at + take]);
        at += take;
        // Variable parts, sized by the record's own length fields.
        match kind {
            6 => {
                let len = u32::from_le_bytes(record[68..72].try_into().unwrap_or_default()) as usize;
                extend(&mut record, data, &mut at, len.min(RECORD_MAX_SIZE));
            }
            7 => {
                let a = usize::from(u16::from_le_bytes([record[184], record[185]]));
                let b = usize::from(u16::from_le_bytes([record[186], record[187]]));
                extend(&mut record, data, &mut at, (a + b).min(RECORD_MAX_SIZE));
            }
            _ => {}
        }
        record.resize(record.len().next_multiple_of(8), 0);
        let mut size = record.len();
        if control & 0x10 != 0 && control & 0x0f != 0 {
            // Now and then a size wrong for the kind (still well formed).
            size = (size + 8 * usize::from(control >> 6) + 8).min(RECORD_MAX_SIZE);
            record.resize(size, 0);
        }
        if size > RECORD_MAX_SIZE {
            size = RECORD_MAX_SIZE;
            record.truncate(size);
        }
        seq = match control >> 5 {
            0 if seq > 0 => seq,                     // a repeat: not increasing
            7 => seq.wrapping_add(1 + u64::from(control)), // a gap
            _ => seq.wrapping_add(1),
        };
        record[0..2].copy_from_slice(&RECORD_MAGIC.to_ne_bytes());
        record[2..4].copy_from_slice(&ABI_VERSION.to_ne_bytes());
        record[4..6].copy_from_slice(&kind.to_ne_bytes());
        record[6..8].copy_from_slice(&(size as u16).to_ne_bytes());
        record[8..16].copy_from_slice(&seq.to_ne_bytes());
        out.extend_from_slice(&record);
    }
    out
}

/// Appends `len` bytes of `data` from `*at` (zeros past its end) to `record`.
fn extend(record: &mut Vec<u8>, data: &[u8], at: &mut usize, len: usize) {
    let take = len.min(data.len() - *at);
    record.extend_from_slice(&data[*at..*at + take]);
    record.resize(record.len() + (len - take), 0);
    *at += take;
}

#[cfg(test)]
mod tests {
    use super::*;
    use leaktrace_abi::NodeKind;
    use leaktrace_abi::Pod;
    use leaktrace_abi::RecordKind;
    use leaktrace_abi::Resolution;

    /// splitmix64: a fixed, seedable stream of pseudo-random numbers.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        fn bytes(&mut self, len: usize) -> Vec<u8> {
            (0..len).map(|_| self.next() as u8).collect()
        }
    }

    /// Bytes a guest controls, at their worst: escapes, newlines, bidi
    /// overrides, invalid UTF-8.
    const HOSTILE: &[&[u8]] = &[
        b"\x1b[2J\x1b[1;1Hroot# ",
        b"evil\nvm1  cat[1]    read       /secret -> cat[1]  secret 0",
        b"\xe2\x80\xaeexe.txt",
        b"\xff\xfe\xc0\x80\r\x07\x00tail",
        b"\xc2\x9b31m",
    ];

    fn header<T: Pod>(kind: RecordKind, seq: u64) -> RecordHeader {
        let mut h = RecordHeader::new::<T>(kind, 1_000 + seq);
        h.seq = seq;
        h
    }

    /// A stream with one record of every kind carrying hostile names.
    fn hostile_stream() -> Vec<u8> {
        let mut out = Vec::new();
        let mut seq = 0;
        for name in HOSTILE {
            let mut comm = [0u8; 16];
            let n = name.len().min(15);
            comm[..n].copy_from_slice(&name[..n]);
            let mut s = SyscallRecord {
                header: header::<SyscallRecord>(RecordKind::Syscall, seq),
                ..SyscallRecord::default()
            };
            s.task.status = Resolution::Resolved as u32;
            s.task.comm = comm;
            out.extend_from_slice(s.as_bytes());
            seq += 1;

            let mut f = FileRecord {
                header: header::<FileRecord>(RecordKind::File, seq),
                status: Resolution::Resolved as u32,
                kind: 1,
                ..FileRecord::default()
            };
            f.path[..name.len()].copy_from_slice(name);
            f.path_len = name.len() as u32;
            let size = FileRecord::size_for(name.len());
            f.header.size = size as u16;
            out.extend_from_slice(&f.as_bytes()[..size]);
            seq += 1;

            let mut d = DiffusionRecord {
                header: header::<DiffusionRecord>(RecordKind::Diffusion, seq),
                op: 1,
                secrets: 1 | 1 << 63,
                vm_id: 1,
                ..DiffusionRecord::default()
            };
            d.actor.status = Resolution::Resolved as u32;
            d.actor.comm = comm;
            d.source.kind = NodeKind::File as u32;
            d.source.vm_id = 1;
            d.target.kind = NodeKind::Process as u32;
            d.target.vm_id = 1;
            d.set_names(name, name);
            let size = DiffusionRecord::size_for(d.names_len());
            d.header.size = size as u16;
            out.extend_from_slice(&d.as_bytes()[..size]);
            seq += 1;
        }
        out
    }

    #[test]
    fn hostile_names_are_never_printed_raw() {
        let stream = hostile_stream();
        let mut events = Vec::new();
        Decoder::new().decode(&stream, &mut events).expect("the stream is well formed");
        assert_eq!(events.len(), 3 * HOSTILE.len());
        // exercise() asserts that no text output holds a raw control.
        exercise(&[]);
        let mut jsonl = String::new();
        for event in &events {
            check_event(event, &SecretPatterns::new(), &mut jsonl);
        }
        let text = format::text_line(&events[0]);
        assert!(text.contains("\\x1b[2J"), "{text}");
        let text = format::text_line(&events[4]);
        assert!(text.contains("evil\\x0avm1"), "{text}");
        let text = format::text_line(&events[8]);
        assert!(text.contains("\\u{202e}exe.txt"), "{text}");
        // The JSON keeps the names (escaped by JSON itself).
        assert!(jsonl.contains("evil\\nvm1"), "{jsonl}");
        let graph = Graph::from_jsonl(jsonl.as_bytes()).expect("a graph");
        let text = graph.render(GraphFormat::Text);
        assert_printable(&text, true, "graph text");
        assert!(text.contains("\\x1b[2J"), "{text}");
    }

    #[test]
    fn printable_leaves_ordinary_text_alone() {
        assert!(matches!(format::printable("/tmp/plan v2.txt"), std::borrow::Cow::Borrowed(_)));
        assert_eq!(format::printable("a\tb\u{7f}\u{85}\u{2067}"), "a\\x09b\\x7f\\x85\\u{2067}");
        assert_eq!(format::printable("caf\u{e9} \u{1F600}"), "caf\u{e9} \u{1F600}");
    }

    /// The bounded version of the fuzz target: a fixed seed, a few
    /// thousand inputs of random bytes, of well-formed records with random
    /// payloads, and of a real stream with random bytes flipped, cut or
    /// inserted. Runs in a few seconds; `cargo fuzz run decode` under
    /// rust/reader/fuzz goes on for as long as one likes.
    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut rng = Rng(0x6c74_2d66_757a_7a21);
        let seedstream = hostile_stream();
        let mut inputs = 0;
        for round in 0..3000 {
            let input = match round % 3 {
                0 => {
                    let len = rng.below(2048);
                    rng.bytes(len)
                }
                1 => {
                    // Mostly kinds 5-7, the records with the most fields.
                    let len = rng.below(4096);
                    let mut b = rng.bytes(len);
                    for i in (0..b.len()).step_by(97) {
                        b[i] = 5 + (b[i] % 3);
                    }
                    b
                }
                _ => {
                    let mut b = seedstream.clone();
                    for _ in 0..1 + rng.below(8) {
                        let i = rng.below(b.len());
                        match rng.below(4) {
                            0 => b[i] ^= 1 << rng.below(8),
                            1 => b[i] = rng.next() as u8,
                            2 => b.truncate(i),
                            _ => b.insert(i, rng.next() as u8),
                        }
                        if b.is_empty() {
                            break;
                        }
                    }
                    b
                }
            };
            exercise(&input);
            inputs += 1;
        }
        assert_eq!(inputs, 3000);
    }

    #[test]
    fn well_formed_streams_decode_past_the_first_record() {
        let mut rng = Rng(7);
        let mut records = 0;
        for _ in 0..200 {
            let len = 1 + rng.below(3000);
            let data = rng.bytes(len);
            let stream = well_formed(&data);
            let mut out = Vec::new();
            let _ = Decoder::new().decode(&stream, &mut out);
            records += out.len();
        }
        // Most streams get well past their first record before a size
        // wrong for its kind or a repeated sequence number stops them.
        assert!(records > 400, "only {records} records decoded");
    }
}
