// SPDX-License-Identifier: GPL-2.0

//! The checks: what the guests expected against what leaktrace recorded.
//!
//! Matching: the `LTEXPECT` lines of one process image (`proc`) must appear
//! as an ordered subsequence of the records of its VM (by UUID, in stream
//! order), all in one address space. The first expectation of each image is
//! its `getpid`, whose return value only that process can produce; its
//! record fixes the address space (CR3 without the PCID and flag bits), and
//! the rest are matched greedily in that address space, each record used
//! once. Every candidate for the first expectation is tried, so a stray
//! earlier match cannot mislead it.
//!
//! The tests that do not depend on the guest program ([`scenario_check`],
//! [`stream_checks`], [`uuid_check`]) and the [`TestResult`] they make are
//! `ident-check`'s too.

use crate::input::{
    EventStream, Events, Expect, ExpectEnd, GuestLog, Summary, SummaryGuest, Syscall,
};
use std::collections::{BTreeMap, BTreeSet, HashSet};

/// The calls `lt-syscalls` makes, per process image, by name: a log that
/// does not list exactly these is incomplete (a crash, a truncated log) or
/// comes from another version of the program.
pub const PROGRAM: &[(&str, &[&str])] = &[
    (
        "main",
        &[
            "getpid", "openat", "write", "close", "openat", "fstat", "read", "read", "close",
            "close", "pipe2", "write", "read", "close", "close", "fork", "wait4",
        ],
    ),
    ("fork", &["getpid", "execve"]),
    ("exec", &["getpid", "exit_group"]),
];

/// `end` values of a call that did not return and is not an exit.
pub const NOT_RETURNED_ENDS: &[&str] = &["superseded", "timed-out", "untraced", "evicted"];

/// Every `end` value of the schema.
pub const ENDS: &[&str] = &[
    "returned",
    "no-return",
    "superseded",
    "timed-out",
    "evicted",
    "untraced",
];

/// Result of one test.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Passed.
    Pass,
    /// Failed, with the reason.
    Fail(String),
    /// Not run, with the reason.
    Skip(String),
}

/// One TAP line and its diagnostics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestResult {
    /// Test name.
    pub name: String,
    /// Outcome.
    pub outcome: Outcome,
    /// Diagnostic lines, printed as `# ...` before the result.
    pub diag: Vec<String>,
}

/// Everything a check looks at.
#[derive(Clone, Debug)]
pub struct Input {
    /// `summary.txt`.
    pub summary: Summary,
    /// `events.jsonl`, or why it could not be read.
    pub events: Result<Events, String>,
    /// `vmN.log` per guest number, or why it could not be read.
    pub logs: BTreeMap<u32, Result<GuestLog, String>>,
}

/// Knobs.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Fail, rather than skip, the tracing checks when the runner says the
    /// trace selection was not applied.
    pub require_tracing: bool,
}

/// How many problems or bad lines a failed test lists.
pub const DIAG_MAX: usize = 10;

/// A result: pass unless `fail` says why not.
pub fn result(name: String, fail: Option<String>, diag: Vec<String>) -> TestResult {
    TestResult {
        name,
        outcome: match fail {
            None => Outcome::Pass,
            Some(why) => Outcome::Fail(why),
        },
        diag,
    }
}

/// The runner's verdict: `summary.txt`'s `result:` line says `pass`.
pub fn scenario_check(s: &Summary) -> TestResult {
    result(
        "scenario run passed (summary.txt result: pass)".into(),
        match s.result.as_deref() {
            Some("pass") => None,
            Some(r) => Some(format!("result: {r}")),
            None => Some("summary.txt has no result line".into()),
        },
        vec![],
    )
}

