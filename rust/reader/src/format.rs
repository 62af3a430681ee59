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
//! | `vm`        | `seq`, `time_ns`, `vm_id`, `event`, `uuid`, `vmm_pid`, `refusal`, `flags` |
//! | `syscall`   | `seq`, `time_ns`, `vm_id`, `uuid`, `vcpu`, `vm_seq`, `cr3`, `rip`, `rsp`, `nr`, `name`, `args`, `ret`, `end`, `entry_ns`, `exit_ns`, `call_id`, `task` |
//! | `file`      | `seq`, `time_ns`, `vm_id`, `call_id`, `role`, `fd`, `status`, `kind`, `mode`, `dev_major`, `dev_minor`, `ino`, `file`, `path`, `display`, `path_truncated`, `path_detached`, `socket` |
//! | `diffusion` | `seq`, `time_ns`, `vm_id`, `op`, `call_id`, `nr`, `syscall`, `secrets`, `new_secrets`, `actor`, `source`, `target` |
//! | `pressure`  | `seq`, `time_ns`, `vm_id`, `table`, `capacity`, `node`, `secrets`, `evictions` |
//! | `unknown`   | `seq`, `time_ns`, `kind`, `size`                          |
//! | `lost`      | `first_seq`, `count`                                      |
//!
//! Numbers are unsigned integers except a syscall's `ret` (signed); `time_ns`
//! is `CLOCK_MONOTONIC` in nanoseconds at production. A `lost` line comes
//! just before the record whose `seq` revealed the gap.
//!
//! In `vm` lines, `event` is `created`, `identified`, `no-uuid`, `armed`,
//! `disarmed`, `refused` or `destroyed`; `uuid` is the canonical lowercase
//! text, or `null` unless `flags.uuid_known`; `refusal` is `none`, `cet`,
//! `sev`, `tdx` or `nested`; `flags` is an object of four booleans,
//! `uuid_known`, `uuid_absent`, `selected`, `traced`.
//!
//! In `syscall` lines, `uuid` is `null` when all zero; `name` is the
//! x86-64 system call name or `null` for a number the table does not know;
//! `args` is the six argument registers; `ret` is `null` unless `end` is
//! `returned`; `end` is `returned`, `no-return`, `superseded`, `timed-out`,
//! `evicted` or `untraced`.
//!
//! In `diffusion` and `pressure` lines, `secrets` are ascending secret
//! ids and nodes are objects with `kind` and `key`
//! ([`crate::diffusion::JsonNode`]); Documentation/abi.rst has the whole
//! schema.
//!
//! An enumeration value this build does not know shows as `unknown(N)`.

use crate::control::vms_with_uuid;
use crate::control::Selection;
use crate::decode::Event;
use crate::decode::Record;
use crate::diffusion;
use crate::diffusion::Colors;
use crate::diffusion::JsonNode;
use crate::diffusion::NodeView;
use crate::diffusion::SecretPatterns;
use crate::names;
use crate::uuid;
use leaktrace_abi::FileKind;
use leaktrace_abi::FileRecord;
use leaktrace_abi::Info;
use leaktrace_abi::ProfileState;
use leaktrace_abi::Refusal;
use leaktrace_abi::Resolution;
use leaktrace_abi::SyscallEnd;
use leaktrace_abi::SyscallRecord;
use leaktrace_abi::TaskIdentity;
use leaktrace_abi::VmEvent;
use leaktrace_abi::VmInfo;
use leaktrace_abi::VmRecord;
use leaktrace_abi::FILE_PATH_DETACHED;
use leaktrace_abi::FILE_PATH_TRUNCATED;
use leaktrace_abi::FILE_ROLE_PAIR0;
use leaktrace_abi::FILE_ROLE_PAIR1;
use leaktrace_abi::FILE_ROLE_RETURN;
use leaktrace_abi::FILE_SOCKET_VALID;
use leaktrace_abi::SYSCALL_ARGS;
use leaktrace_abi::VM_SELECTED;
use leaktrace_abi::VM_TRACED;
use leaktrace_abi::VM_UUID_ABSENT;
use leaktrace_abi::VM_UUID_KNOWN;
use serde::Serialize;
use std::borrow::Cow;

/// Name of a [`VmEvent`] value in JSON and text, `unknown(N)` if unknown.
pub fn vm_event_name(raw: u32) -> String {
    match VmEvent::from_raw(raw) {
        Some(VmEvent::Created) => "created".into(),
        Some(VmEvent::Identified) => "identified".into(),
        Some(VmEvent::NoUuid) => "no-uuid".into(),
        Some(VmEvent::Armed) => "armed".into(),
        Some(VmEvent::Disarmed) => "disarmed".into(),
        Some(VmEvent::Refused) => "refused".into(),
        Some(VmEvent::Destroyed) => "destroyed".into(),
        Some(VmEvent::ProfileActive) => "profile-active".into(),
        Some(VmEvent::ProfileMismatch) => "profile-mismatch".into(),
        None => format!("unknown({raw})"),
    }
}

/// Name of a [`Refusal`] value in JSON and text, `unknown(N)` if unknown.
pub fn refusal_name(raw: u32) -> String {
    match Refusal::from_raw(raw) {
        Some(Refusal::None) => "none".into(),
        Some(Refusal::Cet) => "cet".into(),
        Some(Refusal::Sev) => "sev".into(),
        Some(Refusal::Tdx) => "tdx".into(),
        Some(Refusal::Nested) => "nested".into(),
        None => format!("unknown({raw})"),
    }
}

/// Name of a [`SyscallEnd`] value in JSON and text, `unknown(N)` if
/// unknown.
pub fn syscall_end_name(raw: u32) -> String {
    match SyscallEnd::from_raw(raw) {
        Some(SyscallEnd::Returned) => "returned".into(),
        Some(SyscallEnd::NoReturn) => "no-return".into(),
        Some(SyscallEnd::Superseded) => "superseded".into(),
        Some(SyscallEnd::TimedOut) => "timed-out".into(),
        Some(SyscallEnd::Evicted) => "evicted".into(),
        Some(SyscallEnd::Untraced) => "untraced".into(),
        None => format!("unknown({raw})"),
    }
}

/// Name of a [`Resolution`] value in JSON and text.
pub fn resolution_name(raw: u32) -> String {
    match Resolution::from_raw(raw) {
        Some(Resolution::None) => "none".into(),
        Some(Resolution::NoProfile) => "no-profile".into(),
        Some(Resolution::Resolved) => "resolved".into(),
        Some(Resolution::Unresolved) => "unresolved".into(),
        Some(Resolution::ProfileMismatch) => "profile-mismatch".into(),
        None => format!("unknown({raw})"),
    }
}

/// Name of a [`ProfileState`] value in JSON and text.
pub fn profile_state_name(raw: u32) -> String {
    match ProfileState::from_raw(raw) {
        Some(ProfileState::None) => "none".into(),
        Some(ProfileState::Loaded) => "loaded".into(),
        Some(ProfileState::Active) => "active".into(),
        Some(ProfileState::Mismatch) => "mismatch".into(),
        None => format!("unknown({raw})"),
    }
}

