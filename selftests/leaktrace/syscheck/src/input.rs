// SPDX-License-Identifier: GPL-2.0

//! The inputs of a check, parsed: the scenario runner's `summary.txt`, the
//! reader's `events.jsonl` (`leaktrace watch --json`) and each guest's
//! `vmN.log` with the lines `lt-syscalls` prints. The parts that do not
//! depend on the guest program ([`Summary`], [`EventStream`], [`RunLog`],
//! [`record`], [`parse_u64`]) serve `ident-check` too.

use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::collections::BTreeSet;
use std::fmt;

/// One guest of the scenario, from a `summary.txt` line
/// `vmN uuid=U traced=yes|no exit=S time=T`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SummaryGuest {
    /// N.
    pub n: u32,
    /// The UUID, lower case.
    pub uuid: String,
    /// Whether the scenario selected it for tracing.
    pub traced: bool,
    /// The `exit=` field as written (a number, `timeout`, `crashed`, ...).
    pub exit: String,
}

/// `summary.txt`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// The guests, in file order.
    pub guests: Vec<SummaryGuest>,
    /// False when the runner wrote "trace selection recorded; not applied".
    pub tracing_applied: bool,
    /// The `result:` line's value (`pass`, `FAIL (why)`), if any.
    pub result: Option<String>,
}

impl Summary {
    /// The UUIDs of the guests the scenario traces.
    pub fn traced_uuids(&self) -> BTreeSet<&str> {
        self.guests
            .iter()
            .filter(|g| g.traced)
            .map(|g| g.uuid.as_str())
            .collect()
    }

    /// Parses `summary.txt`. Lines it does not know are ignored.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut s = Summary {
            tracing_applied: true,
            ..Default::default()
        };
        for (i, line) in text.lines().enumerate() {
            if line.starts_with("trace selection recorded; not applied") {
                s.tracing_applied = false;
            } else if let Some(r) = line.strip_prefix("result: ") {
                s.result = Some(r.trim().to_string());
            } else if line.starts_with("vm") && line.contains(" uuid=") {
                s.guests.push(
                    parse_guest_line(line)
                        .map_err(|e| format!("summary.txt:{}: {e}: '{line}'", i + 1))?,
                );
            }
        }
        Ok(s)
    }
}

/// N of a `vmN` word.
pub fn vm_number(word: &str) -> Option<u32> {
    word.strip_prefix("vm")?.parse().ok()
}

/// One `vmN uuid=U traced=yes|no exit=S ...` line.
fn parse_guest_line(line: &str) -> Result<SummaryGuest, String> {
    let mut words = line.split_whitespace();
    let n = words.next().and_then(vm_number).ok_or("no vmN")?;
    let (mut uuid, mut traced, mut exit) = (None, None, None);
    for w in words {
        if let Some(v) = w.strip_prefix("uuid=") {
            uuid = Some(v.to_ascii_lowercase());
        } else if let Some(v) = w.strip_prefix("traced=") {
            traced = Some(match v {
                "yes" => true,
                "no" => false,
                _ => return Err(format!("traced={v}")),
            });
        } else if let Some(v) = w.strip_prefix("exit=") {
            exit = Some(v.to_string());
        }
    }
    Ok(SummaryGuest {
        n,
        uuid: uuid.ok_or("no uuid=")?,
        traced: traced.ok_or("no traced=")?,
        exit: exit.ok_or("no exit=")?,
    })
}

/// How an expected call must end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpectEnd {
    /// Through SYSRET: the record's `end` is `returned`, `ret` as expected.
    Returned,
    /// `exit_group`: `end` is `no-return`.
    NoReturn,
    /// A successful `execve`: any end but `returned` and `no-return`
    /// (`superseded`, `timed-out`, `untraced`, `evicted`).
    NotReturned,
}

impl fmt::Display for ExpectEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ExpectEnd::Returned => "returned",
            ExpectEnd::NoReturn => "no-return",
            ExpectEnd::NotReturned => "not-returned",
        })
    }
}

/// One `LTEXPECT` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expect {
    /// `main`, `fork` or `exec`.
    pub proc_: String,
    /// The process's pid.
    pub pid: i64,
    /// System call number.
    pub nr: u64,
    /// Its name, for messages.
    pub name: String,
    /// The arguments to compare: (index, value).
    pub args: Vec<(usize, u64)>,
    /// The return value, for [`ExpectEnd::Returned`].
    pub ret: Option<i64>,
    /// How the call must end.
    pub end: ExpectEnd,
    /// Line number in the guest log, from 1.
    pub line: usize,
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}[{}] {}(nr {}",
            self.proc_, self.pid, self.name, self.nr
        )?;
        for (i, v) in &self.args {
            write!(f, " a{i}={v:#x}")?;
        }
        write!(f, ")")?;
        if let Some(r) = self.ret {
            write!(f, " = {r}")?;
        }
        write!(f, " end {} (log line {})", self.end, self.line)
    }
}

