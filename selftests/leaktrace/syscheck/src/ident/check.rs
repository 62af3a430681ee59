// SPDX-License-Identifier: GPL-2.0

//! The checks of `ident-check`: what `lt-ident` knows about itself and its
//! descriptors against the task and file records of its calls.
//!
//! Matching is by mark, not by order: every call the program reports was
//! made with `args[4]` = the log's magic and `args[5]` = a mark unique in
//! the guest, so exactly one syscall record of the guest's UUID carries
//! it; its file records are those of the same `vm_id` and `call_id`. The
//! record's task and files are then compared field by field with what the
//! guest printed; nothing about the identity is used to find the record.

use super::input::{CallLine, Events, File, FileLine, IdentLog, Syscall, VmEvent, MARK_MAGIC};
use crate::check::{
    guest_log, result, scenario_check, stream_checks, uuid_check, Outcome, TestResult, DIAG_MAX,
};
use crate::input::{Summary, SummaryGuest};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The parts of `lt-ident` that report marked calls (`proc=`), each a TAP
/// test of its own, with what it shows. `churn` is checked on its own.
pub const PROCS: &[(&str, &str)] = &[
    ("main", "the program as started"),
    (
        "thread",
        "a second thread with its own comm (pid = its tid, tgid = the program's)",
    ),
    (
        "orphan",
        "a grandchild before and after reparenting to the program (ppid changes)",
    ),
    ("renamed", "the program after prctl(PR_SET_NAME)"),
    (
        "proc-comm",
        "the program after writing /proc/self/comm (no prctl)",
    ),
    (
        "exec",
        "the program after execve through a symlink (comm from the link's name)",
    ),
];

/// The open files `lt-ident` reports (`obj=`), each a TAP test of its own.
pub const OBJECTS: &[(&str, &str)] = &[
    ("tmpfile", "regular file below /tmp (a tmpfs mount)"),
    ("dir-work", "directory below /tmp"),
    (
        "relfile",
        "the same file opened relative to a directory descriptor",
    ),
    (
        "longfile",
        "regular file whose path is longer than a record holds (tail, truncated)",
    ),
    ("exe", "the program's own file on the root file system"),
    ("devnull", "/dev/null, a character device on devtmpfs"),
    ("dir-root", "the root directory"),
    ("dir-tmp", "/tmp, the root of a mount"),
    ("pipe-r", "read end of a pipe2"),
    ("pipe-w", "write end of a pipe2"),
    ("unix-a", "first socket of an AF_UNIX socketpair"),
    ("unix-b", "second socket of an AF_UNIX socketpair"),
    ("tcp-listen", "TCP socket listening on 127.0.0.1"),
    ("tcp-client", "TCP socket connected to it"),
    ("tcp-accepted", "the socket accept4 returned"),
];

/// `FILE_PATH_MAX`: the longest path a file record carries.
pub const FILE_PATH_MAX: usize = 512;

/// Everything the checks look at.
#[derive(Clone, Debug)]
pub struct Input {
    /// `summary.txt`.
    pub summary: Summary,
    /// Its `kernel=` words, by guest number.
    pub kernels: BTreeMap<u32, String>,
    /// `events.jsonl`, or why it could not be read.
    pub events: Result<Events, String>,
    /// `vmN.log` per guest number, or why it could not be read.
    pub logs: BTreeMap<u32, Result<IdentLog, String>>,
}

/// Knobs.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Skip, rather than fail, the introspection checks of a traced guest
    /// whose profile never became active (no `profile-active` VM record):
    /// for runs before profiles are loaded.
    pub allow_no_profile: bool,
}

