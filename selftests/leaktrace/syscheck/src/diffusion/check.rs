// SPDX-License-Identifier: GPL-2.0

//! The checks of a diffusion scenario run, in TAP order:
//!
//! 1. the runner's verdict, `events.jsonl` well formed, no records lost,
//!    no `pressure` records (a full table stops following diffusion);
//! 2. each guest ran its script to the end (`LTDONE ok`, exit status 0);
//! 3. one test per line of the expected file: an edge is there (with the
//!    secrets and system calls it names), a `!` item is not;
//! 4. no unexpected edges: every record's label matches an edge line;
//! 5. the runner's graph: `graph.dot` and `graph.json` exist, and
//!    `graph.json` has one edge per distinct diffusion record (the graph
//!    removes exact duplicates only), those records' node keys as nodes
//!    and their (source, target, op) as edges. SKIP when the runner's
//!    reader had no `leaktrace graph` (`summary.txt`).

use super::expected::{Item, Line};
use super::{edge_of, Diffusion, Edge, Input, VmNames};
use crate::check::{
    guest_log, result, scenario_check, stream_checks, Outcome, TestResult, DIAG_MAX,
};
use std::collections::{BTreeMap, BTreeSet};

/// A record and its label.
struct Labelled<'a> {
    d: &'a Diffusion,
    edge: Edge,
}

/// `line N: LABEL secrets=... syscall=...` for diagnostics.
fn describe(l: &Labelled<'_>) -> String {
    let ids: Vec<String> = l.d.secrets.iter().map(u32::to_string).collect();
    format!(
        "line {}: {} secrets={} syscall={} actor={}[{}]",
        l.d.line,
        l.edge,
        ids.join(","),
        l.d.syscall.as_deref().unwrap_or("?"),
        l.d.actor
            .as_ref()
            .and_then(|a| a.comm.as_deref())
            .unwrap_or("?"),
        l.d.actor
            .as_ref()
            .and_then(|a| a.tgid)
            .map_or("?".into(), |p| p.to_string()),
    )
}

