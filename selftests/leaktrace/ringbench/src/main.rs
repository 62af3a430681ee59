// SPDX-License-Identifier: GPL-2.0

//! ring-throughput: leaktrace's record ring (`leaktrace_core::ring`, the
//! very code the module includes) measured on the host, outside the kernel
//! and outside the testbed's emulated CPU.
//!
//! The module wraps the ring in an irq-safe spinlock: a producer takes it
//! for one record (header, clock, copy), a reader for one copy-out into its
//! bounce buffer and again to consume what reached userspace. This program
//! does the same with a lock of its own (see [`Spin`]) and `Instant::now()`
//! for the clock, for two record sizes (a 40-byte test record and a 216-byte
//! syscall record), in four runs:
//!
//! - `alternate`: bursts of a quarter ring, each read back before the next
//!   (the reader keeps up by construction): must lose nothing;
//! - `paced`: a producer thread at a set rate (default 1000000 records/s,
//!   in steps of 64 records) against a reader thread: whether a concurrent
//!   reader keeps up at that rate (nothing dropped);
//! - `freerun`: the producer as fast as it can against the reader: the
//!   most records/s the ring takes, and every record accounted for
//!   whether the reader keeps up or not;
//! - `overflow`: three ring-fulls with no reader: produced = delivered +
//!   dropped exactly, and the drops are the gaps in the sequence numbers.
//!
//! Usage: `ring-throughput [RECORDS] [RING_KIB] [RATE]` (default 2000000,
//! 256, the module's default ring, and 1000000). Prints TAP and, per run, a line
//! `# ring mode=M record=BYTES records=N seconds=S rate=R produced=..
//! delivered=.. dropped=.. gaps=..`.

use leaktrace_abi::Pod;
use leaktrace_abi::RecordHeader;
use leaktrace_abi::RecordKind;
use leaktrace_abi::SyscallRecord;
use leaktrace_abi::TestRecord;
use leaktrace_core::ring::RecordRing;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Instant;

/// The ring's size in KiB, for the report lines.
static RING_KIB: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// The kernel's read chunk (hub.rs `READ_CHUNK`).
const READ_CHUNK: usize = 64 * 1024;

/// The ring's lock. The module's is an irq-safe spinlock, held with
/// preemption off; a userspace thread cannot keep from being preempted
/// while it holds a lock (this machine is often busy), so a spinlock here
/// would measure lock-holder preemption. A mutex costs about as much
/// uncontended and degrades gracefully.
struct Spin<T>(Mutex<T>);

impl<T> Spin<T> {
    fn new(value: T) -> Self {
        Self(Mutex::new(value))
    }

    fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        f(&mut self.0.lock().expect("ring lock poisoned"))
    }
}

type Ring = Spin<RecordRing<Vec<u8>>>;

/// One record of the benchmarked kind, as a producer builds it.
trait Make: Pod {
    const NAME: &'static str;
    fn make(time_ns: u64, index: u64) -> Self;
}

impl Make for TestRecord {
    const NAME: &'static str = "test";
    fn make(time_ns: u64, index: u64) -> Self {
        TestRecord {
            header: RecordHeader::new::<TestRecord>(RecordKind::Test, time_ns),
            index,
            burst: 0,
        }
    }
}

impl Make for SyscallRecord {
    const NAME: &'static str = "syscall";
    fn make(time_ns: u64, index: u64) -> Self {
        SyscallRecord {
            header: RecordHeader::new::<SyscallRecord>(RecordKind::Syscall, time_ns),
            call_id: index,
            entry_ns: time_ns,
            ..SyscallRecord::default()
        }
    }
}

/// What a reader saw.
#[derive(Default)]
struct Seen {
    records: u64,
    gaps: u64,
    next_seq: u64,
    bad: u64,
}

impl Seen {
    fn from(seq: u64) -> Self {
        Self {
            next_seq: seq,
            ..Self::default()
        }
    }

    fn scan(&mut self, bytes: &[u8]) {
        let mut at = 0;
        while at < bytes.len() {
            let Some(h) = RecordHeader::read_from(&bytes[at..]) else {
                self.bad += 1;
                return;
            };
            if !h.is_well_formed() || h.seq < self.next_seq {
                self.bad += 1;
                return;
            }
            self.gaps += h.seq - self.next_seq;
            self.next_seq = h.seq + 1;
            self.records += 1;
            at += h.size as usize;
        }
    }
}