/// Pass, or fail with the number of problems and the first few.
fn from_problems(
    name: String,
    what: &str,
    problems: Vec<String>,
    mut diag: Vec<String>,
) -> TestResult {
    if problems.is_empty() {
        return result(name, None, diag);
    }
    let why = if problems.len() == 1 {
        problems[0].clone()
    } else {
        format!("{} {what}; first: {}", problems.len(), problems[0])
    };
    let n = problems.len();
    if n == 1 {
        return result(name, Some(why), diag);
    }
    diag.extend(problems.into_iter().take(DIAG_MAX));
    if n > DIAG_MAX {
        diag.push(format!("... and {} more", n - DIAG_MAX));
    }
    result(name, Some(why), diag)
}

/// What `events.jsonl` holds about one guest.
struct Guest<'a> {
    /// Its syscall records (by UUID), in stream order.
    recs: Vec<&'a Syscall>,
    /// File records of those VM ids, in stream order.
    files: Vec<&'a File>,
    /// Syscall records by (vm_id, call_id).
    rec_by_call: HashMap<(u64, u64), Vec<&'a Syscall>>,
    /// File records by (vm_id, call_id).
    files_by_call: HashMap<(u64, u64), Vec<&'a File>>,
    /// Marked syscall records by mark.
    by_mark: HashMap<u64, Vec<&'a Syscall>>,
    /// Its VM records.
    vms: Vec<&'a VmEvent>,
}

impl<'a> Guest<'a> {
    /// Gathers the records of the guest with `uuid`; marks with `magic`.
    fn new(ev: &'a Events, uuid: &str, magic: u64) -> Self {
        let recs: Vec<&Syscall> = ev
            .syscalls
            .iter()
            .filter(|r| r.uuid_lc().as_deref() == Some(uuid))
            .collect();
        let mut vm_ids: BTreeSet<u64> = recs.iter().map(|r| r.vm_id).collect();
        vm_ids.extend(
            ev.vms
                .iter()
                .filter(|v| v.uuid_lc().as_deref() == Some(uuid))
                .map(|v| v.vm_id),
        );
        let files: Vec<&File> = ev
            .files
            .iter()
            .filter(|f| vm_ids.contains(&f.vm_id))
            .collect();
        let vms = ev
            .vms
            .iter()
            .filter(|v| vm_ids.contains(&v.vm_id))
            .collect();
        let mut rec_by_call: HashMap<(u64, u64), Vec<&Syscall>> = HashMap::new();
        let mut by_mark: HashMap<u64, Vec<&Syscall>> = HashMap::new();
        for r in &recs {
            rec_by_call.entry((r.vm_id, r.call_id)).or_default().push(r);
            if let Some(m) = r.mark(magic) {
                by_mark.entry(m).or_default().push(r);
            }
        }
        let mut files_by_call: HashMap<(u64, u64), Vec<&File>> = HashMap::new();
        for f in &files {
            files_by_call
                .entry((f.vm_id, f.call_id))
                .or_default()
                .push(f);
        }
        Guest {
            recs,
            files,
            rec_by_call,
            files_by_call,
            by_mark,
            vms,
        }
    }

    /// The one record of a mark.
    fn marked(&self, mark: u64) -> Result<&'a Syscall, String> {
        match self.by_mark.get(&mark).map(Vec::as_slice) {
            None | Some([]) => Err(format!("no syscall record with mark {mark:#x}")),
            Some([r]) => Ok(r),
            Some(rs) => Err(format!(
                "{} syscall records with mark {mark:#x} (lines {:?})",
                rs.len(),
                rs.iter().map(|r| r.line).collect::<Vec<_>>()
            )),
        }
    }

    /// The profile state from the VM records: `Ok(time_ns)` of the last
    /// `profile-active`, or why there is none: (true: no profile at all,
    /// false: a mismatch, which is always a failure; the reason).
    fn profile_active(&self) -> Result<u64, (bool, String)> {
        let mut state: Option<&VmEvent> = None;
        for v in &self.vms {
            if v.event == "profile-active" || v.event == "profile-mismatch" {
                state = Some(v);
            }
        }
        match state {
            Some(v) if v.event == "profile-active" => Ok(v.time_ns),
            Some(v) => Err((
                false,
                format!(
                    "profile-mismatch (events.jsonl line {}): the profile does not fit the guest's kernel",
                    v.line
                ),
            )),
            None => Err((true, "no profile-active VM record: no profile was loaded for it".into())),
        }
    }
}

