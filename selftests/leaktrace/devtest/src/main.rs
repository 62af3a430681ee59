// SPDX-License-Identifier: GPL-2.0

//! `lt-devtest [--fresh] [--device PATH] [--test-timeout SECS]`: tests
//! `/dev/leaktrace` and prints KTAP; run as root right after
//! `insmod leaktrace.ko` (with `--fresh`), with nobody else reading the
//! device.
//!
//! Exit status: 0 when all tests pass (or are skipped), 1 when one fails,
//! 4 (kselftest's skip) when all are skipped (not root). A test that hangs
//! (the device never wakes a reader) is reported `not ok` by a watchdog,
//! which then aborts the run.

use clap::Parser;
use leaktrace::device::DEFAULT_DEVICE;
use lt_devtest::suite;
use lt_devtest::tap::Totals;
use lt_devtest::target::RealNode;
use std::io;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::Mutex;
use std::thread;
use std::time::Duration;
use std::time::Instant;

/// Command line.
#[derive(Debug, Parser)]
#[command(
    name = "lt-devtest",
    about = "kselftest-style (KTAP) test of /dev/leaktrace"
)]
struct Cli {
    /// The module was just loaded and nobody has read the device yet:
    /// also check that the first record is Loaded with seq 0.
    #[arg(long)]
    fresh: bool,
    /// Device node to test.
    #[arg(long, value_name = "PATH", default_value = DEFAULT_DEVICE)]
    device: PathBuf,
    /// Abort the run when one test runs longer than this (a hung device).
    #[arg(long, value_name = "SECS", default_value_t = 120)]
    test_timeout: u64,
}

/// The test now running: number, name, start, totals before it.
type Current = Arc<Mutex<Option<(usize, String, Instant, Totals)>>>;

/// Aborts the process if the current test runs past `limit`, after
/// reporting it as failed in KTAP.
fn watchdog(current: Current, limit: Duration) {
    loop {
        thread::sleep(Duration::from_millis(200));
        let guard = match current.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some((n, name, started, totals)) = guard.as_ref() {
            if started.elapsed() > limit {
                let mut out = io::stdout().lock();
                // Best effort: we exit right after.
                let _ = writeln!(
                    out,
                    "# FAIL: still running after {limit:?}: the device seems stuck; aborting\n\
                     not ok {n} - {name}\n\
                     Bail out! test {n} hung\n\
                     # totals: {} passed, {} failed, {} skipped",
                    totals.passed,
                    totals.failed + 1,
                    totals.skipped
                );
                let _ = out.flush();
                std::process::exit(1);
            }
        }
    }
}

/// Runs the suite against the device and exits with the kselftest status.
fn main() -> ExitCode {
    let cli = Cli::parse();
    // SAFETY: `geteuid` has no preconditions and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    let cfg = suite::Config {
        fresh: cli.fresh,
        skip_all: (!root).then(|| "must run as root (the device is mode 0600)".to_owned()),
    };
    let current: Current = Arc::new(Mutex::new(None));
    let watched = current.clone();
    let limit = Duration::from_secs(cli.test_timeout.max(1));
    thread::spawn(move || watchdog(watched, limit));
    let node = RealNode::new(cli.device);
    let mut out = io::stdout();
    let on_start = |n: usize, name: &str, totals: Totals| {
        let mut guard = match current.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        *guard = Some((n, name.to_owned(), Instant::now(), totals));
    };
    match suite::run(&node, cfg, &mut out, &on_start) {
        Ok(totals) => ExitCode::from(totals.exit_status()),
        Err(e) => {
            eprintln!("lt-devtest: writing the TAP output: {e}");
            ExitCode::FAILURE
        }
    }
}
