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
pub const ABI_VERSION: u16 = 3;

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
    /// [`FileRecord`]: what a file descriptor of a system call refers to.
    File = 6,
    /// [`DiffusionRecord`]: confidential data reached a new place.
    Diffusion = 7,
    /// [`PressureRecord`]: a propagation table was full and forgot an entry.
    Pressure = 8,
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
            6 => Some(Self::File),
            7 => Some(Self::Diffusion),
            8 => Some(Self::Pressure),
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
    /// The VM's guest kernel matched its profile: records now carry
    /// processes and files.
    ProfileActive = 8,
    /// The VM has a profile that does not match its running kernel; see
    /// [`ProfileState::Mismatch`].
    ProfileMismatch = 9,
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
            8 => Some(Self::ProfileActive),
            9 => Some(Self::ProfileMismatch),
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
    /// Per-VM number of the call, from 1, given when it entered the
    /// kernel; the [`FileRecord`]s of the call carry the same number.
    pub call_id: u64,
    /// The guest task that made the call.
    pub task: TaskIdentity,
}

/// How far guest introspection got; the `status` of [`TaskIdentity`] and
/// [`FileRecord`].
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// Nothing to resolve (e.g. the call has no file descriptor there).
    None = 0,
    /// The VM has no profile: records stay at the system-call level.
    NoProfile = 1,
    /// Read from the guest kernel's structures; the fields are valid.
    Resolved = 2,
    /// A guest read failed or a structure failed a sanity check (a guest
    /// that forges its structures ends here); the fields are zero.
    Unresolved = 3,
    /// The VM's profile does not match its kernel ([`ProfileState::Mismatch`]).
    ProfileMismatch = 4,
}

impl Resolution {
    /// Converts a raw `status` field, or `None` for an unknown value.
    pub const fn from_raw(raw: u32) -> Option<Self> {
        match raw {
            0 => Some(Self::None),
            1 => Some(Self::NoProfile),
            2 => Some(Self::Resolved),
            3 => Some(Self::Unresolved),
            4 => Some(Self::ProfileMismatch),
            _ => None,
        }
    }
}

/// Length of a task's command name (`TASK_COMM_LEN`).
pub const COMM_LEN: usize = 16;

/// The guest task behind a system call, read through the VM's profile.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TaskIdentity {
    /// Guest virtual address of the `task_struct` (stable while it lives).
    pub task: u64,
    /// A [`Resolution`] value; the fields below are valid if `Resolved`.
    pub status: u32,
    /// Thread id (`task->pid`, what the guest's `gettid()` returns).
    pub pid: u32,
    /// Process id (`task->tgid`, the guest's `getpid()`).
    pub tgid: u32,
    /// Process id of the parent (`task->real_parent->tgid`, `getppid()`).
    pub ppid: u32,
    /// Command name, NUL-padded (`task->comm`).
    pub comm: [u8; COMM_LEN],
}

/// What a file object is; the `kind` of [`FileRecord`], from `i_mode`.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// Not resolved.
    Unknown = 0,
    /// `S_IFREG`.
    Regular = 1,
    /// `S_IFDIR`.
    Directory = 2,
    /// `S_IFCHR`.
    CharDevice = 3,
    /// `S_IFBLK`.
    BlockDevice = 4,
    /// `S_IFIFO`: a pipe or a FIFO.
    Fifo = 5,
    /// `S_IFSOCK`.
    Socket = 6,
    /// `S_IFLNK`.
    Symlink = 7,
    /// No file type bits: an anonymous inode (eventfd, epoll, ...).
    Anonymous = 8,
}

impl FileKind {
    /// The kind of an inode's `i_mode`.
    pub const fn from_mode(mode: u32) -> Self {
        match mode & 0o170000 {
            0o100000 => Self::Regular,
            0o040000 => Self::Directory,
            0o020000 => Self::CharDevice,
            0o060000 => Self::BlockDevice,
            0o010000 => Self::Fifo,
            0o140000 => Self::Socket,
            0o120000 => Self::Symlink,
            0 => Self::Anonymous,
            _ => Self::Unknown,
        }
    }

    /// Converts a raw `kind` field, or `None` for an unknown value.
    pub const fn from_raw(raw: u32) -> Option<Self> {
        match raw {
            0 => Some(Self::Unknown),
            1 => Some(Self::Regular),
            2 => Some(Self::Directory),
            3 => Some(Self::CharDevice),
            4 => Some(Self::BlockDevice),
            5 => Some(Self::Fifo),
            6 => Some(Self::Socket),
            7 => Some(Self::Symlink),
            8 => Some(Self::Anonymous),
            _ => None,
        }
    }
}

/// `role` of a [`FileRecord`]: the descriptor in argument N (0-5).
pub const FILE_ROLE_ARG0: u32 = 0;
/// The descriptor the call returned (`open`, `dup`, `socket`, `accept`...).
pub const FILE_ROLE_RETURN: u32 = 8;
/// First of the two descriptors a call wrote to user memory (`pipe2`,
/// `socketpair`: the read end of a pipe).
pub const FILE_ROLE_PAIR0: u32 = 9;
/// Second of those (the write end of a pipe).
pub const FILE_ROLE_PAIR1: u32 = 10;

