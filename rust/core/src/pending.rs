// SPDX-License-Identifier: GPL-2.0

//! Pairing system call entries with their returns.
//!
//! A trapped SYSCALL is remembered until the SYSRET that returns from it.
//! Both are identified by the guest's CR3 and user RSP: the kernel returns
//! to the same address space with the same user stack pointer (Nitro's
//! keying). Some calls never come back through SYSRET (a successful
//! `execve`, a signal delivered on return, `exit`): their entries must end
//! without leaking, so a new entry ends every pending one that
//!
//! - has the same key: that thread is in user mode again, so the old call
//!   left the kernel another way ([`End::Superseded`]);
//! - is older than the timeout ([`End::TimedOut`]);
//! - is the oldest while the table is full ([`End::Evicted`]).
//!
//! The table is bounded by its storage and never allocates. It is not
//! synchronised: the kernel keeps one per VM under a spinlock.

use core::ops::DerefMut;

/// Why a pending call ended without a matching return.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// The same (CR3, RSP) entered the kernel again.
    Superseded,
    /// Pending for longer than the timeout.
    TimedOut,
    /// The table was full and this was the oldest entry.
    Evicted,
}

/// One pending call: its key, its entry time and the caller's data.
#[derive(Clone, Copy, Debug, Default)]
pub struct Slot<T> {
    cr3: u64,
    rsp: u64,
    entry_ns: u64,
    call: T,
}

/// A bounded table of pending calls over caller-provided storage.
///
/// # Invariants
///
/// `len <= storage.len()`; `storage[..len]` are the pending calls, in no
/// particular order.
pub struct PendingTable<T, S> {
    storage: S,
    len: usize,
    _call: core::marker::PhantomData<T>,
}

impl<T: Copy, S: DerefMut<Target = [Slot<T>]>> PendingTable<T, S> {
    /// A table holding at most `storage.len()` pending calls.
    pub fn new(storage: S) -> Self {
        Self {
            storage,
            len: 0,
            _call: core::marker::PhantomData,
        }
    }

    /// Number of pending calls.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no call is pending.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Most calls the table holds.
    pub fn capacity(&self) -> usize {
        self.storage.len()
    }

    /// Removes slot `i` (order is not kept) and returns its call.
    fn take(&mut self, i: usize) -> T {
        let call = self.storage[i].call;
        self.len -= 1;
        // The last slot fills the hole; usually `i` is the last (one call
        // pending per vCPU), and a slot is large: no copy onto itself.
        if i != self.len {
            self.storage[i] = self.storage[self.len];
        }
        call
    }

    /// Remembers a call entered at `entry_ns` by (`cr3`, `rsp`). First ends,
    /// through `ended`, every pending call that this entry shows will never
    /// return (see the module documentation); a `timeout_ns` of 0 disables
    /// the timeout. A table with no storage remembers nothing: the call
    /// itself is then handed to `ended` as [`End::Evicted`].
    pub fn enter(
        &mut self,
        cr3: u64,
        rsp: u64,
        entry_ns: u64,
        call: T,
        timeout_ns: u64,
        mut ended: impl FnMut(T, End),
    ) {
        let mut i = 0;
        while i < self.len {
            let slot = &self.storage[i];
            let end = if slot.cr3 == cr3 && slot.rsp == rsp {
                Some(End::Superseded)
            } else if timeout_ns != 0 && entry_ns.saturating_sub(slot.entry_ns) > timeout_ns {
                Some(End::TimedOut)
            } else {
                None
            };
            match end {
                // `take` moves the last slot to `i`: look at `i` again.
                Some(end) => ended(self.take(i), end),
                None => i += 1,
            }
        }
        if self.storage.is_empty() {
            ended(call, End::Evicted);
            return;
        }
        if self.len == self.storage.len() {
            let oldest = (0..self.len)
                .min_by_key(|&i| self.storage[i].entry_ns)
                .unwrap_or(0);
            ended(self.take(oldest), End::Evicted);
        }
        self.storage[self.len] = Slot {
            cr3,
            rsp,
            entry_ns,
            call,
        };
        self.len += 1;
    }