/// The tests of `events.jsonl` itself, `stream` as read or why it could
/// not be: every line a reader record (the test `name`; `counts`, what
/// was read, ends its diagnostics), and no `lost` lines.
pub fn stream_checks(
    name: &str,
    stream: Result<&EventStream, &String>,
    counts: String,
) -> [TestResult; 2] {
    let empty = EventStream::default();
    let (ev, ev_err) = match stream {
        Ok(e) => (e, None),
        Err(e) => (&empty, Some(e.clone())),
    };
    [
        result(
            name.into(),
            ev_err.or_else(|| {
                (!ev.bad_lines.is_empty()).then(|| format!("{} bad line(s)", ev.bad_lines.len()))
            }),
            ev.bad_lines
                .iter()
                .take(DIAG_MAX)
                .map(|(l, e)| format!("line {l}: {e}"))
                .chain(std::iter::once(counts))
                .collect(),
        ),
        result(
            "events.jsonl: no records lost".into(),
            (!ev.lost.is_empty()).then(|| format!("{} lost line(s)", ev.lost.len())),
            ev.lost.iter().take(5).cloned().collect(),
        ),
    ]
}

/// Guest `g` saw the UUID the runner gave it: its log's `LTUUID` line,
/// `seen`.
pub fn uuid_check(g: &SummaryGuest, seen: Option<&str>) -> TestResult {
    result(
        format!("vm{}: the guest sees its SMBIOS UUID {}", g.n, g.uuid),
        match seen {
            Some(u) if u == g.uuid => None,
            Some(u) => Some(format!("it says {u}")),
            None => Some("no LTUUID line".into()),
        },
        vec![],
    )
}

/// Guest `n`'s log, or why there is none.
pub fn guest_log<L: Clone>(logs: &BTreeMap<u32, Result<L, String>>, n: u32) -> Result<L, String> {
    logs.get(&n)
        .cloned()
        .unwrap_or_else(|| Err("no log".into()))
}

/// CR3 without PCID (bits 0-11) and the no-flush bit (63): the address
/// space, stable for a process even if its PCID changes.
pub fn cr3_key(cr3: u64) -> u64 {
    cr3 & 0x7fff_ffff_ffff_f000
}

/// Whether `r` is the record of call `e` (address space not considered).
pub fn matches(e: &Expect, r: &Syscall) -> bool {
    why_not(e, r).is_none()
}

/// What differs between expectation and record, if anything.
pub fn why_not(e: &Expect, r: &Syscall) -> Option<String> {
    let mut d = Vec::new();
    if r.nr != e.nr {
        d.push(format!("nr {} != {}", r.nr, e.nr));
    }
    for &(i, v) in &e.args {
        match r.args.get(i) {
            Some(&a) if a == v => {}
            Some(&a) => d.push(format!("a{i} {a:#x} != {v:#x}")),
            None => d.push(format!("no a{i}")),
        }
    }
    match e.end {
        ExpectEnd::Returned => {
            if r.end != "returned" {
                d.push(format!("end {} != returned", r.end));
            } else if r.ret != e.ret {
                d.push(format!(
                    "ret {} != {}",
                    r.ret.map_or("null".into(), |x| x.to_string()),
                    e.ret.unwrap_or_default()
                ));
            }
        }
        ExpectEnd::NoReturn => {
            if r.end != "no-return" {
                d.push(format!("end {} != no-return", r.end));
            }
        }
        ExpectEnd::NotReturned => {
            if !NOT_RETURNED_ENDS.contains(&r.end.as_str()) {
                d.push(format!(
                    "end {} is not one of {}",
                    r.end,
                    NOT_RETURNED_ENDS.join("/")
                ));
            }
        }
    }
    if d.is_empty() {
        None
    } else {
        Some(d.join(", "))
    }
}

/// Why a process's expectations were not all found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MatchError {
    /// How many were found, at best.
    pub found: usize,
    /// One line.
    pub message: String,
    /// Near misses and context.
    pub diag: Vec<String>,
}

/// How many near misses a failed match lists.
const NEAR_MISSES: usize = 6;