/// `flags` of [`FileRecord`]: `path` was cut at [`FILE_PATH_MAX`] bytes or
/// at the component limit; it is the tail of the real path.
pub const FILE_PATH_TRUNCATED: u32 = 1 << 0;
/// The walk up `d_parent` did not reach the task's root or a mount root;
/// `path` is relative to where it stopped.
pub const FILE_PATH_DETACHED: u32 = 1 << 1;
/// `socket` is valid (`kind` is [`FileKind::Socket`] and it was read).
pub const FILE_SOCKET_VALID: u32 = 1 << 2;

/// Longest path a [`FileRecord`] carries.
pub const FILE_PATH_MAX: usize = 512;

/// What a socket is bound and connected to, as far as the guest kernel's
/// `struct sock_common` says. For `AF_INET`, addresses are IPv4 in network
/// byte order in the first 4 bytes. For `AF_UNIX`, `local_addr` holds the
/// guest address of the socket's `struct sock` and `remote_addr` that of
/// its peer (0 when unconnected), as little-endian u64s in their first 8
/// bytes: what identifies a UNIX connection's two directions.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SocketIdentity {
    /// Address family (`AF_UNIX` = 1, `AF_INET` = 2, `AF_INET6` = 10).
    pub family: u16,
    /// Socket type (`SOCK_STREAM` = 1, `SOCK_DGRAM` = 2, ...).
    pub sock_type: u16,
    /// Local port, host byte order (0 for none).
    pub local_port: u16,
    /// Remote port, host byte order (0 for none).
    pub remote_port: u16,
    /// Local address.
    pub local_addr: [u8; 16],
    /// Remote address.
    pub remote_addr: [u8; 16],
}

/// [`RecordKind::File`]: the file object behind one descriptor of a
/// system call, produced before that call's [`SyscallRecord`] (same
/// `vm_id` and `call_id`). The record is variable-sized: `header.size`
/// covers `path_len` bytes of `path`, rounded up to [`RECORD_ALIGN`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileRecord {
    /// Common header.
    pub header: RecordHeader,
    /// The VM's id.
    pub vm_id: u32,
    /// Which descriptor of the call: `FILE_ROLE_*`.
    pub role: u32,
    /// The call's [`SyscallRecord::call_id`].
    pub call_id: u64,
    /// The descriptor number.
    pub fd: i32,
    /// A [`Resolution`] value; the fields below are valid if `Resolved`.
    pub status: u32,
    /// A [`FileKind`] value.
    pub kind: u32,
    /// `inode->i_mode` (type and permission bits).
    pub mode: u32,
    /// Major number of the file system's device (`st_dev`).
    pub dev_major: u32,
    /// Minor number of the file system's device.
    pub dev_minor: u32,
    /// `FILE_*` flags.
    pub flags: u32,
    /// Length of `path` in bytes (no NUL).
    pub path_len: u32,
    /// Inode number (`st_ino`).
    pub ino: u64,
    /// Guest address of the `struct file` (the open file description,
    /// shared by `dup`'ed descriptors and across `fork`).
    pub file: u64,
    /// Socket addresses when `flags` has [`FILE_SOCKET_VALID`].
    pub socket: SocketIdentity,
    /// The path from the task's root (as `/proc/PID/fd/N` shows it), for
    /// files that have one; empty for pipes, sockets and anonymous inodes.
    pub path: [u8; FILE_PATH_MAX],
}

impl Default for FileRecord {
    fn default() -> Self {
        Self {
            header: RecordHeader::default(),
            vm_id: 0,
            role: 0,
            call_id: 0,
            fd: 0,
            status: 0,
            kind: 0,
            mode: 0,
            dev_major: 0,
            dev_minor: 0,
            flags: 0,
            path_len: 0,
            ino: 0,
            file: 0,
            socket: SocketIdentity::default(),
            path: [0; FILE_PATH_MAX],
        }
    }
}

impl FileRecord {
    /// Size of the record without `path`.
    pub const FIXED_SIZE: usize = core::mem::size_of::<Self>() - FILE_PATH_MAX;

    /// Size of a record carrying `path_len` bytes of path.
    pub const fn size_for(path_len: usize) -> usize {
        let len = if path_len > FILE_PATH_MAX { FILE_PATH_MAX } else { path_len };
        (Self::FIXED_SIZE + len).next_multiple_of(RECORD_ALIGN)
    }

    /// Reads a (possibly short) file record: `bytes` is the whole record
    /// as `header.size` delimits it. `None` if it is shorter than the fixed
    /// part or `path_len` does not fit.
    pub fn read_record(bytes: &[u8]) -> Option<Self> {
        if bytes.len() < Self::FIXED_SIZE || bytes.len() > core::mem::size_of::<Self>() {
            return None;
        }
        let mut full = [0u8; core::mem::size_of::<Self>()];
        full[..bytes.len()].copy_from_slice(bytes);
        let record = Self::read_from(&full)?;
        if record.path_len as usize > bytes.len() - Self::FIXED_SIZE {
            return None;
        }
        Some(record)
    }

