// SPDX-License-Identifier: GPL-2.0

//! Decoding of the bytes read from `/dev/leaktrace` into typed records, and
//! detection of sequence gaps.
//!
//! Every `read()` of the device returns whole records back to back (never a
//! partial one), so each read buffer is decoded on its own; a [`Decoder`]
//! carries the stream position and the last sequence number from one read to
//! the next. The layout comes from `leaktrace-abi` only: records are parsed
//! with [`Pod::read_from`] and checked with [`RecordHeader::is_well_formed`].
//!
//! Nothing is skipped silently: a record that is not well formed (bad magic,
//! version or size), a truncated record, a known kind whose size is not its
//! structure's size, or a sequence number that does not increase is a
//! [`DecodeError`] that names its byte offset in the stream. A record of a
//! kind this build does not know is well formed and is returned as
//! [`Record::Unknown`]; its payload is skipped by its header's `size`.

use core::fmt;
use core::mem::size_of;
use leaktrace_abi::DiffusionRecord;
use leaktrace_abi::FileRecord;
use leaktrace_abi::HeartbeatRecord;
use leaktrace_abi::LoadedRecord;
use leaktrace_abi::Pod;
use leaktrace_abi::PressureRecord;
use leaktrace_abi::RecordHeader;
use leaktrace_abi::RecordKind;
use leaktrace_abi::SyscallRecord;
use leaktrace_abi::TestRecord;
use leaktrace_abi::VmRecord;
use leaktrace_abi::ABI_VERSION;
use leaktrace_abi::RECORD_ALIGN;
use leaktrace_abi::RECORD_MAGIC;
use leaktrace_abi::RECORD_MAX_SIZE;

/// One decoded record.
// A file record (640 bytes with its path buffer) and a diffusion record
// (704 bytes with its names) make the enum large;
// records are decoded and handled one at a time, and `Copy` keeps the
// formatting code simple, so it is not boxed.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Record {
    /// [`RecordKind::Loaded`]: the module was loaded (sequence number 0).
    Loaded(LoadedRecord),
    /// [`RecordKind::Heartbeat`]: periodic, with the ring's counters.
    Heartbeat(HeartbeatRecord),
    /// [`RecordKind::Test`]: produced by `IOCTL_EMIT_TEST`.
    Test(TestRecord),
    /// [`RecordKind::Vm`]: a VM's life or tracing state changed.
    Vm(VmRecord),
    /// [`RecordKind::Syscall`]: one system call of a traced VM.
    Syscall(SyscallRecord),
    /// [`RecordKind::File`]: a file descriptor of a system call.
    File(FileRecord),
    /// [`RecordKind::Diffusion`]: confidential data reached a new node.
    Diffusion(DiffusionRecord),
    /// [`RecordKind::Pressure`]: a propagation table forgot an entry.
    Pressure(PressureRecord),
    /// A well-formed record of a kind this build does not know (a newer
    /// module); only its header is kept, its payload was skipped by `size`.
    Unknown(RecordHeader),
}

impl Record {
    /// The record's common header.
    pub fn header(&self) -> &RecordHeader {
        match self {
            Self::Loaded(r) => &r.header,
            Self::Heartbeat(r) => &r.header,
            Self::Test(r) => &r.header,
            Self::Vm(r) => &r.header,
            Self::Syscall(r) => &r.header,
            Self::File(r) => &r.header,
            Self::Diffusion(r) => &r.header,
            Self::Pressure(r) => &r.header,
            Self::Unknown(h) => h,
        }
    }

    /// The record's sequence number.
    pub fn seq(&self) -> u64 {
        self.header().seq
    }
}

/// What a reader observes, in stream order.
#[allow(clippy::large_enum_variant)] // See `Record`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// Records `first_seq ..= first_seq + count - 1` never reached this
    /// reader: the ring was full and dropped them (the module counts them in
    /// `dropped`), or another reader of the device consumed them (readers
    /// split the stream). Reported just before the record that revealed the
    /// gap.
    Lost {
        /// Sequence number of the first record missing.
        first_seq: u64,
        /// Number of consecutive records missing.
        count: u64,
    },
    /// A record.
    Record(Record),
}

