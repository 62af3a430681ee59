// SPDX-License-Identifier: GPL-2.0

//! The command line the checkers share, `CHECKER [FLAG] [--events FILE]
//! OUT_DIR`, and what their `main` does with it: read the directory, run
//! the checks, print TAP.
//!
//! Exit status: 0 when nothing failed, 1 when a check failed, 2 on a usage
//! error or when the directory cannot be read at all (no summary.txt).

use crate::check::TestResult;
use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// What a checker's command line asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Check the directory `dir`.
    Check {
        /// The checker's own flag was given.
        flag: bool,
        /// `OUT_DIR`.
        dir: PathBuf,
        /// `--events FILE`, read instead of `OUT_DIR/events.jsonl`.
        events: Option<PathBuf>,
    },
    /// `-h` or `--help`.
    Help,
    /// Anything else: print the usage, exit 2.
    Usage,
}

/// Parses the arguments (without the program name): `flag` (the checker's
/// one option), `--events FILE` and one `OUT_DIR`, in any order; the first
/// `-h`/`--help` or mistake decides.
pub fn parse(args: impl IntoIterator<Item = String>, flag: &str) -> Command {
    let mut args = args.into_iter();
    let (mut flagged, mut dir, mut events) = (false, None, None);
    while let Some(a) = args.next() {
        match a.as_str() {
            f if f == flag => flagged = true,
            "--events" => match args.next() {
                Some(f) => events = Some(PathBuf::from(f)),
                None => return Command::Usage,
            },
            "-h" | "--help" => return Command::Help,
            _ if a.starts_with('-') || dir.is_some() => return Command::Usage,
            _ => dir = Some(PathBuf::from(a)),
        }
    }
    match dir {
        Some(dir) => Command::Check {
            flag: flagged,
            dir,
            events,
        },
        None => Command::Usage,
    }
}

/// A checker's `main`: parses the command line (`flag` its option,
/// `usage` its help), reads the directory with `load` (a failure is a TAP
/// `Bail out!`), runs `check` (given the input and whether `flag` was
/// given) and prints the results as TAP, the summary line naming
/// `checker`. Returns the exit status.
pub fn main<I>(
    checker: &str,
    usage: &str,
    flag: &str,
    load: impl FnOnce(&Path, Option<&Path>) -> Result<I, String>,
    check: impl FnOnce(&I, bool) -> Vec<TestResult>,
) -> ExitCode {
    let (flag, dir, events) = match parse(std::env::args().skip(1), flag) {
        Command::Check { flag, dir, events } => (flag, dir, events),
        Command::Help => {
            println!("{usage}");
            return ExitCode::SUCCESS;
        }
        Command::Usage => {
            eprintln!("{usage}");
            return ExitCode::from(2);
        }
    };
    let input = match load(&dir, events.as_deref()) {
        Ok(i) => i,
        Err(e) => {
            println!("TAP version 13");
            println!("Bail out! {e}");
            return ExitCode::from(2);
        }
    };
    let results = check(&input, flag);
    match crate::tap::print_named(checker, &results, &mut io::stdout().lock()) {
        Ok((_, 0, _)) => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(1),
        Err(e) => {
            eprintln!("{checker}: {e}");
            ExitCode::from(1)
        }
    }
}