    /// The path bytes.
    pub fn path_bytes(&self) -> &[u8] {
        let len = (self.path_len as usize).min(FILE_PATH_MAX);
        &self.path[..len]
    }
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
    /// A [`ProfileState`] value.
    pub profile: u32,
    /// Padding, zero.
    pub reserved: u32,
    /// The guest kernel's relocation (KASLR slide) once the profile is
    /// active, else 0.
    pub kernel_slide: u64,
    /// Tasks and files resolved through the profile.
    pub resolved: u64,
    /// Tasks and files that could not be resolved (see
    /// [`Resolution::Unresolved`]).
    pub unresolved: u64,
    /// Diffusion records produced for this VM (exfiltrations included).
    pub diffusions: u64,
    /// Of those, data sent out of the traced VMs ([`DiffusionOp::Exfiltrate`]).
    pub exfiltrations: u64,
    /// Entries in the VM's propagation tables now (all tables).
    pub table_entries: u32,
    /// Their capacity (all tables).
    pub table_capacity: u32,
    /// Entries forgotten because a table was full ([`PressureRecord`]).
    pub table_evictions: u64,
    /// Diffusions that could not be followed (no memory, or more calls in
    /// flight with confidential data than the module keeps).
    pub diffusions_lost: u64,
}

/// A VM's introspection profile state; `profile` of [`VmInfo`].
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProfileState {
    /// No profile applies to the VM.
    None = 0,
    /// A profile applies; it is checked against the guest kernel at the
    /// VM's next traced system call.
    Loaded = 1,
    /// The profile matched the guest kernel (banner and build id) and is
    /// used.
    Active = 2,
    /// The guest kernel is not the profile's: introspection is off for the
    /// VM until a matching profile is loaded or the guest reboots.
    Mismatch = 3,
}

impl ProfileState {
    /// Converts the raw `profile` field, or `None` for an unknown value.
    pub const fn from_raw(raw: u32) -> Option<Self> {
        match raw {
            0 => Some(Self::None),
            1 => Some(Self::Loaded),
            2 => Some(Self::Active),
            3 => Some(Self::Mismatch),
            _ => None,
        }
    }
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

/// `magic` of [`Profile`]: `"LTPF"`.
pub const PROFILE_MAGIC: u32 = u32::from_le_bytes(*b"LTPF");
/// `version` of [`Profile`]; changes with any change of its layout.
pub const PROFILE_VERSION: u32 = 2;
/// Longest kernel banner a profile carries.
pub const PROFILE_BANNER_MAX: usize = 256;
/// Longest build id a profile carries.
pub const PROFILE_BUILD_ID_MAX: usize = 32;
/// Largest structure offset a profile may hold: anything beyond is not a
/// kernel structure field and the profile is refused.
pub const PROFILE_OFFSET_MAX: u32 = 1 << 16;

/// Offsets (in bytes) of the guest kernel's structure fields the module
/// reads. Nested members are resolved: `dentry_d_name_len` is the offset of
/// `d_name.len` within `struct dentry`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProfileOffsets {
    /// `task_struct.pid`.
    pub task_pid: u32,
    /// `task_struct.tgid`.
    pub task_tgid: u32,
    /// `task_struct.comm`.
    pub task_comm: u32,
    /// `task_struct.real_parent`.
    pub task_real_parent: u32,
    /// `task_struct.mm`.
    pub task_mm: u32,
    /// `task_struct.files`.
    pub task_files: u32,
    /// `task_struct.fs`.
    pub task_fs: u32,
    /// `fs_struct.root` (a `struct path`).
    pub fs_root: u32,
    /// `files_struct.fdt`.
    pub files_fdt: u32,
    /// `fdtable.max_fds`.
    pub fdtable_max_fds: u32,
    /// `fdtable.fd`.
    pub fdtable_fd: u32,
    /// `file.f_path`.
    pub file_f_path: u32,
    /// `file.f_inode`.
    pub file_f_inode: u32,
    /// `path.mnt`.
    pub path_mnt: u32,
    /// `path.dentry`.
    pub path_dentry: u32,
    /// `dentry.d_parent`.
    pub dentry_d_parent: u32,
    /// `dentry.d_name.len`.
    pub dentry_d_name_len: u32,
    /// `dentry.d_name.name`.
    pub dentry_d_name_name: u32,
    /// `mount.mnt` (the `struct vfsmount` inside `struct mount`).
    pub mount_mnt: u32,
    /// `mount.mnt_parent`.
    pub mount_mnt_parent: u32,
    /// `mount.mnt_mountpoint`.
    pub mount_mnt_mountpoint: u32,
    /// `vfsmount.mnt_root`.
    pub vfsmount_mnt_root: u32,
    /// `inode.i_mode`.
    pub inode_i_mode: u32,
    /// `inode.i_ino`.
    pub inode_i_ino: u32,
    /// `inode.i_sb`.
    pub inode_i_sb: u32,
    /// `super_block.s_dev`.
    pub super_block_s_dev: u32,
    /// `socket_alloc.socket`.
    pub socket_alloc_socket: u32,
    /// `socket_alloc.vfs_inode`.
    pub socket_alloc_vfs_inode: u32,
    /// `socket.type`.
    pub socket_type: u32,
    /// `socket.sk`.
    pub socket_sk: u32,
    /// `sock_common.skc_family` (at the start of `struct sock`).
    pub sock_common_skc_family: u32,
    /// `sock_common.skc_daddr`.
    pub sock_common_skc_daddr: u32,
    /// `sock_common.skc_rcv_saddr`.
    pub sock_common_skc_rcv_saddr: u32,
    /// `sock_common.skc_dport`.
    pub sock_common_skc_dport: u32,
    /// `sock_common.skc_num`.
    pub sock_common_skc_num: u32,
    /// Size of `task_struct.comm` (checked against [`COMM_LEN`]).
    pub task_comm_size: u32,
    /// `unix_sock.peer` (`struct unix_sock` starts with its `struct sock`).
    pub unix_sock_peer: u32,
    /// Padding, zero.
    pub reserved: u32,
}

