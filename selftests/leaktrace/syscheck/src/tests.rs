// SPDX-License-Identifier: GPL-2.0

//! Unit tests on synthetic runs: a guest log in `lt-syscalls`' format and
//! the record stream a correct module would produce for it, then one fault
//! at a time.

use crate::check::{self, Input, Options, Outcome, TestResult};
use crate::input::{Events, GuestLog, Summary};
use std::collections::BTreeMap;

const UUID1: &str = "4c540000-0000-4000-8000-000000000001";
const UUID2: &str = "a1b2c3d4-e5f6-4789-8abc-def012345678";
const UUID3: &str = "4c540000-0000-4000-8000-000000000003";

/// One call of the program: what it prints and what the module records.
struct Call {
    proc_: &'static str,
    pid: i64,
    nr: u64,
    name: &'static str,
    args: Vec<(usize, u64)>,
    ret: Option<i64>,
    /// `end` of the record.
    end: &'static str,
    /// `end=` of the LTEXPECT line.
    exp_end: &'static str,
}

fn call(
    proc_: &'static str,
    pid: i64,
    nr: u64,
    name: &'static str,
    args: &[(usize, u64)],
    ret: i64,
) -> Call {
    Call {
        proc_,
        pid,
        nr,
        name,
        args: args.to_vec(),
        ret: Some(ret),
        end: "returned",
        exp_end: "returned",
    }
}

const AT_FDCWD: u64 = -100i64 as u64;
const PATH: u64 = 0x47a3d0;

/// The program's calls: (main, fork, exec).
fn program(p: i64, c: i64) -> (Vec<Call>, Vec<Call>, Vec<Call>) {
    let main = vec![
        call("main", p, 39, "getpid", &[], p),
        call(
            "main",
            p,
            257,
            "openat",
            &[(0, AT_FDCWD), (1, PATH), (2, 0x241), (3, 0o640)],
            3,
        ),
        call(
            "main",
            p,
            1,
            "write",
            &[(0, 3), (1, 0x4a93e0), (2, 4242)],
            4242,
        ),
        call("main", p, 3, "close", &[(0, 3)], 0),
        call(
            "main",
            p,
            257,
            "openat",
            &[(0, AT_FDCWD), (1, PATH), (2, 0)],
            3,
        ),
        call("main", p, 5, "fstat", &[(0, 3), (1, 0x7ffc0101abf0)], 0),
        call("main", p, 0, "read", &[(0, 3), (1, 8), (2, 16)], -14),
        call(
            "main",
            p,
            0,
            "read",
            &[(0, 3), (1, 0x4a8340), (2, 4242)],
            4242,
        ),
        call("main", p, 3, "close", &[(0, 3)], 0),
        call("main", p, 3, "close", &[(0, 4242)], -9),
        call(
            "main",
            p,
            293,
            "pipe2",
            &[(0, 0x7ffc0101abe8), (1, 0x80000)],
            0,
        ),
        call("main", p, 1, "write", &[(0, 4), (1, 0x47a3b0), (2, 17)], 17),
        call(
            "main",
            p,
            0,
            "read",
            &[(0, 3), (1, 0x7ffc0101abf0), (2, 17)],
            17,
        ),
        call("main", p, 3, "close", &[(0, 3)], 0),
        call("main", p, 3, "close", &[(0, 4)], 0),
        call("main", p, 57, "fork", &[], c),
        call(
            "main",
            p,
            61,
            "wait4",
            &[(0, c as u64), (1, 0x7ffc0101abf0), (2, 0), (3, 0)],
            c,
        ),
    ];
    let fork = vec![
        call("fork", c, 39, "getpid", &[], c),
        Call {
            ret: None,
            end: "superseded",
            exp_end: "not-returned",
            ..call(
                "fork",
                c,
                59,
                "execve",
                &[(0, 0x47a3a0), (1, 0x4a60e0), (2, 0x7ffc0101ae88)],
                0,
            )
        },
    ];
    let exec = vec![
        call("exec", c, 39, "getpid", &[], c),
        Call {
            ret: None,
            end: "no-return",
            exp_end: "no-return",
            ..call("exec", c, 231, "exit_group", &[(0, 42)], 0)
        },
    ];
    (main, fork, exec)
}

fn expect_line(c: &Call) -> String {
    let mut s = format!(
        "LTEXPECT proc={} pid={} nr={} name={}",
        c.proc_, c.pid, c.nr, c.name
    );
    for (i, v) in &c.args {
        if *v == 0 {
            s += &format!(" a{i}=0");
        } else {
            s += &format!(" a{i}={v:#x}");
        }
    }
    if c.exp_end == "returned" {
        s += &format!(" ret={}", c.ret.unwrap());
    }
    s + &format!(" end={}", c.exp_end)
}

