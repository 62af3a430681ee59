// SPDX-License-Identifier: GPL-2.0

//! The device tests, in order. They run against a [`Node`] (the real
//! `/dev/leaktrace`, or a simulated device in unit tests) and assume that
//! nobody else reads the device meanwhile (readers split the stream).
//!
//! Every record any test reads goes through one [`Decoder`] and
//! [`checks::check_record`]: a malformed record, a partial record, a
//! sequence number that does not increase, a time in the future or a
//! heartbeat whose counters do not add up fails the test that read it.
//!
//! Heartbeats arrive on their own every `heartbeat_ms`; a test that needs a
//! quiet ring retries (a few times) when one lands in the middle, and
//! fails if it never gets a quiet window.

use crate::checks;
use crate::checks::records;
use crate::checks::tests;
use crate::tap::Outcome;
use crate::tap::Tap;
use crate::tap::Totals;
use crate::target::install_interrupt_handler;
use crate::target::interrupt;
use crate::target::monotonic_ns;
use crate::target::Alarm;
use crate::target::Fd;
use crate::target::Node;
use leaktrace::abi::Counters;
use leaktrace::abi::Info;
use leaktrace::abi::TestRecord;
use leaktrace::abi::ABI_VERSION;
use leaktrace::abi::EMIT_TEST_MAX;
use leaktrace::abi::IOCTL_EMIT_TEST;
use leaktrace::abi::IOCTL_GET_INFO;
use leaktrace::abi::RECORD_MAX_SIZE;
use leaktrace::decode::Decoder;
use leaktrace::decode::Event;
use leaktrace::decode::Record;
use leaktrace::device::open_error_message;
use std::io;
use std::io::Write;
use std::os::unix::thread::JoinHandleExt;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread;
use std::time::Duration;
use std::time::Instant;

/// Size of a test record.
const TEST_SIZE: usize = core::mem::size_of::<TestRecord>();

/// Read buffer of the tests: 64 records of the largest size.
const BUF_LEN: usize = RECORD_MAX_SIZE * 64;

/// An `O_NONBLOCK` read that takes longer than this blocked.
const NONBLOCK_LIMIT: Duration = Duration::from_millis(500);

/// Draining a full ring of the largest size takes far less than this.
const DRAIN_LIMIT: Duration = Duration::from_secs(30);

/// Attempts at a step that a heartbeat can disturb.
const ATTEMPTS: usize = 5;

/// `poll` events for "readable".
const POLL_READ: i16 = libc::POLLIN | libc::POLLRDNORM;

/// Options of a run.
#[derive(Clone, Debug, Default)]
pub struct Config {
    /// The module was just loaded and nobody read yet.
    pub fresh: bool,
    /// Skip every test with this reason (e.g. not root).
    pub skip_all: Option<String>,
}

/// Why a test stopped early.
#[derive(Debug)]
enum Stop {
    /// It failed.
    Fail(String),
    /// It does not apply.
    Skip(String),
}

/// Result of a test function.
type TestResult = Result<(), Stop>;

/// Fails the current test with a formatted reason.
macro_rules! fail {
    ($($arg:tt)*) => {
        return Err(Stop::Fail(format!($($arg)*)))
    };
}

/// Fails the current test unless the condition holds.
macro_rules! ensure {
    ($cond:expr, $($arg:tt)*) => {
        if !$cond {
            fail!($($arg)*);
        }
    };
}

/// A failure from a message.
fn failure(msg: impl Into<String>) -> Stop {
    Stop::Fail(msg.into())
}

/// Whether `r` failed with `errno`.
fn is_errno<T>(r: &io::Result<T>, errno: i32) -> bool {
    matches!(r, Err(e) if e.raw_os_error() == Some(errno))
}

/// Describes a result expected to fail with `errno`, for messages.
fn describe<T: core::fmt::Debug>(r: &io::Result<T>) -> String {
    match r {
        Ok(v) => format!("success ({v:?})"),
        Err(e) => format!("error {e}"),
    }
}

/// How much `produced`, `delivered` and `dropped` grew from `before` to
/// `after` (`queued` is `after`'s); fails if one went backwards: they
/// only ever grow.
fn growth(before: &Counters, after: &Counters) -> Result<Counters, Stop> {
    let delta = |after: u64, before: u64, name: &str| {
        after.checked_sub(before).ok_or_else(|| {
            failure(format!(
                "counter {name} went backwards: {before} -> {after}"
            ))
        })
    };
    Ok(Counters {
        produced: delta(after.produced, before.produced, "produced")?,
        delivered: delta(after.delivered, before.delivered, "delivered")?,
        dropped: delta(after.dropped, before.dropped, "dropped")?,
        queued: after.queued,
    })
}

/// Which of the suite's two descriptors.
#[derive(Clone, Copy, Debug)]
enum Which {
    /// Opened without `O_NONBLOCK`.
    Blocking,
    /// Opened with `O_NONBLOCK`.
    Nonblocking,
}

