// SPDX-License-Identifier: GPL-2.0

//! The label mapping, the expected file and the comparison, on fixture
//! JSONL lines written as `leaktrace watch --json` writes them.

use super::check::run;
use super::expected::{Expected, Item, Pattern};
use super::*;
use crate::check::Outcome;
use crate::input::{Summary, SummaryGuest};

const UUID1: &str = "4c540000-0000-4000-8000-000000000001";
const UUID2: &str = "4c540000-0000-4000-8000-000000000002";

/// Module VM ids 7 and 9 are guests 2 and 1 (started in that order).
fn vm_lines() -> String {
    format!(
        "{{\"type\":\"vm\",\"seq\":1,\"time_ns\":1,\"vm_id\":7,\"event\":\"identified\",\"uuid\":\"{UUID2}\"}}\n\
         {{\"type\":\"vm\",\"seq\":2,\"time_ns\":2,\"vm_id\":9,\"event\":\"identified\",\"uuid\":\"{}\"}}\n",
        UUID1.to_ascii_uppercase()
    )
}

fn process(vm: u64, pid: u64, comm: &str) -> String {
    format!(
        "{{\"kind\":\"process\",\"vm_id\":{vm},\"pid\":{pid},\"name\":\"{comm}\",\"key\":\"vm{vm}/process/{pid}\"}}"
    )
}

fn file(vm: u64, ino: u64, name: &str) -> String {
    format!(
        "{{\"kind\":\"file\",\"vm_id\":{vm},\"dev\":\"0:2\",\"ino\":{ino},\"name\":\"{name}\",\"key\":\"vm{vm}/file/0:2/{ino}\"}}"
    )
}

fn pipe(vm: u64, ino: u64) -> String {
    format!(
        "{{\"kind\":\"pipe\",\"vm_id\":{vm},\"dev\":\"0:12\",\"ino\":{ino},\"name\":\"pipe:[{ino}]\",\"key\":\"vm{vm}/pipe/0:12/{ino}\"}}"
    )
}

fn flow(vm: u64, t: &str, src: &str, dst: &str) -> String {
    format!(
        "{{\"kind\":\"flow\",\"vm_id\":{vm},\"type\":\"{t}\",\"src\":\"{src}\",\"dst\":\"{dst}\",\"name\":\"{t} {src}>{dst}\",\"key\":\"vm{vm}/flow/{t}/{src}>{dst}\"}}"
    )
}

fn remote(vm: u64, t: &str, dst: &str) -> String {
    format!(
        "{{\"kind\":\"remote\",\"vm_id\":{vm},\"type\":\"{t}\",\"src\":\"10.0.0.2:4000\",\"dst\":\"{dst}\",\"name\":\"{dst}/{t}\",\"key\":\"remote/{t}/{dst}\"}}"
    )
}

/// A diffusion line.
#[allow(clippy::too_many_arguments)]
fn diff(
    vm: u64,
    op: &str,
    call: u64,
    syscall: &str,
    secrets: &str,
    actor: (&str, u64),
    source: &str,
    target: &str,
) -> String {
    format!(
        "{{\"type\":\"diffusion\",\"seq\":{call},\"time_ns\":{},\"vm_id\":{vm},\"op\":\"{op}\",\"call_id\":{call},\"nr\":0,\
         \"syscall\":\"{syscall}\",\"secrets\":[{secrets}],\"new_secrets\":[{secrets}],\
         \"actor\":{{\"status\":\"resolved\",\"task\":1,\"pid\":{p},\"tgid\":{p},\"ppid\":1,\"comm\":\"{c}\"}},\
         \"source\":{source},\"target\":{target}}}\n",
        call * 1000,
        p = actor.1,
        c = actor.0
    )
}