/// Name of a [`FileKind`] value in JSON and text.
pub fn file_kind_name(raw: u32) -> String {
    match FileKind::from_raw(raw) {
        Some(FileKind::Unknown) => "unknown".into(),
        Some(FileKind::Regular) => "regular".into(),
        Some(FileKind::Directory) => "directory".into(),
        Some(FileKind::CharDevice) => "char-device".into(),
        Some(FileKind::BlockDevice) => "block-device".into(),
        Some(FileKind::Fifo) => "fifo".into(),
        Some(FileKind::Socket) => "socket".into(),
        Some(FileKind::Symlink) => "symlink".into(),
        Some(FileKind::Anonymous) => "anonymous".into(),
        None => format!("unknown({raw})"),
    }
}

/// Name of a file record's `role`: `arg0`..`arg5`, `return`, `pair0`,
/// `pair1`.
pub fn file_role_name(raw: u32) -> String {
    match raw {
        0..=5 => format!("arg{raw}"),
        FILE_ROLE_RETURN => "return".into(),
        FILE_ROLE_PAIR0 => "pair0".into(),
        FILE_ROLE_PAIR1 => "pair1".into(),
        _ => format!("unknown({raw})"),
    }
}

/// Text that came from a guest (a command name, a path, a file name),
/// made safe to print on a terminal or in a log: control characters (C0,
/// DEL, C1) become `\xNN` or `\u{NNNN}`, and so do the Unicode
/// bidirectional controls, so that a guest can neither forge lines, move
/// the cursor or recolour the operator's terminal, nor reorder what a line
/// shows. JSON output does not need it (serde escapes control characters).
pub fn printable(text: &str) -> Cow<'_, str> {
    let unsafe_char = |c: char| {
        c.is_control()
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if !unsafe_char(c) {
            out.push(c);
        } else if (c as u32) < 0x100 {
            out.push_str(&format!("\\x{:02x}", c as u32));
        } else {
            out.push_str(&format!("\\u{{{:04x}}}", c as u32));
        }
    }
    Cow::Owned(out)
}

/// A NUL-padded command name as text (lossy UTF-8).
fn comm_text(comm: &[u8]) -> String {
    let len = comm.iter().position(|&b| b == 0).unwrap_or(comm.len());
    String::from_utf8_lossy(&comm[..len]).into_owned()
}

/// The task of a syscall record in JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct JsonTask {
    /// How far resolution got (see [`resolution_name`]).
    pub status: String,
    /// Guest address of the `task_struct`, when resolved.
    pub task: Option<u64>,
    /// Thread id, when resolved.
    pub pid: Option<u32>,
    /// Process id, when resolved.
    pub tgid: Option<u32>,
    /// Parent's process id, when resolved.
    pub ppid: Option<u32>,
    /// Command name, when resolved.
    pub comm: Option<String>,
}

impl JsonTask {
    /// From the record's [`TaskIdentity`].
    pub fn new(t: &TaskIdentity) -> Self {
        let ok = Resolution::from_raw(t.status) == Some(Resolution::Resolved);
        Self {
            status: resolution_name(t.status),
            task: ok.then_some(t.task),
            pid: ok.then_some(t.pid),
            tgid: ok.then_some(t.tgid),
            ppid: ok.then_some(t.ppid),
            comm: ok.then(|| comm_text(&t.comm)),
        }
    }
}

/// The socket of a file record in JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct JsonSocket {
    /// Address family number.
    pub family: u16,
    /// Socket type number.
    #[serde(rename = "type")]
    pub sock_type: u16,
    /// Local address and port (`a.b.c.d:port` for IPv4).
    pub local: String,
    /// Remote address and port.
    pub remote: String,
}

/// An address and port as text: IPv4 dotted, IPv6 bracketed.
fn socket_address(family: u16, addr: &[u8; 16], port: u16) -> String {
    const AF_INET6: u16 = 10;
    if family == AF_INET6 {
        format!("[{}]:{port}", std::net::Ipv6Addr::from(*addr))
    } else {
        let v4 = std::net::Ipv4Addr::new(addr[0], addr[1], addr[2], addr[3]);
        format!("{v4}:{port}")
    }
}

impl JsonSocket {
    /// From a file record, if it carries a socket.
    pub fn new(r: &FileRecord) -> Option<Self> {
        if r.flags & FILE_SOCKET_VALID == 0 {
            return None;
        }
        let s = r.socket;
        Some(Self {
            family: s.family,
            sock_type: s.sock_type,
            local: socket_address(s.family, &s.local_addr, s.local_port),
            remote: socket_address(s.family, &s.remote_addr, s.remote_port),
        })
    }
}

/// How a file record's object is shown, as `readlink /proc/PID/fd/N`
/// would: the path, or `pipe:[INO]`, `socket:[INO]`, `anon_inode:...`.
pub fn file_display(r: &FileRecord) -> String {
    let path = String::from_utf8_lossy(r.path_bytes()).into_owned();
    match FileKind::from_raw(r.kind) {
        Some(FileKind::Fifo) if path.is_empty() => format!("pipe:[{}]", r.ino),
        Some(FileKind::Socket) if path.is_empty() => format!("socket:[{}]", r.ino),
        Some(FileKind::Anonymous) if path.is_empty() => "anon_inode".into(),
        _ => path,
    }
}

/// The `VM_*` flags of a VM record or [`VmInfo`] as JSON booleans.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct JsonVmFlags {
    /// [`VM_UUID_KNOWN`]: the UUID has been read.
    pub uuid_known: bool,
    /// [`VM_UUID_ABSENT`]: the guest has no readable SMBIOS UUID.
    pub uuid_absent: bool,
    /// [`VM_SELECTED`]: the VM matches the trace selection.
    pub selected: bool,
    /// [`VM_TRACED`]: its system calls are being recorded.
    pub traced: bool,
}

impl JsonVmFlags {
    /// Decodes raw `VM_*` flags (bits this build does not know are ignored).
    pub fn new(flags: u32) -> Self {
        Self {
            uuid_known: flags & VM_UUID_KNOWN != 0,
            uuid_absent: flags & VM_UUID_ABSENT != 0,
            selected: flags & VM_SELECTED != 0,
            traced: flags & VM_TRACED != 0,
        }
    }
}

/// A VM's UUID as shown: the text form if `flags` says it is known.
fn known_uuid(flags: u32, raw: &leaktrace_abi::Uuid) -> Option<String> {
    (flags & VM_UUID_KNOWN != 0).then(|| uuid::format(raw))
}

