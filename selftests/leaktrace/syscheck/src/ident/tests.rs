// SPDX-License-Identifier: GPL-2.0

//! Unit tests on synthetic runs: guest logs in `lt-ident`'s format and the
//! record stream a correct module would produce for them, then one fault
//! at a time.

use super::check::{self, Input, Options, OBJECTS};
use super::input::{summary_kernels, Events, IdentLog, MARK_MAGIC};
use crate::check::{Outcome, TestResult};
use crate::input::Summary;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// vm1, traced, the testbed kernel.
const UUID1: &str = "4c540000-0000-4000-8000-000000000001";
/// vm2, traced, Debian's kernel.
const UUID2: &str = "4c540000-0000-4000-8000-000000000002";
/// vm3, not traced.
const UUID3: &str = "4c540000-0000-4000-8000-000000000003";

/// Who makes a call.
#[derive(Clone)]
struct Who {
    /// `proc=` of its lines.
    proc_: &'static str,
    /// getpid.
    pid: i64,
    /// gettid.
    tid: i64,
    /// getppid.
    ppid: i64,
    /// PR_GET_NAME.
    comm: String,
    /// Its task_struct's address in the records.
    task: u64,
}

/// An open file, as the guest prints it.
#[derive(Clone)]
struct Obj {
    /// `obj=`.
    name: &'static str,
    /// The reader's kind.
    kind: &'static str,
    /// st_mode.
    mode: u32,
    /// st_dev.
    dev: (u32, u32),
    /// st_ino.
    ino: u64,
    /// readlink.
    link: String,
    /// family, type, local, remote.
    sock: Option<(u16, u16, &'static str, &'static str)>,
    /// Guest address of its struct file.
    file: u64,
}

/// One guest: its log lines and its records.
struct Guest {
    /// Its UUID.
    uuid: &'static str,
    /// Its VM id.
    vm_id: u64,
    /// vmN.log, line by line.
    log: Vec<String>,
    /// Its records in order (times increasing), merged with the other
    /// guest's into one stream later.
    recs: Vec<Value>,
    /// The last call id given.
    call_id: u64,
    /// The next vm_seq.
    vm_seq: u64,
    /// The last mark's counter.
    mark: u64,
    /// The clock, ns.
    t: u64,
}

impl Guest {
    /// A guest, identified, armed, its profile active.
    fn new(uuid: &'static str, vm_id: u64, kernel: &str) -> Self {
        let mut g = Guest {
            uuid,
            vm_id,
            log: vec![format!("LTUUID {uuid}"), format!("LTKERNEL {kernel}")],
            recs: vec![],
            call_id: 0,
            vm_seq: 0,
            mark: 0,
            t: 5_000_000_000,
        };
        for e in ["created", "identified", "armed", "profile-active"] {
            g.vm(e);
        }
        g
    }

    /// A VM record.
    fn vm(&mut self, event: &str) {
        self.t += 1000;
        let uuid = (event != "created").then_some(self.uuid);
        self.recs.push(
            json!({"type": "vm", "seq": 0, "time_ns": self.t, "vm_id": self.vm_id,
            "event": event, "uuid": uuid, "vmm_pid": 77, "refusal": "none",
            "flags": {"uuid_known": true, "uuid_absent": false, "selected": true, "traced": true}}),
        );
    }

    /// A syscall record (after its file records).
    fn sys(&mut self, who: &Who, nr: u64, args: [u64; 6], ret: i64, files: Vec<Value>) {
        self.call_id += 1;
        self.t += 1000;
        for mut f in files {
            f["vm_id"] = json!(self.vm_id);
            f["call_id"] = json!(self.call_id);
            f["time_ns"] = json!(self.t - 10);
            self.recs.push(f);
        }
        self.recs
            .push(json!({"type": "syscall", "seq": 0, "time_ns": self.t,
            "vm_id": self.vm_id, "uuid": self.uuid, "vcpu": 0, "vm_seq": self.vm_seq,
            "cr3": 0x1234000, "rip": 0x401000, "rsp": 0x7ffc0000, "nr": nr, "name": "x",
            "args": args, "ret": ret, "end": "returned", "entry_ns": self.t - 500,
            "exit_ns": self.t - 100, "call_id": self.call_id,
            "task": {"status": "resolved", "task": who.task, "pid": who.tid, "tgid": who.pid,
                     "ppid": who.ppid, "comm": who.comm}}));
        self.vm_seq += 1;
    }

    /// The print after a call: write(1, ...) with its file record.
    fn print(&mut self, who: &Who, line: String) {
        self.log.push(line);
        let tty = json!({"type": "file", "seq": 0, "role": "arg0", "fd": 1,
            "status": "resolved", "kind": "char-device", "mode": 0o20620, "dev_major": 0,
            "dev_minor": 5, "ino": 90, "file": 0xffff_8880_0000_1000u64, "path": "/dev/ttyS1",
            "display": "/dev/ttyS1", "path_truncated": false, "path_detached": false,
            "socket": null});
        self.sys(who, 1, [1, 0x7ffc1000, 80, 0, 0, 0], 80, vec![tty]);
    }