/// What differs between a call line and its record's call and task.
pub fn call_problems(c: &CallLine, r: &Syscall) -> Vec<String> {
    let mut d = Vec::new();
    if r.nr != c.nr {
        d.push(format!("nr {} != {}", r.nr, c.nr));
    }
    if r.end != "returned" {
        d.push(format!("end {} != returned", r.end));
    } else if r.ret != Some(c.ret) {
        d.push(format!(
            "ret {} != {}",
            r.ret.map_or("null".into(), |x| x.to_string()),
            c.ret
        ));
    }
    let t = &r.task;
    if t.status != "resolved" {
        d.push(format!("task status {}", t.status));
        return d;
    }
    let same = |got: Option<u32>, want: i64| got.map(i64::from) == Some(want);
    if !same(t.tgid, c.pid) {
        d.push(format!("tgid {:?} != pid {}", t.tgid, c.pid));
    }
    if !same(t.pid, c.tid) {
        d.push(format!("pid {:?} != tid {}", t.pid, c.tid));
    }
    if !same(t.ppid, c.ppid) {
        d.push(format!("ppid {:?} != {}", t.ppid, c.ppid));
    }
    if t.comm.as_deref() != Some(c.comm.as_str()) {
        d.push(format!("comm {:?} != {:?}", t.comm, c.comm));
    }
    if t.task.unwrap_or(0) == 0 {
        d.push("task address 0".into());
    }
    d
}

/// What differs between a file line and a file record.
pub fn file_problems(l: &FileLine, f: &File) -> Vec<String> {
    let mut d = Vec::new();
    if f.status != "resolved" {
        d.push(format!("status {}", f.status));
        return d;
    }
    if f.fd != l.fd {
        d.push(format!("fd {} != {}", f.fd, l.fd));
    }
    if f.kind != l.kind {
        d.push(format!("kind {} != {}", f.kind, l.kind));
    }
    if f.mode != l.mode {
        d.push(format!("mode {:#o} != {:#o}", f.mode, l.mode));
    }
    if (f.dev_major, f.dev_minor) != l.dev {
        d.push(format!(
            "dev {}:{} != {}:{}",
            f.dev_major, f.dev_minor, l.dev.0, l.dev.1
        ));
    }
    if f.ino != l.ino {
        d.push(format!("ino {} != {}", f.ino, l.ino));
    }
    if f.path_detached {
        d.push("path_detached".into());
    }
    let pseudo = l.link.starts_with("pipe:[") || l.link.starts_with("socket:[");
    if pseudo {
        if f.display != l.link {
            d.push(format!("display {:?} != {:?}", f.display, l.link));
        }
        if f.path.is_some() {
            d.push(format!("path {:?} for a {}", f.path, l.kind));
        }
    } else if l.link.len() <= FILE_PATH_MAX {
        if f.display != l.link {
            d.push(format!("display {:?} != {:?}", f.display, l.link));
        }
        if f.path.as_deref() != Some(l.link.as_str()) {
            d.push(format!("path {:?} != {:?}", f.path, l.link));
        }
        if f.path_truncated {
            d.push("path_truncated for a path that fits".into());
        }
    } else {
        // The tail of the path, whole components, at most FILE_PATH_MAX.
        let ok = !f.display.is_empty()
            && f.display.len() <= FILE_PATH_MAX
            && f.display.starts_with('/')
            && l.link.ends_with(&f.display)
            && f.path.as_deref() == Some(f.display.as_str());
        if !ok {
            d.push(format!(
                "path {:?} is not a tail of {} bytes of {:?}",
                f.path, FILE_PATH_MAX, l.link
            ));
        }
        if !f.path_truncated {
            d.push(format!(
                "a {}-byte path not flagged truncated",
                l.link.len()
            ));
        }
    }
    if let Some(fam) = l.family {
        match &f.socket {
            None => d.push("no socket".into()),
            Some(s) => {
                if s.family != fam {
                    d.push(format!("socket family {} != {fam}", s.family));
                }
                if Some(s.sock_type) != l.sock_type {
                    d.push(format!("socket type {} != {:?}", s.sock_type, l.sock_type));
                }
                if let (Some(lo), Some(re)) = (&l.local, &l.remote) {
                    if &s.local != lo {
                        d.push(format!("socket local {} != {lo}", s.local));
                    }
                    if &s.remote != re {
                        d.push(format!("socket remote {} != {re}", s.remote));
                    }
                }
            }
        }
    }
    d
}

