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
use kernel::ffi::c_int;
use kernel::ffi::c_uint;
use kernel::ffi::c_void;
use kernel::prelude::*;

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

    /// See `leaktrace_capable_admin()` in shim.h.
    fn leaktrace_capable_admin() -> bool;

    /// See `leaktrace_snapshot_alloc()` in shim.h.
    pub(crate) fn leaktrace_snapshot_alloc(bytes: usize) -> *mut c_void;

    /// See `leaktrace_snapshot_free_rcu()` in shim.h.
    pub(crate) fn leaktrace_snapshot_free_rcu(snapshot: *mut c_void);

    /// See `leaktrace_trap_register()` in shim.h.
    pub(crate) fn leaktrace_trap_register() -> c_int;

    /// See `leaktrace_trap_unregister()` in shim.h.
    pub(crate) fn leaktrace_trap_unregister();

    /// See `leaktrace_vcpu_kvm()` in shim.h.
    pub(crate) fn leaktrace_vcpu_kvm(vcpu: *mut c_void) -> *mut c_void;

    /// See `leaktrace_kvm_creator_pid()` in shim.h.
    pub(crate) fn leaktrace_kvm_creator_pid(kvm: *mut c_void) -> u32;

    /// `kvm_syscall_trap_arm()` (asm/kvm_syscall_trap.h): returns a
    /// `enum kvm_syscall_trap_refusal`, 0 when armed or disarmed.
    pub(crate) fn kvm_syscall_trap_arm(kvm: *mut c_void, arm: bool) -> u32;

    /// `kvm_syscall_trap_status()`: why an armed VM is not trapped now.
    pub(crate) fn kvm_syscall_trap_status(kvm: *mut c_void) -> u32;

    /// `kvm_syscall_trap_read_phys()`: copy guest physical memory on the
    /// vCPU's thread, without injecting faults.
    fn kvm_syscall_trap_read_phys(
        vcpu: *mut c_void,
        gpa: u64,
        buf: *mut c_void,
        len: c_uint,
    ) -> c_int;

    /// `kvm_syscall_trap_read_virt()`: copy guest virtual memory, as the
    /// vCPU's current page tables map it, without injecting faults.
    fn kvm_syscall_trap_read_virt(
        vcpu: *mut c_void,
        gva: u64,
        buf: *mut c_void,
        len: c_uint,
    ) -> c_int;
}

/// Bytes reserved at the start of a snapshot for its `struct rcu_head`
/// (shim.c asserts it).
pub(crate) const SNAPSHOT_HEAD: usize = 16;

/// Size of KVM's `struct kvm_syscall_trap_regs` (shim.c asserts it).
pub(crate) const TRAP_REGS_SIZE: usize = 176;

/// Fills `buf` from guest physical address `gpa`.
///
/// # Safety
///
/// `vcpu` is the vCPU whose thread calls this (from a trap callback).
pub(crate) unsafe fn read_guest_phys(vcpu: *mut c_void, gpa: u64, buf: &mut [u8]) -> Result {
    let len = c_uint::try_from(buf.len()).map_err(|_| EINVAL)?;
    // SAFETY: the caller passes the current vCPU; `buf` is valid for
    // `len` bytes of writes.
    let ret = unsafe { kvm_syscall_trap_read_phys(vcpu, gpa, buf.as_mut_ptr().cast(), len) };
    if ret < 0 {
        return Err(Error::from_errno(ret));
    }
    Ok(())
}

/// Fills `buf` from guest virtual address `gva`, through the page tables
/// the vCPU runs on (user or supervisor mappings).
///
/// # Safety
///
/// `vcpu` is the vCPU whose thread calls this (from a trap callback).
pub(crate) unsafe fn read_guest_virt(vcpu: *mut c_void, gva: u64, buf: &mut [u8]) -> Result {
    let len = c_uint::try_from(buf.len()).map_err(|_| EINVAL)?;
    // SAFETY: the caller passes the current vCPU; `buf` is valid for
    // `len` bytes of writes.
    let ret = unsafe { kvm_syscall_trap_read_virt(vcpu, gva, buf.as_mut_ptr().cast(), len) };
    if ret < 0 {
        return Err(Error::from_errno(ret));
    }
    Ok(())
}

/// Whether the current task has `CAP_SYS_ADMIN` in the initial user
/// namespace (and, with an LSM, is allowed to use it).
pub(crate) fn capable_admin() -> bool {
    // SAFETY: `capable()` has no preconditions in process context, where
    // every file operation runs.
    unsafe { leaktrace_capable_admin() }
}

/// `CLOCK_MONOTONIC` now, in nanoseconds.
pub(crate) fn clock_ns() -> u64 {
    // SAFETY: `ktime_get_ns()` has no preconditions and may be called from
    // any context.
    unsafe { leaktrace_clock_ns() }
}