/// A guest log as lt-syscalls and the testbed write it.
fn guest_log(uuid: &str, p: i64, c: i64) -> String {
    let (main, fork, exec) = program(p, c);
    let mut l = vec![format!("LTUUID {uuid}")];
    l.push(expect_line(&main[0]));
    l.push(format!("LTSTART pid={p}"));
    l.extend(main[1..16].iter().map(expect_line));
    l.extend(fork.iter().map(expect_line));
    l.extend(exec.iter().map(expect_line));
    l.push(expect_line(&main[16]));
    l.push("LTDONE ok".into());
    l.push("leaktrace-exit-status: 0".into());
    l.join("\n") + "\n"
}

/// Builds a reader's JSON stream.
struct Stream {
    lines: Vec<String>,
    seq: u64,
    t: u64,
    vm_seq: BTreeMap<u64, u64>,
}

impl Stream {
    fn new() -> Self {
        let mut s = Stream {
            lines: vec![],
            seq: 0,
            t: 1_000_000,
            vm_seq: BTreeMap::new(),
        };
        s.push(
            r#"{"type":"loaded","seq":0,"time_ns":1000,"ring_bytes":262144,"heartbeat_ms":1000}"#
                .into(),
        );
        s
    }

    fn push(&mut self, l: String) {
        self.lines.push(l);
        self.seq += 1;
    }

    fn vm(&mut self, vm_id: u64, event: &str, uuid: Option<&str>) {
        let u = uuid.map_or("null".into(), |u| format!("\"{u}\""));
        let l = format!(
            r#"{{"type":"vm","seq":{},"time_ns":{},"vm_id":{vm_id},"event":"{event}","uuid":{u},"vmm_pid":77,"flags":0}}"#,
            self.seq, self.t
        );
        self.push(l);
    }

    #[allow(clippy::too_many_arguments)]
    fn sys(
        &mut self,
        vm_id: u64,
        uuid: &str,
        cr3: u64,
        nr: u64,
        args: [u64; 6],
        ret: Option<i64>,
        end: &str,
    ) {
        let vs = self.vm_seq.entry(vm_id).or_default();
        let vm_seq = *vs;
        *vs += 1;
        self.t += 1000;
        let entry = self.t - 500;
        let r = ret.map_or("null".into(), |r| r.to_string());
        let a: Vec<String> = args.iter().map(|x| x.to_string()).collect();
        let l = format!(
            r#"{{"type":"syscall","seq":{},"time_ns":{},"vm_id":{vm_id},"uuid":"{uuid}","vcpu":0,"vm_seq":{vm_seq},"cr3":{cr3},"rip":4198400,"rsp":140720000000000,"nr":{nr},"name":"n{nr}","args":[{}],"ret":{r},"end":"{end}","entry_ns":{entry},"exit_ns":{}}}"#,
            self.seq,
            self.t,
            a.join(","),
            self.t
        );
        self.push(l);
    }

    fn call(&mut self, vm_id: u64, uuid: &str, cr3: u64, c: &Call) {
        let mut args = [0xdead_0000u64; 6];
        for (i, v) in &c.args {
            args[*i] = *v;
        }
        self.sys(vm_id, uuid, cr3, c.nr, args, c.ret, c.end);
    }

    /// The print after a call: write(1, line, len).
    fn print(&mut self, vm_id: u64, uuid: &str, cr3: u64) {
        self.sys(
            vm_id,
            uuid,
            cr3,
            1,
            [1, 0x7ffc00000000, 80, 0, 0, 0],
            Some(80),
            "returned",
        );
    }

