// SPDX-License-Identifier: GPL-2.0

//! Propagation rules: how confidential data moves with system calls.
//!
//! A *node* ([`Node`]) is a place data can be: a process (its address
//! space), a file, a pipe, one direction of a UNIX or IPv4 connection, a
//! shared memory segment, a message queue, a destination outside the
//! traced VMs. Each node carries a set of secrets (a bit mask of secret
//! ids, [`Secrets`]). A returned system call moves data between nodes
//! ([`moves`]); applying a move ([`apply`]) adds the source's secrets to
//! the target and, when the target gains any, reports one edge of the
//! diffusion graph. Documentation/diffusion.rst states every rule; the
//! tests below drive them with call sequences.
//!
//! This module decides; it keeps no state. The state lives behind
//! [`State`]: the kernel's RCU-published per-VM tables, or a map in the
//! host tests. Moves are pure functions of the call, so the kernel can
//! check lock-free (by looking the sources up) whether a call carries
//! anything before it takes a lock to apply it.

use crate::abi::DiffusionOp;
use crate::abi::FileKind;
use crate::abi::Node;
use crate::abi::NodeKind;
use crate::abi::SocketIdentity;
use crate::abi::TaskIdentity;
use crate::abi::FILE_SOCKET_VALID;

/// A set of secrets: bit N is secret id N.
pub type Secrets = u64;

/// `AF_UNIX`.
const AF_UNIX: u16 = 1;
/// `AF_INET`.
const AF_INET: u16 = 2;
/// `SOCK_STREAM`.
const SOCK_STREAM: u16 = 1;
/// `SOCK_DGRAM`.
const SOCK_DGRAM: u16 = 2;
/// `CLONE_THREAD`: a new thread of the same process, not a new process.
pub const CLONE_THREAD: u64 = 0x0001_0000;
/// `PROT_READ`.
const PROT_READ: u64 = 1;
/// `PROT_WRITE`.
const PROT_WRITE: u64 = 2;
/// `MAP_SHARED`.
const MAP_SHARED: u64 = 1;
/// `MAP_SHARED_VALIDATE`.
const MAP_SHARED_VALIDATE: u64 = 3;
/// `SHM_RDONLY`: attached read-only.
const SHM_RDONLY: u64 = 0o10000;

/// x86-64 system call numbers the rules use.
#[allow(missing_docs)]
pub mod nr {
    pub const READ: u64 = 0;
    pub const WRITE: u64 = 1;
    pub const MMAP: u64 = 9;
    pub const PREAD64: u64 = 17;
    pub const PWRITE64: u64 = 18;
    pub const READV: u64 = 19;
    pub const WRITEV: u64 = 20;
    pub const SHMAT: u64 = 30;
    pub const SENDFILE: u64 = 40;
    pub const SENDTO: u64 = 44;
    pub const RECVFROM: u64 = 45;
    pub const SENDMSG: u64 = 46;
    pub const RECVMSG: u64 = 47;
    pub const CLONE: u64 = 56;
    pub const FORK: u64 = 57;
    pub const VFORK: u64 = 58;
    pub const MSGSND: u64 = 69;
    pub const MSGRCV: u64 = 70;
    pub const EXIT_GROUP: u64 = 231;
    pub const MQ_TIMEDSEND: u64 = 242;
    pub const MQ_TIMEDRECEIVE: u64 = 243;
    pub const SPLICE: u64 = 275;
    pub const TEE: u64 = 276;
    pub const VMSPLICE: u64 = 278;
    pub const PREADV: u64 = 295;
    pub const PWRITEV: u64 = 296;
    pub const RECVMMSG: u64 = 299;
    pub const SENDMMSG: u64 = 307;
    pub const COPY_FILE_RANGE: u64 = 326;
    pub const PREADV2: u64 = 327;
    pub const PWRITEV2: u64 = 328;
    pub const CLONE3: u64 = 435;
}