/// Introspection profile of one guest kernel build, made by `leaktrace
/// profile build` from the kernel's BTF and handed to the module with
/// [`IOCTL_PROFILE_LOAD`]. Addresses are link-time (before KASLR); the
/// module finds the guest's relocation from `MSR_LSTAR` and checks the
/// banner and build id at their relocated addresses before using the
/// offsets (Documentation/introspection.rst).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Profile {
    /// [`PROFILE_MAGIC`].
    pub magic: u32,
    /// [`PROFILE_VERSION`].
    pub version: u32,
    /// `size_of::<Profile>()`.
    pub size: u32,
    /// Bytes of `banner` in use (1..=[`PROFILE_BANNER_MAX`]).
    pub banner_len: u32,
    /// Leading bytes of the kernel's `linux_banner` ("Linux version ...").
    pub banner: [u8; PROFILE_BANNER_MAX],
    /// Bytes of `build_id` in use (0: the build id is not checked).
    pub build_id_len: u32,
    /// Padding, zero.
    pub reserved: u32,
    /// The kernel's GNU build id (`.notes`).
    pub build_id: [u8; PROFILE_BUILD_ID_MAX],
    /// Link-time address of the build id's bytes, when `build_id_len` > 0.
    pub build_id_addr: u64,
    /// Link-time address of `linux_banner`.
    pub linux_banner: u64,
    /// Link-time address of `entry_SYSCALL_64` (the value of `MSR_LSTAR`
    /// before relocation).
    pub entry_syscall: u64,
    /// Link-time address of the per-CPU variable `current_task`; at run
    /// time it is read at `MSR_KERNEL_GS_BASE` + this + the relocation.
    pub current_task: u64,
    /// Structure offsets.
    pub offsets: ProfileOffsets,
}

impl Default for Profile {
    fn default() -> Self {
        Self {
            magic: PROFILE_MAGIC,
            version: PROFILE_VERSION,
            size: core::mem::size_of::<Self>() as u32,
            banner_len: 0,
            banner: [0; PROFILE_BANNER_MAX],
            build_id_len: 0,
            reserved: 0,
            build_id: [0; PROFILE_BUILD_ID_MAX],
            build_id_addr: 0,
            linux_banner: 0,
            entry_syscall: 0,
            current_task: 0,
            offsets: ProfileOffsets::default(),
        }
    }
}

/// Why [`Profile::validate`] refused a profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProfileError {
    /// `magic` is not [`PROFILE_MAGIC`]: not a profile.
    Magic,
    /// `version` or `size` is not this ABI's.
    Version,
    /// `banner_len` is 0 or too large, or `build_id_len` too large.
    Identity,
    /// An address is not a kernel address (upper half), or
    /// `build_id_addr` is missing for a build id.
    Address,
    /// An offset is beyond [`PROFILE_OFFSET_MAX`], or `task_comm_size` is
    /// not [`COMM_LEN`].
    Offset,
    /// `reserved` is not zero.
    Reserved,
}

