// SPDX-License-Identifier: GPL-2.0

//! The propagation rules driven by system call sequences: each test checks
//! the exact edges produced, and that nothing else is tainted.

use super::*;
use crate::abi::FileKind;
use std::collections::BTreeMap;
use std::vec::Vec;

/// Secret 0 and secret 1.
const S0: Secrets = 1 << 0;
const S1: Secrets = 1 << 1;

const VM: u32 = 1;
const VM2: u32 = 2;

#[derive(Default)]
struct Map(BTreeMap<Node, Secrets>);

impl State for Map {
    fn secrets(&self, node: &Node) -> Secrets {
        self.0.get(node).copied().unwrap_or(0)
    }
    fn set(&mut self, node: &Node, secrets: Secrets) {
        if secrets == 0 {
            self.0.remove(node);
        } else {
            self.0.insert(*node, secrets);
        }
    }
}

/// Addresses of traced VMs.
#[derive(Default)]
struct Lan(Vec<([u8; 4], u32)>);

impl Network for Lan {
    fn vm_of(&self, addr: [u8; 4]) -> Option<u32> {
        self.0.iter().find(|(a, _)| *a == addr).map(|&(_, vm)| vm)
    }
}

/// A host: tables, network, and the edges reported so far.
struct Sim {
    state: Map,
    lan: Lan,
    edges: Vec<(DiffusionOp, Node, Node, Secrets)>,
}

impl Sim {
    fn new() -> Self {
        Self {
            state: Map::default(),
            lan: Lan(std::vec![([10, 0, 0, 1], VM), ([10, 0, 0, 2], VM2)]),
            edges: Vec::new(),
        }
    }

    fn secret(&mut self, node: Node, secrets: Secrets) {
        self.state.set(&node, secrets);
    }

    /// A call entering, then returning (unless it never returns).
    fn run(&mut self, call: Call) {
        self.phase(&call, Phase::Entry);
        if call.nr != nr::EXIT_GROUP {
            self.phase(&call, Phase::Return);
        }
    }

    fn phase(&mut self, call: &Call, phase: Phase) {
        for m in moves(call, phase, &self.lan).iter() {
            let predicted = changes(&self.state, m);
            let edge = apply(&mut self.state, m);
            // The lock-free pre-check never misses a change.
            assert!(predicted || edge.is_none(), "{m:?}");
            if let Some(edge) = edge {
                self.edges.push((edge.m.op, edge.m.source, edge.m.target, edge.new_secrets));
            }
        }
    }

    fn taint(&self, node: Node) -> Secrets {
        self.state.secrets(&node)
    }

    /// The edges since the last call, then forgets them.
    fn take(&mut self) -> Vec<(DiffusionOp, Node, Node, Secrets)> {
        core::mem::take(&mut self.edges)
    }
}

fn task(tgid: u32) -> TaskIdentity {
    TaskIdentity {
        task: 0xffff_8880_0000_0000 + u64::from(tgid) * 0x1000,
        status: crate::abi::Resolution::Resolved as u32,
        pid: tgid,
        tgid,
        ppid: 1,
        comm: *b"test\0\0\0\0\0\0\0\0\0\0\0\0",
    }
}

fn object(kind: FileKind, ino: u64) -> Object {
    Object {
        resolved: true,
        kind: kind as u32,
        dev: 8 << 20 | 1,
        ino,
        ..Object::default()
    }
}

fn file(ino: u64) -> Object {
    object(FileKind::Regular, ino)
}

fn pipe(ino: u64) -> Object {
    Object {
        dev: 13,
        ..object(FileKind::Fifo, ino)
    }
}

fn socket(family: u16, sock_type: u16, local: [u8; 16], local_port: u16, remote: [u8; 16], remote_port: u16) -> Object {
    Object {
        dev: 9,
        socket: SocketIdentity {
            family,
            sock_type,
            local_port,
            remote_port,
            local_addr: local,
            remote_addr: remote,
        },
        socket_valid: true,
        ..object(FileKind::Socket, 7000 + u64::from(local_port))
    }
}

fn v4(a: [u8; 4]) -> [u8; 16] {
    let mut out = [0; 16];
    out[..4].copy_from_slice(&a);
    out
}