/// A test: name and function.
type Test = (&'static str, fn(&mut Suite) -> TestResult);

/// The tests, in the order they run (some rely on the ones before).
const TESTS: &[Test] = &[
    ("device_node_is_root_only_misc_char_device", t_device_node),
    ("get_info", t_get_info),
    ("first_record_is_loaded", t_first_record_loaded),
    ("records_well_formed_seq_increasing", t_well_formed),
    ("short_buffer_einval_consumes_nothing", t_short_buffer),
    ("nonblocking_read_empty_eagain", t_nonblock),
    ("poll", t_poll),
    ("blocking_read_gets_heartbeat", t_blocking_read),
    ("emit_test_burst_complete_in_order", t_burst),
    ("overflow_drops_newest_and_counts_gaps", t_overflow),
    ("concurrent_readers_split_stream", t_concurrent),
    ("bad_ioctls", t_bad_ioctls),
    ("blocking_read_interruptible", t_interruptible),
];

/// Number of tests a run reports.
pub fn planned() -> usize {
    TESTS.len()
}

/// State shared by the tests of one run.
pub struct Suite<'a> {
    node: &'a dyn Node,
    cfg: Config,
    tap: Tap<'a>,
    /// Blocking descriptor, held for the whole run.
    fd: Option<Box<dyn Fd>>,
    /// `O_NONBLOCK` descriptor, held for the whole run.
    nb: Option<Box<dyn Fd>>,
    /// Why `fd`/`nb` could not be opened.
    open_error: String,
    /// From `GET_INFO`.
    ring_bytes: Option<u64>,
    /// From the Loaded record, sysfs, or assumed.
    heartbeat_ms: Option<u64>,
    /// Decodes everything this thread reads, across tests.
    decoder: Decoder,
    /// Read buffer.
    buf: Vec<u8>,
}

/// Runs every test against `node`, writing KTAP to `out`; `on_start` is
/// told each test's number and name as it starts, with the totals so far
/// (for a watchdog).
pub fn run(
    node: &dyn Node,
    cfg: Config,
    out: &mut dyn Write,
    on_start: &dyn Fn(usize, &str, Totals),
) -> io::Result<Totals> {
    let tap = Tap::start(out, TESTS.len())?;
    let mut suite = Suite {
        node,
        cfg,
        tap,
        fd: None,
        nb: None,
        open_error: String::new(),
        ring_bytes: None,
        heartbeat_ms: None,
        decoder: Decoder::new(),
        buf: vec![0u8; BUF_LEN],
    };
    if let Some(reason) = suite.cfg.skip_all.clone() {
        for (name, _) in TESTS {
            suite.tap.result(name, &Outcome::Skip(reason.clone()))?;
        }
        return suite.tap.finish();
    }
    if let Err(e) = install_interrupt_handler() {
        suite.diag(&format!("cannot install the SIGUSR1 handler: {e}"));
    }
    match (node.open(false), node.open(true)) {
        (Ok(fd), Ok(nb)) => {
            suite.fd = Some(fd);
            suite.nb = Some(nb);
        }
        (Err(e), _) | (_, Err(e)) => {
            suite.open_error = open_error_message(node.path(), &e);
            suite.diag(&suite.open_error.clone());
        }
    }
    for (name, test) in TESTS {
        on_start(suite.tap.next_number(), name, suite.tap.totals());
        let outcome = match test(&mut suite) {
            Ok(()) => Outcome::Pass,
            Err(Stop::Fail(reason)) => Outcome::Fail(reason),
            Err(Stop::Skip(reason)) => Outcome::Skip(reason),
        };
        suite.tap.result(name, &outcome)?;
    }
    suite.tap.finish()
}