    /// A marked call and its lines; `files`: (object, role, fd).
    fn call(&mut self, who: &Who, nr: u64, name: &str, ret: i64, files: &[(&Obj, &str, i64)]) {
        self.mark += 1;
        let mark = ((who.tid as u64) << 32) | self.mark;
        let recs = files
            .iter()
            .map(|(o, role, fd)| file_record(o, role, *fd))
            .collect();
        let a0 = files.first().map_or(0, |f| f.2 as u64);
        self.sys(who, nr, [a0, 0x7ffc2000, 0, 0, MARK_MAGIC, mark], ret, recs);
        self.print(
            who,
            format!(
                "LTIDENT call proc={} mark={mark:#x} nr={nr} name={name} ret={ret} pid={} tid={} ppid={} comm={}",
                who.proc_, who.pid, who.tid, who.ppid, who.comm
            ),
        );
        for (o, role, fd) in files {
            let l = file_line(mark, o, role, *fd);
            self.print(who, l);
        }
    }

    /// A task mark: getpid.
    fn mark_task(&mut self, who: &Who) {
        self.call(who, 39, "getpid", who.pid, &[]);
    }
}

/// The file record of `o` a correct module would produce.
fn file_record(o: &Obj, role: &str, fd: i64) -> Value {
    let pseudo = o.link.starts_with("pipe:[") || o.link.starts_with("socket:[");
    let (path, truncated) = if pseudo {
        (None, false)
    } else if o.link.len() > check::FILE_PATH_MAX {
        // The tail, from a component boundary.
        let cut = o.link.len() - check::FILE_PATH_MAX;
        let at = o.link[cut..].find('/').map_or(o.link.len(), |i| cut + i);
        (Some(o.link[at..].to_string()), true)
    } else {
        (Some(o.link.clone()), false)
    };
    let display = path.clone().unwrap_or_else(|| o.link.clone());
    let socket = o
        .sock
        .map(|(f, t, l, r)| json!({"family": f, "type": t, "local": l, "remote": r}));
    json!({"type": "file", "seq": 0, "role": role, "fd": fd, "status": "resolved",
        "kind": o.kind, "mode": o.mode, "dev_major": o.dev.0, "dev_minor": o.dev.1,
        "ino": o.ino, "file": o.file, "path": path, "display": display,
        "path_truncated": truncated, "path_detached": false, "socket": socket})
}

/// The `LTIDENT file` line of `o`.
fn file_line(mark: u64, o: &Obj, role: &str, fd: i64) -> String {
    let mut s = format!(
        "LTIDENT file mark={mark:#x} obj={} role={role} fd={fd} kind={} dev={}:{} ino={} mode=0{:o}",
        o.name, o.kind, o.dev.0, o.dev.1, o.ino, o.mode
    );
    if let Some((f, t, l, r)) = o.sock {
        s += &format!(" family={f} type={t}");
        if f == 2 {
            s += &format!(" local={l} remote={r}");
        }
    }
    s + &format!(" link={}", o.link)
}

/// The longfile's path (as lt-ident builds it): over 512 bytes.
fn long_path() -> String {
    let mut p = "/tmp/lt-ident.d".to_string();
    for c in ["a", "b", "c"] {
        p.push('/');
        p += &c.repeat(200);
    }
    p + "/long.txt"
}

/// The objects of `lt-ident`, as a guest would see them.
fn objects(k: u64) -> Vec<Obj> {
    let f = |name, kind, mode, dev, ino, link: &str, sock| Obj {
        name,
        kind,
        mode,
        dev,
        ino,
        link: link.to_string(),
        sock,
        file: 0xffff_8880_0100_0000 + k * 0x10000 + ino * 0x100,
    };
    vec![
        f(
            "tmpfile",
            "regular",
            0o100640,
            (0, 23),
            11,
            "/tmp/lt-ident.d/nested-directory/file.txt",
            None,
        ),
        f(
            "dir-work",
            "directory",
            0o40755,
            (0, 23),
            12,
            "/tmp/lt-ident.d",
            None,
        ),
        f(
            "relfile",
            "regular",
            0o100640,
            (0, 23),
            11,
            "/tmp/lt-ident.d/nested-directory/file.txt",
            None,
        ),
        f(
            "longfile",
            "regular",
            0o100600,
            (0, 23),
            13,
            &long_path(),
            None,
        ),
        f(
            "exe",
            "regular",
            0o100755,
            (0, 1),
            14,
            "/usr/bin/lt-ident",
            None,
        ),
        f(
            "devnull",
            "char-device",
            0o20666,
            (0, 5),
            15,
            "/dev/null",
            None,
        ),
        f("dir-root", "directory", 0o40755, (0, 1), 1, "/", None),
        f("dir-tmp", "directory", 0o41777, (0, 23), 2, "/tmp", None),
        f("pipe-r", "fifo", 0o10600, (0, 14), 300, "pipe:[300]", None),
        f("pipe-w", "fifo", 0o10600, (0, 14), 300, "pipe:[300]", None),
        f(
            "unix-a",
            "socket",
            0o140777,
            (0, 8),
            301,
            "socket:[301]",
            Some((1, 1, "0.0.0.0:0", "0.0.0.0:0")),
        ),
        f(
            "unix-b",
            "socket",
            0o140777,
            (0, 8),
            302,
            "socket:[302]",
            Some((1, 1, "0.0.0.0:0", "0.0.0.0:0")),
        ),
        f(
            "tcp-listen",
            "socket",
            0o140777,
            (0, 8),
            303,
            "socket:[303]",
            Some((2, 1, "127.0.0.1:47011", "0.0.0.0:0")),
        ),
        f(
            "tcp-client",
            "socket",
            0o140777,
            (0, 8),
            304,
            "socket:[304]",
            Some((2, 1, "127.0.0.1:40582", "127.0.0.1:47011")),
        ),
        f(
            "tcp-accepted",
            "socket",
            0o140777,
            (0, 8),
            305,
            "socket:[305]",
            Some((2, 1, "127.0.0.1:47011", "127.0.0.1:40582")),
        ),
    ]
}

