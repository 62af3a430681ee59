// SPDX-License-Identifier: GPL-2.0

//! A simulated `/dev/leaktrace` for the unit tests: the kernel's own ring
//! logic (`leaktrace-core`) behind the device semantics, with a heartbeat
//! thread, and optional faults that mimic plausible module bugs.
//!
//! Blocking waits are real system calls (`poll` on a pipe that holds one
//! byte while the ring is not empty), so signals interrupt them with
//! `EINTR` exactly as they interrupt the module's interruptible wait.

use crate::target::monotonic_ns;
use crate::target::Fd;
use crate::target::Node;
use crate::target::NodeStat;
use leaktrace::abi::Counters;
use leaktrace::abi::HeartbeatRecord;
use leaktrace::abi::Info;
use leaktrace::abi::LoadedRecord;
use leaktrace::abi::Pod;
use leaktrace::abi::RecordHeader;
use leaktrace::abi::RecordKind;
use leaktrace::abi::TestRecord;
use leaktrace::abi::ABI_VERSION;
use leaktrace::abi::EMIT_TEST_MAX;
use leaktrace::abi::IOCTL_EMIT_TEST;
use leaktrace::abi::IOCTL_GET_INFO;
use leaktrace::abi::RECORD_MAX_SIZE;
use leaktrace_core::ring::RecordRing;
use std::io;
use std::os::fd::AsRawFd;
use std::os::fd::FromRawFd;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::MutexGuard;
use std::thread;
use std::time::Duration;

/// Bugs the simulated module can have.
#[derive(Clone, Copy, Debug, Default)]
pub struct Faults {
    /// Node permissions other than 0600.
    pub mode: Option<u32>,
    /// `GET_INFO` reports another ABI version.
    pub bad_abi: bool,
    /// Close does not decrement `readers`.
    pub readers_leak: bool,
    /// A read with a too-small buffer consumes (loses) the record.
    pub short_read_consumes: bool,
    /// A read with a too-small buffer returns the record's first bytes.
    pub partial_records: bool,
    /// `O_NONBLOCK` set with `fcntl` after open is ignored.
    pub fcntl_nonblock_ignored: bool,
    /// `poll` never reports readiness.
    pub poll_never_ready: bool,
    /// No heartbeats.
    pub no_heartbeat: bool,
    /// Heartbeats carry the counters including themselves.
    pub heartbeat_counts_itself: bool,
    /// `EMIT_TEST` skips producing this index.
    pub emit_skips_index: Option<u64>,
    /// Every this many reads copy out without consuming (duplicates).
    pub redeliver_every: Option<u64>,
    /// Dropped records are not counted in `dropped` (but still numbered).
    pub drops_uncounted: bool,
    /// `EMIT_TEST` accepts 0 and too-large counts (emitting one record).
    pub emit_accepts_bad_counts: bool,
    /// Unknown ioctls fail with `EINVAL` instead of `ENOTTY`.
    pub unknown_ioctl_einval: bool,
    /// The blocking wait ignores signals.
    pub uninterruptible: bool,
    /// Records stamped with `CLOCK_REALTIME` instead of `CLOCK_MONOTONIC`.
    pub realtime_clock: bool,
}

/// The ring and the readiness pipe's state, under one lock.
struct State {
    ring: RecordRing<Vec<u8>>,
    /// Whether the pipe holds its byte.
    signalled: bool,
    /// Successful reads, for `redeliver_every`.
    reads: u64,
    /// Drops hidden by `drops_uncounted`.
    hidden_drops: u64,
}

/// What the node and its descriptors share.
struct Shared {
    state: Mutex<State>,
    /// Readable end of the readiness pipe.
    ready_r: OwnedFd,
    /// Writable end.
    ready_w: OwnedFd,
    readers: AtomicU64,
    faults: Faults,
    heartbeat_ms: u32,
    stop: AtomicBool,
}