/// What is wrong with the bytes at some offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Problem {
    /// Fewer bytes than a header, or than the header's `size`, are left in
    /// the read buffer: the device returned a partial record.
    Truncated {
        /// Bytes left in the buffer from the record's start.
        available: usize,
        /// Bytes needed (a header's size, or the record's `size`).
        needed: usize,
    },
    /// `magic` is not [`RECORD_MAGIC`].
    BadMagic(u16),
    /// `version` is not [`ABI_VERSION`].
    BadVersion(u16),
    /// `size` is smaller than a header, larger than [`RECORD_MAX_SIZE`] or
    /// not a multiple of [`RECORD_ALIGN`].
    BadSize(u16),
    /// A known kind whose `size` is not the size of its structure (the ABI
    /// never changes an existing record's layout).
    WrongSizeForKind {
        /// The record's kind.
        kind: RecordKind,
        /// Its `size` field.
        size: u16,
        /// `size_of` the kind's structure.
        expected: usize,
    },
    /// The sequence number did not increase (records come out of the ring
    /// in the order they were produced).
    SeqNotIncreasing {
        /// Sequence number of the previous record this reader decoded.
        previous: u64,
        /// Sequence number of this record.
        seq: u64,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Truncated { available, needed } => write!(
                f,
                "truncated record: {available} bytes left in the read buffer, {needed} needed"
            ),
            Self::BadMagic(magic) => {
                write!(f, "bad magic {magic:#06x} (expected {RECORD_MAGIC:#06x})")
            }
            Self::BadVersion(version) => {
                write!(f, "bad ABI version {version} (expected {ABI_VERSION})")
            }
            Self::BadSize(size) => write!(
                f,
                "bad size {size} (must be {}..={RECORD_MAX_SIZE} and a multiple of {RECORD_ALIGN})",
                size_of::<RecordHeader>()
            ),
            Self::WrongSizeForKind {
                kind,
                size,
                expected,
            } => write!(f, "{kind:?} record of size {size} (expected {expected})"),
            Self::SeqNotIncreasing { previous, seq } => {
                write!(f, "sequence number {seq} after {previous}: not increasing")
            }
        }
    }
}

/// A malformed record in the stream: never skipped, always reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeError {
    /// Byte offset of the record's start in the whole stream this reader
    /// decoded (all reads concatenated).
    pub offset: u64,
    /// Byte offset of the record's start in the read buffer it came in.
    pub offset_in_read: usize,
    /// What is wrong.
    pub problem: Problem,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "malformed record at stream offset {} (byte {} of its read): {}",
            self.offset, self.offset_in_read, self.problem
        )
    }
}

impl std::error::Error for DecodeError {}

/// Explains why a header that is not [`RecordHeader::is_well_formed`] is not.
fn diagnose(header: &RecordHeader) -> Problem {
    if header.magic != RECORD_MAGIC {
        Problem::BadMagic(header.magic)
    } else if header.version != ABI_VERSION {
        Problem::BadVersion(header.version)
    } else {
        Problem::BadSize(header.size)
    }
}

/// Parses the kind-specific structure `T` of a record whose size was
/// checked against `size_of::<T>()`.
fn parse<T: Pod>(bytes: &[u8], kind: RecordKind, size: u16) -> Result<T, Problem> {
    let expected = size_of::<T>();
    if usize::from(size) != expected {
        return Err(Problem::WrongSizeForKind {
            kind,
            size,
            expected,
        });
    }
    // Cannot fail: the caller checked that `size` bytes are available.
    T::read_from(bytes).ok_or(Problem::Truncated {
        available: bytes.len(),
        needed: expected,
    })
}

/// Parses a variable-sized [`FileRecord`]: its size must be exactly what
/// its `path_len` needs.
fn parse_file(bytes: &[u8], kind: RecordKind, size: u16) -> Result<FileRecord, Problem> {
    let wrong = |expected| Problem::WrongSizeForKind {
        kind,
        size,
        expected,
    };
    let record = FileRecord::read_record(bytes).ok_or(wrong(FileRecord::FIXED_SIZE))?;
    let expected = FileRecord::size_for(record.path_len as usize);
    if record.path_len as usize > leaktrace_abi::FILE_PATH_MAX || usize::from(size) != expected {
        return Err(wrong(expected));
    }
    Ok(record)
}

