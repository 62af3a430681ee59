// SPDX-License-Identifier: GPL-2.0

//! `lt-devtest`: the kselftest-style test of `/dev/leaktrace`.
//!
//! The binary runs [`suite::run`] against the real device and prints KTAP.
//! The suite is written against the [`target::Node`] and [`target::Fd`]
//! traits, so that the unit tests run the very same tests against a
//! simulated device (the kernel's own ring logic from `leaktrace-core`),
//! both healthy and with injected faults, to check that each test passes
//! on a correct device and fails on a broken one.

#![deny(missing_docs)]

pub mod checks;
#[cfg(test)]
mod fake;
pub mod suite;
pub mod tap;
pub mod target;