/// The lines of `vmN.log` that do not depend on the guest program: its
/// verdict (`LTDONE`, `LTFAIL`), the `LTUUID` line and the testbed's exit
/// status line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunLog {
    /// `LTDONE` lines' text (`ok`, `failed (N)`).
    pub done: Vec<String>,
    /// `LTFAIL` lines.
    pub failures: Vec<String>,
    /// The `LTUUID` line's UUID, lower case.
    pub uuid: Option<String>,
    /// `leaktrace-exit-status: RC`, the last one.
    pub exit_status: Option<i64>,
}

impl RunLog {
    /// Parses a guest's `vmN.log`: the lines of [`RunLog`] here, every
    /// other line (without a trailing CR) to `other`, with its number from
    /// 1.
    pub fn parse(text: &str, mut other: impl FnMut(&str, usize)) -> Self {
        let mut g = RunLog::default();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim_end_matches('\r');
            if let Some(rest) = line.strip_prefix("LTDONE ") {
                g.done.push(rest.to_string());
            } else if line.starts_with("LTFAIL") {
                g.failures.push(line.to_string());
            } else if let Some(rest) = line.strip_prefix("LTUUID ") {
                g.uuid = Some(rest.trim().to_ascii_lowercase());
            } else if let Some(rest) = line.strip_prefix("leaktrace-exit-status: ") {
                g.exit_status = rest.trim().parse().ok();
            } else {
                other(line, i + 1);
            }
        }
        g
    }

    /// What says the program did not pass its own checks: an exit status
    /// other than 0 (or none: the guest did not finish), `LTDONE` lines
    /// other than exactly `ok`, and every `LTFAIL` line.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        match self.exit_status {
            Some(0) => {}
            Some(s) => p.push(format!("script exit status {s}")),
            None => p.push("no leaktrace-exit-status line (the guest did not finish)".into()),
        }
        if self.done != ["ok"] {
            p.push(format!(
                "LTDONE lines: {:?} (expected exactly \"ok\")",
                self.done
            ));
        }
        p.extend(self.failures.iter().cloned());
        p
    }
}

/// What `lt-syscalls` and the testbed wrote to `vmN.log`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GuestLog {
    /// The `LTEXPECT` lines, in order.
    pub expects: Vec<Expect>,
    /// The program's verdict, its UUID and its exit status.
    pub run: RunLog,
    /// Lines starting with `LTEXPECT` that did not parse: (line, error).
    pub bad_lines: Vec<(usize, String)>,
}

/// A number in decimal, or hexadecimal with `0x`.
pub fn parse_u64(v: &str) -> Option<u64> {
    match v.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => v.parse().ok(),
    }
}

impl Expect {
    /// Parses the part of an `LTEXPECT` line after the tag.
    pub fn parse(rest: &str, line: usize) -> Result<Self, String> {
        let (mut proc_, mut pid, mut nr, mut name, mut ret, mut end) =
            (None, None, None, None, None, None);
        let mut args = Vec::new();
        for w in rest.split_whitespace() {
            let (k, v) = w
                .split_once('=')
                .ok_or_else(|| format!("'{w}' is not k=v"))?;
            let bad = || format!("bad value in '{w}'");
            match k {
                "proc" => proc_ = Some(v.to_string()),
                "pid" => pid = Some(v.parse::<i64>().map_err(|_| bad())?),
                "nr" => nr = Some(parse_u64(v).ok_or_else(bad)?),
                "name" => name = Some(v.to_string()),
                "ret" => ret = Some(v.parse::<i64>().map_err(|_| bad())?),
                "end" => {
                    end = Some(match v {
                        "returned" => ExpectEnd::Returned,
                        "no-return" => ExpectEnd::NoReturn,
                        "not-returned" => ExpectEnd::NotReturned,
                        _ => return Err(bad()),
                    })
                }
                _ => {
                    let i = k
                        .strip_prefix('a')
                        .and_then(|i| i.parse::<usize>().ok())
                        .filter(|&i| i < 6)
                        .ok_or_else(|| format!("unknown key '{k}'"))?;
                    args.push((i, parse_u64(v).ok_or_else(bad)?));
                }
            }
        }
        let end = end.ok_or("no end=")?;
        if (end == ExpectEnd::Returned) != ret.is_some() {
            return Err("ret= must be given iff end=returned".into());
        }
        Ok(Expect {
            proc_: proc_.ok_or("no proc=")?,
            pid: pid.ok_or("no pid=")?,
            nr: nr.ok_or("no nr=")?,
            name: name.ok_or("no name=")?,
            args,
            ret,
            end,
            line,
        })
    }
}

impl GuestLog {
    /// Parses a guest's `vmN.log`.
    pub fn parse(text: &str) -> Self {
        let (mut expects, mut bad_lines) = (Vec::new(), Vec::new());
        let run = RunLog::parse(text, |line, ln| {
            if let Some(rest) = line.strip_prefix("LTEXPECT ") {
                match Expect::parse(rest, ln) {
                    Ok(e) => expects.push(e),
                    Err(e) => bad_lines.push((ln, e)),
                }
            }
        });
        GuestLog {
            expects,
            run,
            bad_lines,
        }
    }
}