/// What one descriptor of a call refers to, as diffusion needs it (a
/// [`crate::abi::FileRecord`] without its path).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Object {
    /// Whether the rest was resolved.
    pub resolved: bool,
    /// A [`FileKind`] value.
    pub kind: u32,
    /// `major << 20 | minor`.
    pub dev: u32,
    /// Inode number.
    pub ino: u64,
    /// Socket addresses, when `socket_valid`.
    pub socket: SocketIdentity,
    /// Whether `socket` was read.
    pub socket_valid: bool,
}

impl Object {
    /// The diffusion view of a resolved file record.
    pub fn from_record(record: &crate::abi::FileRecord) -> Self {
        if record.status != crate::abi::Resolution::Resolved as u32 {
            return Self::default();
        }
        Self {
            resolved: true,
            kind: record.kind,
            dev: (record.dev_major << 20) | (record.dev_minor & 0xf_ffff),
            ino: record.ino,
            socket: record.socket,
            socket_valid: record.flags & FILE_SOCKET_VALID != 0,
        }
    }

    fn is(&self, kind: FileKind) -> bool {
        self.resolved && self.kind == kind as u32
    }
}

/// Entries of a [`SocketCache`].
pub const SOCKET_CACHE_SIZE: usize = 64;

/// The last complete addresses of recently seen IPv4 stream sockets, by
/// inode. A TCP socket that reached `TCP_CLOSE` (both ends closed, data
/// still unread) has given its local port back (`inet_num` is 0), yet its
/// reader still receives the data the flow carried: the cache names that
/// flow. Direct-mapped; a collision only loses an old entry.
#[derive(Clone, Copy, Debug)]
pub struct SocketCache {
    entries: [(u32, u64, SocketIdentity); SOCKET_CACHE_SIZE],
}

impl Default for SocketCache {
    fn default() -> Self {
        Self {
            entries: [(0, 0, SocketIdentity::default()); SOCKET_CACHE_SIZE],
        }
    }
}

impl SocketCache {
    /// Remembers `object`'s addresses if it is a connected IPv4 stream
    /// socket, or completes them from the cache if it lost its local port.
    pub fn update(&mut self, object: &mut Object) {
        let s = &mut object.socket;
        if !object.socket_valid || s.family != AF_INET || s.sock_type != SOCK_STREAM {
            return;
        }
        let slot = &mut self.entries[(object.ino as usize) % SOCKET_CACHE_SIZE];
        if s.local_port != 0 && s.remote_port != 0 {
            *slot = (object.dev, object.ino, *s);
        } else if s.local_port == 0 && slot.0 == object.dev && slot.1 == object.ino {
            *s = slot.2;
        }
    }

    /// Forgets everything (a new guest kernel).
    pub fn clear(&mut self) {
        *self = Self::default();
    }
}

/// A completed system call of a resolved task, with what the module read.
#[derive(Clone, Copy, Debug)]
pub struct Call {
    /// The VM.
    pub vm_id: u32,
    /// System call number.
    pub nr: u64,
    /// Arguments.
    pub args: [u64; 6],
    /// Return value (`-errno` on failure).
    pub ret: i64,
    /// The calling task.
    pub actor: TaskIdentity,
    /// The descriptors in the call's arguments, in the order of
    /// [`crate::fdcalls::fd_arguments`].
    pub fds: [Object; 2],
    /// `clone3`: the flags of its `struct clone_args`, read at entry.
    pub clone3_flags: u64,
    /// `sendto`/`sendmsg` on an unconnected IPv4 socket: the destination
    /// the call named (read from its `sockaddr_in`), else `None`.
    pub destination: Option<([u8; 4], u16)>,
}

/// How a move changes its target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// The target gains the source's secrets.
    Add,
    /// The same, without reporting an edge (bookkeeping another edge
    /// already reports).
    AddQuietly,
    /// The source is gone (the process exited): forget it.
    Forget,
}

