// SPDX-License-Identifier: GPL-2.0

//! Checker of the `syscalls` scenario (selftests/scenarios/syscalls): each
//! traced guest runs `lt-syscalls`, which prints what it did (`LTEXPECT`
//! lines); leaktrace must have recorded exactly that, per VM UUID, and
//! nothing for the untraced guest. See `syscall-check --help` and
//! [`check`] for the rules. [`ident`] checks the introspection scenario
//! (`ident-check`) the same way.

pub mod check;
pub mod ident;
pub mod input;
pub mod tap;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

/// Reads a scenario's `out/` directory: `summary.txt` (required),
/// `events.jsonl` and every listed guest's `vmN.log`.
pub fn load_out_dir(dir: &Path, events: Option<&Path>) -> Result<check::Input, String> {
    let sp = dir.join("summary.txt");
    let text = fs::read_to_string(&sp).map_err(|e| format!("{}: {e}", sp.display()))?;
    let summary = input::Summary::parse(&text)?;
    let ep = events
        .map(Path::to_path_buf)
        .unwrap_or_else(|| dir.join("events.jsonl"));
    let events = fs::read_to_string(&ep)
        .map(|t| input::Events::parse(&t))
        .map_err(|e| format!("{}: {e}", ep.display()));
    let mut logs = BTreeMap::new();
    for g in &summary.guests {
        let lp = dir.join(format!("vm{}.log", g.n));
        logs.insert(
            g.n,
            fs::read_to_string(&lp)
                .map(|t| input::GuestLog::parse(&t))
                .map_err(|e| format!("{}: {e}", lp.display())),
        );
    }
    Ok(check::Input {
        summary,
        events,
        logs,
    })
}