/// `errno` as an `io::Error`.
fn errno(e: i32) -> io::Error {
    io::Error::from_raw_os_error(e)
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Makes the pipe readable exactly while the ring is not empty.
    fn update_ready(&self, st: &mut State) {
        let want = !st.ring.is_empty();
        let mut byte = 1u8;
        if want && !st.signalled {
            // SAFETY: writes one byte from `byte` to our pipe.
            let n =
                unsafe { libc::write(self.ready_w.as_raw_fd(), (&byte as *const u8).cast(), 1) };
            assert_eq!(n, 1);
            st.signalled = true;
        } else if !want && st.signalled {
            // SAFETY: reads one byte into `byte` from our pipe.
            let n =
                unsafe { libc::read(self.ready_r.as_raw_fd(), (&mut byte as *mut u8).cast(), 1) };
            assert_eq!(n, 1);
            st.signalled = false;
        }
    }

    fn now(&self) -> u64 {
        if self.faults.realtime_clock {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        } else {
            monotonic_ns()
        }
    }

    fn push(&self, st: &mut State, record: &mut [u8]) {
        let result = st
            .ring
            .push(record)
            .expect("the fake produces well-formed records");
        if self.faults.drops_uncounted && matches!(result, leaktrace_core::ring::Pushed::Dropped(_))
        {
            st.hidden_drops += 1;
        }
        self.update_ready(st);
    }

    fn counters(&self, st: &State) -> Counters {
        let mut c = st.ring.counters();
        c.dropped -= st.hidden_drops;
        c
    }

    fn heartbeat(&self) {
        let mut st = self.lock();
        let mut counters = self.counters(&st);
        if self.faults.heartbeat_counts_itself {
            counters.produced += 1;
            counters.queued += 1;
        }
        let mut record = HeartbeatRecord {
            header: RecordHeader::new::<HeartbeatRecord>(RecordKind::Heartbeat, self.now()),
            counters,
        };
        self.push(&mut st, record.as_bytes_mut());
    }

    fn emit(&self, count: u64) -> io::Result<()> {
        let count = if (1..=EMIT_TEST_MAX).contains(&count) {
            count
        } else if self.faults.emit_accepts_bad_counts {
            1
        } else {
            return Err(errno(libc::EINVAL));
        };
        let mut st = self.lock();
        for index in 0..count {
            if self.faults.emit_skips_index == Some(index) {
                continue;
            }
            let mut record = TestRecord {
                header: RecordHeader::new::<TestRecord>(RecordKind::Test, self.now()),
                index,
                burst: count,
            };
            self.push(&mut st, record.as_bytes_mut());
        }
        Ok(())
    }

    fn info(&self) -> Info {
        let st = self.lock();
        Info {
            abi_version: if self.faults.bad_abi {
                ABI_VERSION + 1
            } else {
                ABI_VERSION
            },
            reserved: 0,
            record_max_size: RECORD_MAX_SIZE as u32,
            ring_bytes: st.ring.capacity() as u64,
            counters: self.counters(&st),
            readers: self.readers.load(Ordering::SeqCst),
        }
    }
}

/// The simulated device node; drops its heartbeat thread with it.
pub struct FakeNode {
    shared: Arc<Shared>,
    heartbeat: Option<thread::JoinHandle<()>>,
}

impl FakeNode {
    /// A freshly "loaded" module: a Loaded record queued, heartbeats every
    /// `heartbeat_ms`.
    pub fn new(ring_bytes: usize, heartbeat_ms: u32, faults: Faults) -> Self {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for two descriptors.
        let ret = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) };
        assert_eq!(ret, 0, "pipe2: {}", io::Error::last_os_error());
        // SAFETY: `pipe2` returned two new descriptors we own.
        let (ready_r, ready_w) =
            unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                ring: RecordRing::new(vec![0u8; ring_bytes]),
                signalled: false,
                reads: 0,
                hidden_drops: 0,
            }),
            ready_r,
            ready_w,
            readers: AtomicU64::new(0),
            faults,
            heartbeat_ms,
            stop: AtomicBool::new(false),
        });
        {
            let mut st = shared.lock();
            let mut loaded = LoadedRecord {
                header: RecordHeader::new::<LoadedRecord>(RecordKind::Loaded, shared.now()),
                ring_bytes: ring_bytes as u32,
                heartbeat_ms,
            };
            shared.push(&mut st, loaded.as_bytes_mut());
        }
        let heartbeat = (!faults.no_heartbeat).then(|| {
            let shared = shared.clone();
            thread::spawn(move || {
                let period = Duration::from_millis(u64::from(shared.heartbeat_ms));
                while !shared.stop.load(Ordering::SeqCst) {
                    let mut slept = Duration::ZERO;
                    while slept < period && !shared.stop.load(Ordering::SeqCst) {
                        let step = Duration::from_millis(5).min(period - slept);
                        thread::sleep(step);
                        slept += step;
                    }
                    if !shared.stop.load(Ordering::SeqCst) {
                        shared.heartbeat();
                    }
                }
            })
        });
        Self { shared, heartbeat }
    }
}

