// SPDX-License-Identifier: GPL-2.0

//! `leaktrace graph`: the diffusion graph of a `watch --json` event file,
//! as Graphviz dot, W3C PROV-JSON, or plain JSON.
//!
//! Every `diffusion` line is an edge from its `source` node to its
//! `target` node; nodes are merged by their `key`
//! ([`crate::diffusion::NodeView::key`]). Other lines are not part of the
//! graph, but `vm` lines give the VMs' UUIDs, and `lost` and `pressure`
//! lines are counted: they mean the graph may miss edges ([`Stats`]).
//! The input is sorted first (by time, VM, call, nodes, operation), so
//! the same records give the same output whatever their order; a node's
//! `name` is the first one it had, later ones are its `aliases` (a
//! renamed file, a process that ran another program).
//!
//! The formats are documented in Documentation/abi.rst ("leaktrace
//! graph").

use crate::format::printable;
use serde_json::json;
use serde_json::Map;
use serde_json::Value;
use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::fmt;
use std::fmt::Write as _;
use std::io;
use std::io::BufRead;

/// Output format of `leaktrace graph`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum GraphFormat {
    /// Graphviz dot: a cluster per VM.
    #[default]
    Dot,
    /// W3C PROV-JSON.
    ProvJson,
    /// `{"nodes": [...], "edges": [...]}`.
    Json,
    /// The edges in time order, one line each, then a summary: what an
    /// operator reads.
    Text,
}

/// Why an event file could not be read: the line and the problem.
#[derive(Debug)]
pub enum GraphError {
    /// Reading failed.
    Io(io::Error),
    /// A line that is not what `watch --json` writes.
    Line {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        problem: String,
    },
}

impl fmt::Display for GraphError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => write!(f, "{e}"),
            Self::Line { line, problem } => write!(f, "line {line}: {problem}"),
        }
    }
}

impl std::error::Error for GraphError {}

/// What the event file held besides the graph.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Non-empty lines read.
    pub lines: usize,
    /// `diffusion` lines (edges before merging exact duplicates).
    pub diffusions: usize,
    /// Records the watch reported lost (`lost` lines' `count`).
    pub lost: u64,
    /// `pressure` lines: table entries forgotten.
    pub pressure: usize,
}

/// One node of the graph.
#[derive(Clone, Debug, PartialEq)]
pub struct GraphNode {
    /// Its key.
    pub key: String,
    /// Its kind (`process`, `file`, ...).
    pub kind: String,
    /// The VM it is in; `None` for a remote (outside the traced VMs).
    pub vm_id: Option<u64>,
    /// Its first name.
    pub name: String,
    /// Later names, in order of first appearance.
    pub aliases: Vec<String>,
    /// The kind's own fields as the first record gave them (`pid`,
    /// `dev`, `ino`, `type`, `dst`...).
    pub fields: Map<String, Value>,
    /// Every secret that reached it (or that made it confidential).
    pub secrets: BTreeSet<u64>,
    /// A file that matched a secret (`source`).
    pub confidential: bool,
    /// Data left the traced VMs for it (`exfiltrate`, or a remote).
    pub exfiltration: bool,
}

impl GraphNode {
    /// A name as shown: `comm[pid]` for a process, the name otherwise.
    fn shown(&self, name: &str) -> String {
        match (self.kind.as_str(), self.fields.get("pid")) {
            ("process", Some(pid)) => format!("{name}[{pid}]"),
            _ => name.to_owned(),
        }
    }

    /// The node's label: its name, and its aliases on lines of their own.
    pub fn label(&self) -> String {
        std::iter::once(&self.name)
            .chain(&self.aliases)
            .map(|n| self.shown(n))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Whether it is a process (a PROV activity), not a place (entity).
    fn is_process(&self) -> bool {
        self.kind == "process"
    }
}

/// One edge: one diffusion record.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct GraphEdge {
    /// When the call returned, ns.
    pub time_ns: u64,
    /// The VM where it happened.
    pub vm_id: u64,
    /// The call's id in that VM.
    pub call_id: u64,
    /// Source node's key.
    pub source: String,
    /// Target node's key.
    pub target: String,
    /// The operation.
    pub op: String,
    /// The system call's name, if known.
    pub syscall: Option<String>,
    /// Secrets carried.
    pub secrets: Vec<u64>,
    /// Of those, new to the target.
    pub new_secrets: Vec<u64>,
    /// Key of the process that made the call, if known.
    pub actor: Option<String>,
    /// Its label, `comm[pid]`.
    pub actor_label: Option<String>,
}

/// A diffusion line, parsed.
struct Diffusion {
    /// The edge.
    edge: GraphEdge,
    /// Its source node object.
    source: Map<String, Value>,
    /// Its target node object.
    target: Map<String, Value>,
}

/// The diffusion graph.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Graph {
    /// Nodes by key.
    pub nodes: BTreeMap<String, GraphNode>,
    /// Edges, sorted, without exact duplicates.
    pub edges: Vec<GraphEdge>,
    /// UUIDs of the VMs, from `vm` lines.
    pub uuids: BTreeMap<u64, String>,
    /// Names given to VMs by UUID ([`Graph::name_vms`]).
    pub names: BTreeMap<String, String>,
    /// What else the file held.
    pub stats: Stats,
}

/// The field `key` of `obj`, which must be a string.
fn string_field(obj: &Map<String, Value>, what: &str, key: &str) -> Result<String, String> {
    match obj.get(key) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(format!("`{what}{key}` is not a string")),
        None => Err(format!("diffusion record without `{what}{key}`")),
    }
}

/// The field `key` of `obj`, which must be a whole number.
fn number_field(obj: &Map<String, Value>, key: &str) -> Result<u64, String> {
    obj.get(key)
        .and_then(Value::as_u64)
        .ok_or_else(|| format!("diffusion record without a whole number `{key}`"))
}