/// Churn children of the synthetic runs.
const CHURN: u32 = 5;

/// A guest running `lt-ident`: pid P, its parent the shell (pid 40).
fn run_program(g: &mut Guest, p: i64, k: u64) {
    let task = |n: i64| 0xffff_8880_0200_0000u64 + k * 0x100_0000 + (n as u64) * 0x2000;
    let main = Who {
        proc_: "main",
        pid: p,
        tid: p,
        ppid: 40,
        comm: "lt-ident".into(),
        task: task(p),
    };
    g.log.push(format!(
        "LTIDENT start magic={MARK_MAGIC:#x} pid={p} churn={CHURN}"
    ));
    // The shell's own calls: not marked, not checked beyond status.
    let sh = Who {
        proc_: "sh",
        pid: 40,
        tid: 40,
        ppid: 1,
        comm: "sh".into(),
        task: task(40),
    };
    g.sys(&sh, 61, [u64::MAX, 0, 0, 0, 0, 0], p, vec![]);
    g.mark_task(&main);

    let objs = objects(k);
    let by = |n: &str| objs.iter().find(|o| o.name == n).cloned().expect("object");
    for o in &objs {
        let fd = 3 + (o.ino % 3) as i64;
        match o.name {
            "pipe-w" | "unix-b" | "tcp-accepted" => continue,
            "pipe-r" => {
                let w = by("pipe-w");
                g.call(&main, 293, "pipe2", 0, &[(o, "pair0", 3), (&w, "pair1", 4)]);
                g.call(&main, 5, "fstat", 0, &[(&w, "arg0", 4)]);
                g.call(&main, 3, "close", 0, &[(&w, "arg0", 4)]);
            }
            "unix-a" => {
                let b = by("unix-b");
                g.call(
                    &main,
                    53,
                    "socketpair",
                    0,
                    &[(o, "pair0", 3), (&b, "pair1", 4)],
                );
                g.call(&main, 3, "close", 0, &[(&b, "arg0", 4)]);
            }
            "tcp-listen" => {
                let a = by("tcp-accepted");
                g.call(&main, 41, "socket", fd, &[(o, "return", fd)]);
                g.call(
                    &main,
                    288,
                    "accept4",
                    6,
                    &[(o, "arg0", fd), (&a, "return", 6)],
                );
                g.call(&main, 3, "close", 0, &[(&a, "arg0", 6)]);
            }
            "tcp-client" => g.call(&main, 41, "socket", fd, &[(o, "return", fd)]),
            _ => g.call(&main, 257, "openat", fd, &[(o, "return", fd)]),
        }
        g.call(&main, 5, "fstat", 0, &[(o, "arg0", fd)]);
        g.call(&main, 3, "close", 0, &[(o, "arg0", fd)]);
    }

    let thread = Who {
        proc_: "thread",
        tid: p + 1,
        comm: "lt-thread".into(),
        task: task(p + 1),
        ..main.clone()
    };
    g.mark_task(&thread);
    g.mark_task(&main);
    let orphan = Who {
        proc_: "orphan",
        pid: p + 3,
        tid: p + 3,
        ppid: p + 2,
        comm: "lt-orphan".into(),
        task: task(p + 3),
    };
    g.mark_task(&orphan);
    g.mark_task(&Who {
        ppid: p,
        ..orphan.clone()
    });

    // Churn: children on two recycled task_structs; the last one execs.
    let mut lines = 0;
    for i in 0..CHURN as i64 {
        let c = Who {
            proc_: "churn",
            pid: p + 10 + i,
            tid: p + 10 + i,
            ppid: p,
            comm: format!("ltc-{i:03}"),
            task: task(1000 + i % 2),
        };
        g.mark_task(&c);
        lines += 1;
        if i == CHURN as i64 - 1 {
            g.mark_task(&Who {
                comm: format!("ltx-{i:03}"),
                ..c
            });
            lines += 1;
        }
    }
    g.log
        .push(format!("LTIDENT churn children={CHURN} lines={lines}"));

    g.mark_task(&Who {
        proc_: "renamed",
        comm: "lt-renamed".into(),
        ..main.clone()
    });
    g.mark_task(&Who {
        proc_: "proc-comm",
        comm: "lt-proccomm".into(),
        ..main.clone()
    });
    g.mark_task(&Who {
        proc_: "exec",
        comm: "lt-ident-exec".into(),
        ..main.clone()
    });
    g.log.push("LTDONE ok".into());
    g.log.push("leaktrace-exit-status: 0".into());
}