impl Suite<'_> {
    /// A diagnostic line (output errors surface at the next result).
    fn diag(&mut self, text: &str) {
        let _ = self.tap.diag(text);
    }

    /// The blocking descriptor.
    fn fd(&self) -> Result<&dyn Fd, Stop> {
        self.fd
            .as_deref()
            .ok_or_else(|| failure(self.open_error.clone()))
    }

    /// `GET_INFO`, checking the counters identity.
    fn info(&self) -> Result<Info, Stop> {
        let info = self
            .fd()?
            .info()
            .map_err(|e| failure(format!("IOCTL_GET_INFO failed: {e}")))?;
        checks::identity(&info.counters).map_err(failure)?;
        Ok(info)
    }

    /// The ring's capacity in bytes.
    fn ring_bytes(&mut self) -> Result<u64, Stop> {
        if let Some(bytes) = self.ring_bytes {
            return Ok(bytes);
        }
        let bytes = self.info()?.ring_bytes;
        ensure!(bytes > 0, "GET_INFO reports a ring of 0 bytes");
        self.ring_bytes = Some(bytes);
        Ok(bytes)
    }

    /// The heartbeat period: from the Loaded record (`--fresh`), else the
    /// module parameter, else assumed to be the default 1000 ms.
    fn heartbeat(&mut self) -> Duration {
        let ms = match self.heartbeat_ms {
            Some(ms) => ms,
            None => {
                let ms = match self.node.heartbeat_hint_ms().filter(|&ms| ms > 0) {
                    Some(ms) => ms,
                    None => {
                        self.diag("heartbeat period unknown (no --fresh, module parameter unreadable): assuming 1000 ms");
                        1000
                    }
                };
                self.heartbeat_ms = Some(ms);
                ms
            }
        };
        Duration::from_millis(ms)
    }

    /// One `read` of `len` bytes on a descriptor, timed.
    fn raw_read(
        &mut self,
        which: Which,
        len: usize,
    ) -> Result<(io::Result<usize>, Duration), Stop> {
        let fd = match which {
            Which::Blocking => self.fd.as_deref(),
            Which::Nonblocking => self.nb.as_deref(),
        }
        .ok_or_else(|| failure(self.open_error.clone()))?;
        let start = Instant::now();
        let result = fd.read(&mut self.buf[..len]);
        Ok((result, start.elapsed()))
    }

    /// Decodes the first `n` bytes of the buffer, appending to `out`, and
    /// checks every record.
    fn decode(&mut self, n: usize, out: &mut Vec<Event>) -> TestResult {
        let start = out.len();
        if let Err(e) = self.decoder.decode(&self.buf[..n], out) {
            // Start afresh for the next tests: this one reports the error.
            self.decoder = Decoder::new();
            fail!("{e}");
        }
        let now = monotonic_ns();
        for record in records(&out[start..]) {
            checks::check_record(record, now).map_err(failure)?;
        }
        Ok(())
    }

    /// One `O_NONBLOCK` read of whole records into `out`; `false` on
    /// `EAGAIN` (empty ring).
    fn read_nb(&mut self, out: &mut Vec<Event>) -> Result<bool, Stop> {
        let (result, took) = self.raw_read(Which::Nonblocking, BUF_LEN)?;
        ensure!(
            took < NONBLOCK_LIMIT,
            "an O_NONBLOCK read took {took:?}: it blocked"
        );
        match result {
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(false),
            Err(e) => fail!("O_NONBLOCK read failed: {e}"),
            Ok(0) => fail!("O_NONBLOCK read returned 0 bytes (EOF) instead of records or EAGAIN"),
            Ok(n) => {
                self.decode(n, out)?;
                Ok(true)
            }
        }
    }

    /// Reads until `EAGAIN`; returns what was read.
    fn drain(&mut self) -> Result<Vec<Event>, Stop> {
        let deadline = Instant::now() + DRAIN_LIMIT;
        let mut events = Vec::new();
        while self.read_nb(&mut events)? {
            ensure!(
                Instant::now() < deadline,
                "the ring did not empty within {DRAIN_LIMIT:?} of reading"
            );
        }
        Ok(events)
    }

    /// Drains until `GET_INFO` confirms an empty ring; returns that info.
    fn drain_quiet(&mut self) -> Result<Info, Stop> {
        for _ in 0..ATTEMPTS {
            self.drain()?;
            let info = self.info()?;
            if info.counters.queued == 0 {
                return Ok(info);
            }
        }
        fail!("GET_INFO never reported an empty ring right after reading until EAGAIN")
    }

    /// Reads (waiting with `poll`) until `done(events)` or `timeout`.
    fn collect_until(
        &mut self,
        timeout: Duration,
        what: &str,
        done: impl Fn(&[Event]) -> bool,
    ) -> Result<Vec<Event>, Stop> {
        let deadline = Instant::now() + timeout;
        let mut events = Vec::new();
        while !done(&events) {
            let left = deadline.saturating_duration_since(Instant::now());
            ensure!(
                !left.is_zero(),
                "timed out after {timeout:?} waiting for {what} ({} records read)",
                records(&events).count()
            );
            if !self.read_nb(&mut events)? {
                let nb = self
                    .nb
                    .as_deref()
                    .ok_or_else(|| failure(self.open_error.clone()))?;
                match nb.poll(POLL_READ, left.min(Duration::from_millis(100))) {
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => fail!("poll failed: {e}"),
                }
            }
        }
        Ok(events)
    }
}

/// Test 1: The node is a character device of the misc major, mode 0600, owned
/// by root.
fn t_device_node(s: &mut Suite) -> TestResult {
    let path = s.node.path().display().to_string();
    let st = s
        .node
        .stat()
        .map_err(|e| failure(format!("stat {path}: {e}")))?;
    let mut problems = Vec::new();
    if !st.is_char {
        problems.push("not a character device".to_owned());
    }
    if st.mode != 0o600 {
        problems.push(format!("mode {:04o}, expected 0600", st.mode));
    }
    if st.uid != 0 || st.gid != 0 {
        problems.push(format!("owned by {}:{}, expected 0:0", st.uid, st.gid));
    }
    if st.major != 10 {
        problems.push(format!("major {}, expected 10 (misc device)", st.major));
    }
    ensure!(problems.is_empty(), "{path}: {}", problems.join("; "));
    Ok(())
}

/// Test 2: `GET_INFO` reports our ABI, sizes, consistent counters, and counts
/// open file descriptions (up on open, down on close).
fn t_get_info(s: &mut Suite) -> TestResult {
    let info = s.info()?;
    let c = info.counters;
    s.diag(&format!(
        "abi_version {} record_max_size {} ring_bytes {} produced {} delivered {} dropped {} queued {} readers {}",
        info.abi_version, info.record_max_size, info.ring_bytes, c.produced, c.delivered,
        c.dropped, c.queued, info.readers
    ));
    ensure!(
        info.abi_version == ABI_VERSION,
        "abi_version {}, expected {ABI_VERSION}",
        info.abi_version
    );
    ensure!(
        info.record_max_size as usize == RECORD_MAX_SIZE,
        "record_max_size {}, expected {RECORD_MAX_SIZE}",
        info.record_max_size
    );
    ensure!(
        info.ring_bytes >= RECORD_MAX_SIZE as u64,
        "ring_bytes {} cannot hold a record of the maximum size",
        info.ring_bytes
    );
    ensure!(
        info.reserved == 0,
        "reserved field is {}, expected 0",
        info.reserved
    );
    ensure!(
        info.readers >= 2,
        "readers {} while this test holds 2 open file descriptions",
        info.readers
    );
    s.ring_bytes = Some(info.ring_bytes);
    let extra = s
        .node
        .open(true)
        .map_err(|e| failure(format!("opening a third descriptor: {e}")))?;
    let with = s.info()?.readers;
    drop(extra);
    let after = s.info()?.readers;
    ensure!(
        with == info.readers + 1 && after == info.readers,
        "readers {} -> {with} after one more open -> {after} after its close; expected +1 then back",
        info.readers
    );
    Ok(())
}