/// Finds `exps` in `recs` (see the module doc); returns the indices into
/// `recs` of the matched records. `claimed` records are not used.
pub fn match_proc(
    exps: &[&Expect],
    recs: &[&Syscall],
    claimed: &HashSet<usize>,
) -> Result<Vec<usize>, MatchError> {
    let Some(first) = exps.first() else {
        return Err(MatchError {
            found: 0,
            message: "no expectations".into(),
            diag: vec![],
        });
    };
    let mut best: Vec<usize> = Vec::new();
    for (i, r) in recs.iter().enumerate() {
        if claimed.contains(&i) || !matches(first, r) {
            continue;
        }
        let space = cr3_key(r.cr3);
        let mut got = vec![i];
        for e in &exps[1..] {
            let from = got.last().unwrap() + 1;
            let hit = (from..recs.len()).find(|&j| {
                !claimed.contains(&j) && cr3_key(recs[j].cr3) == space && matches(e, recs[j])
            });
            match hit {
                Some(j) => got.push(j),
                None => break,
            }
        }
        if got.len() == exps.len() {
            return Ok(got);
        }
        if got.len() > best.len() {
            best = got;
        }
    }

    let k = best.len();
    let missing = exps[k];
    let mut diag = vec![format!("missing: {missing}")];
    let (from, space) = match best.last() {
        Some(&last) => {
            diag.push(format!(
                "the {k} before it matched, the last one: {}",
                recs[last]
            ));
            (last + 1, Some(cr3_key(recs[last].cr3)))
        }
        None => (0, None),
    };
    let near: Vec<_> = (from..recs.len())
        .filter(|&j| recs[j].nr == missing.nr && !claimed.contains(&j))
        .take(NEAR_MISSES)
        .collect();
    if near.is_empty() {
        diag.push(format!(
            "no record of nr {} ({}) {}",
            missing.nr,
            missing.name,
            if k > 0 { "after it" } else { "at all" }
        ));
    }
    for j in near {
        let r = recs[j];
        let mut why = why_not(missing, r).unwrap_or_default();
        if let Some(s) = space {
            if cr3_key(r.cr3) != s {
                why = format!(
                    "other address space (cr3 {:#x}){}{why}",
                    r.cr3,
                    if why.is_empty() { "" } else { ", " }
                );
            }
        }
        diag.push(format!("  near miss: {r}: {why}"));
    }
    Err(MatchError {
        found: k,
        message: format!(
            "{} of {} expected calls found; missing #{}: {} {}",
            k,
            exps.len(),
            k + 1,
            missing.name,
            match missing.end {
                ExpectEnd::Returned => format!("= {}", missing.ret.unwrap_or_default()),
                e => format!("({e})"),
            }
        ),
        diag,
    })
}

/// Self-consistency of a guest log: the program's own verdict and the
/// shape of its expectations. Returns the failures.
fn guest_log_problems(log: &GuestLog) -> Vec<String> {
    let mut p = log.run.problems();
    for (l, e) in &log.bad_lines {
        p.push(format!("line {l}: bad LTEXPECT: {e}"));
    }
    for (proc_, names) in PROGRAM {
        let got: Vec<&str> = log
            .expects
            .iter()
            .filter(|e| e.proc_ == *proc_)
            .map(|e| e.name.as_str())
            .collect();
        if got != *names {
            p.push(format!(
                "proc {proc_}: expectations {got:?}, expected {names:?}"
            ));
        }
        let pids: BTreeSet<i64> = log
            .expects
            .iter()
            .filter(|e| e.proc_ == *proc_)
            .map(|e| e.pid)
            .collect();
        if pids.len() > 1 {
            p.push(format!("proc {proc_}: several pids {pids:?}"));
        }
    }
    let fork_ret = log
        .expects
        .iter()
        .find(|e| e.name == "fork")
        .and_then(|e| e.ret);
    for e in log.expects.iter().filter(|e| e.proc_ != "main") {
        if Some(e.pid) != fork_ret {
            p.push(format!(
                "{}: child pid {} is not what fork returned ({:?})",
                e.proc_, e.pid, fork_ret
            ));
            break;
        }
    }
    p
}

