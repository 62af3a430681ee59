// SPDX-License-Identifier: GPL-2.0

//! `diffusion-check [--expected FILE] [--events FILE] OUT_DIR`: checks the
//! output directory of `scripts/testbed scenario
//! selftests/scenarios/diffusion-*` against the scenario's `expected` file
//! and prints TAP.
//!
//! Exit status: 0 when nothing failed, 1 when a check failed, 2 on a usage
//! error or when the directory or the expected file cannot be read.

use lt_syscheck::diffusion;
use std::io;
use std::path::PathBuf;
use std::process::ExitCode;

/// `--help`, and the message of a usage error.
const USAGE: &str = "usage: diffusion-check [--expected FILE] [--events FILE] OUT_DIR

Checks a diffusion scenario run (summary.txt, events.jsonl, vmN.log,
graph.json and graph.dot in OUT_DIR) against the scenario's expected file
(default OUT_DIR/../expected). Every diffusion record becomes one line,
'vmN OP SOURCE -> TARGET' (or 'vmN source|rename NODE'), nodes written
process:COMM, file:PATH, pipe, unix, flow:tcp->vmN:PORT, shm, msq,
remote:udp:ADDR:PORT. Each edge line of the expected file must match at
least one record (with the secrets= and syscall= it gives), each '! ...'
line none, and every record must match some edge line. '*' in a word
matches anything. The format: Documentation/testbed.rst, 'Checking
diffusion: the expected file'.";

/// What the command line asks.
#[derive(Debug, PartialEq, Eq)]
enum Command {
    Check {
        dir: PathBuf,
        events: Option<PathBuf>,
        expected: Option<PathBuf>,
    },
    Help,
    Usage,
}

fn parse(args: impl IntoIterator<Item = String>) -> Command {
    let mut args = args.into_iter();
    let (mut dir, mut events, mut expected) = (None, None, None);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--events" | "--expected" => {
                let Some(v) = args.next() else {
                    return Command::Usage;
                };
                if a == "--events" {
                    events = Some(PathBuf::from(v));
                } else {
                    expected = Some(PathBuf::from(v));
                }
            }
            "-h" | "--help" => return Command::Help,
            _ if a.starts_with('-') || dir.is_some() => return Command::Usage,
            _ => dir = Some(PathBuf::from(a)),
        }
    }
    match dir {
        Some(dir) => Command::Check {
            dir,
            events,
            expected,
        },
        None => Command::Usage,
    }
}

fn main() -> ExitCode {
    let (dir, events, expected) = match parse(std::env::args().skip(1)) {
        Command::Check {
            dir,
            events,
            expected,
        } => (dir, events, expected),
        Command::Help => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Command::Usage => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let input = match diffusion::load_out_dir(&dir, events.as_deref(), expected.as_deref()) {
        Ok(i) => i,
        Err(e) => {
            println!("TAP version 13");
            println!("Bail out! {e}");
            return ExitCode::from(2);
        }
    };
    let results = diffusion::check::run(&input);
    match lt_syscheck::tap::print_named("diffusion-check", &results, &mut io::stdout().lock()) {
        Ok((_, 0, _)) => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(1),
        Err(e) => {
            eprintln!("diffusion-check: {e}");
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Command {
        parse(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn command_line() {
        assert_eq!(
            p(&["out"]),
            Command::Check {
                dir: "out".into(),
                events: None,
                expected: None
            }
        );
        assert_eq!(
            p(&["--expected", "e", "out", "--events", "ev"]),
            Command::Check {
                dir: "out".into(),
                events: Some("ev".into()),
                expected: Some("e".into())
            }
        );
        assert_eq!(p(&[]), Command::Usage);
        assert_eq!(p(&["a", "b"]), Command::Usage);
        assert_eq!(p(&["--expected"]), Command::Usage);
        assert_eq!(p(&["-x", "out"]), Command::Usage);
        assert_eq!(p(&["out", "--help"]), Command::Help);
    }
}