    /// A traced guest running the program: records in a plausible order,
    /// with the prints, /proc/self/stat reads and other processes' calls.
    fn guest(&mut self, vm_id: u64, uuid: &str, p: i64, c: i64) {
        let (main, fork, exec) = program(p, c);
        let (shell, m, f, e) = (
            0x1000_3000u64,
            0x2000_0000u64,
            0x3000_0000u64,
            0x4000_0000u64,
        );
        self.vm(vm_id, "created", None);
        self.vm(vm_id, "identified", Some(uuid));
        self.vm(vm_id, "armed", Some(uuid));
        // The shell: a decoy close(3) and wait4 in another address space.
        self.sys(
            vm_id,
            uuid,
            shell,
            3,
            [3, 0, 0, 0, 0, 0],
            Some(0),
            "returned",
        );
        self.sys(
            vm_id,
            uuid,
            shell,
            59,
            [1, 2, 3, 0, 0, 0],
            None,
            "superseded",
        );
        let stat = |s: &mut Stream, cr3: u64| {
            s.sys(
                vm_id,
                uuid,
                cr3,
                257,
                [AT_FDCWD, 0x1234, 0, 0, 0, 0],
                Some(3),
                "returned",
            );
            s.sys(
                vm_id,
                uuid,
                cr3,
                0,
                [3, 0x5678, 63, 0, 0, 0],
                Some(63),
                "returned",
            );
            s.sys(vm_id, uuid, cr3, 3, [3, 0, 0, 0, 0, 0], Some(0), "returned");
        };
        // Static startup.
        self.sys(
            vm_id,
            uuid,
            m,
            158,
            [0x1002, 0x4c0000, 0, 0, 0, 0],
            Some(0),
            "returned",
        );
        for (i, call) in main[..16].iter().enumerate() {
            self.call(vm_id, uuid, m, call);
            if i == 0 {
                stat(self, m);
            }
            if i == 15 {
                // The child runs after fork returned in the parent.
                self.call(vm_id, uuid, f, &fork[0]);
                stat(self, f);
                self.print(vm_id, uuid, f);
                self.print(vm_id, uuid, f);
                self.sys(
                    vm_id,
                    uuid,
                    e,
                    158,
                    [0x1002, 0x4c0000, 0, 0, 0, 0],
                    Some(0),
                    "returned",
                );
                self.call(vm_id, uuid, e, &exec[0]);
                stat(self, e);
                self.print(vm_id, uuid, e);
                self.print(vm_id, uuid, e);
                self.call(vm_id, uuid, e, &exec[1]);
            }
            self.print(vm_id, uuid, m);
        }
        self.call(vm_id, uuid, m, &main[16]);
        self.print(vm_id, uuid, m);
        self.sys(vm_id, uuid, m, 231, [0, 0, 0, 0, 0, 0], None, "no-return");
        // The child's execve is known not to have returned only at the end.
        self.call(vm_id, uuid, f, &fork[1]);
        self.vm(vm_id, "destroyed", Some(uuid));
    }

    fn text(&self) -> String {
        self.lines.join("\n") + "\n"
    }
}

fn summary(applied: bool) -> String {
    let mut s = String::from("scenario: /x/selftests/scenarios/syscalls\ntraced: vm1 vm2\n");
    if !applied {
        s += "trace selection recorded; not applied: module has no VM tracing yet\n";
    }
    s += &format!("vm1 uuid={UUID1} traced=yes exit=0 time=30s\n");
    s += &format!(
        "vm2 uuid={} traced=yes exit=0 time=31s\n",
        UUID2.to_uppercase()
    );
    s += &format!("vm3 uuid={UUID3} traced=no exit=0 time=29s\n");
    s + "l1 kernel log: clean\nresult: pass\n"
}

/// A correct run: guests 1 and 2 traced, guest 3 untraced (its VM exists,
/// but only created/identified/destroyed).
fn good_stream() -> Stream {
    let mut s = Stream::new();
    s.guest(1, UUID1, 101, 150);
    s.guest(2, UUID2, 201, 250);
    s.vm(3, "created", None);
    s.vm(3, "identified", Some(UUID3));
    s.vm(3, "destroyed", Some(UUID3));
    s
}

fn logs() -> BTreeMap<u32, Result<GuestLog, String>> {
    let mut m = BTreeMap::new();
    m.insert(1, Ok(GuestLog::parse(&guest_log(UUID1, 101, 150))));
    m.insert(2, Ok(GuestLog::parse(&guest_log(UUID2, 201, 250))));
    m.insert(3, Ok(GuestLog::parse(&guest_log(UUID3, 301, 350))));
    m
}

fn input(events: &str) -> Input {
    Input {
        summary: Summary::parse(&summary(true)).unwrap(),
        events: Ok(Events::parse(events)),
        logs: logs(),
    }
}

fn failed(r: &[TestResult]) -> Vec<String> {
    r.iter()
        .filter(|t| matches!(t.outcome, Outcome::Fail(_)))
        .map(|t| format!("{}: {:?} {:?}", t.name, t.outcome, t.diag))
        .collect()
}

fn failed_names(r: &[TestResult]) -> Vec<String> {
    r.iter()
        .filter(|t| matches!(t.outcome, Outcome::Fail(_)))
        .map(|t| t.name.clone())
        .collect()
}

fn run(i: &Input) -> Vec<TestResult> {
    check::run(i, &Options::default())
}

/// Renumbers vm_seq per vm_id, as a module that never produced a record
/// would have (so that only the expectation checks can notice).
fn renumber(lines: &[String]) -> Vec<String> {
    let mut next: BTreeMap<u64, u64> = BTreeMap::new();
    lines
        .iter()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            if v["type"] == "syscall" {
                let id = v["vm_id"].as_u64().unwrap();
                let n = next.entry(id).or_default();
                v["vm_seq"] = (*n).into();
                *n += 1;
            }
            serde_json::to_string(&v).unwrap()
        })
        .collect()
}