/// Self-consistency of a guest log. Returns the problems.
fn log_problems(log: &IdentLog) -> Vec<String> {
    let mut p = log.run.problems();
    for (l, e) in &log.bad_lines {
        p.push(format!("line {l}: bad LTIDENT line: {e}"));
    }
    if log.magic.is_none() {
        p.push("no LTIDENT start line".into());
    }
    for (proc_, _) in PROCS {
        if !log.calls.iter().any(|c| c.proc_ == *proc_) {
            p.push(format!("no call of proc {proc_}"));
        }
    }
    if log.calls.iter().filter(|c| c.proc_ == "orphan").count() < 2 {
        p.push("the orphan did not report both of its calls".into());
    }
    for (obj, _) in OBJECTS {
        if !log.files.iter().any(|f| f.obj == *obj) {
            p.push(format!("no file line of {obj}"));
        }
    }
    for c in &log.calls {
        if !PROCS.iter().any(|(p, _)| *p == c.proc_) && c.proc_ != "churn" {
            p.push(format!("line {}: unknown proc {}", c.line, c.proc_));
        }
    }
    let churn_lines = log.calls.iter().filter(|c| c.proc_ == "churn").count();
    match (log.churn, log.churn_asked) {
        (None, _) => p.push("no LTIDENT churn line (the churn did not finish)".into()),
        (Some((n, l)), asked) => {
            if Some(n) != asked {
                p.push(format!("churn: {n} children reaped, {asked:?} asked for"));
            }
            if l as usize != churn_lines {
                p.push(format!("churn: {l} lines announced, {churn_lines} printed"));
            }
        }
    }
    let mut marks: HashMap<u64, usize> = HashMap::new();
    for c in &log.calls {
        if let Some(first) = marks.insert(c.mark, c.line) {
            p.push(format!(
                "mark {:#x} on lines {first} and {}",
                c.mark, c.line
            ));
        }
    }
    for f in &log.files {
        if !marks.contains_key(&f.mark) {
            p.push(format!(
                "line {}: file line of mark {:#x} without its call line",
                f.line, f.mark
            ));
        }
    }
    p
}

