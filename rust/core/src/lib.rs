// SPDX-License-Identifier: GPL-2.0

//! leaktrace's pure logic, free of kernel dependencies.
//!
//! Every module here is `core`-only and is compiled twice: into the kernel
//! module (which includes the files with `#[path]`) and into this crate, so
//! that it is unit-tested on the host with `cargo test`.

#![no_std]
#![deny(missing_docs)]

#[cfg(test)]
extern crate std;

/// The shared ABI, under the name the modules below use in both builds.
pub use leaktrace_abi as abi;

pub mod diffusion;
pub mod fdcalls;
pub mod glob;
pub mod introspect;
pub mod pending;
pub mod ring;
pub mod smbios;
pub mod snapshot;