/// The field `key` of `obj`: an array of whole numbers.
fn ids_field(obj: &Map<String, Value>, key: &str) -> Result<Vec<u64>, String> {
    let bad = || format!("`{key}` is not an array of secret ids");
    let Some(Value::Array(items)) = obj.get(key) else {
        return Err(bad());
    };
    let mut ids: Vec<u64> = items
        .iter()
        .map(|v| v.as_u64().ok_or_else(bad))
        .collect::<Result<_, _>>()?;
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// The node object at `key` of a diffusion line, with string `key` and
/// `kind`.
fn node_field(obj: &Map<String, Value>, key: &str) -> Result<Map<String, Value>, String> {
    let Some(Value::Object(node)) = obj.get(key) else {
        return Err(format!("diffusion record without a `{key}` object"));
    };
    let what = format!("{key}.");
    string_field(node, &what, "key")?;
    string_field(node, &what, "kind")?;
    Ok(node.clone())
}

/// Parses a diffusion line's object.
fn parse_diffusion(obj: &Map<String, Value>) -> Result<Diffusion, String> {
    let source = node_field(obj, "source")?;
    let target = node_field(obj, "target")?;
    let vm_id = number_field(obj, "vm_id")?;
    let syscall = match obj.get("syscall") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err("`syscall` is neither a string nor null".into()),
    };
    let op = string_field(obj, "", "op")?;
    // A child that ran before its parent's fork returned inherits at its
    // own first call, which says nothing about the inheritance.
    let syscall = syscall.filter(|call| {
        op != "inherit" || matches!(call.as_str(), "fork" | "vfork" | "clone" | "clone3")
    });
    // The actor is informative: without a resolved one, no actor.
    let actor = obj.get("actor").and_then(Value::as_object);
    let tgid = actor.and_then(|a| a.get("tgid")).and_then(Value::as_u64);
    let comm = actor.and_then(|a| a.get("comm")).and_then(Value::as_str);
    Ok(Diffusion {
        edge: GraphEdge {
            time_ns: number_field(obj, "time_ns")?,
            vm_id,
            call_id: number_field(obj, "call_id")?,
            source: string_field(&source, "source.", "key")?,
            target: string_field(&target, "target.", "key")?,
            op,
            syscall,
            secrets: ids_field(obj, "secrets")?,
            new_secrets: ids_field(obj, "new_secrets")?,
            actor: tgid.map(|pid| format!("vm{vm_id}/process/{pid}")),
            actor_label: tgid.map(|pid| format!("{}[{pid}]", comm.unwrap_or("?"))),
        },
        source,
        target,
    })
}

impl Graph {
    /// Reads a `watch --json` event file and builds its graph.
    pub fn from_jsonl(input: impl BufRead) -> Result<Self, GraphError> {
        let mut graph = Self::default();
        let mut diffusions = Vec::new();
        for (i, line) in input.lines().enumerate() {
            let line = line.map_err(GraphError::Io)?;
            let fail = |problem| GraphError::Line {
                line: i + 1,
                problem,
            };
            if line.trim().is_empty() {
                continue;
            }
            graph.stats.lines += 1;
            let value: Value = serde_json::from_str(&line)
                .map_err(|e| fail(format!("not a JSON line of watch --json: {e}")))?;
            let Value::Object(obj) = value else {
                return Err(fail("not a JSON object".into()));
            };
            match obj.get("type").and_then(Value::as_str) {
                Some("diffusion") => {
                    diffusions.push(parse_diffusion(&obj).map_err(fail)?);
                    graph.stats.diffusions += 1;
                }
                Some("lost") => {
                    graph.stats.lost += obj.get("count").and_then(Value::as_u64).unwrap_or(0);
                }
                Some("pressure") => graph.stats.pressure += 1,
                Some("vm") => {
                    let id = obj.get("vm_id").and_then(Value::as_u64);
                    let uuid = obj.get("uuid").and_then(Value::as_str);
                    if let (Some(id), Some(uuid)) = (id, uuid) {
                        graph.uuids.insert(id, uuid.to_owned());
                    }
                }
                Some(_) => {}
                None => return Err(fail("no `type`: not a line of watch --json".into())),
            }
        }
        diffusions.sort_by(|a, b| a.edge.cmp(&b.edge));
        for d in diffusions {
            graph.add(d);
        }
        graph.edges.dedup();
        Ok(graph)
    }

    /// Adds a node as a record shows it, merging with the node of the
    /// same key; returns it.
    fn node(&mut self, obj: Map<String, Value>) -> &mut GraphNode {
        let key = obj.get("key").and_then(Value::as_str).unwrap_or_default();
        let kind = obj.get("kind").and_then(Value::as_str).unwrap_or_default();
        let name = obj
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or(key)
            .to_owned();
        let node = self.nodes.entry(key.to_owned()).or_insert_with(|| {
            let remote = kind == "remote";
            let mut fields = obj.clone();
            for k in ["key", "kind", "name", "vm_id", "name_truncated"] {
                fields.remove(k);
            }
            if remote {
                // The sending end differs from one record to the next.
                fields.remove("src");
            }
            GraphNode {
                key: key.to_owned(),
                kind: kind.to_owned(),
                vm_id: if remote {
                    None
                } else {
                    obj.get("vm_id").and_then(Value::as_u64)
                },
                name: name.clone(),
                aliases: Vec::new(),
                fields,
                secrets: BTreeSet::new(),
                confidential: false,
                exfiltration: remote,
            }
        });
        // A file the module could not name (its descriptor was gone when
        // the record was made) shows as `file:[dev/ino]`: a placeholder,
        // replaced by the first real name and never kept as an alias.
        let placeholder = |n: &str| kind == "file" && n.starts_with("file:[");
        if placeholder(&node.name) && !placeholder(&name) {
            node.name = name;
        } else if name != node.name && !placeholder(&name) && !node.aliases.contains(&name) {
            node.aliases.push(name);
        }
        node
    }

    /// Adds one diffusion.
    fn add(&mut self, d: Diffusion) {
        self.node(d.source);
        let target = self.node(d.target);
        target.secrets.extend(&d.edge.secrets);
        match d.edge.op.as_str() {
            "source" => target.confidential = true,
            "exfiltrate" => target.exfiltration = true,
            _ => {}
        }
        self.edges.push(d.edge);
    }

    /// The VMs that have nodes, with their clusters' nodes.
    fn clusters(&self) -> BTreeMap<u64, Vec<&GraphNode>> {
        let mut clusters: BTreeMap<u64, Vec<&GraphNode>> = BTreeMap::new();
        for node in self.nodes.values() {
            if let Some(vm) = node.vm_id.filter(|&vm| vm != 0) {
                clusters.entry(vm).or_default().push(node);
            }
        }
        clusters
    }