/// Parses a variable-sized [`DiffusionRecord`]: its size must be exactly
/// what its two name lengths need.
fn parse_diffusion(bytes: &[u8], kind: RecordKind, size: u16) -> Result<DiffusionRecord, Problem> {
    let wrong = |expected| Problem::WrongSizeForKind {
        kind,
        size,
        expected,
    };
    let record = DiffusionRecord::read_record(bytes).ok_or(wrong(DiffusionRecord::FIXED_SIZE))?;
    let expected = DiffusionRecord::size_for(record.names_len());
    if usize::from(size) != expected {
        return Err(wrong(expected));
    }
    Ok(record)
}

/// Decodes the record at the start of `bytes`; returns it and its size.
///
/// Does not look at sequence numbers (see [`Decoder`]).
pub fn decode_record(bytes: &[u8]) -> Result<(Record, usize), Problem> {
    let header = RecordHeader::read_from(bytes).ok_or(Problem::Truncated {
        available: bytes.len(),
        needed: size_of::<RecordHeader>(),
    })?;
    if !header.is_well_formed() {
        return Err(diagnose(&header));
    }
    let size = usize::from(header.size);
    if bytes.len() < size {
        return Err(Problem::Truncated {
            available: bytes.len(),
            needed: size,
        });
    }
    let bytes = &bytes[..size];
    let record = match RecordKind::from_raw(header.kind) {
        Some(kind @ RecordKind::Loaded) => Record::Loaded(parse(bytes, kind, header.size)?),
        Some(kind @ RecordKind::Heartbeat) => Record::Heartbeat(parse(bytes, kind, header.size)?),
        Some(kind @ RecordKind::Test) => Record::Test(parse(bytes, kind, header.size)?),
        Some(kind @ RecordKind::Vm) => Record::Vm(parse(bytes, kind, header.size)?),
        Some(kind @ RecordKind::Syscall) => Record::Syscall(parse(bytes, kind, header.size)?),
        Some(kind @ RecordKind::File) => Record::File(parse_file(bytes, kind, header.size)?),
        Some(kind @ RecordKind::Diffusion) => {
            Record::Diffusion(parse_diffusion(bytes, kind, header.size)?)
        }
        Some(kind @ RecordKind::Pressure) => Record::Pressure(parse(bytes, kind, header.size)?),
        None => Record::Unknown(header),
    };
    Ok((record, size))
}

/// Decodes a stream of reads into [`Event`]s, reporting sequence gaps.
///
/// The first record decoded never reports a gap before it: records
/// produced before this reader started may have gone to someone else.
#[derive(Clone, Debug, Default)]
pub struct Decoder {
    offset: u64,
    last_seq: Option<u64>,
}

impl Decoder {
    /// A decoder at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes decoded so far (the stream offset of the next read's start).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Sequence number of the last record decoded, if any.
    pub fn last_seq(&self) -> Option<u64> {
        self.last_seq
    }

