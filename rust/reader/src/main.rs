// SPDX-License-Identifier: GPL-2.0

//! `leaktrace`: the operator's CLI for `/dev/leaktrace`.
//!
//! - `leaktrace status [--json]`: the module's ABI version, sizes, ring
//!   counters and readers (`IOCTL_GET_INFO`).
//! - `leaktrace watch [--json] [--count N] [--timeout SECS] [--syscalls]
//!   [--vm ID|UUID]`: decodes records as they arrive, one line each, until
//!   N records, the timeout, or SIGINT/SIGTERM. Reading consumes records:
//!   another reader of the device gets a disjoint part of the stream, and
//!   the records it takes show here as `lost` (as do records the full ring
//!   dropped).
//! - `leaktrace vms [--json]`: the VMs the module knows, their tracing
//!   state and counters, and the trace selection.
//! - `leaktrace trace UUID...|--all`, `leaktrace untrace UUID...|--all`:
//!   change the trace selection.
//! - `leaktrace profile build INPUT [-o FILE] [--offsets-only]`: an
//!   introspection profile from a guest kernel image; `leaktrace profile
//!   show FILE [--json]`; `leaktrace profile load (--vm UUID|--all) FILE`
//!   and `leaktrace profile unload (--vm UUID|--all)`
//!   (Documentation/introspection.rst).
//! - `leaktrace secret add --vm UUID|all GLOB`, `leaktrace secret list
//!   [--json]`, `leaktrace secret rm ID`: the confidential sources the
//!   module follows.
//! - `leaktrace graph FILE|- [--format dot|prov-json|json] [-o FILE]
//!   [--svg FILE]`: the diffusion graph of a `watch --json` event file
//!   (no device needed).
//!
//! Exit status: 0 on success (including a stop by signal, count or
//! timeout), 1 on any error, with a message on stderr.

use anyhow::bail;
use anyhow::Context;
use anyhow::Result;
use clap::Parser;
use clap::Subcommand;
use leaktrace::abi::Info;
use leaktrace::abi::SecretInfo;
use leaktrace::abi::Uuid;
use leaktrace::abi::RECORD_MAX_SIZE;
use leaktrace::control;
use leaktrace::control::Control;
use leaktrace::control::Ioctl;
use leaktrace::control::ProfileTarget;
use leaktrace::control::TraceCommand;
use leaktrace::decode::Decoder;
use leaktrace::decode::Event;
use leaktrace::decode::Record;
use leaktrace::device;
use leaktrace::device::Device;
use leaktrace::diffusion::Colors;
use leaktrace::diffusion::SecretPatterns;
use leaktrace::filter;
use leaktrace::filter::Filter;
use leaktrace::filter::VmSelector;
use leaktrace::format;
use leaktrace::graph::Graph;
use leaktrace::graph::GraphFormat;
use leaktrace::profile;
use leaktrace::profile::KernelProfile;
use leaktrace::secret;
use leaktrace::secret::SecretVm;
use leaktrace::uuid;
use std::ffi::OsString;
use std::fs;
use std::io;
use std::io::Read;
use std::io::Write;
use std::path::Path;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering;
use std::time::Duration;
use std::time::Instant;

/// Read buffer of `watch`: room for at least 64 records of any size.
const WATCH_BUFFER: usize = RECORD_MAX_SIZE * 64;

