// SPDX-License-Identifier: GPL-2.0

//! Checker of the `introspection` scenario (selftests/scenarios/introspection):
//! each traced guest runs `lt-ident`, which prints its own identity and
//! what fstat and readlink say about its descriptors, and marks the calls
//! whose records must say the same (`LTIDENT` lines). See `ident-check
//! --help` and [`check`] for the rules.

pub mod check;
pub mod input;

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
    let summary = crate::input::Summary::parse(&text)?;
    let kernels = input::summary_kernels(&text);
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
                .map(|t| input::IdentLog::parse(&t))
                .map_err(|e| format!("{}: {e}", lp.display())),
        );
    }
    Ok(check::Input {
        summary,
        kernels,
        events,
        logs,
    })
}
