// SPDX-License-Identifier: GPL-2.0

//! Any bytes, as read from /dev/leaktrace, through the reader's decoder,
//! its text and JSON formatting and the diffusion graph: no panic, no raw
//! guest bytes in text (see leaktrace::fuzzing).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    leaktrace::fuzzing::exercise(data);
});