/// Runs every check; the order is the TAP order.
pub fn run(input: &Input, opts: &Options) -> Vec<TestResult> {
    let mut out = Vec::new();
    let s = &input.summary;

    out.push(scenario_check(s));
    out.push(result(
        "the trace selection was applied (summary.txt)".into(),
        if s.guests.is_empty() {
            Some("summary.txt lists no guests".into())
        } else if !s.tracing_applied {
            Some("trace selection recorded; not applied".into())
        } else {
            None
        },
        vec![],
    ));

    let empty = Events::default();
    let ev = input.events.as_ref().unwrap_or(&empty);
    out.extend(stream_checks(
        "events.jsonl: every line is a reader JSON object; syscall, file and vm lines have the documented fields (call_id, task, file identity)",
        input.events.as_ref().map(|e| &e.stream),
        format!(
            "{} lines, {} syscall records, {} file records, {} vm records",
            ev.stream.lines,
            ev.syscalls.len(),
            ev.files.len(),
            ev.vms.len()
        ),
    ));

    // Records of guests the scenario does not trace, or of no guest.
    let traced = s.traced_uuids();
    let mut traced_ids: BTreeSet<u64> = BTreeSet::new();
    let mut others: BTreeMap<String, usize> = BTreeMap::new();
    for r in &ev.syscalls {
        let u = r.uuid_lc().unwrap_or_else(|| "null".into());
        if traced.contains(u.as_str()) {
            traced_ids.insert(r.vm_id);
        } else {
            *others
                .entry(format!("syscall records with uuid {u}"))
                .or_default() += 1;
        }
    }
    for f in &ev.files {
        if !traced_ids.contains(&f.vm_id) {
            *others
                .entry(format!("file records of vm_id {}", f.vm_id))
                .or_default() += 1;
        }
    }
    out.push(result(
        "every syscall record carries the UUID of a traced guest, every file record the VM id of one".into(),
        (!others.is_empty()).then(|| "records of VMs the scenario does not trace".into()),
        others.iter().map(|(w, c)| format!("{c} {w}")).collect(),
    ));

    for g in &s.guests {
        guest_checks(input, opts, ev, g, &mut out);
    }
    out
}

/// The checks of one guest.
fn guest_checks(
    input: &Input,
    opts: &Options,
    ev: &Events,
    g: &SummaryGuest,
    out: &mut Vec<TestResult>,
) {
    let n = g.n;
    let log = guest_log(&input.logs, n);
    let name = format!("vm{n}: lt-ident ran, its self-checks passed (exit 0, LTDONE ok, every part and object reported, unique marks)");
    out.push(match &log {
        Ok(l) => {
            let p = log_problems(l);
            from_problems(name, "problems", p, vec![])
        }
        Err(e) => result(name, Some(e.clone()), vec![]),
    });
    let log = log.unwrap_or_default();
    out.push(uuid_check(g, log.run.uuid.as_deref()));
    out.push(kernel_check(
        n,
        input.kernels.get(&n),
        log.kernel.as_deref(),
    ));

    let magic = log.magic.unwrap_or(MARK_MAGIC);
    let gi = Guest::new(ev, &g.uuid, magic);
    if !g.traced {
        let armed: Vec<_> = gi.vms.iter().filter(|v| v.event == "armed").collect();
        let mut diag: Vec<String> = gi.recs.iter().take(5).map(|r| r.to_string()).collect();
        diag.extend(
            armed
                .iter()
                .map(|v| format!("line {}: vm {} armed", v.line, v.vm_id)),
        );
        out.push(result(
            format!(
                "vm{n} (untraced, {}): no syscall or file records, never armed",
                g.uuid
            ),
            if !gi.recs.is_empty() || !gi.files.is_empty() {
                Some(format!(
                    "{} syscall and {} file record(s) of an untraced guest",
                    gi.recs.len(),
                    gi.files.len()
                ))
            } else if !armed.is_empty() {
                Some("an untraced guest was armed".into())
            } else {
                None
            },
            diag,
        ));
        return;
    }

    let rec_ids: BTreeSet<u64> = gi.recs.iter().map(|r| r.vm_id).collect();
    out.push(result(
        format!(
            "vm{n} ({}): syscall records carry its UUID, all of one VM id",
            g.uuid
        ),
        if gi.recs.is_empty() {
            Some("no syscall records with this UUID".into())
        } else if rec_ids.len() > 1 {
            Some(format!("{} VM ids: {rec_ids:?}", rec_ids.len()))
        } else {
            None
        },
        vec![format!("{} records, vm_id(s) {rec_ids:?}", gi.recs.len())],
    ));

    // Introspection: the profile, then every record after it resolved.
    let active = gi.profile_active();
    let name = format!("vm{n}: the profile is active; after it every syscall record's task is resolved, every file record resolved (or none: not open)");
    let gate: Option<(bool, String)> = match &active {
        Ok(_) => None,
        Err((skippable, e)) => Some((*skippable, format!("vm{n}: {e}"))),
    };
    out.push(match active {
        Ok(t) => status_check(name, &gi, t),
        Err((true, e)) => skip_or_fail(name, opts, e, status_diag(&gi, 0)),
        Err((false, e)) => result(name, Some(e), status_diag(&gi, 0)),
    });

    out.push(structure_check(n, &gi));

    let gated =
        |name: String, out: &mut Vec<TestResult>, f: &mut dyn FnMut(String) -> TestResult| {
            out.push(match &gate {
                Some((true, why)) => skip_or_fail(name, opts, why.clone(), vec![]),
                Some((false, why)) => result(name, Some(why.clone()), vec![]),
                None => f(name),
            });
        };

    for (proc_, what) in PROCS {
        let calls: Vec<&CallLine> = log.calls.iter().filter(|c| c.proc_ == *proc_).collect();
        gated(
            format!("vm{n}: {what} ({proc_}): its marked calls' records carry its pid, tid, ppid and comm"),
            out,
            &mut |name| calls_check(name, &gi, &calls),
        );
    }

    let churn: Vec<&CallLine> = log.calls.iter().filter(|c| c.proc_ == "churn").collect();
    gated(
        format!(
            "vm{n}: churn: {} short-lived children (own comm, some exec'd): every record's identity is the child's, none stale",
            log.churn.map_or(0, |c| c.0)
        ),
        out,
        &mut |name| churn_check(name, &gi, &churn, log.churn),
    );

    for (obj, what) in OBJECTS {
        let lines: Vec<&FileLine> = log.files.iter().filter(|f| f.obj == *obj).collect();
        gated(
            format!("vm{n}: {what} ({obj}): file records agree with fstat and readlink (kind, mode, dev, ino, path, socket), one struct file"),
            out,
            &mut |name| object_check(name, &gi, &lines),
        );
    }
}

