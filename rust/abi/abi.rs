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
    /// [`VmRecord`]: a VM appeared, was identified, armed, disarmed,
    /// refused or destroyed.
    Vm = 4,
    /// [`SyscallRecord`]: one system call of a traced VM.
    Syscall = 5,
}

impl RecordKind {
    /// Converts the raw `kind` field, or `None` for a kind this build does
    /// not know (a newer module): skip such records by their `size`.
    pub const fn from_raw(raw: u16) -> Option<Self> {
        match raw {
            1 => Some(Self::Loaded),
            2 => Some(Self::Heartbeat),
            3 => Some(Self::Test),
            4 => Some(Self::Vm),
            5 => Some(Self::Syscall),
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

/// Size of a VM's SMBIOS UUID in bytes.
pub const UUID_SIZE: usize = 16;

/// A VM's SMBIOS system UUID, in the canonical byte order of its text form
/// (`00112233-4455-6677-8899-aabbccddeeff` is `[0x00, 0x11, ...]`): the
/// module converts SMBIOS >= 2.6's little-endian first three fields.
pub type Uuid = [u8; UUID_SIZE];

/// What happened to a VM; the `event` field of [`VmRecord`].
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmEvent {
    /// KVM created the VM (or it existed when the module loaded).
    Created = 1,
    /// The VM's SMBIOS UUID was read from guest memory.
    Identified = 2,
    /// The guest has no readable SMBIOS UUID; it is known by id only.
    NoUuid = 3,
    /// Tracing started: its system calls now produce records.
    Armed = 4,
    /// Tracing stopped.
    Disarmed = 5,
    /// The VM is selected but cannot be traced; see `refusal`.
    Refused = 6,
    /// KVM destroyed the VM.
    Destroyed = 7,
}

impl VmEvent {
    /// Converts the raw `event` field, or `None` for an unknown value.
    pub const fn from_raw(raw: u32) -> Option<Self> {
        match raw {
            1 => Some(Self::Created),
            2 => Some(Self::Identified),
            3 => Some(Self::NoUuid),
            4 => Some(Self::Armed),
            5 => Some(Self::Disarmed),
            6 => Some(Self::Refused),
            7 => Some(Self::Destroyed),
            _ => None,
        }
    }
}

/// Why a selected VM is not traced; `refusal` in [`VmRecord`] and [`VmInfo`].
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Not refused.
    None = 0,
    /// The guest enabled CET (IBT or shadow stacks).
    Cet = 1,
    /// SEV, SEV-ES or SEV-SNP: guest state is encrypted.
    Sev = 2,
    /// TDX: guest state is not accessible.
    Tdx = 3,
    /// A vCPU runs a nested guest.
    Nested = 4,
}

impl Refusal {
    /// Converts the raw field, or `None` for an unknown value.
    pub const fn from_raw(raw: u32) -> Option<Self> {
        match raw {
            0 => Some(Self::None),
            1 => Some(Self::Cet),
            2 => Some(Self::Sev),
            3 => Some(Self::Tdx),
            4 => Some(Self::Nested),
            _ => None,
        }
    }
}

/// [`RecordKind::Vm`]: a change in a VM's life or tracing state.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VmRecord {
    /// Common header.
    pub header: RecordHeader,
    /// The VM's id: unique while the module is loaded, never reused.
    pub vm_id: u32,
    /// A [`VmEvent`] value.
    pub event: u32,
    /// The VM's UUID; all zero until [`VM_UUID_KNOWN`] is set in `flags`.
    pub uuid: Uuid,
    /// PID (in the initial namespace) of the process that created the VM.
    pub vmm_pid: u32,
    /// A [`Refusal`] value; not [`Refusal::None`] only for `Refused`.
    pub refusal: u32,
    /// The VM's `VM_*` state flags after the event.
    pub flags: u32,
    /// Padding, zero.
    pub reserved: u32,
}

/// `flags` of [`VmRecord`] and [`VmInfo`]: the UUID has been read.
pub const VM_UUID_KNOWN: u32 = 1 << 0;
/// The guest has no readable SMBIOS UUID (gave up looking).
pub const VM_UUID_ABSENT: u32 = 1 << 1;
/// The VM matches the trace selection.
pub const VM_SELECTED: u32 = 1 << 2;
/// The VM's system calls are being recorded.
pub const VM_TRACED: u32 = 1 << 3;

/// How a [`SyscallRecord`] ended; its `end` field.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyscallEnd {
    /// The call returned through SYSRET; `ret` and `exit_ns` are valid.
    Returned = 1,
    /// A call that never returns (`exit`, `exit_group`).
    NoReturn = 2,
    /// The same thread (CR3 and user stack pointer) made a new call: this
    /// one left the kernel another way (IRET after a successful `execve`,
    /// a signal, ...).
    Superseded = 3,
    /// No return was seen within the module's `pending_timeout_ms`.
    TimedOut = 4,
    /// The VM's table of pending calls was full: the oldest one was ended.
    Evicted = 5,
    /// Tracing stopped (disarm, VM destroyed, module unload) before the
    /// call returned.
    Untraced = 6,
}

