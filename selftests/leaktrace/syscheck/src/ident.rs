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

use std::path::Path;

/// Reads an introspection scenario's `out/` directory (see
/// [`crate::read_out_dir`]), with the guests' `kernel=` words of
/// `summary.txt`.
pub fn load_out_dir(dir: &Path, events: Option<&Path>) -> Result<check::Input, String> {
    let d = crate::read_out_dir(dir, events, input::Events::parse, input::IdentLog::parse)?;
    Ok(check::Input {
        kernels: input::summary_kernels(&d.summary_text),
        summary: d.summary,
        events: d.events,
        logs: d.logs,
    })
}