/// One movement of data a call made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Move {
    /// What it is, for the record.
    pub op: DiffusionOp,
    /// How the target changes.
    pub effect: Effect,
    /// Where the data comes from.
    pub source: Node,
    /// Where it goes.
    pub target: Node,
    /// The index in [`Call::fds`] the source came from (to name it).
    pub source_fd: Option<u8>,
    /// The index in [`Call::fds`] the target came from.
    pub target_fd: Option<u8>,
}

/// At most this many moves per call and phase (at entry: a fork's child
/// inheriting, then a TCP write to an unknown address, which is both the
/// unclaimed flow and the exfiltration).
pub const MOVES_MAX: usize = 3;

/// The moves of one call.
#[derive(Clone, Copy, Debug, Default)]
pub struct Moves {
    list: [Option<Move>; MOVES_MAX],
}

impl Moves {
    fn push(&mut self, m: Move) {
        if let Some(slot) = self.list.iter_mut().find(|s| s.is_none()) {
            *slot = Some(m);
        }
    }

    /// The moves, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Move> {
        self.list.iter().flatten()
    }

    /// Whether the call moves nothing.
    pub fn is_empty(&self) -> bool {
        self.list[0].is_none()
    }
}

/// What the rules need to know of the network.
pub trait Network {
    /// The traced VM that has IPv4 address `addr` (not loopback), if any
    /// is known to: data sent there is followed into that VM; data sent
    /// anywhere else leaves the traced VMs.
    fn vm_of(&self, addr: [u8; 4]) -> Option<u32>;
}

/// Whether `addr` is in 127.0.0.0/8.
fn is_loopback(addr: [u8; 4]) -> bool {
    addr[0] == 127
}

/// The node of process `tgid` of `vm_id`.
pub fn process_node(vm_id: u32, tgid: u32) -> Node {
    Node {
        kind: NodeKind::Process as u32,
        vm_id,
        id: u64::from(tgid),
        ..Node::default()
    }
}

/// The node of a file (or POSIX queue) as a whole.
fn inode_node(vm_id: u32, kind: NodeKind, object: &Object) -> Node {
    Node {
        kind: kind as u32,
        vm_id,
        id: object.ino,
        dev: object.dev,
        ..Node::default()
    }
}

/// IPv4 address of a socket address field.
fn ipv4(bytes: &[u8; 16]) -> [u8; 4] {
    [bytes[0], bytes[1], bytes[2], bytes[3]]
}

/// A UNIX socket's `struct sock` (or its peer's) from its identity.
fn unix_sock(bytes: &[u8; 16]) -> u64 {
    let mut raw = [0u8; 8];
    raw.copy_from_slice(&bytes[..8]);
    u64::from_le_bytes(raw)
}

/// Which way data crosses a descriptor.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    /// Into the process (read, receive).
    In,
    /// Out of the process (write, send).
    Out,
}

/// The receiving VM of a conversation to `dst` from `vm_id`: its own
/// for loopback, else the traced VM with that address, if any.
fn receiver(net: &impl Network, vm_id: u32, dst: [u8; 4]) -> Option<u32> {
    if is_loopback(dst) {
        Some(vm_id)
    } else {
        net.vm_of(dst)
    }
}

/// An IPv4 conversation's node: data `src` sent to `dst` in VM
/// `receiver`. A stream is keyed by both ends; a datagram flow only by its
/// receiver's port, since a receiver bound to any address cannot tell
/// which of its addresses, or which sender, a datagram used.
fn flow(receiver: u32, sock_type: u16, src: ([u8; 4], u16), dst: ([u8; 4], u16)) -> Node {
    let stream = sock_type == SOCK_STREAM;
    let (src, dst_addr) = if stream { (src, dst.0) } else { (([0; 4], 0), [0; 4]) };
    Node {
        kind: NodeKind::Flow as u32,
        vm_id: receiver,
        sock_type: u32::from(sock_type),
        src_addr: src.0,
        dst_addr,
        src_port: src.1,
        dst_port: dst.1,
        ..Node::default()
    }
}

