// SPDX-License-Identifier: GPL-2.0

//! `syscall-check [--require-tracing] [--events FILE] OUT_DIR`: checks the
//! output directory of `scripts/testbed scenario selftests/scenarios/syscalls`
//! and prints TAP.
//!
//! Exit status: 0 when nothing failed, 1 when a check failed, 2 when the
//! directory cannot be read at all (no summary.txt).

use std::process::ExitCode;

/// `--help`, and the message of a usage error.
const USAGE: &str = "usage: syscall-check [--require-tracing] [--events FILE] OUT_DIR

Checks a syscalls scenario run (summary.txt, events.jsonl, vmN.log in
OUT_DIR): each traced guest's LTEXPECT lines must appear, in order and in
one address space per process, as syscall records of its UUID, with equal
nr, arguments and return value; vm_seq counts without gaps; records are
consistent; the untraced guest has no records; every guest's self-checks
passed. Tracing checks are skipped while summary.txt says the trace
selection was not applied, unless --require-tracing.";

/// Parses the command line, checks the directory, prints TAP (see the
/// module doc).
fn main() -> ExitCode {
    lt_syscheck::cli::main(
        "syscall-check",
        USAGE,
        "--require-tracing",
        lt_syscheck::load_out_dir,
        |input, flag| {
            lt_syscheck::check::run(
                input,
                &lt_syscheck::check::Options {
                    require_tracing: flag,
                },
            )
        },
    )
}