/// SKIP with `--allow-no-profile`, else FAIL.
fn skip_or_fail(name: String, opts: &Options, why: String, diag: Vec<String>) -> TestResult {
    TestResult {
        name,
        outcome: if opts.allow_no_profile {
            Outcome::Skip(why)
        } else {
            Outcome::Fail(why)
        },
        diag,
    }
}

/// The guest's kernel, as `uname -r` shows it, against `kernel=` of
/// summary.txt: the testbed kernel's release has `-leaktrace`
/// (CONFIG_LOCALVERSION), Debian's does not.
fn kernel_check(n: u32, want: Option<&String>, release: Option<&str>) -> TestResult {
    let name = format!(
        "vm{n}: the guest runs the kernel its vmN.kernel names ({})",
        want.map_or("?", String::as_str)
    );
    let diag = vec![format!(
        "uname -r: {}",
        release.unwrap_or("(no LTKERNEL line)")
    )];
    let Some(want) = want else {
        return TestResult {
            name,
            outcome: Outcome::Skip("summary.txt has no kernel= for it".into()),
            diag,
        };
    };
    let Some(release) = release else {
        return result(name, Some("no LTKERNEL line".into()), diag);
    };
    let testbed = release.contains("-leaktrace");
    let fail = match want.as_str() {
        "testbed" if !testbed => Some(format!("{release} is not the testbed kernel")),
        "debian" if testbed => Some(format!("{release} is the testbed kernel, not Debian's")),
        "testbed" | "debian" => None,
        k => Some(format!("unknown kernel= {k}")),
    };
    result(name, fail, diag)
}

/// Task status counts of syscall records, and file status counts, split at
/// `t` (records whose call entered before it, and the rest).
fn status_diag(gi: &Guest<'_>, t: u64) -> Vec<String> {
    let mut before: BTreeMap<&str, usize> = BTreeMap::new();
    let mut after: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &gi.recs {
        let m = if r.entry_ns < t {
            &mut before
        } else {
            &mut after
        };
        *m.entry(r.task.status.as_str()).or_default() += 1;
    }
    let mut files: BTreeMap<&str, usize> = BTreeMap::new();
    for f in &gi.files {
        *files.entry(f.status.as_str()).or_default() += 1;
    }
    let mut d = vec![format!("syscall records, task status: {after:?}")];
    if !before.is_empty() {
        d.push(format!(
            "  (calls entered before the profile became active: {before:?})"
        ));
    }
    d.push(format!("file records, status: {files:?}"));
    d
}