/// One reader pass as the module's `read()`: copy out under the lock into
/// the bounce buffer, copy to "userspace" without it, consume under it.
fn read_once(ring: &Ring, bounce: &mut [u8], user: &mut [u8], seen: &mut Seen) -> bool {
    let batch = ring.with(|r| r.copy_out(bounce));
    if batch.records == 0 {
        return false;
    }
    user[..batch.bytes].copy_from_slice(&bounce[..batch.bytes]);
    ring.with(|r| r.consume(batch));
    seen.scan(&user[..batch.bytes]);
    true
}

fn push<T: Make>(ring: &Ring, clock: &Instant, index: u64) {
    ring.with(|r| {
        let mut rec = T::make(clock.elapsed().as_nanos() as u64, index);
        let _ = r.push(rec.as_bytes_mut());
    });
}

struct Tap {
    n: u32,
    failed: u32,
}

impl Tap {
    fn result(&mut self, ok: bool, what: String) {
        self.n += 1;
        if !ok {
            self.failed += 1;
        }
        println!("{}ok {} - {}", if ok { "" } else { "not " }, self.n, what);
    }
}

#[allow(clippy::too_many_arguments)]
fn report(mode: &str, record: usize, records: u64, secs: f64, produce_secs: f64, before: leaktrace_abi::Counters, after: leaktrace_abi::Counters, seen: &Seen) {
    println!(
        "# ring mode={mode} record={record} ring_kib={} records={records} seconds={secs:.4} rate={:.0} produce_rate={:.0} produced={} delivered={} dropped={} gaps={} read={}",
        RING_KIB.load(Ordering::Relaxed),
        seen.records as f64 / secs,
        records as f64 / produce_secs,
        after.produced - before.produced,
        after.delivered - before.delivered,
        after.dropped - before.dropped,
        seen.gaps,
        seen.records
    );
}

fn accounted(before: leaktrace_abi::Counters, after: leaktrace_abi::Counters, seen: &Seen) -> bool {
    let produced = after.produced - before.produced;
    let delivered = after.delivered - before.delivered;
    let dropped = after.dropped - before.dropped;
    seen.bad == 0 && after.queued == 0 && produced == delivered + dropped && delivered == seen.records && dropped == seen.gaps
}

fn run<T: Make>(tap: &mut Tap, total: u64, ring_bytes: usize, rate: f64) {
    let size = core::mem::size_of::<T>();
    let capacity = (ring_bytes / size) as u64;
    let burst = (capacity / 4).max(1);
    let clock = Instant::now();
    let mut bounce = vec![0u8; READ_CHUNK];
    let mut user = vec![0u8; READ_CHUNK];

    // alternate: a burst, then read it all back.
    let ring: Ring = Spin::new(RecordRing::new(vec![0u8; ring_bytes]));
    let before = ring.with(|r| r.counters());
    let mut seen = Seen::from(0);
    let t0 = Instant::now();
    let mut left = total;
    while left > 0 {
        let b = left.min(burst);
        for i in 0..b {
            push::<T>(&ring, &clock, i);
        }
        while read_once(&ring, &mut bounce, &mut user, &mut seen) {}
        left -= b;
    }
    let secs = t0.elapsed().as_secs_f64();
    let after = ring.with(|r| r.counters());
    report("alternate", size, total, secs, secs, before, after, &seen);
    tap.result(
        accounted(before, after, &seen) && seen.records == total && after.dropped == 0,
        format!(
            "{} records of {size} bytes, alternate (bursts of {burst}): none lost, {:.0} records/s",
            T::NAME,
            seen.records as f64 / secs
        ),
    );

    concurrent::<T>(tap, "paced", total, ring_bytes, &clock, Some(rate));
    concurrent::<T>(tap, "freerun", total, ring_bytes, &clock, None);

    // overflow: three ring-fulls, no reader, then drain.
    let ring: Ring = Spin::new(RecordRing::new(vec![0u8; ring_bytes]));
    let over = 3 * capacity;
    let t0 = Instant::now();
    for i in 0..over {
        push::<T>(&ring, &clock, i);
    }
    let mut seen = Seen::from(0);
    while read_once(&ring, &mut bounce, &mut user, &mut seen) {}
    let after = ring.with(|r| r.counters());
    // Drops after the last record read are gaps too.
    seen.gaps += after.produced - seen.next_seq;
    let secs = t0.elapsed().as_secs_f64();
    report("overflow", size, over, secs, secs, leaktrace_abi::Counters::default(), after, &seen);
    tap.result(
        accounted(leaktrace_abi::Counters::default(), after, &seen) && after.dropped == over - seen.records,
        format!(
            "{} records, overflow: produced {} = delivered {} + dropped {}, {} seq gaps",
            T::NAME,
            after.produced,
            after.delivered,
            after.dropped,
            seen.gaps
        ),
    );
}