/// A run of two guests: vm1 (module id 9) copies a secret through a pipe,
/// vm2 (module id 7) sends one over TCP to vm1 and out of the LAN.
fn fixture_events() -> String {
    let mut s = vm_lines();
    let secret = file(9, 12, "/scenario/files/secret-1.txt");
    s += &diff(9, "source", 1, "openat", "0", ("cat", 40), &secret, &secret);
    s += &diff(
        9,
        "transfer",
        2,
        "sendfile",
        "0",
        ("cat", 40),
        &secret,
        &pipe(9, 300),
    );
    s += &diff(
        9,
        "read",
        3,
        "read",
        "0",
        ("tr", 41),
        &pipe(9, 300),
        &process(9, 41, "tr"),
    );
    s += &diff(
        9,
        "write",
        4,
        "write",
        "0",
        ("tr", 41),
        &process(9, 41, "tr"),
        &file(9, 13, "/tmp/tr out.txt"),
    );
    let tcp = flow(9, "tcp", "10.0.0.2:4000", "10.0.0.1:9000");
    s += &diff(
        7,
        "write",
        5,
        "write",
        "0,1",
        ("tcp-send", 50),
        &process(7, 50, "tcp-send"),
        &tcp,
    );
    s += &diff(
        9,
        "read",
        6,
        "read",
        "0,1",
        ("tcp-recv", 42),
        &tcp,
        &process(9, 42, "tcp-recv"),
    );
    let lo = flow(9, "udp", "*", "*:7002");
    s += &diff(
        9,
        "write",
        7,
        "sendmmsg",
        "0",
        ("udp-send", 43),
        &process(9, 43, "udp-send"),
        &lo,
    );
    s += &diff(
        7,
        "exfiltrate",
        8,
        "sendto",
        "1",
        ("to-out", 51),
        &process(7, 51, "to-out"),
        &remote(7, "udp", "198.51.100.7:9999"),
    );
    s
}

const FIXTURE_EXPECTED: &str = "\
# a comment, and a blank line

vm1 source file:/scenario/files/secret-1.txt secrets=0
vm1 transfer file:/scenario/files/secret-1.txt -> pipe syscall=sendfile
vm1 read pipe -> process:tr
vm1 write process:tr -> file:/tmp/tr_out.txt secrets=0 syscall=write
vm2 write process:tcp-send -> flow:tcp->vm1:9000 secrets=0,1
vm1 read flow:tcp->vm1:9000 -> process:tcp-recv
vm1 write process:udp-send -> flow:udp->vm1:7002
vm2 exfiltrate process:to-out -> remote:udp:198.51.100.7:9999 secrets=1
! process:innocent
! vm2 file:/scenario/files/secret-1.txt
! vm1 inherit * -> *
";

fn summary() -> Summary {
    let g = |n: u32, uuid: &str| SummaryGuest {
        n,
        uuid: uuid.into(),
        traced: true,
        exit: "0".into(),
    };
    Summary {
        guests: vec![g(1, UUID1), g(2, UUID2)],
        tracing_applied: true,
        result: Some("pass".into()),
    }
}

fn good_log() -> Result<RunLog, String> {
    Ok(RunLog::parse(
        "vm1: hello\nLTDONE ok\nleaktrace-exit-status: 0\n",
        |_, _| {},
    ))
}

/// The graph `leaktrace graph --format json` makes of `events`: one edge
/// per record.
fn graph_of(events: &Events) -> String {
    let edges: Vec<serde_json::Value> = events
        .diffusions
        .iter()
        .map(|d| serde_json::json!({"source": d.source.key, "target": d.target.key, "op": d.op}))
        .collect();
    let mut keys: Vec<&str> = events
        .diffusions
        .iter()
        .flat_map(|d| [d.source.key.as_str(), d.target.key.as_str()])
        .collect();
    keys.sort();
    keys.dedup();
    let nodes: Vec<serde_json::Value> =
        keys.iter().map(|k| serde_json::json!({"key": k})).collect();
    serde_json::json!({"nodes": nodes, "edges": edges}).to_string()
}

fn input(events: &str, expected: &str) -> Input {
    let ev = Events::parse(events);
    let graph = graph_of(&ev);
    Input {
        summary: summary(),
        summary_text: "result: pass\ngraph: graph.dot, graph.json\n".into(),
        events: Ok(ev),
        logs: [(1, good_log()), (2, good_log())].into_iter().collect(),
        expected: Expected::parse(expected).unwrap(),
        expected_path: "expected".into(),
        graph_json: Ok(graph),
        graph_dot: Ok("digraph leaktrace {\n}\n".into()),
    }
}

fn failures(results: &[crate::check::TestResult]) -> Vec<String> {
    results
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Fail(_)))
        .map(|r| format!("{} # {:?} {:?}", r.name, r.outcome, r.diag))
        .collect()
}