/// A destination outside the traced VMs.
fn remote(sock_type: u16, src: ([u8; 4], u16), dst: ([u8; 4], u16)) -> Node {
    Node {
        kind: NodeKind::Remote as u32,
        sock_type: u32::from(sock_type),
        src_addr: src.0,
        dst_addr: dst.0,
        src_port: src.1,
        dst_port: dst.1,
        ..Node::default()
    }
}

/// The channel node of descriptor `object`, seen in `direction`, or
/// `None` if data through it is not followed.
fn channel(call: &Call, net: &impl Network, object: &Object, direction: Direction) -> Option<Node> {
    if !object.resolved {
        return None;
    }
    match FileKind::from_raw(object.kind)? {
        FileKind::Regular | FileKind::BlockDevice => {
            Some(inode_node(call.vm_id, NodeKind::File, object))
        }
        FileKind::Fifo => Some(inode_node(call.vm_id, NodeKind::Pipe, object)),
        FileKind::Socket if object.socket_valid => socket_channel(call, net, object, direction),
        // Terminals, directories, eventfds...: not followed. (POSIX message
        // queues, memfds and POSIX shared memory are regular files.)
        _ => None,
    }
}

/// The channel of a socket descriptor: one direction of its conversation.
fn socket_channel(call: &Call, net: &impl Network, object: &Object, direction: Direction) -> Option<Node> {
    let s = &object.socket;
    match s.family {
        AF_UNIX => {
            // Data written on a socket is read on its peer: a direction is
            // named by the sending end's `struct sock`.
            // Unconnected sockets (a datagram sent to a path) are not
            // followed: the receiver is not known.
            let (own, peer) = (unix_sock(&s.local_addr), unix_sock(&s.remote_addr));
            let sender = match direction {
                Direction::Out => own,
                Direction::In => peer,
            };
            (own != 0 && peer != 0).then(|| Node {
                kind: NodeKind::UnixSocket as u32,
                vm_id: call.vm_id,
                id: sender,
                ..Node::default()
            })
        }
        AF_INET if s.sock_type == SOCK_STREAM || s.sock_type == SOCK_DGRAM => {
            let local = (ipv4(&s.local_addr), s.local_port);
            let peer = (ipv4(&s.remote_addr), s.remote_port);
            match direction {
                Direction::Out => {
                    let dst = if peer.1 != 0 { peer } else { call.destination? };
                    Some(match receiver(net, call.vm_id, dst.0) {
                        Some(vm) => flow(vm, s.sock_type, local, dst),
                        None => remote(s.sock_type, local, dst),
                    })
                }
                Direction::In => {
                    if s.sock_type == SOCK_STREAM && peer.1 == 0 {
                        return None;
                    }
                    Some(flow(call.vm_id, s.sock_type, peer, local))
                }
            }
        }
        _ => None,
    }
}

/// Whether a call returning `ret` moved data (a positive byte count).
fn moved_bytes(ret: i64) -> bool {
    ret > 0
}

/// `mmap`'s return: an address, or `-errno` in the last page.
fn mapped(ret: i64) -> bool {
    !(-4095..0).contains(&ret)
}

/// A System V object's node.
fn sysv_node(vm_id: u32, kind: NodeKind, id: u64) -> Node {
    Node {
        kind: kind as u32,
        vm_id,
        // ids are ints.
        id: id & 0xffff_ffff,
        ..Node::default()
    }
}

/// When a call's moves are applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// At SYSCALL, before the guest kernel runs the call: data leaving the
    /// process (writes, sends, kernel copies). The target must carry the
    /// secrets before anyone can read the data, and a reader blocked on
    /// it may return before the writer's call does. `Call::ret` is
    /// unknown: a write that then fails still marks its target.
    Entry,
    /// At SYSRET, once the call succeeded: data that reached the process
    /// (reads, receives, mappings) and new processes.
    Return,
}