/// Test 3: Right after load (`--fresh`), the first record is Loaded, seq 0.
fn t_first_record_loaded(s: &mut Suite) -> TestResult {
    if !s.cfg.fresh {
        return Err(Stop::Skip(
            "needs --fresh (module just loaded, never read)".into(),
        ));
    }
    let info = s.info()?;
    ensure!(
        info.counters.delivered == 0,
        "{} records were delivered before this test: not fresh",
        info.counters.delivered
    );
    let mut events = Vec::new();
    ensure!(
        s.read_nb(&mut events)?,
        "ring empty right after load: no Loaded record queued"
    );
    match events.first() {
        Some(Event::Record(Record::Loaded(loaded))) => {
            let ring = loaded.ring_bytes;
            let hb = loaded.heartbeat_ms;
            s.diag(&format!("Loaded: ring_bytes {ring} heartbeat_ms {hb}"));
            ensure!(
                loaded.header.seq == 0,
                "Loaded record has seq {}",
                loaded.header.seq
            );
            ensure!(hb > 0, "Loaded record has heartbeat_ms 0");
            ensure!(
                u64::from(ring) == info.ring_bytes,
                "Loaded record's ring_bytes {ring} differs from GET_INFO's {}",
                info.ring_bytes
            );
            s.heartbeat_ms = Some(u64::from(hb));
            Ok(())
        }
        other => fail!("first record is {other:?}, expected Loaded"),
    }
}

/// Test 4: Every record read is well formed and seqs strictly increase
/// (checked on everything read so far, plus a burst and a heartbeat).
fn t_well_formed(s: &mut Suite) -> TestResult {
    let hb = s.heartbeat();
    s.drain()?;
    s.fd()?
        .emit_test(100)
        .map_err(|e| failure(format!("EMIT_TEST(100): {e}")))?;
    let events = s.collect_until(
        3 * hb + Duration::from_secs(2),
        "100 test records and a heartbeat",
        |ev| tests(ev).len() >= 100 && records(ev).any(|r| matches!(r, Record::Heartbeat(_))),
    )?;
    let got = tests(&events);
    let want: Vec<(u64, u64)> = (0..100).map(|i| (i, 100)).collect();
    ensure!(got == want, "test records read back: {got:?}");
    s.diag(&format!(
        "{} bytes read so far, all whole, well-formed records; last seq {:?}",
        s.decoder.offset(),
        s.decoder.last_seq()
    ));
    Ok(())
}

/// Test 5: A buffer smaller than the queued record gets `EINVAL` and consumes
/// nothing; a buffer of exactly its size gets it.
fn t_short_buffer(s: &mut Suite) -> TestResult {
    for _ in 0..ATTEMPTS {
        let before = s.drain_quiet()?.counters;
        s.fd()?
            .emit_test(1)
            .map_err(|e| failure(format!("EMIT_TEST(1): {e}")))?;
        let c1 = s.info()?.counters;
        if c1.produced > before.produced + 1 {
            s.diag("a heartbeat raced the test record; again");
            continue;
        }
        ensure!(
            c1.produced == before.produced + 1 && c1.queued == 1,
            "after emitting 1 record into an empty ring: {c1:?} (before: {before:?})"
        );
        for len in [8, TEST_SIZE - 1] {
            let (result, _) = s.raw_read(Which::Nonblocking, len)?;
            ensure!(
                is_errno(&result, libc::EINVAL),
                "read with a {len}-byte buffer and a {TEST_SIZE}-byte record queued: {}, expected EINVAL",
                describe(&result)
            );
        }
        let c2 = s.info()?.counters;
        if c2.produced != c1.produced {
            s.diag("a heartbeat arrived during the short reads; again");
            continue;
        }
        ensure!(
            c2 == c1,
            "the failed short reads changed the counters: {c1:?} -> {c2:?}"
        );
        let (result, _) = s.raw_read(Which::Nonblocking, TEST_SIZE)?;
        ensure!(
            matches!(result, Ok(n) if n == TEST_SIZE),
            "read with a buffer of exactly the record's {TEST_SIZE} bytes: {}",
            describe(&result)
        );
        let mut events = Vec::new();
        s.decode(TEST_SIZE, &mut events)?;
        match records(&events).next() {
            Some(Record::Test(t)) if t.index == 0 && t.burst == 1 => {
                ensure!(
                    t.header.seq == c1.produced - 1,
                    "the test record has seq {}, expected {}",
                    t.header.seq,
                    c1.produced - 1
                );
            }
            other => fail!("read {other:?}, expected the test record (index 0, burst 1)"),
        }
        let c3 = s.info()?.counters;
        if c3.produced == c2.produced {
            ensure!(
                c3.delivered == c2.delivered + 1 && c3.queued == 0,
                "after reading the record: {c3:?} (before: {c2:?})"
            );
        }
        return Ok(());
    }
    fail!("heartbeats disturbed all {ATTEMPTS} attempts")
}

/// Classifies a read expected to fail with `EAGAIN` on an empty ring:
/// `Ok(true)` if it did, `Ok(false)` if a record raced in (after decoding
/// it), an error if it blocked or failed otherwise.
fn expect_eagain(
    s: &mut Suite,
    result: io::Result<usize>,
    took: Duration,
    what: &str,
) -> Result<bool, Stop> {
    match result {
        Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => {
            ensure!(took < NONBLOCK_LIMIT, "{what}: EAGAIN only after {took:?}");
            Ok(true)
        }
        Ok(n) if n > 0 => {
            let mut events = Vec::new();
            s.decode(n, &mut events)?;
            ensure!(
                took < Duration::from_millis(100),
                "{what} on an empty ring blocked {took:?} until a record arrived"
            );
            Ok(false)
        }
        other => fail!(
            "{what} on an empty ring: {}, expected EAGAIN",
            describe(&other)
        ),
    }
}