/// A `{"type":"syscall"}` line of the reader.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Syscall {
    /// Ring sequence number.
    pub seq: u64,
    /// Production time.
    pub time_ns: u64,
    /// The module's VM id.
    pub vm_id: u64,
    /// The VM's UUID as text, or null.
    pub uuid: Option<String>,
    /// vCPU.
    pub vcpu: u64,
    /// Per-VM sequence number of syscall records.
    pub vm_seq: u64,
    /// Guest CR3 at the call.
    pub cr3: u64,
    /// User RIP.
    pub rip: u64,
    /// User RSP.
    pub rsp: u64,
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
    /// Time of the return or end.
    pub exit_ns: u64,
    /// Line in events.jsonl, from 1 (not from the JSON).
    #[serde(skip)]
    pub line: usize,
}

impl Syscall {
    /// The UUID, lower case.
    pub fn uuid_lc(&self) -> Option<String> {
        self.uuid.as_ref().map(|u| u.to_ascii_lowercase())
    }
}

impl fmt::Display for Syscall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {} vm_seq {} cr3 {:#x} {}(nr {}",
            self.line,
            self.vm_seq,
            self.cr3,
            self.name.as_deref().unwrap_or("?"),
            self.nr
        )?;
        for (i, a) in self.args.iter().enumerate() {
            write!(f, " a{i}={a:#x}")?;
        }
        write!(f, ")")?;
        match self.ret {
            Some(r) => write!(f, " = {r}")?,
            None => write!(f, " = null")?,
        }
        write!(f, " end {}", self.end)
    }
}

/// A `{"type":"vm"}` line (only the fields the checks use).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct VmEvent {
    /// The module's VM id.
    pub vm_id: u64,
    /// `created`, `identified`, `no-uuid`, `armed`, ...
    pub event: String,
    /// The UUID, when known.
    #[serde(default)]
    pub uuid: Option<String>,
    /// Line in events.jsonl, from 1.
    #[serde(skip)]
    pub line: usize,
}

/// What every checker keeps of `events.jsonl` besides the records it
/// reads.
#[derive(Clone, Debug, Default)]
pub struct EventStream {
    /// `lost` lines, as text.
    pub lost: Vec<String>,
    /// Lines that are not JSON objects with a type, or records without the
    /// documented fields: (line, error).
    pub bad_lines: Vec<(usize, String)>,
    /// Number of lines.
    pub lines: usize,
}

impl EventStream {
    /// Reads the reader's output; never fails. Each JSON object with a
    /// `type` other than `lost` goes to `record` (its type, the object, its
    /// line number from 1), whose error makes the line a bad line.
    pub fn parse(
        text: &str,
        mut record: impl FnMut(&str, serde_json::Value, usize) -> Result<(), String>,
    ) -> Self {
        let mut ev = EventStream::default();
        for (i, line) in text.lines().enumerate() {
            let ln = i + 1;
            ev.lines = ln;
            if line.trim().is_empty() {
                ev.bad_lines.push((ln, "empty line".into()));
                continue;
            }
            let v: serde_json::Value = match serde_json::from_str(line) {
                Ok(v) => v,
                Err(e) => {
                    ev.bad_lines.push((ln, format!("not JSON: {e}")));
                    continue;
                }
            };
            let ty = v.get("type").and_then(|t| t.as_str()).map(str::to_string);
            match ty.as_deref() {
                Some("lost") => ev.lost.push(line.to_string()),
                Some(ty) => {
                    if let Err(e) = record(ty, v, ln) {
                        ev.bad_lines.push((ln, e));
                    }
                }
                None => ev.bad_lines.push((ln, "no \"type\"".into())),
            }
        }
        ev
    }
}

/// A record of the reader, from its JSON object; the error names it `what`.
pub fn record<T: DeserializeOwned>(v: serde_json::Value, what: &str) -> Result<T, String> {
    serde_json::from_value(v).map_err(|e| format!("{what} record: {e}"))
}

/// `events.jsonl`, sorted by kind; each list in file order.
#[derive(Clone, Debug, Default)]
pub struct Events {
    /// Syscall records.
    pub syscalls: Vec<Syscall>,
    /// VM records.
    pub vms: Vec<VmEvent>,
    /// Line count, `lost` lines, and lines that are not JSON objects with a
    /// type, or syscall/vm lines that do not have the documented fields.
    pub stream: EventStream,
}

impl Events {
    /// Parses the reader's output; never fails, bad lines are collected.
    pub fn parse(text: &str) -> Self {
        let (mut syscalls, mut vms) = (Vec::new(), Vec::new());
        let stream = EventStream::parse(text, |ty, v, line| {
            match ty {
                "syscall" => syscalls.push(Syscall {
                    line,
                    ..record(v, "syscall")?
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
            vms,
            stream,
        }
    }
}
