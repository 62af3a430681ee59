// SPDX-License-Identifier: GPL-2.0

//! Thin, safe wrappers over the system calls `/dev/leaktrace` answers.
//!
//! # Device semantics
//!
//! - `read()` returns as many *whole* records as fit in the buffer, back to
//!   back, never a partial one. If records are queued but the buffer is
//!   smaller than the next record, it fails with `EINVAL` and consumes
//!   nothing; a buffer of `RECORD_MAX_SIZE` bytes always makes progress.
//!   On an empty ring it blocks until a record arrives (interruptibly:
//!   `EINTR`), or fails with `EAGAIN` under `O_NONBLOCK`. Records are
//!   consumed: concurrent readers split the stream, each record going to
//!   exactly one of them.
//! - `poll()` reports `POLLIN | POLLRDNORM` while records are queued.
//! - `IOCTL_GET_INFO` fills an [`Info`]; `IOCTL_EMIT_TEST` takes a `u64`
//!   count in `1..=EMIT_TEST_MAX` (else `EINVAL`); `IOCTL_VM_LIST` and
//!   `IOCTL_GET_SELECTION` fill user arrays and report the full count;
//!   `IOCTL_TRACE` changes the trace selection; `IOCTL_PROFILE_LOAD` sets
//!   or removes an introspection profile; `IOCTL_SECRET` defines or
//!   removes a secret and `IOCTL_SECRET_LIST` fills a user array with the
//!   secrets; other numbers get `ENOTTY` (as do the newer ones on an older
//!   module).
//!
//! The wrappers make exactly one system call each and never retry, so that
//! callers (and the device tests) see every `EINTR` and `EAGAIN`.

use core::mem::size_of;
use leaktrace_abi::Info;
use leaktrace_abi::Profile;
use leaktrace_abi::ProfileLoadRequest;
use leaktrace_abi::RecordHeader;
use leaktrace_abi::SecretInfo;
use leaktrace_abi::SecretListRequest;
use leaktrace_abi::SecretRequest;
use leaktrace_abi::SelectionRequest;
use leaktrace_abi::TraceRequest;
use leaktrace_abi::Uuid;
use leaktrace_abi::VmInfo;
use leaktrace_abi::VmListRequest;
use leaktrace_abi::ABI_VERSION;
use leaktrace_abi::IOCTL_EMIT_TEST;
use leaktrace_abi::IOCTL_GET_INFO;
use leaktrace_abi::IOCTL_GET_SELECTION;
use leaktrace_abi::IOCTL_PROFILE_LOAD;
use leaktrace_abi::IOCTL_SECRET;
use leaktrace_abi::IOCTL_SECRET_LIST;
use leaktrace_abi::IOCTL_TRACE;
use leaktrace_abi::IOCTL_VM_LIST;
use leaktrace_abi::RECORD_ALIGN;
use std::ffi::CString;
use std::io;
use std::os::fd::AsRawFd;
use std::os::fd::FromRawFd;
use std::os::fd::OwnedFd;
use std::os::fd::RawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::path::PathBuf;
use std::time::Duration;

/// Default path of the device node.
pub const DEFAULT_DEVICE: &str = "/dev/leaktrace";

/// The `IOCTL_PROFILE_LOAD` request that sets `profile` (or removes the
/// profile, for `None`) of the VM `uuid`, or the default profile if `all`
/// (then `uuid` is ignored: the request carries zero). The request holds
/// the address of `*profile`: it is valid only while `profile` is.
pub fn profile_request(uuid: Uuid, all: bool, profile: Option<&Profile>) -> ProfileLoadRequest {
    ProfileLoadRequest {
        uuid: if all { Uuid::default() } else { uuid },
        all: u32::from(all),
        reserved: 0,
        profile: profile.map_or(0, |p| p as *const Profile as u64),
        size: profile.map_or(0, |_| size_of::<Profile>() as u32),
        reserved2: 0,
    }
}

/// Converts a `-1` return of a libc call into the thread's `errno`.
fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// A `poll` timeout in milliseconds; `None` waits forever. Rounds up so
/// that a short non-zero timeout never becomes a busy poll.
fn poll_timeout_ms(timeout: Option<Duration>) -> libc::c_int {
    match timeout {
        None => -1,
        Some(t) => {
            let ms = t.as_nanos().div_ceil(1_000_000);
            ms.min(libc::c_int::MAX as u128) as libc::c_int
        }
    }
}