/// Runs every check; the order is the TAP order.
pub fn run(input: &Input, opts: &Options) -> Vec<TestResult> {
    let mut out = Vec::new();
    let s = &input.summary;
    let traced_uuids = s.traced_uuids();

    // Tracing checks are skipped while the module cannot trace: they would
    // only say what the summary already says.
    let skip_tracing = if s.tracing_applied {
        None
    } else {
        Some("trace selection not applied: module has no VM tracing yet (summary.txt)".to_string())
    };
    let tracing = |name: String, f: &mut dyn FnMut() -> TestResult| -> TestResult {
        match &skip_tracing {
            Some(why) if !opts.require_tracing => TestResult {
                name,
                outcome: Outcome::Skip(why.clone()),
                diag: vec![],
            },
            Some(why) => TestResult {
                name,
                outcome: Outcome::Fail(why.clone()),
                diag: vec![],
            },
            None => {
                let mut r = f();
                r.name = name;
                r
            }
        }
    };

    out.push(scenario_check(s));
    if s.guests.is_empty() {
        out.push(result(
            "summary.txt lists the guests".into(),
            Some("no vmN lines".into()),
            vec![],
        ));
    }

    let empty = Events::default();
    let ev = input.events.as_ref().unwrap_or(&empty);
    out.extend(stream_checks(
        "events.jsonl: every line is a reader JSON object; syscall and vm lines have the documented fields",
        input.events.as_ref().map(|e| &e.stream),
        format!(
            "{} lines, {} syscall records, {} vm records",
            ev.stream.lines,
            ev.syscalls.len(),
            ev.vms.len()
        ),
    ));

    out.push(tracing(
        "syscall records are consistent: 6 args, known end, exit_ns >= entry_ns, time_ns >= exit_ns, ret null iff end != returned".into(),
        &mut || {
            let mut bad = Vec::new();
            for r in &ev.syscalls {
                let mut p = Vec::new();
                if r.args.len() != 6 {
                    p.push(format!("{} args", r.args.len()));
                }
                if !ENDS.contains(&r.end.as_str()) {
                    p.push(format!("unknown end '{}'", r.end));
                }
                if r.exit_ns < r.entry_ns {
                    p.push(format!("exit_ns {} < entry_ns {}", r.exit_ns, r.entry_ns));
                }
                if r.time_ns < r.exit_ns {
                    p.push(format!("time_ns {} < exit_ns {}", r.time_ns, r.exit_ns));
                }
                if (r.end == "returned") != r.ret.is_some() {
                    p.push(format!("end {} with ret {:?}", r.end, r.ret));
                }
                if !p.is_empty() {
                    bad.push(format!("{r}: {}", p.join(", ")));
                }
            }
            let n = bad.len();
            let mut diag: Vec<String> = bad.into_iter().take(DIAG_MAX).collect();
            diag.push(format!("{} syscall records checked", ev.syscalls.len()));
            result(String::new(), (n > 0).then(|| format!("{n} inconsistent record(s)")), diag)
        },
    ));

    out.push(tracing(
        "every syscall record carries the UUID of a traced guest".into(),
        &mut || {
            let mut others: BTreeMap<String, usize> = BTreeMap::new();
            for r in &ev.syscalls {
                let u = r.uuid_lc().unwrap_or_else(|| "null".into());
                if !traced_uuids.contains(u.as_str()) {
                    *others.entry(u).or_default() += 1;
                }
            }
            let diag = others
                .iter()
                .map(|(u, c)| format!("{c} record(s) with uuid {u}"))
                .collect();
            result(
                String::new(),
                (!others.is_empty()).then(|| "records of VMs the scenario does not trace".into()),
                diag,
            )
        },
    ));

    for g in &s.guests {
        let n = g.n;
        let log = guest_log(&input.logs, n);
        out.push(match &log {
            Ok(l) => {
                let p = guest_log_problems(l);
                result(
                    format!("vm{n}: lt-syscalls ran, its self-checks passed (exit 0, LTDONE ok, complete expectations)"),
                    (!p.is_empty()).then(|| p[0].clone()),
                    p,
                )
            }
            Err(e) => result(
                format!("vm{n}: lt-syscalls ran, its self-checks passed (exit 0, LTDONE ok, complete expectations)"),
                Some(e.clone()),
                vec![],
            ),
        });
        out.push(uuid_check(
            g,
            log.as_ref().ok().and_then(|l| l.run.uuid.as_deref()),
        ));

        let recs: Vec<&Syscall> = ev
            .syscalls
            .iter()
            .filter(|r| r.uuid_lc().as_deref() == Some(g.uuid.as_str()))
            .collect();
        if !g.traced {
            out.push(tracing(
                format!(
                    "vm{n} (untraced, {}): no syscall records, never armed",
                    g.uuid
                ),
                &mut || {
                    let armed: Vec<_> = ev
                        .vms
                        .iter()
                        .filter(|v| {
                            v.event == "armed"
                                && v.uuid.as_deref().map(str::to_ascii_lowercase).as_deref()
                                    == Some(g.uuid.as_str())
                        })
                        .collect();
                    let mut diag: Vec<String> =
                        recs.iter().take(5).map(|r| r.to_string()).collect();
                    diag.extend(
                        armed
                            .iter()
                            .map(|v| format!("line {}: vm {} armed", v.line, v.vm_id)),
                    );
                    result(
                        String::new(),
                        if !recs.is_empty() {
                            Some(format!(
                                "{} syscall record(s) of an untraced guest",
                                recs.len()
                            ))
                        } else if !armed.is_empty() {
                            Some("an untraced guest was armed".into())
                        } else {
                            None
                        },
                        diag,
                    )
                },
            ));
            continue;
        }

        let vm_ids: BTreeSet<u64> = recs.iter().map(|r| r.vm_id).collect();
        out.push(tracing(
            format!(
                "vm{n} ({}): syscall records carry its UUID, all of one VM id",
                g.uuid
            ),
            &mut || {
                let mut diag = vec![format!("{} records, vm_id(s) {:?}", recs.len(), vm_ids)];
                if recs.is_empty() {
                    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
                    for r in &ev.syscalls {
                        *seen
                            .entry(r.uuid_lc().unwrap_or_else(|| "null".into()))
                            .or_default() += 1;
                    }
                    diag.extend(
                        seen.iter()
                            .map(|(u, c)| format!("records with uuid {u}: {c}")),
                    );
                }
                result(
                    String::new(),
                    if recs.is_empty() {
                        Some("no syscall records with this UUID".into())
                    } else if vm_ids.len() > 1 {
                        Some(format!("{} VM ids", vm_ids.len()))
                    } else {
                        None
                    },
                    diag,
                )
            },
        ));

        out.push(tracing(
            format!("vm{n}: VM records: identified as {}, armed", g.uuid),
            &mut || {
                let mine = |v: &&crate::input::VmEvent| {
                    vm_ids.contains(&v.vm_id)
                        || v.uuid.as_deref().map(str::to_ascii_lowercase).as_deref()
                            == Some(g.uuid.as_str())
                };
                let evs: Vec<_> = ev.vms.iter().filter(mine).collect();
                let identified = evs.iter().any(|v| {
                    v.event == "identified"
                        && v.uuid.as_deref().map(str::to_ascii_lowercase).as_deref()
                            == Some(g.uuid.as_str())
                });
                let armed = evs.iter().any(|v| v.event == "armed");
                let diag = evs
                    .iter()
                    .map(|v| {
                        format!(
                            "line {}: vm {} {} uuid {:?}",
                            v.line, v.vm_id, v.event, v.uuid
                        )
                    })
                    .collect();
                result(
                    String::new(),
                    match (identified, armed) {
                        (true, true) => None,
                        (false, _) => Some("no 'identified' record with this UUID".into()),
                        (true, false) => Some("no 'armed' record".into()),
                    },
                    diag,
                )
            },
        ));

        // The three process images, each matched on its own; later checks
        // use the records found.
        let exps: Vec<&Expect> = log
            .as_ref()
            .map(|l| l.expects.iter().collect())
            .unwrap_or_default();
        let mut claimed: HashSet<usize> = HashSet::new();
        let mut found: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (proc_, names) in PROGRAM {
            let mine: Vec<&Expect> = exps.iter().copied().filter(|e| e.proc_ == *proc_).collect();
            let what = match *proc_ {
                "main" => "the program",
                "fork" => "the child before execve",
                _ => "the child after execve",
            };
            out.push(tracing(
                format!(
                    "vm{n}: {what} ({proc_}): its {} calls recorded in order, with their arguments and results",
                    names.len()
                ),
                &mut || match match_proc(&mine, &recs, &claimed) {
                    Ok(idx) => {
                        claimed.extend(idx.iter().copied());
                        let diag = vec![format!(
                            "address space cr3 {:#x}, records at lines {:?}",
                            recs[idx[0]].cr3,
                            idx.iter().map(|&i| recs[i].line).collect::<Vec<_>>()
                        )];
                        found.insert(proc_, idx);
                        result(String::new(), None, diag)
                    }
                    Err(e) => result(String::new(), Some(e.message), e.diag),
                },
            ));
        }

        out.push(tracing(
            format!("vm{n}: the child's execve ends without SYSRET, its exit_group is no-return and precedes the parent's wait4"),
            &mut || {
                let rec_of = |proc_: &str, name: &str| -> Option<(usize, &Syscall)> {
                    let idx = found.get(proc_)?;
                    let pos = exps
                        .iter()
                        .filter(|e| e.proc_ == proc_)
                        .position(|e| e.name == name)?;
                    idx.get(pos).map(|&i| (i, recs[i]))
                };
                let (Some(ex), Some(eg), Some(w)) =
                    (rec_of("fork", "execve"), rec_of("exec", "exit_group"), rec_of("main", "wait4"))
                else {
                    return result(
                        String::new(),
                        Some("execve, exit_group or wait4 not found (see above)".into()),
                        vec![],
                    );
                };
                let diag = vec![
                    format!("execve: {}", ex.1),
                    format!("exit_group: {}", eg.1),
                    format!("wait4: {}", w.1),
                ];
                result(
                    String::new(),
                    (eg.0 >= w.0).then(|| "exit_group's record comes after wait4's".into()),
                    diag,
                )
            },
        ));

        out.push(tracing(
            format!("vm{n}: the program, the forked child and the exec'd child have distinct CR3s"),
            &mut || {
                let spaces: Vec<(&str, u64)> = found
                    .iter()
                    .map(|(p, idx)| (*p, cr3_key(recs[idx[0]].cr3)))
                    .collect();
                let distinct: BTreeSet<u64> = spaces.iter().map(|s| s.1).collect();
                result(
                    String::new(),
                    if spaces.len() < PROGRAM.len() {
                        Some("not every process image was found (see above)".into())
                    } else if distinct.len() != spaces.len() {
                        Some("two process images share an address space".into())
                    } else {
                        None
                    },
                    spaces.iter().map(|(p, c)| format!("{p}: {c:#x}")).collect(),
                )
            },
        ));

        out.push(tracing(
            format!("vm{n}: vm_seq counts 0, 1, 2, ... without gaps, in stream order"),
            &mut || {
                let bad = recs.iter().enumerate().find(|(i, r)| r.vm_seq != *i as u64);
                result(
                    String::new(),
                    if recs.is_empty() {
                        Some("no records".into())
                    } else {
                        bad.map(|(i, r)| {
                            format!("record #{i} (line {}) has vm_seq {}", r.line, r.vm_seq)
                        })
                    },
                    vec![format!("{} records", recs.len())],
                )
            },
        ));
    }

    out
}