    /// Names VMs by UUID (`leaktrace graph --vm-name UUID=NAME`): the
    /// module's VM ids are its own, an operator knows VMs by UUID.
    pub fn name_vms(&mut self, names: impl IntoIterator<Item = (String, String)>) {
        self.names
            .extend(names.into_iter().map(|(uuid, name)| (uuid.to_ascii_lowercase(), name)));
    }

    /// A VM's short name: the name given for its UUID, else `vmN` (the
    /// module's id).
    fn vm_name(&self, vm: u64) -> String {
        self.uuids
            .get(&vm)
            .and_then(|uuid| self.names.get(&uuid.to_ascii_lowercase()))
            .cloned()
            .unwrap_or_else(|| format!("vm{vm}"))
    }

    /// A VM's label: its short name, with its UUID when known.
    fn vm_label(&self, vm: u64) -> String {
        match self.uuids.get(&vm) {
            Some(uuid) => format!("{}\n{uuid}", self.vm_name(vm)),
            None => self.vm_name(vm),
        }
    }

    /// The graph in Graphviz's dot language: a cluster per VM (a flow in
    /// its receiving VM's, remotes outside), processes as ellipses, files as
    /// notes, confidential files bold and filled, exfiltration targets
    /// red octagons, edges labelled with the operation, the system call
    /// when it says more, and the secrets. `source` edges are not drawn
    /// (the file is drawn confidential instead).
    pub fn to_dot(&self) -> String {
        let mut out = String::from("digraph leaktrace {\n");
        out.push_str("  rankdir=LR;\n");
        out.push_str("  node [fontname=\"Helvetica\", fontsize=10];\n");
        out.push_str("  edge [fontname=\"Helvetica\", fontsize=9];\n");
        for (vm, nodes) in self.clusters() {
            let _ = writeln!(out, "  subgraph cluster_vm{vm} {{");
            let _ = writeln!(out, "    label={};", dot_string(&self.vm_label(vm)));
            out.push_str("    style=rounded;\n");
            for node in nodes {
                let _ = writeln!(out, "    {}", dot_node(node));
            }
            out.push_str("  }\n");
        }
        for node in self.nodes.values() {
            if node.vm_id.is_none_or(|vm| vm == 0) {
                let _ = writeln!(out, "  {}", dot_node(node));
            }
        }
        for edge in &self.edges {
            if edge.op == "source" {
                continue;
            }
            let mut label = edge.op.clone();
            if let Some(call) = edge.syscall.as_deref().filter(|c| *c != edge.op) {
                let _ = write!(label, " ({call})");
            }
            if edge.op == "transfer" {
                if let Some(actor) = &edge.actor_label {
                    let _ = write!(label, "\nby {actor}");
                }
            }
            label.push('\n');
            label.push_str(&secrets_label(&edge.secrets));
            let mut attrs = vec![format!("label={}", dot_string(&label))];
            match edge.op.as_str() {
                "exfiltrate" => attrs.push("color=red, fontcolor=red, penwidth=2".into()),
                "inherit" => attrs.push("style=dashed".into()),
                _ => {}
            }
            let _ = writeln!(
                out,
                "  {} -> {} [{}];",
                dot_string(&edge.source),
                dot_string(&edge.target),
                attrs.join(", ")
            );
        }
        out.push_str("}\n");
        out
    }

    /// The graph as `{"nodes": [...], "edges": [...]}` (nodes by key,
    /// edges by time).
    pub fn to_json(&self) -> Value {
        let nodes: Vec<Value> = self
            .nodes
            .values()
            .map(|n| {
                let mut obj = n.fields.clone();
                obj.insert("key".into(), n.key.clone().into());
                obj.insert("kind".into(), n.kind.clone().into());
                obj.insert("vm_id".into(), n.vm_id.into());
                obj.insert("name".into(), n.name.clone().into());
                obj.insert("label".into(), n.label().into());
                obj.insert("aliases".into(), n.aliases.clone().into());
                obj.insert("secrets".into(), ids(&n.secrets).into());
                obj.insert("confidential".into(), n.confidential.into());
                obj.insert("exfiltration".into(), n.exfiltration.into());
                Value::Object(obj)
            })
            .collect();
        let edges: Vec<Value> = self
            .edges
            .iter()
            .map(|e| {
                json!({
                    "source": e.source,
                    "target": e.target,
                    "op": e.op,
                    "syscall": e.syscall,
                    "secrets": e.secrets,
                    "new_secrets": e.new_secrets,
                    "vm_id": e.vm_id,
                    "time_ns": e.time_ns,
                    "call_id": e.call_id,
                    "actor": e.actor,
                })
            })
            .collect();
        json!({"nodes": nodes, "edges": edges})
    }