/// Command line.
#[derive(Debug, Parser)]
#[command(
    name = "leaktrace",
    version,
    about = "Read the leaktrace kernel module's event stream"
)]
struct Cli {
    /// Device node of the leaktrace module.
    #[arg(long, global = true, value_name = "PATH", default_value = device::DEFAULT_DEVICE)]
    device: PathBuf,
    /// What to do.
    #[command(subcommand)]
    command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Show the module's ABI version, record and ring sizes, ring counters
    /// (produced = delivered + dropped + queued) and number of readers.
    Status {
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Decode records as they arrive, one line each. Consumes them: other
    /// readers do not see them. Stops after --count records, after
    /// --timeout, or on SIGINT/SIGTERM (after printing what is queued).
    Watch(WatchArgs),
    /// List the VMs the module knows (id, UUID, VMM pid, whether traced
    /// and selected, refusal, counters) and the trace selection.
    Vms {
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Add VMs to the trace selection by SMBIOS UUID, or trace all VMs.
    /// Takes effect at once on running VMs and later on VMs that start.
    Trace(TraceArgs),
    /// Remove UUIDs from the trace selection, or with --all trace no VM.
    Untrace(TraceArgs),
    /// Introspection profiles of guest kernels: build one from a kernel
    /// image, show one, load one into the module or unload it.
    #[command(subcommand)]
    Profile(ProfileCommand),
    /// Confidential sources: path globs in the guests. A file a traced
    /// process uses whose path matches becomes confidential, and the
    /// module follows its data wherever it goes (diffusion records).
    #[command(subcommand)]
    Secret(SecretCommand),
    /// Build the diffusion graph from an event file of `watch --json`
    /// (other record types are ignored): nodes merged by key, one edge
    /// per diffusion. Needs no device.
    Graph(GraphArgs),
}

/// Options of `graph`.
#[derive(Debug, clap::Args)]
struct GraphArgs {
    /// The event file (JSON lines of `leaktrace watch --json`); `-` reads
    /// standard input.
    #[arg(value_name = "FILE")]
    input: PathBuf,
    /// Output format: Graphviz dot (a cluster per VM), W3C PROV-JSON,
    /// {"nodes": [...], "edges": [...]}, or text (the edges in time order,
    /// one line each, then a summary).
    #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
    format: GraphFormat,
    /// Write the graph to FILE instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Call the VM with this SMBIOS UUID NAME (repeatable): VM ids are
    /// the module's own numbering.
    #[arg(long = "vm-name", value_name = "UUID=NAME", value_parser = parse_vm_name)]
    vm_names: Vec<(String, String)>,
    /// Render the dot graph to an SVG file with Graphviz's `dot -Tsvg`
    /// (package graphviz); then nothing goes to standard output unless -o
    /// names a file for the dot text too.
    #[arg(long, value_name = "FILE")]
    svg: Option<PathBuf>,
}

/// `secret` subcommands.
#[derive(Debug, Subcommand)]
enum SecretCommand {
    /// Define a secret for the VMs with one UUID or for all VMs; prints
    /// its id alone on a line (its bit in diffusion records' secrets).
    /// Files match when a traced process first uses them after that.
    #[command(after_help = secret::PATTERN_SYNTAX)]
    Add(SecretAddArgs),
    /// List the secrets: ID, VM (UUID or all), PATTERN, FILES (files that
    /// became confidential through it, in all VMs).
    List {
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Remove a secret: no new file becomes confidential through it;
    /// what it already marked stays marked (the data is out).
    Rm {
        /// The secret's id (see `secret list`).
        #[arg(value_name = "ID")]
        id: u32,
    },
}

/// Options of `secret add`.
#[derive(Debug, clap::Args)]
struct SecretAddArgs {
    /// The VMs the secret is in: a SMBIOS UUID (canonical form), or `all`.
    #[arg(long, value_name = "UUID|all", value_parser = secret::parse_secret_vm)]
    vm: SecretVm,
    /// An absolute path glob in the guest, at most 256 bytes of UTF-8:
    /// `*` and `?` match within one path component, `**` (a whole
    /// component) any number of components. Quote it from the shell.
    #[arg(value_name = "GLOB")]
    pattern: OsString,
}

/// `profile` subcommands.
#[derive(Debug, Subcommand)]
enum ProfileCommand {
    /// Build a profile from a guest kernel image: a vmlinux ELF or a
    /// compressed bzImage/vmlinuz (gzip, xz, lzma, zstd). With
    /// --offsets-only, print only the structure offsets, which a raw BTF
    /// blob (e.g. /sys/kernel/btf/vmlinux) also gives. How each value was
    /// found goes to standard error.
    Build(ProfileBuildArgs),
    /// Check a profile file and print a summary of it.
    Show {
        /// The profile (JSON); `-` reads standard input.
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Print the profile as JSON (normalised) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Load a profile into the module, for the VMs with one UUID or as the
    /// default profile of every VM without its own. Replaces a profile
    /// loaded before for the same target.
    Load(ProfileLoadArgs),
    /// Remove the profile of the VMs with one UUID, or the default profile.
    Unload(ProfileTargetArgs),
}

/// Options of `profile build`.
#[derive(Debug, clap::Args)]
struct ProfileBuildArgs {
    /// The guest kernel image: vmlinux, bzImage or vmlinuz (or raw BTF
    /// with --offsets-only).
    #[arg(value_name = "INPUT")]
    input: PathBuf,
    /// Write the profile to FILE instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Print only the structure offsets, from BTF.
    #[arg(long)]
    offsets_only: bool,
    /// Do not print how each value was found.
    #[arg(short, long)]
    quiet: bool,
}

/// Which profile `profile load` and `unload` change.
#[derive(Debug, clap::Args)]
#[group(id = "profile_target", required = true, multiple = false, args = ["vm", "all"])]
struct ProfileTargetArgs {
    /// The VMs with this SMBIOS UUID (canonical form).
    #[arg(long, value_name = "UUID", value_parser = parse_uuid)]
    vm: Option<Uuid>,
    /// The default profile: every VM without a profile of its own.
    #[arg(long)]
    all: bool,
}

impl ProfileTargetArgs {
    /// The target the arguments name.
    fn target(&self) -> ProfileTarget {
        match self.vm {
            Some(uuid) if !self.all => ProfileTarget::Vm(uuid),
            _ => ProfileTarget::Default,
        }
    }
}

/// Options of `profile load`.
#[derive(Debug, clap::Args)]
struct ProfileLoadArgs {
    /// Which profile to set.
    #[command(flatten)]
    target: ProfileTargetArgs,
    /// The profile (JSON, from `leaktrace profile build`); `-` reads
    /// standard input.
    #[arg(value_name = "FILE")]
    file: PathBuf,
}

/// Arguments of `trace` and `untrace`.
#[derive(Debug, clap::Args)]
#[group(id = "target", required = true, multiple = false, args = ["uuids", "all"])]
struct TraceArgs {
    /// VM UUIDs, canonical form (8-4-4-4-12 hex digits, either case).
    #[arg(value_name = "UUID", value_parser = parse_uuid)]
    uuids: Vec<Uuid>,
    /// trace: every VM, present and future; untrace: no VM at all (clears
    /// the selection).
    #[arg(long)]
    all: bool,
}

/// Parses a UUID argument strictly (see `leaktrace::uuid`).
fn parse_uuid(s: &str) -> Result<Uuid, String> {
    uuid::parse(s).map_err(|e| e.to_string())
}

/// Options of `watch`.
#[derive(Debug, clap::Args)]
struct WatchArgs {
    /// Print one JSON object per line: {"type": "loaded" | "heartbeat" |
    /// "test" | "vm" | "syscall" | "file" | "diffusion" | "pressure" |
    /// "unknown" | "lost", ...} (Documentation/abi.rst).
    #[arg(long)]
    json: bool,
    /// Stop after printing this many records (gaps reported as "lost" do
    /// not count; records left out by a filter are consumed, not counted).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    count: Option<u64>,
    /// Stop after this many seconds (decimals allowed).
    #[arg(long, value_name = "SECS", value_parser = parse_timeout)]
    timeout: Option<Duration>,
    /// Show only VM, syscall, file, diffusion and pressure records (and
    /// "lost" gaps).
    #[arg(long)]
    syscalls: bool,
    /// Show only this VM's VM, syscall, file, diffusion and pressure
    /// records (and "lost" gaps): a VM id or a UUID.
    #[arg(long, value_name = "ID|UUID", value_parser = filter::parse_vm_selector)]
    vm: Option<VmSelector>,
    /// Once everything queued is read, wait this many milliseconds before
    /// waiting for more, so that records are read in batches rather than
    /// with a wake-up each (a reader sharing CPUs with the VMs otherwise
    /// takes time from the traced vCPUs at every system call). 0: read
    /// each record as soon as it is queued.
    #[arg(long, value_name = "MS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(0..=1000))]
    batch_ms: u64,
}

/// Parses `--timeout`: a positive, finite number of seconds.
fn parse_timeout(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .parse()
        .map_err(|_| format!("`{s}` is not a number of seconds"))?;
    if !secs.is_finite() || secs <= 0.0 {
        return Err(format!(
            "`{s}`: the timeout must be a positive number of seconds"
        ));
    }
    Duration::try_from_secs_f64(secs).map_err(|e| format!("`{s}`: {e}"))
}

/// Opens the device and checks that its module speaks our ABI.
fn open(path: &Path) -> Result<(Device, Info)> {
    // Non-blocking: `watch` waits in `ppoll`, so that signals and the
    // timeout are handled without races; `status` never reads.
    let dev = Device::open(path, true)
        .map_err(|e| anyhow::anyhow!(device::open_error_message(path, &e)))?;
    let info = dev
        .info()
        .map_err(|e| anyhow::anyhow!(device::info_error_message(path, &e)))?;
    device::check_abi(path, &info).map_err(anyhow::Error::msg)?;
    Ok((dev, info))
}

/// `leaktrace status`.
fn status(path: &Path, json: bool) -> Result<()> {
    let (_dev, info) = open(path)?;
    let shown = path.display().to_string();
    let text = if json {
        let mut line = serde_json::to_string(&format::JsonStatus::new(&shown, &info))?;
        line.push('\n');
        line
    } else {
        format::status_text(&shown, &info)
    };
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// Set by the SIGINT/SIGTERM handler.
static STOP: AtomicBool = AtomicBool::new(false);

/// Handler of SIGINT and SIGTERM: only records the request.
extern "C" fn request_stop(_signal: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// SIGINT and SIGTERM, blocked except while `watch` waits in `ppoll`.
///
/// With the signals blocked everywhere else, a signal that arrives while a
/// record is being read or printed stays pending and interrupts the next
/// wait at once: no stop request can be missed between checking [`STOP`]
/// and going to sleep.
struct StopSignals {
    /// The signal mask to wait with: the original one, minus the two.
    wait_mask: libc::sigset_t,
}

impl StopSignals {
    /// Blocks the signals and installs the handler (even if they were
    /// ignored, as for a background job of a non-interactive shell: scripts
    /// stop `watch` with SIGINT and rely on it).
    fn install() -> io::Result<Self> {
        // SAFETY: plain signal-set manipulation on local, initialised sets;
        // the handler only stores to an atomic (async-signal-safe).
        unsafe {
            let mut set: libc::sigset_t = core::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGINT);
            libc::sigaddset(&mut set, libc::SIGTERM);
            let mut old: libc::sigset_t = core::mem::zeroed();
            let err = libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old);
            if err != 0 {
                return Err(io::Error::from_raw_os_error(err));
            }
            let mut action: libc::sigaction = core::mem::zeroed();
            action.sa_sigaction = request_stop as extern "C" fn(libc::c_int) as libc::sighandler_t;
            action.sa_mask = set;
            // No SA_RESTART: the wait must return EINTR.
            action.sa_flags = 0;
            for signal in [libc::SIGINT, libc::SIGTERM] {
                if libc::sigaction(signal, &action, core::ptr::null_mut()) != 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            let mut wait_mask = old;
            libc::sigdelset(&mut wait_mask, libc::SIGINT);
            libc::sigdelset(&mut wait_mask, libc::SIGTERM);
            Ok(Self { wait_mask })
        }
    }
}

/// What `watch` reads from: the device, or a simulation in unit tests.
trait Source {
    /// Path, for messages.
    fn path(&self) -> &Path;
    /// One non-blocking `read(2)`.
    fn read(&self, buf: &mut [u8]) -> io::Result<usize>;
    /// `IOCTL_GET_INFO`.
    fn info(&self) -> io::Result<Info>;
    /// The secrets defined (`IOCTL_SECRET_LIST`).
    fn secrets(&self) -> io::Result<Vec<SecretInfo>>;
    /// `ppoll(2)` with the given signal mask (see [`Device::ppoll`]).
    fn ppoll(
        &self,
        events: i16,
        timeout: Option<Duration>,
        sigmask: &libc::sigset_t,
    ) -> io::Result<i16>;
}

impl Source for Device {
    fn path(&self) -> &Path {
        Device::path(self)
    }

    fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        Device::read(self, buf)
    }

    fn info(&self) -> io::Result<Info> {
        Device::info(self)
    }

    fn secrets(&self) -> io::Result<Vec<SecretInfo>> {
        secret::list(self)
    }

    fn ppoll(
        &self,
        events: i16,
        timeout: Option<Duration>,
        sigmask: &libc::sigset_t,
    ) -> io::Result<i16> {
        Device::ppoll(self, events, timeout, sigmask)
    }
}

/// Where `watch` prints: one line per event, flushed at once (the output
/// is often a file that a script reads after stopping us).
struct Sink<'a> {
    /// JSON lines instead of text.
    json: bool,
    /// Which events to print.
    filter: Filter,
    /// Colours of text lines.
    colors: Colors,
    /// Patterns of the secrets known (text only).
    patterns: SecretPatterns,
    /// Secret ids that were not defined at the last `IOCTL_SECRET_LIST`:
    /// not asked about again (a secret removed stays in the records of
    /// the data it marked).
    asked: u64,
    /// Standard output (a buffer in unit tests).
    out: &'a mut dyn Write,
}

impl Sink<'_> {
    /// Learns the patterns of the secrets in `mask` it does not know yet,
    /// asking `list` (the module) once for any id it has not asked about.
    fn learn_secrets(&mut self, mask: u64, list: &dyn Fn() -> io::Result<Vec<SecretInfo>>) {
        let unknown = leaktrace::diffusion::secret_ids(mask)
            .into_iter()
            .filter(|id| !self.patterns.contains_key(id))
            .fold(0u64, |m, id| m | 1 << id);
        if unknown & !self.asked == 0 {
            return;
        }
        // Without the list (an older module, no permission), ids alone.
        if let Ok(secrets) = list() {
            self.patterns = secret::patterns(&secrets);
        }
        self.asked |= unknown;
    }

    /// Prints one event, if the filter keeps it, and flushes; returns
    /// whether it was printed. `list` lists the secrets (text only).
    fn emit(
        &mut self,
        event: &Event,
        list: &dyn Fn() -> io::Result<Vec<SecretInfo>>,
    ) -> Result<bool> {
        if !self.filter.keep(event) {
            return Ok(false);
        }
        let line = if self.json {
            format::json_line(event)?
        } else {
            match event {
                Event::Record(Record::Diffusion(r)) => self.learn_secrets(r.secrets, list),
                Event::Record(Record::Pressure(r)) => self.learn_secrets(r.secrets, list),
                _ => {}
            }
            let ctx = format::TextContext {
                colors: self.colors,
                secrets: &self.patterns,
            };
            format::text_line_in(event, &ctx)
        };
        writeln!(self.out, "{line}").context("writing to standard output")?;
        self.out.flush().context("writing to standard output")?;
        Ok(true)
    }
}

/// State of one `watch`.
struct Watch<'a, S: Source> {
    /// The device, non-blocking.
    dev: &'a S,
    /// Set when a stop is requested ([`STOP`], but for unit tests).
    stop: &'a AtomicBool,
    /// Its info at open.
    info: Info,
    /// Decodes reads and reports gaps.
    decoder: Decoder,
    /// Read buffer.
    buf: Vec<u8>,
    /// Events of the last read.
    events: Vec<Event>,
    /// Records still to print before stopping (`--count`), if limited;
    /// each read takes at most this many, so none is read beyond it.
    remaining: Option<u64>,
    /// Output.
    sink: Sink<'a>,
    /// Pause after a read that emptied the ring (`--batch-ms`).
    batch: Duration,
    /// Bytes the last read returned.
    last_read: usize,
}

impl<S: Source> Watch<'_, S> {
    /// Whether `--count` records were printed.
    fn done(&self) -> bool {
        self.remaining == Some(0)
    }

