// SPDX-License-Identifier: GPL-2.0

//! The inputs of `ident-check`, parsed: the reader's `events.jsonl` with the
//! introspection fields (syscall records' `call_id` and `task`, file
//! records, profile VM records), each guest's `vmN.log` with the lines
//! `lt-ident` prints, and the guests' kernels from `summary.txt`. What does
//! not depend on the program is [`crate::input`]'s.

use crate::input::{parse_u64, record, vm_number, EventStream, RunLog};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;

/// `MARK_MAGIC` of `lt-ident.c` ("LTIDENT!"): R8 of every marked call. The
/// log's start line repeats it; this is the fallback when it is missing.
pub const MARK_MAGIC: u64 = 0x4c54_4944_454e_5421;

/// The `task` object of a syscall line.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Task {
    /// `resolved`, `no-profile`, `unresolved`, `profile-mismatch`, `none`.
    pub status: String,
    /// Guest address of the `task_struct`, when resolved.
    #[serde(default)]
    pub task: Option<u64>,
    /// Thread id, when resolved.
    #[serde(default)]
    pub pid: Option<u32>,
    /// Process id, when resolved.
    #[serde(default)]
    pub tgid: Option<u32>,
    /// Parent's process id, when resolved.
    #[serde(default)]
    pub ppid: Option<u32>,
    /// Command name, when resolved.
    #[serde(default)]
    pub comm: Option<String>,
}

/// A `{"type":"syscall"}` line, with the fields these checks use.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Syscall {
    /// Ring sequence number.
    pub seq: u64,
    /// The module's VM id.
    pub vm_id: u64,
    /// The VM's UUID as text, or null.
    pub uuid: Option<String>,
    /// Per-VM sequence number of syscall records.
    pub vm_seq: u64,
    /// Guest CR3 at the call.
    pub cr3: u64,
    /// System call number.
    pub nr: u64,
    /// Its x86-64 name, null when the reader does not know it.
    pub name: Option<String>,
    /// RDI, RSI, RDX, R10, R8, R9.
    pub args: Vec<u64>,
    /// Return value, null unless `end` is `returned`.
    pub ret: Option<i64>,
    /// How the call ended.
    pub end: String,
    /// Time of the call.
    pub entry_ns: u64,
    /// Per-VM call number, shared with the call's file records.
    pub call_id: u64,
    /// The calling task.
    pub task: Task,
    /// Line in events.jsonl, from 1 (not from the JSON).
    #[serde(skip)]
    pub line: usize,
}

impl Syscall {
    /// The UUID, lower case.
    pub fn uuid_lc(&self) -> Option<String> {
        self.uuid.as_ref().map(|u| u.to_ascii_lowercase())
    }

    /// The mark of a call `lt-ident` marked with `magic` (`args[4]`), if
    /// this is one: `args[5]`.
    pub fn mark(&self, magic: u64) -> Option<u64> {
        match (self.args.get(4), self.args.get(5)) {
            (Some(&m), Some(&mark)) if m == magic => Some(mark),
            _ => None,
        }
    }
}

impl fmt::Display for Syscall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {} call_id {} {}(nr {}) = {} end {}, task {}",
            self.line,
            self.call_id,
            self.name.as_deref().unwrap_or("?"),
            self.nr,
            self.ret.map_or("null".into(), |r| r.to_string()),
            self.end,
            self.task.status
        )?;
        if self.task.status == "resolved" {
            write!(
                f,
                " tgid {} pid {} ppid {} comm {:?}",
                opt(self.task.tgid),
                opt(self.task.pid),
                opt(self.task.ppid),
                self.task.comm.as_deref().unwrap_or("?")
            )?;
        }
        Ok(())
    }
}

/// A number or `null`, for messages.
fn opt<T: fmt::Display>(v: Option<T>) -> String {
    v.map_or("null".into(), |v| v.to_string())
}

/// The `socket` object of a file line.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Socket {
    /// Address family.
    pub family: u16,
    /// Socket type.
    #[serde(rename = "type")]
    pub sock_type: u16,
    /// Local address and port.
    pub local: String,
    /// Remote address and port.
    pub remote: String,
}