/// `dev` of a process node that stands for the process as it was when
/// it called `fork` (or `vfork`, `clone`, `clone3`), until that call
/// returns: its child may run, and read or write, before the parent's
/// call returns with the child's pid. Never reported.
pub const FORKING: u32 = 1;

/// The fork-in-flight node of process `tgid` (see [`FORKING`]).
fn forking_node(vm_id: u32, tgid: u32) -> Node {
    Node {
        dev: FORKING,
        ..process_node(vm_id, tgid)
    }
}

/// Whether a call creates a process (not a thread).
fn creates_process(call: &Call) -> bool {
    match call.nr {
        nr::FORK | nr::VFORK => true,
        nr::CLONE => call.args[0] & CLONE_THREAD == 0,
        nr::CLONE3 => call.clone3_flags & CLONE_THREAD == 0,
        _ => false,
    }
}

/// The data movements of a call in `phase` (see
/// Documentation/diffusion.rst for each rule).
pub fn moves(call: &Call, phase: Phase, net: &impl Network) -> Moves {
    let mut out = Moves::default();
    let process = process_node(call.vm_id, call.actor.tgid);
    match phase {
        Phase::Entry => entry_moves(&mut out, call, net, process),
        Phase::Return => return_moves(&mut out, call, net, process),
    }
    out
}

/// Moves at SYSCALL.
fn entry_moves(out: &mut Moves, call: &Call, net: &impl Network, process: Node) {
    let a = &call.args;
    // A child that runs before its parent's fork returned: it holds what
    // the parent held when it forked.
    if call.actor.ppid != 0 {
        out.push(Move {
            op: DiffusionOp::Inherit,
            effect: Effect::Add,
            source: forking_node(call.vm_id, call.actor.ppid),
            target: process,
            source_fd: None,
            target_fd: None,
        });
    }
    match call.nr {
        nr::WRITE | nr::PWRITE64 | nr::WRITEV | nr::PWRITEV | nr::PWRITEV2 | nr::SENDTO
        | nr::SENDMSG | nr::SENDMMSG | nr::VMSPLICE | nr::MQ_TIMEDSEND => {
            out_moves(out, call, net, process, 0);
        }
        nr::MSGSND => out.push(Move {
            op: DiffusionOp::Write,
            effect: Effect::Add,
            source: process,
            target: sysv_node(call.vm_id, NodeKind::MessageQueue, a[0]),
            source_fd: None,
            target_fd: None,
        }),
        // sendfile(out, in), splice(in, .., out), tee(in, out),
        // copy_file_range(in, .., out): fds are in fd_arguments() order.
        nr::SENDFILE => transfer(out, call, net, 1, 0),
        nr::SPLICE | nr::TEE | nr::COPY_FILE_RANGE => transfer(out, call, net, 0, 1),
        nr::EXIT_GROUP => {
            for node in [process, forking_node(call.vm_id, call.actor.tgid)] {
                out.push(Move {
                    op: DiffusionOp::Inherit,
                    effect: Effect::Forget,
                    source: node,
                    target: node,
                    source_fd: None,
                    target_fd: None,
                });
            }
        }
        _ if creates_process(call) => out.push(Move {
            op: DiffusionOp::Inherit,
            effect: Effect::AddQuietly,
            source: process,
            target: forking_node(call.vm_id, call.actor.tgid),
            source_fd: None,
            target_fd: None,
        }),
        _ => {}
    }
}