    /// One read of at most the records still wanted; prints them. Returns
    /// the number of records read, or `None` when there was none to read
    /// (`EAGAIN`: the ring is empty, maybe because another reader was
    /// faster) or the read was interrupted.
    fn read_once(&mut self) -> Result<Option<u64>> {
        let max = self
            .remaining
            .map_or(usize::MAX, |r| usize::try_from(r).unwrap_or(usize::MAX));
        let dev = self.dev;
        let n = match device::read_at_most(|b| dev.read(b), &mut self.buf, max) {
            Ok(0) => bail!(
                "read of {} returned 0 bytes while records were reported queued",
                dev.path().display()
            ),
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) =>
            {
                return Ok(None)
            }
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => bail!(
                "read of {}: the next record does not fit a {}-byte buffer \
                 (module's record_max_size: {})",
                dev.path().display(),
                self.buf.len(),
                self.info.record_max_size
            ),
            Err(e) => return Err(e).with_context(|| format!("reading {}", dev.path().display())),
        };
        self.last_read = n;
        self.events.clear();
        let decoded = self.decoder.decode(&self.buf[..n], &mut self.events);
        // Print the good records before a malformed one, then fail.
        let mut records = 0;
        let mut printed = 0;
        let list = || dev.secrets();
        for event in &self.events {
            let shown = self.sink.emit(event, &list)?;
            if matches!(event, Event::Record(_)) {
                records += 1;
                printed += u64::from(shown);
            }
        }
        decoded.with_context(|| format!("decoding {}", dev.path().display()))?;
        if let Some(r) = &mut self.remaining {
            *r = r.saturating_sub(printed);
        }
        Ok(Some(records))
    }

    /// How long to let records gather after the last read, `since` the
    /// one before it ([`batch_pause`]).
    fn pause(&self, since: Duration) -> Duration {
        batch_pause(self.batch, self.last_read, self.buf.len(), self.info.ring_bytes, since)
    }

    /// After a stop request: prints the records queued right now, without
    /// blocking (at most as many as were queued when it started, so that a
    /// busy producer cannot keep us here).
    fn drain(&mut self) -> Result<()> {
        let queued = self
            .dev
            .info()
            .map_err(|e| anyhow::anyhow!(device::info_error_message(self.dev.path(), &e)))?
            .counters
            .queued;
        let mut taken = 0;
        while taken < queued && !self.done() {
            match self.read_once()? {
                Some(n) => taken += n,
                None => break,
            }
        }
        Ok(())
    }

    /// Waits for and prints records until the count, the deadline or a
    /// stop request.
    fn run(&mut self, wait_mask: &libc::sigset_t, deadline: Option<Instant>) -> Result<()> {
        let mut last_read_at = Instant::now();
        while !self.done() {
            if self.stop.load(Ordering::SeqCst) {
                return self.drain();
            }
            let timeout = match deadline {
                None => None,
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Ok(());
                    }
                    Some(left)
                }
            };
            let events = libc::POLLIN | libc::POLLRDNORM;
            match self.dev.ppoll(events, timeout, wait_mask) {
                Ok(0) => {}
                Ok(revents) if revents & events != 0 => {
                    if self.read_once()?.is_some() {
                        let now = Instant::now();
                        let pause = self.pause(now.saturating_duration_since(last_read_at));
                        last_read_at = now;
                        let left = deadline.map_or(pause, |d| d.saturating_duration_since(now));
                        // Also when there is no pause: the next ppoll may
                        // find records again and deliver no signal.
                        match device::sleep_unblocked(pause.min(left), wait_mask) {
                            Err(e) if e.kind() != io::ErrorKind::Interrupted => {
                                return Err(e).context("waiting between reads")
                            }
                            _ => {}
                        }
                    }
                }
                Ok(revents) => bail!(
                    "poll of {} reported an error (revents {revents:#x})",
                    self.dev.path().display()
                ),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(e).with_context(|| format!("polling {}", self.dev.path().display()))
                }
            }
        }
        Ok(())
    }
}

/// How long `watch` lets records gather after a read of `read` bytes into
/// a buffer of `buffer` bytes, `since` the previous read: `batch` after a
/// read that did not fill half the buffer (it took what was queued), but
/// never so long that, at the rate just seen, an eighth of a ring of
/// `ring_bytes` would fill meanwhile; nothing after a large read (more is
/// waiting).
fn batch_pause(batch: Duration, read: usize, buffer: usize, ring_bytes: u64, since: Duration) -> Duration {
    if batch.is_zero() || read >= buffer / 2 {
        return Duration::ZERO;
    }
    let rate = read as f64 / since.as_secs_f64().max(1e-6);
    if rate <= 0.0 {
        return batch;
    }
    batch.min(Duration::from_secs_f64(ring_bytes as f64 / 8.0 / rate))
}

