// SPDX-License-Identifier: GPL-2.0

//! `ident-check [--allow-no-profile] [--events FILE] OUT_DIR`: checks the
//! output directory of `scripts/testbed scenario
//! selftests/scenarios/introspection` and prints TAP.
//!
//! Exit status: 0 when nothing failed, 1 when a check failed, 2 when the
//! directory cannot be read at all (no summary.txt).

use std::io;
use std::path::PathBuf;
use std::process::ExitCode;

/// `--help`, and the message of a usage error.
const USAGE: &str = "usage: ident-check [--allow-no-profile] [--events FILE] OUT_DIR

Checks an introspection scenario run (summary.txt, events.jsonl, vmN.log in
OUT_DIR). Each traced guest runs lt-ident, whose LTIDENT lines say who made
each marked call (pid, tid, ppid, comm) and what its descriptors are
(fstat's kind, mode, st_dev, st_ino; readlink /proc/self/fd/N; socket
family, type and addresses). The one syscall record carrying a call's mark
must have a resolved task with exactly those fields, and its file records
(same vm_id and call_id, by role) exactly those files; this includes a
thread, a reparented orphan, a renamed and an exec'd program, and hundreds
of short-lived children. After a guest's profile-active VM record, every
record of the guest must be resolved. An untraced guest must have no
records. --allow-no-profile skips, rather than fails, the checks of a guest
whose profile never became active.";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut opts = lt_syscheck::ident::check::Options::default();
    let (mut dir, mut events) = (None, None);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--allow-no-profile" => opts.allow_no_profile = true,
            "--events" => match args.next() {
                Some(f) => events = Some(PathBuf::from(f)),
                None => {
                    eprintln!("{USAGE}");
                    return ExitCode::from(2);
                }
            },
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            _ if a.starts_with('-') || dir.is_some() => {
                eprintln!("{USAGE}");
                return ExitCode::from(2);
            }
            _ => dir = Some(PathBuf::from(a)),
        }
    }
    let Some(dir) = dir else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let input = match lt_syscheck::ident::load_out_dir(&dir, events.as_deref()) {
        Ok(i) => i,
        Err(e) => {
            println!("TAP version 13");
            println!("Bail out! {e}");
            return ExitCode::from(2);
        }
    };
    let results = lt_syscheck::ident::check::run(&input, &opts);
    match lt_syscheck::tap::print_named("ident-check", &results, &mut io::stdout().lock()) {
        Ok((_, 0, _)) => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(1),
        Err(e) => {
            eprintln!("ident-check: {e}");
            ExitCode::from(1)
        }
    }
}
