// SPDX-License-Identifier: GPL-2.0

//! Propagation tables: which node carries which secrets.
//!
//! The vCPU hot path looks a node up on every traced call that moves data,
//! and almost always finds nothing: lookups must not take a lock. A table
//! is therefore an immutable, sorted snapshot published through one
//! pointer: readers binary-search it inside an RCU read-side critical
//! section; a writer (under the table's mutex) builds the next snapshot,
//! publishes it with a release store, and has the old one freed after a
//! grace period (`kvfree_rcu`, through the shim). Updates are rare (only
//! when data reaches a node that lacked some of its secrets) and cost a
//! copy of the table, at most `capacity` entries of [`Entry`] (64 bytes).
//!
//! A full table forgets its oldest entry to make room and says so; what
//! that entry carried is no longer followed (a [`crate::abi::PressureRecord`]
//! tells the reader).

use crate::abi::Node;
use crate::abi::TableKind;
use crate::shim;
use crate::snapshot;
pub(crate) use crate::snapshot::Entry;
use crate::snapshot::Plan;
use core::mem::size_of;
use kernel::ffi::c_void;
use kernel::prelude::*;
use kernel::sync::atomic::ordering;
use kernel::sync::atomic::Atomic;
use kernel::sync::rcu;
use kernel::sync::LockClassKey;
use kernel::sync::Mutex;
use kernel::sync::MutexGuard;

/// The start of a snapshot; `len` entries follow.
#[repr(C)]
struct Header {
    /// Room for the `struct rcu_head` that frees it.
    rcu: [u8; shim::SNAPSHOT_HEAD],
    len: usize,
    _pad: usize,
}

const _: () = assert!(size_of::<Header>() % 8 == 0);

/// The entries of the snapshot `header` points to.
///
/// # Safety
///
/// `header` is null or a snapshot made by [`build`] that stays allocated
/// for `'a` (the caller is in an RCU read-side critical section that began
/// before it was unpublished, or holds the table's writer lock).
unsafe fn entries<'a>(header: *const Header) -> &'a [Entry] {
    if header.is_null() {
        return &[];
    }
    // SAFETY: per the function's contract `header` is a live snapshot,
    // whose `len` initialised entries follow the header (see `build`).
    unsafe {
        let first = header.add(1).cast::<Entry>();
        core::slice::from_raw_parts(first, (*header).len)
    }
}

/// Allocates a snapshot holding `entries`, `None` without memory.
fn build(entries: impl ExactSizeIterator<Item = Entry>) -> Option<*mut Header> {
    let len = entries.len();
    let bytes = size_of::<Header>().checked_add(len.checked_mul(size_of::<Entry>())?)?;
    // SAFETY: no preconditions; returns null or `bytes` writable bytes,
    // suitably aligned for any kernel object (kvmalloc).
    let header = unsafe { shim::leaktrace_snapshot_alloc(bytes) }.cast::<Header>();
    if header.is_null() {
        return None;
    }
    // SAFETY: `header` points to `bytes` bytes: the header, then room for
    // `len` entries. At most `len` are written, all before publishing, and
    // `len` is set to the number written.
    unsafe {
        let first = header.add(1).cast::<Entry>();
        let mut written = 0;
        for entry in entries.take(len) {
            first.add(written).write(entry);
            written += 1;
        }
        (*header).len = written;
    }
    Some(header)
}

/// A table, read without locks, written under its mutex.
#[pin_data(PinnedDrop)]
pub(crate) struct NodeTable {
    kind: TableKind,
    capacity: usize,
    /// The current snapshot (null: empty). RCU-protected.
    published: Atomic<*mut Header>,
    /// Entries forgotten because the table was full.
    evictions: Atomic<u64>,
    /// Entries now (for `IOCTL_VM_LIST`).
    len: Atomic<usize>,
    /// Serialises writers; holds the next insertion number.
    #[pin]
    writer: Mutex<u64>,
}

// SAFETY: the snapshot pointer is only dereferenced under RCU or the
// writer lock, and snapshots are immutable once published.
unsafe impl Send for NodeTable {}
// SAFETY: as above.
unsafe impl Sync for NodeTable {}

impl NodeTable {
    /// An empty table of `kind` holding at most `capacity` entries.
    ///
    /// Writers lock a VM's processes, then its objects, then the host's
    /// flows (`propagation::Writers`): each kind needs its own lock class,
    /// `writer_class`, so that lockdep checks that order instead of
    /// reporting the nesting as recursive locking.
    pub(crate) fn new(
        kind: TableKind,
        capacity: usize,
        writer_name: &'static CStr,
        writer_class: Pin<&'static LockClassKey>,
    ) -> impl PinInit<Self> {
        pin_init!(Self {
            kind,
            capacity,
            published: Atomic::new(core::ptr::null_mut()),
            evictions: Atomic::new(0),
            len: Atomic::new(0),
            writer <- Mutex::new(0, writer_name, writer_class),
        })
    }