/// Whether text goes to a terminal that wants colours: standard output is
/// a TTY and `NO_COLOR` is unset or empty (https://no-color.org).
fn use_colors() -> bool {
    use std::io::IsTerminal;
    io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// `leaktrace watch`.
fn watch(path: &Path, args: &WatchArgs) -> Result<()> {
    let (dev, info) = open(path)?;
    let signals = StopSignals::install().context("installing the SIGINT/SIGTERM handler")?;
    let colors = Colors {
        on: !args.json && use_colors(),
    };
    let mut out = io::stdout().lock();
    watch_source(
        &dev,
        info,
        args,
        colors,
        &STOP,
        &signals.wait_mask,
        &mut out,
    )
}

/// The body of `watch` over any [`Source`]: until `--count` records,
/// `--timeout`, or `stop` (then after draining what is queued).
fn watch_source<S: Source>(
    dev: &S,
    info: Info,
    args: &WatchArgs,
    colors: Colors,
    stop: &AtomicBool,
    wait_mask: &libc::sigset_t,
    out: &mut dyn Write,
) -> Result<()> {
    let deadline = args.timeout.map(|t| Instant::now() + t);
    let mut watch = Watch {
        dev,
        stop,
        info,
        decoder: Decoder::new(),
        buf: vec![0u8; WATCH_BUFFER.max(info.record_max_size as usize)],
        events: Vec::new(),
        remaining: args.count,
        batch: Duration::from_millis(args.batch_ms),
        last_read: 0,
        sink: Sink {
            json: args.json,
            filter: Filter::new(args.syscalls, args.vm),
            colors,
            // Text shows the secrets' patterns: ask once now, and again
            // for an id defined later.
            patterns: if args.json {
                SecretPatterns::new()
            } else {
                dev.secrets()
                    .map(|s| secret::patterns(&s))
                    .unwrap_or_default()
            },
            asked: 0,
            out,
        },
    };
    watch.run(wait_mask, deadline)?;
    watch
        .sink
        .out
        .flush()
        .context("writing to standard output")?;
    Ok(())
}

/// Writes `text` to standard output and flushes.
fn print(text: &str) -> Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// The VM list and the selection, with errors explained.
fn vms_and_selection(
    ctl: &dyn Control,
) -> Result<(Vec<leaktrace::abi::VmInfo>, control::Selection)> {
    let vms = control::list_vms(ctl).map_err(|e| {
        anyhow::anyhow!(control::ioctl_error_message(ctl.path(), Ioctl::VmList, &e))
    })?;
    let selection = control::get_selection(ctl).map_err(|e| {
        anyhow::anyhow!(control::ioctl_error_message(
            ctl.path(),
            Ioctl::GetSelection,
            &e
        ))
    })?;
    Ok((vms, selection))
}

/// `leaktrace vms` over any [`Control`]: the text or JSON to print.
fn vms_output(ctl: &dyn Control, json: bool) -> Result<String> {
    let (vms, selection) = vms_and_selection(ctl)?;
    Ok(if json {
        let shown = ctl.path().display().to_string();
        let mut line = serde_json::to_string(&format::JsonVms::new(&shown, &vms, &selection))?;
        line.push('\n');
        line
    } else {
        format::vms_text(&vms, &selection)
    })
}

/// `leaktrace vms`.
fn vms(path: &Path, json: bool) -> Result<()> {
    let (dev, _info) = open(path)?;
    print(&vms_output(&dev, json)?)
}

/// The command `trace`/`untrace` (`add`) runs with `args`.
fn trace_command(add: bool, args: &TraceArgs) -> TraceCommand {
    match (add, args.all) {
        (true, true) => TraceCommand::All,
        (false, true) => TraceCommand::None,
        (true, false) => TraceCommand::Add(control::dedup_uuids(&args.uuids)),
        (false, false) => TraceCommand::Remove(control::dedup_uuids(&args.uuids)),
    }
}

/// `leaktrace trace` (`add`) and `leaktrace untrace`: prints what was
/// done, warnings and errors; fails if anything failed.
fn trace(path: &Path, add: bool, args: &TraceArgs) -> Result<()> {
    // The UUIDs were checked by the argument parser, before any ioctl.
    let command = trace_command(add, args);
    let (dev, _info) = open(path)?;
    finish_report(&control::run_trace(&dev, &command))
}

/// Writes `text` to `output`, or to standard output.
fn write_output(output: Option<&Path>, text: &str) -> Result<()> {
    match output {
        Some(path) => fs::write(path, text).with_context(|| format!("writing {}", path.display())),
        None => print(text),
    }
}

/// `leaktrace profile build`.
fn profile_build(args: &ProfileBuildArgs) -> Result<()> {
    let input = &args.input;
    let bytes = fs::read(input).with_context(|| format!("reading {}", input.display()))?;
    let fail = |e: anyhow::Error| e.context(format!("{}: cannot build a profile", input.display()));
    let (text, notes) = if args.offsets_only {
        let built = profile::build::build_offsets(bytes).map_err(fail)?;
        (profile::offsets_to_json(&built.value), built.notes)
    } else {
        let built = profile::build::build_profile(bytes).map_err(fail)?;
        (built.value.to_json(), built.notes)
    };
    if !args.quiet {
        for note in &notes {
            eprintln!("leaktrace: {note}");
        }
    }
    write_output(args.output.as_deref(), &text)
}

/// Reads and checks a profile file (`-`: standard input).
fn read_profile(path: &Path) -> Result<KernelProfile> {
    let mut text = String::new();
    if path == Path::new("-") {
        io::stdin()
            .read_to_string(&mut text)
            .context("reading the profile from standard input")?;
    } else {
        text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    }
    KernelProfile::from_json(&text)
        .map_err(|e| anyhow::anyhow!("{}: invalid profile: {e}", path.display()))
}

/// `leaktrace profile show`.
fn profile_show(file: &Path, json: bool) -> Result<()> {
    let profile = read_profile(file)?;
    print(&if json {
        profile.to_json()
    } else {
        profile.text()
    })
}

/// Prints a control report; fails if it holds errors.
fn finish_report(report: &control::Report) -> Result<()> {
    let mut text = String::new();
    for line in &report.lines {
        text.push_str(line);
        text.push('\n');
    }
    print(&text)?;
    for warning in &report.warnings {
        eprintln!("leaktrace: warning: {warning}");
    }
    match report.errors.as_slice() {
        [] => Ok(()),
        errors => bail!("{}", errors.join("\nleaktrace: error: ")),
    }
}

/// `leaktrace profile load` (with a file) and `unload` (without).
fn profile_load(path: &Path, target: &ProfileTargetArgs, file: Option<&Path>) -> Result<()> {
    // The file is checked before the device is opened.
    let profile = file.map(read_profile).transpose()?;
    let abi = profile
        .as_ref()
        .map(|p| p.to_abi().map_err(|e| anyhow::anyhow!("{e}")))
        .transpose()?;
    let (dev, _info) = open(path)?;
    let loaded = match (&abi, &profile) {
        (Some(abi), Some(p)) => Some((abi, p.release.as_str())),
        _ => None,
    };
    finish_report(&control::run_profile_load(&dev, target.target(), loaded))
}

/// `leaktrace secret add`: prints the new id.
fn secret_add(path: &Path, args: &SecretAddArgs) -> Result<()> {
    // The pattern is checked before the device is opened.
    secret::check_pattern(&args.pattern).map_err(anyhow::Error::msg)?;
    let (dev, _info) = open(path)?;
    let id = secret::add(&dev, args.vm, &args.pattern).map_err(anyhow::Error::msg)?;
    print(&format!("{id}\n"))
}

/// `leaktrace secret list` over any [`Control`]: the text or JSON to
/// print.
fn secret_list_output(ctl: &dyn Control, json: bool) -> Result<String> {
    let secrets = secret::list_or_message(ctl).map_err(anyhow::Error::msg)?;
    Ok(if json {
        let shown = ctl.path().display().to_string();
        let mut line = serde_json::to_string(&secret::JsonSecrets::new(&shown, &secrets))?;
        line.push('\n');
        line
    } else {
        secret::list_text(&secrets)
    })
}

/// `leaktrace secret list`.
fn secret_list(path: &Path, json: bool) -> Result<()> {
    let (dev, _info) = open(path)?;
    print(&secret_list_output(&dev, json)?)
}

/// `leaktrace secret rm`.
fn secret_rm(path: &Path, id: u32) -> Result<()> {
    let (dev, _info) = open(path)?;
    secret::remove(&dev, id).map_err(anyhow::Error::msg)?;
    print(&format!(
        "secret {id} removed; files it made confidential stay confidential\n"
    ))
}

/// Renders `dot` text to an SVG file with the Graphviz program `program`
/// (`dot`).
fn render_svg(program: &str, dot: &str, svg: &Path) -> Result<()> {
    use std::process::Stdio;
    let mut child = match std::process::Command::new(program)
        .arg("-Tsvg")
        .arg("-o")
        .arg(svg)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) if e.kind() == io::ErrorKind::NotFound => bail!(
            "--svg needs Graphviz's `{program}`, which is not installed \
             (Debian: apt-get install graphviz); or write dot with -o and render it elsewhere"
        ),
        Err(e) => return Err(e).with_context(|| format!("running {program}")),
    };
    if let Some(mut stdin) = child.stdin.take() {
        // A `dot` that fails early closes its input: its status says why.
        let _ = stdin.write_all(dot.as_bytes());
    }
    let done = child
        .wait_with_output()
        .with_context(|| format!("running {program}"))?;
    if !done.status.success() {
        bail!(
            "{program} -Tsvg failed ({}): {}",
            done.status,
            String::from_utf8_lossy(&done.stderr).trim()
        );
    }
    Ok(())
}