/// No record of a call entered after the profile became active (at `t`)
/// has a task that is not resolved, nor a file that is unresolved.
fn status_check(name: String, gi: &Guest<'_>, t: u64) -> TestResult {
    let mut problems = Vec::new();
    let mut calls_after: BTreeSet<(u64, u64)> = BTreeSet::new();
    for r in &gi.recs {
        if r.entry_ns < t {
            continue;
        }
        calls_after.insert((r.vm_id, r.call_id));
        if r.task.status != "resolved" {
            problems.push(format!("task {}: {r}", r.task.status));
        }
    }
    for f in &gi.files {
        let after = calls_after.contains(&(f.vm_id, f.call_id));
        if after && f.status != "resolved" && f.status != "none" {
            problems.push(format!("file {}: {f}", f.status));
        }
    }
    from_problems(name, "records not resolved", problems, status_diag(gi, t))
}

/// File records come before their call's syscall record, one call per
/// call id, one file record per role.
fn structure_check(n: u32, gi: &Guest<'_>) -> TestResult {
    let mut problems = Vec::new();
    for ((vm, id), rs) in &gi.rec_by_call {
        if rs.len() > 1 {
            problems.push(format!(
                "vm_id {vm} call_id {id}: {} syscall records (lines {:?})",
                rs.len(),
                rs.iter().map(|r| r.line).collect::<Vec<_>>()
            ));
        }
    }
    for ((vm, id), fs) in &gi.files_by_call {
        match gi.rec_by_call.get(&(*vm, *id)).map(Vec::as_slice) {
            None | Some([]) => problems.push(format!(
                "vm_id {vm} call_id {id}: file record(s) at line(s) {:?} without a syscall record",
                fs.iter().map(|f| f.line).collect::<Vec<_>>()
            )),
            Some(rs) => {
                let r = rs[0];
                for f in fs.iter().filter(|f| f.line > r.line) {
                    problems.push(format!(
                        "file record after its syscall record ({}): {f}",
                        r.line
                    ));
                }
            }
        }
        let mut roles: BTreeMap<&str, usize> = BTreeMap::new();
        for f in fs {
            *roles.entry(f.role.as_str()).or_default() += 1;
        }
        for (role, c) in roles.iter().filter(|(_, c)| **c > 1) {
            problems.push(format!(
                "vm_id {vm} call_id {id}: {c} file records with role {role}"
            ));
        }
    }
    problems.sort();
    from_problems(
        format!("vm{n}: file records precede their call's syscall record (same vm_id and call_id), one per role; call ids unique"),
        "problems",
        problems,
        vec![format!("{} syscall records, {} file records", gi.recs.len(), gi.files.len())],
    )
}

/// Every call line against its record.
fn calls_check(name: String, gi: &Guest<'_>, calls: &[&CallLine]) -> TestResult {
    if calls.is_empty() {
        return result(name, Some("no LTIDENT call lines".into()), vec![]);
    }
    let mut problems = Vec::new();
    let mut lines = Vec::new();
    for c in calls {
        match gi.marked(c.mark) {
            Err(e) => problems.push(format!("{e}: {c}")),
            Ok(r) => {
                lines.push(r.line);
                let p = call_problems(c, r);
                if !p.is_empty() {
                    problems.push(format!("{}: {c}; record {r}", p.join(", ")));
                }
            }
        }
    }
    let shown: Vec<String> = lines.iter().take(12).map(usize::to_string).collect();
    let more = if lines.len() > shown.len() {
        ", ..."
    } else {
        ""
    };
    from_problems(
        name,
        "calls wrong",
        problems,
        vec![format!(
            "{} call(s), records at events.jsonl lines {}{more}",
            calls.len(),
            shown.join(", ")
        )],
    )
}