impl Profile {
    /// The checks the module makes before accepting a profile; the reader
    /// makes them too, to say what is wrong.
    pub fn validate(&self) -> Result<(), ProfileError> {
        if self.magic != PROFILE_MAGIC {
            return Err(ProfileError::Magic);
        }
        if self.version != PROFILE_VERSION || self.size as usize != core::mem::size_of::<Self>() {
            return Err(ProfileError::Version);
        }
        if self.banner_len == 0
            || self.banner_len as usize > PROFILE_BANNER_MAX
            || self.build_id_len as usize > PROFILE_BUILD_ID_MAX
        {
            return Err(ProfileError::Identity);
        }
        if self.reserved != 0 || self.offsets.reserved != 0 {
            return Err(ProfileError::Reserved);
        }
        let kernel = |addr: u64| addr >= 0xffff_8000_0000_0000;
        if !kernel(self.linux_banner)
            || !kernel(self.entry_syscall)
            || !kernel(self.current_task)
            || (self.build_id_len > 0 && !kernel(self.build_id_addr))
        {
            return Err(ProfileError::Address);
        }
        if self.offsets.task_comm_size as usize != COMM_LEN {
            return Err(ProfileError::Offset);
        }
        let offsets = self.offsets.as_bytes();
        let too_far = offsets
            .chunks_exact(4)
            .any(|v| u32::from_ne_bytes([v[0], v[1], v[2], v[3]]) >= PROFILE_OFFSET_MAX);
        if too_far {
            return Err(ProfileError::Offset);
        }
        Ok(())
    }
}

/// Argument of [`IOCTL_PROFILE_LOAD`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProfileLoadRequest {
    /// The VM the profile is for; must be zero with `all`.
    pub uuid: Uuid,
    /// 1: the profile applies to every VM without a profile of its own
    /// (the default profile); 0: to `uuid`.
    pub all: u32,
    /// Must be zero.
    pub reserved: u32,
    /// User address of a [`Profile`], or 0 to remove the profile.
    pub profile: u64,
    /// `size_of::<Profile>()`, or 0 with `profile` 0.
    pub size: u32,
    /// Must be zero.
    pub reserved2: u32,
}

/// What a node of the diffusion graph is; `kind` of [`Node`].
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NodeKind {
    /// No node (unused side).
    None = 0,
    /// A guest process (all its threads: one address space). `id`: its
    /// process id (tgid).
    Process = 1,
    /// A file with a name: `dev` and `id` are its device and inode number.
    File = 2,
    /// A pipe or FIFO (data written is what is read): `dev` and `id` are
    /// its inode's.
    Pipe = 3,
    /// One direction of a connected UNIX socket: `id` is the guest address
    /// of the sending end's `struct sock`.
    UnixSocket = 4,
    /// One direction of an IPv4 conversation, inside one VM (loopback) or
    /// between two traced VMs: `src` sent to `dst`, received in VM
    /// `vm_id`. Streams (TCP) carry both ends; datagram flows (UDP) only
    /// `dst_port` (a receiver bound to any address cannot tell more).
    Flow = 5,
    /// A System V shared memory segment: `id` is its shmid.
    SharedMemory = 6,
    /// A message queue: System V (`id` its msqid, `dev` 0) or POSIX (`dev`
    /// and `id` the mqueue inode's).
    MessageQueue = 7,
    /// A destination outside the traced VMs: `dst` (and `src`, the VM's
    /// end).
    Remote = 8,
}

impl NodeKind {
    /// Converts a raw `kind` field, or `None` for an unknown value.
    pub const fn from_raw(raw: u32) -> Option<Self> {
        match raw {
            0 => Some(Self::None),
            1 => Some(Self::Process),
            2 => Some(Self::File),
            3 => Some(Self::Pipe),
            4 => Some(Self::UnixSocket),
            5 => Some(Self::Flow),
            6 => Some(Self::SharedMemory),
            7 => Some(Self::MessageQueue),
            8 => Some(Self::Remote),
            _ => None,
        }
    }
}

/// A place confidential data can be: one end of a [`DiffusionRecord`].
/// Two nodes are the same node when all their fields are equal.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Node {
    /// A [`NodeKind`] value.
    pub kind: u32,
    /// The VM the node is in; for a [`NodeKind::Flow`], the receiving VM
    /// (the sender's own for loopback); 0 for [`NodeKind::Remote`].
    pub vm_id: u32,
    /// Kind-specific identity (see [`NodeKind`]).
    pub id: u64,
    /// Device of a file, pipe or POSIX queue: `major << 20 | minor`, the
    /// kernel's `dev_t`.
    pub dev: u32,
    /// Flows and remotes: the socket type (`SOCK_STREAM` 1, `SOCK_DGRAM` 2).
    pub sock_type: u32,
    /// Flows and remotes: sender's IPv4 address, network byte order.
    pub src_addr: [u8; 4],
    /// Flows and remotes: receiver's IPv4 address, network byte order.
    pub dst_addr: [u8; 4],
    /// Flows and remotes: sender's port.
    pub src_port: u16,
    /// Flows and remotes: receiver's port.
    pub dst_port: u16,
    /// Padding, zero.
    pub reserved: u32,
}

