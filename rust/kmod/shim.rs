// SPDX-License-Identifier: GPL-2.0

//! Declarations of the C shim (rust/kmod/shim.c, shim.h).
//!
//! An out-of-tree module cannot extend the kernel's `bindings` crate, so the
//! prototypes are repeated here; shim.h is the reference. Pointers to
//! kernel structures cross as `c_void`: some of them (e.g. `struct file`
//! with ITS mitigations) contain zero-sized members that rustc's
//! `improper_ctypes` lint rejects, depending on the configuration.

use kernel::bindings;
use kernel::ffi::c_char;
use kernel::ffi::c_void;

/// Opaque handle of a device registered by the shim.
#[repr(C)]
pub(crate) struct LeaktraceChardev {
    _opaque: [u8; 0],
}

extern "C" {
    /// See `leaktrace_chardev_register()` in shim.h.
    pub(crate) fn leaktrace_chardev_register(
        name: *const c_char,
        mode: bindings::umode_t,
        fops: *const c_void,
        data: *mut c_void,
    ) -> *mut LeaktraceChardev;

    /// See `leaktrace_chardev_unregister()` in shim.h.
    pub(crate) fn leaktrace_chardev_unregister(dev: *mut LeaktraceChardev);

    /// See `leaktrace_chardev_data()` in shim.h.
    pub(crate) fn leaktrace_chardev_data(file: *mut c_void) -> *mut c_void;

    /// See `leaktrace_clock_ns()` in shim.h.
    fn leaktrace_clock_ns() -> u64;
}

/// `CLOCK_MONOTONIC` now, in nanoseconds.
pub(crate) fn clock_ns() -> u64 {
    // SAFETY: `ktime_get_ns()` has no preconditions and may be called from
    // any context.
    unsafe { leaktrace_clock_ns() }
}