/// A whole run: vm1 and vm2 traced (testbed and Debian kernels), vm3 not.
struct Run {
    /// summary.txt.
    summary: String,
    /// vmN.log by N.
    logs: BTreeMap<u32, String>,
    /// The stream, as JSON values (seq filled in when written).
    stream: Vec<Value>,
}

impl Run {
    /// The correct run.
    fn new() -> Self {
        let mut g1 = Guest::new(UUID1, 1, "7.3.4-leaktrace");
        let mut g2 = Guest::new(UUID2, 2, "7.3.0-1-amd64");
        run_program(&mut g1, 100, 1);
        run_program(&mut g2, 200, 2);
        // Interleave the two guests' records, by time then guest.
        let mut stream = vec![json!({"type": "loaded", "seq": 0, "time_ns": 1000,
            "ring_bytes": 262144, "heartbeat_ms": 1000})];
        let (mut a, mut b) = (
            g1.recs.into_iter().peekable(),
            g2.recs.into_iter().peekable(),
        );
        loop {
            let ta = a.peek().map(|v| v["time_ns"].as_u64().unwrap_or(0));
            let tb = b.peek().map(|v| v["time_ns"].as_u64().unwrap_or(0));
            match (ta, tb) {
                (None, None) => break,
                (Some(x), Some(y)) if y < x => stream.extend(b.next()),
                (Some(_), _) => stream.extend(a.next()),
                (None, Some(_)) => stream.extend(b.next()),
            }
        }
        let mut logs = BTreeMap::new();
        logs.insert(1, g1.log.join("\n") + "\n");
        logs.insert(2, g2.log.join("\n") + "\n");
        let mut g3 = Guest::new(UUID3, 3, "7.3.4-leaktrace");
        run_program(&mut g3, 300, 3);
        logs.insert(3, g3.log.join("\n") + "\n");
        let summary = format!(
            "scenario: /x/introspection\ntraced: vm1 vm2\n\
             vm1 uuid={UUID1} traced=yes exit=0 time=60s kernel=testbed\n\
             vm2 uuid={UUID2} traced=yes exit=0 time=70s kernel=debian\n\
             vm3 uuid={UUID3} traced=no exit=0 time=50s kernel=testbed\n\
             l1 kernel log: clean\nresult: pass\n"
        );
        Run {
            summary,
            logs,
            stream,
        }
    }

    /// events.jsonl, seq numbered.
    fn events_text(&self) -> String {
        self.stream
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let mut v = v.clone();
                if v.get("seq").is_some() {
                    v["seq"] = json!(i);
                }
                v.to_string() + "\n"
            })
            .collect()
    }

    /// What the checker reads.
    fn input(&self) -> Input {
        let summary = Summary::parse(&self.summary).expect("summary");
        Input {
            kernels: summary_kernels(&self.summary),
            summary,
            events: Ok(Events::parse(&self.events_text())),
            logs: self
                .logs
                .iter()
                .map(|(n, t)| (*n, Ok(IdentLog::parse(t))))
                .collect(),
        }
    }

    /// The checks, default options.
    fn check(&self) -> Vec<TestResult> {
        check::run(&self.input(), &Options::default())
    }

    /// Index of the syscall record whose mark's log line matches `pred`.
    fn marked(&self, vm: u32, pred: impl Fn(&str) -> bool) -> usize {
        let line = self.logs[&vm]
            .lines()
            .find(|l| l.starts_with("LTIDENT call") && pred(l))
            .expect("a call line");
        let mark = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("mark=0x"))
            .and_then(|m| u64::from_str_radix(m, 16).ok())
            .expect("mark");
        let uuid = if vm == 1 { UUID1 } else { UUID2 };
        self.stream
            .iter()
            .position(|v| v["type"] == "syscall" && v["uuid"] == uuid && v["args"][5] == mark)
            .expect("its record")
    }

    /// Index of the file record with `role` of the call at `sys`.
    fn file_of(&self, sys: usize, role: &str) -> usize {
        let (vm, id) = (&self.stream[sys]["vm_id"], &self.stream[sys]["call_id"]);
        self.stream
            .iter()
            .position(|v| {
                v["type"] == "file" && &v["vm_id"] == vm && &v["call_id"] == id && v["role"] == role
            })
            .expect("file record")
    }
}

/// The failed tests: "name # why".
fn failed(r: &[TestResult]) -> Vec<String> {
    r.iter()
        .filter(|t| matches!(t.outcome, Outcome::Fail(_)))
        .map(|t| {
            let why = match &t.outcome {
                Outcome::Fail(w) => w.clone(),
                _ => String::new(),
            };
            format!("{} # {why}", t.name)
        })
        .collect()
}