/// One line of `watch --json` (see the module documentation).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
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
    /// A `Vm` record.
    Vm {
        /// Sequence number.
        seq: u64,
        /// `CLOCK_MONOTONIC` at production, ns.
        time_ns: u64,
        /// The VM's id.
        vm_id: u32,
        /// What happened (see [`vm_event_name`]).
        event: String,
        /// Canonical UUID, `None` unless `flags.uuid_known`.
        uuid: Option<String>,
        /// PID of the VMM process.
        vmm_pid: u32,
        /// Why tracing was refused (see [`refusal_name`]).
        refusal: String,
        /// State flags after the event.
        flags: JsonVmFlags,
    },
    /// A `Syscall` record.
    Syscall {
        /// Sequence number.
        seq: u64,
        /// `CLOCK_MONOTONIC` at production, ns.
        time_ns: u64,
        /// The VM's id.
        vm_id: u32,
        /// Canonical UUID, `None` when all zero.
        uuid: Option<String>,
        /// The calling vCPU.
        vcpu: u32,
        /// Per-VM sequence number of syscall records.
        vm_seq: u64,
        /// Guest CR3 at the call.
        cr3: u64,
        /// User RIP of the `SYSCALL` instruction.
        rip: u64,
        /// User RSP at the call.
        rsp: u64,
        /// System call number.
        nr: u64,
        /// x86-64 name of `nr`, if known.
        name: Option<&'static str>,
        /// RDI, RSI, RDX, R10, R8, R9.
        args: [u64; SYSCALL_ARGS],
        /// Return value, only when `end` is `returned`.
        ret: Option<i64>,
        /// How the call ended (see [`syscall_end_name`]).
        end: String,
        /// `CLOCK_MONOTONIC` of the call, ns.
        entry_ns: u64,
        /// `CLOCK_MONOTONIC` of the return or end, ns.
        exit_ns: u64,
        /// Per-VM call number; the call's `file` records carry it.
        call_id: u64,
        /// The calling task.
        task: JsonTask,
    },
    /// A `File` record: one file descriptor of a call.
    File {
        /// Sequence number.
        seq: u64,
        /// `CLOCK_MONOTONIC` at production, ns.
        time_ns: u64,
        /// The VM's id.
        vm_id: u32,
        /// The call's `call_id`.
        call_id: u64,
        /// Which descriptor of the call (see [`file_role_name`]).
        role: String,
        /// The descriptor.
        fd: i32,
        /// How far resolution got (see [`resolution_name`]).
        status: String,
        /// What the file is (see [`file_kind_name`]).
        kind: String,
        /// `i_mode`.
        mode: u32,
        /// Device major number.
        dev_major: u32,
        /// Device minor number.
        dev_minor: u32,
        /// Inode number.
        ino: u64,
        /// Guest address of the `struct file`.
        file: u64,
        /// The path, `None` when the file has none.
        path: Option<String>,
        /// What `readlink /proc/PID/fd/N` would show.
        display: String,
        /// The path was cut to its tail.
        path_truncated: bool,
        /// The path does not start at a root.
        path_detached: bool,
        /// The socket, for sockets.
        socket: Option<JsonSocket>,
    },
    /// A `Diffusion` record: confidential data reached a new node.
    Diffusion {
        /// Sequence number.
        seq: u64,
        /// `CLOCK_MONOTONIC` when the call returned, ns.
        time_ns: u64,
        /// The VM where it happened.
        vm_id: u32,
        /// How the data moved (see [`diffusion::op_name`]).
        op: String,
        /// The call's `call_id`.
        call_id: u64,
        /// System call number.
        nr: u64,
        /// x86-64 name of `nr`, if known.
        syscall: Option<&'static str>,
        /// Every secret the data carries, ascending ids.
        secrets: Vec<u32>,
        /// Those the target did not carry before.
        new_secrets: Vec<u32>,
        /// The process that made the call.
        actor: JsonTask,
        /// Where the data came from.
        source: JsonNode,
        /// Where it went.
        target: JsonNode,
    },
    /// A `Pressure` record: a full table forgot a node.
    Pressure {
        /// Sequence number.
        seq: u64,
        /// `CLOCK_MONOTONIC` at production, ns.
        time_ns: u64,
        /// The VM whose table it is (0: the flows table, shared).
        vm_id: u32,
        /// Which table (see [`diffusion::table_name`]).
        table: String,
        /// Its capacity, entries.
        capacity: u32,
        /// The node forgotten.
        node: JsonNode,
        /// The secrets it carried.
        secrets: Vec<u32>,
        /// Entries this table has forgotten so far.
        evictions: u64,
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
                    Record::Vm(r) => Self::Vm {
                        seq: h.seq,
                        time_ns: h.time_ns,
                        vm_id: r.vm_id,
                        event: vm_event_name(r.event),
                        uuid: known_uuid(r.flags, &r.uuid),
                        vmm_pid: r.vmm_pid,
                        refusal: refusal_name(r.refusal),
                        flags: JsonVmFlags::new(r.flags),
                    },
                    Record::Syscall(r) => Self::Syscall {
                        seq: h.seq,
                        time_ns: h.time_ns,
                        vm_id: r.vm_id,
                        uuid: uuid::format_non_nil(&r.uuid),
                        vcpu: r.vcpu,
                        vm_seq: r.vm_seq,
                        cr3: r.cr3,
                        rip: r.rip,
                        rsp: r.rsp,
                        nr: r.nr,
                        name: names::syscall_name(r.nr),
                        args: r.args,
                        ret: (SyscallEnd::from_raw(r.end) == Some(SyscallEnd::Returned))
                            .then_some(r.ret),
                        end: syscall_end_name(r.end),
                        entry_ns: r.entry_ns,
                        exit_ns: r.exit_ns,
                        call_id: r.call_id,
                        task: JsonTask::new(&r.task),
                    },
                    Record::File(r) => Self::File {
                        seq: h.seq,
                        time_ns: h.time_ns,
                        vm_id: r.vm_id,
                        call_id: r.call_id,
                        role: file_role_name(r.role),
                        fd: r.fd,
                        status: resolution_name(r.status),
                        kind: file_kind_name(r.kind),
                        mode: r.mode,
                        dev_major: r.dev_major,
                        dev_minor: r.dev_minor,
                        ino: r.ino,
                        file: r.file,
                        path: (r.path_len > 0)
                            .then(|| String::from_utf8_lossy(r.path_bytes()).into_owned()),
                        display: file_display(&r),
                        path_truncated: r.flags & FILE_PATH_TRUNCATED != 0,
                        path_detached: r.flags & FILE_PATH_DETACHED != 0,
                        socket: JsonSocket::new(&r),
                    },
                    Record::Diffusion(r) => Self::Diffusion {
                        seq: h.seq,
                        time_ns: h.time_ns,
                        vm_id: r.vm_id,
                        op: diffusion::op_name(r.op),
                        call_id: r.call_id,
                        nr: r.nr,
                        syscall: names::syscall_name(r.nr),
                        secrets: diffusion::secret_ids(r.secrets),
                        new_secrets: diffusion::secret_ids(r.new_secrets),
                        actor: JsonTask::new(&r.actor),
                        source: NodeView::source(&r).into(),
                        target: NodeView::target(&r).into(),
                    },
                    Record::Pressure(r) => Self::Pressure {
                        seq: h.seq,
                        time_ns: h.time_ns,
                        vm_id: r.vm_id,
                        table: diffusion::table_name(r.table),
                        capacity: r.capacity,
                        node: NodeView::unnamed(&r.node).into(),
                        secrets: diffusion::secret_ids(r.secrets),
                        evictions: r.evictions,
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

/// How [`text_line_in`] renders: colours, and the secrets' patterns.
#[derive(Clone, Copy, Debug)]
pub struct TextContext<'a> {
    /// ANSI colours, or none.
    pub colors: Colors,
    /// Patterns of the secrets known, to show with their ids.
    pub secrets: &'a SecretPatterns,
}

/// No colours, no patterns.
static NO_PATTERNS: SecretPatterns = SecretPatterns::new();

impl Default for TextContext<'_> {
    fn default() -> Self {
        Self {
            colors: Colors::default(),
            secrets: &NO_PATTERNS,
        }
    }
}