fn edit(
    lines: &[String],
    pick: impl Fn(&serde_json::Value) -> bool,
    f: impl Fn(&mut serde_json::Value),
) -> Vec<String> {
    let mut hit = 0;
    let out = lines
        .iter()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            if pick(&v) {
                hit += 1;
                f(&mut v);
            }
            serde_json::to_string(&v).unwrap()
        })
        .collect();
    assert_eq!(hit, 1, "the edit must hit exactly one line");
    out
}

fn is(v: &serde_json::Value, uuid: &str, nr: u64, a0: u64) -> bool {
    v["type"] == "syscall" && v["uuid"] == uuid && v["nr"] == nr && v["args"][0] == a0
}

/// A main-process mismatch fails the main check, and the two checks that
/// need all three processes' records say they cannot be done; nothing else.
fn assert_main_fails(f: &[String], vm: &str, vm_seq_too: bool) {
    let mut want = vec![
        format!("{vm}: the program (main)"),
        format!("{vm}: the child's execve"),
        format!("{vm}: the program, the forked child"),
    ];
    if vm_seq_too {
        want.push(format!("{vm}: vm_seq"));
    }
    assert_eq!(f.len(), want.len(), "{f:#?}");
    for (n, w) in f.iter().zip(&want) {
        assert!(n.starts_with(w.as_str()), "{f:#?}");
    }
}

#[test]
fn correct_run_passes() {
    let r = run(&input(&good_stream().text()));
    assert!(failed(&r).is_empty(), "{:#?}", failed(&r));
    assert!(r.iter().all(|t| t.outcome == Outcome::Pass), "{r:#?}");
    // 5 global, per traced guest 2 + 8, per untraced 2 + 1.
    assert_eq!(r.len(), 5 + 2 * 10 + 3);
}

#[test]
fn one_missing_record_fails() {
    // The read with the bad pointer (EFAULT) of vm1 never recorded.
    let lines = good_stream().lines;
    let without: Vec<String> = lines
        .iter()
        .filter(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            !(is(&v, UUID1, 0, 3) && v["args"][1] == 8)
        })
        .cloned()
        .collect();
    assert_eq!(without.len(), lines.len() - 1);

    // As the ring would show it: a gap in vm_seq.
    let r = run(&input(&(without.join("\n") + "\n")));
    assert_main_fails(&failed_names(&r), "vm1", true);
    let main = r
        .iter()
        .find(|t| t.name.starts_with("vm1: the program"))
        .unwrap();
    assert_eq!(
        main.outcome,
        Outcome::Fail("6 of 17 expected calls found; missing #7: read = -14".into())
    );
    assert!(
        main.diag[0].contains("read(nr 0 a0=0x3 a1=0x8 a2=0x10) = -14"),
        "{:?}",
        main.diag
    );
    // The near miss shown is the next read of the file, with what differs.
    assert!(
        main.diag
            .iter()
            .any(|d| d.contains("near miss") && d.contains("a1 0x4a8340 != 0x8")),
        "{:?}",
        main.diag
    );

    // As a module that never produced it: vm_seq without gaps; the
    // expectation check alone catches it.
    let r = run(&input(&(renumber(&without).join("\n") + "\n")));
    assert_main_fails(&failed_names(&r), "vm1", false);
}