/// The failed tests; asserts each contains one of `want` and every `want`
/// is matched.
fn assert_fails(r: &[TestResult], want: &[&str]) {
    let f = failed(r);
    for w in want {
        assert!(
            f.iter().any(|l| l.contains(w)),
            "no failure with '{w}' in {f:#?}"
        );
    }
    for l in &f {
        assert!(want.iter().any(|w| l.contains(w)), "unexpected failure {l}");
    }
}

#[test]
fn correct_run_passes() {
    let r = Run::new().check();
    assert_eq!(failed(&r), Vec::<String>::new());
    assert!(r.iter().all(|t| t.outcome == Outcome::Pass), "{r:#?}");
    // Global (5), per traced guest (3 + 1 + 1 + 1 + procs + churn +
    // objects), untraced guest (3 + 1).
    let per = 6 + check::PROCS.len() + 1 + OBJECTS.len();
    assert_eq!(r.len(), 5 + 2 * per + 4);
}

#[test]
fn stale_comm_after_prctl_fails() {
    let mut run = Run::new();
    let i = run.marked(1, |l| l.contains("proc=renamed"));
    run.stream[i]["task"]["comm"] = json!("lt-ident");
    assert_fails(&run.check(), &["vm1: the program after prctl(PR_SET_NAME)"]);
}

#[test]
fn stale_comm_after_proc_comm_write_fails() {
    let mut run = Run::new();
    let i = run.marked(2, |l| l.contains("proc=proc-comm"));
    run.stream[i]["task"]["comm"] = json!("lt-renamed");
    let r = run.check();
    assert_fails(&r, &["vm2: the program after writing /proc/self/comm"]);
    let t = r
        .iter()
        .find(|t| t.name.contains("vm2: the program after writing"))
        .expect("test");
    assert!(
        matches!(&t.outcome, Outcome::Fail(w) if w.contains("comm Some(\"lt-renamed\") != \"lt-proccomm\"")),
        "{t:#?}"
    );
}

#[test]
fn orphan_with_its_old_parent_fails() {
    let mut run = Run::new();
    let i = run.marked(1, |l| l.contains("proc=orphan") && l.contains("ppid=100 "));
    run.stream[i]["task"]["ppid"] = json!(102);
    assert_fails(
        &run.check(),
        &["vm1: a grandchild before and after reparenting"],
    );
}

#[test]
fn thread_with_pid_and_tid_swapped_fails() {
    let mut run = Run::new();
    let i = run.marked(1, |l| l.contains("proc=thread"));
    run.stream[i]["task"]["pid"] = json!(100);
    run.stream[i]["task"]["tgid"] = json!(101);
    assert_fails(&run.check(), &["vm1: a second thread"]);
}

#[test]
fn stale_churn_identity_fails() {
    let mut run = Run::new();
    // The third child's record shows the first child (same task_struct).
    let i = run.marked(2, |l| l.contains("comm=ltc-002"));
    run.stream[i]["task"]["pid"] = json!(210);
    run.stream[i]["task"]["tgid"] = json!(210);
    run.stream[i]["task"]["comm"] = json!("ltc-000");
    assert_fails(&run.check(), &["vm2: churn"]);
}

#[test]
fn churn_exec_keeping_the_old_comm_fails() {
    let mut run = Run::new();
    let i = run.marked(1, |l| l.contains("comm=ltx-004"));
    run.stream[i]["task"]["comm"] = json!("ltc-004");
    assert_fails(&run.check(), &["vm1: churn"]);
}

#[test]
fn unresolved_task_after_activation_fails() {
    let mut run = Run::new();
    // An unmarked call (a print), so only the status check sees it.
    let i = run
        .stream
        .iter()
        .rposition(|v| v["type"] == "syscall" && v["uuid"] == UUID1 && v["nr"] == 1)
        .expect("a print");
    run.stream[i]["task"] = json!({"status": "unresolved", "task": null, "pid": null,
        "tgid": null, "ppid": null, "comm": null});
    let r = run.check();
    assert_fails(&r, &["vm1: the profile is active"]);
    let t = r
        .iter()
        .find(|t| t.name.starts_with("vm1: the profile"))
        .expect("test");
    assert!(
        t.diag.iter().any(|d| d.contains("\"unresolved\": 1")),
        "{t:#?}"
    );
}

#[test]
fn no_profile_records_before_activation_are_counted_not_failed() {
    let mut run = Run::new();
    let act = run
        .stream
        .iter()
        .position(|v| v["event"] == "profile-active" && v["vm_id"] == 1)
        .expect("activation");
    let rec = json!({"type": "syscall", "seq": 0, "time_ns": 10, "vm_id": 1, "uuid": UUID1,
        "vcpu": 0, "vm_seq": 0, "cr3": 1, "rip": 2, "rsp": 3, "nr": 0, "name": "read",
        "args": [0, 0, 0, 0, 0, 0], "ret": 0, "end": "returned", "entry_ns": 5,
        "exit_ns": 6, "call_id": 9999, "task": {"status": "no-profile"}});
    run.stream.insert(act, rec);
    let r = run.check();
    assert_eq!(failed(&r), Vec::<String>::new());
    let t = r
        .iter()
        .find(|t| t.name.starts_with("vm1: the profile"))
        .expect("test");
    assert!(
        t.diag
            .iter()
            .any(|d| d.contains("before the profile became active: {\"no-profile\": 1}")),
        "{t:#?}"
    );
}