/// The event as one line of text (no newline), for example
/// `seq=4 time=12.000000300 test index=0 burst=1` or
/// `3 records lost (seq 6..8)`; without colours or patterns.
pub fn text_line(event: &Event) -> String {
    text_line_in(event, &TextContext::default())
}

/// [`text_line`] with colours and secret patterns: diffusion and pressure
/// records are lines of their own ([`diffusion::diffusion_text`],
/// [`diffusion::pressure_text`]), without `seq=` and `time=`.
pub fn text_line_in(event: &Event, ctx: &TextContext<'_>) -> String {
    match *event {
        Event::Record(Record::Diffusion(r)) => {
            diffusion::diffusion_text(&r, ctx.secrets, ctx.colors)
        }
        Event::Record(Record::Pressure(r)) => diffusion::pressure_text(&r, ctx.secrets, ctx.colors),
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
                Record::Vm(r) => vm_text(&r),
                Record::Syscall(r) => syscall_text(&r),
                Record::File(r) => file_text(&r),
                Record::Diffusion(r) => diffusion::diffusion_text(&r, ctx.secrets, ctx.colors),
                Record::Pressure(r) => diffusion::pressure_text(&r, ctx.secrets, ctx.colors),
                Record::Unknown(h) => format!("unknown kind={} size={}", h.kind, h.size),
            };
            format!("seq={} time={} {what}", h.seq, seconds(h.time_ns))
        }
    }
}

/// A duration for people: `850 ns`, `12.3 us`, `4.1 ms`, `2.500 s`.
pub fn duration(ns: u64) -> String {
    match ns {
        0..=999 => format!("{ns} ns"),
        1_000..=999_999 => format!("{:.1} us", ns as f64 / 1e3),
        1_000_000..=999_999_999 => format!("{:.1} ms", ns as f64 / 1e6),
        _ => format!("{:.3} s", ns as f64 / 1e9),
    }
}

/// A register for people: decimal when small (also small negative
/// values, such as `AT_FDCWD`), hexadecimal otherwise.
fn register(value: u64) -> String {
    let signed = value as i64;
    if (-4096..=0xffff).contains(&signed) {
        signed.to_string()
    } else {
        format!("{value:#x}")
    }
}

/// A return value for people: `3`, `-14 EFAULT`, `0x7f3c2a000000`.
pub fn return_value(ret: i64) -> String {
    match names::errno_of_return(ret) {
        Some(errno) => match names::errno_name(errno) {
            Some(name) => format!("{ret} {name}"),
            None => ret.to_string(),
        },
        None => register(ret as u64),
    }
}

/// The `VM_*` flags as text: `uuid_known,selected,traced`, `-` if none.
fn flags_text(flags: u32) -> String {
    let known = [
        (VM_UUID_KNOWN, "uuid_known"),
        (VM_UUID_ABSENT, "uuid_absent"),
        (VM_SELECTED, "selected"),
        (VM_TRACED, "traced"),
    ];
    let mut parts: Vec<String> = known
        .iter()
        .filter(|(bit, _)| flags & bit != 0)
        .map(|(_, name)| (*name).to_owned())
        .collect();
    let rest = known.iter().fold(flags, |f, (bit, _)| f & !bit);
    if rest != 0 {
        parts.push(format!("{rest:#x}"));
    }
    if parts.is_empty() {
        "-".into()
    } else {
        parts.join(",")
    }
}

/// A VM record as text, e.g.
/// `vm 2 refused (cet) 4c4c4544-... vmm_pid=812 flags=uuid_known,selected`.
fn vm_text(r: &VmRecord) -> String {
    let mut s = format!("vm {} {}", r.vm_id, vm_event_name(r.event));
    if r.refusal != Refusal::None as u32 {
        s.push_str(&format!(" ({})", refusal_name(r.refusal)));
    }
    if let Some(uuid) = known_uuid(r.flags, &r.uuid) {
        s.push(' ');
        s.push_str(&uuid);
    }
    s.push_str(&format!(
        " vmm_pid={} flags={}",
        r.vmm_pid,
        flags_text(r.flags)
    ));
    s
}

/// A file record as text, e.g. `vm 2 call 17 arg0 fd 3 regular
/// /etc/passwd dev 0:2 ino 1234` or `vm 2 call 17 return fd 4 unresolved`.
fn file_text(r: &FileRecord) -> String {
    let mut s = format!(
        "vm {} call {} {} fd {}",
        r.vm_id,
        r.call_id,
        file_role_name(r.role),
        r.fd
    );
    if Resolution::from_raw(r.status) != Some(Resolution::Resolved) {
        s.push(' ');
        s.push_str(&resolution_name(r.status));
        return s;
    }
    s.push_str(&format!(
        " {} {} dev {}:{} ino {}",
        file_kind_name(r.kind),
        printable(&file_display(r)),
        r.dev_major,
        r.dev_minor,
        r.ino
    ));
    if r.flags & FILE_PATH_TRUNCATED != 0 {
        s.push_str(" (truncated)");
    }
    if r.flags & FILE_PATH_DETACHED != 0 {
        s.push_str(" (detached)");
    }
    if let Some(sock) = JsonSocket::new(r) {
        s.push_str(&format!(" {} -> {}", sock.local, sock.remote));
    }
    s
}