/// How data moved; `op` of [`DiffusionRecord`].
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DiffusionOp {
    /// A process read a file, pipe, socket or queue (`read`, `recvfrom`,
    /// `msgrcv`, ...).
    Read = 1,
    /// A process wrote to a file, pipe, socket or queue.
    Write = 2,
    /// A process mapped a file (`mmap`): readable, the process; shared and
    /// writable by a process carrying secrets, the file.
    Map = 3,
    /// A new process (`fork`, `vfork`, `clone`, `clone3`) from its parent.
    Inherit = 4,
    /// The kernel copied between two descriptors for the process
    /// (`sendfile`, `splice`, `tee`, `copy_file_range`).
    Transfer = 5,
    /// A process attached System V shared memory (`shmat`).
    Attach = 6,
    /// Data left the traced VMs for `target` ([`NodeKind::Remote`]).
    Exfiltrate = 7,
    /// A confidential file was seen under a new name (rename, link):
    /// `source` and `target` are the same file, the names old and new.
    Rename = 8,
    /// A file matched a secret's pattern and is now confidential:
    /// `source` and `target` are the file.
    Source = 9,
}

impl DiffusionOp {
    /// Converts a raw `op` field, or `None` for an unknown value.
    pub const fn from_raw(raw: u32) -> Option<Self> {
        match raw {
            1 => Some(Self::Read),
            2 => Some(Self::Write),
            3 => Some(Self::Map),
            4 => Some(Self::Inherit),
            5 => Some(Self::Transfer),
            6 => Some(Self::Attach),
            7 => Some(Self::Exfiltrate),
            8 => Some(Self::Rename),
            9 => Some(Self::Source),
            _ => None,
        }
    }
}

/// Most secrets defined at once; a set of secrets is a `u64` bit mask
/// (bit N: secret id N).
pub const SECRETS_MAX: usize = 64;

/// Longest name of one node a [`DiffusionRecord`] carries (the tail of a
/// longer path is kept).
pub const DIFFUSION_NAME_MAX: usize = 256;

/// `flags` of [`DiffusionRecord`]: the source's name is the tail of a
/// longer one.
pub const DIFFUSION_SOURCE_NAME_TRUNCATED: u32 = 1 << 0;
/// The target's name is the tail of a longer one.
pub const DIFFUSION_TARGET_NAME_TRUNCATED: u32 = 1 << 1;

/// [`RecordKind::Diffusion`]: confidential data reached a node that did
/// not hold all of it yet (one record per new edge of the diffusion
/// graph, not per call: a process reading a secret in 4 KiB pieces makes
/// one). Data leaving a process is recorded when its call enters the
/// kernel (before any reader can see the data), data reaching a process
/// when its call returns. Variable-sized: `header.size` covers
/// `source_name_len + target_name_len` bytes of `names`, rounded up to
/// [`RECORD_ALIGN`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiffusionRecord {
    /// Common header; `time_ns` is when the call returned.
    pub header: RecordHeader,
    /// The VM of the process that made the call.
    pub vm_id: u32,
    /// A [`DiffusionOp`] value.
    pub op: u32,
    /// The call's [`SyscallRecord::call_id`] in `vm_id`.
    pub call_id: u64,
    /// The system call number (x86-64).
    pub nr: u64,
    /// Every secret the data carries (bit N: secret id N).
    pub secrets: u64,
    /// Those the target did not carry before.
    pub new_secrets: u64,
    /// The process that made the call.
    pub actor: TaskIdentity,
    /// Where the data came from.
    pub source: Node,
    /// Where it went.
    pub target: Node,
    /// Bytes of `names` that are the source's name (path, or comm).
    pub source_name_len: u16,
    /// Bytes of `names` after those that are the target's name.
    pub target_name_len: u16,
    /// `DIFFUSION_*` flags.
    pub flags: u32,
    /// The source's name, then the target's; no NULs.
    pub names: [u8; 2 * DIFFUSION_NAME_MAX],
}

impl Default for DiffusionRecord {
    fn default() -> Self {
        Self {
            header: RecordHeader::default(),
            vm_id: 0,
            op: 0,
            call_id: 0,
            nr: 0,
            secrets: 0,
            new_secrets: 0,
            actor: TaskIdentity::default(),
            source: Node::default(),
            target: Node::default(),
            source_name_len: 0,
            target_name_len: 0,
            flags: 0,
            names: [0; 2 * DIFFUSION_NAME_MAX],
        }
    }
}

impl DiffusionRecord {
    /// Size of the record without `names`.
    pub const FIXED_SIZE: usize = core::mem::size_of::<Self>() - 2 * DIFFUSION_NAME_MAX;

    /// Size of a record carrying `names_len` bytes of names.
    pub const fn size_for(names_len: usize) -> usize {
        let max = 2 * DIFFUSION_NAME_MAX;
        let len = if names_len > max { max } else { names_len };
        (Self::FIXED_SIZE + len).next_multiple_of(RECORD_ALIGN)
    }

    /// Sets the two names, keeping the tail of each past
    /// [`DIFFUSION_NAME_MAX`] bytes and flagging it.
    pub fn set_names(&mut self, source: &[u8], target: &[u8]) {
        let source = if source.len() > DIFFUSION_NAME_MAX {
            self.flags |= DIFFUSION_SOURCE_NAME_TRUNCATED;
            &source[source.len() - DIFFUSION_NAME_MAX..]
        } else {
            source
        };
        let target = if target.len() > DIFFUSION_NAME_MAX {
            self.flags |= DIFFUSION_TARGET_NAME_TRUNCATED;
            &target[target.len() - DIFFUSION_NAME_MAX..]
        } else {
            target
        };
        self.names[..source.len()].copy_from_slice(source);
        self.names[source.len()..source.len() + target.len()].copy_from_slice(target);
        self.source_name_len = source.len() as u16;
        self.target_name_len = target.len() as u16;
    }