/// Parses `--vm-name UUID=NAME`.
fn parse_vm_name(s: &str) -> Result<(String, String), String> {
    let (uuid, name) = s.split_once('=').ok_or("expected UUID=NAME")?;
    leaktrace::uuid::parse(uuid).map_err(|e| e.to_string())?;
    if name.is_empty() || name.chars().any(char::is_control) {
        return Err("the name is empty or has control characters".into());
    }
    Ok((uuid.to_ascii_lowercase(), name.to_owned()))
}

/// `leaktrace graph`.
fn graph(args: &GraphArgs) -> Result<()> {
    if args.svg.is_some() && args.format != GraphFormat::Dot {
        bail!("--svg renders the dot format; leave out --format or use --format dot");
    }
    let input = &args.input;
    let parsed = if input == Path::new("-") {
        Graph::from_jsonl(io::stdin().lock())
    } else {
        let file = fs::File::open(input).with_context(|| format!("reading {}", input.display()))?;
        Graph::from_jsonl(io::BufReader::new(file))
    };
    let mut graph = parsed.map_err(|e| anyhow::anyhow!("{}: {e}", input.display()))?;
    graph.name_vms(args.vm_names.iter().cloned());
    for warning in graph.warnings() {
        eprintln!("leaktrace: warning: {}: {warning}", input.display());
    }
    let text = graph.render(args.format);
    if let Some(svg) = &args.svg {
        render_svg("dot", &text, svg)?;
        if let Some(output) = &args.output {
            write_output(Some(output), &text)?;
        }
        return Ok(());
    }
    write_output(args.output.as_deref(), &text)
}