/// A `{"type":"file"}` line.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct File {
    /// Ring sequence number.
    pub seq: u64,
    /// The module's VM id.
    pub vm_id: u64,
    /// The call's `call_id`.
    pub call_id: u64,
    /// `arg0`..`arg5`, `return`, `pair0`, `pair1`.
    pub role: String,
    /// The descriptor.
    pub fd: i64,
    /// `resolved`, `none`, `unresolved`, ...
    pub status: String,
    /// `regular`, `directory`, `char-device`, `fifo`, `socket`, ...
    pub kind: String,
    /// `i_mode`.
    pub mode: u32,
    /// Device major number.
    pub dev_major: u32,
    /// Device minor number.
    pub dev_minor: u32,
    /// Inode number.
    pub ino: u64,
    /// Guest address of the `struct file`.
    pub file: u64,
    /// The path, null when the file has none.
    pub path: Option<String>,
    /// What `readlink /proc/PID/fd/N` would show.
    pub display: String,
    /// The path was cut to its tail.
    pub path_truncated: bool,
    /// The path does not start at a root.
    pub path_detached: bool,
    /// The socket, for sockets.
    pub socket: Option<Socket>,
    /// Line in events.jsonl, from 1.
    #[serde(skip)]
    pub line: usize,
}

impl fmt::Display for File {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {} call_id {} {} fd {} {} {} dev {}:{} ino {} mode {:#o} {:?}",
            self.line,
            self.call_id,
            self.role,
            self.fd,
            self.status,
            self.kind,
            self.dev_major,
            self.dev_minor,
            self.ino,
            self.mode,
            self.display
        )
    }
}

/// A `{"type":"vm"}` line.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct VmEvent {
    /// Production time.
    pub time_ns: u64,
    /// The module's VM id.
    pub vm_id: u64,
    /// `created`, `identified`, `armed`, `profile-active`, ...
    pub event: String,
    /// The UUID, when known.
    #[serde(default)]
    pub uuid: Option<String>,
    /// Line in events.jsonl, from 1.
    #[serde(skip)]
    pub line: usize,
}

impl VmEvent {
    /// The UUID, lower case.
    pub fn uuid_lc(&self) -> Option<String> {
        self.uuid.as_ref().map(|u| u.to_ascii_lowercase())
    }
}

/// `events.jsonl`, sorted by kind; each list in file order.
#[derive(Clone, Debug, Default)]
pub struct Events {
    /// Syscall records.
    pub syscalls: Vec<Syscall>,
    /// File records.
    pub files: Vec<File>,
    /// VM records.
    pub vms: Vec<VmEvent>,
    /// Line count, `lost` lines, and lines that are not JSON objects with a
    /// type, or syscall, file and vm lines without the documented fields.
    pub stream: EventStream,
}

impl Events {
    /// Parses the reader's output; never fails, bad lines are collected.
    pub fn parse(text: &str) -> Self {
        let (mut syscalls, mut files, mut vms) = (Vec::new(), Vec::new(), Vec::new());
        let stream = EventStream::parse(text, |ty, v, line| {
            match ty {
                "syscall" => syscalls.push(Syscall {
                    line,
                    ..record(v, "syscall")?
                }),
                "file" => files.push(File {
                    line,
                    ..record(v, "file")?
                }),
                "vm" => vms.push(VmEvent {
                    line,
                    ..record(v, "vm")?
                }),
                _ => {}
            }
            Ok(())
        });
        Events {
            syscalls,
            files,
            vms,
            stream,
        }
    }
}

/// An `LTIDENT call` line: a marked call and who made it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallLine {
    /// Which part of the program: `main`, `thread`, `churn`, ...
    pub proc_: String,
    /// The mark (R9 of the call).
    pub mark: u64,
    /// System call number.
    pub nr: u64,
    /// Its name, for messages.
    pub name: String,
    /// Its return value.
    pub ret: i64,
    /// getpid: the record's `tgid`.
    pub pid: i64,
    /// gettid: the record's `pid`.
    pub tid: i64,
    /// getppid: the record's `ppid`.
    pub ppid: i64,
    /// prctl(PR_GET_NAME): the record's `comm`.
    pub comm: String,
    /// Line in the guest log, from 1.
    pub line: usize,
}

impl fmt::Display for CallLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}(nr {}) = {} mark {:#x}: pid {} tid {} ppid {} comm {:?} (log line {})",
            self.proc_,
            self.name,
            self.nr,
            self.ret,
            self.mark,
            self.pid,
            self.tid,
            self.ppid,
            self.comm,
            self.line
        )
    }
}

