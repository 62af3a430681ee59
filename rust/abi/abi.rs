// SPDX-License-Identifier: GPL-2.0

//! The userspace ABI of `/dev/leaktrace`: records and ioctls.
//!
//! This file is the single definition of the ABI. The kernel module includes
//! it as a module (`#[path]`), the userspace crate `leaktrace-abi` wraps it,
//! and Documentation/abi.rst describes it. It uses `core` only.
//!
//! # Records
//!
//! `read()` returns whole records, back to back. Every record starts with a
//! [`RecordHeader`]; `size` covers header and payload, is a multiple of
//! [`RECORD_ALIGN`] and at most [`RECORD_MAX_SIZE`]. A reader skips kinds it
//! does not know by `size`. `seq` numbers every record the module produced,
//! delivered or dropped, so a gap in `seq` is exactly the records lost.
//!
//! # Versioning
//!
//! [`ABI_VERSION`] changes only on an incompatible change. New record kinds
//! and new ioctls are compatible additions; an existing record's layout or
//! an ioctl's structure never changes (the structure size is part of the
//! ioctl number).

/// Version of this ABI, carried in every record header and in [`Info`].
pub const ABI_VERSION: u16 = 1;

/// First field of every record: the bytes `"LT"` read as a little-endian u16.
pub const RECORD_MAGIC: u16 = 0x544c;

/// Alignment and size granularity of records, in bytes.
pub const RECORD_ALIGN: usize = 8;

/// Largest record the module ever produces. A `read()` buffer of at least
/// this many bytes always makes progress.
pub const RECORD_MAX_SIZE: usize = 1024;

/// Plain old data: a `#[repr(C)]` type made only of integers and arrays of
/// integers, with no padding, so that every byte pattern is a valid value.
///
/// # Safety
///
/// Implementors must be `#[repr(C)]`, contain no padding bytes, no pointers,
/// references or types with invalid bit patterns.
pub unsafe trait Pod: Copy + Sized {
    /// The value's bytes, as the kernel copies them to userspace.
    fn as_bytes(&self) -> &[u8] {
        // SAFETY: `Pod` guarantees no padding, so all `size_of::<Self>()`
        // bytes behind `self` are initialised; the slice borrows `self`.
        unsafe {
            core::slice::from_raw_parts(
                (self as *const Self).cast::<u8>(),
                core::mem::size_of::<Self>(),
            )
        }
    }

    /// The value's bytes, writable (the ring stamps `seq` this way).
    fn as_bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `as_bytes`; every byte pattern is a valid `Self`
        // (`Pod`), so writes through the slice cannot create an invalid value.
        unsafe {
            core::slice::from_raw_parts_mut(
                (self as *mut Self).cast::<u8>(),
                core::mem::size_of::<Self>(),
            )
        }
    }

    /// Reads a value from the start of `bytes`, or `None` if too short.
    fn read_from(bytes: &[u8]) -> Option<Self> {
        if bytes.len() < core::mem::size_of::<Self>() {
            return None;
        }
        // SAFETY: the length was checked above; `read_unaligned` has no
        // alignment requirement and `Pod` makes every byte pattern valid.
        Some(unsafe { core::ptr::read_unaligned(bytes.as_ptr().cast::<Self>()) })
    }
}

/// What a record is; the `kind` field of [`RecordHeader`].
#[repr(u16)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordKind {
    /// [`LoadedRecord`]: the module was loaded; always the first record.
    Loaded = 1,
    /// [`HeartbeatRecord`]: periodic proof of life with the ring's counters.
    Heartbeat = 2,
    /// [`TestRecord`]: produced on request by [`IOCTL_EMIT_TEST`].
    Test = 3,
}

impl RecordKind {
    /// Converts the raw `kind` field, or `None` for a kind this build does
    /// not know (a newer module): skip such records by their `size`.
    pub const fn from_raw(raw: u16) -> Option<Self> {
        match raw {
            1 => Some(Self::Loaded),
            2 => Some(Self::Heartbeat),
            3 => Some(Self::Test),
            _ => None,
        }
    }
}

/// Header at the start of every record.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecordHeader {
    /// Always [`RECORD_MAGIC`].
    pub magic: u16,
    /// Always [`ABI_VERSION`] of the module that produced the record.
    pub version: u16,
    /// A [`RecordKind`] value.
    pub kind: u16,
    /// Size of the whole record in bytes, header included.
    pub size: u16,
    /// Sequence number: 0 for the first record after load, +1 for each
    /// record produced, whether delivered or dropped.
    pub seq: u64,
    /// `CLOCK_MONOTONIC` time at which the record was produced, in ns.
    pub time_ns: u64,
}

impl RecordHeader {
    /// Byte offset of `seq` within the header (the ring stamps it).
    pub const SEQ_OFFSET: usize = 8;

    /// A header for a record of type `T` whose `seq` is filled in by the
    /// ring when the record is queued.
    pub const fn new<T: Pod>(kind: RecordKind, time_ns: u64) -> Self {
        Self {
            magic: RECORD_MAGIC,
            version: ABI_VERSION,
            kind: kind as u16,
            size: core::mem::size_of::<T>() as u16,
            seq: 0,
            time_ns,
        }
    }