/// A producer thread (paced at `rate` records/s, or free-running) against
/// a reader thread.
fn concurrent<T: Make>(tap: &mut Tap, mode: &str, total: u64, ring_bytes: usize, clock: &Instant, rate: Option<f64>) {
    let size = core::mem::size_of::<T>();
    let ring: Arc<Ring> = Arc::new(Spin::new(RecordRing::new(vec![0u8; ring_bytes])));
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let ring = ring.clone();
        let done = done.clone();
        std::thread::spawn(move || {
            let mut bounce = vec![0u8; READ_CHUNK];
            let mut user = vec![0u8; READ_CHUNK];
            let mut seen = Seen::from(0);
            loop {
                let finished = done.load(Ordering::Acquire);
                if !read_once(&ring, &mut bounce, &mut user, &mut seen) {
                    if finished {
                        break;
                    }
                    std::hint::spin_loop();
                }
            }
            seen
        })
    };
    let t0 = Instant::now();
    let mut i = 0;
    while i < total {
        if let Some(rate) = rate {
            // Not before record i is due.
            let due = i as f64 / rate;
            while t0.elapsed().as_secs_f64() < due {
                std::hint::spin_loop();
            }
        }
        for _ in 0..64.min(total - i) {
            push::<T>(&ring, clock, i);
            i += 1;
        }
    }
    let produce_secs = t0.elapsed().as_secs_f64();
    done.store(true, Ordering::Release);
    let mut seen = reader.join().expect("reader thread");
    let secs = t0.elapsed().as_secs_f64();
    let after = ring.with(|r| r.counters());
    // Drops after the last record read are gaps too.
    seen.gaps += after.produced - seen.next_seq;
    let zero = leaktrace_abi::Counters::default();
    report(mode, size, total, secs, produce_secs, zero, after, &seen);
    let produced_rate = total as f64 / produce_secs;
    match rate {
        Some(rate) => tap.result(
            accounted(zero, after, &seen) && after.dropped == 0 && produced_rate >= 0.99 * rate,
            format!(
                "{} records, paced at {rate:.0}/s (got {produced_rate:.0}/s) with a concurrent reader: none lost",
                T::NAME
            ),
        ),
        None => tap.result(
            accounted(zero, after, &seen),
            format!(
                "{} records, free-running producer at {produced_rate:.0}/s: {} read, {} dropped, all accounted for",
                T::NAME,
                seen.records,
                after.dropped
            ),
        ),
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let total: u64 = args.next().map_or(2_000_000, |s| s.parse().expect("RECORDS: a number"));
    let ring_kib: usize = args.next().map_or(256, |s| s.parse().expect("RING_KIB: a number"));
    let rate: f64 = args.next().map_or(1e6, |s| s.parse().expect("RATE: a number"));
    RING_KIB.store(ring_kib, Ordering::Relaxed);
    let mut tap = Tap { n: 0, failed: 0 };
    println!("TAP version 13");
    println!("1..8");
    println!("# host ring: {ring_kib} KiB, {total} records per run");
    run::<TestRecord>(&mut tap, total, ring_kib * 1024, rate);
    run::<SyscallRecord>(&mut tap, total, ring_kib * 1024, rate);
    println!("# ring-throughput: {} passed, {} failed", tap.n - tap.failed, tap.failed);
    std::process::exit(if tap.failed == 0 { 0 } else { 1 });
}