/// The churn children: each line against its record; all announced lines
/// there; one pid per child.
fn churn_check(
    name: String,
    gi: &Guest<'_>,
    calls: &[&CallLine],
    churn: Option<(u32, u32)>,
) -> TestResult {
    let Some((children, lines)) = churn else {
        return result(name, Some("no LTIDENT churn line".into()), vec![]);
    };
    let mut problems = Vec::new();
    if calls.len() != lines as usize {
        problems.push(format!("{} churn lines, {lines} announced", calls.len()));
    }
    let pids: BTreeSet<i64> = calls.iter().map(|c| c.pid).collect();
    if pids.len() != children as usize {
        problems.push(format!(
            "{} distinct pids for {children} children",
            pids.len()
        ));
    }
    let mut tasks: BTreeSet<u64> = BTreeSet::new();
    for c in calls {
        match gi.marked(c.mark) {
            Err(e) => problems.push(format!("{e}: {c}")),
            Ok(r) => {
                tasks.extend(r.task.task);
                let p = call_problems(c, r);
                if !p.is_empty() {
                    problems.push(format!("{}: {c}; record {r}", p.join(", ")));
                }
            }
        }
    }
    from_problems(
        name,
        "problems",
        problems,
        vec![format!(
            "{} lines from {} children; their records name {} distinct task_struct addresses (reuse is the point)",
            calls.len(),
            pids.len(),
            tasks.len()
        )],
    )
}

/// Every file line of one object against its call's file record; the
/// object's records share one struct file.
fn object_check(name: String, gi: &Guest<'_>, lines: &[&FileLine]) -> TestResult {
    if lines.is_empty() {
        return result(name, Some("no LTIDENT file lines".into()), vec![]);
    }
    let mut problems = Vec::new();
    let mut files: BTreeSet<u64> = BTreeSet::new();
    let mut seen = 0;
    for l in lines {
        let r = match gi.marked(l.mark) {
            Ok(r) => r,
            Err(e) => {
                problems.push(format!("{e}: {l}"));
                continue;
            }
        };
        let recs: Vec<&File> = gi
            .files_by_call
            .get(&(r.vm_id, r.call_id))
            .map(|fs| fs.iter().copied().filter(|f| f.role == l.role).collect())
            .unwrap_or_default();
        let f = match recs.as_slice() {
            [] => {
                problems.push(format!(
                    "no file record with role {} for {l}; its call: {r}",
                    l.role
                ));
                continue;
            }
            [f] => *f,
            fs => {
                problems.push(format!(
                    "{} file records with role {} for {l}",
                    fs.len(),
                    l.role
                ));
                continue;
            }
        };
        seen += 1;
        if f.status == "resolved" {
            files.insert(f.file);
        }
        if f.line > r.line {
            problems.push(format!(
                "{l}: file record after its syscall record (line {})",
                r.line
            ));
        }
        let p = file_problems(l, f);
        if !p.is_empty() {
            problems.push(format!("{l}: {}; record {f}", p.join(", ")));
        }
    }
    if files.len() > 1 {
        problems.push(format!(
            "{} struct file addresses for one open file: {}",
            files.len(),
            files
                .iter()
                .map(|a| format!("{a:#x}"))
                .collect::<Vec<_>>()
                .join(" ")
        ));
    }
    if files.contains(&0) {
        problems.push("struct file address 0".into());
    }
    from_problems(
        name,
        "problems",
        problems,
        vec![format!(
            "{} descriptor uses, {seen} file records found, struct file {}",
            lines.len(),
            files
                .iter()
                .map(|a| format!("{a:#x}"))
                .collect::<Vec<_>>()
                .join(" ")
        )],
    )
}
