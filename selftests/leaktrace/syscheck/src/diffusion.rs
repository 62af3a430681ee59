// SPDX-License-Identifier: GPL-2.0

//! Checker of the diffusion scenarios (`selftests/scenarios/diffusion-*`):
//! the `diffusion` records of a run, each turned into one line of text (its
//! *label*), against the scenario's `expected` file. See `diffusion-check
//! --help`, Documentation/testbed.rst ("Checking diffusion: the expected
//! file") and [`check`].
//!
//! # Labels
//!
//! A record is `vmN OP SOURCE -> TARGET`, or `vmN OP NODE` for `source`
//! and `rename` records (whose source and target are the same file).
//! `vmN` is the guest (the record's `vm_id`, by its UUID in `vm` records
//! and `summary.txt`; `vm#ID` when unknown), `OP` the record's `op`. A
//! node is:
//!
//! | kind            | label                                             |
//! |-----------------|---------------------------------------------------|
//! | `process`       | `process:COMM` (`process:?` when unknown)         |
//! | `file`          | `file:PATH`, or the reader's `file:[DEV/INO]` when the record has no path |
//! | `pipe`          | `pipe` (`pipe:PATH` if the record names it)       |
//! | `unix_socket`   | `unix` (`unix:PATH` if the record names it)       |
//! | `flow`          | `flow:TYPE->vmR:PORT`: TYPE `tcp`/`udp`, R the receiving guest, PORT the receiver's |
//! | `shared_memory` | `shm`                                             |
//! | `message_queue` | `msq` (System V), `mq:NAME` (POSIX, if the reader ever shows one so) |
//! | `remote`        | `remote:TYPE:ADDR:PORT` (the destination)         |
//!
//! Whitespace in names becomes `_`, so that a label is one word.

pub mod check;
pub mod expected;

#[cfg(test)]
mod tests;

use crate::input::{record, EventStream, RunLog, VmEvent};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

/// A node object of a diffusion line (the fields labels use).
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct Node {
    /// `process`, `file`, `pipe`, ...
    pub kind: String,
    /// The node's stable key.
    pub key: String,
    /// The VM (a flow's: the receiving one).
    #[serde(default)]
    pub vm_id: Option<u64>,
    /// The name the record carries, or the reader's stand-in.
    #[serde(default)]
    pub name: Option<String>,
    /// `tcp` or `udp` (flows, remotes).
    #[serde(default, rename = "type")]
    pub sock_type: Option<String>,
    /// Receiver or destination, `a.b.c.d:port` (flows, remotes).
    #[serde(default)]
    pub dst: Option<String>,
    /// System V queue id (message queues).
    #[serde(default)]
    pub msqid: Option<u64>,
}

/// The `actor` object of a diffusion line (what the checks use).
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct Actor {
    /// Process id.
    #[serde(default)]
    pub tgid: Option<u64>,
    /// Command name.
    #[serde(default)]
    pub comm: Option<String>,
}

/// A `{"type":"diffusion"}` line.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Diffusion {
    /// Production time.
    pub time_ns: u64,
    /// The VM where it happened.
    pub vm_id: u64,
    /// `read`, `write`, `map`, `inherit`, `transfer`, `attach`,
    /// `exfiltrate`, `rename`, `source`.
    pub op: String,
    /// The call's id in the VM.
    pub call_id: u64,
    /// The system call's name, if known.
    #[serde(default)]
    pub syscall: Option<String>,
    /// Secrets the data carries.
    pub secrets: Vec<u32>,
    /// Those new to the target.
    pub new_secrets: Vec<u32>,
    /// Who made the call.
    #[serde(default)]
    pub actor: Option<Actor>,
    /// Where the data came from.
    pub source: Node,
    /// Where it went.
    pub target: Node,
    /// Line in events.jsonl, from 1.
    #[serde(skip)]
    pub line: usize,
}

/// `events.jsonl` as this checker reads it.
#[derive(Clone, Debug, Default)]
pub struct Events {
    /// Diffusion records, in file order.
    pub diffusions: Vec<Diffusion>,
    /// VM records.
    pub vms: Vec<VmEvent>,
    /// `pressure` lines, as text.
    pub pressure: Vec<String>,
    /// Line count, lost and bad lines.
    pub stream: EventStream,
}

impl Events {
    /// Parses the reader's output; never fails, bad lines are collected.
    pub fn parse(text: &str) -> Self {
        let (mut diffusions, mut vms, mut pressure) = (Vec::new(), Vec::new(), Vec::new());
        let stream = EventStream::parse(text, |ty, v, line| {
            match ty {
                "diffusion" => diffusions.push(Diffusion {
                    line,
                    ..record(v, "diffusion")?
                }),
                "vm" => vms.push(VmEvent {
                    line,
                    ..record(v, "vm")?
                }),
                "pressure" => pressure.push(format!("line {line}: {v}")),
                _ => {}
            }
            Ok(())
        });
        Events {
            diffusions,
            vms,
            pressure,
            stream,
        }
    }
}

/// The module's VM ids as the scenario's guests: `vmN`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VmNames {
    /// Module VM id to guest number.
    pub by_id: BTreeMap<u64, u32>,
}

impl VmNames {
    /// From the `vm` records' UUIDs and the guests' UUIDs in `summary.txt`.
    pub fn new(vms: &[VmEvent], guests: &[crate::input::SummaryGuest]) -> Self {
        let mut by_id = BTreeMap::new();
        for v in vms {
            let Some(uuid) = v.uuid.as_deref() else {
                continue;
            };
            let uuid = uuid.to_ascii_lowercase();
            if let Some(g) = guests.iter().find(|g| g.uuid == uuid) {
                by_id.insert(v.vm_id, g.n);
            }
        }
        VmNames { by_id }
    }

