// SPDX-License-Identifier: GPL-2.0

//! `/dev/leaktrace`: the character device readers open.
//!
//! 7.3's `MiscDevice` abstraction has no `poll` and no way to set the node's
//! mode, so the file operations are our own (as binder's are) and the shim
//! registers the misc device with them.

use crate::abi::Info;
use crate::abi::Pod;
use crate::abi::IOCTL_EMIT_TEST;
use crate::abi::IOCTL_GET_INFO;
use crate::abi::IOCTL_GET_SELECTION;
use crate::abi::IOCTL_PROFILE_LOAD;
use crate::abi::IOCTL_SECRET;
use crate::abi::IOCTL_SECRET_LIST;
use crate::abi::IOCTL_TRACE;
use crate::abi::IOCTL_VM_LIST;
use crate::shim;
use crate::tracker::Tracker;
use core::ptr;
use core::ptr::NonNull;
use kernel::bindings;
use kernel::error::from_err_ptr;
use kernel::ffi::c_char;
use kernel::ffi::c_int;
use kernel::ffi::c_long;
use kernel::ffi::c_uint;
use kernel::ffi::c_ulong;
use kernel::ffi::c_void;
use kernel::fs::file::flags::O_NONBLOCK;
use kernel::fs::File;
use kernel::module::this_module;
use kernel::prelude::*;
use kernel::sync::poll::PollTable;
use kernel::sync::Arc;
use kernel::sync::ArcBorrow;
use kernel::types::ForeignOwnable;
use kernel::uaccess::UserPtr;
use kernel::uaccess::UserSlice;

/// Node mode: the stream reveals what guests do, root only.
const DEVICE_MODE: bindings::umode_t = 0o600;

/// The registered device node.
///
/// # Invariants
///
/// `raw` is a device registered by `leaktrace_chardev_register()` whose
/// `data` is `Arc::as_ptr(&_tracker)`; it is unregistered exactly once, in
/// `Drop`, while `_tracker` still holds that reference.
pub(crate) struct EventDevice {
    raw: NonNull<shim::LeaktraceChardev>,
    _tracker: Arc<Tracker>,
}

// SAFETY: the shim's device may be unregistered from any thread.
unsafe impl Send for EventDevice {}
// SAFETY: `EventDevice` has no `&self` methods.
unsafe impl Sync for EventDevice {}

impl EventDevice {
    /// Creates `/dev/leaktrace` serving `tracker` and its hub.
    pub(crate) fn register(tracker: Arc<Tracker>) -> Result<Self> {
        let data = Arc::as_ptr(&tracker).cast_mut().cast::<c_void>();
        // SAFETY: the name and `FOPS` are static; `data` stays valid until
        // `Drop` unregisters the device, because `Self` keeps `tracker`.
        let raw = unsafe {
            shim::leaktrace_chardev_register(
                c"leaktrace".as_char_ptr(),
                DEVICE_MODE,
                ptr::from_ref(&FOPS.0).cast(),
                data,
            )
        };
        let raw = from_err_ptr(raw)?;
        // INVARIANT: registered above with `data` from `tracker`, kept below.
        Ok(Self {
            raw: NonNull::new(raw).ok_or(ENOMEM)?,
            _tracker: tracker,
        })
    }
}

impl Drop for EventDevice {
    fn drop(&mut self) {
        // SAFETY: registered and not yet unregistered (type invariant).
        unsafe { shim::leaktrace_chardev_unregister(self.raw.as_ptr()) };
    }
}

/// Makes a C operations table usable as a `static`.
#[repr(transparent)]
struct AssertSync<T>(T);

// SAFETY: the table is never written after initialisation.
unsafe impl<T> Sync for AssertSync<T> {}

static FOPS: AssertSync<bindings::file_operations> = AssertSync(bindings::file_operations {
    owner: this_module::<crate::LocalModule>().as_ptr(),
    open: Some(leaktrace_open),
    release: Some(leaktrace_release),
    read: Some(leaktrace_read),
    poll: Some(leaktrace_poll),
    unlocked_ioctl: Some(leaktrace_ioctl),
    compat_ioctl: bindings::compat_ptr_ioctl,
    ..pin_init::zeroed()
});