#[test]
fn no_profile_fails_or_skips() {
    let mut run = Run::new();
    run.stream
        .retain(|v| !(v["event"] == "profile-active" && v["vm_id"] == 2));
    for v in run
        .stream
        .iter_mut()
        .filter(|v| v["type"] == "syscall" && v["vm_id"] == 2)
    {
        v["task"] = json!({"status": "no-profile"});
    }
    run.stream
        .retain(|v| !(v["type"] == "file" && v["vm_id"] == 2));
    let r = run.check();
    let vm2 = failed(&r);
    assert!(vm2.iter().all(|l| l.starts_with("vm2: ")), "{vm2:#?}");
    // The status test, every proc, churn and every object.
    assert_eq!(
        vm2.len(),
        1 + check::PROCS.len() + 1 + OBJECTS.len(),
        "{vm2:#?}"
    );
    assert!(vm2[0].contains("no profile-active VM record"));

    let r = check::run(
        &run.input(),
        &Options {
            allow_no_profile: true,
        },
    );
    assert_eq!(failed(&r), Vec::<String>::new());
    let skipped = r
        .iter()
        .filter(|t| matches!(t.outcome, Outcome::Skip(_)))
        .count();
    assert_eq!(skipped, 1 + check::PROCS.len() + 1 + OBJECTS.len());
}

#[test]
fn profile_mismatch_fails() {
    let mut run = Run::new();
    let i = run
        .stream
        .iter()
        .position(|v| v["event"] == "profile-active" && v["vm_id"] == 1)
        .expect("activation");
    run.stream[i]["event"] = json!("profile-mismatch");
    // A mismatch fails even where a missing profile would be skipped.
    let f = failed(&check::run(
        &run.input(),
        &Options {
            allow_no_profile: true,
        },
    ));
    assert!(
        f.iter()
            .any(|l| l.starts_with("vm1: the profile is active") && l.contains("profile-mismatch")),
        "{f:#?}"
    );
    assert!(f.iter().any(|l| l.starts_with("vm1: churn")), "{f:#?}");
}

#[test]
fn wrong_inode_device_or_mode_fails_its_object() {
    for (obj, field, value) in [
        ("tmpfile", "ino", json!(99)),
        ("devnull", "dev_minor", json!(3)),
        ("dir-tmp", "mode", json!(0o40755)),
        ("pipe-r", "kind", json!("regular")),
    ] {
        let mut run = Run::new();
        let i = run.marked(1, |l| {
            l.contains("name=fstat") && {
                let logs = &run.logs[&1];
                // The fstat whose file line names this object.
                let mark = l
                    .split_whitespace()
                    .find_map(|w| w.strip_prefix("mark="))
                    .unwrap_or("");
                logs.lines()
                    .any(|f| f.contains(&format!("mark={mark} obj={obj} ")))
            }
        });
        let f = run.file_of(i, "arg0");
        run.stream[f][field] = value;
        assert_fails(&run.check(), &[&format!("({obj}): file records agree")]);
    }
}

#[test]
fn display_other_than_readlink_fails() {
    let mut run = Run::new();
    let i = run.marked(1, |l| l.contains("name=pipe2"));
    let f = run.file_of(i, "pair1");
    run.stream[f]["display"] = json!("pipe:[301]");
    assert_fails(&run.check(), &["(pipe-w): file records agree"]);
}