    /// `vmN` for module VM id `id`, `vm#ID` when it is not a known guest.
    pub fn name(&self, id: u64) -> String {
        match self.by_id.get(&id) {
            Some(n) => format!("vm{n}"),
            None => format!("vm#{id}"),
        }
    }
}

/// `s` with whitespace as `_`.
fn one_word(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_whitespace() { '_' } else { c })
        .collect()
}

/// The label of node `n` of a record of VM `record_vm` (module id).
pub fn node_label(n: &Node, record_vm: u64, vms: &VmNames) -> String {
    let name = one_word(n.name.as_deref().unwrap_or(""));
    let kind = n.kind.as_str();
    let t = n.sock_type.as_deref().unwrap_or("?");
    let dst = n.dst.as_deref().unwrap_or("?:?");
    match kind {
        "process" if name.is_empty() => "process:?".into(),
        "process" => format!("process:{name}"),
        "file" if name.starts_with("file:") => name,
        "file" if name.is_empty() => "file:?".into(),
        "file" => format!("file:{name}"),
        "pipe" if name.is_empty() || name.starts_with("pipe:[") => "pipe".into(),
        "pipe" => format!("pipe:{name}"),
        "unix_socket" if name.is_empty() || name.starts_with("unix:[") => "unix".into(),
        "unix_socket" => format!("unix:{name}"),
        "flow" => {
            let (addr, port) = dst.rsplit_once(':').unwrap_or((dst, "?"));
            let receiver = match n.vm_id.filter(|&v| v != 0) {
                Some(v) => vms.name(v),
                None => match addr.strip_prefix("10.0.0.") {
                    Some(g) => format!("vm{g}"),
                    None if addr.starts_with("127.") => vms.name(record_vm),
                    None => addr.to_string(),
                },
            };
            format!("flow:{t}->{receiver}:{port}")
        }
        "shared_memory" => "shm".into(),
        "message_queue" if n.msqid.is_some() || name.is_empty() || name.starts_with("msq:[") => {
            "msq".into()
        }
        "message_queue" => format!("mq:{name}"),
        "remote" => format!("remote:{t}:{dst}"),
        "none" => "none".into(),
        _ if name.is_empty() => kind.into(),
        _ => format!("{kind}:{name}"),
    }
}

/// A record as the expected file writes it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Edge {
    /// `vmN`.
    pub vm: String,
    /// The operation.
    pub op: String,
    /// The source's label; `None` for `source` and `rename` records.
    pub source: Option<String>,
    /// The target's label.
    pub target: String,
}

impl fmt::Display for Edge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Some(s) => write!(f, "{} {} {s} -> {}", self.vm, self.op, self.target),
            None => write!(f, "{} {} {}", self.vm, self.op, self.target),
        }
    }
}

/// Whether a record names one node only (a file that became
/// confidential, or was seen under a new name).
pub fn is_node_op(op: &str) -> bool {
    op == "source" || op == "rename"
}

/// The label of a record.
pub fn edge_of(d: &Diffusion, vms: &VmNames) -> Edge {
    Edge {
        vm: vms.name(d.vm_id),
        op: d.op.clone(),
        source: (!is_node_op(&d.op)).then(|| node_label(&d.source, d.vm_id, vms)),
        target: node_label(&d.target, d.vm_id, vms),
    }
}

/// Everything the check looks at.
#[derive(Clone, Debug)]
pub struct Input {
    /// `summary.txt`, parsed.
    pub summary: crate::input::Summary,
    /// `summary.txt` as written (its `graph:` notes).
    pub summary_text: String,
    /// `events.jsonl`, or why it could not be read.
    pub events: Result<Events, String>,
    /// `vmN.log` per guest.
    pub logs: BTreeMap<u32, Result<RunLog, String>>,
    /// The expected file.
    pub expected: expected::Expected,
    /// Its path, for messages.
    pub expected_path: PathBuf,
    /// `graph.json`, or why it could not be read.
    pub graph_json: Result<String, String>,
    /// `graph.dot`, or why it could not be read.
    pub graph_dot: Result<String, String>,
}

/// Reads a diffusion scenario's `out/` directory and its `expected` file
/// (`expected`, or `OUT_DIR/../expected`); a malformed expected file is an
/// error.
pub fn load_out_dir(
    dir: &Path,
    events: Option<&Path>,
    expected: Option<&Path>,
) -> Result<Input, String> {
    let d = crate::read_out_dir(dir, events, Events::parse, |t| RunLog::parse(t, |_, _| {}))?;
    let expected_path = match expected {
        Some(p) => p.to_path_buf(),
        None => match dir.parent() {
            Some(p) if !p.as_os_str().is_empty() && dir.file_name().is_some() => p.join("expected"),
            _ => dir.join("..").join("expected"),
        },
    };
    let text = fs::read_to_string(&expected_path)
        .map_err(|e| format!("{}: {e}", expected_path.display()))?;
    let exp =
        expected::Expected::parse(&text).map_err(|e| format!("{}:{e}", expected_path.display()))?;
    let read = |name: &str| {
        let p = dir.join(name);
        fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))
    };
    Ok(Input {
        summary: d.summary,
        summary_text: d.summary_text,
        events: d.events,
        logs: d.logs,
        expected: exp,
        expected_path,
        graph_json: read("graph.json"),
        graph_dot: read("graph.dot"),
    })
}
