// SPDX-License-Identifier: GPL-2.0

//! Userspace access to `/dev/leaktrace`: the device's system calls
//! ([`device`]), decoding of its record stream ([`decode`]) and rendering of
//! records and status ([`format`]).
//!
//! The `leaktrace` binary is the operator's CLI on top of this library; the
//! device selftest (`lt-devtest`) reuses it so that both read the device the
//! same, unit-tested way. The record layout itself comes only from
//! `leaktrace-abi`.

#![deny(missing_docs)]

pub mod decode;
pub mod device;
pub mod format;

pub use leaktrace_abi as abi;