/// An `LTIDENT file` line: one descriptor of a marked call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileLine {
    /// The call's mark.
    pub mark: u64,
    /// The open file it names (`tmpfile`, `pipe-r`, ...).
    pub obj: String,
    /// `arg0`, `return`, `pair0`, `pair1`.
    pub role: String,
    /// The descriptor.
    pub fd: i64,
    /// The kind, in the reader's words.
    pub kind: String,
    /// `major(st_dev)`, `minor(st_dev)`.
    pub dev: (u32, u32),
    /// `st_ino`.
    pub ino: u64,
    /// `st_mode`.
    pub mode: u32,
    /// `SO_DOMAIN`, for sockets.
    pub family: Option<u16>,
    /// `SO_TYPE`, for sockets.
    pub sock_type: Option<u16>,
    /// getsockname, as `a.b.c.d:port`, where the addresses are checked.
    pub local: Option<String>,
    /// getpeername (`0.0.0.0:0` when not connected).
    pub remote: Option<String>,
    /// `readlink /proc/self/fd/N`.
    pub link: String,
    /// Line in the guest log, from 1.
    pub line: usize,
}

impl fmt::Display for FileLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} fd {} mark {:#x} (log line {})",
            self.obj, self.role, self.fd, self.mark, self.line
        )
    }
}

/// What `lt-ident` and the testbed wrote to `vmN.log`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IdentLog {
    /// The start line's `magic=`.
    pub magic: Option<u64>,
    /// The start line's `pid=`.
    pub start_pid: Option<i64>,
    /// The start line's `churn=`: children asked for.
    pub churn_asked: Option<u32>,
    /// `LTIDENT churn children=N lines=L`: (N, L).
    pub churn: Option<(u32, u32)>,
    /// `LTIDENT call` lines, in order.
    pub calls: Vec<CallLine>,
    /// `LTIDENT file` lines, in order.
    pub files: Vec<FileLine>,
    /// The program's verdict, its UUID and its exit status.
    pub run: RunLog,
    /// The `LTKERNEL` line: the guest's `uname -r`.
    pub kernel: Option<String>,
    /// `LTIDENT` lines that did not parse: (line, error).
    pub bad_lines: Vec<(usize, String)>,
}

/// `k=v` words; the value of `last` (if given) is the rest of the line,
/// spaces included.
fn fields<'a>(rest: &'a str, last: Option<&str>) -> Result<BTreeMap<&'a str, &'a str>, String> {
    let (head, tail) = match last {
        Some(k) => {
            let tag = format!("{k}=");
            let at = if rest.starts_with(&tag) {
                Some(0)
            } else {
                rest.find(&format!(" {tag}")).map(|i| i + 1)
            };
            match at {
                Some(i) => (
                    &rest[..i],
                    Some((&rest[i..i + k.len()], &rest[i + tag.len()..])),
                ),
                None => return Err(format!("no {tag}")),
            }
        }
        None => (rest, None),
    };
    let mut m = BTreeMap::new();
    for w in head.split_whitespace() {
        let (k, v) = w
            .split_once('=')
            .ok_or_else(|| format!("'{w}' is not k=v"))?;
        if m.insert(k, v).is_some() {
            return Err(format!("{k}= twice"));
        }
    }
    if let Some((k, v)) = tail {
        m.insert(k, v);
    }
    Ok(m)
}