/// A syscall record as text, e.g. `vm 2 4c4c4544-... vcpu0 #1234
/// openat(-100, 0x7ffd8a4c1000, 0x80000, 0) = 3 [12.3 us]`: the
/// arguments the call takes (all six for a number the table does not
/// know), errno names for errors, and how long the call took, or how it
/// ended without a return.
fn syscall_text(r: &SyscallRecord) -> String {
    let mut s = format!("vm {}", r.vm_id);
    if let Some(uuid) = uuid::format_non_nil(&r.uuid) {
        s.push(' ');
        s.push_str(&uuid);
    }
    if Resolution::from_raw(r.task.status) == Some(Resolution::Resolved) {
        s.push_str(&format!(
            " {}[{}/{}] ppid {}",
            printable(&comm_text(&r.task.comm)),
            r.task.tgid,
            r.task.pid,
            r.task.ppid
        ));
    }
    let (name, argc) = match names::syscall(r.nr) {
        Some(call) => (call.name.to_owned(), usize::from(call.args)),
        None => (format!("syscall_{}", r.nr), SYSCALL_ARGS),
    };
    let args: Vec<String> = r.args[..argc.min(SYSCALL_ARGS)]
        .iter()
        .map(|&a| register(a))
        .collect();
    s.push_str(&format!(
        " vcpu{} #{} {name}({})",
        r.vcpu,
        r.vm_seq,
        args.join(", ")
    ));
    let took = duration(r.exit_ns.saturating_sub(r.entry_ns));
    match SyscallEnd::from_raw(r.end) {
        Some(SyscallEnd::Returned) => {
            s.push_str(&format!(" = {} [{took}]", return_value(r.ret)));
        }
        Some(SyscallEnd::NoReturn) => s.push_str(" = ? [no-return]"),
        _ => s.push_str(&format!(" = ? [{} after {took}]", syscall_end_name(r.end))),
    }
    s
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

/// One VM of `vms --json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct JsonVm {
    /// The VM's id.
    pub vm_id: u32,
    /// Canonical UUID, `None` unless `flags.uuid_known`.
    pub uuid: Option<String>,
    /// PID of the VMM process.
    pub vmm_pid: u32,
    /// Its system calls are being recorded (`flags.traced`, repeated for
    /// scripts).
    pub traced: bool,
    /// It matches the trace selection (`flags.selected`, repeated).
    pub selected: bool,
    /// Why a selected VM is not traced (see [`refusal_name`]).
    pub refusal: String,
    /// State flags.
    pub flags: JsonVmFlags,
    /// `CLOCK_MONOTONIC` time the module learned of the VM, ns.
    pub created_ns: u64,
    /// Syscall records produced for the VM.
    pub syscalls: u64,
    /// Of those, calls that returned through SYSRET.
    pub returned: u64,
    /// SYSRETs without a pending call.
    pub unmatched_returns: u64,
    /// Calls waiting for their return.
    pub pending: u64,
    /// Trapped SYSCALL and SYSRET instructions.
    pub traps: u64,
    /// Introspection profile state (see [`profile_state_name`]).
    pub profile: String,
    /// The guest kernel's KASLR relocation while the profile is active.
    pub kernel_slide: u64,
    /// Tasks and files resolved through the profile.
    pub resolved: u64,
    /// Tasks and files that could not be resolved.
    pub unresolved: u64,
    /// Diffusion records produced for the VM (exfiltrations included).
    pub diffusions: u64,
    /// Of those, data sent out of the traced VMs.
    pub exfiltrations: u64,
    /// Entries in the VM's propagation tables now (all tables).
    pub table_entries: u32,
    /// Their capacity.
    pub table_capacity: u32,
    /// Entries forgotten because a table was full.
    pub table_evictions: u64,
    /// Diffusions that could not be followed.
    pub diffusions_lost: u64,
}

impl From<&VmInfo> for JsonVm {
    fn from(vm: &VmInfo) -> Self {
        Self {
            vm_id: vm.vm_id,
            uuid: known_uuid(vm.flags, &vm.uuid),
            vmm_pid: vm.vmm_pid,
            traced: vm.flags & VM_TRACED != 0,
            selected: vm.flags & VM_SELECTED != 0,
            refusal: refusal_name(vm.refusal),
            flags: JsonVmFlags::new(vm.flags),
            created_ns: vm.created_ns,
            syscalls: vm.syscalls,
            returned: vm.returned,
            unmatched_returns: vm.unmatched_returns,
            pending: vm.pending,
            traps: vm.traps,
            profile: profile_state_name(vm.profile),
            kernel_slide: vm.kernel_slide,
            resolved: vm.resolved,
            unresolved: vm.unresolved,
            diffusions: vm.diffusions,
            exfiltrations: vm.exfiltrations,
            table_entries: vm.table_entries,
            table_capacity: vm.table_capacity,
            table_evictions: vm.table_evictions,
            diffusions_lost: vm.diffusions_lost,
        }
    }
}

/// One selected UUID of `vms --json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct JsonSelected {
    /// Canonical UUID.
    pub uuid: String,
    /// Ids of the running VMs with this UUID; empty if none runs (it will
    /// be traced when it starts).
    pub vm_ids: Vec<u32>,
}

/// The selection of `vms --json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct JsonSelection {
    /// Every VM is traced, present and future.
    pub all: bool,
    /// Selected UUIDs.
    pub uuids: Vec<JsonSelected>,
}

/// `vms --json`: the VM list and the trace selection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct JsonVms {
    /// Device path that was queried.
    pub device: String,
    /// The VMs, in the module's order.
    pub vms: Vec<JsonVm>,
    /// The trace selection.
    pub selection: JsonSelection,
}

impl JsonVms {
    /// The JSON view of `vms` and `selection`.
    pub fn new(device: &str, vms: &[VmInfo], selection: &Selection) -> Self {
        Self {
            device: device.to_owned(),
            vms: vms.iter().map(JsonVm::from).collect(),
            selection: JsonSelection {
                all: selection.all,
                uuids: selection
                    .uuids
                    .iter()
                    .map(|u| JsonSelected {
                        uuid: uuid::format(u),
                        vm_ids: vms_with_uuid(vms, u).map(|vm| vm.vm_id).collect(),
                    })
                    .collect(),
            },
        }
    }
}

/// The UUID column of `vms`: the UUID, `unknown` (not read yet) or `none`
/// (the guest has none).
fn uuid_column(vm: &VmInfo) -> String {
    if let Some(uuid) = known_uuid(vm.flags, &vm.uuid) {
        uuid
    } else if vm.flags & VM_UUID_ABSENT != 0 {
        "none".into()
    } else {
        "unknown".into()
    }
}