    /// Bytes of `names` in use.
    pub fn names_len(&self) -> usize {
        usize::from(self.source_name_len) + usize::from(self.target_name_len)
    }

    /// Reads a (possibly short) diffusion record: `bytes` is the whole
    /// record as `header.size` delimits it. `None` if it is shorter than
    /// the fixed part or the names do not fit.
    pub fn read_record(bytes: &[u8]) -> Option<Self> {
        if bytes.len() < Self::FIXED_SIZE || bytes.len() > core::mem::size_of::<Self>() {
            return None;
        }
        let mut full = [0u8; core::mem::size_of::<Self>()];
        full[..bytes.len()].copy_from_slice(bytes);
        let record = Self::read_from(&full)?;
        if usize::from(record.source_name_len) > DIFFUSION_NAME_MAX
            || usize::from(record.target_name_len) > DIFFUSION_NAME_MAX
            || record.names_len() > bytes.len() - Self::FIXED_SIZE
        {
            return None;
        }
        Some(record)
    }

    /// The source's name.
    pub fn source_name(&self) -> &[u8] {
        let len = usize::from(self.source_name_len).min(DIFFUSION_NAME_MAX);
        &self.names[..len]
    }

    /// The target's name.
    pub fn target_name(&self) -> &[u8] {
        let start = usize::from(self.source_name_len).min(DIFFUSION_NAME_MAX);
        let len = usize::from(self.target_name_len).min(DIFFUSION_NAME_MAX);
        &self.names[start..start + len]
    }
}

/// Which propagation table; `table` of [`PressureRecord`].
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableKind {
    /// Processes carrying secrets.
    Processes = 1,
    /// Files, pipes, queues, shared memory and UNIX sockets carrying
    /// secrets (and confidential files).
    Objects = 2,
    /// IPv4 flows carrying secrets, loopback and between VMs (one table
    /// for the host: a flow is written in one VM and read in another).
    Flows = 3,
    /// Calls in flight that will move confidential data when they return.
    InFlight = 4,
}

impl TableKind {
    /// Converts a raw `table` field, or `None` for an unknown value.
    pub const fn from_raw(raw: u32) -> Option<Self> {
        match raw {
            1 => Some(Self::Processes),
            2 => Some(Self::Objects),
            3 => Some(Self::Flows),
            4 => Some(Self::InFlight),
            _ => None,
        }
    }
}

/// [`RecordKind::Pressure`]: a propagation table was full, so an entry
/// was forgotten (the oldest one): what it carried is no longer followed.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PressureRecord {
    /// Common header.
    pub header: RecordHeader,
    /// The VM whose table it is (0 for the host's flows table).
    pub vm_id: u32,
    /// A [`TableKind`] value.
    pub table: u32,
    /// The table's capacity (entries).
    pub capacity: u32,
    /// Padding, zero.
    pub reserved: u32,
    /// The node forgotten.
    pub node: Node,
    /// The secrets it carried.
    pub secrets: u64,
    /// Entries this table has forgotten so far.
    pub evictions: u64,
}

/// `op` of [`SecretRequest`]: define a secret; the reply's `id` names it.
pub const SECRET_ADD: u32 = 1;
/// Remove secret `id`: no new file becomes confidential through it; what
/// it already marked stays marked (the data is out).
pub const SECRET_REMOVE: u32 = 2;

/// Longest secret pattern, in bytes.
pub const SECRET_PATTERN_MAX: usize = 256;

/// Argument of [`IOCTL_SECRET`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SecretRequest {
    /// [`SECRET_ADD`] or [`SECRET_REMOVE`].
    pub op: u32,
    /// `SECRET_ADD`: out, the new secret's id (0..[`SECRETS_MAX`]);
    /// `SECRET_REMOVE`: in, the secret to remove.
    pub id: u32,
    /// `SECRET_ADD`: the VM the secret is in; zero with `all`.
    pub uuid: Uuid,
    /// `SECRET_ADD`: 1 for every VM, else 0.
    pub all: u32,
    /// Bytes of `pattern` in use (1..=[`SECRET_PATTERN_MAX`]).
    pub pattern_len: u32,
    /// `SECRET_ADD`: an absolute path glob (Documentation/diffusion.rst):
    /// `*` and `?` within a component, `**` across components.
    pub pattern: [u8; SECRET_PATTERN_MAX],
}

impl Default for SecretRequest {
    fn default() -> Self {
        Self {
            op: 0,
            id: 0,
            uuid: [0; UUID_SIZE],
            all: 0,
            pattern_len: 0,
            pattern: [0; SECRET_PATTERN_MAX],
        }
    }
}