/// Moves at SYSRET.
fn return_moves(out: &mut Moves, call: &Call, net: &impl Network, process: Node) {
    let read = |fd: u8| Move {
        op: DiffusionOp::Read,
        effect: Effect::Add,
        source: Node::default(),
        target: process,
        source_fd: Some(fd),
        target_fd: None,
    };
    let a = &call.args;
    match call.nr {
        nr::READ | nr::PREAD64 | nr::READV | nr::PREADV | nr::PREADV2 | nr::RECVFROM
        | nr::RECVMSG | nr::RECVMMSG | nr::MQ_TIMEDRECEIVE
            if moved_bytes(call.ret) =>
        {
            if let Some(source) = in_channel(call, net, 0) {
                out.push(Move { source, ..read(0) });
                if let Some(unclaimed) = unclaimed(&source) {
                    out.push(Move {
                        source: unclaimed,
                        ..read(0)
                    });
                }
            }
        }
        nr::MSGRCV if moved_bytes(call.ret) => out.push(Move {
            source: sysv_node(call.vm_id, NodeKind::MessageQueue, a[0]),
            source_fd: None,
            ..read(0)
        }),
        nr::MMAP if mapped(call.ret) => {
            let file = &call.fds[0];
            if file.is(FileKind::Regular) || file.is(FileKind::BlockDevice) {
                let node = inode_node(call.vm_id, NodeKind::File, file);
                if a[2] & PROT_READ != 0 {
                    out.push(Move {
                        op: DiffusionOp::Map,
                        source: node,
                        ..read(0)
                    });
                }
                let shared = matches!(a[3] & 3, MAP_SHARED | MAP_SHARED_VALIDATE);
                if shared && a[2] & PROT_WRITE != 0 {
                    out.push(Move {
                        op: DiffusionOp::Map,
                        effect: Effect::Add,
                        source: process,
                        target: node,
                        source_fd: None,
                        target_fd: Some(0),
                    });
                }
            }
        }
        nr::SHMAT if mapped(call.ret) => {
            let segment = sysv_node(call.vm_id, NodeKind::SharedMemory, a[0]);
            out.push(Move {
                op: DiffusionOp::Attach,
                source: segment,
                source_fd: None,
                ..read(0)
            });
            if a[2] & SHM_RDONLY == 0 {
                out.push(Move {
                    op: DiffusionOp::Attach,
                    effect: Effect::Add,
                    source: process,
                    target: segment,
                    source_fd: None,
                    target_fd: None,
                });
            }
        }
        _ if creates_process(call) => {
            inherit(out, call, process);
            // The fork returned: its child is known by pid from now on.
            let forking = forking_node(call.vm_id, call.actor.tgid);
            out.push(Move {
                op: DiffusionOp::Inherit,
                effect: Effect::Forget,
                source: forking,
                target: forking,
                source_fd: None,
                target_fd: None,
            });
        }
        _ => {}
    }
}

/// The channel data came from through descriptor `fd` of the call.
fn in_channel(call: &Call, net: &impl Network, fd: u8) -> Option<Node> {
    channel(call, net, &call.fds[usize::from(fd)], Direction::In)
}

/// The TCP flow `flow` (into a VM) as it was written by a sender that
/// did not know the receiver was a traced VM (see [`unclaimed_flow`]).
fn unclaimed(flow: &Node) -> Option<Node> {
    (flow.kind == NodeKind::Flow as u32 && flow.sock_type == u32::from(SOCK_STREAM)).then_some(Node {
        vm_id: 0,
        ..*flow
    })
}

/// A TCP stream to an address no traced VM had shown yet: reported as
/// leaving, and also kept (quietly) as a flow of no VM, which the receiving end
/// claims if it turns out to be a traced VM (its address is learned when
/// it accepts; the sender may write first). Both ends' addresses and
/// ports name it, so it matches nothing else. Datagrams are keyed by the
/// receiver's port alone and are not kept this way.
fn unclaimed_flow(remote: &Node) -> Option<Node> {
    (remote.kind == NodeKind::Remote as u32 && remote.sock_type == u32::from(SOCK_STREAM)).then_some(Node {
        kind: NodeKind::Flow as u32,
        vm_id: 0,
        ..*remote
    })
}

