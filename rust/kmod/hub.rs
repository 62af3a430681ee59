// SPDX-License-Identifier: GPL-2.0

//! The event hub: the ring of records, the readers waiting on it, and the
//! producers feeding it.
//!
//! Producers (the heartbeat timer in softirq context today, vCPU threads
//! later) take the ring's irq-safe spinlock only long enough to copy one
//! record in; they never sleep and never wait for readers. Readers are
//! serialised by a mutex that also owns the bounce buffer, so that records
//! are copied to userspace without the spinlock held and consumed only once
//! the copy succeeded.

use crate::abi::Counters;
use crate::abi::DiffusionRecord;
use crate::abi::FileRecord;
use crate::abi::HeartbeatRecord;
use crate::abi::Info;
use crate::abi::LoadedRecord;
use crate::abi::Pod;
use crate::abi::RecordHeader;
use crate::abi::RecordKind;
use crate::abi::SyscallRecord;
use crate::abi::TestRecord;
use crate::abi::ABI_VERSION;
use crate::abi::EMIT_TEST_MAX;
use crate::abi::RECORD_MAX_SIZE;
use crate::ring::PushError;
use crate::ring::Pushed;
use crate::ring::RecordRing;
use crate::shim;
use kernel::bindings;
use kernel::fs::File;
use kernel::impl_has_hr_timer;
use kernel::new_mutex;
use kernel::new_poll_condvar;
use kernel::new_spinlock_irq;
use kernel::pr_warn_once;
use kernel::prelude::*;
use kernel::sync::atomic::ordering;
use kernel::sync::atomic::Atomic;
use kernel::sync::poll::PollCondVar;
use kernel::sync::poll::PollTable;
use kernel::sync::Arc;
use kernel::sync::ArcBorrow;
use kernel::sync::Mutex;
use kernel::sync::SpinLockIrq;
use kernel::time::hrtimer::HrTimer;
use kernel::time::hrtimer::HrTimerCallback;
use kernel::time::hrtimer::HrTimerCallbackContext;
use kernel::time::hrtimer::HrTimerRestart;
use kernel::time::hrtimer::RelativeSoftMode;
use kernel::time::Delta;
use kernel::time::Monotonic;
use kernel::uaccess::UserSliceWriter;

/// Most bytes one `read()` copies: bounds the bounce buffer.
const READ_CHUNK: usize = 64 * 1024;

const _: () = assert!(READ_CHUNK >= RECORD_MAX_SIZE);

/// Shared state behind `/dev/leaktrace`.
#[pin_data]
pub(crate) struct Hub {
    /// The records, and their accounting.
    #[pin]
    ring: SpinLockIrq<RecordRing<KVVec<u8>>>,
    /// Signalled whenever a record is queued; also the poll wait queue.
    #[pin]
    readable: PollCondVar,
    /// Serialises readers; owns the bounce buffer they copy through.
    #[pin]
    reader: Mutex<KVVec<u8>>,
    /// Produces a heartbeat record every `heartbeat_period`.
    #[pin]
    heartbeat: HrTimer<Hub>,
    heartbeat_period: Delta,
    /// Open file descriptions of the device.
    open_files: Atomic<u64>,
}

impl Hub {
    /// Allocates a hub with a ring of `ring_bytes` bytes.
    pub(crate) fn new(ring_bytes: usize, heartbeat_ms: u32) -> Result<Arc<Self>> {
        let storage = KVVec::from_elem(0u8, ring_bytes, GFP_KERNEL)?;
        let bounce = KVVec::from_elem(0u8, READ_CHUNK, GFP_KERNEL)?;
        Arc::pin_init(
            try_pin_init!(Self {
                ring <- new_spinlock_irq!(RecordRing::new(storage), "leaktrace_ring"),
                readable <- new_poll_condvar!("leaktrace_readable"),
                reader <- new_mutex!(bounce, "leaktrace_reader"),
                heartbeat <- HrTimer::new(),
                heartbeat_period: Delta::from_millis(heartbeat_ms.into()),
                open_files: Atomic::new(0),
            }? Error),
            GFP_KERNEL,
        )
    }

    /// Period of the heartbeat timer.
    pub(crate) fn heartbeat_period(&self) -> Delta {
        self.heartbeat_period
    }

    /// Builds a record from the current counters and queues it, atomically
    /// with respect to other producers. Never sleeps.
    fn emit_with<T: Pod>(&self, build: impl FnOnce(&Counters) -> T) {
        let pushed = {
            let mut ring = self.ring.lock();
            let mut record = build(&ring.counters());
            ring.push(record.as_bytes_mut())
        };
        self.pushed(pushed);
    }

    /// Wakes readers for a queued record; a malformed one is our bug.
    fn pushed(&self, pushed: core::result::Result<Pushed, PushError>) {
        match pushed {
            Ok(Pushed::Queued(_)) => self.readable.notify_all(),
            // Counted by the ring and visible to readers as a `seq` gap.
            Ok(Pushed::Dropped(_)) => {}
            Err(PushError::Malformed) => {
                pr_warn_once!("dropped a malformed record (size mismatch): a leaktrace bug\n")
            }
        }
    }

    /// Queues `record` (its header's `seq` is stamped by the ring). Never
    /// sleeps; a full ring drops and counts it.
    pub(crate) fn emit<T: Pod>(&self, record: T) {
        self.emit_with(|_| record);
    }

    /// Queues a system call record: bulk, dropped first when the reader
    /// falls behind (it leaves the ring's reserve to rarer records).
    pub(crate) fn emit_syscall(&self, record: &mut SyscallRecord) {
        let pushed = self.ring.lock().push_bulk(record.as_bytes_mut());
        self.pushed(pushed);
    }