impl Drop for FakeNode {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(heartbeat) = self.heartbeat.take() {
            let _ = heartbeat.join();
        }
    }
}

impl Node for FakeNode {
    fn path(&self) -> &Path {
        Path::new("/dev/leaktrace-fake")
    }

    fn stat(&self) -> io::Result<NodeStat> {
        Ok(NodeStat {
            is_char: true,
            mode: self.shared.faults.mode.unwrap_or(0o600),
            uid: 0,
            gid: 0,
            major: 10,
        })
    }

    fn open(&self, nonblocking: bool) -> io::Result<Box<dyn Fd>> {
        self.shared.readers.fetch_add(1, Ordering::SeqCst);
        Ok(Box::new(FakeFd {
            shared: self.shared.clone(),
            nonblocking: AtomicBool::new(nonblocking),
        }))
    }

    fn heartbeat_hint_ms(&self) -> Option<u64> {
        Some(u64::from(self.shared.heartbeat_ms))
    }
}

/// An open description of the simulated device.
struct FakeFd {
    shared: Arc<Shared>,
    nonblocking: AtomicBool,
}

impl Drop for FakeFd {
    fn drop(&mut self) {
        if !self.shared.faults.readers_leak {
            self.shared.readers.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

impl Fd for FakeFd {
    fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        let sh = &*self.shared;
        let f = sh.faults;
        loop {
            {
                let mut st = sh.lock();
                if let Some(size) = st.ring.next_record_size() {
                    let batch = st.ring.copy_out(buf);
                    if batch.records == 0 {
                        if f.partial_records && !buf.is_empty() {
                            let mut whole = vec![0u8; size];
                            let one = st.ring.copy_out(&mut whole);
                            st.ring.consume(one);
                            sh.update_ready(&mut st);
                            let n = buf.len().min(size);
                            buf[..n].copy_from_slice(&whole[..n]);
                            return Ok(n);
                        }
                        if f.short_read_consumes {
                            let mut whole = vec![0u8; size];
                            let one = st.ring.copy_out(&mut whole);
                            st.ring.consume(one);
                            sh.update_ready(&mut st);
                        }
                        return Err(errno(libc::EINVAL));
                    }
                    st.reads += 1;
                    let redeliver = f
                        .redeliver_every
                        .is_some_and(|n| st.reads.is_multiple_of(n));
                    if !redeliver {
                        st.ring.consume(batch);
                    }
                    sh.update_ready(&mut st);
                    return Ok(batch.bytes);
                }
            }
            if self.nonblocking.load(Ordering::SeqCst) {
                return Err(errno(libc::EAGAIN));
            }
            let mut pfd = libc::pollfd {
                fd: sh.ready_r.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid `pollfd`.
            if unsafe { libc::poll(&mut pfd, 1, -1) } < 0 {
                let err = io::Error::last_os_error();
                if err.kind() == io::ErrorKind::Interrupted && f.uninterruptible {
                    continue;
                }
                return Err(err);
            }
        }
    }

    fn poll(&self, events: i16, timeout: Duration) -> io::Result<i16> {
        if self.shared.faults.poll_never_ready {
            thread::sleep(timeout);
            return Ok(0);
        }
        let mut pfd = libc::pollfd {
            fd: self.shared.ready_r.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: one valid `pollfd`.
        if unsafe { libc::poll(&mut pfd, 1, ms) } < 0 {
            return Err(io::Error::last_os_error());
        }
        if pfd.revents & libc::POLLIN != 0 {
            Ok(events & (libc::POLLIN | libc::POLLRDNORM))
        } else {
            Ok(0)
        }
    }

    fn info(&self) -> io::Result<Info> {
        Ok(self.shared.info())
    }

    fn emit_test(&self, count: u64) -> io::Result<()> {
        self.shared.emit(count)
    }

    unsafe fn ioctl_raw(&self, request: u32, arg: *mut libc::c_void) -> io::Result<i32> {
        if request == IOCTL_GET_INFO {
            if arg.is_null() {
                return Err(errno(libc::EFAULT));
            }
            let info = self.shared.info();
            // SAFETY: the caller vouches that `arg` holds an `Info`.
            unsafe { core::ptr::write_unaligned(arg.cast::<Info>(), info) };
            Ok(0)
        } else if request == IOCTL_EMIT_TEST {
            if arg.is_null() {
                return Err(errno(libc::EFAULT));
            }
            // SAFETY: the caller vouches that `arg` holds a `u64`.
            let count = unsafe { core::ptr::read_unaligned(arg.cast::<u64>()) };
            self.shared.emit(count).map(|()| 0)
        } else if self.shared.faults.unknown_ioctl_einval {
            Err(errno(libc::EINVAL))
        } else {
            Err(errno(libc::ENOTTY))
        }
    }

    fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        if !self.shared.faults.fcntl_nonblock_ignored {
            self.nonblocking.store(on, Ordering::SeqCst);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suite;
    use crate::tap::Totals;
    use std::collections::BTreeSet;

    /// Heartbeat period of the simulated module: short enough for quick
    /// runs, long enough for the quiet windows the tests need.
    const HEARTBEAT_MS: u32 = 200;
    /// Smallest ring the module allows (16 KiB): overflows fast.
    const RING_BYTES: usize = 16 * 1024;

    /// Runs the suite against a simulated device; returns the totals, the
    /// KTAP output and the names of the failed tests.
    fn run(faults: Faults, fresh: bool) -> (Totals, String, BTreeSet<String>) {
        let node = FakeNode::new(RING_BYTES, HEARTBEAT_MS, faults);
        let mut out = Vec::new();
        let cfg = suite::Config {
            fresh,
            skip_all: None,
        };
        let totals = suite::run(&node, cfg, &mut out, &|_, _, _| {}).unwrap();
        let out = String::from_utf8(out).unwrap();
        let failed = out
            .lines()
            .filter_map(|l| l.strip_prefix("not ok "))
            .filter_map(|l| l.split_once(" - ").map(|(_, name)| name.to_owned()))
            .collect();
        (totals, out, failed)
    }

    /// Asserts that the fault makes `test` fail.
    fn assert_caught(faults: Faults, test: &str) {
        let (totals, out, failed) = run(faults, true);
        assert!(
            failed.contains(test),
            "{faults:?} not caught by {test}:\n{out}"
        );
        assert_eq!(totals.exit_status(), 1);
    }

    #[test]
    fn healthy_device_passes_everything() {
        let (totals, out, failed) = run(Faults::default(), true);
        assert!(failed.is_empty(), "{out}");
        assert_eq!(
            totals,
            Totals {
                passed: suite::planned(),
                failed: 0,
                skipped: 0
            },
            "{out}"
        );
        assert!(out.starts_with("TAP version 13\n1..13\n"), "{out}");
        assert!(
            out.ends_with("# totals: 13 passed, 0 failed, 0 skipped\n"),
            "{out}"
        );
        assert_eq!(totals.exit_status(), 0);
    }

    /// `cargo test -p lt-devtest -- --ignored --nocapture show_` prints
    /// the KTAP of a run against the healthy simulated device.
    #[test]
    #[ignore]
    fn show_healthy_run() {
        let (_, out, _) = run(Faults::default(), true);
        print!("{out}");
    }

    #[test]
    fn without_fresh_the_first_record_test_is_skipped() {
        let (totals, out, failed) = run(Faults::default(), false);
        assert!(failed.is_empty(), "{out}");
        assert_eq!(totals.skipped, 1, "{out}");
        assert!(
            out.contains("ok 3 - first_record_is_loaded # SKIP"),
            "{out}"
        );
    }

    #[test]
    fn not_root_skips_everything() {
        let node = FakeNode::new(RING_BYTES, HEARTBEAT_MS, Faults::default());
        let mut out = Vec::new();
        let cfg = suite::Config {
            fresh: true,
            skip_all: Some("must run as root".into()),
        };
        let totals = suite::run(&node, cfg, &mut out, &|_, _, _| {}).unwrap();
        assert_eq!(totals.skipped, suite::planned());
        assert_eq!(totals.exit_status(), crate::tap::KSFT_SKIP);
    }

    #[test]
    fn caught_wrong_mode() {
        let faults = Faults {
            mode: Some(0o666),
            ..Faults::default()
        };
        assert_caught(faults, "device_node_is_root_only_misc_char_device");
    }

    #[test]
    fn caught_bad_abi_and_leaking_readers() {
        let bad_abi = Faults {
            bad_abi: true,
            ..Faults::default()
        };
        assert_caught(bad_abi, "get_info");
        let leak = Faults {
            readers_leak: true,
            ..Faults::default()
        };
        assert_caught(leak, "get_info");
    }

    #[test]
    fn caught_wrong_clock() {
        let faults = Faults {
            realtime_clock: true,
            ..Faults::default()
        };
        assert_caught(faults, "first_record_is_loaded");
    }

    #[test]
    fn caught_heartbeat_counting_itself() {
        let faults = Faults {
            heartbeat_counts_itself: true,
            ..Faults::default()
        };
        assert_caught(faults, "records_well_formed_seq_increasing");
    }

    #[test]
    fn caught_short_reads() {
        let consumes = Faults {
            short_read_consumes: true,
            ..Faults::default()
        };
        assert_caught(consumes, "short_buffer_einval_consumes_nothing");
        let partial = Faults {
            partial_records: true,
            ..Faults::default()
        };
        assert_caught(partial, "short_buffer_einval_consumes_nothing");
    }

    #[test]
    fn caught_fcntl_nonblock_ignored() {
        let faults = Faults {
            fcntl_nonblock_ignored: true,
            ..Faults::default()
        };
        assert_caught(faults, "nonblocking_read_empty_eagain");
    }

    #[test]
    fn caught_poll_never_ready() {
        let faults = Faults {
            poll_never_ready: true,
            ..Faults::default()
        };
        assert_caught(faults, "poll");
    }

    #[test]
    fn caught_no_heartbeat() {
        let faults = Faults {
            no_heartbeat: true,
            ..Faults::default()
        };
        let (_, out, failed) = run(faults, true);
        for test in ["poll", "blocking_read_gets_heartbeat"] {
            assert!(
                failed.contains(test),
                "{test} passed without heartbeats:\n{out}"
            );
        }
    }

    #[test]
    fn caught_lost_test_record() {
        let faults = Faults {
            emit_skips_index: Some(300),
            ..Faults::default()
        };
        assert_caught(faults, "emit_test_burst_complete_in_order");
    }

    #[test]
    fn caught_uncounted_drops() {
        let faults = Faults {
            drops_uncounted: true,
            ..Faults::default()
        };
        assert_caught(faults, "overflow_drops_newest_and_counts_gaps");
    }

    #[test]
    fn caught_duplicate_delivery() {
        let faults = Faults {
            redeliver_every: Some(50),
            ..Faults::default()
        };
        assert_caught(faults, "concurrent_readers_split_stream");
    }

    #[test]
    fn caught_bad_ioctl_handling() {
        let counts = Faults {
            emit_accepts_bad_counts: true,
            ..Faults::default()
        };
        assert_caught(counts, "bad_ioctls");
        let einval = Faults {
            unknown_ioctl_einval: true,
            ..Faults::default()
        };
        assert_caught(einval, "bad_ioctls");
    }

    #[test]
    fn caught_uninterruptible_wait() {
        let faults = Faults {
            uninterruptible: true,
            ..Faults::default()
        };
        assert_caught(faults, "blocking_read_interruptible");
    }
}
