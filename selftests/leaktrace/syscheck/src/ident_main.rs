// SPDX-License-Identifier: GPL-2.0

//! `ident-check [--allow-no-profile] [--events FILE] OUT_DIR`: checks the
//! output directory of `scripts/testbed scenario
//! selftests/scenarios/introspection` and prints TAP.
//!
//! Exit status: 0 when nothing failed, 1 when a check failed, 2 when the
//! directory cannot be read at all (no summary.txt).

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

/// Parses the command line, checks the directory, prints TAP (see the
/// module doc).
fn main() -> ExitCode {
    lt_syscheck::cli::main(
        "ident-check",
        USAGE,
        "--allow-no-profile",
        lt_syscheck::ident::load_out_dir,
        |input, flag| {
            lt_syscheck::ident::check::run(
                input,
                &lt_syscheck::ident::check::Options {
                    allow_no_profile: flag,
                },
            )
        },
    )
}