impl SyscallEnd {
    /// Converts the raw `end` field, or `None` for an unknown value.
    pub const fn from_raw(raw: u32) -> Option<Self> {
        match raw {
            1 => Some(Self::Returned),
            2 => Some(Self::NoReturn),
            3 => Some(Self::Superseded),
            4 => Some(Self::TimedOut),
            5 => Some(Self::Evicted),
            6 => Some(Self::Untraced),
            _ => None,
        }
    }
}

/// Number of system call arguments in a [`SyscallRecord`].
pub const SYSCALL_ARGS: usize = 6;

/// [`RecordKind::Syscall`]: one system call of a traced VM, produced when
/// it returns (or is known never to return; see `end`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SyscallRecord {
    /// Common header.
    pub header: RecordHeader,
    /// The VM's id (see [`VmRecord::vm_id`]).
    pub vm_id: u32,
    /// The vCPU that made the call.
    pub vcpu: u32,
    /// Per-VM sequence number of syscall records, from 0, without gaps
    /// (a gap in the ring's `seq` shows records dropped by the ring).
    pub vm_seq: u64,
    /// The VM's UUID, all zero if the VM has none.
    pub uuid: Uuid,
    /// Guest CR3 at the call: the calling address space.
    pub cr3: u64,
    /// User RIP of the SYSCALL instruction.
    pub rip: u64,
    /// User RSP at the call.
    pub rsp: u64,
    /// System call number (RAX at the call).
    pub nr: u64,
    /// Arguments: RDI, RSI, RDX, R10, R8, R9.
    pub args: [u64; SYSCALL_ARGS],
    /// Return value (RAX at SYSRET), when `end` is `Returned`.
    pub ret: i64,
    /// `CLOCK_MONOTONIC` time of the call, in ns.
    pub entry_ns: u64,
    /// `CLOCK_MONOTONIC` time of the return, or of the end, in ns.
    pub exit_ns: u64,
    /// A [`SyscallEnd`] value.
    pub end: u32,
    /// Padding, zero.
    pub reserved: u32,
}

/// One VM in the reply of [`IOCTL_VM_LIST`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VmInfo {
    /// The VM's id.
    pub vm_id: u32,
    /// `VM_*` state flags.
    pub flags: u32,
    /// The VM's UUID, when `flags` has [`VM_UUID_KNOWN`].
    pub uuid: Uuid,
    /// PID of the process that created the VM.
    pub vmm_pid: u32,
    /// A [`Refusal`] value: why a selected VM is not traced.
    pub refusal: u32,
    /// `CLOCK_MONOTONIC` time the module learned of the VM, in ns.
    pub created_ns: u64,
    /// System call records produced for this VM.
    pub syscalls: u64,
    /// Of those, calls that returned through SYSRET.
    pub returned: u64,
    /// SYSRETs without a pending call (e.g. calls made before arming).
    pub unmatched_returns: u64,
    /// Calls waiting for their return now.
    pub pending: u64,
    /// All trapped SYSCALL and SYSRET instructions, identification included.
    pub traps: u64,
}