    /// Its capacity in entries.
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// Entries now.
    pub(crate) fn len(&self) -> usize {
        self.len.load(ordering::Relaxed)
    }

    /// Entries forgotten so far.
    pub(crate) fn evictions(&self) -> u64 {
        self.evictions.load(ordering::Relaxed)
    }

    /// The entry of `node`, if any. Takes no lock.
    pub(crate) fn lookup(&self, node: &Node) -> Option<Entry> {
        let _guard = rcu::read_lock();
        let header = self.published.load(ordering::Acquire);
        // SAFETY: we are in an RCU read-side critical section: a snapshot
        // we loaded is freed only after it ends (`kvfree_rcu` on unpublish).
        let entries = unsafe { entries(header) };
        snapshot::find(entries, node).copied()
    }

    /// Locks the table for writing.
    pub(crate) fn write(&self) -> TableWriter<'_> {
        TableWriter {
            table: self,
            born: self.writer.lock(),
        }
    }

    /// Forgets every entry `keep` refuses (a VM went away).
    pub(crate) fn retain(&self, keep: impl Fn(&Entry) -> bool) -> Result {
        let w = self.write();
        let kept: KVec<Entry> = {
            let mut kept = KVec::new();
            for e in w.entries().iter().filter(|e| keep(e)) {
                kept.push(*e, GFP_KERNEL)?;
            }
            kept
        };
        TableWriter::publish(self, kept.iter().copied()).ok_or(ENOMEM)
    }
}

#[pinned_drop]
impl PinnedDrop for NodeTable {
    fn drop(self: Pin<&mut Self>) {
        let header = self.published.load(ordering::Acquire);
        // SAFETY: `header` is null or ours, unpublished now that the
        // table is dropped; `kvfree_rcu` waits for any reader.
        unsafe { shim::leaktrace_snapshot_free_rcu(header.cast::<c_void>()) };
    }
}

/// What a write did besides its own change.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Written {
    /// The table was full: this entry was forgotten to make room.
    pub(crate) evicted: Option<Entry>,
}

/// Exclusive write access to a [`NodeTable`].
pub(crate) struct TableWriter<'a> {
    table: &'a NodeTable,
    born: MutexGuard<'a, u64>,
}

impl TableWriter<'_> {
    /// Which table this is.
    pub(crate) fn kind(&self) -> TableKind {
        self.table.kind
    }

    /// Its capacity in entries.
    pub(crate) fn capacity(&self) -> usize {
        self.table.capacity
    }

    /// Entries it forgot so far.
    pub(crate) fn evictions(&self) -> u64 {
        self.table.evictions()
    }

    /// The current entries (stable while the writer lock is held).
    fn entries(&self) -> &[Entry] {
        let header = self.table.published.load(ordering::Acquire);
        // SAFETY: only writers unpublish, and we hold the writer lock.
        unsafe { entries(header) }
    }

    /// The entry of `node`, if any.
    pub(crate) fn get(&self, node: &Node) -> Option<Entry> {
        snapshot::find(self.entries(), node).copied()
    }

    /// Publishes `entries` (sorted) as the table; frees the old snapshot
    /// after a grace period. `None` without memory (nothing changes).
    /// `entries` may borrow the old snapshot: it is consumed before the
    /// old snapshot is handed to `kvfree_rcu`.
    fn publish(table: &NodeTable, entries: impl ExactSizeIterator<Item = Entry>) -> Option<()> {
        let len = entries.len();
        let next = build(entries)?;
        let old = table.published.load(ordering::Relaxed);
        table.published.store(next, ordering::Release);
        table.len.store(len, ordering::Relaxed);
        // SAFETY: `old` is unpublished: readers that still see it are in
        // RCU read-side critical sections, which `kvfree_rcu` waits for.
        unsafe { shim::leaktrace_snapshot_free_rcu(old.cast::<c_void>()) };
        Some(())
    }

    /// Sets `node` to carry `secrets` (removing it for 0), and its name
    /// hash when given. `Err(ENOMEM)` without memory: nothing changed.
    pub(crate) fn set(&mut self, node: &Node, secrets: u64, name_hash: Option<u64>) -> Result<Written> {
        let table = self.table;
        // SAFETY: we hold the writer lock, so only our own `publish` below
        // replaces this snapshot, and it finishes reading it first.
        let current = unsafe { entries(table.published.load(ordering::Acquire)) };
        let plan = snapshot::plan_set(current, node, secrets, name_hash, *self.born, table.capacity);
        if plan == Plan::Unchanged {
            return Ok(Written::default());
        }
        // A failed insertion still uses its number up: numbers only order.
        if plan.takes_born() {
            *self.born += 1;
        }
        let written = Written {
            evicted: plan.evicted(current),
        };
        Self::publish(table, plan.apply(current)).ok_or(ENOMEM)?;
        if written.evicted.is_some() {
            table.evictions.fetch_add(1, ordering::Relaxed);
        }
        Ok(written)
    }
}
