// SPDX-License-Identifier: GPL-2.0

//! Diffusion and pressure records for people and scripts: the names of
//! operations, node kinds and tables, how a node is shown (`cat[44]`,
//! `/secret/plan.txt`, `pipe:[345]`, `tcp 10.0.0.1:5000>10.0.0.2:7000`),
//! its stable key (`vm1/process/44`) and its JSON form, and the lines
//! `leaktrace watch` prints for them.
//!
//! # Node keys
//!
//! A key names one node of the diffusion graph, the same in every record
//! and every run of the reader over the same module, so that `leaktrace
//! graph` can merge the records' nodes: `vmN/process/TGID`,
//! `vmN/file/MAJ:MIN/INO`, `vmN/pipe/MAJ:MIN/INO`, `vmN/unix_socket/0xSOCK`,
//! `vmN/flow/TYPE/SRC>DST` (N: the receiving VM; `flow/TYPE/SRC>DST` for
//! a flow of VM 0, which the module does not produce),
//! `vmN/shared_memory/SHMID`, `vmN/message_queue/MSQID` (System V) or
//! `vmN/message_queue/MAJ:MIN/INO` (POSIX), `remote/TYPE/DST`. `TYPE` is
//! `tcp` or `udp`, addresses are `a.b.c.d:port`, `*:port` when the
//! address is 0 and `*` when the port is too (a UDP flow is known by its
//! receiver's port only: `udp *>*:7000`). A remote's key leaves out the
//! sending end: every VM that sends to the same place reaches the same
//! node.

use crate::format::printable;
use leaktrace_abi::DiffusionOp;
use leaktrace_abi::DiffusionRecord;
use leaktrace_abi::Node;
use leaktrace_abi::NodeKind;
use leaktrace_abi::PressureRecord;
use leaktrace_abi::Resolution;
use leaktrace_abi::TableKind;
use leaktrace_abi::TaskIdentity;
use leaktrace_abi::DIFFUSION_SOURCE_NAME_TRUNCATED;
use leaktrace_abi::DIFFUSION_TARGET_NAME_TRUNCATED;
use leaktrace_abi::SECRETS_MAX;
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// Name of a [`DiffusionOp`] value in JSON and text, `unknown(N)` if
/// unknown.
pub fn op_name(raw: u32) -> String {
    match DiffusionOp::from_raw(raw) {
        Some(DiffusionOp::Read) => "read".into(),
        Some(DiffusionOp::Write) => "write".into(),
        Some(DiffusionOp::Map) => "map".into(),
        Some(DiffusionOp::Inherit) => "inherit".into(),
        Some(DiffusionOp::Transfer) => "transfer".into(),
        Some(DiffusionOp::Attach) => "attach".into(),
        Some(DiffusionOp::Exfiltrate) => "exfiltrate".into(),
        Some(DiffusionOp::Rename) => "rename".into(),
        Some(DiffusionOp::Source) => "source".into(),
        None => format!("unknown({raw})"),
    }
}

/// Name of a [`NodeKind`] value in JSON, `unknown(N)` if unknown.
pub fn node_kind_name(raw: u32) -> String {
    match NodeKind::from_raw(raw) {
        Some(NodeKind::None) => "none".into(),
        Some(NodeKind::Process) => "process".into(),
        Some(NodeKind::File) => "file".into(),
        Some(NodeKind::Pipe) => "pipe".into(),
        Some(NodeKind::UnixSocket) => "unix_socket".into(),
        Some(NodeKind::Flow) => "flow".into(),
        Some(NodeKind::SharedMemory) => "shared_memory".into(),
        Some(NodeKind::MessageQueue) => "message_queue".into(),
        Some(NodeKind::Remote) => "remote".into(),
        None => format!("unknown({raw})"),
    }
}

/// Name of a [`TableKind`] value in JSON and text, `unknown(N)` if
/// unknown.
pub fn table_name(raw: u32) -> String {
    match TableKind::from_raw(raw) {
        Some(TableKind::Processes) => "processes".into(),
        Some(TableKind::Objects) => "objects".into(),
        Some(TableKind::Flows) => "flows".into(),
        Some(TableKind::InFlight) => "in_flight".into(),
        None => format!("unknown({raw})"),
    }
}

/// The ids of a set of secrets (bit N: secret N), ascending.
pub fn secret_ids(mask: u64) -> Vec<u32> {
    (0..SECRETS_MAX as u32)
        .filter(|&id| mask & (1u64 << id) != 0)
        .collect()
}