fn tcp(local: ([u8; 4], u16), remote: ([u8; 4], u16)) -> Object {
    socket(AF_INET, SOCK_STREAM, v4(local.0), local.1, v4(remote.0), remote.1)
}

fn udp(local: ([u8; 4], u16), remote: ([u8; 4], u16)) -> Object {
    socket(AF_INET, SOCK_DGRAM, v4(local.0), local.1, v4(remote.0), remote.1)
}

fn unix(sk: u64, peer: u64) -> Object {
    let mut local = [0; 16];
    local[..8].copy_from_slice(&sk.to_le_bytes());
    let mut remote = [0; 16];
    remote[..8].copy_from_slice(&peer.to_le_bytes());
    socket(AF_UNIX, SOCK_STREAM, local, 0, remote, 0)
}

fn call(vm_id: u32, tgid: u32, nr: u64, args: [u64; 6], ret: i64, fds: [Object; 2]) -> Call {
    Call {
        vm_id,
        nr,
        args,
        ret,
        actor: task(tgid),
        fds,
        clone3_flags: 0,
        destination: None,
    }
}

/// `nr(fd)` moving `ret` bytes through `obj` in process `tgid` of VM 1.
fn io(tgid: u32, nr: u64, obj: Object, ret: i64) -> Call {
    call(VM, tgid, nr, [3, 0x1000, 4096, 0, 0, 0], ret, [obj, Object::default()])
}

fn proc_(tgid: u32) -> Node {
    process_node(VM, tgid)
}

fn fnode(obj: &Object) -> Node {
    file_node(VM, obj).unwrap()
}

#[test]
fn read_taints_the_process_once_and_write_spreads_it() {
    let mut sim = Sim::new();
    let secret = file(100);
    let copy = file(200);
    sim.secret(fnode(&secret), S0);
    // Reading in pieces: one edge, not one per call.
    sim.run(io(40, nr::READ, secret, 4096));
    sim.run(io(40, nr::READ, secret, 100));
    sim.run(io(40, nr::READ, secret, 0));
    assert_eq!(sim.take(), [(DiffusionOp::Read, fnode(&secret), proc_(40), S0)]);
    sim.run(io(40, nr::WRITE, copy, 4196));
    sim.run(io(40, nr::WRITE, copy, 10));
    assert_eq!(sim.take(), [(DiffusionOp::Write, proc_(40), fnode(&copy), S0)]);
    assert_eq!(sim.taint(fnode(&copy)), S0);
}

#[test]
fn every_read_and_write_variant_moves_data() {
    for nr in [nr::PREAD64, nr::READV, nr::PREADV, nr::PREADV2] {
        let mut sim = Sim::new();
        sim.secret(fnode(&file(1)), S0);
        sim.run(io(40, nr, file(1), 1));
        assert_eq!(sim.take().len(), 1, "nr {nr}");
    }
    for nr in [nr::PWRITE64, nr::WRITEV, nr::PWRITEV, nr::PWRITEV2] {
        let mut sim = Sim::new();
        sim.secret(proc_(40), S0);
        sim.run(io(40, nr, file(2), 1));
        assert_eq!(sim.take(), [(DiffusionOp::Write, proc_(40), fnode(&file(2)), S0)], "nr {nr}");
    }
}

#[test]
fn failed_and_empty_reads_move_nothing_writes_are_marked_at_entry() {
    let mut sim = Sim::new();
    sim.secret(fnode(&file(1)), S0);
    sim.run(io(40, nr::READ, file(1), -9));
    sim.run(io(40, nr::READ, file(1), 0));
    assert!(sim.take().is_empty());
    assert_eq!(sim.taint(proc_(40)), 0);
    // Writes are applied before the guest kernel runs them (a reader may
    // return first): one that then fails has marked its target anyway.
    sim.secret(proc_(41), S0);
    sim.run(io(41, nr::WRITE, file(2), -28));
    assert_eq!(sim.take(), [(DiffusionOp::Write, proc_(41), fnode(&file(2)), S0)]);
}

#[test]
fn a_reader_returning_before_the_writer_is_still_tainted() {
    let mut sim = Sim::new();
    sim.secret(proc_(40), S0);
    let p = pipe(900);
    let write = io(40, nr::WRITE, p, 10);
    let read = io(41, nr::READ, p, 10);
    sim.phase(&write, Phase::Entry);
    sim.phase(&read, Phase::Entry);
    sim.phase(&read, Phase::Return);
    sim.phase(&write, Phase::Return);
    assert_eq!(sim.taint(proc_(41)), S0);
}