/// An open file description of `/dev/leaktrace`.
#[derive(Debug)]
pub struct Device {
    fd: OwnedFd,
    path: PathBuf,
}

impl Device {
    /// Opens `path` read-only (close-on-exec), with `O_NONBLOCK` if
    /// `nonblocking`.
    ///
    /// See [`open_error_message`] to explain a failure to a person.
    pub fn open(path: &Path, nonblocking: bool) -> io::Result<Self> {
        let c_path = CString::new(path.as_os_str().as_bytes())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains NUL"))?;
        let mut flags = libc::O_RDONLY | libc::O_CLOEXEC;
        if nonblocking {
            flags |= libc::O_NONBLOCK;
        }
        // SAFETY: `c_path` is a valid NUL-terminated string.
        let fd = check(unsafe { libc::open(c_path.as_ptr(), flags) })?;
        // SAFETY: `open` succeeded, so `fd` is a new descriptor we own.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Self {
            fd,
            path: path.to_owned(),
        })
    }

    /// The path this device was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `IOCTL_GET_INFO`: ABI version, sizes, counters and readers.
    pub fn info(&self) -> io::Result<Info> {
        let mut info = Info::default();
        // SAFETY: `IOCTL_GET_INFO` writes exactly `size_of::<Info>()` bytes
        // (encoded in the number) to the pointer, which points to an `Info`.
        unsafe { self.ioctl_raw(IOCTL_GET_INFO, (&mut info as *mut Info).cast()) }?;
        Ok(info)
    }

    /// `IOCTL_EMIT_TEST`: asks the module for `count` test records.
    pub fn emit_test(&self, count: u64) -> io::Result<()> {
        let mut count = count;
        // SAFETY: `IOCTL_EMIT_TEST` reads a `u64` from the pointer.
        unsafe { self.ioctl_raw(IOCTL_EMIT_TEST, (&mut count as *mut u64).cast()) }?;
        Ok(())
    }

    /// `IOCTL_VM_LIST` into `entries`: returns the number of VMs, which may
    /// exceed `entries.len()` (then only `entries.len()` were written).
    pub fn vm_list(&self, entries: &mut [VmInfo]) -> io::Result<u32> {
        let mut req = VmListRequest {
            entries: entries.as_mut_ptr() as u64,
            capacity: u32::try_from(entries.len()).unwrap_or(u32::MAX),
            count: 0,
        };
        // SAFETY: `IOCTL_VM_LIST` reads and writes the request, and writes
        // at most `capacity` `VmInfo`s to `entries`, which has room for them.
        unsafe { self.ioctl_raw(IOCTL_VM_LIST, (&mut req as *mut VmListRequest).cast()) }?;
        Ok(req.count)
    }

    /// `IOCTL_GET_SELECTION` into `uuids`: returns the number of selected
    /// UUIDs (which may exceed `uuids.len()`) and whether all VMs are
    /// traced.
    pub fn selection(&self, uuids: &mut [Uuid]) -> io::Result<(u32, bool)> {
        let mut req = SelectionRequest {
            uuids: uuids.as_mut_ptr() as u64,
            capacity: u32::try_from(uuids.len()).unwrap_or(u32::MAX),
            ..SelectionRequest::default()
        };
        // SAFETY: `IOCTL_GET_SELECTION` reads and writes the request, and
        // writes at most `capacity` UUIDs to `uuids`, which has room.
        unsafe {
            self.ioctl_raw(
                IOCTL_GET_SELECTION,
                (&mut req as *mut SelectionRequest).cast(),
            )
        }?;
        Ok((req.count, req.all != 0))
    }

    /// `IOCTL_TRACE`: changes the trace selection.
    pub fn trace(&self, request: &TraceRequest) -> io::Result<()> {
        let mut req = *request;
        // SAFETY: `IOCTL_TRACE` reads a `TraceRequest` from the pointer.
        unsafe { self.ioctl_raw(IOCTL_TRACE, (&mut req as *mut TraceRequest).cast()) }?;
        Ok(())
    }

    /// `IOCTL_PROFILE_LOAD`: sets (`Some`) or removes (`None`) the profile
    /// of the VM `uuid`, or the default profile if `all`.
    pub fn profile_load(&self, uuid: Uuid, all: bool, profile: Option<&Profile>) -> io::Result<()> {
        let mut req = profile_request(uuid, all, profile);
        // SAFETY: `IOCTL_PROFILE_LOAD` reads a `ProfileLoadRequest` from the
        // pointer, and `req.size` bytes at `req.profile`, which is 0 or
        // points to `*profile`, borrowed for the whole call.
        unsafe {
            self.ioctl_raw(
                IOCTL_PROFILE_LOAD,
                (&mut req as *mut ProfileLoadRequest).cast(),
            )
        }?;
        Ok(())
    }

    /// `IOCTL_SECRET`: defines (`SECRET_ADD`; the module writes the new
    /// secret's id to `request.id`) or removes (`SECRET_REMOVE`) a secret.
    pub fn secret(&self, request: &mut SecretRequest) -> io::Result<()> {
        // SAFETY: `IOCTL_SECRET` reads and writes a `SecretRequest` at the
        // pointer, which points to one.
        unsafe { self.ioctl_raw(IOCTL_SECRET, (request as *mut SecretRequest).cast()) }?;
        Ok(())
    }

    /// `IOCTL_SECRET_LIST` into `entries`: returns the number of secrets,
    /// which may exceed `entries.len()` (then only `entries.len()` were
    /// written).
    pub fn secret_list(&self, entries: &mut [SecretInfo]) -> io::Result<u32> {
        let mut req = SecretListRequest {
            entries: entries.as_mut_ptr() as u64,
            capacity: u32::try_from(entries.len()).unwrap_or(u32::MAX),
            count: 0,
        };
        // SAFETY: `IOCTL_SECRET_LIST` reads and writes the request, and
        // writes at most `capacity` `SecretInfo`s to `entries`, which has
        // room for them.
        unsafe {
            self.ioctl_raw(
                IOCTL_SECRET_LIST,
                (&mut req as *mut SecretListRequest).cast(),
            )
        }?;
        Ok(req.count)
    }

    /// Any `ioctl` on the device, for tests of unknown or bad requests.
    ///
    /// # Safety
    ///
    /// If the module implements `request`, `arg` must be valid for what it
    /// reads or writes there (a null pointer is fine: the module must fail
    /// with `EFAULT`).
    pub unsafe fn ioctl_raw(&self, request: u32, arg: *mut libc::c_void) -> io::Result<i32> {
        // SAFETY: the fd is open; the caller vouches for `arg`.
        check(unsafe { libc::ioctl(self.fd.as_raw_fd(), request as libc::c_ulong, arg) })
    }

    /// One `read(2)` into `buf`: the number of bytes of whole records read.
    pub fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        // SAFETY: `buf` is valid for writes of `buf.len()` bytes.
        let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(n as usize)
        }
    }

    /// One `poll(2)` for `events`; returns `revents` (0 on timeout).
    /// `None` waits forever. `EINTR` is returned as an error.
    pub fn poll(&self, events: i16, timeout: Option<Duration>) -> io::Result<i16> {
        let mut pfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events,
            revents: 0,
        };
        // SAFETY: one valid `pollfd`.
        check(unsafe { libc::poll(&mut pfd, 1, poll_timeout_ms(timeout)) })?;
        Ok(pfd.revents)
    }

    /// Like [`Self::poll`], but with the signal mask replaced by `sigmask`
    /// for the duration of the wait (`ppoll(2)`): signals blocked outside
    /// and unblocked in `sigmask` can interrupt only the wait, without race.
    pub fn ppoll(
        &self,
        events: i16,
        timeout: Option<Duration>,
        sigmask: &libc::sigset_t,
    ) -> io::Result<i16> {
        let mut pfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events,
            revents: 0,
        };
        let ts = timeout.map(|t| libc::timespec {
            tv_sec: t.as_secs().min(libc::time_t::MAX as u64) as libc::time_t,
            tv_nsec: t.subsec_nanos() as libc::c_long,
        });
        let ts_ptr = ts.as_ref().map_or(core::ptr::null(), |t| t as *const _);
        // SAFETY: one valid `pollfd`; `ts_ptr` is null or points to `ts`;
        // `sigmask` is a valid signal set.
        check(unsafe { libc::ppoll(&mut pfd, 1, ts_ptr, sigmask) })?;
        Ok(pfd.revents)
    }

    /// Sets or clears `O_NONBLOCK` on the open file description.
    pub fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        let fd = self.fd.as_raw_fd();
        // SAFETY: plain `fcntl` flag calls on an open fd.
        let flags = check(unsafe { libc::fcntl(fd, libc::F_GETFL) })?;
        let flags = if on {
            flags | libc::O_NONBLOCK
        } else {
            flags & !libc::O_NONBLOCK
        };
        // SAFETY: as above.
        check(unsafe { libc::fcntl(fd, libc::F_SETFL, flags) })?;
        Ok(())
    }
}