/// Test 6: `O_NONBLOCK` (from `open` and from `fcntl`) on an empty ring gets
/// `EAGAIN` at once.
fn t_nonblock(s: &mut Suite) -> TestResult {
    let mut from_open = false;
    let mut from_fcntl = false;
    for _ in 0..ATTEMPTS {
        s.drain()?;
        if !from_open {
            let (result, took) = s.raw_read(Which::Nonblocking, BUF_LEN)?;
            from_open = expect_eagain(s, result, took, "read on an fd opened O_NONBLOCK")?;
        }
        if from_open && !from_fcntl {
            s.fd()?
                .set_nonblocking(true)
                .map_err(|e| failure(format!("fcntl(O_NONBLOCK): {e}")))?;
            let (result, took) = s.raw_read(Which::Blocking, BUF_LEN)?;
            s.fd()?
                .set_nonblocking(false)
                .map_err(|e| failure(format!("fcntl(~O_NONBLOCK): {e}")))?;
            from_fcntl = expect_eagain(s, result, took, "read on an fd set O_NONBLOCK by fcntl")?;
        }
        if from_open && from_fcntl {
            return Ok(());
        }
        s.diag("a heartbeat raced the empty-ring read; again");
    }
    fail!("never saw EAGAIN in {ATTEMPTS} attempts (from open: {from_open}, from fcntl: {from_fcntl})")
}

/// Test 7: `poll` reports `POLLIN|POLLRDNORM` with a record queued, times out on
/// an empty ring, and wakes when a heartbeat arrives.
fn t_poll(s: &mut Suite) -> TestResult {
    let hb = s.heartbeat();
    // Readable with a record queued.
    s.drain()?;
    s.fd()?
        .emit_test(1)
        .map_err(|e| failure(format!("EMIT_TEST(1): {e}")))?;
    let revents = s
        .fd()?
        .poll(POLL_READ, Duration::ZERO)
        .map_err(|e| failure(format!("poll: {e}")))?;
    ensure!(
        revents & POLL_READ == POLL_READ,
        "poll with a record queued: revents {revents:#x}, expected POLLIN|POLLRDNORM"
    );
    s.drain()?;

    // Not readable when empty.
    let short = Duration::from_millis(50).min(hb / 4);
    let mut quiet = false;
    for _ in 0..ATTEMPTS {
        s.drain()?;
        let revents = s
            .fd()?
            .poll(POLL_READ, short)
            .map_err(|e| failure(format!("poll: {e}")))?;
        if revents == 0 {
            quiet = true;
            break;
        }
        let mut events = Vec::new();
        ensure!(
            s.read_nb(&mut events)?,
            "poll on an empty ring reported revents {revents:#x} but a read got EAGAIN"
        );
        s.diag("a heartbeat raced the empty-ring poll; again");
    }
    ensure!(
        quiet,
        "poll never timed out on an empty ring in {ATTEMPTS} attempts"
    );

    // Woken by the next heartbeat.
    s.drain()?;
    let start = Instant::now();
    let wait = 3 * hb;
    let revents = loop {
        let left = wait.saturating_sub(start.elapsed());
        match s.fd()?.poll(POLL_READ, left) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted && !left.is_zero() => continue,
            Err(e) => fail!("poll: {e}"),
            Ok(revents) => break revents,
        }
    };
    let took = start.elapsed();
    ensure!(
        revents & libc::POLLIN != 0,
        "poll did not report POLLIN within {wait:?} (heartbeat every {hb:?}); revents {revents:#x}"
    );
    let mut events = Vec::new();
    ensure!(
        s.read_nb(&mut events)?,
        "poll woke with POLLIN but a read got EAGAIN"
    );
    match records(&events).next() {
        Some(Record::Heartbeat(_)) => {}
        other => {
            fail!("poll woke after {took:?} but the record read is {other:?}, expected a heartbeat")
        }
    }
    s.diag(&format!("poll woke after {took:?}"));
    Ok(())
}

/// Test 8: A blocking read on an empty ring returns the next heartbeat within
/// about two periods; with nothing else produced, its counters are exactly
/// those before it (`produced == seq`).
fn t_blocking_read(s: &mut Suite) -> TestResult {
    let hb = s.heartbeat();
    let limit = 2 * hb + Duration::from_millis(250);
    s.drain()?;
    let alarm = Alarm::arm(limit);
    let (result, took) = s.raw_read(Which::Blocking, BUF_LEN)?;
    drop(alarm);
    let n = match result {
        Err(e) if e.kind() == io::ErrorKind::Interrupted => {
            fail!("a blocking read on an empty ring did not return within {limit:?} (heartbeat every {hb:?})")
        }
        Err(e) => fail!("blocking read failed: {e}"),
        Ok(0) => fail!("blocking read returned 0 bytes (EOF)"),
        Ok(n) => n,
    };
    let mut events = Vec::new();
    s.decode(n, &mut events)?;
    ensure!(
        matches!(records(&events).next(), Some(Record::Heartbeat(_))),
        "blocking read returned {:?}, expected a heartbeat",
        records(&events).next()
    );
    for record in records(&events) {
        if let Record::Heartbeat(h) = record {
            ensure!(
                h.counters.produced == h.header.seq,
                "heartbeat seq {} carries produced {}: not the counters as of just before it",
                h.header.seq,
                h.counters.produced
            );
        }
    }
    s.diag(&format!("blocking read returned after {took:?}"));
    Ok(())
}