    /// Decodes one read buffer, which must hold whole records only, and
    /// appends its events to `out`.
    ///
    /// On error, `out` holds the events of the records before the bad one
    /// (so that they can still be shown), and the decoder should not be
    /// used further: the stream cannot be resynchronised.
    pub fn decode(&mut self, buf: &[u8], out: &mut Vec<Event>) -> Result<(), DecodeError> {
        let mut at = 0;
        while at < buf.len() {
            let fail = |problem| DecodeError {
                offset: self.offset + at as u64,
                offset_in_read: at,
                problem,
            };
            let (record, size) = decode_record(&buf[at..]).map_err(fail)?;
            let seq = record.seq();
            if let Some(previous) = self.last_seq {
                if seq <= previous {
                    return Err(fail(Problem::SeqNotIncreasing { previous, seq }));
                }
                if seq > previous + 1 {
                    out.push(Event::Lost {
                        first_seq: previous + 1,
                        count: seq - previous - 1,
                    });
                }
            }
            self.last_seq = Some(seq);
            out.push(Event::Record(record));
            at += size;
        }
        self.offset += buf.len() as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use leaktrace_abi::Counters;

    fn loaded(seq: u64) -> LoadedRecord {
        let mut r = LoadedRecord {
            header: RecordHeader::new::<LoadedRecord>(RecordKind::Loaded, 100),
            ring_bytes: 262144,
            heartbeat_ms: 1000,
        };
        r.header.seq = seq;
        r
    }

    fn heartbeat(seq: u64) -> HeartbeatRecord {
        let mut r = HeartbeatRecord {
            header: RecordHeader::new::<HeartbeatRecord>(RecordKind::Heartbeat, 200),
            counters: Counters {
                produced: seq,
                delivered: seq - 1,
                dropped: 1,
                queued: 0,
            },
        };
        r.header.seq = seq;
        r
    }

    fn test(seq: u64, index: u64, burst: u64) -> TestRecord {
        let mut r = TestRecord {
            header: RecordHeader::new::<TestRecord>(RecordKind::Test, 300),
            index,
            burst,
        };
        r.header.seq = seq;
        r
    }

    fn vm(seq: u64) -> VmRecord {
        let mut r = VmRecord {
            header: RecordHeader::new::<VmRecord>(RecordKind::Vm, 500),
            vm_id: 2,
            event: leaktrace_abi::VmEvent::Armed as u32,
            uuid: [0x4c; 16],
            vmm_pid: 1234,
            refusal: 0,
            flags: leaktrace_abi::VM_UUID_KNOWN | leaktrace_abi::VM_TRACED,
            reserved: 0,
        };
        r.header.seq = seq;
        r
    }

    fn syscall(seq: u64) -> SyscallRecord {
        let mut r = SyscallRecord {
            header: RecordHeader::new::<SyscallRecord>(RecordKind::Syscall, 600),
            vm_id: 2,
            vcpu: 1,
            vm_seq: 77,
            uuid: [0x4c; 16],
            cr3: 0x1234000,
            rip: 0x7f00_0000_1000,
            rsp: 0x7ffd_0000_2000,
            nr: 257,
            args: [(-100i64) as u64, 0x7ffd_0000_3000, 0x80000, 0, 0, 0],
            ret: 3,
            entry_ns: 550,
            exit_ns: 590,
            end: leaktrace_abi::SyscallEnd::Returned as u32,
            reserved: 0,
            call_id: 80,
            task: leaktrace_abi::TaskIdentity::default(),
        };
        r.header.seq = seq;
        r
    }

    /// A record of a kind from the future: a header and 16 payload bytes.
    fn unknown(seq: u64) -> Vec<u8> {
        let header = RecordHeader {
            magic: RECORD_MAGIC,
            version: ABI_VERSION,
            kind: 0x77,
            size: 40,
            seq,
            time_ns: 400,
        };
        let mut bytes = header.as_bytes().to_vec();
        bytes.extend_from_slice(&[0xee; 16]);
        bytes
    }

    fn concat(parts: &[&[u8]]) -> Vec<u8> {
        parts.concat()
    }

    fn decode_all(buf: &[u8]) -> Result<Vec<Event>, DecodeError> {
        let mut events = Vec::new();
        Decoder::new().decode(buf, &mut events)?;
        Ok(events)
    }

    #[test]
    fn decodes_every_known_kind_in_order() {
        let buf = concat(&[
            loaded(0).as_bytes(),
            heartbeat(1).as_bytes(),
            test(2, 0, 1).as_bytes(),
        ]);
        let events = decode_all(&buf).unwrap();
        assert_eq!(
            events,
            [
                Event::Record(Record::Loaded(loaded(0))),
                Event::Record(Record::Heartbeat(heartbeat(1))),
                Event::Record(Record::Test(test(2, 0, 1))),
            ]
        );
    }

    #[test]
    fn decodes_vm_and_syscall_records() {
        let buf = concat(&[vm(3).as_bytes(), syscall(4).as_bytes()]);
        assert_eq!(buf.len(), 64 + 216);
        let events = decode_all(&buf).unwrap();
        assert_eq!(
            events,
            [
                Event::Record(Record::Vm(vm(3))),
                Event::Record(Record::Syscall(syscall(4))),
            ]
        );
        // Field offsets as documented (Documentation/abi.rst), from raw bytes.
        let s = syscall(4);
        let bytes = s.as_bytes();
        let u64_at = |at: usize| u64::from_ne_bytes(bytes[at..at + 8].try_into().unwrap());
        let u32_at = |at: usize| u32::from_ne_bytes(bytes[at..at + 4].try_into().unwrap());
        assert_eq!(u32_at(24), 2, "vm_id");
        assert_eq!(u32_at(28), 1, "vcpu");
        assert_eq!(u64_at(32), 77, "vm_seq");
        assert_eq!(bytes[40..56], [0x4c; 16], "uuid");
        assert_eq!(u64_at(80), 257, "nr");
        assert_eq!(u64_at(88), (-100i64) as u64, "args[0]");
        assert_eq!(u64_at(136), 3, "ret");
        assert_eq!(u64_at(144), 550, "entry_ns");
        assert_eq!(u64_at(152), 590, "exit_ns");
        assert_eq!(u32_at(160), 1, "end");
        let v = vm(3);
        let bytes = v.as_bytes();
        let u32_at = |at: usize| u32::from_ne_bytes(bytes[at..at + 4].try_into().unwrap());
        assert_eq!((u32_at(24), u32_at(28)), (2, 4), "vm_id, event");
        assert_eq!(bytes[32..48], [0x4c; 16], "uuid");
        assert_eq!((u32_at(48), u32_at(52), u32_at(56)), (1234, 0, 9));
    }

    #[test]
    fn vm_and_syscall_records_of_the_wrong_size_are_errors() {
        // A syscall record cut to a VM record's size, header patched.
        let mut bytes = syscall(1).as_bytes()[..64].to_vec();
        bytes[6..8].copy_from_slice(&64u16.to_ne_bytes());
        assert_eq!(
            decode_record(&bytes).unwrap_err(),
            Problem::WrongSizeForKind {
                kind: RecordKind::Syscall,
                size: 64,
                expected: 216
            }
        );
        let mut bytes = vm(1).as_bytes().to_vec();
        bytes.extend_from_slice(&[0; 8]);
        bytes[6..8].copy_from_slice(&72u16.to_ne_bytes());
        assert_eq!(
            decode_record(&bytes).unwrap_err(),
            Problem::WrongSizeForKind {
                kind: RecordKind::Vm,
                size: 72,
                expected: 64
            }
        );
    }

    #[test]
    fn unknown_enum_values_decode() {
        // Values are kept raw; only formatting interprets them.
        let mut s = syscall(1);
        s.end = 99;
        let mut v = vm(2);
        v.event = 42;
        v.refusal = 7;
        let buf = concat(&[s.as_bytes(), v.as_bytes()]);
        let events = decode_all(&buf).unwrap();
        assert_eq!(events[0], Event::Record(Record::Syscall(s)));
        assert_eq!(events[1], Event::Record(Record::Vm(v)));
    }

    #[test]
    fn gap_in_seq_is_reported_as_lost_before_the_record() {
        let buf = concat(&[heartbeat(5).as_bytes(), test(9, 0, 1).as_bytes()]);
        let events = decode_all(&buf).unwrap();
        assert_eq!(
            events,
            [
                Event::Record(Record::Heartbeat(heartbeat(5))),
                Event::Lost {
                    first_seq: 6,
                    count: 3
                },
                Event::Record(Record::Test(test(9, 0, 1))),
            ]
        );
    }

    #[test]
    fn gap_across_reads_is_reported_and_first_record_is_not_a_gap() {
        let mut decoder = Decoder::new();
        let mut events = Vec::new();
        decoder
            .decode(heartbeat(7).as_bytes(), &mut events)
            .unwrap();
        assert_eq!(events.len(), 1, "no gap before the first record seen");
        decoder
            .decode(heartbeat(8).as_bytes(), &mut events)
            .unwrap();
        decoder
            .decode(heartbeat(10).as_bytes(), &mut events)
            .unwrap();
        assert_eq!(
            events[2],
            Event::Lost {
                first_seq: 9,
                count: 1
            }
        );
        assert_eq!(decoder.offset(), 3 * 56);
        assert_eq!(decoder.last_seq(), Some(10));
    }

    #[test]
    fn unknown_kind_is_skipped_by_size() {
        let buf = concat(&[&unknown(3), test(4, 1, 2).as_bytes()]);
        let events = decode_all(&buf).unwrap();
        match events[0] {
            Event::Record(Record::Unknown(h)) => {
                assert_eq!((h.kind, h.size, h.seq), (0x77, 40, 3));
            }
            other => panic!("expected an unknown record, got {other:?}"),
        }
        assert_eq!(events[1], Event::Record(Record::Test(test(4, 1, 2))));
    }

    #[test]
    fn truncated_record_is_an_error_with_its_offset() {
        let full = concat(&[heartbeat(1).as_bytes(), test(2, 0, 1).as_bytes()]);
        let cut = &full[..full.len() - 8];
        let mut events = Vec::new();
        let err = Decoder::new().decode(cut, &mut events).unwrap_err();
        assert_eq!(err.offset, 56);
        assert_eq!(err.offset_in_read, 56);
        assert_eq!(
            err.problem,
            Problem::Truncated {
                available: 32,
                needed: 40
            }
        );
        // The good record before it is still returned.
        assert_eq!(events, [Event::Record(Record::Heartbeat(heartbeat(1)))]);

        // Not even a whole header.
        let err = decode_all(&full[..56 + 10]).unwrap_err();
        assert_eq!(
            err.problem,
            Problem::Truncated {
                available: 10,
                needed: 24
            }
        );
    }

    #[test]
    fn bad_magic_is_an_error_with_stream_offset() {
        let mut decoder = Decoder::new();
        let mut events = Vec::new();
        decoder
            .decode(heartbeat(1).as_bytes(), &mut events)
            .unwrap();
        let mut bad = test(2, 0, 1);
        bad.header.magic = 0x4c54; // byte-swapped
        let buf = concat(&[test(2, 0, 1).as_bytes(), bad.as_bytes()]);
        let err = decoder.decode(&buf, &mut events).unwrap_err();
        assert_eq!(err.offset, 56 + 40);
        assert_eq!(err.offset_in_read, 40);
        assert_eq!(err.problem, Problem::BadMagic(0x4c54));
        assert!(err.to_string().contains("stream offset 96"), "{err}");
    }

    #[test]
    fn bad_version_and_sizes_are_errors() {
        let mut bad = heartbeat(1);
        bad.header.version = ABI_VERSION + 1;
        assert_eq!(
            decode_record(bad.as_bytes()).unwrap_err(),
            Problem::BadVersion(ABI_VERSION + 1)
        );

        for size in [0u16, 16, 52, 2048] {
            let mut bad = heartbeat(1);
            bad.header.size = size;
            assert_eq!(
                decode_record(bad.as_bytes()).unwrap_err(),
                Problem::BadSize(size),
                "size {size}"
            );
        }

        // Well formed in general, but not the size of a heartbeat.
        let mut bytes = heartbeat(1).as_bytes().to_vec();
        bytes.extend_from_slice(&[0; 8]);
        bytes[6..8].copy_from_slice(&64u16.to_ne_bytes());
        assert_eq!(
            decode_record(&bytes).unwrap_err(),
            Problem::WrongSizeForKind {
                kind: RecordKind::Heartbeat,
                size: 64,
                expected: 56
            }
        );
    }

    #[test]
    fn seq_going_backwards_is_an_error() {
        let buf = concat(&[heartbeat(5).as_bytes(), heartbeat(5).as_bytes()]);
        let err = decode_all(&buf).unwrap_err();
        assert_eq!(
            err.problem,
            Problem::SeqNotIncreasing {
                previous: 5,
                seq: 5
            }
        );
        assert_eq!(err.offset, 56);
    }

    #[test]
    fn empty_read_decodes_to_nothing() {
        assert_eq!(decode_all(&[]).unwrap(), []);
    }

    fn file(seq: u64, path: &[u8]) -> Vec<u8> {
        let mut r = leaktrace_abi::FileRecord {
            vm_id: 2,
            call_id: 80,
            fd: 3,
            status: leaktrace_abi::Resolution::Resolved as u32,
            kind: leaktrace_abi::FileKind::Regular as u32,
            path_len: path.len() as u32,
            ..Default::default()
        };
        r.path[..path.len()].copy_from_slice(path);
        let size = FileRecord::size_for(path.len());
        r.header = RecordHeader::new::<SyscallRecord>(RecordKind::File, 650);
        r.header.size = size as u16;
        r.header.seq = seq;
        r.as_bytes()[..size].to_vec()
    }

    #[test]
    fn file_records_are_variable_sized() {
        let mut buf = file(0, b"/etc/passwd");
        assert_eq!(buf.len(), FileRecord::size_for(11));
        assert_eq!(buf.len(), 128 + 16);
        buf.extend(file(1, b""));
        let mut out = Vec::new();
        Decoder::new().decode(&buf, &mut out).unwrap();
        assert_eq!(out.len(), 2);
        let Event::Record(Record::File(f)) = out[0] else {
            panic!("{:?}", out[0])
        };
        assert_eq!(f.path_bytes(), b"/etc/passwd");
        assert_eq!(f.call_id, 80);
        let Event::Record(Record::File(f)) = out[1] else {
            panic!("{:?}", out[1])
        };
        assert!(f.path_bytes().is_empty());
    }

    #[test]
    fn file_record_whose_path_len_does_not_match_its_size_is_refused() {
        let mut buf = file(0, b"/etc/passwd");
        // Claim a longer path than the record holds.
        let at = core::mem::offset_of!(FileRecord, path_len);
        buf[at..at + 4].copy_from_slice(&200u32.to_ne_bytes());
        let err = Decoder::new().decode(&buf, &mut Vec::new()).unwrap_err();
        assert!(
            matches!(err.problem, Problem::WrongSizeForKind { .. }),
            "{err}"
        );
        // A size past what any path needs.
        let mut buf = file(0, b"/x");
        buf.extend([0u8; 8]);
        let size = buf.len() as u16;
        buf[6..8].copy_from_slice(&size.to_ne_bytes());
        let err = Decoder::new().decode(&buf, &mut Vec::new()).unwrap_err();
        assert!(
            matches!(err.problem, Problem::WrongSizeForKind { .. }),
            "{err}"
        );
    }
    fn diffusion(seq: u64, source: &[u8], target: &[u8]) -> Vec<u8> {
        let mut r = DiffusionRecord {
            vm_id: 1,
            op: leaktrace_abi::DiffusionOp::Read as u32,
            call_id: 7,
            secrets: 0b11,
            new_secrets: 0b01,
            ..Default::default()
        };
        r.source.kind = leaktrace_abi::NodeKind::File as u32;
        r.target.kind = leaktrace_abi::NodeKind::Process as u32;
        r.set_names(source, target);
        let size = DiffusionRecord::size_for(r.names_len());
        r.header = RecordHeader::new::<DiffusionRecord>(RecordKind::Diffusion, 700);
        r.header.size = size as u16;
        r.header.seq = seq;
        r.as_bytes()[..size].to_vec()
    }

    #[test]
    fn diffusion_records_are_variable_sized() {
        let mut buf = diffusion(0, b"/secret/plan.txt", b"cat");
        assert_eq!(buf.len(), DiffusionRecord::size_for(19));
        assert_eq!(buf.len(), 192 + 24);
        buf.extend(diffusion(1, b"", b""));
        let long = vec![b'x'; 300];
        buf.extend(diffusion(2, &long, &long));
        let mut out = Vec::new();
        Decoder::new().decode(&buf, &mut out).unwrap();
        assert_eq!(out.len(), 3);
        let Event::Record(Record::Diffusion(d)) = out[0] else {
            panic!("{:?}", out[0])
        };
        assert_eq!(d.source_name(), b"/secret/plan.txt");
        assert_eq!(d.target_name(), b"cat");
        assert_eq!((d.call_id, d.secrets, d.new_secrets), (7, 3, 1));
        let Event::Record(Record::Diffusion(d)) = out[1] else {
            panic!("{:?}", out[1])
        };
        assert!(d.source_name().is_empty() && d.target_name().is_empty());
        let Event::Record(Record::Diffusion(d)) = out[2] else {
            panic!("{:?}", out[2])
        };
        assert_eq!(d.header.size as usize, size_of::<DiffusionRecord>());
        assert_eq!(d.source_name().len(), 256);
        assert_ne!(d.flags & leaktrace_abi::DIFFUSION_SOURCE_NAME_TRUNCATED, 0);
    }

    #[test]
    fn malformed_diffusion_records_are_refused() {
        let wrong = |buf: &[u8]| {
            let err = Decoder::new().decode(buf, &mut Vec::new()).unwrap_err();
            assert!(
                matches!(
                    err.problem,
                    Problem::WrongSizeForKind {
                        kind: RecordKind::Diffusion,
                        ..
                    }
                ),
                "{err}"
            );
        };
        // Names longer than the record holds.
        let mut buf = diffusion(0, b"/a", b"cat");
        let at = core::mem::offset_of!(DiffusionRecord, target_name_len);
        buf[at..at + 2].copy_from_slice(&40u16.to_ne_bytes());
        wrong(&buf);
        // A name over DIFFUSION_NAME_MAX, even in a record of the largest size.
        let mut buf = diffusion(0, &[b'y'; 256], &[b'z'; 256]);
        let at = core::mem::offset_of!(DiffusionRecord, source_name_len);
        buf[at..at + 2].copy_from_slice(&300u16.to_ne_bytes());
        let at = core::mem::offset_of!(DiffusionRecord, target_name_len);
        buf[at..at + 2].copy_from_slice(&100u16.to_ne_bytes());
        wrong(&buf);
        // Padding past what the names need.
        let mut buf = diffusion(0, b"/a", b"cat");
        buf.extend([0u8; 8]);
        let size = buf.len() as u16;
        buf[6..8].copy_from_slice(&size.to_ne_bytes());
        wrong(&buf);
        // Shorter than the fixed part.
        let mut buf = diffusion(0, b"", b"")[..128].to_vec();
        buf[6..8].copy_from_slice(&128u16.to_ne_bytes());
        wrong(&buf);
        // Longer than the largest diffusion record.
        let mut buf = diffusion(0, &[b'y'; 256], &[b'z'; 256]);
        buf.extend([0u8; 16]);
        let size = buf.len() as u16;
        buf[6..8].copy_from_slice(&size.to_ne_bytes());
        wrong(&buf);
    }

    #[test]
    fn pressure_records_decode() {
        let mut r = PressureRecord {
            header: RecordHeader::new::<PressureRecord>(RecordKind::Pressure, 800),
            vm_id: 1,
            table: leaktrace_abi::TableKind::Processes as u32,
            capacity: 256,
            secrets: 1,
            evictions: 3,
            ..Default::default()
        };
        r.header.seq = 4;
        let events = decode_all(r.as_bytes()).unwrap();
        assert_eq!(events, [Event::Record(Record::Pressure(r))]);
        let mut bytes = r.as_bytes().to_vec();
        bytes.extend([0u8; 8]);
        bytes[6..8].copy_from_slice(&104u16.to_ne_bytes());
        assert_eq!(
            decode_record(&bytes).unwrap_err(),
            Problem::WrongSizeForKind {
                kind: RecordKind::Pressure,
                size: 104,
                expected: 96
            }
        );
    }
    #[test]
    fn diffusion_and_pressure_offsets_are_the_documented_ones() {
        use core::mem::offset_of;
        use leaktrace_abi::Node;
        // Documentation/abi.rst gives these offsets.
        assert_eq!(offset_of!(DiffusionRecord, vm_id), 24);
        assert_eq!(offset_of!(DiffusionRecord, op), 28);
        assert_eq!(offset_of!(DiffusionRecord, call_id), 32);
        assert_eq!(offset_of!(DiffusionRecord, nr), 40);
        assert_eq!(offset_of!(DiffusionRecord, secrets), 48);
        assert_eq!(offset_of!(DiffusionRecord, new_secrets), 56);
        assert_eq!(offset_of!(DiffusionRecord, actor), 64);
        assert_eq!(offset_of!(DiffusionRecord, source), 104);
        assert_eq!(offset_of!(DiffusionRecord, target), 144);
        assert_eq!(offset_of!(DiffusionRecord, source_name_len), 184);
        assert_eq!(offset_of!(DiffusionRecord, target_name_len), 186);
        assert_eq!(offset_of!(DiffusionRecord, flags), 188);
        assert_eq!(offset_of!(DiffusionRecord, names), 192);
        assert_eq!(offset_of!(Node, id), 8);
        assert_eq!(offset_of!(Node, dev), 16);
        assert_eq!(offset_of!(Node, sock_type), 20);
        assert_eq!(offset_of!(Node, src_addr), 24);
        assert_eq!(offset_of!(Node, dst_addr), 28);
        assert_eq!(offset_of!(Node, src_port), 32);
        assert_eq!(offset_of!(Node, dst_port), 34);
        assert_eq!(offset_of!(PressureRecord, table), 28);
        assert_eq!(offset_of!(PressureRecord, capacity), 32);
        assert_eq!(offset_of!(PressureRecord, node), 40);
        assert_eq!(offset_of!(PressureRecord, secrets), 80);
        assert_eq!(offset_of!(PressureRecord, evictions), 88);
        assert_eq!(offset_of!(leaktrace_abi::VmInfo, diffusions), 112);
        assert_eq!(offset_of!(leaktrace_abi::VmInfo, diffusions_lost), 144);
        assert_eq!(offset_of!(leaktrace_abi::SecretRequest, pattern), 32);
        assert_eq!(offset_of!(leaktrace_abi::SecretInfo, files), 24);
        assert_eq!(offset_of!(leaktrace_abi::SecretInfo, pattern), 40);
    }
}
