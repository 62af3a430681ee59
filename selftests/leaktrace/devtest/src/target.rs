// SPDX-License-Identifier: GPL-2.0

//! What the tests run against: the real `/dev/leaktrace`, or (in unit
//! tests) a simulated device, behind the same two traits; and the signal
//! plumbing that bounds blocking reads.

use leaktrace::abi::Info;
use leaktrace::device::Device;
use std::io;
use std::os::unix::fs::FileTypeExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::path::PathBuf;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;
use std::time::Instant;

/// What `stat` says about the device node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeStat {
    /// A character device.
    pub is_char: bool,
    /// Permission bits (`st_mode & 0o7777`).
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Major number of the device (10 for misc devices).
    pub major: u32,
}

/// An open file description of the device (see `leaktrace::device` for
/// the semantics each call must have). Each method is one system call.
pub trait Fd: Send + Sync {
    /// `read(2)`.
    fn read(&self, buf: &mut [u8]) -> io::Result<usize>;
    /// `poll(2)` for `events`; returns `revents`, 0 on timeout.
    fn poll(&self, events: i16, timeout: Duration) -> io::Result<i16>;
    /// `IOCTL_GET_INFO`.
    fn info(&self) -> io::Result<Info>;
    /// `IOCTL_EMIT_TEST`.
    fn emit_test(&self, count: u64) -> io::Result<()>;
    /// Any `ioctl`.
    ///
    /// # Safety
    ///
    /// As [`Device::ioctl_raw`]: `arg` must be valid for what the request
    /// reads or writes, or null.
    unsafe fn ioctl_raw(&self, request: u32, arg: *mut libc::c_void) -> io::Result<i32>;
    /// Sets or clears `O_NONBLOCK` with `fcntl`.
    fn set_nonblocking(&self, on: bool) -> io::Result<()>;
}

/// The device node under test.
pub trait Node: Sync {
    /// Its path, for messages.
    fn path(&self) -> &Path;
    /// `stat(2)` of the node.
    fn stat(&self) -> io::Result<NodeStat>;
    /// Opens a new file description.
    fn open(&self, nonblocking: bool) -> io::Result<Box<dyn Fd>>;
    /// The module's heartbeat period if it can be learnt without reading
    /// records (module parameter in sysfs).
    fn heartbeat_hint_ms(&self) -> Option<u64>;
}

impl Fd for Device {
    fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        Device::read(self, buf)
    }

    fn poll(&self, events: i16, timeout: Duration) -> io::Result<i16> {
        Device::poll(self, events, Some(timeout))
    }

    fn info(&self) -> io::Result<Info> {
        Device::info(self)
    }

    fn emit_test(&self, count: u64) -> io::Result<()> {
        Device::emit_test(self, count)
    }

    unsafe fn ioctl_raw(&self, request: u32, arg: *mut libc::c_void) -> io::Result<i32> {
        // SAFETY: forwarded from the caller.
        unsafe { Device::ioctl_raw(self, request, arg) }
    }

    fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        Device::set_nonblocking(self, on)
    }
}

/// The real device node.
pub struct RealNode {
    path: PathBuf,
}

impl RealNode {
    /// The node at `path`.
    pub fn new(path: PathBuf) -> Self {
        Self { path }
    }
}

/// Where the module exposes its `heartbeat_ms` parameter, if readable.
const HEARTBEAT_PARAM: &str = "/sys/module/leaktrace/parameters/heartbeat_ms";

impl Node for RealNode {
    fn path(&self) -> &Path {
        &self.path
    }

    fn stat(&self) -> io::Result<NodeStat> {
        let meta = std::fs::metadata(&self.path)?;
        Ok(NodeStat {
            is_char: meta.file_type().is_char_device(),
            mode: meta.mode() & 0o7777,
            uid: meta.uid(),
            gid: meta.gid(),
            major: libc::major(meta.rdev()),
        })
    }

    fn open(&self, nonblocking: bool) -> io::Result<Box<dyn Fd>> {
        Ok(Box::new(Device::open(&self.path, nonblocking)?))
    }

    fn heartbeat_hint_ms(&self) -> Option<u64> {
        std::fs::read_to_string(HEARTBEAT_PARAM)
            .ok()?
            .trim()
            .parse()
            .ok()
    }
}

/// `CLOCK_MONOTONIC` now, in nanoseconds (the clock of records' `time_ns`).
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid `timespec`; CLOCK_MONOTONIC always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The signal that interrupts blocking calls under test.
pub const INTERRUPT_SIGNAL: libc::c_int = libc::SIGUSR1;

/// Handler of [`INTERRUPT_SIGNAL`]: does nothing; its only effect is that
/// the interrupted system call fails with `EINTR`.
extern "C" fn ignore_interrupt(_signal: libc::c_int) {}

/// Installs the handler of [`INTERRUPT_SIGNAL`] without `SA_RESTART`, so
/// that a blocking `read`/`poll` it interrupts returns `EINTR`.
pub fn install_interrupt_handler() -> io::Result<()> {
    // SAFETY: a zeroed `sigaction` with an async-signal-safe handler.
    unsafe {
        let mut action: libc::sigaction = core::mem::zeroed();
        action.sa_sigaction = ignore_interrupt as extern "C" fn(libc::c_int) as libc::sighandler_t;
        libc::sigemptyset(&mut action.sa_mask);
        action.sa_flags = 0;
        if libc::sigaction(INTERRUPT_SIGNAL, &action, core::ptr::null_mut()) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Sends [`INTERRUPT_SIGNAL`] to `thread`.
pub fn interrupt(thread: libc::pthread_t) {
    // SAFETY: `thread` is a live thread of this process (callers hold its
    // join handle or are it); a failure (ESRCH) is harmless.
    unsafe {
        libc::pthread_kill(thread, INTERRUPT_SIGNAL);
    }
}

/// Interrupts the calling thread after a delay, then every 20 ms until
/// dropped, so that a blocking call that should have returned by then
/// fails with `EINTR` instead of hanging the test (repeating covers a
/// signal that lands just before the call starts).
pub struct Alarm {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Alarm {
    /// Arms an alarm for the calling thread, `after` from now.
    pub fn arm(after: Duration) -> Self {
        // SAFETY: `pthread_self` has no preconditions.
        let target = unsafe { libc::pthread_self() };
        let (stop, stopped) = mpsc::channel::<()>();
        let deadline = Instant::now() + after;
        let thread = thread::spawn(move || loop {
            let wait = deadline
                .saturating_duration_since(Instant::now())
                .max(Duration::from_millis(20));
            match stopped.recv_timeout(wait) {
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if Instant::now() >= deadline {
                        interrupt(target);
                    }
                }
                _ => return,
            }
        });
        Self {
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for Alarm {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            // The alarm thread cannot panic; nothing to report if it did.
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alarm_interrupts_a_blocking_call() {
        install_interrupt_handler().unwrap();
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for two descriptors.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        let start = Instant::now();
        let alarm = Alarm::arm(Duration::from_millis(50));
        let mut byte = 0u8;
        // SAFETY: reads one byte into `byte` from our pipe.
        let n = unsafe { libc::read(fds[0], (&mut byte as *mut u8).cast(), 1) };
        let err = io::Error::last_os_error();
        drop(alarm);
        assert_eq!(n, -1);
        assert_eq!(err.kind(), io::ErrorKind::Interrupted);
        assert!(start.elapsed() >= Duration::from_millis(50));
        // SAFETY: closing our own pipe.
        unsafe {
            libc::close(fds[0]);
            libc::close(fds[1]);
        }
    }
}