    /// Checks the invariants a reader relies on: magic, version and a size
    /// that is aligned and within bounds.
    pub fn is_well_formed(&self) -> bool {
        let size = self.size as usize;
        self.magic == RECORD_MAGIC
            && self.version == ABI_VERSION
            && size >= core::mem::size_of::<Self>()
            && size <= RECORD_MAX_SIZE
            && size.is_multiple_of(RECORD_ALIGN)
    }
}

/// Snapshot of the event ring's accounting.
///
/// At every instant `produced == delivered + dropped + queued`: no record is
/// lost without being counted.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Records produced since load (queued or dropped).
    pub produced: u64,
    /// Records copied to a reader.
    pub delivered: u64,
    /// Records dropped because the ring was full.
    pub dropped: u64,
    /// Records waiting in the ring.
    pub queued: u64,
}

/// [`RecordKind::Loaded`]: first record after the module loads.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoadedRecord {
    /// Common header.
    pub header: RecordHeader,
    /// Capacity of the event ring in bytes.
    pub ring_bytes: u32,
    /// Period of heartbeat records, in milliseconds.
    pub heartbeat_ms: u32,
}

/// [`RecordKind::Heartbeat`]: produced periodically so that an idle stream
/// still shows the module alive, with the counters as of just before it.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HeartbeatRecord {
    /// Common header.
    pub header: RecordHeader,
    /// Ring accounting before this record was produced.
    pub counters: Counters,
}

/// [`RecordKind::Test`]: one of a burst requested with [`IOCTL_EMIT_TEST`],
/// so that tests can fill the ring and race readers without guests.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TestRecord {
    /// Common header.
    pub header: RecordHeader,
    /// Position in the burst, from 0.
    pub index: u64,
    /// Number of records the burst asked for.
    pub burst: u64,
}

/// Reply of [`IOCTL_GET_INFO`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Info {
    /// [`ABI_VERSION`] of the running module.
    pub abi_version: u16,
    /// Padding, zero.
    pub reserved: u16,
    /// [`RECORD_MAX_SIZE`] of the running module.
    pub record_max_size: u32,
    /// Capacity of the event ring in bytes.
    pub ring_bytes: u64,
    /// Ring accounting.
    pub counters: Counters,
    /// Number of open file descriptions of `/dev/leaktrace`.
    pub readers: u64,
}

// SAFETY: all of these are `#[repr(C)]`, made of integers only, and laid out
// without padding (checked by the size assertions below).
unsafe impl Pod for RecordHeader {}
// SAFETY: see above.
unsafe impl Pod for Counters {}
// SAFETY: see above.
unsafe impl Pod for LoadedRecord {}
// SAFETY: see above.
unsafe impl Pod for HeartbeatRecord {}
// SAFETY: see above.
unsafe impl Pod for Info {}
// SAFETY: see above.
unsafe impl Pod for TestRecord {}

// The layout is the ABI: any change here is an ABI break.
const _: () = assert!(core::mem::size_of::<RecordHeader>() == 24);
const _: () = assert!(core::mem::size_of::<Counters>() == 32);
const _: () = assert!(core::mem::size_of::<LoadedRecord>() == 32);
const _: () = assert!(core::mem::size_of::<HeartbeatRecord>() == 56);
const _: () = assert!(core::mem::size_of::<Info>() == 56);
const _: () = assert!(core::mem::size_of::<TestRecord>() == 40);
const _: () = assert!(core::mem::size_of::<LoadedRecord>().is_multiple_of(RECORD_ALIGN));
const _: () = assert!(core::mem::size_of::<HeartbeatRecord>().is_multiple_of(RECORD_ALIGN));
const _: () = assert!(core::mem::size_of::<TestRecord>().is_multiple_of(RECORD_ALIGN));

/// The ioctl "type" byte of leaktrace (`'L'`).
pub const IOCTL_TYPE: u32 = b'L' as u32;

/// `_IOC(dir, type, nr, size)` as in include/uapi/asm-generic/ioctl.h.
const fn ioc(dir: u32, nr: u32, size: usize) -> u32 {
    (dir << 30) | ((size as u32) << 16) | (IOCTL_TYPE << 8) | nr
}

/// `_IOC_READ`: the kernel writes, userspace reads.
const IOC_READ: u32 = 2;

/// `_IOC_WRITE`: userspace writes, the kernel reads.
const IOC_WRITE: u32 = 1;

/// `_IOR('L', 1, struct Info)`: ABI version, ring size and counters.
pub const IOCTL_GET_INFO: u32 = ioc(IOC_READ, 1, core::mem::size_of::<Info>());

/// `_IOW('L', 2, __u64)`: produce that many [`TestRecord`]s at once
/// (at most [`EMIT_TEST_MAX`]); they go through the ring like any record,
/// so a burst larger than the ring shows drops exactly as traffic would.
pub const IOCTL_EMIT_TEST: u32 = ioc(IOC_WRITE, 2, core::mem::size_of::<u64>());

/// Largest burst [`IOCTL_EMIT_TEST`] accepts; larger requests get `EINVAL`.
pub const EMIT_TEST_MAX: u64 = 1 << 20;