/// A kernel `dev_t` as `major:minor` (`major << 20 | minor`).
pub fn dev_text(dev: u32) -> String {
    format!("{}:{}", dev >> 20, dev & 0xf_ffff)
}

/// The socket type of a flow or remote: `tcp` (`SOCK_STREAM`), `udp`
/// (`SOCK_DGRAM`), or `type(N)`.
pub fn sock_type_name(sock_type: u32) -> String {
    match sock_type {
        1 => "tcp".into(),
        2 => "udp".into(),
        _ => format!("type({sock_type})"),
    }
}

/// An IPv4 address (network byte order) and port: `a.b.c.d:port`,
/// `*:port` without an address, `*` without either (the ends of a UDP
/// flow the module does not know).
fn endpoint(addr: [u8; 4], port: u16) -> String {
    match (addr, port) {
        ([0, 0, 0, 0], 0) => "*".into(),
        ([0, 0, 0, 0], port) => format!("*:{port}"),
        (addr, port) => format!("{}:{port}", Ipv4Addr::from(addr)),
    }
}

/// The name a record carries for a node (lossy UTF-8), `...` in front
/// when it is the tail of a longer one.
fn carried_name(name: &[u8], truncated: bool) -> String {
    let text = String::from_utf8_lossy(name);
    if truncated {
        format!("...{text}")
    } else {
        text.into_owned()
    }
}

/// One node as a record shows it: the node, and the name the record
/// carries for it (path or comm; empty in pressure records).
#[derive(Clone, Copy, Debug)]
pub struct NodeView<'a> {
    /// The node.
    pub node: &'a Node,
    /// Its name in the record.
    pub name: &'a [u8],
    /// The name is the tail of a longer one.
    pub truncated: bool,
}

impl<'a> NodeView<'a> {
    /// The source of a diffusion record.
    pub fn source(r: &'a DiffusionRecord) -> Self {
        Self {
            node: &r.source,
            name: r.source_name(),
            truncated: r.flags & DIFFUSION_SOURCE_NAME_TRUNCATED != 0,
        }
    }

    /// The target of a diffusion record.
    pub fn target(r: &'a DiffusionRecord) -> Self {
        Self {
            node: &r.target,
            name: r.target_name(),
            truncated: r.flags & DIFFUSION_TARGET_NAME_TRUNCATED != 0,
        }
    }

    /// A node without a name (pressure records).
    pub fn unnamed(node: &'a Node) -> Self {
        Self {
            node,
            name: &[],
            truncated: false,
        }
    }

    /// The carried name, or `fallback` when there is none.
    fn name_or(&self, fallback: impl FnOnce() -> String) -> String {
        if self.name.is_empty() {
            fallback()
        } else {
            carried_name(self.name, self.truncated)
        }
    }

    /// The flow's or remote's two ends and type.
    fn flow_parts(&self) -> (String, String, String) {
        let n = self.node;
        (
            sock_type_name(n.sock_type),
            endpoint(n.src_addr, n.src_port),
            endpoint(n.dst_addr, n.dst_port),
        )
    }

    /// The node's `name` in JSON: a process's command name (`?` when not
    /// known), a file's path, and for nodes without a path what
    /// `/proc/PID/fd` would show or the like: `pipe:[INO]`,
    /// `unix:[0xSOCK]`, `tcp SRC>DST`, `shm:[SHMID]`, `msq:[MSQID]`,
    /// `DST/udp`.
    pub fn name(&self) -> String {
        let n = self.node;
        match NodeKind::from_raw(n.kind) {
            Some(NodeKind::Process) => self.name_or(|| "?".into()),
            Some(NodeKind::File) => self.name_or(|| format!("file:[{}/{}]", dev_text(n.dev), n.id)),
            Some(NodeKind::Pipe) => self.name_or(|| format!("pipe:[{}]", n.id)),
            Some(NodeKind::UnixSocket) => self.name_or(|| format!("unix:[{:#x}]", n.id)),
            Some(NodeKind::Flow) => {
                let (t, src, dst) = self.flow_parts();
                format!("{t} {src}>{dst}")
            }
            Some(NodeKind::SharedMemory) => self.name_or(|| format!("shm:[{}]", n.id)),
            Some(NodeKind::MessageQueue) if n.dev == 0 => {
                self.name_or(|| format!("msq:[{}]", n.id))
            }
            Some(NodeKind::MessageQueue) => self.name_or(|| format!("mqueue:[{}]", n.id)),
            Some(NodeKind::Remote) => {
                let (t, _, dst) = self.flow_parts();
                format!("{dst}/{t}")
            }
            Some(NodeKind::None) => "-".into(),
            None => self.name_or(|| format!("{}:[{}]", node_kind_name(n.kind), n.id)),
        }
    }