/// # Safety
///
/// Called by the VFS (via `misc_open()`) for a file of our device.
unsafe extern "C" fn leaktrace_open(
    inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> c_int {
    // The stream shows what every guest does and the ioctls change what is
    // traced: the node's 0600 mode is not the only gate (a root process
    // without CAP_SYS_ADMIN, e.g. in a container, stays out).
    if !shim::capable_admin() {
        return EPERM.to_errno();
    }
    // SAFETY: `misc_open()` put our `struct miscdevice` in `private_data`.
    let data = unsafe { shim::leaktrace_chardev_data(file.cast()) };
    // SAFETY: `data` is `Arc::as_ptr()` of the tracker that the registered
    // `EventDevice` holds; `misc_open()` runs this under `misc_mtx`, which
    // unregistration also takes, so the `EventDevice` is alive.
    let tracker: Arc<Tracker> = unsafe { ArcBorrow::from_raw(data.cast::<Tracker>()) }.into();

    // SAFETY: `inode` and `file` are valid for the duration of `open`.
    let ret = unsafe { bindings::stream_open(inode, file) };
    if ret != 0 {
        return ret;
    }
    tracker.hub().file_opened();
    // SAFETY: `open` may set `private_data`; every other operation reads
    // it back as an `Arc<Tracker>` and `release` takes it back.
    unsafe { (*file).private_data = tracker.into_foreign() };
    0
}

/// # Safety
///
/// Called by the VFS for a file opened by [`leaktrace_open`].
unsafe extern "C" fn leaktrace_release(
    _inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> c_int {
    // SAFETY: `private_data` holds the `Arc<Tracker>` that `open` stored, and
    // `release` is the last operation on the file.
    let tracker = unsafe { Arc::<Tracker>::from_foreign((*file).private_data) };
    tracker.hub().file_released();
    0
}

/// # Safety
///
/// Called by the VFS for a file opened by [`leaktrace_open`]; `buf` is a
/// user pointer to `count` bytes.
unsafe extern "C" fn leaktrace_read(
    file: *mut bindings::file,
    buf: *mut c_char,
    count: usize,
    _pos: *mut bindings::loff_t,
) -> isize {
    // SAFETY: `private_data` holds the `Arc<Tracker>` stored by `open`, which
    // outlives every operation on the file.
    let tracker = unsafe { Arc::<Tracker>::borrow((*file).private_data) };
    let hub = tracker.hub();
    // SAFETY: the file is valid for the call; no fdget_pos region is active.
    let nonblock = unsafe { File::from_raw_file(file) }.flags() & O_NONBLOCK != 0;
    let mut out = UserSlice::new(UserPtr::from_ptr(buf.cast()), count).writer();
    match hub.read(&mut out, count, nonblock) {
        // Cannot wrap: at most `READ_CHUNK` bytes.
        Ok(n) => n as isize,
        Err(e) => e.to_errno() as isize,
    }
}

/// # Safety
///
/// Called by the VFS for a file opened by [`leaktrace_open`].
unsafe extern "C" fn leaktrace_poll(
    file: *mut bindings::file,
    table: *mut bindings::poll_table_struct,
) -> bindings::__poll_t {
    // SAFETY: as in `leaktrace_read`.
    let tracker = unsafe { Arc::<Tracker>::borrow((*file).private_data) };
    let hub = tracker.hub();
    // SAFETY: the file is valid for the call; no fdget_pos region is active.
    let file = unsafe { File::from_raw_file(file) };
    // SAFETY: the VFS passes a null or valid poll table for the call.
    let table = unsafe { PollTable::from_raw(table) };
    hub.poll(file, table)
}

/// # Safety
///
/// Called by the VFS for a file opened by [`leaktrace_open`]; `arg` is a
/// user pointer for the commands that take one.
unsafe extern "C" fn leaktrace_ioctl(
    file: *mut bindings::file,
    cmd: c_uint,
    arg: c_ulong,
) -> c_long {
    // SAFETY: as in `leaktrace_read`.
    let tracker = unsafe { Arc::<Tracker>::borrow((*file).private_data) };
    let hub = tracker.hub();
    let result = match cmd {
        IOCTL_GET_INFO => {
            let info = hub.info();
            UserSlice::new(UserPtr::from_addr(arg as usize), size_of::<Info>())
                .writer()
                .write_slice(info.as_bytes())
        }
        IOCTL_EMIT_TEST => UserSlice::new(UserPtr::from_addr(arg as usize), size_of::<u64>())
            .reader()
            .read::<u64>()
            .and_then(|burst| hub.emit_test_burst(burst)),
        IOCTL_VM_LIST => tracker.vm_list(arg as usize),
        IOCTL_TRACE => tracker.trace(arg as usize),
        IOCTL_GET_SELECTION => tracker.selection(arg as usize),
        IOCTL_PROFILE_LOAD => tracker.profile_load(arg as usize),
        IOCTL_SECRET => tracker.secret(arg as usize),
        IOCTL_SECRET_LIST => tracker.secret_list(arg as usize),
        _ => Err(ENOTTY),
    };
    match result {
        Ok(()) => 0,
        Err(e) => e.to_errno() as c_long,
    }
}