/// One secret in the reply of [`IOCTL_SECRET_LIST`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SecretInfo {
    /// Its id (its bit in every `secrets` mask).
    pub id: u32,
    /// 1 if it applies to every VM.
    pub all: u32,
    /// The VM it applies to, unless `all`.
    pub uuid: Uuid,
    /// Files that became confidential through it, in all VMs.
    pub files: u64,
    /// Bytes of `pattern` in use.
    pub pattern_len: u32,
    /// Padding, zero.
    pub reserved: u32,
    /// The pattern.
    pub pattern: [u8; SECRET_PATTERN_MAX],
}

impl Default for SecretInfo {
    fn default() -> Self {
        Self {
            id: 0,
            all: 0,
            uuid: [0; UUID_SIZE],
            files: 0,
            pattern_len: 0,
            reserved: 0,
            pattern: [0; SECRET_PATTERN_MAX],
        }
    }
}

/// Argument of [`IOCTL_SECRET_LIST`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SecretListRequest {
    /// User address of an array of `capacity` [`SecretInfo`].
    pub entries: u64,
    /// Length of that array.
    pub capacity: u32,
    /// Out: the number of secrets; `min(count, capacity)` were written.
    pub count: u32,
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
// SAFETY: see above.
unsafe impl Pod for TaskIdentity {}
// SAFETY: see above.
unsafe impl Pod for SocketIdentity {}
// SAFETY: see above.
unsafe impl Pod for FileRecord {}
// SAFETY: see above.
unsafe impl Pod for ProfileOffsets {}
// SAFETY: see above.
unsafe impl Pod for Profile {}
// SAFETY: see above.
unsafe impl Pod for ProfileLoadRequest {}
// SAFETY: see above.
unsafe impl Pod for Node {}
// SAFETY: see above.
unsafe impl Pod for DiffusionRecord {}
// SAFETY: see above.
unsafe impl Pod for PressureRecord {}
// SAFETY: see above.
unsafe impl Pod for SecretRequest {}
// SAFETY: see above.
unsafe impl Pod for SecretInfo {}
// SAFETY: see above.
unsafe impl Pod for SecretListRequest {}

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
const _: () = assert!(core::mem::size_of::<SyscallRecord>() == 216);
const _: () = assert!(core::mem::size_of::<TaskIdentity>() == 40);
const _: () = assert!(core::mem::size_of::<SocketIdentity>() == 40);
const _: () = assert!(FileRecord::FIXED_SIZE == 128);
const _: () = assert!(FileRecord::size_for(FILE_PATH_MAX) <= RECORD_MAX_SIZE);
const _: () = assert!(core::mem::size_of::<ProfileOffsets>() == 152);
const _: () = assert!(core::mem::size_of::<Profile>() == 496);
const _: () = assert!(core::mem::size_of::<ProfileLoadRequest>() == 40);
const _: () = assert!(core::mem::size_of::<VmInfo>() == 152);
const _: () = assert!(core::mem::size_of::<VmListRequest>() == 16);
const _: () = assert!(core::mem::size_of::<Node>() == 40);
const _: () = assert!(DiffusionRecord::FIXED_SIZE == 192);
const _: () = assert!(DiffusionRecord::size_for(2 * DIFFUSION_NAME_MAX) <= RECORD_MAX_SIZE);
const _: () = assert!(core::mem::size_of::<PressureRecord>() == 96);
const _: () = assert!(core::mem::size_of::<SecretRequest>() == 288);
const _: () = assert!(core::mem::size_of::<SecretInfo>() == 296);
const _: () = assert!(core::mem::size_of::<SecretListRequest>() == 16);
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

/// `_IOW('L', 6, struct ProfileLoadRequest)`: set or remove the profile
/// of one VM (by UUID) or the default profile. `EINVAL` for a malformed
/// request or a profile [`Profile::validate`] refuses; `EFAULT` for a bad
/// pointer; `ENOENT` to remove a profile that is not there; `ENOSPC` past
/// [`SELECTION_MAX`] per-UUID profiles. Applies to running VMs at their
/// next traced system call, and to VMs started later.
pub const IOCTL_PROFILE_LOAD: u32 = ioc(IOC_WRITE, 6, core::mem::size_of::<ProfileLoadRequest>());

/// `_IOWR('L', 7, struct SecretRequest)`: define or remove a confidential
/// source. `EINVAL` for an unknown `op`, a pattern that is empty, not
/// absolute or not valid UTF-8, or a bad target; `ENOSPC` past
/// [`SECRETS_MAX`]; `ENOENT` to remove an id not defined. Files match when
/// a traced process of the VM first uses them after that.
pub const IOCTL_SECRET: u32 = ioc(IOC_READ_WRITE, 7, core::mem::size_of::<SecretRequest>());

/// `_IOWR('L', 8, struct SecretListRequest)`: the secrets defined.
pub const IOCTL_SECRET_LIST: u32 =
    ioc(IOC_READ_WRITE, 8, core::mem::size_of::<SecretListRequest>());
