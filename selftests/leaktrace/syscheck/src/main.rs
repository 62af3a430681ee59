// SPDX-License-Identifier: GPL-2.0

//! `syscall-check [--require-tracing] [--events FILE] OUT_DIR`: checks the
//! output directory of `scripts/testbed scenario selftests/scenarios/syscalls`
//! and prints TAP.
//!
//! Exit status: 0 when nothing failed, 1 when a check failed, 2 when the
//! directory cannot be read at all (no summary.txt).

use std::io;
use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: syscall-check [--require-tracing] [--events FILE] OUT_DIR

Checks a syscalls scenario run (summary.txt, events.jsonl, vmN.log in
OUT_DIR): each traced guest's LTEXPECT lines must appear, in order and in
one address space per process, as syscall records of its UUID, with equal
nr, arguments and return value; vm_seq counts without gaps; records are
consistent; the untraced guest has no records; every guest's self-checks
passed. Tracing checks are skipped while summary.txt says the trace
selection was not applied, unless --require-tracing.";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut opts = lt_syscheck::check::Options::default();
    let (mut dir, mut events) = (None, None);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--require-tracing" => opts.require_tracing = true,
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
    let input = match lt_syscheck::load_out_dir(&dir, events.as_deref()) {
        Ok(i) => i,
        Err(e) => {
            println!("TAP version 13");
            println!("Bail out! {e}");
            return ExitCode::from(2);
        }
    };
    let results = lt_syscheck::check::run(&input, &opts);
    match lt_syscheck::tap::print(&results, &mut io::stdout().lock()) {
        Ok((_, 0, _)) => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(1),
        Err(e) => {
            eprintln!("syscall-check: {e}");
            ExitCode::from(1)
        }
    }
}