/// A field's value, parsed.
fn get<T>(
    m: &BTreeMap<&str, &str>,
    k: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<T, String> {
    let v = m.get(k).ok_or_else(|| format!("no {k}="))?;
    parse(v).ok_or_else(|| format!("bad value in {k}={v}"))
}

/// An optional field's value, parsed.
fn get_opt<T>(
    m: &BTreeMap<&str, &str>,
    k: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<Option<T>, String> {
    match m.get(k) {
        None => Ok(None),
        Some(v) => parse(v)
            .map(Some)
            .ok_or_else(|| format!("bad value in {k}={v}")),
    }
}

impl CallLine {
    /// Parses the part of an `LTIDENT call` line after `call `.
    pub fn parse(rest: &str, line: usize) -> Result<Self, String> {
        let m = fields(rest, Some("comm"))?;
        let s = |v: &str| Some(v.to_string());
        let i = |v: &str| v.parse::<i64>().ok();
        Ok(CallLine {
            proc_: get(&m, "proc", s)?,
            mark: get(&m, "mark", parse_u64)?,
            nr: get(&m, "nr", parse_u64)?,
            name: get(&m, "name", s)?,
            ret: get(&m, "ret", i)?,
            pid: get(&m, "pid", i)?,
            tid: get(&m, "tid", i)?,
            ppid: get(&m, "ppid", i)?,
            comm: get(&m, "comm", s)?,
            line,
        })
    }
}

impl FileLine {
    /// Parses the part of an `LTIDENT file` line after `file `.
    pub fn parse(rest: &str, line: usize) -> Result<Self, String> {
        let m = fields(rest, Some("link"))?;
        let s = |v: &str| Some(v.to_string());
        let dev = |v: &str| {
            let (a, b) = v.split_once(':')?;
            Some((a.parse().ok()?, b.parse().ok()?))
        };
        let octal = |v: &str| u32::from_str_radix(v.strip_prefix('0').unwrap_or(v), 8).ok();
        let local = get_opt(&m, "local", s)?;
        let remote = get_opt(&m, "remote", s)?;
        if local.is_some() != remote.is_some() {
            return Err("local= and remote= go together".into());
        }
        let family = get_opt(&m, "family", |v| v.parse().ok())?;
        let sock_type = get_opt(&m, "type", |v| v.parse().ok())?;
        if family.is_some() != sock_type.is_some() || (local.is_some() && family.is_none()) {
            return Err("family= and type= go together, before local= and remote=".into());
        }
        Ok(FileLine {
            mark: get(&m, "mark", parse_u64)?,
            obj: get(&m, "obj", s)?,
            role: get(&m, "role", s)?,
            fd: get(&m, "fd", |v| v.parse().ok())?,
            kind: get(&m, "kind", s)?,
            dev: get(&m, "dev", dev)?,
            ino: get(&m, "ino", |v| v.parse().ok())?,
            mode: get(&m, "mode", octal)?,
            family,
            sock_type,
            local,
            remote,
            link: get(&m, "link", s)?,
            line,
        })
    }
}

impl IdentLog {
    /// Parses a guest's `vmN.log`.
    pub fn parse(text: &str) -> Self {
        let mut g = IdentLog::default();
        let run = RunLog::parse(text, |line, ln| {
            if let Some(rest) = line.strip_prefix("LTIDENT ") {
                if let Err(e) = g.parse_ident(rest, ln) {
                    g.bad_lines.push((ln, e));
                }
            } else if let Some(rest) = line.strip_prefix("LTKERNEL ") {
                g.kernel = Some(rest.trim().to_string());
            }
        });
        IdentLog { run, ..g }
    }

    /// One `LTIDENT` line, after the tag.
    fn parse_ident(&mut self, rest: &str, ln: usize) -> Result<(), String> {
        let (what, rest) = rest.split_once(' ').unwrap_or((rest, ""));
        match what {
            "call" => self.calls.push(CallLine::parse(rest, ln)?),
            "file" => self.files.push(FileLine::parse(rest, ln)?),
            "start" => {
                let m = fields(rest, None)?;
                self.magic = Some(get(&m, "magic", parse_u64)?);
                self.start_pid = Some(get(&m, "pid", |v| v.parse().ok())?);
                self.churn_asked = Some(get(&m, "churn", |v| v.parse().ok())?);
            }
            "churn" => {
                let m = fields(rest, None)?;
                let n = |v: &str| v.parse::<u32>().ok();
                self.churn = Some((get(&m, "children", n)?, get(&m, "lines", n)?));
            }
            _ => return Err(format!("unknown LTIDENT line '{what}'")),
        }
        Ok(())
    }
}

/// The `kernel=` word of each `vmN` line of `summary.txt` (the runner
/// writes it since guests have a per-VM kernel), by guest number.
pub fn summary_kernels(text: &str) -> BTreeMap<u32, String> {
    let mut m = BTreeMap::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        let Some(n) = words.next().and_then(vm_number) else {
            continue;
        };
        if let Some(k) = words.find_map(|w| w.strip_prefix("kernel=")) {
            m.insert(n, k.to_string());
        }
    }
    m
}