#[test]
fn a_child_running_before_its_parents_fork_returns_inherits() {
    let mut sim = Sim::new();
    sim.secret(proc_(40), S0);
    let fork = call(VM, 40, nr::FORK, [0; 6], 41, Default::default());
    sim.phase(&fork, Phase::Entry);
    // The child writes before the parent's fork returns.
    let mut child_write = io(41, nr::WRITE, file(5), 10);
    child_write.actor.ppid = 40;
    sim.run(child_write);
    sim.phase(&fork, Phase::Return);
    let edges = sim.take();
    assert_eq!(
        edges,
        [
            (DiffusionOp::Inherit, proc_(40), proc_(41), S0),
            (DiffusionOp::Write, proc_(41), fnode(&file(5)), S0)
        ]
    );
    // The parent's return forgot the fork in flight: a later sibling
    // (forked before the taint, say) inherits nothing through it.
    let mut sibling = io(42, nr::WRITE, file(6), 10);
    sibling.actor.ppid = 40;
    sim.run(sibling);
    assert_eq!(sim.taint(fnode(&file(6))), 0);
    assert_eq!(sim.taint(forking_node(VM, 40)), 0);
}

#[test]
fn innocent_processes_and_files_stay_clean() {
    let mut sim = Sim::new();
    sim.secret(fnode(&file(1)), S0);
    // An innocent process reads and writes other files.
    sim.run(io(50, nr::READ, file(3), 10));
    sim.run(io(50, nr::WRITE, file(4), 10));
    // A process writes first, then reads the secret: the earlier output is clean.
    sim.run(io(60, nr::WRITE, file(5), 10));
    sim.run(io(60, nr::READ, file(1), 10));
    assert_eq!(sim.take(), [(DiffusionOp::Read, fnode(&file(1)), proc_(60), S0)]);
    for n in [3, 4, 5] {
        assert_eq!(sim.taint(fnode(&file(n))), 0);
    }
    assert_eq!(sim.taint(proc_(50)), 0);
}

#[test]
fn secrets_accumulate_as_a_set() {
    let mut sim = Sim::new();
    sim.secret(fnode(&file(1)), S0);
    sim.secret(fnode(&file(2)), S1);
    sim.run(io(40, nr::READ, file(1), 10));
    sim.run(io(40, nr::WRITE, file(3), 10));
    sim.run(io(40, nr::READ, file(2), 10));
    // The same target gains secret 1: a new edge carrying only what is new.
    sim.run(io(40, nr::WRITE, file(3), 10));
    let edges = sim.take();
    assert_eq!(edges.len(), 4);
    assert_eq!(edges[3], (DiffusionOp::Write, proc_(40), fnode(&file(3)), S1));
    assert_eq!(sim.taint(fnode(&file(3))), S0 | S1);
}

