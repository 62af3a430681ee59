// SPDX-License-Identifier: GPL-2.0

//! KTAP/TAP output in the kselftest style.
//!
//! ```text
//! TAP version 13
//! 1..3
//! # diagnostic
//! ok 1 - name
//! not ok 2 - name
//! ok 3 - name # SKIP reason
//! # totals: 1 passed, 1 failed, 1 skipped
//! ```
//!
//! Exit status follows kselftest: 0 when nothing failed and something
//! passed, [`KSFT_SKIP`] when everything was skipped, 1 otherwise.

use std::io;
use std::io::Write;

/// kselftest's exit status for "skipped".
pub const KSFT_SKIP: u8 = 4;

/// Result of one test.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Passed.
    Pass,
    /// Failed, with the reason.
    Fail(String),
    /// Not run, with the reason.
    Skip(String),
}

/// Counts of outcomes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Tests passed.
    pub passed: usize,
    /// Tests failed.
    pub failed: usize,
    /// Tests skipped.
    pub skipped: usize,
}

impl Totals {
    /// The process exit status for these totals (see the module doc).
    pub fn exit_status(&self) -> u8 {
        if self.failed > 0 {
            1
        } else if self.passed == 0 && self.skipped > 0 {
            KSFT_SKIP
        } else {
            0
        }
    }
}

/// Makes a single line out of free text (TAP lines cannot span lines).
fn one_line(text: &str) -> String {
    text.replace(['\n', '\r'], " ")
}

/// A TAP writer: plan, diagnostics, results, totals.
pub struct Tap<'a> {
    out: &'a mut dyn Write,
    number: usize,
    totals: Totals,
}

impl<'a> Tap<'a> {
    /// Starts a TAP stream of `planned` tests on `out`.
    pub fn start(out: &'a mut dyn Write, planned: usize) -> io::Result<Self> {
        writeln!(out, "TAP version 13")?;
        writeln!(out, "1..{planned}")?;
        out.flush()?;
        Ok(Self {
            out,
            number: 0,
            totals: Totals::default(),
        })
    }

    /// Number the next result will get.
    pub fn next_number(&self) -> usize {
        self.number + 1
    }

    /// Outcomes so far.
    pub fn totals(&self) -> Totals {
        self.totals
    }

    /// A `# ` diagnostic line.
    pub fn diag(&mut self, text: &str) -> io::Result<()> {
        writeln!(self.out, "# {}", one_line(text))?;
        self.out.flush()
    }

    /// The result of the next test; a failure's reason goes in a
    /// diagnostic line just before it.
    pub fn result(&mut self, name: &str, outcome: &Outcome) -> io::Result<()> {
        self.number += 1;
        let n = self.number;
        match outcome {
            Outcome::Pass => {
                self.totals.passed += 1;
                writeln!(self.out, "ok {n} - {name}")?;
            }
            Outcome::Fail(reason) => {
                self.totals.failed += 1;
                writeln!(self.out, "# FAIL: {}", one_line(reason))?;
                writeln!(self.out, "not ok {n} - {name}")?;
            }
            Outcome::Skip(reason) => {
                self.totals.skipped += 1;
                writeln!(self.out, "ok {n} - {name} # SKIP {}", one_line(reason))?;
            }
        }
        self.out.flush()
    }

    /// Writes the totals line and returns the totals.
    pub fn finish(self) -> io::Result<Totals> {
        let t = self.totals;
        writeln!(
            self.out,
            "# totals: {} passed, {} failed, {} skipped",
            t.passed, t.failed, t.skipped
        )?;
        self.out.flush()?;
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_ktap() {
        let mut buf = Vec::new();
        let mut tap = Tap::start(&mut buf, 3).unwrap();
        tap.diag("hello\nworld").unwrap();
        tap.result("a", &Outcome::Pass).unwrap();
        tap.result("b", &Outcome::Fail("broken".into())).unwrap();
        tap.result("c", &Outcome::Skip("needs --fresh".into()))
            .unwrap();
        let totals = tap.finish().unwrap();
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            "TAP version 13\n1..3\n# hello world\nok 1 - a\n# FAIL: broken\nnot ok 2 - b\n\
             ok 3 - c # SKIP needs --fresh\n# totals: 1 passed, 1 failed, 1 skipped\n"
        );
        assert_eq!(totals.exit_status(), 1);
    }

    #[test]
    fn exit_status_follows_kselftest() {
        let t = |passed, failed, skipped| Totals {
            passed,
            failed,
            skipped,
        };
        assert_eq!(t(3, 0, 1).exit_status(), 0);
        assert_eq!(t(0, 0, 4).exit_status(), KSFT_SKIP);
        assert_eq!(t(3, 1, 0).exit_status(), 1);
        assert_eq!(t(0, 1, 3).exit_status(), 1);
    }
}