    /// The node as `watch` and graphs label it: the name, but
    /// `comm[pid]` for a process.
    pub fn label(&self) -> String {
        match NodeKind::from_raw(self.node.kind) {
            Some(NodeKind::Process) => format!("{}[{}]", self.name(), self.node.id),
            _ => self.name(),
        }
    }

    /// The node's stable key (see the module documentation).
    pub fn key(&self) -> String {
        let n = self.node;
        let vm = format!("vm{}", n.vm_id);
        match NodeKind::from_raw(n.kind) {
            Some(NodeKind::Process) => format!("{vm}/process/{}", n.id),
            Some(NodeKind::File) => format!("{vm}/file/{}/{}", dev_text(n.dev), n.id),
            Some(NodeKind::Pipe) => format!("{vm}/pipe/{}/{}", dev_text(n.dev), n.id),
            Some(NodeKind::UnixSocket) => format!("{vm}/unix_socket/{:#x}", n.id),
            Some(NodeKind::Flow) => {
                let (t, src, dst) = self.flow_parts();
                if n.vm_id == 0 {
                    format!("flow/{t}/{src}>{dst}")
                } else {
                    format!("{vm}/flow/{t}/{src}>{dst}")
                }
            }
            Some(NodeKind::SharedMemory) => format!("{vm}/shared_memory/{}", n.id),
            Some(NodeKind::MessageQueue) if n.dev == 0 => {
                format!("{vm}/message_queue/{}", n.id)
            }
            Some(NodeKind::MessageQueue) => {
                format!("{vm}/message_queue/{}/{}", dev_text(n.dev), n.id)
            }
            Some(NodeKind::Remote) => {
                let (t, _, dst) = self.flow_parts();
                format!("remote/{t}/{dst}")
            }
            Some(NodeKind::None) => "none".into(),
            None => format!(
                "{vm}/{}/{}/{}",
                node_kind_name(n.kind),
                dev_text(n.dev),
                n.id
            ),
        }
    }
}