#[test]
fn fork_vfork_clone_inherit_threads_share_exit_forgets() {
    let mut sim = Sim::new();
    sim.secret(proc_(40), S0);
    sim.run(call(VM, 40, nr::FORK, [0; 6], 41, Default::default()));
    sim.run(call(VM, 40, nr::VFORK, [0; 6], 42, Default::default()));
    sim.run(call(VM, 40, nr::CLONE, [0x11, 0, 0, 0, 0, 0], 43, Default::default()));
    let mut clone3 = call(VM, 40, nr::CLONE3, [0x7000, 88, 0, 0, 0, 0], 44, Default::default());
    clone3.clone3_flags = 0;
    sim.run(clone3);
    // A thread is the same process: no new node.
    sim.run(call(VM, 40, nr::CLONE, [CLONE_THREAD | 0x100, 0, 0, 0, 0, 0], 45, Default::default()));
    let mut thread3 = call(VM, 40, nr::CLONE3, [0x7000, 88, 0, 0, 0, 0], 46, Default::default());
    thread3.clone3_flags = CLONE_THREAD;
    sim.run(thread3);
    // The child's own return (0) and a failed fork.
    sim.run(call(VM, 41, nr::FORK, [0; 6], 0, Default::default()));
    sim.run(call(VM, 40, nr::FORK, [0; 6], -11, Default::default()));
    let edges = sim.take();
    let children: Vec<_> = edges.iter().map(|e| (e.0, e.2.id)).collect();
    assert_eq!(
        children,
        [
            (DiffusionOp::Inherit, 41),
            (DiffusionOp::Inherit, 42),
            (DiffusionOp::Inherit, 43),
            (DiffusionOp::Inherit, 44)
        ]
    );
    assert_eq!(sim.taint(proc_(45)), 0);
    // The forks in flight are forgotten once they returned.
    assert_eq!(sim.taint(forking_node(VM, 40)), 0);
    // execve keeps the taint: nothing to do; exit_group forgets the process.
    sim.run(call(VM, 41, 59, [0; 6], 0, Default::default()));
    assert_eq!(sim.taint(proc_(41)), S0);
    sim.run(call(VM, 41, nr::EXIT_GROUP, [0; 6], 0, Default::default()));
    assert_eq!(sim.taint(proc_(41)), 0);
    assert!(sim.take().is_empty());
    // A clean parent's child stays clean.
    sim.run(call(VM, 50, nr::FORK, [0; 6], 51, Default::default()));
    assert!(sim.take().is_empty());
}

#[test]
fn pipes_carry_data_from_writer_to_reader() {
    let mut sim = Sim::new();
    sim.secret(proc_(40), S0);
    let p = pipe(900);
    sim.run(io(40, nr::WRITE, p, 10));
    sim.run(io(41, nr::READ, p, 10));
    // A reader of another pipe is not tainted.
    sim.run(io(42, nr::READ, pipe(901), 10));
    let pnode = Node {
        kind: NodeKind::Pipe as u32,
        vm_id: VM,
        id: 900,
        dev: 13,
        ..Node::default()
    };
    assert_eq!(
        sim.take(),
        [
            (DiffusionOp::Write, proc_(40), pnode, S0),
            (DiffusionOp::Read, pnode, proc_(41), S0)
        ]
    );
}

#[test]
fn unix_sockets_carry_data_to_the_peer_only() {
    let mut sim = Sim::new();
    sim.secret(proc_(40), S0);
    let (a, b) = (0xffff_8880_1000_0000u64, 0xffff_8880_2000_0000u64);
    sim.run(io(40, nr::SENDMSG, unix(a, b), 10));
    // The sender's own end reads what the peer sent: not tainted by itself.
    sim.run(io(43, nr::RECVFROM, unix(a, b), 10));
    assert_eq!(sim.taint(proc_(43)), 0);
    sim.run(io(41, nr::READ, unix(b, a), 10));
    assert_eq!(sim.taint(proc_(41)), S0);
    // Unconnected (no peer): not followed.
    sim.run(io(40, nr::WRITE, unix(0xffff_8880_3000_0000, 0), 10));
    assert_eq!(sim.take().len(), 2);
}

#[test]
fn loopback_tcp_and_udp_inside_one_vm() {
    let mut sim = Sim::new();
    sim.secret(proc_(40), S0);
    let lo = [127, 0, 0, 1];
    sim.run(io(40, nr::WRITE, tcp((lo, 40000), (lo, 7000)), 10));
    // The server's accepted socket: the reverse view of the same flow.
    sim.run(io(41, nr::READ, tcp((lo, 7000), (lo, 40000)), 10));
    assert_eq!(sim.taint(proc_(41)), S0);
    // Another connection to the same server stays clean.
    sim.run(io(42, nr::READ, tcp((lo, 7000), (lo, 40001)), 10));
    assert_eq!(sim.taint(proc_(42)), 0);
    // UDP: sendto an address, received on a socket bound to any address.
    let mut send = io(40, nr::SENDTO, udp(([0; 4], 0), ([0; 4], 0)), 10);
    send.destination = Some((lo, 9000));
    sim.run(send);
    sim.run(io(43, nr::RECVFROM, udp(([0; 4], 9000), ([0; 4], 0)), 10));
    assert_eq!(sim.taint(proc_(43)), S0);
    sim.run(io(44, nr::RECVFROM, udp(([0; 4], 9001), ([0; 4], 0)), 10));
    assert_eq!(sim.taint(proc_(44)), 0);
    // The same port in another VM is another flow.
    sim.run(call(VM2, 43, nr::RECVFROM, [3, 0, 0, 0, 0, 0], 10, [udp(([0; 4], 9000), ([0; 4], 0)), Object::default()]));
    assert_eq!(sim.taint(process_node(VM2, 43)), 0);
    assert!(sim.take().iter().all(|e| e.0 != DiffusionOp::Exfiltrate));
}