impl AsRawFd for Device {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// Reads at most `max_records` whole records into `buf` with `read` (one
/// `read(2)` of the device, as [`Device::read`]), consuming no more than
/// that from the device; returns the bytes read.
///
/// Every record is at least a header long, so a first read of at most
/// `max_records * size_of::<RecordHeader>()` bytes cannot take too many.
/// If that buffer is smaller than the next record (`EINVAL`), the buffer
/// grows by [`RECORD_ALIGN`] until a read succeeds: record sizes are
/// multiples of it, so the first length that fits is exactly the next
/// record's size and exactly one record is read. (Only if another reader
/// consumes records between those tries can one read take more than asked.)
///
/// `EINVAL` with all of `buf` means the next record does not fit `buf`.
/// Other errors (`EAGAIN`, `EINTR`, ...) are returned as they come.
pub fn read_at_most<F>(mut read: F, buf: &mut [u8], max_records: usize) -> io::Result<usize>
where
    F: FnMut(&mut [u8]) -> io::Result<usize>,
{
    if max_records == 0 {
        return Ok(0);
    }
    let is_einval = |e: &io::Error| e.raw_os_error() == Some(libc::EINVAL);
    let first = buf
        .len()
        .min(max_records.saturating_mul(size_of::<RecordHeader>()));
    match read(&mut buf[..first]) {
        Err(e) if is_einval(&e) && first < buf.len() => {}
        other => return other,
    }
    let mut len = first - first % RECORD_ALIGN + RECORD_ALIGN;
    while len <= buf.len() {
        match read(&mut buf[..len]) {
            Err(e) if is_einval(&e) => len += RECORD_ALIGN,
            other => return other,
        }
    }
    Err(io::Error::from_raw_os_error(libc::EINVAL))
}

/// A person-readable explanation of a failure to open the device at `path`.
pub fn open_error_message(path: &Path, err: &io::Error) -> String {
    let path = path.display();
    match err.raw_os_error() {
        Some(libc::ENOENT) => format!(
            "{path} does not exist: the leaktrace module is not loaded (insmod leaktrace.ko)"
        ),
        Some(libc::ENXIO) | Some(libc::ENODEV) => format!(
            "{path} has no driver behind it: the leaktrace module is not loaded (insmod leaktrace.ko)"
        ),
        Some(libc::EACCES) | Some(libc::EPERM) => format!(
            "cannot open {path}: permission denied; the device is root only (mode 0600), run as root"
        ),
        _ => format!("cannot open {path}: {err}"),
    }
}

/// A person-readable explanation of a failure of `IOCTL_GET_INFO`.
pub fn info_error_message(path: &Path, err: &io::Error) -> String {
    let path = path.display();
    match err.raw_os_error() {
        Some(libc::ENOTTY) | Some(libc::EINVAL) => format!(
            "{path} does not answer IOCTL_GET_INFO ({err}): it is not a leaktrace device, \
             or its module speaks an incompatible ABI (this tool speaks ABI version {ABI_VERSION})"
        ),
        _ => format!("IOCTL_GET_INFO on {path} failed: {err}"),
    }
}

/// Checks that the running module speaks this build's ABI version.
pub fn check_abi(path: &Path, info: &Info) -> Result<(), String> {
    if info.abi_version == ABI_VERSION {
        return Ok(());
    }
    Err(format!(
        "ABI version mismatch: the module behind {} speaks ABI version {}, \
         this leaktrace was built for ABI version {}; use the leaktrace built with the module",
        path.display(),
        info.abi_version,
        ABI_VERSION
    ))
}

/// Sleeps for `duration` with the signal mask replaced by `sigmask`
/// (`ppoll(2)` on no descriptor): a signal pending or arriving meanwhile
/// and unblocked in `sigmask` is delivered, and ends the sleep early
/// (`Interrupted`). A zero `duration` only delivers what is pending.
///
/// Needed because a `ppoll` on a descriptor that is already readable
/// returns without delivering pending signals: a reader that always finds
/// records waiting would otherwise never see its SIGINT.
pub fn sleep_unblocked(duration: Duration, sigmask: &libc::sigset_t) -> io::Result<()> {
    let ts = libc::timespec {
        tv_sec: duration.as_secs().min(libc::time_t::MAX as u64) as libc::time_t,
        tv_nsec: duration.subsec_nanos() as libc::c_long,
    };
    // SAFETY: no descriptors (a null array of length 0 is allowed); `ts`
    // and `sigmask` are valid for the call.
    check(unsafe { libc::ppoll(core::ptr::null_mut(), 0, &ts, sigmask) }).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A simulated device over the kernel's own ring logic: whole records,
    /// `EINVAL` when the next one does not fit, `EAGAIN` when empty.
    struct SimDevice {
        ring: leaktrace_core::ring::RecordRing<Vec<u8>>,
        reads: usize,
    }

    impl SimDevice {
        fn new() -> Self {
            Self {
                ring: leaktrace_core::ring::RecordRing::new(vec![0u8; 4096]),
                reads: 0,
            }
        }

        fn push_test(&mut self, index: u64) {
            use leaktrace_abi::Pod;
            let mut r = leaktrace_abi::TestRecord {
                header: RecordHeader::new::<leaktrace_abi::TestRecord>(
                    leaktrace_abi::RecordKind::Test,
                    1,
                ),
                index,
                burst: 100,
            };
            self.ring.push(r.as_bytes_mut()).unwrap();
        }

        fn push_heartbeat(&mut self) {
            use leaktrace_abi::Pod;
            let mut r = leaktrace_abi::HeartbeatRecord {
                header: RecordHeader::new::<leaktrace_abi::HeartbeatRecord>(
                    leaktrace_abi::RecordKind::Heartbeat,
                    1,
                ),
                counters: Default::default(),
            };
            self.ring.push(r.as_bytes_mut()).unwrap();
        }

        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.reads += 1;
            if self.ring.is_empty() {
                return Err(io::Error::from_raw_os_error(libc::EAGAIN));
            }
            let batch = self.ring.copy_out(buf);
            if batch.records == 0 {
                return Err(io::Error::from_raw_os_error(libc::EINVAL));
            }
            self.ring.consume(batch);
            Ok(batch.bytes)
        }
    }