/// A node in `watch --json` (see Documentation/abi.rst): `kind`, the
/// kind's identity, `name` and `key`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JsonNode {
    /// No node.
    None {
        /// `none`.
        key: String,
    },
    /// A process.
    Process {
        /// The VM.
        vm_id: u32,
        /// Its process id (tgid).
        pid: u64,
        /// Its command name (`?` when not known).
        name: String,
        /// The command name is cut.
        #[serde(skip_serializing_if = "is_false")]
        name_truncated: bool,
        /// See [`NodeView::key`].
        key: String,
    },
    /// A file with a name.
    File {
        /// The VM.
        vm_id: u32,
        /// `major:minor`.
        dev: String,
        /// Inode number.
        ino: u64,
        /// Its path.
        name: String,
        /// The path is the tail of a longer one.
        #[serde(skip_serializing_if = "is_false")]
        name_truncated: bool,
        /// See [`NodeView::key`].
        key: String,
    },
    /// A pipe or FIFO.
    Pipe {
        /// The VM.
        vm_id: u32,
        /// `major:minor`.
        dev: String,
        /// Inode number.
        ino: u64,
        /// `pipe:[INO]`, or the FIFO's path.
        name: String,
        /// The path is the tail of a longer one.
        #[serde(skip_serializing_if = "is_false")]
        name_truncated: bool,
        /// See [`NodeView::key`].
        key: String,
    },
    /// One direction of a UNIX socket connection.
    UnixSocket {
        /// The VM.
        vm_id: u32,
        /// Guest address of the sending end's `struct sock`, hex.
        sock: String,
        /// `unix:[0xSOCK]`, or the socket's path.
        name: String,
        /// The path is the tail of a longer one.
        #[serde(skip_serializing_if = "is_false")]
        name_truncated: bool,
        /// See [`NodeView::key`].
        key: String,
    },
    /// One direction of an IPv4 conversation between traced VMs or
    /// inside one.
    Flow {
        /// The receiving VM.
        vm_id: u32,
        /// `tcp` or `udp`.
        #[serde(rename = "type")]
        sock_type: String,
        /// Sender, `a.b.c.d:port`.
        src: String,
        /// Receiver.
        dst: String,
        /// `TYPE SRC>DST`.
        name: String,
        /// See [`NodeView::key`].
        key: String,
    },
    /// A System V shared memory segment.
    SharedMemory {
        /// The VM.
        vm_id: u32,
        /// Its shmid.
        shmid: u64,
        /// `shm:[SHMID]`.
        name: String,
        /// See [`NodeView::key`].
        key: String,
    },
    /// A message queue: System V (`msqid`) or POSIX (`dev`, `ino`).
    MessageQueue {
        /// The VM.
        vm_id: u32,
        /// System V: its msqid.
        #[serde(skip_serializing_if = "Option::is_none")]
        msqid: Option<u64>,
        /// POSIX: `major:minor` of the mqueue file system.
        #[serde(skip_serializing_if = "Option::is_none")]
        dev: Option<String>,
        /// POSIX: inode number.
        #[serde(skip_serializing_if = "Option::is_none")]
        ino: Option<u64>,
        /// `msq:[MSQID]`, or the POSIX queue's path.
        name: String,
        /// The path is the tail of a longer one.
        #[serde(skip_serializing_if = "is_false")]
        name_truncated: bool,
        /// See [`NodeView::key`].
        key: String,
    },
    /// A destination outside the traced VMs.
    Remote {
        /// 0: outside the VMs.
        vm_id: u32,
        /// `tcp` or `udp`.
        #[serde(rename = "type")]
        sock_type: String,
        /// The VM's end.
        src: String,
        /// The destination.
        dst: String,
        /// `DST/TYPE`.
        name: String,
        /// See [`NodeView::key`].
        key: String,
    },
    /// A kind this build does not know (`raw_kind`).
    Unknown {
        /// The raw `kind`.
        raw_kind: u32,
        /// The VM.
        vm_id: u32,
        /// `major:minor`.
        dev: String,
        /// The raw `id`.
        id: u64,
        /// The carried name, or `unknown(N):[ID]`.
        name: String,
        /// See [`NodeView::key`].
        key: String,
    },
}

/// For `skip_serializing_if`.
fn is_false(b: &bool) -> bool {
    !*b
}

impl From<NodeView<'_>> for JsonNode {
    fn from(v: NodeView<'_>) -> Self {
        let n = v.node;
        let name = v.name();
        let key = v.key();
        let name_truncated = v.truncated && !v.name.is_empty();
        match NodeKind::from_raw(n.kind) {
            Some(NodeKind::None) => Self::None { key },
            Some(NodeKind::Process) => Self::Process {
                vm_id: n.vm_id,
                pid: n.id,
                name,
                name_truncated,
                key,
            },
            Some(NodeKind::File) => Self::File {
                vm_id: n.vm_id,
                dev: dev_text(n.dev),
                ino: n.id,
                name,
                name_truncated,
                key,
            },
            Some(NodeKind::Pipe) => Self::Pipe {
                vm_id: n.vm_id,
                dev: dev_text(n.dev),
                ino: n.id,
                name,
                name_truncated,
                key,
            },
            Some(NodeKind::UnixSocket) => Self::UnixSocket {
                vm_id: n.vm_id,
                sock: format!("{:#x}", n.id),
                name,
                name_truncated,
                key,
            },
            Some(NodeKind::Flow) => {
                let (sock_type, src, dst) = v.flow_parts();
                Self::Flow {
                    vm_id: n.vm_id,
                    sock_type,
                    src,
                    dst,
                    name,
                    key,
                }
            }
            Some(NodeKind::SharedMemory) => Self::SharedMemory {
                vm_id: n.vm_id,
                shmid: n.id,
                name,
                key,
            },
            Some(NodeKind::MessageQueue) => {
                let posix = n.dev != 0;
                Self::MessageQueue {
                    vm_id: n.vm_id,
                    msqid: (!posix).then_some(n.id),
                    dev: posix.then(|| dev_text(n.dev)),
                    ino: posix.then_some(n.id),
                    name,
                    name_truncated,
                    key,
                }
            }
            Some(NodeKind::Remote) => {
                let (sock_type, src, dst) = v.flow_parts();
                Self::Remote {
                    vm_id: n.vm_id,
                    sock_type,
                    src,
                    dst,
                    name,
                    key,
                }
            }
            None => Self::Unknown {
                raw_kind: n.kind,
                vm_id: n.vm_id,
                dev: dev_text(n.dev),
                id: n.id,
                name,
                key,
            },
        }
    }
}