#[test]
fn labels_of_every_node_kind() {
    let ev = Events::parse(&fixture_events());
    assert!(ev.stream.bad_lines.is_empty(), "{:?}", ev.stream.bad_lines);
    let vms = VmNames::new(&ev.vms, &summary().guests);
    assert_eq!(vms.name(9), "vm1");
    assert_eq!(vms.name(7), "vm2");
    assert_eq!(vms.name(3), "vm#3");
    let labels: Vec<String> = ev
        .diffusions
        .iter()
        .map(|d| edge_of(d, &vms).to_string())
        .collect();
    assert_eq!(
        labels,
        [
            "vm1 source file:/scenario/files/secret-1.txt",
            "vm1 transfer file:/scenario/files/secret-1.txt -> pipe",
            "vm1 read pipe -> process:tr",
            "vm1 write process:tr -> file:/tmp/tr_out.txt",
            "vm2 write process:tcp-send -> flow:tcp->vm1:9000",
            "vm1 read flow:tcp->vm1:9000 -> process:tcp-recv",
            "vm1 write process:udp-send -> flow:udp->vm1:7002",
            "vm2 exfiltrate process:to-out -> remote:udp:198.51.100.7:9999",
        ]
    );
    let node = |v: serde_json::Value| -> Node { serde_json::from_value(v).unwrap() };
    let l = |n: Node| node_label(&n, 9, &vms);
    assert_eq!(
        l(node(
            serde_json::json!({"kind": "unix_socket", "key": "k", "vm_id": 9, "sock": "0x10", "name": "unix:[0x10]"})
        )),
        "unix"
    );
    assert_eq!(
        l(node(
            serde_json::json!({"kind": "shared_memory", "key": "k", "vm_id": 9, "shmid": 3, "name": "shm:[3]"})
        )),
        "shm"
    );
    assert_eq!(
        l(node(
            serde_json::json!({"kind": "message_queue", "key": "k", "vm_id": 9, "msqid": 0, "name": "msq:[0]"})
        )),
        "msq"
    );
    assert_eq!(
        l(node(
            serde_json::json!({"kind": "message_queue", "key": "k", "vm_id": 9, "dev": "0:19", "ino": 5, "name": "/q"})
        )),
        "mq:/q"
    );
    assert_eq!(
        l(node(
            serde_json::json!({"kind": "file", "key": "k", "vm_id": 9, "dev": "0:1", "ino": 5, "name": "file:[0:1/5]"})
        )),
        "file:[0:1/5]"
    );
    assert_eq!(
        l(node(
            serde_json::json!({"kind": "process", "key": "k", "vm_id": 9, "pid": 5, "name": "?"})
        )),
        "process:?"
    );
    assert_eq!(
        l(node(
            serde_json::json!({"kind": "pipe", "key": "k", "vm_id": 9, "name": "/tmp/fifo"})
        )),
        "pipe:/tmp/fifo"
    );
    // Between VMs with vm_id 0 (the reader's documented form): by address.
    assert_eq!(
        l(node(
            serde_json::json!({"kind": "flow", "key": "k", "vm_id": 0, "type": "tcp", "src": "10.0.0.1:1", "dst": "10.0.0.2:80"})
        )),
        "flow:tcp->vm2:80"
    );
    // Loopback without a receiver: the record's own guest.
    assert_eq!(
        l(node(
            serde_json::json!({"kind": "flow", "key": "k", "type": "tcp", "src": "127.0.0.1:1", "dst": "127.0.0.1:80"})
        )),
        "flow:tcp->vm1:80"
    );
    assert_eq!(
        l(node(serde_json::json!({"kind": "none", "key": "none"}))),
        "none"
    );
}

#[test]
fn patterns() {
    let p = |s: &str| Pattern(s.into());
    assert!(p("file:[*]").matches("file:[0:1/5]"));
    assert!(p("*").matches(""));
    assert!(p("a*b*c").matches("aXbYbc"));
    assert!(!p("a*b*c").matches("aXbY"));
    assert!(p("process:cat").matches("process:cat"));
    assert!(!p("process:cat").matches("process:cats"));
    assert!(!p("process:ca").matches("process:cat"));
    assert!(p("**x").matches("yyx"));
}