    /// The pending call that (`cr3`, `rsp`) returns from, removed from the
    /// table; `None` if there is none (e.g. it entered before tracing).
    pub fn exit(&mut self, cr3: u64, rsp: u64) -> Option<T> {
        let i =
            (0..self.len).find(|&i| self.storage[i].cr3 == cr3 && self.storage[i].rsp == rsp)?;
        Some(self.take(i))
    }

    /// Ends every pending call, oldest first (tracing stops).
    pub fn drain(&mut self, mut ended: impl FnMut(T)) {
        self.storage[..self.len].sort_unstable_by_key(|slot| slot.entry_ns);
        for i in 0..self.len {
            ended(self.storage[i].call);
        }
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec;
    use std::vec::Vec;

    type Table = PendingTable<u32, Vec<Slot<u32>>>;

    fn table(capacity: usize) -> Table {
        PendingTable::new(vec![Slot::default(); capacity])
    }

    fn enter(t: &mut Table, cr3: u64, rsp: u64, ns: u64, id: u32) -> Vec<(u32, End)> {
        let mut out = Vec::new();
        t.enter(cr3, rsp, ns, id, 1000, |c, e| out.push((c, e)));
        out
    }

    #[test]
    fn entry_pairs_with_its_return_only() {
        let mut t = table(4);
        assert!(enter(&mut t, 1, 0x100, 10, 7).is_empty());
        assert!(enter(&mut t, 1, 0x200, 11, 8).is_empty());
        assert_eq!(t.exit(2, 0x100), None, "other address space");
        assert_eq!(t.exit(1, 0x100), Some(7));
        assert_eq!(t.exit(1, 0x100), None, "returned once");
        assert_eq!(t.exit(1, 0x200), Some(8));
        assert!(t.is_empty());
    }

    #[test]
    fn same_key_supersedes() {
        let mut t = table(4);
        enter(&mut t, 1, 0x100, 10, 7);
        assert_eq!(enter(&mut t, 1, 0x100, 20, 8), vec![(7, End::Superseded)]);
        assert_eq!(t.len(), 1);
        assert_eq!(t.exit(1, 0x100), Some(8));
    }

    #[test]
    fn old_entries_time_out() {
        let mut t = table(4);
        enter(&mut t, 1, 0x100, 10, 7);
        enter(&mut t, 1, 0x200, 500, 8);
        assert_eq!(enter(&mut t, 1, 0x300, 1011, 9), vec![(7, End::TimedOut)]);
        assert_eq!(t.len(), 2);
        // A zero timeout keeps everything.
        let mut out = Vec::new();
        t.enter(2, 0x100, 1_000_000, 10, 0, |c, e| out.push((c, e)));
        assert!(out.is_empty());
    }

    #[test]
    fn full_table_evicts_the_oldest() {
        let mut t = table(3);
        enter(&mut t, 1, 0x100, 30, 1);
        enter(&mut t, 1, 0x200, 10, 2);
        enter(&mut t, 1, 0x300, 20, 3);
        assert_eq!(enter(&mut t, 1, 0x400, 40, 4), vec![(2, End::Evicted)]);
        assert_eq!(t.len(), 3);
        assert_eq!(t.exit(1, 0x200), None);
        assert_eq!(t.exit(1, 0x400), Some(4));
    }

    #[test]
    fn zero_capacity_hands_the_call_back() {
        let mut t = table(0);
        assert_eq!(enter(&mut t, 1, 0x100, 10, 5), vec![(5, End::Evicted)]);
        assert_eq!(t.exit(1, 0x100), None);
    }

    #[test]
    fn drain_ends_everything_oldest_first() {
        let mut t = table(4);
        enter(&mut t, 1, 0x100, 30, 1);
        enter(&mut t, 1, 0x200, 10, 2);
        enter(&mut t, 1, 0x300, 20, 3);
        let mut out = Vec::new();
        t.drain(|c| out.push(c));
        assert_eq!(out, vec![2, 3, 1]);
        assert!(t.is_empty());
    }

    #[test]
    fn many_keys_stay_bounded() {
        let mut t = table(16);
        let mut ended = 0;
        for i in 0..1000u64 {
            t.enter(i % 7, i % 13, i, i as u32, 50, |_, _| ended += 1);
            assert!(t.len() <= 16);
        }
        let mut left = 0;
        t.drain(|_| left += 1);
        assert_eq!(ended + left, 1000, "every call ends exactly once");
    }
}