#[test]
fn tcp_between_two_vms_taints_the_receiver_there() {
    let mut sim = Sim::new();
    sim.secret(proc_(40), S0);
    let (a, b) = ([10, 0, 0, 1], [10, 0, 0, 2]);
    sim.run(io(40, nr::WRITE, tcp((a, 40000), (b, 7000)), 10));
    let received = call(VM2, 70, nr::READ, [5, 0, 0, 0, 0, 0], 10, [tcp((b, 7000), (a, 40000)), Object::default()]);
    sim.run(received);
    let edges = sim.take();
    assert_eq!(edges.len(), 2);
    assert_eq!(edges[0].2.kind, NodeKind::Flow as u32);
    assert_eq!(edges[0].2.vm_id, VM2);
    assert_eq!(edges[1].1, edges[0].2);
    assert_eq!(edges[1].2, process_node(VM2, 70));
    // Process 70 of VM 1 is another process.
    assert_eq!(sim.taint(proc_(70)), 0);
}

#[test]
fn data_to_an_unknown_address_is_exfiltration() {
    let mut sim = Sim::new();
    sim.secret(proc_(40), S0);
    let out = ([198, 51, 100, 7], 9999);
    let mut send = io(40, nr::SENDTO, udp(([10, 0, 0, 1], 5000), ([0; 4], 0)), 10);
    send.destination = Some(out);
    sim.run(send);
    sim.run(io(40, nr::WRITE, tcp(([10, 0, 0, 1], 40000), ([203, 0, 113, 5], 443)), 10));
    // A clean process sending out is not reported.
    sim.run(io(50, nr::WRITE, tcp(([10, 0, 0, 1], 40001), ([203, 0, 113, 5], 443)), 10));
    let edges = sim.take();
    assert_eq!(edges.len(), 2);
    assert!(edges.iter().all(|e| e.0 == DiffusionOp::Exfiltrate && e.2.kind == NodeKind::Remote as u32));
    assert_eq!((edges[0].2.dst_addr, edges[0].2.dst_port), out);
    assert_eq!(edges[0].2.sock_type, 2);
    // Sending again to the same destination is not a new edge.
    let mut again = io(40, nr::SENDTO, udp(([10, 0, 0, 1], 5000), ([0; 4], 0)), 10);
    again.destination = Some(out);
    sim.run(again);
    assert!(sim.take().is_empty());
    // Unconnected, no destination known: nothing to follow.
    sim.run(io(40, nr::SENDTO, udp(([10, 0, 0, 1], 5000), ([0; 4], 0)), 10));
    assert!(sim.take().is_empty());
}

#[test]
fn kernel_copies_move_file_to_file() {
    for (nr, fds, from, to) in [
        // sendfile(out, in)
        (nr::SENDFILE, [file(2), file(1)], 1u8, 0u8),
        (nr::SPLICE, [file(1), pipe(2)], 0, 1),
        (nr::TEE, [pipe(1), pipe(2)], 0, 1),
        (nr::COPY_FILE_RANGE, [file(1), file(2)], 0, 1),
    ] {
        let mut sim = Sim::new();
        let node = |o: &Object| channel(&call(VM, 1, 0, [0; 6], 0, fds), &sim.lan, o, Direction::In).unwrap();
        let (src, dst) = (node(&fds[usize::from(from)]), node(&fds[usize::from(to)]));
        sim.secret(src, S0);
        sim.run(call(VM, 40, nr, [3, 4, 5, 6, 0, 0], 100, fds));
        assert_eq!(sim.take(), [(DiffusionOp::Transfer, src, dst, S0)], "nr {nr}");
        // The process that asked for it never saw the data.
        assert_eq!(sim.taint(proc_(40)), 0);
    }
}