#[test]
fn missing_exit_group_fails_child_and_ordering() {
    let lines: Vec<String> = good_stream()
        .lines
        .into_iter()
        .filter(|l| !(l.contains(UUID2) && l.contains(r#""nr":231,"name":"n231","args":[42,"#)))
        .collect();
    let r = run(&input(&(renumber(&lines).join("\n") + "\n")));
    let f = failed_names(&r);
    assert!(
        f.iter()
            .any(|n| n.starts_with("vm2: the child after execve")),
        "{f:#?}"
    );
    assert!(
        f.iter().any(|n| n.starts_with("vm2: the child's execve")),
        "{f:#?}"
    );
    assert!(
        f.iter()
            .any(|n| n.starts_with("vm2: the program, the forked child")),
        "{f:#?}"
    );
    assert!(f.iter().all(|n| n.starts_with("vm2")), "{f:#?}");
}

#[test]
fn wrong_return_value_fails() {
    // fork's ret is not the child's pid.
    let lines = edit(
        &good_stream().lines,
        |v| v["type"] == "syscall" && v["uuid"] == UUID2 && v["nr"] == 57,
        |v| v["ret"] = 0.into(),
    );
    let f = failed_names(&run(&input(&(lines.join("\n") + "\n"))));
    assert_main_fails(&f, "vm2", false);
}

#[test]
fn wrong_argument_fails() {
    // openat's mode 0640 recorded as 0644.
    let lines = edit(
        &good_stream().lines,
        |v| is(v, UUID1, 257, AT_FDCWD) && v["args"][3] == 0o640,
        |v| v["args"][3] = 0o644.into(),
    );
    let f = failed_names(&run(&input(&(lines.join("\n") + "\n"))));
    assert_main_fails(&f, "vm1", false);
}

#[test]
fn record_of_another_address_space_does_not_count() {
    // The known file's first close recorded with the shell's CR3: the
    // decoy must not stand in for it.
    let lines = good_stream().lines;
    let idx = lines
        .iter()
        .position(|l| {
            l.contains(UUID1) && l.contains(r#""nr":1,"name":"n1","args":[3,4887520,4242"#)
        })
        .unwrap();
    let close = lines[idx + 2].clone(); // write, print, close
    assert!(close.contains(r#""nr":3,"#), "{close}");
    let mut lines = lines;
    lines[idx + 2] = close.replace(r#""cr3":536870912"#, r#""cr3":268447744"#);
    let f = failed_names(&run(&input(&(lines.join("\n") + "\n"))));
    assert_main_fails(&f, "vm1", false);
}

#[test]
fn pcid_bits_do_not_split_an_address_space() {
    let lines = good_stream().lines;
    let idx = lines
        .iter()
        .position(|l| l.contains(UUID1) && l.contains(r#""nr":5,"#))
        .unwrap();
    let mut lines = lines;
    lines[idx] = lines[idx].replace(
        r#""cr3":536870912"#,
        &format!(r#""cr3":{}"#, 0x8000_0000_2000_0003u64),
    );
    let r = run(&input(&(lines.join("\n") + "\n")));
    assert!(failed(&r).is_empty(), "{:#?}", failed(&r));
}

#[test]
fn execve_that_returned_fails() {
    let lines = edit(
        &good_stream().lines,
        |v| is(v, UUID1, 59, 0x47a3a0),
        |v| {
            v["end"] = "returned".into();
            v["ret"] = 0.into();
        },
    );
    let r = run(&input(&(lines.join("\n") + "\n")));
    let f = failed_names(&r);
    assert!(
        f.iter()
            .any(|n| n.starts_with("vm1: the child before execve")),
        "{f:#?}"
    );
    let t = r
        .iter()
        .find(|t| t.name.starts_with("vm1: the child before execve"))
        .unwrap();
    assert!(
        t.diag
            .iter()
            .any(|d| d.contains("end returned is not one of")),
        "{:?}",
        t.diag
    );
}

#[test]
fn execve_ended_by_timeout_or_untrace_passes() {
    for end in ["timed-out", "untraced", "evicted"] {
        let lines = edit(
            &good_stream().lines,
            |v| is(v, UUID1, 59, 0x47a3a0),
            |v| v["end"] = end.into(),
        );
        let r = run(&input(&(lines.join("\n") + "\n")));
        assert!(failed(&r).is_empty(), "{end}: {:#?}", failed(&r));
    }
}

#[test]
fn exit_group_after_wait4_fails() {
    // Move vm1's exit_group record after the parent's wait4.
    let mut lines = good_stream().lines;
    let eg = lines
        .iter()
        .position(|l| l.contains(UUID1) && l.contains(r#""nr":231,"name":"n231","args":[42,"#))
        .unwrap();
    let rec = lines.remove(eg);
    let w = lines
        .iter()
        .position(|l| l.contains(UUID1) && l.contains(r#""nr":61,"#))
        .unwrap();
    lines.insert(w + 1, rec);
    let f = failed_names(&run(&input(&(renumber(&lines).join("\n") + "\n"))));
    assert_eq!(f.len(), 1, "{f:#?}");
    assert!(f[0].starts_with("vm1: the child's execve"), "{f:#?}");
}

#[test]
fn untraced_guest_with_records_fails() {
    let mut s = good_stream();
    s.sys(3, UUID3, 0x5000_0000, 39, [0; 6], Some(301), "returned");
    let f = failed_names(&run(&input(&s.text())));
    assert_eq!(f.len(), 2, "{f:#?}");
    assert!(f[0].starts_with("every syscall record carries the UUID of a traced guest"));
    assert!(f[1].starts_with("vm3 (untraced"));
}

#[test]
fn untraced_guest_armed_fails() {
    let mut s = good_stream();
    s.vm(3, "armed", Some(UUID3));
    let f = failed_names(&run(&input(&s.text())));
    assert_eq!(f.len(), 1, "{f:#?}");
    assert!(f[0].starts_with("vm3 (untraced"));
}

#[test]
fn byte_swapped_uuid_fails() {
    // A module that gets SMBIOS' little-endian fields wrong: vm2's records
    // carry a UUID nobody knows.
    let swapped = "d4c3b2a1-f6e5-8947-8abc-def012345678";
    let text = good_stream()
        .text()
        .replace(&format!("\"{UUID2}\""), &format!("\"{swapped}\""));
    let r = run(&input(&text));
    let f = failed_names(&r);
    assert!(
        f.iter()
            .any(|n| n.starts_with("every syscall record carries")),
        "{f:#?}"
    );
    let t = r.iter().find(|t| t.name.starts_with("vm2 (")).unwrap();
    assert!(matches!(t.outcome, Outcome::Fail(_)));
    assert!(t.diag.iter().any(|d| d.contains(swapped)), "{:?}", t.diag);
}

#[test]
fn inconsistent_records_fail() {
    let base = good_stream().lines;
    type Edit = Box<dyn Fn(&mut serde_json::Value)>;
    let cases: Vec<(&str, Edit)> = vec![
        ("ret with end no-return", Box::new(|v| v["ret"] = 0.into())),
        ("exit before entry", Box::new(|v| v["exit_ns"] = 1.into())),
        (
            "five args",
            Box::new(|v| {
                v["args"].as_array_mut().unwrap().pop();
            }),
        ),
        ("unknown end", Box::new(|v| v["end"] = "vanished".into())),
    ];
    for (what, f) in cases {
        let lines = edit(&base, |v| is(v, UUID1, 231, 42), &f);
        let r = run(&input(&(lines.join("\n") + "\n")));
        let names = failed_names(&r);
        assert!(
            names
                .iter()
                .any(|n| n.starts_with("syscall records are consistent")),
            "{what}: {names:#?}"
        );
    }
    // A returned call with a null ret.
    let lines = edit(
        &base,
        |v| is(v, UUID1, 3, 4242),
        |v| v["ret"] = serde_json::Value::Null,
    );
    let names = failed_names(&run(&input(&(lines.join("\n") + "\n"))));
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("syscall records are consistent")),
        "{names:#?}"
    );
}

#[test]
fn ret_as_unsigned_is_a_schema_error() {
    // -14 printed as a u64 is not the documented signed ret.
    let lines = edit(
        &good_stream().lines,
        |v| is(v, UUID1, 0, 3) && v["args"][1] == 8,
        |v| v["ret"] = serde_json::json!(u64::MAX - 13),
    );
    let f = failed_names(&run(&input(&(lines.join("\n") + "\n"))));
    assert!(
        f.iter().any(|n| n.starts_with("events.jsonl: every line")),
        "{f:#?}"
    );
}

#[test]
fn unknown_syscall_name_is_null() {
    let mut s = good_stream();
    s.push(format!(
        r#"{{"type":"syscall","seq":9999,"time_ns":5,"vm_id":1,"uuid":"{UUID1}","vcpu":0,"vm_seq":0,"cr3":1,"rip":2,"rsp":3,"nr":999,"name":null,"args":[0,0,0,0,0,0],"ret":-38,"end":"returned","entry_ns":1,"exit_ns":2}}"#
    ));
    let r = run(&input(&renumber(&s.lines).join("\n")));
    let f = failed_names(&r);
    assert!(f.is_empty(), "{f:#?}");
}

#[test]
fn lost_records_fail() {
    let mut s = good_stream();
    s.push(r#"{"type":"lost","first_seq":5,"count":2}"#.into());
    let f = failed_names(&run(&input(&s.text())));
    assert_eq!(f, vec!["events.jsonl: no records lost".to_string()]);
}

#[test]
fn guest_self_check_failure_fails() {
    let mut i = input(&good_stream().text());
    let bad = guest_log(UUID3, 301, 350)
        .replace(
            "LTDONE ok",
            "LTFAIL proc=main: read(3, 0x8, 16) = 0, expected -EFAULT (-14)\nLTDONE failed (1)",
        )
        .replace("leaktrace-exit-status: 0", "leaktrace-exit-status: 1");
    i.logs.insert(3, Ok(GuestLog::parse(&bad)));
    let r = run(&i);
    let f = failed_names(&r);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert!(f[0].starts_with("vm3: lt-syscalls ran"));
    let t = r
        .iter()
        .find(|t| t.name.starts_with("vm3: lt-syscalls"))
        .unwrap();
    assert_eq!(t.outcome, Outcome::Fail("script exit status 1".into()));
    assert!(t.diag.iter().any(|d| d.contains("EFAULT")));
}

#[test]
fn truncated_guest_log_fails() {
    let mut i = input(&good_stream().text());
    let log = guest_log(UUID1, 101, 150);
    let cut: String = log.lines().take(8).map(|l| format!("{l}\n")).collect();
    i.logs.insert(1, Ok(GuestLog::parse(&cut)));
    let f = failed_names(&run(&i));
    assert!(
        f.iter().any(|n| n.starts_with("vm1: lt-syscalls ran")),
        "{f:#?}"
    );
    // With fewer expectations the records still match: only the log check
    // and the checks that need the child fail.
    assert!(f.iter().all(|n| n.starts_with("vm1")), "{f:#?}");
}

#[test]
fn wrong_guest_uuid_fails() {
    let mut i = input(&good_stream().text());
    i.logs
        .insert(2, Ok(GuestLog::parse(&guest_log(UUID1, 201, 250))));
    let f = failed_names(&run(&i));
    assert_eq!(f.len(), 1, "{f:#?}");
    assert!(f[0].starts_with("vm2: the guest sees its SMBIOS UUID"));
}

#[test]
fn tracing_not_applied_skips_tracing_checks() {
    // Today's runs: no syscall records at all, selection not applied.
    let mut s = Stream::new();
    s.push(r#"{"type":"heartbeat","seq":1,"time_ns":2000,"produced":1,"delivered":1,"dropped":0,"queued":0}"#.into());
    let i = Input {
        summary: Summary::parse(&summary(false)).unwrap(),
        events: Ok(Events::parse(&s.text())),
        logs: logs(),
    };
    let r = run(&i);
    assert!(failed(&r).is_empty(), "{:#?}", failed(&r));
    let skipped = r
        .iter()
        .filter(|t| matches!(t.outcome, Outcome::Skip(_)))
        .count();
    assert_eq!(skipped, 2 + 2 * 8 + 1);
    // Required: the same run fails.
    let r = check::run(
        &i,
        &Options {
            require_tracing: true,
        },
    );
    assert_eq!(failed(&r).len(), skipped);
}

#[test]
fn tracing_applied_but_nothing_recorded_fails() {
    let s = Stream::new();
    let r = run(&input(&s.text()));
    let f = failed_names(&r);
    // Per traced guest: UUID, VM records, 3 processes, child, CR3s, vm_seq.
    assert_eq!(f.len(), 2 * 8, "{f:#?}");
}

#[test]
fn scenario_failure_fails() {
    let mut i = input(&good_stream().text());
    i.summary.result = Some("FAIL (stage failed: vm2 vm-wait)".into());
    let f = failed_names(&run(&i));
    assert_eq!(
        f,
        vec!["scenario run passed (summary.txt result: pass)".to_string()]
    );
}

#[test]
fn bad_json_line_fails() {
    let text = good_stream().text() + "{\"type\":\"syscall\",\"seq\":\n";
    let f = failed_names(&run(&input(&text)));
    assert_eq!(f.len(), 1, "{f:#?}");
    assert!(f[0].starts_with("events.jsonl: every line"));
}

/// The real program's output (captured on the host), through the parser:
/// the format the C program prints is the format the checker reads.
#[test]
fn parses_real_program_output() {
    let text = "\
LTUUID 4C540000-0000-4000-8000-000000000001
LTEXPECT proc=main pid=19673 nr=39 name=getpid ret=19673 end=returned
LTSTART pid=19673
LTEXPECT proc=main pid=19673 nr=257 name=openat a0=0xffffffffffffff9c a1=0x47a3d0 a2=0x241 a3=0x1a0 ret=3 end=returned
LTEXPECT proc=main pid=19673 nr=1 name=write a0=0x3 a1=0x4a93e0 a2=0x1092 ret=4242 end=returned
LTEXPECT proc=main pid=19673 nr=3 name=close a0=0x3 ret=0 end=returned
LTEXPECT proc=main pid=19673 nr=257 name=openat a0=0xffffffffffffff9c a1=0x47a3d0 a2=0 ret=3 end=returned
LTEXPECT proc=main pid=19673 nr=5 name=fstat a0=0x3 a1=0x7ffc0101abf0 ret=0 end=returned
LTEXPECT proc=main pid=19673 nr=0 name=read a0=0x3 a1=0x8 a2=0x10 ret=-14 end=returned
LTEXPECT proc=main pid=19673 nr=0 name=read a0=0x3 a1=0x4a8340 a2=0x1092 ret=4242 end=returned
LTEXPECT proc=main pid=19673 nr=3 name=close a0=0x3 ret=0 end=returned
LTEXPECT proc=main pid=19673 nr=3 name=close a0=0x1092 ret=-9 end=returned
LTEXPECT proc=main pid=19673 nr=293 name=pipe2 a0=0x7ffc0101abe8 a1=0x80000 ret=0 end=returned
LTEXPECT proc=main pid=19673 nr=1 name=write a0=0x4 a1=0x47a3b0 a2=0x11 ret=17 end=returned
LTEXPECT proc=main pid=19673 nr=0 name=read a0=0x3 a1=0x7ffc0101abf0 a2=0x11 ret=17 end=returned
LTEXPECT proc=main pid=19673 nr=3 name=close a0=0x3 ret=0 end=returned
LTEXPECT proc=main pid=19673 nr=3 name=close a0=0x4 ret=0 end=returned
LTEXPECT proc=main pid=19673 nr=57 name=fork ret=19674 end=returned
LTEXPECT proc=fork pid=19674 nr=39 name=getpid ret=19674 end=returned
LTEXPECT proc=fork pid=19674 nr=59 name=execve a0=0x47a3a0 a1=0x4a60e0 a2=0x7ffc0101ae88 end=not-returned
LTEXPECT proc=exec pid=19674 nr=39 name=getpid ret=19674 end=returned
LTEXPECT proc=exec pid=19674 nr=231 name=exit_group a0=0x2a end=no-return
LTEXPECT proc=main pid=19673 nr=61 name=wait4 a0=0x4cda a1=0x7ffc0101abf0 a2=0 a3=0 ret=19674 end=returned
LTDONE ok
leaktrace-exit-status: 0
";
    let g = GuestLog::parse(text);
    assert!(g.bad_lines.is_empty(), "{:?}", g.bad_lines);
    assert_eq!(g.expects.len(), 21);
    assert_eq!(
        g.run.uuid.as_deref(),
        Some("4c540000-0000-4000-8000-000000000001")
    );
    let openat = &g.expects[1];
    assert_eq!(
        openat.args,
        vec![(0, AT_FDCWD), (1, 0x47a3d0), (2, 0x241), (3, 0o640)]
    );
    assert_eq!(g.expects[6].ret, Some(-14));
    assert_eq!(g.expects[17].end, crate::input::ExpectEnd::NotReturned);
    assert_eq!(g.expects[17].ret, None);
    let s = Summary::parse(&summary(true)).unwrap();
    let mut logs = BTreeMap::new();
    logs.insert(1, Ok(g));
    let i = Input {
        summary: s,
        events: Ok(Events::parse("")),
        logs,
    };
    // The log's own checks pass.
    let r = run(&i);
    let t = r
        .iter()
        .find(|t| t.name.starts_with("vm1: lt-syscalls ran"))
        .unwrap();
    assert_eq!(t.outcome, Outcome::Pass, "{:?}", t.diag);
}

#[test]
fn summary_parses_uuids_and_selection() {
    let s = Summary::parse(&summary(false)).unwrap();
    assert!(!s.tracing_applied);
    assert_eq!(s.result.as_deref(), Some("pass"));
    assert_eq!(s.guests.len(), 3);
    assert_eq!(s.guests[1].uuid, UUID2);
    assert!(s.guests[1].traced && !s.guests[2].traced);
    assert!(Summary::parse("vm1 uuid=x traced=maybe exit=0\n").is_err());
}

/// The checkers' command line, as `cli::parse` reads it.
#[test]
fn command_line() {
    use crate::cli::{parse, Command};
    use std::path::PathBuf;
    let p = |args: &[&str]| parse(args.iter().map(|a| a.to_string()), "--flag");
    let check = |flag, dir: &str, events: Option<&str>| Command::Check {
        flag,
        dir: PathBuf::from(dir),
        events: events.map(PathBuf::from),
    };
    assert_eq!(p(&["out"]), check(false, "out", None));
    assert_eq!(
        p(&["--events", "e.jsonl", "out", "--flag"]),
        check(true, "out", Some("e.jsonl"))
    );
    assert_eq!(p(&["--flag", "--flag", "out"]), check(true, "out", None));
    assert_eq!(p(&[]), Command::Usage);
    assert_eq!(p(&["--flag"]), Command::Usage);
    assert_eq!(p(&["out", "--events"]), Command::Usage);
    assert_eq!(p(&["out", "other"]), Command::Usage);
    assert_eq!(p(&["--other-flag", "out"]), Command::Usage);
    assert_eq!(p(&["-"]), Command::Usage);
    // The first of help and a mistake decides.
    assert_eq!(p(&["out", "-h"]), Command::Help);
    assert_eq!(p(&["--help", "out", "other"]), Command::Help);
    assert_eq!(p(&["out", "other", "--help"]), Command::Usage);
}
