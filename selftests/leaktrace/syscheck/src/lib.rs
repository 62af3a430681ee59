// SPDX-License-Identifier: GPL-2.0

//! Checker of the `syscalls` scenario (selftests/scenarios/syscalls): each
//! traced guest runs `lt-syscalls`, which prints what it did (`LTEXPECT`
//! lines); leaktrace must have recorded exactly that, per VM UUID, and
//! nothing for the untraced guest. See `syscall-check --help` and
//! [`check`] for the rules. [`ident`] checks the introspection scenario
//! (`ident-check`) the same way, [`diffusion`] a diffusion scenario's
//! records against its expected edges (`diffusion-check`).

pub mod check;
pub mod cli;
pub mod diffusion;
pub mod ident;
pub mod input;
pub mod tap;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

/// A scenario's `out/` directory as a checker reads it, `E` and `L` its
/// own parse of `events.jsonl` and of a guest's `vmN.log`.
#[derive(Clone, Debug)]
pub struct OutDir<E, L> {
    /// `summary.txt` as written.
    pub summary_text: String,
    /// `summary.txt`, parsed.
    pub summary: input::Summary,
    /// `events.jsonl`, or why it could not be read.
    pub events: Result<E, String>,
    /// `vmN.log` per guest number, or why it could not be read.
    pub logs: BTreeMap<u32, Result<L, String>>,
}

/// Reads a scenario's `out/` directory: `summary.txt` (required),
/// `events.jsonl` (or the file `events`) with `parse_events` and every
/// listed guest's `vmN.log` with `parse_log`.
pub fn read_out_dir<E, L>(
    dir: &Path,
    events: Option<&Path>,
    parse_events: impl Fn(&str) -> E,
    parse_log: impl Fn(&str) -> L,
) -> Result<OutDir<E, L>, String> {
    let sp = dir.join("summary.txt");
    let summary_text = fs::read_to_string(&sp).map_err(|e| format!("{}: {e}", sp.display()))?;
    let summary = input::Summary::parse(&summary_text)?;
    let ep = events
        .map(Path::to_path_buf)
        .unwrap_or_else(|| dir.join("events.jsonl"));
    let events = fs::read_to_string(&ep)
        .map(|t| parse_events(&t))
        .map_err(|e| format!("{}: {e}", ep.display()));
    let mut logs = BTreeMap::new();
    for g in &summary.guests {
        let lp = dir.join(format!("vm{}.log", g.n));
        logs.insert(
            g.n,
            fs::read_to_string(&lp)
                .map(|t| parse_log(&t))
                .map_err(|e| format!("{}: {e}", lp.display())),
        );
    }
    Ok(OutDir {
        summary_text,
        summary,
        events,
        logs,
    })
}

/// Reads a syscalls scenario's `out/` directory (see [`read_out_dir`]).
pub fn load_out_dir(dir: &Path, events: Option<&Path>) -> Result<check::Input, String> {
    let d = read_out_dir(dir, events, input::Events::parse, input::GuestLog::parse)?;
    Ok(check::Input {
        summary: d.summary,
        events: d.events,
        logs: d.logs,
    })
}