#[test]
fn long_path_not_truncated_fails_and_its_tail_passes() {
    let mut run = Run::new();
    let p = long_path();
    let i = run.marked(2, |l| {
        l.contains("name=openat") && l.contains(&format!("ret={}", 3 + 13 % 3))
    });
    let f = run.file_of(i, "return");
    assert_eq!(run.stream[f]["path_truncated"], true);
    let tail = run.stream[f]["display"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_default();
    assert!(
        tail.len() <= 512 && p.ends_with(&tail) && tail.starts_with("/bbb"),
        "{tail}"
    );
    run.stream[f]["path_truncated"] = json!(false);
    assert_fails(&run.check(), &["vm2: regular file whose path is longer"]);

    let mut run = Run::new();
    let f = run.file_of(i, "return");
    run.stream[f]["path"] = json!("/ccc/long.txt");
    run.stream[f]["display"] = json!("/ccc/long.txt");
    assert_fails(&run.check(), &["vm2: regular file whose path is longer"]);
}

#[test]
fn wrong_socket_address_fails() {
    let mut run = Run::new();
    let i = run.marked(1, |l| l.contains("name=accept4"));
    let f = run.file_of(i, "return");
    run.stream[f]["socket"]["remote"] = json!("127.0.0.1:40583");
    assert_fails(&run.check(), &["(tcp-accepted): file records agree"]);

    let mut run = Run::new();
    let f = run.file_of(i, "arg0");
    run.stream[f]["socket"] = Value::Null;
    assert_fails(&run.check(), &["(tcp-listen): file records agree"]);
}

#[test]
fn unix_socket_addresses_are_not_compared() {
    let mut run = Run::new();
    let i = run.marked(1, |l| l.contains("name=socketpair"));
    let f = run.file_of(i, "pair0");
    run.stream[f]["socket"]["local"] = json!("1.2.3.4:5");
    assert_eq!(failed(&run.check()), Vec::<String>::new());
}

#[test]
fn two_struct_files_for_one_open_file_fail() {
    let mut run = Run::new();
    let i = run.marked(2, |l| l.contains("name=openat") && l.contains("ret=5"));
    let f = run.file_of(i, "return");
    run.stream[f]["file"] = json!(0xffff_8880_7777_0000u64);
    let r = run.check();
    assert_fails(&r, &["vm2: regular file below /tmp"]);
    let t = r
        .iter()
        .find(|t| t.name.contains("(tmpfile)") && t.name.starts_with("vm2"))
        .expect("test");
    assert!(
        matches!(&t.outcome, Outcome::Fail(w) if w.contains("2 struct file addresses")),
        "{t:#?}"
    );
}

#[test]
fn missing_or_misplaced_file_record_fails() {
    let mut run = Run::new();
    let i = run.marked(1, |l| l.contains("name=pipe2"));
    let f = run.file_of(i, "pair0");
    run.stream.remove(f);
    assert_fails(&run.check(), &["(pipe-r): file records agree"]);

    // After its syscall record: the structure test and the object's.
    let mut run = Run::new();
    let f = run.file_of(i, "pair0");
    let rec = run.stream.remove(f);
    run.stream.insert(i, rec);
    assert_fails(
        &run.check(),
        &["vm1: file records precede", "(pipe-r): file records agree"],
    );
}

#[test]
fn file_record_without_a_call_or_duplicate_role_fails() {
    let mut run = Run::new();
    let i = run.marked(1, |l| l.contains("name=fstat"));
    let f = run.file_of(i, "arg0");
    let mut orphan = run.stream[f].clone();
    orphan["call_id"] = json!(123_456);
    run.stream.push(orphan);
    let dup = run.stream[f].clone();
    run.stream.insert(f, dup);
    assert_fails(
        &run.check(),
        &["vm1: file records precede", "(tmpfile): file records agree"],
    );
}

#[test]
fn two_records_with_one_mark_fail() {
    let mut run = Run::new();
    let i = run.marked(2, |l| l.contains("proc=exec"));
    let mut dup = run.stream[i].clone();
    dup["call_id"] = json!(777_777);
    run.stream.push(dup);
    assert_fails(&run.check(), &["vm2: the program after execve"]);
}

#[test]
fn untraced_guest_records_fail() {
    let mut run = Run::new();
    let mut rec = run.stream[run.marked(1, |l| l.contains("proc=exec"))].clone();
    rec["uuid"] = json!(UUID3);
    rec["vm_id"] = json!(3);
    run.stream.push(rec);
    assert_fails(
        &run.check(),
        &[
            "every syscall record carries the UUID of a traced guest",
            "vm3 (untraced",
        ],
    );

    let mut run = Run::new();
    let i = run.marked(1, |l| l.contains("name=fstat"));
    let mut f = run.stream[run.file_of(i, "arg0")].clone();
    f["vm_id"] = json!(9);
    run.stream.push(f);
    assert_fails(&run.check(), &["every file record the VM id of one"]);
}

/// An edit of a guest log.
type LogEdit = dyn Fn(&str) -> String;

#[test]
fn guest_self_check_failures_fail() {
    let cases: [(&str, &LogEdit); 5] = [
        ("LTFAIL", &|l: &str| {
            l.replace(
                "LTDONE ok",
                "LTFAIL proc=main pid=100: x\nLTDONE failed (1)",
            )
        }),
        ("no call of proc orphan", &|l: &str| {
            l.lines()
                .filter(|x| !x.contains("proc=orphan"))
                .collect::<Vec<_>>()
                .join("\n")
        }),
        ("churn: 6 lines announced, 5 printed", &|l: &str| {
            l.lines()
                .filter(|x| !x.contains("comm=ltx-004"))
                .collect::<Vec<_>>()
                .join("\n")
        }),
        ("no file line of dir-tmp", &|l: &str| {
            l.lines()
                .filter(|x| !x.contains("obj=dir-tmp"))
                .collect::<Vec<_>>()
                .join("\n")
        }),
        ("bad LTIDENT line", &|l: &str| {
            l.replacen("kind=regular", "kind=regular dev=1:2", 1)
        }),
    ];
    for (want, edit) in cases {
        let mut run = Run::new();
        let t = edit(&run.logs[&1]);
        run.logs.insert(1, t);
        let r = run.check();
        let f = failed(&r);
        assert!(
            f.iter()
                .any(|l| l.starts_with("vm1: lt-ident ran") && l.contains(want))
                || r.iter().any(|t| t.name.starts_with("vm1: lt-ident ran")
                    && t.diag.iter().any(|d| d.contains(want))),
            "{want}: {r:#?}"
        );
    }
}

#[test]
fn wrong_kernel_fails() {
    let mut run = Run::new();
    let t = run.logs[&2].replace("LTKERNEL 7.3.0-1-amd64", "LTKERNEL 7.3.4-leaktrace");
    run.logs.insert(2, t);
    assert_fails(
        &run.check(),
        &["vm2: the guest runs the kernel its vmN.kernel names (debian)"],
    );

    let mut run = Run::new();
    run.summary = run.summary.replace(" kernel=testbed", "");
    let r = run.check();
    assert_eq!(failed(&r), Vec::<String>::new());
    assert!(r.iter().any(
        |t| t.name.starts_with("vm1: the guest runs") && matches!(t.outcome, Outcome::Skip(_))
    ));
}

#[test]
fn lost_records_and_bad_lines_fail() {
    let mut run = Run::new();
    run.stream
        .push(json!({"type": "lost", "first_seq": 5, "count": 2}));
    run.stream.push(json!({"type": "file", "vm_id": 1}));
    assert_fails(
        &run.check(),
        &["no records lost", "vm lines have the documented fields"],
    );
}

#[test]
fn tracing_not_applied_fails() {
    let mut run = Run::new();
    run.summary = run.summary.replace(
        "l1 kernel log",
        "trace selection recorded; not applied: module has no VM tracing yet\nl1 kernel log",
    );
    let f = failed(&run.check());
    assert!(
        f.iter().any(|l| l.contains("trace selection was applied")),
        "{f:#?}"
    );
}

/// Lines as the program prints them (from a run on the host), parsed.
#[test]
fn parses_real_program_output() {
    let text = "\
LTIDENT start magic=0x4c544944454e5421 pid=13185 churn=30
LTIDENT call proc=main mark=0x338100000001 nr=39 name=getpid ret=13185 pid=13185 tid=13185 ppid=13123 comm=lt-ident
LTIDENT file mark=0x338100000003 obj=tmpfile role=arg0 fd=3 kind=regular dev=254:0 ino=10068434 mode=0100640 link=/tmp/lt-ident.d/nested-directory/file.txt
LTIDENT file mark=0x338100000023 obj=pipe-w role=pair1 fd=4 kind=fifo dev=0:15 ino=1010911 mode=010600 link=pipe:[1010911]
LTIDENT file mark=0x33810000002b obj=unix-a role=arg0 fd=3 kind=socket dev=0:9 ino=1010912 mode=0140777 family=1 type=1 link=socket:[1010912]
LTIDENT file mark=0x338100000033 obj=tcp-listen role=arg0 fd=3 kind=socket dev=0:9 ino=1010915 mode=0140777 family=2 type=1 link=socket:[1010915]
LTIDENT file mark=0x33810000003a obj=tcp-accepted role=return fd=5 kind=socket dev=0:9 ino=1010917 mode=0140777 family=2 type=1 local=127.0.0.1:47011 remote=127.0.0.1:40582 link=socket:[1010917]
LTIDENT call proc=thread mark=0x338200000041 nr=39 name=getpid ret=13185 pid=13185 tid=13186 ppid=13123 comm=lt thread
LTIDENT churn children=30 lines=33
LTDONE ok
leaktrace-exit-status: 0
";
    let g = IdentLog::parse(text);
    assert_eq!(g.bad_lines, vec![]);
    assert_eq!(g.magic, Some(MARK_MAGIC));
    assert_eq!(
        (g.start_pid, g.churn_asked, g.churn),
        (Some(13185), Some(30), Some((30, 33)))
    );
    assert_eq!(g.calls.len(), 2);
    let c = &g.calls[0];
    assert_eq!(
        (c.mark, c.nr, c.ret, c.pid, c.tid, c.ppid),
        (0x3381_0000_0001, 39, 13185, 13185, 13185, 13123)
    );
    assert_eq!(c.comm, "lt-ident");
    // comm is the rest of the line, spaces included.
    assert_eq!(g.calls[1].comm, "lt thread");
    let f = &g.files[0];
    assert_eq!(
        (f.dev, f.ino, f.mode, f.fd),
        ((254, 0), 10_068_434, 0o100640, 3)
    );
    assert_eq!(f.link, "/tmp/lt-ident.d/nested-directory/file.txt");
    assert_eq!((f.family, &f.local), (None, &None));
    assert_eq!(g.files[1].mode, 0o10600);
    assert_eq!(g.files[1].link, "pipe:[1010911]");
    assert_eq!(
        (g.files[2].family, g.files[2].sock_type, &g.files[2].local),
        (Some(1), Some(1), &None)
    );
    let t = &g.files[4];
    assert_eq!(t.local.as_deref(), Some("127.0.0.1:47011"));
    assert_eq!(t.remote.as_deref(), Some("127.0.0.1:40582"));
    assert_eq!(g.run.done, ["ok"]);
    assert_eq!(g.run.exit_status, Some(0));
}

#[test]
fn summary_kernel_words() {
    let k = summary_kernels(
        "vm1 uuid=a traced=yes exit=0 time=1s kernel=testbed\nvm2 uuid=b traced=yes exit=0 time=-\nresult: pass\n",
    );
    assert_eq!(k.get(&1).map(String::as_str), Some("testbed"));
    assert_eq!(k.get(&2), None);
}