    /// The graph in W3C PROV-JSON (Documentation/abi.rst has the
    /// mapping): processes are activities, every other node an entity,
    /// each VM an agent the VM's processes are associated with; reads
    /// are `used`, writes `wasGeneratedBy`, process to process
    /// `wasInformedBy`, place to place `wasDerivedFrom`.
    pub fn to_prov(&self) -> Value {
        let mut entity = Map::new();
        let mut activity = Map::new();
        let mut agent = Map::new();
        let mut associated = Map::new();
        let mut used = Map::new();
        let mut generated = Map::new();
        let mut informed = Map::new();
        let mut derived = Map::new();
        for node in self.nodes.values() {
            let mut attrs = Map::new();
            attrs.insert("prov:type".into(), qualified(&format!("lt:{}", node.kind)));
            attrs.insert("prov:label".into(), node.label().into());
            attrs.insert("lt:key".into(), node.key.clone().into());
            if let Some(vm) = node.vm_id {
                attrs.insert("lt:vm_id".into(), vm.into());
            }
            for (k, v) in &node.fields {
                attrs.insert(format!("lt:{k}"), v.clone());
            }
            if !node.aliases.is_empty() {
                attrs.insert("lt:aliases".into(), node.aliases.clone().into());
            }
            if !node.secrets.is_empty() {
                attrs.insert("lt:secrets".into(), ids(&node.secrets).into());
            }
            if node.confidential {
                attrs.insert("lt:confidential".into(), true.into());
            }
            if node.exfiltration {
                attrs.insert("lt:exfiltration".into(), true.into());
            }
            if node.is_process() {
                activity.insert(prov_id(&node.key), Value::Object(attrs));
            } else {
                entity.insert(prov_id(&node.key), Value::Object(attrs));
            }
        }
        // Actors of transfers that are not nodes themselves.
        for edge in &self.edges {
            if let (Some(key), Some(label)) = (&edge.actor, &edge.actor_label) {
                if !self.nodes.contains_key(key) {
                    activity.entry(prov_id(key)).or_insert_with(|| {
                        json!({"prov:type": qualified("lt:process"), "prov:label": label,
                               "lt:key": key, "lt:vm_id": edge.vm_id})
                    });
                }
            }
        }
        for id in activity.keys() {
            let vm = activity[id].get("lt:vm_id").and_then(Value::as_u64);
            if let Some(vm) = vm {
                let agent_id = format!("lt:vm{vm}");
                agent.entry(agent_id.clone()).or_insert_with(|| {
                    let mut a = json!({"prov:type": qualified("prov:SoftwareAgent"),
                                       "prov:label": format!("vm{vm}"), "lt:vm_id": vm});
                    if let Some(uuid) = self.uuids.get(&vm) {
                        a["lt:uuid"] = uuid.clone().into();
                    }
                    a
                });
                associated.insert(
                    format!("_:assoc{}", associated.len() + 1),
                    json!({"prov:activity": id, "prov:agent": agent_id}),
                );
            }
        }
        for (i, edge) in self.edges.iter().enumerate() {
            let process = |key: &str| self.nodes.get(key).is_some_and(GraphNode::is_process);
            let (src, dst) = (prov_id(&edge.source), prov_id(&edge.target));
            let mut attrs = json!({
                "lt:op": edge.op,
                "lt:vm_id": edge.vm_id,
                "lt:time_ns": edge.time_ns,
                "lt:call_id": edge.call_id,
                "lt:secrets": edge.secrets,
                "lt:new_secrets": edge.new_secrets,
            });
            if let Some(call) = &edge.syscall {
                attrs["lt:syscall"] = call.clone().into();
            }
            let id = format!("_:e{}", i + 1);
            let mut with = |map: &mut Map<String, Value>, pairs: &[(&str, &str)]| {
                for (k, v) in pairs {
                    attrs[*k] = (*v).into();
                }
                map.insert(id.clone(), attrs.clone());
            };
            match (process(&edge.source), process(&edge.target)) {
                _ if edge.source == edge.target => {}
                (false, true) => with(&mut used, &[("prov:activity", &dst), ("prov:entity", &src)]),
                (true, false) => with(
                    &mut generated,
                    &[("prov:entity", &dst), ("prov:activity", &src)],
                ),
                (true, true) => with(
                    &mut informed,
                    &[("prov:informed", &dst), ("prov:informant", &src)],
                ),
                (false, false) => {
                    let actor = edge.actor.as_deref().map(prov_id);
                    let mut pairs = vec![
                        ("prov:generatedEntity", dst.as_str()),
                        ("prov:usedEntity", src.as_str()),
                    ];
                    if let Some(actor) = &actor {
                        pairs.push(("prov:activity", actor));
                    }
                    with(&mut derived, &pairs);
                }
            }
        }
        json!({
            "prefix": {"lt": PROV_NAMESPACE},
            "entity": entity,
            "activity": activity,
            "agent": agent,
            "wasAssociatedWith": associated,
            "used": used,
            "wasGeneratedBy": generated,
            "wasInformedBy": informed,
            "wasDerivedFrom": derived,
        })
    }

    /// The label of the node `key` (its key if it is unknown).
    fn label_of(&self, key: &str) -> String {
        self.nodes
            .get(key)
            .map_or_else(|| key.to_owned(), |n| n.label().replace('\n', " a.k.a. "))
    }

    /// The edges in time order, one line each (`vm1  cat[44]  read  A ->
    /// B  secrets 0`), then which files are confidential and where data
    /// left the traced VMs.
    pub fn to_text(&self) -> String {
        let mut edges: Vec<&GraphEdge> = self.edges.iter().collect();
        edges.sort_by_key(|e| (e.time_ns, e.vm_id, e.call_id));
        let mut out = String::new();
        for e in &edges {
            let vm = self.vm_name(e.vm_id);
            let actor = e.actor_label.clone().unwrap_or_else(|| "?".to_owned());
            let what = match e.op.as_str() {
                "source" => format!("{} is confidential", self.label_of(&e.target)),
                "rename" => match self.nodes.get(&e.target) {
                    Some(n) => format!(
                        "{} renamed to {}",
                        n.name,
                        n.aliases.last().unwrap_or(&n.name)
                    ),
                    None => e.target.clone(),
                },
                _ => format!("{} -> {}", self.label_of(&e.source), self.label_of(&e.target)),
            };
            let syscall = match e.syscall.as_deref() {
                Some(s) if s != e.op => format!(" ({s})"),
                _ => String::new(),
            };
            // Names come from the guest: never printed raw.
            let line = format!(
                "{vm:<5} {actor:<16} {:<10} {what}{syscall}  [{}]",
                e.op,
                secrets_label(&e.secrets)
            );
            let _ = writeln!(out, "{}", printable(&line));
        }
        let confidential: Vec<String> = self
            .nodes
            .values()
            .filter(|n| n.confidential)
            .map(|n| format!("{} {}", self.vm_name(n.vm_id.unwrap_or(0)), n.name))
            .collect();
        let reached = self
            .nodes
            .values()
            .filter(|n| !n.confidential && !n.exfiltration && !n.secrets.is_empty())
            .count();
        let out_of_vms: Vec<String> = self
            .nodes
            .values()
            .filter(|n| n.kind == "remote")
            .map(|n| n.name.clone())
            .collect();
        let _ = writeln!(out);
        let summary = format!(
            "{} diffusion edges; confidential files: {}; {} other places reached; sent out of the traced VMs to: {}",
            edges.len(),
            if confidential.is_empty() { "none".to_owned() } else { confidential.join(", ") },
            reached,
            if out_of_vms.is_empty() { "nowhere".to_owned() } else { out_of_vms.join(", ") }
        );
        let _ = writeln!(out, "{}", printable(&summary));
        out
    }