/// What `watch` knows of the secrets defined: id to pattern (from
/// `IOCTL_SECRET_LIST`).
pub type SecretPatterns = BTreeMap<u32, String>;

/// A set of secrets for people: `secrets 0,1`, `secret 3`, or with the
/// patterns known, `secrets 0=/secret/**,1`.
pub fn secrets_text(mask: u64, patterns: &SecretPatterns) -> String {
    let ids = secret_ids(mask);
    let noun = if ids.len() == 1 { "secret" } else { "secrets" };
    if ids.is_empty() {
        return "no secrets".into();
    }
    let items: Vec<String> = ids
        .iter()
        .map(|id| match patterns.get(id) {
            Some(p) => format!("{id}={p}"),
            None => id.to_string(),
        })
        .collect();
    format!("{noun} {}", items.join(","))
}

/// How `watch` colours its text: ANSI escapes, or none.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Colors {
    /// Whether to colour at all.
    pub on: bool,
}

impl Colors {
    /// `text` in the SGR `code` (e.g. `1;31`), if colouring.
    pub fn paint(self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
}

/// SGR code of an operation's name: exfiltration bold red, a new
/// confidential file bold yellow, a rename magenta, the rest cyan.
fn op_color(op: u32) -> &'static str {
    match DiffusionOp::from_raw(op) {
        Some(DiffusionOp::Exfiltrate) => "1;31",
        Some(DiffusionOp::Source) => "1;33",
        Some(DiffusionOp::Rename) => "35",
        _ => "36",
    }
}

/// The actor of a diffusion as `comm[pid]`, or `?` when not resolved.
fn actor_text(t: &TaskIdentity) -> String {
    if Resolution::from_raw(t.status) != Some(Resolution::Resolved) {
        return "?".into();
    }
    let len = t.comm.iter().position(|&b| b == 0).unwrap_or(t.comm.len());
    format!("{}[{}]", String::from_utf8_lossy(&t.comm[..len]), t.tgid)
}

/// The VM column: `vmN`, or `host` for 0 (the flows between VMs).
fn vm_column(vm_id: u32) -> String {
    if vm_id == 0 {
        "host".into()
    } else {
        format!("vm{vm_id}")
    }
}

/// A diffusion record as one line of text, e.g.
/// `vm1  cat[44]   read       /secret/plan.txt -> cat[44]  secrets 0,1`,
/// `vm1  mv[60]    renamed /secret/a -> /tmp/b  secret 0`, or
/// `vm1  cat[44]   confidential /secret/plan.txt (secret 0=/secret/**)`.
pub fn diffusion_text(r: &DiffusionRecord, patterns: &SecretPatterns, colors: Colors) -> String {
    // Names come from the guest: never printed raw.
    let source = NodeView::source(r).label();
    let source = printable(&source);
    let target = NodeView::target(r).label();
    let target = printable(&target);
    let actor = actor_text(&r.actor);
    let head = format!("{:<4} {:<9} ", vm_column(r.vm_id), printable(&actor));
    let secrets = colors.paint("33", &secrets_text(r.secrets, patterns));
    let paint = |text: &str| colors.paint(op_color(r.op), text);
    match DiffusionOp::from_raw(r.op) {
        Some(DiffusionOp::Source) => {
            format!("{head}{} {target} ({secrets})", paint("confidential"))
        }
        Some(DiffusionOp::Rename) => {
            format!("{head}{} {source} -> {target}  {secrets}", paint("renamed"))
        }
        _ => {
            let op = format!("{:<10}", op_name(r.op));
            format!("{head}{} {source} -> {target}  {secrets}", paint(&op))
        }
    }
}