/// Test 9: A burst of 1000 test records comes back whole: indices in order,
/// no seq gap, nothing dropped, every record counted delivered.
fn t_burst(s: &mut Suite) -> TestResult {
    let ring = s.ring_bytes()?;
    // Leave room for a heartbeat or two queued meanwhile.
    let fits = ring.saturating_sub(RECORD_MAX_SIZE as u64) / TEST_SIZE as u64;
    let n = fits.min(1000);
    ensure!(n > 0, "the ring ({ring} bytes) holds no burst");
    if n < 1000 {
        s.diag(&format!(
            "ring of {ring} bytes: burst of {n} instead of 1000"
        ));
    }
    let before = s.drain_quiet()?.counters;
    s.fd()?
        .emit_test(n)
        .map_err(|e| failure(format!("EMIT_TEST({n}): {e}")))?;
    let events = s.collect_until(Duration::from_secs(10), "the burst", |ev| {
        tests(ev).len() as u64 >= n
    })?;
    checks::check_complete_burst(&events, n).map_err(failure)?;
    let first = records(&events).next().map(Record::seq);
    ensure!(
        first == Some(before.produced),
        "first record after an empty ring has seq {first:?}, expected the produced counter {}",
        before.produced
    );
    let grew = growth(&before, &s.info()?.counters)?;
    let read = records(&events).count() as u64;
    ensure!(grew.dropped == 0, "{} records dropped", grew.dropped);
    ensure!(
        grew.delivered == read,
        "{read} records read but delivered grew by {}",
        grew.delivered
    );
    Ok(())
}

/// Test 10: Overflowing the ring drops the newest records, and the dropped
/// counter grows by exactly the seq gaps a reader sees; after draining,
/// a fresh burst comes back complete.
fn t_overflow(s: &mut Suite) -> TestResult {
    let ring = s.ring_bytes()?;
    let capacity = ring / TEST_SIZE as u64;
    let total = capacity + 100;
    let before = s.drain_quiet()?.counters;
    let mut chunks = Vec::new();
    let mut left = total;
    while left > 0 {
        let chunk = left.min(EMIT_TEST_MAX);
        s.fd()?
            .emit_test(chunk)
            .map_err(|e| failure(format!("EMIT_TEST({chunk}): {e}")))?;
        chunks.push(chunk);
        left -= chunk;
    }
    let full = growth(&before, &s.info()?.counters)?;
    ensure!(
        full.dropped >= 100,
        "emitting {total} records into a ring that holds at most {capacity} dropped only {}",
        full.dropped
    );
    let overflowed = s.drain()?;
    let delivered =
        checks::check_delivered_prefix(&tests(&overflowed), &chunks).map_err(failure)?;
    let drained = s.info()?.counters;

    // The ring recovered: a fresh burst comes back complete.
    let fresh = (capacity / 2).min(500);
    s.fd()?
        .emit_test(fresh)
        .map_err(|e| failure(format!("EMIT_TEST({fresh}): {e}")))?;
    let mut again = s.collect_until(Duration::from_secs(10), "the fresh burst", |ev| {
        tests(ev).len() as u64 >= fresh
    })?;
    // Its first record may reveal drops at the end of the overflow.
    if let Some(Event::Lost { .. }) = again.first() {
        again.remove(0);
    }
    checks::check_complete_burst(&again, fresh)
        .map_err(|e| failure(format!("fresh burst after the overflow: {e}")))?;
    let end = s.info()?.counters;
    let recovered = growth(&drained, &end)?;
    ensure!(
        recovered.dropped == 0,
        "{} records dropped during the fresh burst: the ring did not recover",
        recovered.dropped
    );

    let seqs: Vec<u64> = records(&overflowed)
        .chain(records(&again))
        .map(Record::seq)
        .collect();
    let gaps = checks::missing_seqs(before.produced, &seqs).map_err(failure)?;
    let grew = growth(&before, &end)?;
    let dropped = grew.dropped;
    s.diag(&format!(
        "emitted {total} into a ring of {capacity} test records: {delivered} delivered, \
         {dropped} dropped, {gaps} seq gaps"
    ));
    ensure!(
        gaps == dropped,
        "{gaps} records missing from the seqs read but the dropped counter grew by {dropped}"
    );
    ensure!(
        grew.delivered == seqs.len() as u64,
        "{} records read but delivered grew by {}",
        seqs.len(),
        grew.delivered
    );
    Ok(())
}

/// What one concurrent reader saw.
#[derive(Debug, Default)]
struct ReaderLog {
    /// Sequence numbers, in the order read.
    seqs: Vec<u64>,
    /// Test records among them.
    tests: u64,
    /// Successful reads.
    reads: u64,
    /// What went wrong, if anything.
    error: Option<String>,
}

/// Body of a concurrent reader: blocking reads until `stop`. Its buffer
/// is the smallest that always makes progress, so that a burst takes many
/// reads and the two readers contend for it.
fn concurrent_reader(fd: Box<dyn Fd>, stop: Arc<AtomicBool>) -> ReaderLog {
    let mut log = ReaderLog::default();
    let mut decoder = Decoder::new();
    let mut buf = vec![0u8; RECORD_MAX_SIZE];
    let mut events = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        let n = match fd.read(&mut buf) {
            Ok(0) => {
                log.error = Some("blocking read returned 0 bytes (EOF)".into());
                break;
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                log.error = Some(format!("blocking read failed: {e}"));
                break;
            }
        };
        log.reads += 1;
        events.clear();
        if let Err(e) = decoder.decode(&buf[..n], &mut events) {
            log.error = Some(e.to_string());
            break;
        }
        let now = monotonic_ns();
        for record in records(&events) {
            if let Err(e) = checks::check_record(record, now) {
                log.error = Some(e);
                return log;
            }
            log.seqs.push(record.seq());
            if let Record::Test(_) = record {
                log.tests += 1;
            }
        }
    }
    log
}