    /// The graph in `format`, with a final newline.
    pub fn render(&self, format: GraphFormat) -> String {
        let value = match format {
            GraphFormat::Text => return self.to_text(),
            GraphFormat::Dot => return self.to_dot(),
            GraphFormat::ProvJson => self.to_prov(),
            GraphFormat::Json => self.to_json(),
        };
        // Serializing a `Value` into a String cannot fail.
        let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Warnings about what the graph may miss, for standard error.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.stats.diffusions == 0 {
            out.push("no diffusion records: the graph is empty".into());
        }
        if self.stats.lost > 0 {
            out.push(format!(
                "the watch lost {} records: the graph may miss edges",
                self.stats.lost
            ));
        }
        match self.stats.pressure {
            0 => {}
            1 => out.push(
                "1 pressure record: a full table forgot a node, and diffusion through it \
                 was no longer followed"
                    .into(),
            ),
            n => out.push(format!(
                "{n} pressure records: full tables forgot nodes, and diffusion through them \
                 was no longer followed"
            )),
        }
        out
    }
}

/// The namespace of the `lt:` prefix in PROV-JSON.
pub const PROV_NAMESPACE: &str = "urn:leaktrace:";

/// A PROV qualified name as a typed value.
fn qualified(name: &str) -> Value {
    json!({"$": name, "type": "prov:QUALIFIED_NAME"})
}

/// A node key as a PROV qualified name: `lt:` and the key, characters
/// other than letters, digits and `_-./` percent-encoded (as PROV-N's
/// local names allow): `:` is `%3A`, `>` is `%3E`.
pub fn prov_id(key: &str) -> String {
    let mut id = String::from("lt:");
    for c in key.chars() {
        if c.is_ascii_alphanumeric() || "_-./".contains(c) {
            id.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                let _ = write!(id, "%{b:02X}");
            }
        }
    }
    id
}

/// Secret ids as a JSON array's items.
fn ids(set: &BTreeSet<u64>) -> Vec<u64> {
    set.iter().copied().collect()
}

/// `secrets 0,1` / `secret 0` for edge labels.
fn secrets_label(ids: &[u64]) -> String {
    let list: Vec<String> = ids.iter().map(u64::to_string).collect();
    match ids.len() {
        0 => "no secrets".into(),
        1 => format!("secret {}", list[0]),
        _ => format!("secrets {}", list.join(",")),
    }
}