/// Argument of [`IOCTL_VM_LIST`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VmListRequest {
    /// User address of an array of `capacity` [`VmInfo`].
    pub entries: u64,
    /// Length of that array.
    pub capacity: u32,
    /// Out: the number of VMs; `min(count, capacity)` entries were written.
    pub count: u32,
}

/// `op` of [`TraceRequest`]: add `uuid` to the selection.
pub const TRACE_ADD: u32 = 1;
/// Remove `uuid` from the selection (`ENOENT` if it is not there).
pub const TRACE_REMOVE: u32 = 2;
/// Trace every VM, present and future.
pub const TRACE_ALL: u32 = 3;
/// Trace no VM: clear the selection and the "all" flag.
pub const TRACE_NONE: u32 = 4;

/// Most UUIDs the selection holds (`ENOSPC` beyond).
pub const SELECTION_MAX: usize = 256;

/// Argument of [`IOCTL_TRACE`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TraceRequest {
    /// One of `TRACE_ADD`, `TRACE_REMOVE`, `TRACE_ALL`, `TRACE_NONE`.
    pub op: u32,
    /// Must be zero.
    pub reserved: u32,
    /// The UUID for `TRACE_ADD` and `TRACE_REMOVE`; must be zero otherwise.
    pub uuid: Uuid,
}

/// Argument of [`IOCTL_GET_SELECTION`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SelectionRequest {
    /// User address of an array of `capacity` [`Uuid`]s.
    pub uuids: u64,
    /// Length of that array.
    pub capacity: u32,
    /// Out: the number of selected UUIDs; `min(count, capacity)` written.
    pub count: u32,
    /// Out: 1 if every VM is traced ([`TRACE_ALL`]), else 0.
    pub all: u32,
    /// Padding, zero.
    pub reserved: u32,
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
// SAFETY: see above.
unsafe impl Pod for VmRecord {}
// SAFETY: see above.
unsafe impl Pod for SyscallRecord {}
// SAFETY: see above.
unsafe impl Pod for VmInfo {}
// SAFETY: see above.
unsafe impl Pod for VmListRequest {}
// SAFETY: see above.
unsafe impl Pod for TraceRequest {}
// SAFETY: see above.
unsafe impl Pod for SelectionRequest {}

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
const _: () = assert!(core::mem::size_of::<VmRecord>() == 64);
const _: () = assert!(core::mem::size_of::<SyscallRecord>() == 168);
const _: () = assert!(core::mem::size_of::<VmInfo>() == 80);
const _: () = assert!(core::mem::size_of::<VmListRequest>() == 16);
const _: () = assert!(core::mem::size_of::<TraceRequest>() == 24);
const _: () = assert!(core::mem::size_of::<SelectionRequest>() == 24);
const _: () = assert!(core::mem::size_of::<VmRecord>().is_multiple_of(RECORD_ALIGN));
const _: () = assert!(core::mem::size_of::<SyscallRecord>().is_multiple_of(RECORD_ALIGN));

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

/// `_IOC_READ | _IOC_WRITE`.
const IOC_READ_WRITE: u32 = IOC_READ | IOC_WRITE;

/// `_IOWR('L', 3, struct VmListRequest)`: the VMs KVM runs, with their
/// identity, tracing state and counters.
pub const IOCTL_VM_LIST: u32 = ioc(IOC_READ_WRITE, 3, core::mem::size_of::<VmListRequest>());

/// `_IOW('L', 4, struct TraceRequest)`: change which VMs are traced. Takes
/// effect on running VMs at once and on VMs started later. `EINVAL` for an
/// unknown `op`, a non-zero `reserved`, a zero UUID with `TRACE_ADD` or
/// `TRACE_REMOVE`; `ENOENT` to remove a UUID not selected; `ENOSPC` past
/// [`SELECTION_MAX`]. On error nothing changes.
pub const IOCTL_TRACE: u32 = ioc(IOC_WRITE, 4, core::mem::size_of::<TraceRequest>());

/// `_IOWR('L', 5, struct SelectionRequest)`: the current trace selection.
pub const IOCTL_GET_SELECTION: u32 =
    ioc(IOC_READ_WRITE, 5, core::mem::size_of::<SelectionRequest>());