/// `yes` or `no`.
fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// `vms` as text (with final newline): a table of the VMs (the
/// propagation tables' counters are in `vms --json` only), then the
/// selection, each selected UUID with the VMs running it or
/// `not running; traced when it starts`.
pub fn vms_text(vms: &[VmInfo], selection: &Selection) -> String {
    let header = [
        "ID",
        "UUID",
        "VMM PID",
        "TRACED",
        "SELECTED",
        "REFUSAL",
        "SYSCALLS",
        "RETURNED",
        "UNMATCHED",
        "PENDING",
        "TRAPS",
        "PROFILE",
        "RESOLVED",
        "UNRESOLVED",
        "DIFFUSIONS",
        "EXFIL",
    ];
    let rows: Vec<[String; 16]> = vms
        .iter()
        .map(|vm| {
            [
                vm.vm_id.to_string(),
                uuid_column(vm),
                vm.vmm_pid.to_string(),
                yes_no(vm.flags & VM_TRACED != 0).into(),
                yes_no(vm.flags & VM_SELECTED != 0).into(),
                refusal_name(vm.refusal),
                vm.syscalls.to_string(),
                vm.returned.to_string(),
                vm.unmatched_returns.to_string(),
                vm.pending.to_string(),
                vm.traps.to_string(),
                profile_state_name(vm.profile),
                vm.resolved.to_string(),
                vm.unresolved.to_string(),
                vm.diffusions.to_string(),
                vm.exfiltrations.to_string(),
            ]
        })
        .collect();
    let mut out = String::new();
    if vms.is_empty() {
        out.push_str("no VMs\n");
    } else {
        let mut widths = header.map(str::len);
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.len());
            }
        }
        let mut line = |cells: &[&str]| {
            let padded: Vec<String> = cells
                .iter()
                .zip(widths)
                .map(|(cell, w)| format!("{cell:<w$}"))
                .collect();
            out.push_str(padded.join("  ").trim_end());
            out.push('\n');
        };
        line(&header);
        for row in &rows {
            line(&row.each_ref().map(String::as_str));
        }
    }
    out.push('\n');
    let what = match (selection.all, selection.uuids.len()) {
        (true, _) => "all VMs".to_owned(),
        (false, 0) => "none (no VM is traced)".to_owned(),
        (false, 1) => "1 UUID".to_owned(),
        (false, n) => format!("{n} UUIDs"),
    };
    out.push_str(&format!("selection: {what}\n"));
    if selection.all && !selection.uuids.is_empty() {
        out.push_str("also selected by UUID:\n");
    }
    for u in &selection.uuids {
        let ids: Vec<String> = vms_with_uuid(vms, u)
            .map(|vm| format!("vm {}", vm.vm_id))
            .collect();
        let status = if ids.is_empty() {
            "not running; traced when it starts".to_owned()
        } else {
            ids.join(", ")
        };
        out.push_str(&format!("  {}  {status}\n", uuid::format(u)));
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

    const A: &str = "4c4c4544-0042-3510-8052-b3c04f4e3732";

    fn syscall_record() -> SyscallRecord {
        SyscallRecord {
            header: header::<SyscallRecord>(RecordKind::Syscall, 20),
            vm_id: 2,
            vcpu: 0,
            vm_seq: 1234,
            uuid: uuid::parse(A).unwrap(),
            cr3: 0x10a000,
            rip: 0x7f3c_2a01_d2b5,
            rsp: 0x7ffd_8a4c_0f28,
            nr: 257,
            args: [(-100i64) as u64, 0x7ffd_8a4c_1000, 0x80000, 0, 0x55, 0x66],
            ret: 3,
            entry_ns: 1_000_000_000,
            exit_ns: 1_000_012_345,
            end: SyscallEnd::Returned as u32,
            reserved: 0,
            call_id: 99,
            task: TaskIdentity {
                task: 0xffff_8880_0123_4000,
                status: Resolution::Resolved as u32,
                pid: 42,
                tgid: 41,
                ppid: 1,
                comm: *b"cat\0\0\0\0\0\0\0\0\0\0\0\0\0",
            },
        }
    }

    fn vm_record(event: VmEvent, flags: u32) -> VmRecord {
        VmRecord {
            header: header::<VmRecord>(RecordKind::Vm, 21),
            vm_id: 2,
            event: event as u32,
            uuid: uuid::parse(A).unwrap(),
            vmm_pid: 812,
            refusal: 0,
            flags,
            reserved: 0,
        }
    }

    fn json(record: Record) -> serde_json::Value {
        serde_json::from_str(&json_line(&Event::Record(record)).unwrap()).unwrap()
    }

    #[test]
    fn syscall_json_has_the_documented_fields() {
        let line = json_line(&Event::Record(Record::Syscall(syscall_record()))).unwrap();
        assert_eq!(
            line,
            format!(
                "{{\"type\":\"syscall\",\"seq\":20,\"time_ns\":1500000002,\"vm_id\":2,\
                 \"uuid\":\"{A}\",\"vcpu\":0,\"vm_seq\":1234,\"cr3\":1089536,\
                 \"rip\":{},\"rsp\":{},\"nr\":257,\"name\":\"openat\",\
                 \"args\":[{},{},524288,0,85,102],\"ret\":3,\
                 \"end\":\"returned\",\"entry_ns\":1000000000,\"exit_ns\":1000012345,\
                 \"call_id\":99,\"task\":{{\"status\":\"resolved\",\"task\":{},\
                 \"pid\":42,\"tgid\":41,\"ppid\":1,\"comm\":\"cat\"}}}}",
                0x7f3c_2a01_d2b5u64,
                0x7ffd_8a4c_0f28u64,
                u64::MAX - 99,
                0x7ffd_8a4c_1000u64,
                0xffff_8880_0123_4000u64
            )
        );
        // Not returned: ret is null whatever the register held; unknown
        // number: name is null; nil UUID: null.
        let mut r = syscall_record();
        r.end = SyscallEnd::Superseded as u32;
        r.nr = 1000;
        r.uuid = [0; 16];
        let v = json(Record::Syscall(r));
        assert_eq!(v["ret"], serde_json::Value::Null);
        assert_eq!(v["end"], "superseded");
        assert_eq!(v["name"], serde_json::Value::Null);
        assert_eq!(v["uuid"], serde_json::Value::Null);
        let ends = [
            (SyscallEnd::NoReturn as u32, "no-return"),
            (SyscallEnd::TimedOut as u32, "timed-out"),
            (SyscallEnd::Evicted as u32, "evicted"),
            (SyscallEnd::Untraced as u32, "untraced"),
            (0, "unknown(0)"),
            (77, "unknown(77)"),
        ];
        for (end, name) in ends {
            r.end = end;
            assert_eq!(json(Record::Syscall(r))["end"], name);
        }
        r.end = SyscallEnd::Returned as u32;
        r.ret = -14;
        assert_eq!(json(Record::Syscall(r))["ret"], -14);
    }

    #[test]
    fn vm_json_has_the_documented_fields() {
        let r = vm_record(VmEvent::Armed, VM_UUID_KNOWN | VM_SELECTED | VM_TRACED);
        assert_eq!(
            json_line(&Event::Record(Record::Vm(r))).unwrap(),
            format!(
                "{{\"type\":\"vm\",\"seq\":21,\"time_ns\":1500000002,\"vm_id\":2,\
                 \"event\":\"armed\",\"uuid\":\"{A}\",\"vmm_pid\":812,\"refusal\":\"none\",\
                 \"flags\":{{\"uuid_known\":true,\"uuid_absent\":false,\"selected\":true,\
                 \"traced\":true}}}}"
            )
        );
        // The UUID bytes are shown only when flagged known.
        let mut r = vm_record(VmEvent::NoUuid, VM_UUID_ABSENT);
        let v = json(Record::Vm(r));
        assert_eq!(v["uuid"], serde_json::Value::Null);
        assert_eq!(v["event"], "no-uuid");
        assert_eq!(v["flags"]["uuid_absent"], true);
        let events = [
            (VmEvent::Created as u32, "created"),
            (VmEvent::Identified as u32, "identified"),
            (VmEvent::Disarmed as u32, "disarmed"),
            (VmEvent::Refused as u32, "refused"),
            (VmEvent::Destroyed as u32, "destroyed"),
            (0, "unknown(0)"),
            (99, "unknown(99)"),
        ];
        for (event, name) in events {
            r.event = event;
            assert_eq!(json(Record::Vm(r))["event"], name);
        }
        let refusals = [
            (Refusal::Cet, "cet"),
            (Refusal::Sev, "sev"),
            (Refusal::Tdx, "tdx"),
            (Refusal::Nested, "nested"),
        ];
        for (refusal, name) in refusals {
            r.refusal = refusal as u32;
            assert_eq!(json(Record::Vm(r))["refusal"], name);
        }
        r.refusal = 9;
        assert_eq!(json(Record::Vm(r))["refusal"], "unknown(9)");
    }

    #[test]
    fn syscall_text_lines() {
        let text = |r: SyscallRecord| text_line(&Event::Record(Record::Syscall(r)));
        assert_eq!(
            text(syscall_record()),
            format!(
                "seq=20 time=1.500000002 vm 2 {A} cat[41/42] ppid 1 vcpu0 #1234 \
                 openat(-100, 0x7ffd8a4c1000, 0x80000, 0) = 3 [12.3 us]"
            )
        );
        let mut r = syscall_record();
        r.uuid = [0; 16];
        r.task.status = Resolution::NoProfile as u32;
        r.nr = 39;
        r.ret = 1234;
        r.exit_ns = r.entry_ns + 850;
        assert!(
            text(r).ends_with("vm 2 vcpu0 #1234 getpid() = 1234 [850 ns]"),
            "{}",
            text(r)
        );
        r.nr = 0;
        r.ret = -14;
        assert!(text(r).ends_with(" = -14 EFAULT [850 ns]"), "{}", text(r));
        r.ret = -4000;
        assert!(text(r).ends_with(" = -4000 [850 ns]"), "{}", text(r));
        r.nr = 9;
        r.ret = 0x7f3c_2a00_0000;
        assert!(
            text(r).ends_with(" = 0x7f3c2a000000 [850 ns]"),
            "{}",
            text(r)
        );
        r.nr = 231;
        r.end = SyscallEnd::NoReturn as u32;
        assert!(
            text(r).ends_with("exit_group(-100) = ? [no-return]"),
            "{}",
            text(r)
        );
        r.nr = 59;
        r.end = SyscallEnd::Superseded as u32;
        r.exit_ns = r.entry_ns + 2_500_000;
        assert!(
            text(r).ends_with(" = ? [superseded after 2.5 ms]"),
            "{}",
            text(r)
        );
        r.end = 42;
        r.nr = 999;
        assert!(
            text(r).contains(
                "syscall_999(-100, 0x7ffd8a4c1000, 0x80000, 0, 85, 102) = ? [unknown(42) after"
            ),
            "{}",
            text(r)
        );
    }

    #[test]
    fn vm_text_lines() {
        let text = |r: VmRecord| text_line(&Event::Record(Record::Vm(r)));
        let r = vm_record(VmEvent::Identified, VM_UUID_KNOWN | VM_SELECTED);
        assert_eq!(
            text(r),
            format!(
                "seq=21 time=1.500000002 vm 2 identified {A} vmm_pid=812 flags=uuid_known,selected"
            )
        );
        let mut r = vm_record(VmEvent::Created, 0);
        assert!(
            text(r).ends_with("vm 2 created vmm_pid=812 flags=-"),
            "{}",
            text(r)
        );
        r.event = VmEvent::Refused as u32;
        r.refusal = Refusal::Sev as u32;
        r.flags = VM_SELECTED | 0x100;
        assert!(
            text(r).ends_with("vm 2 refused (sev) vmm_pid=812 flags=selected,0x100"),
            "{}",
            text(r)
        );
    }

    #[test]
    fn durations() {
        assert_eq!(duration(0), "0 ns");
        assert_eq!(duration(999), "999 ns");
        assert_eq!(duration(12_345), "12.3 us");
        assert_eq!(duration(4_100_000), "4.1 ms");
        assert_eq!(duration(2_500_000_000), "2.500 s");
    }

    fn vm_info(vm_id: u32, uuid: Option<&str>, flags: u32) -> VmInfo {
        VmInfo {
            vm_id,
            flags: flags | if uuid.is_some() { VM_UUID_KNOWN } else { 0 },
            uuid: uuid.map(|u| uuid::parse(u).unwrap()).unwrap_or_default(),
            vmm_pid: 800 + vm_id,
            refusal: 0,
            created_ns: 5,
            syscalls: 100,
            returned: 90,
            unmatched_returns: 2,
            pending: 1,
            traps: 250,
            diffusions: 7,
            exfiltrations: 1,
            table_entries: 12,
            table_capacity: 4096,
            table_evictions: 3,
            diffusions_lost: 2,
            ..Default::default()
        }
    }

    #[test]
    fn vms_json_and_text() {
        let b = "11111111-2222-3333-4444-555555555555";
        let mut refused = vm_info(3, Some(b), VM_SELECTED);
        refused.refusal = Refusal::Cet as u32;
        let vms = [
            vm_info(2, Some(A), VM_SELECTED | VM_TRACED),
            refused,
            vm_info(4, None, VM_UUID_ABSENT),
            vm_info(5, None, 0),
        ];
        let c = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
        let selection = Selection {
            all: false,
            uuids: [A, b, c].map(|u| uuid::parse(u).unwrap()).to_vec(),
        };
        let v: serde_json::Value = serde_json::from_str(
            &serde_json::to_string(&JsonVms::new("/dev/leaktrace", &vms, &selection)).unwrap(),
        )
        .unwrap();
        assert_eq!(v["device"], "/dev/leaktrace");
        assert_eq!(
            v["vms"][0],
            serde_json::json!({
                "vm_id": 2, "uuid": A, "vmm_pid": 802, "traced": true, "selected": true,
                "refusal": "none",
                "flags": {"uuid_known": true, "uuid_absent": false, "selected": true, "traced": true},
                "created_ns": 5, "syscalls": 100, "returned": 90, "unmatched_returns": 2,
                "pending": 1, "traps": 250, "profile": "none", "kernel_slide": 0,
                "resolved": 0, "unresolved": 0, "diffusions": 7, "exfiltrations": 1,
                "table_entries": 12, "table_capacity": 4096, "table_evictions": 3,
                "diffusions_lost": 2
            })
        );
        assert_eq!(v["vms"][1]["refusal"], "cet");
        assert_eq!(v["vms"][2]["uuid"], serde_json::Value::Null);
        assert_eq!(
            v["selection"],
            serde_json::json!({
                "all": false,
                "uuids": [
                    {"uuid": A, "vm_ids": [2]},
                    {"uuid": b, "vm_ids": [3]},
                    {"uuid": c, "vm_ids": []}
                ]
            })
        );

        let text = vms_text(&vms, &selection);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "ID  UUID                                  VMM PID  TRACED  SELECTED  REFUSAL  \
             SYSCALLS  RETURNED  UNMATCHED  PENDING  TRAPS  PROFILE  RESOLVED  UNRESOLVED  \
             DIFFUSIONS  EXFIL"
        );
        assert_eq!(
            lines[1],
            format!(
                "2   {A}  802      yes     yes       none     100       90        2          1        250    \
                 none     0         0           7           1"
            )
        );
        assert!(lines[2].contains(" cet "), "{text}");
        assert!(lines[3].starts_with("4   none "), "{text}");
        assert!(lines[4].starts_with("5   unknown "), "{text}");
        assert_eq!(lines[5], "");
        assert_eq!(lines[6], "selection: 3 UUIDs");
        assert_eq!(lines[7], format!("  {A}  vm 2"));
        assert_eq!(
            lines[9],
            format!("  {c}  not running; traced when it starts")
        );

        let all = Selection {
            all: true,
            uuids: vec![],
        };
        assert_eq!(vms_text(&[], &all), "no VMs\n\nselection: all VMs\n");
        let none = Selection::default();
        assert!(vms_text(&[], &none).ends_with("selection: none (no VM is traced)\n"));
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

    #[test]
    fn syscall_task_in_json_and_text() {
        let v = json(Record::Syscall(syscall_record()));
        assert_eq!(v["call_id"], 99);
        assert_eq!(v["task"]["status"], "resolved");
        assert_eq!(v["task"]["pid"], 42);
        assert_eq!(v["task"]["tgid"], 41);
        assert_eq!(v["task"]["ppid"], 1);
        assert_eq!(v["task"]["comm"], "cat");
        let text = text_line(&Event::Record(Record::Syscall(syscall_record())));
        assert!(text.contains(" cat[41/42] ppid 1 "), "{text}");
        let mut r = syscall_record();
        r.task = TaskIdentity {
            status: Resolution::NoProfile as u32,
            ..Default::default()
        };
        let v = json(Record::Syscall(r));
        assert_eq!(v["task"]["status"], "no-profile");
        assert!(v["task"]["pid"].is_null());
    }

    #[test]
    fn file_records_in_json_and_text() {
        let mut r = FileRecord {
            header: header::<SyscallRecord>(RecordKind::File, 22),
            vm_id: 2,
            role: 0,
            call_id: 99,
            fd: 3,
            status: Resolution::Resolved as u32,
            kind: FileKind::Regular as u32,
            mode: 0o100644,
            dev_major: 0,
            dev_minor: 17,
            ino: 1234,
            path_len: 11,
            ..Default::default()
        };
        r.path[..11].copy_from_slice(b"/etc/passwd");
        let v = json(Record::File(r));
        assert_eq!(v["type"], "file");
        assert_eq!(v["role"], "arg0");
        assert_eq!(v["path"], "/etc/passwd");
        assert_eq!(v["display"], "/etc/passwd");
        assert_eq!(v["kind"], "regular");
        assert_eq!(v["dev_minor"], 17);
        assert!(v["socket"].is_null());
        let text = text_line(&Event::Record(Record::File(r)));
        assert!(
            text.ends_with("vm 2 call 99 arg0 fd 3 regular /etc/passwd dev 0:17 ino 1234"),
            "{text}"
        );

        let mut pipe = r;
        pipe.role = FILE_ROLE_PAIR1;
        pipe.kind = FileKind::Fifo as u32;
        pipe.path_len = 0;
        let v = json(Record::File(pipe));
        assert!(v["path"].is_null());
        assert_eq!(v["display"], "pipe:[1234]");
        assert_eq!(v["role"], "pair1");

        let mut sock = pipe;
        sock.kind = FileKind::Socket as u32;
        sock.flags = FILE_SOCKET_VALID;
        sock.socket.family = 2;
        sock.socket.sock_type = 1;
        sock.socket.local_addr[..4].copy_from_slice(&[127, 0, 0, 1]);
        sock.socket.local_port = 8080;
        let v = json(Record::File(sock));
        assert_eq!(v["display"], "socket:[1234]");
        assert_eq!(v["socket"]["local"], "127.0.0.1:8080");
        assert_eq!(v["socket"]["remote"], "0.0.0.0:0");

        let mut bad = r;
        bad.status = Resolution::Unresolved as u32;
        let text = text_line(&Event::Record(Record::File(bad)));
        assert!(
            text.ends_with("vm 2 call 99 arg0 fd 3 unresolved"),
            "{text}"
        );
    }
    #[test]
    fn diffusion_json_has_the_documented_fields() {
        use crate::diffusion::tests::node;
        use crate::diffusion::tests::record;
        use leaktrace_abi::DiffusionOp;
        use leaktrace_abi::NodeKind;
        let mut file = node(NodeKind::File, 1, 12);
        file.dev = 8 << 20 | 1;
        let mut r = record(
            DiffusionOp::Read,
            (file, "/secret/plan.txt"),
            (node(NodeKind::Process, 1, 44), "cat"),
            0b11,
        );
        r.new_secrets = 0b01;
        r.header.seq = 30;
        assert_eq!(
            json_line(&Event::Record(Record::Diffusion(r))).unwrap(),
            format!(
                "{{\"type\":\"diffusion\",\"seq\":30,\"time_ns\":5000,\"vm_id\":1,\
                 \"op\":\"read\",\"call_id\":12,\"nr\":0,\"syscall\":\"read\",\
                 \"secrets\":[0,1],\"new_secrets\":[0],\"actor\":{{\"status\":\"resolved\",\
                 \"task\":{},\"pid\":44,\"tgid\":44,\"ppid\":1,\"comm\":\"cat\"}},\
                 \"source\":{{\"kind\":\"file\",\"vm_id\":1,\"dev\":\"8:1\",\"ino\":12,\
                 \"name\":\"/secret/plan.txt\",\"key\":\"vm1/file/8:1/12\"}},\
                 \"target\":{{\"kind\":\"process\",\"vm_id\":1,\"pid\":44,\"name\":\"cat\",\
                 \"key\":\"vm1/process/44\"}}}}",
                0xffff_8880_0000_1000u64
            )
        );
        r.op = 77;
        r.nr = 9999;
        let v = json(Record::Diffusion(r));
        assert_eq!(v["op"], "unknown(77)");
        assert!(v["syscall"].is_null());
    }

    #[test]
    fn pressure_json_has_the_documented_fields() {
        use crate::diffusion::tests::node;
        use leaktrace_abi::NodeKind;
        use leaktrace_abi::PressureRecord;
        let r = PressureRecord {
            header: header::<PressureRecord>(RecordKind::Pressure, 31),
            vm_id: 1,
            table: leaktrace_abi::TableKind::Processes as u32,
            capacity: 256,
            reserved: 0,
            node: node(NodeKind::Process, 1, 44),
            secrets: 0b101,
            evictions: 3,
        };
        assert_eq!(
            json_line(&Event::Record(Record::Pressure(r))).unwrap(),
            "{\"type\":\"pressure\",\"seq\":31,\"time_ns\":1500000002,\"vm_id\":1,\
             \"table\":\"processes\",\"capacity\":256,\"node\":{\"kind\":\"process\",\
             \"vm_id\":1,\"pid\":44,\"name\":\"?\",\"key\":\"vm1/process/44\"},\
             \"secrets\":[0,2],\"evictions\":3}"
        );
        let text = text_line(&Event::Record(Record::Pressure(r)));
        assert!(text.starts_with("vm1  warning: the processes table is full (256 entries) and forgot ?[44] (secrets 0,2)"), "{text}");
    }
}