/// A dot string literal: quoted, `"` and `\` escaped, newlines as `\n`.
pub fn dot_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A node statement of the dot output.
fn dot_node(node: &GraphNode) -> String {
    let shape = match node.kind.as_str() {
        _ if node.exfiltration => "octagon",
        "process" => "ellipse",
        "file" => "note",
        "pipe" | "unix_socket" | "flow" => "cds",
        "shared_memory" => "box3d",
        "message_queue" => "tab",
        "remote" => "octagon",
        _ => "box",
    };
    let mut attrs = vec![
        format!("label={}", dot_string(&node.label())),
        format!("shape={shape}"),
    ];
    if node.exfiltration {
        attrs.push("color=red, fontcolor=red, penwidth=2".into());
    } else if node.confidential {
        attrs.push("style=\"bold,filled\", fillcolor=\"#ffd6d6\"".into());
    }
    format!("{} [{}];", dot_string(&node.key), attrs.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand-written event file: a VM's identification, a file made
    /// confidential, read by cat, piped to sh, exfiltrated over UDP,
    /// sent to another VM over TCP, copied by cp, and noise around it.
    const EVENTS: &str = r#"{"type":"loaded","seq":0,"time_ns":1,"ring_bytes":4096,"heartbeat_ms":1000}
{"type":"vm","seq":1,"time_ns":2,"vm_id":1,"event":"identified","uuid":"4c4c4544-0042-3510-8052-b3c04f4e3732","vmm_pid":812,"refusal":"none","flags":{"uuid_known":true,"uuid_absent":false,"selected":true,"traced":true}}
{"type":"diffusion","seq":5,"time_ns":100,"vm_id":1,"op":"source","call_id":7,"nr":257,"syscall":"openat","secrets":[0],"new_secrets":[0],"actor":{"status":"resolved","task":1,"pid":44,"tgid":44,"ppid":1,"comm":"cat"},"source":{"kind":"file","vm_id":1,"dev":"8:1","ino":12,"name":"/secret/plan.txt","key":"vm1/file/8:1/12"},"target":{"kind":"file","vm_id":1,"dev":"8:1","ino":12,"name":"/secret/plan.txt","key":"vm1/file/8:1/12"}}
{"type":"diffusion","seq":6,"time_ns":110,"vm_id":1,"op":"read","call_id":8,"nr":0,"syscall":"read","secrets":[0],"new_secrets":[0],"actor":{"status":"resolved","task":1,"pid":44,"tgid":44,"ppid":1,"comm":"cat"},"source":{"kind":"file","vm_id":1,"dev":"8:1","ino":12,"name":"/secret/plan.txt","key":"vm1/file/8:1/12"},"target":{"kind":"process","vm_id":1,"pid":44,"name":"cat","key":"vm1/process/44"}}

{"type":"syscall","seq":7,"time_ns":111,"vm_id":1}
{"type":"diffusion","seq":8,"time_ns":120,"vm_id":1,"op":"write","call_id":9,"nr":1,"syscall":"write","secrets":[0],"new_secrets":[0],"actor":{"status":"resolved","task":1,"pid":44,"tgid":44,"ppid":1,"comm":"cat"},"source":{"kind":"process","vm_id":1,"pid":44,"name":"cat","key":"vm1/process/44"},"target":{"kind":"pipe","vm_id":1,"dev":"0:12","ino":345,"name":"pipe:[345]","key":"vm1/pipe/0:12/345"}}
{"type":"diffusion","seq":9,"time_ns":130,"vm_id":1,"op":"read","call_id":10,"nr":0,"syscall":"read","secrets":[0],"new_secrets":[0],"actor":{"status":"resolved","task":1,"pid":50,"tgid":50,"ppid":1,"comm":"sh"},"source":{"kind":"pipe","vm_id":1,"dev":"0:12","ino":345,"name":"pipe:[345]","key":"vm1/pipe/0:12/345"},"target":{"kind":"process","vm_id":1,"pid":50,"name":"sh","key":"vm1/process/50"}}
{"type":"diffusion","seq":10,"time_ns":140,"vm_id":1,"op":"exfiltrate","call_id":11,"nr":44,"syscall":"sendto","secrets":[0],"new_secrets":[0],"actor":{"status":"resolved","task":1,"pid":50,"tgid":50,"ppid":1,"comm":"sh"},"source":{"kind":"process","vm_id":1,"pid":50,"name":"sh","key":"vm1/process/50"},"target":{"kind":"remote","vm_id":0,"type":"udp","src":"10.0.0.1:4000","dst":"198.51.100.7:9999","name":"198.51.100.7:9999/udp","key":"remote/udp/198.51.100.7:9999"}}
{"type":"diffusion","seq":11,"time_ns":150,"vm_id":1,"op":"inherit","call_id":12,"nr":57,"syscall":"fork","secrets":[0],"new_secrets":[0],"actor":{"status":"resolved","task":1,"pid":50,"tgid":50,"ppid":1,"comm":"sh"},"source":{"kind":"process","vm_id":1,"pid":50,"name":"sh","key":"vm1/process/50"},"target":{"kind":"process","vm_id":1,"pid":51,"name":"sh","key":"vm1/process/51"}}
{"type":"diffusion","seq":12,"time_ns":160,"vm_id":1,"op":"write","call_id":13,"nr":1,"syscall":"write","secrets":[0],"new_secrets":[0],"actor":{"status":"resolved","task":1,"pid":51,"tgid":51,"ppid":50,"comm":"nc"},"source":{"kind":"process","vm_id":1,"pid":51,"name":"nc","key":"vm1/process/51"},"target":{"kind":"flow","vm_id":2,"type":"tcp","src":"10.0.0.1:5000","dst":"10.0.0.2:7000","name":"tcp 10.0.0.1:5000>10.0.0.2:7000","key":"vm2/flow/tcp/10.0.0.1:5000>10.0.0.2:7000"}}
{"type":"diffusion","seq":3,"time_ns":170,"vm_id":2,"op":"read","call_id":3,"nr":0,"syscall":"read","secrets":[0],"new_secrets":[0],"actor":{"status":"resolved","task":1,"pid":70,"tgid":70,"ppid":1,"comm":"cp"},"source":{"kind":"flow","vm_id":2,"type":"tcp","src":"10.0.0.1:5000","dst":"10.0.0.2:7000","name":"tcp 10.0.0.1:5000>10.0.0.2:7000","key":"vm2/flow/tcp/10.0.0.1:5000>10.0.0.2:7000"},"target":{"kind":"process","vm_id":2,"pid":70,"name":"cp","key":"vm2/process/70"}}
{"type":"diffusion","seq":4,"time_ns":180,"vm_id":2,"op":"transfer","call_id":4,"nr":40,"syscall":"sendfile","secrets":[0],"new_secrets":[0],"actor":{"status":"resolved","task":1,"pid":70,"tgid":70,"ppid":1,"comm":"cp"},"source":{"kind":"file","vm_id":2,"dev":"8:1","ino":99,"name":"/tmp/in","key":"vm2/file/8:1/99"},"target":{"kind":"file","vm_id":2,"dev":"8:1","ino":100,"name":"/tmp/\"out\"","key":"vm2/file/8:1/100"}}
{"type":"diffusion","seq":13,"time_ns":190,"vm_id":1,"op":"rename","call_id":14,"nr":82,"syscall":"rename","secrets":[0],"new_secrets":[],"actor":{"status":"resolved","task":1,"pid":44,"tgid":44,"ppid":1,"comm":"cat"},"source":{"kind":"file","vm_id":1,"dev":"8:1","ino":12,"name":"/secret/plan.txt","key":"vm1/file/8:1/12"},"target":{"kind":"file","vm_id":1,"dev":"8:1","ino":12,"name":"/tmp/plan","key":"vm1/file/8:1/12"}}
{"type":"lost","first_seq":14,"count":2}
{"type":"pressure","seq":16,"time_ns":200,"vm_id":1,"table":"processes","capacity":256,"node":{"kind":"process","vm_id":1,"pid":44,"name":"?","key":"vm1/process/44"},"secrets":[0],"evictions":1}
"#;

    fn graph(text: &str) -> Graph {
        Graph::from_jsonl(text.as_bytes()).unwrap()
    }

    #[test]
    fn nodes_are_merged_by_key() {
        let g = graph(EVENTS);
        let keys: Vec<&str> = g.nodes.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "remote/udp/198.51.100.7:9999",
                "vm1/file/8:1/12",
                "vm1/pipe/0:12/345",
                "vm1/process/44",
                "vm1/process/50",
                "vm1/process/51",
                "vm2/file/8:1/100",
                "vm2/file/8:1/99",
                "vm2/flow/tcp/10.0.0.1:5000>10.0.0.2:7000",
                "vm2/process/70",
            ]
        );
        assert_eq!(g.edges.len(), 10);
        let plan = &g.nodes["vm1/file/8:1/12"];
        assert!(plan.confidential && !plan.exfiltration);
        assert_eq!(plan.name, "/secret/plan.txt");
        assert_eq!(plan.aliases, ["/tmp/plan"]);
        assert_eq!(plan.label(), "/secret/plan.txt\n/tmp/plan");
        let remote = &g.nodes["remote/udp/198.51.100.7:9999"];
        assert!(remote.exfiltration);
        assert_eq!(remote.vm_id, None);
        assert!(remote.fields.get("src").is_none());
        // The child ran another program: its first name, then the next.
        assert_eq!(g.nodes["vm1/process/51"].label(), "sh[51]\nnc[51]");
        assert_eq!(g.nodes["vm2/process/70"].secrets, BTreeSet::from([0]));
        assert_eq!(g.uuids[&1], "4c4c4544-0042-3510-8052-b3c04f4e3732");
        assert_eq!(
            g.stats,
            Stats {
                lines: 15,
                diffusions: 10,
                lost: 2,
                pressure: 1
            }
        );
        assert_eq!(g.warnings().len(), 2);
        // Edges are in time order, whatever the file's order.
        let times: Vec<u64> = g.edges.iter().map(|e| e.time_ns).collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    }

    #[test]
    fn output_does_not_depend_on_line_order_or_repeats() {
        let g = graph(EVENTS);
        let mut lines: Vec<&str> = EVENTS.lines().collect();
        lines.reverse();
        // The same record twice (files concatenated) is one edge.
        lines.push(EVENTS.lines().nth(3).unwrap());
        let other = graph(&lines.join("\n"));
        for format in [GraphFormat::Dot, GraphFormat::Json, GraphFormat::ProvJson] {
            assert_eq!(g.render(format), other.render(format), "{format:?}");
        }
    }

    #[test]
    fn unnamed_files_take_their_first_real_name() {
        let unnamed = r#"{"type":"diffusion","seq":1,"time_ns":1,"vm_id":1,"op":"write","call_id":1,"nr":1,"syscall":"write","secrets":[0],"new_secrets":[0],"actor":{"status":"resolved","task":1,"pid":4,"tgid":4,"ppid":1,"comm":"cp"},"source":{"kind":"process","vm_id":1,"pid":4,"name":"cp","key":"vm1/process/4"},"target":{"kind":"file","vm_id":1,"dev":"0:21","ino":2,"name":"file:[0:21/2]","key":"vm1/file/0:21/2"}}"#;
        let named = unnamed.replace("file:[0:21/2]", "/tmp/out").replace(r#""seq":1,"time_ns":1"#, r#""seq":2,"time_ns":2"#);
        let g = graph(&format!("{unnamed}\n{named}\n{unnamed}"));
        let node = &g.nodes["vm1/file/0:21/2"];
        assert_eq!((node.name.as_str(), node.aliases.len()), ("/tmp/out", 0));
    }

    #[test]
    fn vms_are_named_by_uuid() {
        let mut g = graph(EVENTS);
        g.name_vms([("4C4C4544-0042-3510-8052-B3C04F4E3732".to_owned(), "finance".to_owned())]);
        let text = g.to_text();
        assert!(text.starts_with("finance cat[44]"), "{text}");
        assert!(g.to_dot().contains("finance\\n4c4c4544"), "{}", g.to_dot());
        // VMs without a name keep the module's id.
        assert!(text.contains("\nvm2   cp[70]"), "{text}");
    }

    #[test]
    fn text_format_lists_edges_in_time_order_with_a_summary() {
        let g = graph(EVENTS);
        let text = g.to_text();
        assert!(
            text.contains("vm1   cat[44]          read       /secret/plan.txt a.k.a. /tmp/plan -> cat[44]  [secret 0]"),
            "{text}"
        );
        assert!(text.contains("rename     /secret/plan.txt renamed to /tmp/plan"), "{text}");
        assert!(text.contains("sent out of the traced VMs to: 198.51.100.7:9999/udp"), "{text}");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), g.edges.len() + 2, "{text}");
        assert!(lines.iter().take(g.edges.len()).all(|l| l.starts_with("vm")), "{text}");
        assert!(lines.last().unwrap().contains("diffusion edges"), "{text}");
    }

    #[test]
    fn json_format_parses_back() {
        let g = graph(EVENTS);
        let v: Value = serde_json::from_str(&g.render(GraphFormat::Json)).unwrap();
        let nodes = v["nodes"].as_array().unwrap();
        let edges = v["edges"].as_array().unwrap();
        assert_eq!((nodes.len(), edges.len()), (10, 10));
        let keys: BTreeSet<&str> = nodes.iter().map(|n| n["key"].as_str().unwrap()).collect();
        for e in edges {
            assert!(keys.contains(e["source"].as_str().unwrap()), "{e}");
            assert!(keys.contains(e["target"].as_str().unwrap()), "{e}");
        }
        assert_eq!(
            nodes[3],
            json!({"key": "vm1/process/44", "kind": "process", "vm_id": 1, "pid": 44,
                   "name": "cat", "label": "cat[44]", "aliases": [], "secrets": [0],
                   "confidential": false, "exfiltration": false})
        );
        assert_eq!(nodes[0]["vm_id"], Value::Null);
        assert_eq!(
            edges[1],
            json!({"source": "vm1/file/8:1/12", "target": "vm1/process/44", "op": "read",
                   "syscall": "read", "secrets": [0], "new_secrets": [0], "vm_id": 1,
                   "time_ns": 110, "call_id": 8, "actor": "vm1/process/44"})
        );
    }

    #[test]
    fn dot_output_is_stable() {
        let events: String = EVENTS.lines().take(4).collect::<Vec<_>>().join("\n");
        assert_eq!(
            graph(&events).to_dot(),
            "digraph leaktrace {
  rankdir=LR;
  node [fontname=\"Helvetica\", fontsize=10];
  edge [fontname=\"Helvetica\", fontsize=9];
  subgraph cluster_vm1 {
    label=\"vm1\\n4c4c4544-0042-3510-8052-b3c04f4e3732\";
    style=rounded;
    \"vm1/file/8:1/12\" [label=\"/secret/plan.txt\", shape=note, style=\"bold,filled\", fillcolor=\"#ffd6d6\"];
    \"vm1/process/44\" [label=\"cat[44]\", shape=ellipse];
  }
  \"vm1/file/8:1/12\" -> \"vm1/process/44\" [label=\"read\\nsecret 0\"];
}
"
        );
        let dot = graph(EVENTS).to_dot();
        assert!(dot.contains("subgraph cluster_vm2 {"), "{dot}");
        assert!(dot.contains(
            "  \"remote/udp/198.51.100.7:9999\" [label=\"198.51.100.7:9999/udp\", shape=octagon, \
             color=red, fontcolor=red, penwidth=2];"
        ), "{dot}");
        assert!(
            dot.contains("[label=\"exfiltrate (sendto)\\nsecret 0\", color=red"),
            "{dot}"
        );
        assert!(
            dot.contains("[label=\"transfer (sendfile)\\nby cp[70]\\nsecret 0\"]"),
            "{dot}"
        );
        assert!(
            dot.contains("label=\"/tmp/\\\"out\\\"\""),
            "quotes escaped: {dot}"
        );
        assert!(
            dot.contains("[label=\"inherit (fork)\\nsecret 0\", style=dashed]"),
            "{dot}"
        );
        // A flow is in its receiving VM's cluster, a remote outside.
        let flow = dot
            .find("    \"vm2/flow/tcp/10.0.0.1:5000>10.0.0.2:7000\" [")
            .unwrap();
        let vm2 = dot.find("subgraph cluster_vm2").unwrap();
        let last_cluster_end = dot.rfind("  }\n").unwrap();
        assert!(vm2 < flow && flow < last_cluster_end, "{dot}");
        let remote = dot.find("\n  \"remote/udp/198.51.100.7:9999\" [").unwrap();
        assert!(remote > last_cluster_end, "{dot}");
        assert!(!dot.contains("source"), "source edges are not drawn: {dot}");
    }

    #[test]
    fn prov_json_is_valid_and_complete() {
        let g = graph(EVENTS);
        let v: Value = serde_json::from_str(&g.render(GraphFormat::ProvJson)).unwrap();
        for key in [
            "prefix",
            "entity",
            "activity",
            "agent",
            "wasAssociatedWith",
            "used",
            "wasGeneratedBy",
            "wasInformedBy",
            "wasDerivedFrom",
        ] {
            assert!(v[key].is_object(), "{key}");
        }
        assert_eq!(v["prefix"]["lt"], PROV_NAMESPACE);
        let entity = v["entity"].as_object().unwrap();
        let activity = v["activity"].as_object().unwrap();
        let agent = v["agent"].as_object().unwrap();
        assert_eq!(activity.len(), 4);
        assert_eq!(entity.len(), 6);
        assert_eq!(agent.len(), 2);
        let plan = &entity["lt:vm1/file/8%3A1/12"];
        assert_eq!(plan["lt:confidential"], true);
        assert_eq!(
            plan["prov:type"],
            json!({"$": "lt:file", "type": "prov:QUALIFIED_NAME"})
        );
        assert!(entity.contains_key("lt:vm2/flow/tcp/10.0.0.1%3A5000%3E10.0.0.2%3A7000"));
        assert_eq!(
            agent["lt:vm1"]["lt:uuid"],
            "4c4c4544-0042-3510-8052-b3c04f4e3732"
        );
        // Every relation names identifiers of the right maps.
        let check = |rel: &str, roles: &[(&str, &serde_json::Map<String, Value>)]| {
            let map = v[rel].as_object().unwrap();
            assert!(!map.is_empty(), "{rel}");
            for (id, r) in map {
                assert!(id.starts_with("_:"), "{id}");
                for (role, ids) in roles {
                    let target = r[*role].as_str().unwrap_or_else(|| panic!("{rel} {role}"));
                    assert!(ids.contains_key(target), "{rel}.{role} = {target}");
                }
            }
        };
        check(
            "used",
            &[("prov:activity", activity), ("prov:entity", entity)],
        );
        check(
            "wasGeneratedBy",
            &[("prov:entity", entity), ("prov:activity", activity)],
        );
        check(
            "wasInformedBy",
            &[("prov:informed", activity), ("prov:informant", activity)],
        );
        check(
            "wasDerivedFrom",
            &[
                ("prov:generatedEntity", entity),
                ("prov:usedEntity", entity),
                ("prov:activity", activity),
            ],
        );
        check(
            "wasAssociatedWith",
            &[("prov:activity", activity), ("prov:agent", agent)],
        );
        // read, read, read (flow to cp) as used; write, write, exfiltrate
        // as generation; fork; sendfile.
        assert_eq!(v["used"].as_object().unwrap().len(), 3);
        assert_eq!(v["wasGeneratedBy"].as_object().unwrap().len(), 3);
        assert_eq!(v["wasInformedBy"].as_object().unwrap().len(), 1);
        assert_eq!(v["wasDerivedFrom"].as_object().unwrap().len(), 1);
        let empty: Value =
            serde_json::from_str(&Graph::default().render(GraphFormat::ProvJson)).unwrap();
        assert!(empty["entity"].as_object().unwrap().is_empty());
    }

    #[test]
    fn malformed_lines_name_the_line() {
        let err = |text: &str| Graph::from_jsonl(text.as_bytes()).unwrap_err().to_string();
        assert!(err("{\"type\":\"test\"}\nnot json\n").starts_with("line 2: not a JSON line"));
        assert_eq!(err("[1]"), "line 1: not a JSON object");
        assert!(err("{\"seq\":1}").contains("no `type`"));
        let line = EVENTS.lines().nth(3).unwrap();
        let broken = |f: &dyn Fn(&mut Value)| {
            let mut v: Value = serde_json::from_str(line).unwrap();
            f(&mut v);
            err(&v.to_string())
        };
        type Change = dyn Fn(&mut Value);
        let cases: [(&Change, &str); 6] = [
            (
                &|v| v["source"]["key"] = Value::Null,
                "`source.key` is not a string",
            ),
            (
                &|v| {
                    v.as_object_mut().unwrap().remove("target");
                },
                "without a `target` object",
            ),
            (&|v| v["time_ns"] = (-1).into(), "whole number `time_ns`"),
            (&|v| v["secrets"] = "0".into(), "`secrets` is not an array"),
            (&|v| v["syscall"] = 3.into(), "`syscall` is neither"),
            (&|v| v["op"] = Value::Null, "`op` is not a string"),
        ];
        for (f, needle) in cases {
            let e = broken(f);
            assert!(
                e.starts_with("line 1: ") && e.contains(needle),
                "{e:?} lacks {needle:?}"
            );
        }
        // An actor that is not resolved is no actor.
        let v: Value = serde_json::from_str(line).unwrap();
        let mut v = v;
        v["actor"] = json!({"status": "unresolved", "task": null, "pid": null, "tgid": null,
                            "ppid": null, "comm": null});
        assert_eq!(graph(&v.to_string()).edges[0].actor, None);
        assert_eq!(
            graph("").warnings(),
            ["no diffusion records: the graph is empty"]
        );
    }

    #[test]
    fn prov_ids_escape_what_prov_n_does_not_allow() {
        assert_eq!(prov_id("vm1/process/44"), "lt:vm1/process/44");
        assert_eq!(prov_id("flow/tcp/a:1>b:2"), "lt:flow/tcp/a%3A1%3Eb%3A2");
        assert_eq!(
            prov_id("vm1/unknown(42)/0:0/5"),
            "lt:vm1/unknown%2842%29/0%3A0/5"
        );
        assert_eq!(prov_id("é"), "lt:%C3%A9");
        assert_eq!(dot_string("a\"b\\c\nd"), "\"a\\\"b\\\\c\\nd\"");
    }
}