#[test]
fn sendfile_to_a_socket_out_of_the_vms_is_exfiltration() {
    let mut sim = Sim::new();
    sim.secret(fnode(&file(1)), S0);
    let sock = tcp(([10, 0, 0, 1], 40000), ([203, 0, 113, 5], 80));
    sim.run(call(VM, 40, nr::SENDFILE, [4, 3, 0, 100, 0, 0], 100, [sock, file(1)]));
    let edges = sim.take();
    assert_eq!(edges.len(), 1);
    assert_eq!(edges[0].0, DiffusionOp::Exfiltrate);
}

#[test]
fn mmap_reads_and_shared_writable_maps_write() {
    const PROT_RW: u64 = 3;
    let mut sim = Sim::new();
    sim.secret(fnode(&file(1)), S0);
    // mmap(addr, len, prot, flags, fd, off): the fd is the only fd argument.
    let map = |tgid, prot, flags, obj, ret| call(VM, tgid, nr::MMAP, [0, 4096, prot, flags, 3, 0], ret, [obj, Object::default()]);
    sim.run(map(40, PROT_READ, 2, file(1), 0x7f00_0000_0000));
    assert_eq!(sim.take(), [(DiffusionOp::Map, fnode(&file(1)), proc_(40), S0)]);
    // Failed, or not readable: nothing.
    sim.run(map(41, PROT_READ, 2, file(1), -13));
    sim.run(map(42, 0, 2, file(1), 0x7f00_0000_0000));
    assert!(sim.take().is_empty());
    // A tainted process maps a file shared and writable: the file is tainted.
    sim.run(map(40, PROT_RW, MAP_SHARED, file(2), 0x7f00_0000_0000));
    assert_eq!(sim.take(), [(DiffusionOp::Map, proc_(40), fnode(&file(2)), S0)]);
    // Private writable mappings do not reach the file.
    sim.run(map(40, PROT_RW, 2, file(3), 0x7f00_0000_0000));
    assert!(sim.take().is_empty());
    // Another process maps the shared file: tainted (memfd, /dev/shm).
    sim.run(map(43, PROT_READ, MAP_SHARED, file(2), 0x7f00_0000_0000));
    assert_eq!(sim.taint(proc_(43)), S0);
}

#[test]
fn sysv_shared_memory_and_message_queues() {
    let mut sim = Sim::new();
    sim.secret(proc_(40), S0);
    let shm = sysv_node(VM, NodeKind::SharedMemory, 32770);
    sim.run(call(VM, 40, nr::SHMAT, [32770, 0, 0, 0, 0, 0], 0x7f00_0000_0000, Default::default()));
    sim.run(call(VM, 41, nr::SHMAT, [32770, 0, SHM_RDONLY, 0, 0, 0], 0x7f00_0000_0000, Default::default()));
    // Attaching another segment: clean.
    sim.run(call(VM, 42, nr::SHMAT, [32771, 0, 0, 0, 0, 0], 0x7f00_0000_0000, Default::default()));
    assert_eq!(
        sim.take(),
        [
            (DiffusionOp::Attach, proc_(40), shm, S0),
            (DiffusionOp::Attach, shm, proc_(41), S0)
        ]
    );
    let msq = sysv_node(VM, NodeKind::MessageQueue, 5);
    sim.run(call(VM, 40, nr::MSGSND, [5, 0x1000, 64, 0, 0, 0], 0, Default::default()));
    sim.run(call(VM, 44, nr::MSGRCV, [5, 0x1000, 64, 0, 0, 0], 64, Default::default()));
    sim.run(call(VM, 45, nr::MSGRCV, [6, 0x1000, 64, 0, 0, 0], 64, Default::default()));
    assert_eq!(
        sim.take(),
        [
            (DiffusionOp::Write, proc_(40), msq, S0),
            (DiffusionOp::Read, msq, proc_(44), S0)
        ]
    );
}

#[test]
fn posix_queues_are_files() {
    let mut sim = Sim::new();
    sim.secret(proc_(40), S0);
    let mq = file(777);
    sim.run(io(40, nr::MQ_TIMEDSEND, mq, 0));
    sim.run(io(41, nr::MQ_TIMEDRECEIVE, mq, 12));
    assert_eq!(sim.taint(proc_(41)), S0);
    assert_eq!(sim.take().len(), 2);
}