    /// Queues a file record, cut to the size its path needs; bulk, like
    /// system call records.
    pub(crate) fn emit_file(&self, record: &mut FileRecord) {
        let size = FileRecord::size_for(record.path_len as usize);
        // Cannot truncate: FILE_PATH_MAX-sized records fit RECORD_MAX_SIZE.
        record.header.size = size as u16;
        let pushed = self.ring.lock().push_bulk(&mut record.as_bytes_mut()[..size]);
        self.pushed(pushed);
    }

    /// Queues a diffusion record, cut to the size its names need.
    pub(crate) fn emit_diffusion(&self, record: &mut DiffusionRecord) {
        let size = DiffusionRecord::size_for(record.names_len());
        // Cannot truncate: full-sized records fit RECORD_MAX_SIZE.
        record.header.size = size as u16;
        let pushed = self.ring.lock().push(&mut record.as_bytes_mut()[..size]);
        self.pushed(pushed);
    }

    /// Queues the record that opens every stream.
    pub(crate) fn emit_loaded(&self) {
        let ring_bytes = self.ring.lock().capacity();
        let heartbeat_ms = self.heartbeat_period.as_millis();
        self.emit_with(|_| LoadedRecord {
            header: RecordHeader::new::<LoadedRecord>(RecordKind::Loaded, shim::clock_ns()),
            ring_bytes: ring_bytes.try_into().unwrap_or(u32::MAX),
            heartbeat_ms: heartbeat_ms.try_into().unwrap_or(u32::MAX),
        });
    }

    fn emit_heartbeat(&self) {
        self.emit_with(|counters| HeartbeatRecord {
            header: RecordHeader::new::<HeartbeatRecord>(RecordKind::Heartbeat, shim::clock_ns()),
            counters: *counters,
        });
    }

    /// Produces `burst` test records (`IOCTL_EMIT_TEST`).
    pub(crate) fn emit_test_burst(&self, burst: u64) -> Result {
        if burst == 0 || burst > EMIT_TEST_MAX {
            return Err(EINVAL);
        }
        for index in 0..burst {
            self.emit_with(|_| TestRecord {
                header: RecordHeader::new::<TestRecord>(RecordKind::Test, shim::clock_ns()),
                index,
                burst,
            });
        }
        Ok(())
    }

    /// Answer to `IOCTL_GET_INFO`.
    pub(crate) fn info(&self) -> Info {
        let ring = self.ring.lock();
        Info {
            abi_version: ABI_VERSION,
            reserved: 0,
            record_max_size: RECORD_MAX_SIZE as u32,
            ring_bytes: ring.capacity() as u64,
            counters: ring.counters(),
            readers: self.open_files.load(ordering::Relaxed),
        }
    }

    /// Counts an open file description.
    pub(crate) fn file_opened(&self) {
        self.open_files.fetch_add(1, ordering::Relaxed);
    }

    /// Counts a released file description.
    pub(crate) fn file_released(&self) {
        self.open_files.fetch_sub(1, ordering::Relaxed);
    }

    /// `read()`: copies whole records into `out` (of `len` bytes), oldest
    /// first, and consumes them once the copy succeeded.
    ///
    /// Empty ring: blocks until a record is queued, or `EAGAIN` if
    /// `nonblock`. A buffer shorter than the next record: `EINVAL`, nothing
    /// consumed. A faulting buffer: `EFAULT`, nothing consumed.
    pub(crate) fn read(
        &self,
        out: &mut UserSliceWriter,
        len: usize,
        nonblock: bool,
    ) -> Result<usize> {
        if len == 0 {
            return Ok(0);
        }
        loop {
            // Wait for data without the reader mutex, so that a blocked
            // reader never holds up a non-blocking one.
            {
                let mut ring = self.ring.lock();
                while ring.is_empty() {
                    if nonblock {
                        return Err(EAGAIN);
                    }
                    if self.readable.wait_interruptible(&mut ring) {
                        return Err(ERESTARTSYS);
                    }
                }
            }

            let mut bounce = if nonblock {
                self.reader.try_lock().ok_or(EAGAIN)?
            } else {
                self.reader.lock()
            };
            let room = len.min(bounce.len());
            let batch = {
                let ring = self.ring.lock();
                match ring.next_record_size() {
                    // Another reader took what we waited for.
                    None => continue,
                    Some(size) if size > len => return Err(EINVAL),
                    Some(_) => ring.copy_out(&mut bounce[..room]),
                }
            };
            out.write_slice(&bounce[..batch.bytes])?;
            self.ring.lock().consume(batch);
            return Ok(batch.bytes);
        }
    }

    /// `poll()`: readable while records are queued.
    pub(crate) fn poll(&self, file: &File, table: PollTable<'_>) -> u32 {
        table.register_wait(file, &self.readable);
        if self.ring.lock().is_empty() {
            0
        } else {
            bindings::POLLIN | bindings::POLLRDNORM
        }
    }
}

impl HrTimerCallback for Hub {
    type Pointer<'a> = Arc<Self>;

    fn run(this: ArcBorrow<'_, Self>, mut ctx: HrTimerCallbackContext<'_, Self>) -> HrTimerRestart {
        this.emit_heartbeat();
        ctx.forward_now(this.heartbeat_period);
        HrTimerRestart::Restart
    }
}

impl_has_hr_timer! {
    impl HasHrTimer<Self> for Hub {
        mode: RelativeSoftMode<Monotonic>,
        field: self.heartbeat
    }
}