/// Test 11: Two readers with their own descriptors, reading while 20000 test
/// records are emitted in bursts of 500, split the stream: no record twice,
/// none partial, and read + dropped + queued accounts for every record.
fn t_concurrent(s: &mut Suite) -> TestResult {
    const TOTAL: u64 = 20_000;
    const BURST: u64 = 500;
    let hb = s.heartbeat();
    let before = s.drain_quiet()?;
    let stop = Arc::new(AtomicBool::new(false));
    let mut readers = Vec::new();
    for _ in 0..2 {
        let fd = s
            .node
            .open(false)
            .map_err(|e| failure(format!("opening a reader's descriptor: {e}")))?;
        let stop = stop.clone();
        readers.push(thread::spawn(move || concurrent_reader(fd, stop)));
    }
    let mut outcome: TestResult = Ok(());
    match s.info() {
        Ok(info) if info.readers != before.readers + 2 => {
            outcome = Err(failure(format!(
                "readers {} with two more descriptors open, expected {}",
                info.readers,
                before.readers + 2
            )))
        }
        Ok(_) => {}
        Err(e) => outcome = Err(e),
    }
    // A reader that ended early hit an error: stop feeding the ring.
    let reader_ended =
        |readers: &[thread::JoinHandle<ReaderLog>]| readers.iter().any(|r| r.is_finished());
    for _ in 0..TOTAL / BURST {
        if outcome.is_err() || reader_ended(&readers) {
            break;
        }
        if let Err(e) = s.fd()?.emit_test(BURST) {
            outcome = Err(failure(format!("EMIT_TEST({BURST}): {e}")));
            break;
        }
        // Pace the bursts (up to 200 ms each) so that the readers race for
        // every one of them instead of the ring overflowing.
        let paced = Instant::now() + Duration::from_millis(200);
        while Instant::now() < paced {
            match s.info() {
                Ok(info) if info.counters.queued == 0 => break,
                Ok(_) => thread::sleep(Duration::from_millis(1)),
                Err(e) => {
                    outcome = Err(e);
                    break;
                }
            }
        }
    }
    // Let the readers empty the ring, then stop them.
    let deadline = Instant::now() + Duration::from_secs(10);
    while outcome.is_ok() && !reader_ended(&readers) {
        match s.info() {
            Ok(info) if info.counters.queued == 0 => break,
            Ok(info) if Instant::now() > deadline => {
                outcome = Err(failure(format!(
                    "the readers left {} records queued for 10 s",
                    info.counters.queued
                )))
            }
            Ok(_) => thread::sleep(Duration::from_millis(10)),
            Err(e) => outcome = Err(e),
        }
    }
    // From here on, stop the readers before any return: a reader left
    // running would steal the records of the tests after this one.
    stop.store(true, Ordering::SeqCst);
    let stop_deadline = Instant::now() + 2 * hb + Duration::from_secs(2);
    while readers.iter().any(|r| !r.is_finished()) {
        if Instant::now() > stop_deadline {
            fail!("a reader blocked in read() did not return after repeated signals and {hb:?} heartbeats");
        }
        for reader in readers.iter().filter(|r| !r.is_finished()) {
            interrupt(reader.as_pthread_t());
        }
        thread::sleep(Duration::from_millis(20));
    }
    let logs: Vec<ReaderLog> = readers
        .into_iter()
        .map(|r| {
            r.join().unwrap_or_else(|_| ReaderLog {
                error: Some("reader thread panicked".into()),
                ..ReaderLog::default()
            })
        })
        .collect();
    outcome?;
    let after = s.info()?;
    for (i, log) in logs.iter().enumerate() {
        s.diag(&format!(
            "reader {i}: {} reads, {} records, {} test records",
            log.reads,
            log.seqs.len(),
            log.tests
        ));
        if let Some(e) = &log.error {
            fail!("reader {i}: {e}");
        }
    }
    let (b, a) = (before.counters, after.counters);
    let grew = growth(&b, &a)?;
    let (produced, dropped) = (grew.produced, grew.dropped);
    s.diag(&format!(
        "produced {produced}, dropped {dropped}, queued at the end {}",
        a.queued
    ));
    let seqs: Vec<Vec<u64>> = logs.iter().map(|l| l.seqs.clone()).collect();
    checks::check_split(b.produced, &seqs, produced, dropped, a.queued).map_err(failure)?;
    let tests_read: u64 = logs.iter().map(|l| l.tests).sum();
    ensure!(
        tests_read <= TOTAL && tests_read + dropped >= TOTAL,
        "{tests_read} test records read of {TOTAL} emitted, with {dropped} records dropped"
    );
    let read: u64 = seqs.iter().map(|v| v.len() as u64).sum();
    ensure!(
        grew.delivered == read,
        "delivered grew by {} but the readers got {read} records",
        grew.delivered
    );
    Ok(())
}

/// `_IOC` field masks (include/uapi/asm-generic/ioctl.h), to derive bad
/// numbers from the real ones.
const IOC_NR_MASK: u32 = 0xff;
/// See [`IOC_NR_MASK`].
const IOC_TYPE_MASK: u32 = 0xff << 8;
/// See [`IOC_NR_MASK`].
const IOC_SIZE_MASK: u32 = 0x3fff << 16;
/// See [`IOC_NR_MASK`].
const IOC_DIR_MASK: u32 = 0x3 << 30;