    fn count_records(bytes: &[u8]) -> usize {
        let mut events = Vec::new();
        crate::decode::Decoder::new()
            .decode(bytes, &mut events)
            .unwrap();
        events.len()
    }

    #[test]
    fn read_at_most_never_takes_more_than_asked() {
        let mut sim = SimDevice::new();
        for i in 0..10 {
            sim.push_test(i);
        }
        sim.push_heartbeat();
        sim.push_test(10);
        let mut buf = vec![0u8; 4096];
        // 40-byte test records: 3 * 24 = 72 bytes hold one record.
        let n = read_at_most(|b| sim.read(b), &mut buf, 3).unwrap();
        assert_eq!(count_records(&buf[..n]), 1);
        let n = read_at_most(|b| sim.read(b), &mut buf, 5).unwrap();
        assert_eq!(count_records(&buf[..n]), 3);
        let n = read_at_most(|b| sim.read(b), &mut buf, 6).unwrap();
        assert_eq!(count_records(&buf[..n]), 3);
        // 3 test records and the heartbeat left: one at a time, exactly.
        for _ in 0..2 {
            let n = read_at_most(|b| sim.read(b), &mut buf, 1).unwrap();
            assert_eq!(n, 40);
        }
        sim.reads = 0;
        let n = read_at_most(|b| sim.read(b), &mut buf, 1).unwrap();
        assert_eq!(n, 40);
        assert_eq!(sim.reads, 3, "24 and 32 bytes were too small, 40 fit");
        let n = read_at_most(|b| sim.read(b), &mut buf, 1).unwrap();
        assert_eq!(n, 56, "exactly the heartbeat");
        let n = read_at_most(|b| sim.read(b), &mut buf, 1).unwrap();
        assert_eq!(n, 40, "exactly the last test record");
        let err = read_at_most(|b| sim.read(b), &mut buf, 1).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EAGAIN));
        assert_eq!(read_at_most(|b| sim.read(b), &mut buf, 0).unwrap(), 0);
    }

    #[test]
    fn read_at_most_reports_einval_when_nothing_fits() {
        let mut sim = SimDevice::new();
        sim.push_heartbeat();
        let mut small = vec![0u8; 48];
        let err = read_at_most(|b| sim.read(b), &mut small, 1).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EINVAL));
        let mut buf = vec![0u8; 64];
        assert_eq!(read_at_most(|b| sim.read(b), &mut buf, 100).unwrap(), 56);
    }

    #[test]
    fn open_errors_are_explained() {
        let path = Path::new("/dev/leaktrace");
        let msg = |errno| open_error_message(path, &io::Error::from_raw_os_error(errno));
        assert!(msg(libc::ENOENT).contains("insmod leaktrace.ko"));
        assert!(msg(libc::EACCES).contains("root only"));
        assert!(msg(libc::EPERM).contains("root only"));
        assert!(msg(libc::EIO).contains("/dev/leaktrace"));
    }

    #[test]
    fn ioctl_numbers_are_the_documented_ones() {
        // Documentation/abi.rst gives these numbers.
        assert_eq!(IOCTL_GET_INFO, 0x8038_4c01);
        assert_eq!(IOCTL_EMIT_TEST, 0x4008_4c02);
        assert_eq!(IOCTL_VM_LIST, 0xc010_4c03);
        assert_eq!(IOCTL_TRACE, 0x4018_4c04);
        assert_eq!(IOCTL_GET_SELECTION, 0xc018_4c05);
        assert_eq!(IOCTL_PROFILE_LOAD, 0x4028_4c06);
        assert_eq!(IOCTL_SECRET, 0xc120_4c07);
        assert_eq!(IOCTL_SECRET_LIST, 0xc010_4c08);
    }

    #[test]
    fn profile_requests_carry_the_profile_or_nothing() {
        let u: Uuid = [7; 16];
        let p = Profile::default();
        let req = profile_request(u, false, Some(&p));
        assert_eq!((req.uuid, req.all), (u, 0));
        assert_eq!(req.profile, &p as *const Profile as u64);
        assert_eq!(req.size as usize, size_of::<Profile>());
        assert_eq!((req.reserved, req.reserved2), (0, 0));
        let req = profile_request(u, true, None);
        assert_eq!(
            (req.uuid, req.all, req.profile, req.size),
            (Uuid::default(), 1, 0, 0)
        );
    }

    #[test]
    fn missing_device_is_enoent() {
        let err = Device::open(Path::new("/nonexistent/leaktrace"), false).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOENT));
    }

    #[test]
    fn abi_mismatch_names_both_versions() {
        let info = Info {
            abi_version: ABI_VERSION + 6,
            ..Info::default()
        };
        let err = check_abi(Path::new("/dev/leaktrace"), &info).unwrap_err();
        assert!(
            err.contains(&format!("ABI version {}", ABI_VERSION + 6)),
            "{err}"
        );
        assert!(err.contains(&format!("ABI version {ABI_VERSION}")), "{err}");
        let ok = Info {
            abi_version: ABI_VERSION,
            ..Info::default()
        };
        assert_eq!(check_abi(Path::new("/dev/leaktrace"), &ok), Ok(()));
    }

    #[test]
    fn poll_timeouts_round_up() {
        assert_eq!(poll_timeout_ms(None), -1);
        assert_eq!(poll_timeout_ms(Some(Duration::ZERO)), 0);
        assert_eq!(poll_timeout_ms(Some(Duration::from_micros(1))), 1);
        assert_eq!(poll_timeout_ms(Some(Duration::from_millis(50))), 50);
        assert_eq!(
            poll_timeout_ms(Some(Duration::from_secs(u64::MAX))),
            libc::c_int::MAX
        );
    }
}