/// A pressure record as one line of text, e.g. `vm1  warning: the
/// processes table is full (256 entries) and forgot ?[44] (secret 0):
/// diffusion through it is no longer followed (3 forgotten so far)`.
pub fn pressure_text(r: &PressureRecord, patterns: &SecretPatterns, colors: Colors) -> String {
    format!(
        "{:<4} {} the {} table is full ({} entries) and forgot {} ({}): \
         diffusion through it is no longer followed ({} forgotten so far)",
        vm_column(r.vm_id),
        colors.paint("1;33", "warning:"),
        table_name(r.table),
        r.capacity,
        printable(&NodeView::unnamed(&r.node).label()),
        secrets_text(r.secrets, patterns),
        r.evictions
    )
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use leaktrace_abi::RecordHeader;
    use leaktrace_abi::RecordKind;

    pub(crate) fn node(kind: NodeKind, vm_id: u32, id: u64) -> Node {
        Node {
            kind: kind as u32,
            vm_id,
            id,
            ..Node::default()
        }
    }

    pub(crate) fn flow(kind: NodeKind, vm_id: u32, udp: bool) -> Node {
        Node {
            kind: kind as u32,
            vm_id,
            sock_type: if udp { 2 } else { 1 },
            src_addr: [10, 0, 0, 1],
            dst_addr: if kind == NodeKind::Remote {
                [198, 51, 100, 7]
            } else {
                [10, 0, 0, 2]
            },
            src_port: 5000,
            dst_port: if kind == NodeKind::Remote { 9999 } else { 7000 },
            ..Node::default()
        }
    }

    pub(crate) fn task(comm: &str, pid: u32) -> TaskIdentity {
        let mut t = TaskIdentity {
            task: 0xffff_8880_0000_1000,
            status: Resolution::Resolved as u32,
            pid,
            tgid: pid,
            ppid: 1,
            ..TaskIdentity::default()
        };
        t.comm[..comm.len()].copy_from_slice(comm.as_bytes());
        t
    }

    /// A diffusion record of `op` from `source` to `target`.
    pub(crate) fn record(
        op: DiffusionOp,
        source: (Node, &str),
        target: (Node, &str),
        secrets: u64,
    ) -> DiffusionRecord {
        let mut r = DiffusionRecord {
            header: RecordHeader::new::<DiffusionRecord>(RecordKind::Diffusion, 5_000),
            vm_id: 1,
            op: op as u32,
            call_id: 12,
            nr: 0,
            secrets,
            new_secrets: secrets,
            actor: task("cat", 44),
            source: source.0,
            target: target.0,
            ..Default::default()
        };
        r.set_names(source.1.as_bytes(), target.1.as_bytes());
        r.header.size = DiffusionRecord::size_for(r.names_len()) as u16;
        r
    }

    fn view(n: &Node, name: &'static str) -> NodeView<'static> {
        let n: &'static Node = Box::leak(Box::new(*n));
        NodeView {
            node: n,
            name: name.as_bytes(),
            truncated: false,
        }
    }

    #[test]
    fn nodes_have_names_labels_and_keys() {
        let mut file = node(NodeKind::File, 1, 12);
        file.dev = 8 << 20 | 1;
        let mut pipe = node(NodeKind::Pipe, 1, 345);
        pipe.dev = 12;
        let mut mq = node(NodeKind::MessageQueue, 2, 77);
        mq.dev = 19;
        let cases = [
            (
                node(NodeKind::Process, 1, 44),
                "cat",
                "cat",
                "cat[44]",
                "vm1/process/44",
            ),
            (
                node(NodeKind::Process, 1, 44),
                "",
                "?",
                "?[44]",
                "vm1/process/44",
            ),
            (
                file,
                "/secret/plan.txt",
                "/secret/plan.txt",
                "/secret/plan.txt",
                "vm1/file/8:1/12",
            ),
            (
                file,
                "",
                "file:[8:1/12]",
                "file:[8:1/12]",
                "vm1/file/8:1/12",
            ),
            (pipe, "", "pipe:[345]", "pipe:[345]", "vm1/pipe/0:12/345"),
            (
                node(NodeKind::UnixSocket, 1, 0xffff_8880_1234_5600),
                "",
                "unix:[0xffff888012345600]",
                "unix:[0xffff888012345600]",
                "vm1/unix_socket/0xffff888012345600",
            ),
            (
                flow(NodeKind::Flow, 0, false),
                "",
                "tcp 10.0.0.1:5000>10.0.0.2:7000",
                "tcp 10.0.0.1:5000>10.0.0.2:7000",
                "flow/tcp/10.0.0.1:5000>10.0.0.2:7000",
            ),
            (
                flow(NodeKind::Flow, 3, false),
                "",
                "tcp 10.0.0.1:5000>10.0.0.2:7000",
                "tcp 10.0.0.1:5000>10.0.0.2:7000",
                "vm3/flow/tcp/10.0.0.1:5000>10.0.0.2:7000",
            ),
            (
                Node {
                    src_addr: [0; 4],
                    src_port: 0,
                    dst_addr: [0; 4],
                    ..flow(NodeKind::Flow, 3, true)
                },
                "",
                "udp *>*:7000",
                "udp *>*:7000",
                "vm3/flow/udp/*>*:7000",
            ),
            (
                node(NodeKind::SharedMemory, 1, 9),
                "",
                "shm:[9]",
                "shm:[9]",
                "vm1/shared_memory/9",
            ),
            (
                node(NodeKind::MessageQueue, 1, 3),
                "",
                "msq:[3]",
                "msq:[3]",
                "vm1/message_queue/3",
            ),
            (mq, "/q", "/q", "/q", "vm2/message_queue/0:19/77"),
            (
                flow(NodeKind::Remote, 1, true),
                "",
                "198.51.100.7:9999/udp",
                "198.51.100.7:9999/udp",
                "remote/udp/198.51.100.7:9999",
            ),
            (node(NodeKind::None, 0, 0), "", "-", "-", "none"),
            (
                node(NodeKind::Process, 1, 0),
                "",
                "?",
                "?[0]",
                "vm1/process/0",
            ),
        ];
        for (n, carried, name, label, key) in cases {
            let v = view(&n, carried);
            assert_eq!(v.name(), name, "{n:?}");
            assert_eq!(v.label(), label, "{n:?}");
            assert_eq!(v.key(), key, "{n:?}");
        }
        let mut odd = node(NodeKind::File, 1, 5);
        odd.kind = 42;
        let v = view(&odd, "");
        assert_eq!(v.key(), "vm1/unknown(42)/0:0/5");
        assert_eq!(v.name(), "unknown(42):[5]");
    }

    #[test]
    fn nodes_in_json() {
        let json = |n: &Node, name: &'static str| {
            serde_json::to_value(JsonNode::from(view(n, name))).unwrap()
        };
        assert_eq!(
            json(&node(NodeKind::Process, 1, 44), "cat"),
            serde_json::json!({"kind": "process", "vm_id": 1, "pid": 44, "name": "cat",
                               "key": "vm1/process/44"})
        );
        let mut file = node(NodeKind::File, 1, 12);
        file.dev = 8 << 20 | 1;
        assert_eq!(
            json(&file, "/secret/plan.txt"),
            serde_json::json!({"kind": "file", "vm_id": 1, "dev": "8:1", "ino": 12,
                               "name": "/secret/plan.txt", "key": "vm1/file/8:1/12"})
        );
        assert_eq!(
            json(&flow(NodeKind::Flow, 0, false), ""),
            serde_json::json!({"kind": "flow", "vm_id": 0, "type": "tcp",
                               "src": "10.0.0.1:5000", "dst": "10.0.0.2:7000",
                               "name": "tcp 10.0.0.1:5000>10.0.0.2:7000",
                               "key": "flow/tcp/10.0.0.1:5000>10.0.0.2:7000"})
        );
        assert_eq!(
            json(&flow(NodeKind::Remote, 1, true), ""),
            serde_json::json!({"kind": "remote", "vm_id": 1, "type": "udp",
                               "src": "10.0.0.1:5000", "dst": "198.51.100.7:9999",
                               "name": "198.51.100.7:9999/udp",
                               "key": "remote/udp/198.51.100.7:9999"})
        );
        assert_eq!(
            json(&node(NodeKind::MessageQueue, 1, 3), ""),
            serde_json::json!({"kind": "message_queue", "vm_id": 1, "msqid": 3,
                               "name": "msq:[3]", "key": "vm1/message_queue/3"})
        );
        let mut mq = node(NodeKind::MessageQueue, 1, 77);
        mq.dev = 19;
        assert_eq!(
            json(&mq, "/q"),
            serde_json::json!({"kind": "message_queue", "vm_id": 1, "dev": "0:19", "ino": 77,
                               "name": "/q", "key": "vm1/message_queue/0:19/77"})
        );
        assert_eq!(
            json(&node(NodeKind::UnixSocket, 1, 0x10), "")["sock"],
            "0x10"
        );
        assert_eq!(json(&node(NodeKind::SharedMemory, 1, 9), "")["shmid"], 9);
        assert_eq!(
            json(&node(NodeKind::None, 0, 0), ""),
            serde_json::json!({"kind": "none", "key": "none"})
        );
        let mut odd = node(NodeKind::File, 1, 5);
        odd.kind = 42;
        assert_eq!(json(&odd, "")["kind"], "unknown");
        assert_eq!(json(&odd, "")["raw_kind"], 42);
    }

    #[test]
    fn names_and_masks() {
        assert_eq!(op_name(7), "exfiltrate");
        assert_eq!(op_name(0), "unknown(0)");
        assert_eq!(table_name(4), "in_flight");
        assert_eq!(table_name(9), "unknown(9)");
        assert_eq!(secret_ids(0b1011), [0, 1, 3]);
        assert_eq!(secret_ids(1 << 63), [63]);
        assert_eq!(dev_text(8 << 20 | 1), "8:1");
        assert_eq!(dev_text(0xfff_fffff), "4095:1048575");
        let mut patterns = SecretPatterns::new();
        assert_eq!(secrets_text(0b11, &patterns), "secrets 0,1");
        assert_eq!(secrets_text(0b10, &patterns), "secret 1");
        assert_eq!(secrets_text(0, &patterns), "no secrets");
        patterns.insert(0, "/secret/**".into());
        assert_eq!(secrets_text(0b11, &patterns), "secrets 0=/secret/**,1");
    }

    #[test]
    fn diffusion_lines() {
        let none = SecretPatterns::new();
        let plain = Colors::default();
        let mut file = node(NodeKind::File, 1, 12);
        file.dev = 8 << 20 | 1;
        let cat = node(NodeKind::Process, 1, 44);
        let r = record(
            DiffusionOp::Read,
            (file, "/secret/plan.txt"),
            (cat, "cat"),
            3,
        );
        assert_eq!(
            diffusion_text(&r, &none, plain),
            "vm1  cat[44]   read       /secret/plan.txt -> cat[44]  secrets 0,1"
        );
        let mut r = record(
            DiffusionOp::Exfiltrate,
            (node(NodeKind::Process, 1, 50), "sh"),
            (flow(NodeKind::Remote, 1, true), ""),
            1,
        );
        r.actor = task("sh", 50);
        assert_eq!(
            diffusion_text(&r, &none, plain),
            "vm1  sh[50]    exfiltrate sh[50] -> 198.51.100.7:9999/udp  secret 0"
        );
        let r = record(
            DiffusionOp::Rename,
            (file, "/secret/a"),
            (file, "/tmp/b"),
            1,
        );
        assert_eq!(
            diffusion_text(&r, &none, plain),
            "vm1  cat[44]   renamed /secret/a -> /tmp/b  secret 0"
        );
        let mut patterns = SecretPatterns::new();
        patterns.insert(0, "/secret/**".into());
        let r = record(
            DiffusionOp::Source,
            (file, "/secret/plan.txt"),
            (file, "/secret/plan.txt"),
            1,
        );
        assert_eq!(
            diffusion_text(&r, &patterns, plain),
            "vm1  cat[44]   confidential /secret/plan.txt (secret 0=/secret/**)"
        );
        let colored = diffusion_text(&r, &patterns, Colors { on: true });
        assert!(
            colored.contains("\x1b[1;33mconfidential\x1b[0m"),
            "{colored:?}"
        );
        // A truncated path keeps its tail, marked.
        let long = format!("/{}", "d/".repeat(200));
        let r = record(DiffusionOp::Write, (cat, "cat"), (file, &long), 1);
        let text = diffusion_text(&r, &none, plain);
        assert!(text.contains(" -> ...d/d/"), "{text}");
        let mut r = r;
        r.actor.status = Resolution::Unresolved as u32;
        assert!(diffusion_text(&r, &none, plain).starts_with("vm1  ?         write"));
    }

    #[test]
    fn pressure_lines() {
        let r = PressureRecord {
            vm_id: 0,
            table: TableKind::Flows as u32,
            capacity: 1024,
            node: flow(NodeKind::Flow, 0, false),
            secrets: 1,
            evictions: 3,
            ..Default::default()
        };
        assert_eq!(
            pressure_text(&r, &SecretPatterns::new(), Colors::default()),
            "host warning: the flows table is full (1024 entries) and forgot \
             tcp 10.0.0.1:5000>10.0.0.2:7000 (secret 0): diffusion through it is no longer \
             followed (3 forgotten so far)"
        );
    }
}