#[test]
fn expected_file_parses_and_refuses() {
    let e = Expected::parse(FIXTURE_EXPECTED).unwrap();
    assert_eq!(e.lines.len(), 11);
    assert_eq!(e.lines[0].line, 3);
    match &e.lines[4].item {
        Item::Edge {
            secrets,
            syscalls,
            edge,
        } => {
            assert_eq!(secrets.as_deref(), Some(&[0, 1][..]));
            assert_eq!(syscalls, &None);
            assert_eq!(
                edge.to_string(),
                "vm2 write process:tcp-send -> flow:tcp->vm1:9000"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(&e.lines[8].item, Item::NoNode { vm: None, .. }));
    assert!(matches!(&e.lines[9].item, Item::NoNode { vm: Some(_), .. }));
    assert!(matches!(&e.lines[10].item, Item::NoEdge(_)));
    for bad in [
        "vm1 read a b",
        "vm1 read a ->",
        "host read a -> b",
        "vm1 copy a -> b",
        "vm1 source a -> b",
        "vm1 read a -> b secrets=x",
        "vm1 read a -> b colour=red",
        "vm1 read a -> b syscall=",
        "! vm1 read a -> b extra",
        "! one two three four",
        "vm1",
    ] {
        let err = Expected::parse(&format!("# c\n{bad}\n")).unwrap_err();
        assert!(err.starts_with("2: "), "{bad}: {err}");
    }
}

#[test]
fn a_run_as_expected_passes() {
    let results = run(&input(&fixture_events(), FIXTURE_EXPECTED));
    assert!(failures(&results).is_empty(), "{:#?}", failures(&results));
    // Whole run (4), guests (2), lines (11), unexpected, graph.
    assert_eq!(results.len(), 4 + 2 + 11 + 1 + 1);
    assert!(results.iter().any(|r| r.name == "no unexpected edges"));
}

#[test]
fn missing_extra_and_forbidden_edges_fail() {
    // One edge less, one more, one forbidden node, a wrong secret set.
    let ev = fixture_events().replace(
        "\"op\":\"read\",\"call_id\":3",
        "\"op\":\"read\",\"call_id\":33",
    );
    let events: String = ev
        .lines()
        .filter(|l| !l.contains("\"call_id\":33"))
        .map(|l| format!("{l}\n"))
        .collect();
    let extra = diff(
        9,
        "inherit",
        20,
        "clone",
        "0",
        ("sh", 30),
        &process(9, 30, "sh"),
        &process(9, 31, "sh"),
    );
    let innocent = diff(
        7,
        "read",
        21,
        "read",
        "0",
        ("innocent", 60),
        &file(7, 12, "/scenario/files/secret-1.txt"),
        &process(7, 60, "innocent"),
    );
    let results = run(&input(&(events + &extra + &innocent), FIXTURE_EXPECTED));
    let f = failures(&results);
    let names: Vec<&str> = f.iter().map(|s| s.split(" # ").next().unwrap()).collect();
    assert_eq!(
        names,
        [
            "vm1 read pipe -> process:tr",
            "! process:innocent",
            "! vm2 file:/scenario/files/secret-1.txt",
            "! vm1 inherit * -> *",
            "no unexpected edges",
        ],
        "{f:#?}"
    );
    let unexpected = results
        .iter()
        .find(|r| r.name == "no unexpected edges")
        .unwrap();
    assert_eq!(
        unexpected.outcome,
        Outcome::Fail("2 unexpected edge(s)".into())
    );
    assert!(
        unexpected
            .diag
            .iter()
            .any(|d| d.contains("vm1 inherit process:sh -> process:sh")),
        "{:?}",
        unexpected.diag
    );

    let wrong = FIXTURE_EXPECTED
        .replace("secrets=0,1", "secrets=0")
        .replace("syscall=sendfile", "syscall=splice");
    let why: Vec<String> = run(&input(&fixture_events(), &wrong))
        .into_iter()
        .filter_map(|r| match r.outcome {
            Outcome::Fail(why) => Some(why),
            _ => None,
        })
        .collect();
    assert_eq!(
        why,
        [
            "system calls [\"sendfile\"], expected [\"splice\"]",
            "secrets [0, 1], expected [0]"
        ]
    );
}

#[test]
fn whole_run_and_graph_checks() {
    // A guest that did not finish, a lost record, a pressure record.
    let mut i = input(
        &(fixture_events()
            + "{\"type\":\"lost\",\"first_seq\":3,\"count\":2}\n"
            + "{\"type\":\"pressure\",\"seq\":99,\"time_ns\":1,\"vm_id\":9,\"table\":\"objects\",\"capacity\":4096,\"node\":{\"kind\":\"none\",\"key\":\"none\"},\"secrets\":[0],\"evictions\":1}\n"),
        FIXTURE_EXPECTED,
    );
    i.logs.insert(
        2,
        Ok(RunLog::parse(
            "LTFAIL vm2: lt-diffuse ...: exit 1\nLTDONE failed (1)\nleaktrace-exit-status: 1\n",
            |_, _| {},
        )),
    );
    let f = failures(&run(&i));
    assert_eq!(f.len(), 3, "{f:#?}");
    assert!(f[0].starts_with("events.jsonl: no records lost"));
    assert!(f[1].starts_with("events.jsonl: no pressure records"));
    assert!(f[2].starts_with("vm2: the script ran"));

    // The graph: one edge short, then not made by the runner at all.
    let mut i = input(&fixture_events(), FIXTURE_EXPECTED);
    let ev = Events::parse(&fixture_events());
    let mut g: serde_json::Value = serde_json::from_str(&graph_of(&ev)).unwrap();
    g["edges"].as_array_mut().unwrap().pop();
    i.graph_json = Ok(g.to_string());
    let f = failures(&run(&i));
    assert_eq!(f.len(), 1, "{f:#?}");
    assert!(
        f[0].contains("graph.json has 7 edges, events.jsonl 8 distinct diffusion records"),
        "{f:#?}"
    );
    i.graph_json = Err("out/graph.json: No such file or directory".into());
    i.summary_text = "graph: not made: the reader has no 'leaktrace graph' yet\n".into();
    let r = run(&i);
    assert!(failures(&r).is_empty());
    assert!(matches!(r.last().unwrap().outcome, Outcome::Skip(_)));
    // Exact duplicates are one graph edge.
    let dup = fixture_events()
        + &diff(
            9,
            "read",
            3,
            "read",
            "0",
            ("tr", 41),
            &pipe(9, 300),
            &process(9, 41, "tr"),
        );
    let mut i = input(&dup, FIXTURE_EXPECTED);
    i.graph_json = Ok(graph_of(&Events::parse(&fixture_events())));
    assert!(failures(&run(&i)).is_empty(), "{:#?}", failures(&run(&i)));
}

#[test]
fn an_out_dir_is_read_with_its_expected_file() {
    let root = std::env::temp_dir().join(format!("diffusion-check-{}", std::process::id()));
    let out = root.join("out");
    fs::create_dir_all(&out).unwrap();
    fs::write(root.join("expected"), FIXTURE_EXPECTED).unwrap();
    fs::write(
        out.join("summary.txt"),
        format!("vm1 uuid={UUID1} traced=yes exit=0 time=3s\nvm2 uuid={UUID2} traced=yes exit=0 time=3s\nresult: pass\n"),
    )
    .unwrap();
    fs::write(out.join("events.jsonl"), fixture_events()).unwrap();
    for n in [1, 2] {
        fs::write(
            out.join(format!("vm{n}.log")),
            "LTDONE ok\nleaktrace-exit-status: 0\n",
        )
        .unwrap();
    }
    fs::write(
        out.join("graph.json"),
        graph_of(&Events::parse(&fixture_events())),
    )
    .unwrap();
    fs::write(out.join("graph.dot"), "digraph leaktrace {\n}\n").unwrap();
    let i = load_out_dir(&out, None, None).unwrap();
    let r = run(&i);
    assert!(failures(&r).is_empty(), "{:#?}", failures(&r));
    fs::write(root.join("bad"), "vm1 read x\n").unwrap();
    let e = load_out_dir(&out, None, Some(&root.join("bad"))).unwrap_err();
    assert!(
        e.ends_with("bad:1: expected 'vmN read SOURCE -> TARGET': 'vm1 read x'"),
        "{e}"
    );
    fs::remove_dir_all(&root).unwrap();
}
