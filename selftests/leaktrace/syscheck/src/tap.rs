// SPDX-License-Identifier: GPL-2.0

//! TAP output (version 13, as the rest of the selftests).

use crate::check::{Outcome, TestResult};
use std::io::{self, Write};

/// `s` on one line: CR and LF become spaces.
fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

/// Prints the results; returns (passed, failed, skipped).
pub fn print(results: &[TestResult], w: &mut dyn Write) -> io::Result<(usize, usize, usize)> {
    print_named("syscall-check", results, w)
}

/// [`print()`], the closing line naming `checker`.
pub fn print_named(
    checker: &str,
    results: &[TestResult],
    w: &mut dyn Write,
) -> io::Result<(usize, usize, usize)> {
    let (mut p, mut f, mut s) = (0, 0, 0);
    writeln!(w, "TAP version 13")?;
    writeln!(w, "1..{}", results.len())?;
    for (i, r) in results.iter().enumerate() {
        for d in &r.diag {
            writeln!(w, "# {}", one_line(d))?;
        }
        let name = one_line(&r.name);
        match &r.outcome {
            Outcome::Pass => {
                p += 1;
                writeln!(w, "ok {} - {name}", i + 1)?
            }
            Outcome::Skip(why) => {
                s += 1;
                writeln!(w, "ok {} - {name} # SKIP {}", i + 1, one_line(why))?
            }
            Outcome::Fail(why) => {
                f += 1;
                writeln!(w, "not ok {} - {name} # {}", i + 1, one_line(why))?
            }
        }
    }
    writeln!(w, "# {checker}: {p} passed, {f} failed, {s} skipped")?;
    Ok((p, f, s))
}