/// Whether the error is a closed standard output (`leaktrace watch | head`).
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// Parses the command line, runs the command, maps errors to exit status 1.
fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Status { json } => status(&cli.device, *json),
        Command::Watch(args) => watch(&cli.device, args),
        Command::Vms { json } => vms(&cli.device, *json),
        Command::Trace(args) => trace(&cli.device, true, args),
        Command::Untrace(args) => trace(&cli.device, false, args),
        Command::Profile(ProfileCommand::Build(args)) => profile_build(args),
        Command::Profile(ProfileCommand::Show { file, json }) => profile_show(file, *json),
        Command::Profile(ProfileCommand::Load(args)) => {
            profile_load(&cli.device, &args.target, Some(&args.file))
        }
        Command::Profile(ProfileCommand::Unload(target)) => profile_load(&cli.device, target, None),
        Command::Secret(SecretCommand::Add(args)) => secret_add(&cli.device, args),
        Command::Secret(SecretCommand::List { json }) => secret_list(&cli.device, *json),
        Command::Secret(SecretCommand::Rm { id }) => secret_rm(&cli.device, *id),
        Command::Graph(args) => graph(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // The reader of our output went away: nothing left to tell anyone.
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("leaktrace: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use leaktrace::abi::HeartbeatRecord;
    use leaktrace::abi::LoadedRecord;
    use leaktrace::abi::Pod;
    use leaktrace::abi::RecordHeader;
    use leaktrace::abi::RecordKind;
    use leaktrace::abi::SyscallEnd;
    use leaktrace::abi::SyscallRecord;
    use leaktrace::abi::TestRecord;
    use leaktrace::abi::VmEvent;
    use leaktrace::abi::VmRecord;
    use leaktrace::abi::VM_TRACED;
    use leaktrace::abi::VM_UUID_KNOWN;
    use leaktrace_core::ring::RecordRing;
    use std::cell::Cell;
    use std::cell::RefCell;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    /// The stop signal interrupts `watch`'s wait, whether it arrives
    /// during the wait or before it (then pending, not lost).
    #[test]
    fn stop_signal_interrupts_the_wait() {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for two descriptors.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        // A second description of the pipe's read end: never readable
        // while the write end is open and empty.
        let dev = Device::open(Path::new(&format!("/proc/self/fd/{}", fds[0])), true).unwrap();
        let signals = StopSignals::install().unwrap();
        // SAFETY: no preconditions.
        let me = unsafe { libc::pthread_self() } as usize;
        let kill = || {
            // SAFETY: this test's thread outlives the call.
            unsafe { libc::pthread_kill(me as libc::pthread_t, libc::SIGTERM) };
        };

        let killer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            // SAFETY: the test thread waits for us below.
            unsafe { libc::pthread_kill(me as libc::pthread_t, libc::SIGTERM) };
        });
        let start = Instant::now();
        let err = dev
            .ppoll(
                libc::POLLIN,
                Some(Duration::from_secs(10)),
                &signals.wait_mask,
            )
            .unwrap_err();
        killer.join().unwrap();
        assert_eq!(err.kind(), io::ErrorKind::Interrupted);
        assert!(start.elapsed() < Duration::from_secs(5));
        assert!(STOP.swap(false, Ordering::SeqCst));

        // Sent while blocked (outside the wait): pending until the wait.
        kill();
        assert!(!STOP.load(Ordering::SeqCst), "delivered outside the wait");
        let start = Instant::now();
        let err = dev
            .ppoll(
                libc::POLLIN,
                Some(Duration::from_secs(10)),
                &signals.wait_mask,
            )
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::Interrupted);
        assert!(start.elapsed() < Duration::from_secs(1));
        assert!(STOP.swap(false, Ordering::SeqCst));
        // SAFETY: closing our own pipe.
        unsafe {
            libc::close(fds[0]);
            libc::close(fds[1]);
        }
    }

    /// A simulated device for `watch`: the kernel's ring logic, optional
    /// raw bytes for the next read, and a "SIGINT" when `watch` would wait
    /// on an empty ring (unless `refills` records are still to come).
    struct Sim<'a> {
        ring: RefCell<RecordRing<Vec<u8>>>,
        raw: RefCell<Option<Vec<u8>>>,
        refills: Cell<u64>,
        stop: &'a AtomicBool,
        /// What `IOCTL_SECRET_LIST` answers.
        secrets: RefCell<Vec<SecretInfo>>,
        /// Its calls.
        secret_lists: Cell<usize>,
    }

    impl<'a> Sim<'a> {
        fn new(capacity: usize, stop: &'a AtomicBool) -> Self {
            Self {
                ring: RefCell::new(RecordRing::new(vec![0u8; capacity])),
                raw: RefCell::new(None),
                refills: Cell::new(0),
                stop,
                secrets: RefCell::new(Vec::new()),
                secret_lists: Cell::new(0),
            }
        }

        fn push_test(&self, index: u64, burst: u64) {
            let mut r = TestRecord {
                header: RecordHeader::new::<TestRecord>(RecordKind::Test, 5),
                index,
                burst,
            };
            self.ring.borrow_mut().push(r.as_bytes_mut()).unwrap();
        }

        fn push_loaded(&self) {
            let mut r = LoadedRecord {
                header: RecordHeader::new::<LoadedRecord>(RecordKind::Loaded, 1),
                ring_bytes: 4096,
                heartbeat_ms: 1000,
            };
            self.ring.borrow_mut().push(r.as_bytes_mut()).unwrap();
        }

        fn push_heartbeat(&self) {
            let counters = self.ring.borrow().counters();
            let mut r = HeartbeatRecord {
                header: RecordHeader::new::<HeartbeatRecord>(RecordKind::Heartbeat, 2),
                counters,
            };
            self.ring.borrow_mut().push(r.as_bytes_mut()).unwrap();
        }

        fn push_vm(&self, vm_id: u32, event: VmEvent) {
            let mut r = VmRecord {
                header: RecordHeader::new::<VmRecord>(RecordKind::Vm, 3),
                vm_id,
                event: event as u32,
                uuid: uuid::parse(A).unwrap(),
                vmm_pid: 812,
                flags: VM_UUID_KNOWN | VM_TRACED,
                ..VmRecord::default()
            };
            self.ring.borrow_mut().push(r.as_bytes_mut()).unwrap();
        }

        fn push_syscall(&self, vm_id: u32, nr: u64, ret: i64) {
            let mut r = SyscallRecord {
                header: RecordHeader::new::<SyscallRecord>(RecordKind::Syscall, 4),
                vm_id,
                nr,
                ret,
                end: SyscallEnd::Returned as u32,
                ..SyscallRecord::default()
            };
            self.ring.borrow_mut().push(r.as_bytes_mut()).unwrap();
        }

        fn push_diffusion(&self, secrets: u64) {
            use leaktrace::abi::DiffusionOp;
            use leaktrace::abi::DiffusionRecord;
            use leaktrace::abi::NodeKind;
            let mut r = DiffusionRecord {
                header: RecordHeader::new::<DiffusionRecord>(RecordKind::Diffusion, 6),
                vm_id: 1,
                op: DiffusionOp::Read as u32,
                call_id: 3,
                secrets,
                new_secrets: secrets,
                ..DiffusionRecord::default()
            };
            r.actor.status = leaktrace::abi::Resolution::Resolved as u32;
            r.actor.tgid = 44;
            r.actor.comm[..3].copy_from_slice(b"cat");
            r.source.kind = NodeKind::File as u32;
            r.source.vm_id = 1;
            r.source.id = 12;
            r.target.kind = NodeKind::Process as u32;
            r.target.vm_id = 1;
            r.target.id = 44;
            r.set_names(b"/secret/plan.txt", b"cat");
            let size = DiffusionRecord::size_for(r.names_len());
            r.header.size = size as u16;
            self.ring
                .borrow_mut()
                .push(&mut r.as_bytes_mut()[..size])
                .unwrap();
        }

        fn define_secret(&self, id: u32, pattern: &str) {
            let mut info = SecretInfo {
                id,
                all: 1,
                pattern_len: pattern.len() as u32,
                ..SecretInfo::default()
            };
            info.pattern[..pattern.len()].copy_from_slice(pattern.as_bytes());
            self.secrets.borrow_mut().push(info);
        }

        fn queued(&self) -> u64 {
            self.ring.borrow().counters().queued
        }
    }

    impl Source for Sim<'_> {
        fn path(&self) -> &Path {
            Path::new("/dev/sim")
        }

        fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
            if let Some(raw) = self.raw.borrow_mut().take() {
                buf[..raw.len()].copy_from_slice(&raw);
                return Ok(raw.len());
            }
            let mut ring = self.ring.borrow_mut();
            if ring.is_empty() {
                return Err(io::Error::from_raw_os_error(libc::EAGAIN));
            }
            let batch = ring.copy_out(buf);
            if batch.records == 0 {
                return Err(io::Error::from_raw_os_error(libc::EINVAL));
            }
            ring.consume(batch);
            Ok(batch.bytes)
        }

        fn secrets(&self) -> io::Result<Vec<SecretInfo>> {
            self.secret_lists.set(self.secret_lists.get() + 1);
            Ok(self.secrets.borrow().clone())
        }

        fn info(&self) -> io::Result<Info> {
            let ring = self.ring.borrow();
            Ok(Info {
                abi_version: leaktrace::abi::ABI_VERSION,
                reserved: 0,
                record_max_size: RECORD_MAX_SIZE as u32,
                ring_bytes: ring.capacity() as u64,
                counters: ring.counters(),
                readers: 1,
            })
        }

        fn ppoll(&self, _: i16, _: Option<Duration>, _: &libc::sigset_t) -> io::Result<i16> {
            if self.raw.borrow().is_some() || !self.ring.borrow().is_empty() {
                return Ok(libc::POLLIN);
            }
            if self.refills.get() > 0 {
                self.refills.set(self.refills.get() - 1);
                self.push_test(99, 1);
                return Ok(libc::POLLIN);
            }
            self.stop.store(true, Ordering::SeqCst);
            Err(io::Error::from_raw_os_error(libc::EINTR))
        }
    }

    fn watch_sim(sim: &Sim, json: bool, count: Option<u64>) -> (Result<()>, String) {
        watch_sim_args(
            sim,
            WatchArgs {
                json,
                count,
                timeout: None,
                syscalls: false,
                vm: None,
                batch_ms: 0,
            },
        )
    }

    fn watch_sim_args(sim: &Sim, args: WatchArgs) -> (Result<()>, String) {
        let info = sim.info().unwrap();
        // SAFETY: an all-zero `sigset_t` is a valid (empty) set; unused.
        let mask: libc::sigset_t = unsafe { core::mem::zeroed() };
        let mut out = Vec::new();
        let result = watch_source(
            sim,
            info,
            &args,
            Colors::default(),
            sim.stop,
            &mask,
            &mut out,
        );
        (result, String::from_utf8(out).unwrap())
    }

    fn json_lines(out: &str) -> Vec<serde_json::Value> {
        out.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn watch_prints_every_record_until_stopped() {
        let stop = AtomicBool::new(false);
        let sim = Sim::new(4096, &stop);
        sim.push_loaded();
        sim.push_heartbeat();
        sim.push_test(0, 2);
        sim.push_test(1, 2);
        let (result, out) = watch_sim(&sim, true, None);
        result.unwrap();
        let lines = json_lines(&out);
        let types: Vec<&str> = lines.iter().map(|l| l["type"].as_str().unwrap()).collect();
        assert_eq!(types, ["loaded", "heartbeat", "test", "test"], "{out}");
        assert_eq!(lines[1]["produced"], 1);
        assert_eq!(lines[3]["seq"], 3);
        assert_eq!(lines[3]["index"], 1);
        assert_eq!(sim.queued(), 0);
    }

    #[test]
    fn watch_batches_after_a_read_that_emptied_the_ring() {
        // Records queued after a short read are printed all the same, the
        // next read after the pause.
        let stop = AtomicBool::new(false);
        let sim = Sim::new(1 << 20, &stop);
        sim.push_test(0, 1);
        sim.refills.set(2);
        let args = WatchArgs {
            json: true,
            count: None,
            timeout: None,
            syscalls: false,
            vm: None,
            batch_ms: 5,
        };
        let started = Instant::now();
        let (result, out) = watch_sim_args(&sim, args);
        result.unwrap();
        let lines = json_lines(&out);
        assert_eq!(lines.len(), 3, "{out}");
        assert_eq!(lines[2]["index"], 99);
        assert!(started.elapsed() >= Duration::from_millis(15), "three reads, three pauses");
    }

    #[test]
    fn batch_pause_never_lets_the_ring_fill() {
        let ms = Duration::from_millis;
        // A trickle: the whole pause.
        assert_eq!(batch_pause(ms(10), 200, 65536, 262144, ms(100)), ms(10));
        // 20 KiB in 1 ms (20 MB/s): an eighth of 256 KiB fills in 1.6 ms.
        let p = batch_pause(ms(10), 20480, 65536, 262144, ms(1));
        assert!(p > ms(1) && p < ms(2), "{p:?}");
        // A large read: more is waiting, no pause; nor with --batch-ms 0.
        assert_eq!(batch_pause(ms(10), 40000, 65536, 262144, ms(1)), Duration::ZERO);
        assert_eq!(batch_pause(Duration::ZERO, 200, 65536, 262144, ms(100)), Duration::ZERO);
    }

    #[test]
    fn watch_reports_lost_records() {
        let stop = AtomicBool::new(false);
        // Room for two test records: the third is dropped (seq 2).
        let sim = Sim::new(80, &stop);
        sim.push_test(0, 3);
        sim.push_test(1, 3);
        sim.push_test(2, 3);
        sim.refills.set(1);
        let (result, out) = watch_sim(&sim, false, None);
        result.unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 4, "{out}");
        assert_eq!(lines[2], "1 record lost (seq 2..2)");
        assert!(lines[3].starts_with("seq=3 "), "{out}");
        let (_, json) = {
            let stop = AtomicBool::new(false);
            let sim = Sim::new(80, &stop);
            for i in 0..4 {
                sim.push_test(i, 4);
            }
            sim.refills.set(1);
            watch_sim(&sim, true, None)
        };
        let lines = json_lines(&json);
        assert_eq!(lines[2]["type"], "lost");
        assert_eq!(lines[2]["first_seq"], 2);
        assert_eq!(lines[2]["count"], 2);
    }

    #[test]
    fn watch_count_consumes_no_more_than_it_prints() {
        let stop = AtomicBool::new(false);
        let sim = Sim::new(4096, &stop);
        for i in 0..5 {
            sim.push_test(i, 5);
        }
        let (result, out) = watch_sim(&sim, false, Some(2));
        result.unwrap();
        assert_eq!(out.lines().count(), 2, "{out}");
        assert_eq!(sim.queued(), 3, "the other records stay for other readers");
        assert!(
            !stop.load(Ordering::SeqCst),
            "stopped by the count, not a signal"
        );
    }

    #[test]
    fn watch_drains_the_queue_when_stopped() {
        let stop = AtomicBool::new(true);
        let sim = Sim::new(4096, &stop);
        sim.push_heartbeat();
        for i in 0..3 {
            sim.push_test(i, 3);
        }
        let (result, out) = watch_sim(&sim, true, None);
        result.unwrap();
        assert_eq!(json_lines(&out).len(), 4, "{out}");
        assert_eq!(sim.queued(), 0);
    }

    #[test]
    fn watch_fails_on_a_malformed_record_after_printing_the_good_ones() {
        let stop = AtomicBool::new(false);
        let sim = Sim::new(4096, &stop);
        let good = TestRecord {
            header: RecordHeader::new::<TestRecord>(RecordKind::Test, 5),
            index: 0,
            burst: 1,
        };
        let mut bad = good;
        bad.header.magic = 0xdead;
        bad.header.seq = 1;
        *sim.raw.borrow_mut() = Some([good.as_bytes(), bad.as_bytes()].concat());
        let (result, out) = watch_sim(&sim, true, None);
        let err = format!("{:#}", result.unwrap_err());
        assert!(
            err.contains("stream offset 40") && err.contains("bad magic"),
            "{err}"
        );
        assert_eq!(json_lines(&out).len(), 1, "{out}");
    }

    const A: &str = "4c4c4544-0042-3510-8052-b3c04f4e3732";

    #[test]
    fn watch_syscalls_shows_only_vm_records_and_counts_printed_ones() {
        let stop = AtomicBool::new(false);
        let sim = Sim::new(4096, &stop);
        sim.push_loaded();
        sim.push_vm(2, VmEvent::Armed);
        sim.push_test(0, 1);
        sim.push_syscall(2, 39, 100);
        sim.push_syscall(3, 0, -14);
        sim.push_heartbeat();
        sim.push_syscall(2, 231, 0);
        let args = WatchArgs {
            json: true,
            count: Some(3),
            timeout: None,
            syscalls: true,
            vm: None,
            batch_ms: 0,
        };
        let (result, out) = watch_sim_args(&sim, args);
        result.unwrap();
        let lines = json_lines(&out);
        let types: Vec<&str> = lines.iter().map(|l| l["type"].as_str().unwrap()).collect();
        assert_eq!(types, ["vm", "syscall", "syscall"], "{out}");
        assert_eq!(lines[1]["name"], "getpid");
        assert_eq!(lines[2]["ret"], -14);
        assert_eq!(sim.queued(), 2, "stopped after the third printed record");
    }

    #[test]
    fn watch_vm_shows_one_vm_in_text() {
        let stop = AtomicBool::new(false);
        let sim = Sim::new(4096, &stop);
        sim.push_vm(2, VmEvent::Armed);
        sim.push_syscall(3, 39, 100);
        sim.push_syscall(2, 0, -14);
        sim.push_test(0, 1);
        let args = WatchArgs {
            json: false,
            count: None,
            timeout: None,
            syscalls: false,
            vm: Some(VmSelector::Id(2)),
            batch_ms: 0,
        };
        let (result, out) = watch_sim_args(&sim, args);
        result.unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{out}");
        assert!(
            lines[0].ends_with(&format!(
                "vm 2 armed {A} vmm_pid=812 flags=uuid_known,traced"
            )),
            "{out}"
        );
        assert!(
            lines[1].ends_with("vm 2 vcpu0 #0 read(0, 0, 0) = -14 EFAULT [0 ns]"),
            "{out}"
        );
    }

    #[test]
    fn profile_commands_parse() {
        let parse = |args: &[&str]| Cli::try_parse_from([&["leaktrace", "profile"], args].concat());
        let cli = parse(&["build", "vmlinuz", "-o", "p.json", "--offsets-only"]).unwrap();
        let Command::Profile(ProfileCommand::Build(args)) = &cli.command else {
            panic!("{cli:?}")
        };
        assert_eq!(args.input, Path::new("vmlinuz"));
        assert_eq!(args.output.as_deref(), Some(Path::new("p.json")));
        assert!(args.offsets_only && !args.quiet);
        let cli = parse(&["show", "-", "--json"]).unwrap();
        assert!(matches!(
            &cli.command,
            Command::Profile(ProfileCommand::Show { json: true, .. })
        ));
        let cli = parse(&["load", "--vm", A, "p.json"]).unwrap();
        let Command::Profile(ProfileCommand::Load(args)) = &cli.command else {
            panic!("{cli:?}")
        };
        assert_eq!(
            args.target.target(),
            ProfileTarget::Vm(uuid::parse(A).unwrap())
        );
        assert_eq!(args.file, Path::new("p.json"));
        let cli = parse(&["unload", "--all"]).unwrap();
        let Command::Profile(ProfileCommand::Unload(target)) = &cli.command else {
            panic!("{cli:?}")
        };
        assert_eq!(target.target(), ProfileTarget::Default);
        // Exactly one target; a well-formed UUID; a file to load.
        assert!(parse(&["load", "p.json"]).is_err());
        assert!(parse(&["load", "--vm", A, "--all", "p.json"]).is_err());
        assert!(parse(&["load", "--vm", "nope", "p.json"]).is_err());
        assert!(parse(&["load", "--all"]).is_err());
        assert!(parse(&["unload"]).is_err());
        assert!(parse(&["build"]).is_err());
    }

    #[test]
    fn a_profile_file_is_checked_before_the_device_is_opened() {
        let dir = std::env::temp_dir().join(format!("lt-profile-test-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let file = dir.join("bad.json");
        fs::write(&file, "{\"format\": \"leaktrace-profile\", \"version\": 9}").unwrap();
        let target = ProfileTargetArgs {
            vm: None,
            all: true,
        };
        let err = profile_load(&dir.join("no-device"), &target, Some(&file)).unwrap_err();
        let err = format!("{err:#}");
        assert!(
            err.contains("invalid profile: unsupported profile version 9"),
            "{err}"
        );
        let err = format!(
            "{:#}",
            profile_show(&dir.join("missing.json"), false).unwrap_err()
        );
        assert!(err.contains("missing.json"), "{err}");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn control_commands_parse() {
        let cli = Cli::try_parse_from(["leaktrace", "vms", "--json"]).unwrap();
        assert!(matches!(cli.command, Command::Vms { json: true }));
        let upper = A.to_uppercase();
        let cli = Cli::try_parse_from(["leaktrace", "trace", A, &upper]).unwrap();
        let Command::Trace(args) = &cli.command else {
            panic!("{cli:?}")
        };
        assert_eq!(
            trace_command(true, args),
            TraceCommand::Add(vec![uuid::parse(A).unwrap()]),
            "parsed case-insensitively, asked once"
        );
        let cli = Cli::try_parse_from(["leaktrace", "untrace", "--all"]).unwrap();
        let Command::Untrace(args) = &cli.command else {
            panic!("{cli:?}")
        };
        assert_eq!(trace_command(false, args), TraceCommand::None);
        let cli = Cli::try_parse_from(["leaktrace", "trace", "--all"]).unwrap();
        let Command::Trace(args) = &cli.command else {
            panic!("{cli:?}")
        };
        assert_eq!(trace_command(true, args), TraceCommand::All);
        let cli = Cli::try_parse_from(["leaktrace", "untrace", A]).unwrap();
        let Command::Untrace(args) = &cli.command else {
            panic!("{cli:?}")
        };
        assert!(matches!(trace_command(false, args), TraceCommand::Remove(u) if u.len() == 1));
        // Bad UUIDs are refused by the parser, before the device is opened.
        for bad in [
            "nope",
            "4c4c4544004235108052b3c04f4e3732",
            "{4c4c4544-0042-3510-8052-b3c04f4e3732}",
            "00000000-0000-0000-0000-000000000000",
        ] {
            let err = Cli::try_parse_from(["leaktrace", "trace", A, bad]).unwrap_err();
            assert_eq!(err.kind(), clap::error::ErrorKind::ValueValidation, "{bad}");
            assert!(Cli::try_parse_from(["leaktrace", "untrace", bad]).is_err());
        }
        let cli = Cli::try_parse_from(["leaktrace", "watch", "--syscalls", "--vm", A]).unwrap();
        let Command::Watch(args) = &cli.command else {
            panic!("{cli:?}")
        };
        assert!(args.syscalls);
        assert!(matches!(args.vm, Some(VmSelector::Uuid(_))));
        assert!(Cli::try_parse_from(["leaktrace", "watch", "--vm", "vm2"]).is_err());
    }

    #[test]
    fn timeouts_parse() {
        assert_eq!(parse_timeout("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_timeout("0.25"), Ok(Duration::from_millis(250)));
        assert!(parse_timeout("0").is_err());
        assert!(parse_timeout("-1").is_err());
        assert!(parse_timeout("inf").is_err());
        assert!(parse_timeout("NaN").is_err());
        assert!(parse_timeout("soon").is_err());
    }

    #[test]
    fn options_parse() {
        let cli = Cli::try_parse_from([
            "leaktrace",
            "watch",
            "--json",
            "--count",
            "3",
            "--timeout",
            "1.5",
            "--device",
            "/tmp/x",
        ])
        .unwrap();
        assert_eq!(cli.device, PathBuf::from("/tmp/x"));
        match cli.command {
            Command::Watch(args) => {
                assert!(args.json);
                assert_eq!(args.count, Some(3));
                assert_eq!(args.timeout, Some(Duration::from_millis(1500)));
            }
            other => panic!("parsed {other:?}"),
        }
        assert!(Cli::try_parse_from(["leaktrace", "watch", "--count", "0"]).is_err());
        let cli = Cli::try_parse_from(["leaktrace", "--device", "/d", "status", "--json"]).unwrap();
        assert_eq!(cli.device, PathBuf::from("/d"));
        assert!(matches!(cli.command, Command::Status { json: true }));
        // trace and untrace need UUIDs or --all, not both.
        assert!(Cli::try_parse_from(["leaktrace", "trace"]).is_err());
        assert!(Cli::try_parse_from(["leaktrace", "untrace"]).is_err());
        assert!(Cli::try_parse_from(["leaktrace", "trace", "--all", A]).is_err());
    }
    #[test]
    fn watch_shows_diffusions_with_the_secrets_patterns() {
        let stop = AtomicBool::new(false);
        let sim = Sim::new(8192, &stop);
        sim.define_secret(0, "/secret/**");
        sim.push_diffusion(0b1);
        sim.push_syscall(1, 0, 5);
        // Secret 1 is unknown: the module is asked again, once.
        sim.push_diffusion(0b11);
        sim.push_diffusion(0b11);
        let args = WatchArgs {
            json: false,
            count: None,
            timeout: None,
            syscalls: true,
            vm: None,
            batch_ms: 0,
        };
        let (result, out) = watch_sim_args(&sim, args);
        result.unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 4, "{out}");
        assert_eq!(
            lines[0],
            "vm1  cat[44]   read       /secret/plan.txt -> cat[44]  secret 0=/secret/**"
        );
        assert!(lines[1].contains(" read(0, 0, 0) = 5 "), "{out}");
        assert!(lines[2].ends_with("secrets 0=/secret/**,1"), "{out}");
        assert_eq!(
            sim.secret_lists.get(),
            2,
            "at start, then once for secret 1"
        );
        // JSON never asks.
        let stop = AtomicBool::new(false);
        let sim = Sim::new(8192, &stop);
        sim.push_diffusion(0b100);
        let (result, out) = watch_sim(&sim, true, None);
        result.unwrap();
        let lines = json_lines(&out);
        assert_eq!(lines[0]["type"], "diffusion");
        assert_eq!(lines[0]["secrets"], serde_json::json!([2]));
        assert_eq!(lines[0]["source"]["key"], "vm1/file/0:0/12");
        assert_eq!(sim.secret_lists.get(), 0);
    }

    #[test]
    fn secret_commands_parse() {
        let parse = |args: &[&str]| Cli::try_parse_from([&["leaktrace", "secret"], args].concat());
        let cli = parse(&["add", "--vm", "all", "/secret/**"]).unwrap();
        let Command::Secret(SecretCommand::Add(args)) = &cli.command else {
            panic!("{cli:?}")
        };
        assert_eq!(args.vm, SecretVm::All);
        assert_eq!(args.pattern, "/secret/**");
        let cli = parse(&["add", "--vm", A, "/home/*/.ssh/id_*"]).unwrap();
        let Command::Secret(SecretCommand::Add(args)) = &cli.command else {
            panic!("{cli:?}")
        };
        assert_eq!(args.vm, SecretVm::Uuid(uuid::parse(A).unwrap()));
        assert!(matches!(
            parse(&["list", "--json"]).unwrap().command,
            Command::Secret(SecretCommand::List { json: true })
        ));
        assert!(matches!(
            parse(&["rm", "3"]).unwrap().command,
            Command::Secret(SecretCommand::Rm { id: 3 })
        ));
        assert!(parse(&["add", "/secret/**"]).is_err(), "--vm is required");
        assert!(parse(&["add", "--vm", "nope", "/x"]).is_err());
        assert!(parse(&["add", "--vm", "all"]).is_err());
        assert!(parse(&["rm", "-1"]).is_err());
        assert!(parse(&["rm"]).is_err());
    }

    #[test]
    fn a_secret_pattern_is_checked_before_the_device_is_opened() {
        let args = SecretAddArgs {
            vm: SecretVm::All,
            pattern: OsString::from("secret/**"),
        };
        let err = format!(
            "{:#}",
            secret_add(Path::new("/nonexistent/leaktrace"), &args).unwrap_err()
        );
        assert!(err.contains("is not absolute"), "{err}");
    }
    #[test]
    fn graph_command_parses_and_explains_a_missing_graphviz() {
        let cli = Cli::try_parse_from(["leaktrace", "graph", "-"]).unwrap();
        let Command::Graph(args) = &cli.command else {
            panic!("{cli:?}")
        };
        assert_eq!(args.format, GraphFormat::Dot);
        assert_eq!(args.input, Path::new("-"));
        let cli = Cli::try_parse_from([
            "leaktrace",
            "graph",
            "e.jsonl",
            "--format",
            "prov-json",
            "-o",
            "g.json",
        ])
        .unwrap();
        let Command::Graph(args) = &cli.command else {
            panic!("{cli:?}")
        };
        assert_eq!(args.format, GraphFormat::ProvJson);
        assert_eq!(args.output.as_deref(), Some(Path::new("g.json")));
        assert!(Cli::try_parse_from(["leaktrace", "graph"]).is_err());
        assert!(Cli::try_parse_from(["leaktrace", "graph", "-", "--format", "svg"]).is_err());
        let args = GraphArgs {
            input: PathBuf::from("-"),
            format: GraphFormat::Json,
            output: None,
            svg: Some(PathBuf::from("g.svg")),
            vm_names: Vec::new(),
        };
        assert!(format!("{:#}", graph(&args).unwrap_err()).contains("--svg renders the dot format"));
        let err = render_svg(
            "leaktrace-no-such-dot",
            "digraph {}",
            Path::new("/nonexistent/g.svg"),
        )
        .unwrap_err();
        let err = format!("{err:#}");
        assert!(
            err.contains("not installed") && err.contains("graphviz"),
            "{err}"
        );
        let args = GraphArgs {
            input: PathBuf::from("/nonexistent/events.jsonl"),
            format: GraphFormat::Dot,
            output: None,
            svg: None,
            vm_names: Vec::new(),
        };
        assert!(format!("{:#}", graph(&args).unwrap_err()).contains("/nonexistent/events.jsonl"));
    }
}