/// The test of one expected line.
fn line_check(
    l: &Line,
    file: &str,
    recs: &[Labelled<'_>],
    events_err: Option<&String>,
) -> TestResult {
    let name = l.text.clone();
    if let Some(e) = events_err {
        return result(name, Some(format!("no events: {e}")), vec![]);
    }
    match &l.item {
        Item::Edge {
            edge,
            secrets,
            syscalls,
        } => {
            let hits: Vec<&Labelled<'_>> = recs.iter().filter(|r| edge.matches(&r.edge)).collect();
            let mut diag: Vec<String> = hits.iter().take(DIAG_MAX).map(|r| describe(r)).collect();
            if hits.is_empty() {
                // Near misses: same guest and operation.
                let near: Vec<String> = recs
                    .iter()
                    .filter(|r| edge.vm.matches(&r.edge.vm) && edge.op.matches(&r.edge.op))
                    .take(DIAG_MAX)
                    .map(|r| format!("(not this) {}", describe(r)))
                    .collect();
                return result(
                    name,
                    Some(format!("no such edge ({file}:{})", l.line)),
                    near,
                );
            }
            let mut why = Vec::new();
            if let Some(want) = secrets {
                let got: BTreeSet<u32> = hits
                    .iter()
                    .flat_map(|r| r.d.secrets.iter().copied())
                    .collect();
                let got: Vec<u32> = got.into_iter().collect();
                if &got != want {
                    why.push(format!("secrets {got:?}, expected {want:?}"));
                }
            }
            if let Some(want) = syscalls {
                let got: BTreeSet<String> = hits
                    .iter()
                    .map(|r| r.d.syscall.clone().unwrap_or_else(|| "?".into()))
                    .collect();
                let got: Vec<String> = got.into_iter().collect();
                if &got != want {
                    why.push(format!("system calls {got:?}, expected {want:?}"));
                }
            }
            if hits.len() > DIAG_MAX {
                diag.push(format!("... {} records in all", hits.len()));
            }
            result(name, (!why.is_empty()).then(|| why.join("; ")), diag)
        }
        Item::NoNode { vm, node } => {
            let hits: Vec<String> = recs
                .iter()
                .filter(|r| vm.as_ref().is_none_or(|v| v.matches(&r.edge.vm)))
                .filter(|r| {
                    node.matches(&r.edge.target)
                        || r.edge.source.as_deref().is_some_and(|s| node.matches(s))
                })
                .map(describe)
                .collect();
            result(
                name,
                (!hits.is_empty()).then(|| format!("{} record(s) have this node", hits.len())),
                hits.into_iter().take(DIAG_MAX).collect(),
            )
        }
        Item::NoEdge(edge) => {
            let hits: Vec<String> = recs
                .iter()
                .filter(|r| edge.matches(&r.edge))
                .map(describe)
                .collect();
            result(
                name,
                (!hits.is_empty()).then(|| format!("{} record(s) are this edge", hits.len())),
                hits.into_iter().take(DIAG_MAX).collect(),
            )
        }
    }
}

/// Every record must match an edge line of the file.
fn unexpected_check(
    input: &Input,
    recs: &[Labelled<'_>],
    events_err: Option<&String>,
) -> TestResult {
    let name = "no unexpected edges".to_string();
    if let Some(e) = events_err {
        return result(name, Some(format!("no events: {e}")), vec![]);
    }
    let edges: Vec<_> = input
        .expected
        .lines
        .iter()
        .filter_map(|l| match &l.item {
            Item::Edge { edge, .. } => Some(edge),
            _ => None,
        })
        .collect();
    // One line per distinct label, with its first record.
    let mut extra: BTreeMap<String, (usize, String)> = BTreeMap::new();
    for r in recs
        .iter()
        .filter(|r| !edges.iter().any(|e| e.matches(&r.edge)))
    {
        let e = extra.entry(r.edge.to_string()).or_insert((0, describe(r)));
        e.0 += 1;
    }
    let diag: Vec<String> = extra
        .iter()
        .map(|(label, (n, first))| {
            if *n > 1 {
                format!("unexpected: {label} ({n} records; first {first})")
            } else {
                format!("unexpected: {first}")
            }
        })
        .collect();
    result(
        name,
        (!extra.is_empty()).then(|| format!("{} unexpected edge(s)", extra.len())),
        diag,
    )
}

/// The identity `leaktrace graph` deduplicates edges by.
type GraphKey = (
    u64,
    u64,
    u64,
    String,
    String,
    String,
    Option<String>,
    Vec<u32>,
    Vec<u32>,
    Option<u64>,
);

fn graph_key(d: &Diffusion) -> GraphKey {
    (
        d.time_ns,
        d.vm_id,
        d.call_id,
        d.source.key.clone(),
        d.target.key.clone(),
        d.op.clone(),
        d.syscall.clone(),
        d.secrets.clone(),
        d.new_secrets.clone(),
        d.actor.as_ref().and_then(|a| a.tgid),
    )
}

/// `graph.dot` and `graph.json` against the records.
fn graph_check(input: &Input, diffusions: &[Diffusion], events_err: Option<&String>) -> TestResult {
    let distinct: BTreeSet<GraphKey> = diffusions.iter().map(graph_key).collect();
    let name = format!(
        "graph.dot and graph.json: the graph of events.jsonl ({} distinct diffusion records)",
        distinct.len()
    );
    if let Some(note) = input
        .summary_text
        .lines()
        .find(|l| l.starts_with("graph: not made"))
    {
        return TestResult {
            name,
            outcome: Outcome::Skip(note.to_string()),
            diag: vec![],
        };
    }
    if let Some(e) = events_err {
        return result(name, Some(format!("no events: {e}")), vec![]);
    }
    let mut why = Vec::new();
    let mut diag = Vec::new();
    match &input.graph_dot {
        Ok(t) if t.trim_start().starts_with("digraph") => {}
        Ok(_) => why.push("graph.dot is not a digraph".to_string()),
        Err(e) => why.push(e.clone()),
    }
    match input
        .graph_json
        .as_deref()
        .map(serde_json::from_str::<serde_json::Value>)
    {
        Err(e) => why.push(e.clone()),
        Ok(Err(e)) => why.push(format!("graph.json does not parse: {e}")),
        Ok(Ok(g)) => {
            let edges = g.get("edges").and_then(|e| e.as_array());
            let nodes = g.get("nodes").and_then(|e| e.as_array());
            match (edges, nodes) {
                (Some(edges), Some(nodes)) => {
                    if edges.len() != distinct.len() {
                        why.push(format!(
                            "graph.json has {} edges, events.jsonl {} distinct diffusion records",
                            edges.len(),
                            distinct.len()
                        ));
                    }
                    let s = |v: &serde_json::Value, k: &str| {
                        v.get(k).and_then(|x| x.as_str()).unwrap_or("").to_string()
                    };
                    let have: BTreeSet<(String, String, String)> = edges
                        .iter()
                        .map(|e| (s(e, "source"), s(e, "target"), s(e, "op")))
                        .collect();
                    let keys: BTreeSet<String> = nodes.iter().map(|n| s(n, "key")).collect();
                    for d in diffusions {
                        let k = (d.source.key.clone(), d.target.key.clone(), d.op.clone());
                        if !have.contains(&k) {
                            diag.push(format!(
                                "line {}: no graph edge {} -> {} ({})",
                                d.line, k.0, k.1, k.2
                            ));
                        }
                        for key in [&d.source.key, &d.target.key] {
                            if !keys.contains(key) {
                                diag.push(format!("line {}: no graph node {key}", d.line));
                            }
                        }
                    }
                    if !diag.is_empty() {
                        why.push(format!("{} record(s) missing from graph.json", diag.len()));
                        diag.truncate(DIAG_MAX);
                    }
                }
                _ => why.push("graph.json has no \"nodes\" and \"edges\" arrays".into()),
            }
        }
    }
    result(name, (!why.is_empty()).then(|| why.join("; ")), diag)
}

/// Runs every check; the order is the TAP order.
pub fn run(input: &Input) -> Vec<TestResult> {
    let mut out = vec![scenario_check(&input.summary)];
    let empty = super::Events::default();
    let (events, events_err) = match &input.events {
        Ok(e) => (e, None),
        Err(e) => (&empty, Some(e)),
    };
    let counts = format!(
        "{} lines, {} diffusion records, {} vm records",
        events.stream.lines,
        events.diffusions.len(),
        events.vms.len()
    );
    out.extend(stream_checks(
        "events.jsonl: every line a reader record",
        input.events.as_ref().map(|e| &e.stream),
        counts,
    ));
    out.push(result(
        "events.jsonl: no pressure records (no table forgot a node)".into(),
        (!events.pressure.is_empty())
            .then(|| format!("{} pressure record(s)", events.pressure.len())),
        events.pressure.iter().take(DIAG_MAX).cloned().collect(),
    ));
    for g in &input.summary.guests {
        let name = format!(
            "vm{}: the script ran to its end (LTDONE ok, exit status 0)",
            g.n
        );
        out.push(match guest_log(&input.logs, g.n) {
            Ok(log) => {
                let p = log.problems();
                result(name, (!p.is_empty()).then(|| p.join("; ")), vec![])
            }
            Err(e) => result(name, Some(e), vec![]),
        });
    }
    let vms = VmNames::new(&events.vms, &input.summary.guests);
    let recs: Vec<Labelled<'_>> = events
        .diffusions
        .iter()
        .map(|d| Labelled {
            d,
            edge: edge_of(d, &vms),
        })
        .collect();
    let file = input.expected_path.display().to_string();
    for l in &input.expected.lines {
        out.push(line_check(l, &file, &recs, events_err));
    }
    out.push(unexpected_check(input, &recs, events_err));
    out.push(graph_check(input, &events.diffusions, events_err));
    out
}