#[test]
fn unresolved_descriptors_and_other_kinds_are_not_followed() {
    let mut sim = Sim::new();
    sim.secret(proc_(40), S0);
    sim.run(io(40, nr::WRITE, Object::default(), 10));
    sim.run(io(40, nr::WRITE, object(FileKind::CharDevice, 5), 10));
    sim.run(io(40, nr::WRITE, object(FileKind::Anonymous, 5), 10));
    sim.run(io(40, nr::WRITE, object(FileKind::Directory, 5), 10));
    assert!(sim.take().is_empty());
}

#[test]
fn the_precheck_agrees_with_apply() {
    let mut sim = Sim::new();
    let m = Move {
        op: DiffusionOp::Read,
        effect: Effect::Add,
        source: fnode(&file(1)),
        target: proc_(40),
        source_fd: Some(0),
        target_fd: None,
    };
    assert!(!changes(&sim.state, &m));
    sim.secret(fnode(&file(1)), S0);
    assert!(changes(&sim.state, &m));
    apply(&mut sim.state, &m);
    assert!(!changes(&sim.state, &m));
    let forget = Move {
        effect: Effect::Forget,
        source: proc_(40),
        target: proc_(40),
        ..m
    };
    assert!(changes(&sim.state, &forget));
    assert_eq!(apply(&mut sim.state, &forget), None);
    assert!(!changes(&sim.state, &forget));
}

#[test]
fn a_tcp_receiver_not_known_yet_claims_the_flow() {
    let mut sim = Sim::new();
    sim.lan.0.retain(|&(_, vm)| vm != VM2);
    sim.secret(proc_(40), S0);
    let (a, b) = ([10, 0, 0, 1], [10, 0, 0, 2]);
    // VM 2 has not shown its address: the write is reported as leaving...
    sim.run(io(40, nr::WRITE, tcp((a, 40000), (b, 7000)), 10));
    let edges = sim.take();
    assert_eq!(edges.iter().map(|e| e.0).collect::<Vec<_>>(), [DiffusionOp::Exfiltrate]);
    // ...and VM 2's receiver, known now, still gets the data.
    sim.lan.0.push((b, VM2));
    sim.run(call(VM2, 70, nr::READ, [5, 0, 0, 0, 0, 0], 10, [tcp((b, 7000), (a, 40000)), Object::default()]));
    let edges = sim.take();
    assert_eq!(edges.len(), 1);
    assert_eq!(edges[0].1, Node { vm_id: 0, ..flow(VM2, SOCK_STREAM, (a, 40000), (b, 7000)) });
    assert_eq!(sim.taint(process_node(VM2, 70)), S0);
    // Another connection to the same port is another flow.
    sim.run(call(VM2, 71, nr::READ, [5, 0, 0, 0, 0, 0], 10, [tcp((b, 7000), (a, 40001)), Object::default()]));
    assert_eq!(sim.taint(process_node(VM2, 71)), 0);
    // UDP to an unknown address is only reported.
    let mut send = io(40, nr::SENDTO, udp((a, 5000), ([0; 4], 0)), 10);
    send.destination = Some(([10, 0, 0, 9], 9000));
    sim.run(send);
    assert_eq!(sim.take().len(), 1);
}

#[test]
fn a_closed_stream_socket_is_named_by_its_last_addresses() {
    let mut cache = SocketCache::default();
    let lo = [127, 0, 0, 1];
    let open = tcp((lo, 7000), (lo, 40000));
    let mut seen = open;
    cache.update(&mut seen);
    assert_eq!(seen, open);
    // Both ends closed: the kernel gave the local port back.
    let mut closed = tcp((lo, 0), (lo, 40000));
    closed.ino = open.ino;
    cache.update(&mut closed);
    assert_eq!(closed.socket, open.socket);
    // Another socket (inode) is not completed from it.
    let mut other = tcp((lo, 0), (lo, 40000));
    other.ino = open.ino + SOCKET_CACHE_SIZE as u64;
    cache.update(&mut other);
    assert_eq!(other.socket.local_port, 0);
    // UDP and UNIX sockets are left alone.
    let mut dgram = udp((lo, 0), ([0; 4], 0));
    cache.update(&mut dgram);
    assert_eq!(dgram.socket.local_port, 0);
}
