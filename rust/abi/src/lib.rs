// SPDX-License-Identifier: GPL-2.0

//! Userspace view of leaktrace's `/dev/leaktrace` ABI.
//!
//! The definitions live in `../abi.rs`, which the kernel module includes
//! verbatim: there is one copy of the record layout.

#![no_std]
#![deny(missing_docs)]

#[path = "../abi.rs"]
mod abi;

pub use abi::*;