/// A process wrote through descriptor `fd`: to its channel, or out of
/// the traced VMs.
fn out_moves(out: &mut Moves, call: &Call, net: &impl Network, process: Node, fd: u8) {
    let Some(target) = channel(call, net, &call.fds[usize::from(fd)], Direction::Out) else {
        return;
    };
    if let Some(flow) = unclaimed_flow(&target) {
        out.push(Move {
            op: DiffusionOp::Write,
            effect: Effect::AddQuietly,
            source: process,
            target: flow,
            source_fd: None,
            target_fd: Some(fd),
        });
    }
    out.push(Move {
        op: if target.kind == NodeKind::Remote as u32 {
            DiffusionOp::Exfiltrate
        } else {
            DiffusionOp::Write
        },
        effect: Effect::Add,
        source: process,
        target,
        source_fd: None,
        target_fd: Some(fd),
    });
}

/// The kernel copied from descriptor `from` to descriptor `to`.
fn transfer(out: &mut Moves, call: &Call, net: &impl Network, from: u8, to: u8) {
    let source = in_channel(call, net, from);
    let target = channel(call, net, &call.fds[usize::from(to)], Direction::Out);
    if let (Some(source), Some(target)) = (source, target) {
        out.push(Move {
            op: if target.kind == NodeKind::Remote as u32 {
                DiffusionOp::Exfiltrate
            } else {
                DiffusionOp::Transfer
            },
            effect: Effect::Add,
            source,
            target,
            source_fd: Some(from),
            target_fd: Some(to),
        });
    }
}

/// A new process: the child (its pid is the return value in the parent)
/// holds what the parent holds. Added, not replaced: on another vCPU the
/// child may already have read something before its parent's call
/// returns.
fn inherit(out: &mut Moves, call: &Call, process: Node) {
    let Ok(child) = u32::try_from(call.ret) else { return };
    if child == 0 {
        // The child's own return (a traced child returns 0): nothing new.
        return;
    }
    out.push(Move {
        op: DiffusionOp::Inherit,
        effect: Effect::Add,
        source: process,
        target: process_node(call.vm_id, child),
        source_fd: None,
        target_fd: None,
    });
}

/// The propagation state: which node carries which secrets.
pub trait State {
    /// The secrets `node` carries (none if it is not in the tables).
    fn secrets(&self, node: &Node) -> Secrets;
    /// Sets what `node` carries (removing it for none). May forget another
    /// node to make room; it reports that itself.
    fn set(&mut self, node: &Node, secrets: Secrets);
}

/// Whether applying `m` would change `state` (so that the kernel can
/// decide without a lock whether to apply a call at all).
pub fn changes(state: &impl State, m: &Move) -> bool {
    let carried = state.secrets(&m.source);
    match m.effect {
        Effect::Add | Effect::AddQuietly => carried & !state.secrets(&m.target) != 0,
        Effect::Forget => carried != 0,
    }
}

/// A new edge of the diffusion graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Edge {
    /// The move that made it.
    pub m: Move,
    /// What the data carried.
    pub secrets: Secrets,
    /// What the target did not carry before.
    pub new_secrets: Secrets,
}

/// Applies `m` to `state`; returns the edge to report, if the target
/// gained secrets.
pub fn apply(state: &mut impl State, m: &Move) -> Option<Edge> {
    let carried = state.secrets(&m.source);
    match m.effect {
        Effect::Forget => {
            if carried != 0 {
                state.set(&m.source, 0);
            }
            None
        }
        Effect::Add | Effect::AddQuietly => {
            let before = state.secrets(&m.target);
            let new_secrets = carried & !before;
            if new_secrets == 0 {
                return None;
            }
            state.set(&m.target, before | carried);
            // A fork in flight is reported as the parent it stands for.
            let mut reported = *m;
            if reported.source.kind == NodeKind::Process as u32 {
                reported.source.dev = 0;
            }
            (m.effect == Effect::Add).then_some(Edge {
                m: reported,
                secrets: carried,
                new_secrets,
            })
        }
    }
}

/// The node a confidential file's secrets live on, when a descriptor
/// refers to one: regular files only.
pub fn file_node(vm_id: u32, object: &Object) -> Option<Node> {
    (object.is(FileKind::Regular)).then(|| inode_node(vm_id, NodeKind::File, object))
}

#[cfg(test)]
mod tests;