/// Test 12: Unknown ioctls get `ENOTTY`, bad `EMIT_TEST` counts `EINVAL`, bad
/// pointers `EFAULT`; none of them changes the counters.
fn t_bad_ioctls(s: &mut Suite) -> TestResult {
    let unknown = [
        ("an unknown number", (IOCTL_GET_INFO & !IOC_NR_MASK) | 0x7f),
        (
            "GET_INFO with a wrong size",
            (IOCTL_GET_INFO & !IOC_SIZE_MASK) | ((core::mem::size_of::<Info>() as u32 - 8) << 16),
        ),
        (
            "EMIT_TEST with the read direction",
            (IOCTL_EMIT_TEST & !IOC_DIR_MASK) | (2 << 30),
        ),
        (
            "GET_INFO's number without direction and size",
            IOCTL_GET_INFO & (IOC_TYPE_MASK | IOC_NR_MASK),
        ),
        (
            "another driver's type",
            (IOCTL_GET_INFO & !IOC_TYPE_MASK) | (u32::from(b'X') << 8),
        ),
        ("TCGETS", libc::TCGETS as u32),
    ];
    for _ in 0..ATTEMPTS {
        let fd = s.fd()?;
        let before = s.info()?;
        let mut problems = Vec::new();
        // Valid memory behind the pointer, in case the request is wrongly
        // taken for one that reads or writes.
        let mut scratch = [0u8; 256];
        for (what, request) in unknown {
            // SAFETY: `scratch` is larger than anything any leaktrace
            // request reads or writes.
            let r = unsafe { fd.ioctl_raw(request, scratch.as_mut_ptr().cast()) };
            if !is_errno(&r, libc::ENOTTY) {
                problems.push(format!(
                    "{what} ({request:#x}): {}, expected ENOTTY",
                    describe(&r)
                ));
            }
        }
        // A module that accepted these would flood the ring (or loop for
        // ages for u64::MAX): try the enormous one only if the others fail.
        let mut counts_rejected = true;
        for count in [0, EMIT_TEST_MAX + 1] {
            let r = fd.emit_test(count);
            if !is_errno(&r, libc::EINVAL) {
                counts_rejected = false;
                problems.push(format!(
                    "EMIT_TEST({count}): {}, expected EINVAL",
                    describe(&r)
                ));
            }
        }
        if counts_rejected {
            let r = fd.emit_test(u64::MAX);
            if !is_errno(&r, libc::EINVAL) {
                problems.push(format!(
                    "EMIT_TEST(u64::MAX): {}, expected EINVAL",
                    describe(&r)
                ));
            }
        }
        for (what, request) in [("GET_INFO", IOCTL_GET_INFO), ("EMIT_TEST", IOCTL_EMIT_TEST)] {
            // SAFETY: a null pointer; the module must fail with EFAULT.
            let r = unsafe { fd.ioctl_raw(request, core::ptr::null_mut()) };
            if !is_errno(&r, libc::EFAULT) {
                problems.push(format!(
                    "{what} with a null pointer: {}, expected EFAULT",
                    describe(&r)
                ));
            }
        }
        ensure!(problems.is_empty(), "{}", problems.join("; "));
        let after = s.info()?;
        if after.counters.produced == before.counters.produced + 1
            && after.counters.queued == before.counters.queued + 1
        {
            // Most likely a heartbeat: check that on a quiet ring.
            s.drain()?;
            s.diag("a record was produced during the bad ioctls (a heartbeat?); again");
            continue;
        }
        ensure!(
            after.counters == before.counters && after.readers == before.readers,
            "the rejected ioctls changed the state: {:?} readers {} -> {:?} readers {}",
            before.counters,
            before.readers,
            after.counters,
            after.readers
        );
        return Ok(());
    }
    fail!("records were produced during the bad ioctls in all {ATTEMPTS} attempts")
}

/// Test 13: A blocking read on an empty ring is interruptible: a signal makes
/// it fail with `EINTR` (no `SA_RESTART`) without consuming anything.
fn t_interruptible(s: &mut Suite) -> TestResult {
    let hb = s.heartbeat();
    if hb < Duration::from_millis(40) {
        return Err(Stop::Skip(format!(
            "heartbeat every {hb:?}: no quiet window to interrupt a read in"
        )));
    }
    let signal_after = hb / 4;
    // A read that returns data this soon after the signal may have had it
    // arrive at the same time; later, the signal was ignored.
    let ambiguous = signal_after + Duration::from_millis(20);
    for _ in 0..ATTEMPTS {
        let before: Counters = s.drain_quiet()?.counters;
        let alarm = Alarm::arm(signal_after);
        let (result, took) = s.raw_read(Which::Blocking, BUF_LEN)?;
        drop(alarm);
        match result {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                let after = s.info()?.counters;
                if after.produced == before.produced {
                    ensure!(
                        after == before,
                        "the interrupted read changed the counters: {before:?} -> {after:?}"
                    );
                }
                s.diag(&format!(
                    "EINTR after {took:?} (signalled at {signal_after:?})"
                ));
                return Ok(());
            }
            Err(e) => fail!("blocking read failed with {e}, expected EINTR"),
            Ok(0) => fail!("blocking read returned 0 bytes (EOF)"),
            Ok(n) => {
                let mut events = Vec::new();
                s.decode(n, &mut events)?;
                ensure!(
                    took < ambiguous,
                    "blocking read ignored the signal sent at {signal_after:?} and returned \
                     records after {took:?}: the wait is not interruptible"
                );
                s.diag("a record arrived before the signal; again");
            }
        }
    }
    fail!("records kept arriving within {signal_after:?} in {ATTEMPTS} attempts")
}
