// SPDX-License-Identifier: GPL-2.0

//! The update rule of a propagation table's snapshot.
//!
//! The kernel module keeps, per table, an immutable snapshot sorted by
//! node and replaces it on every change (`rust/kmod/tables.rs`, which owns
//! the allocation, the locking and RCU). What the next snapshot holds is
//! decided here, on plain slices, so that the host tests it:
//!
//! - secrets 0 removes the node (nothing happens when it is absent);
//! - a present node gets its new secrets (and name hash when given) and
//!   keeps its insertion number `born`;
//! - an absent node is inserted at its sorted position with a fresh
//!   `born`; when the table is full, the entry with the smallest `born`
//!   (the oldest, wherever it sorts) is forgotten to make room.

use crate::abi::Node;
use core::mem::size_of;

/// One node and what it carries.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Entry {
    /// The node (the sort key).
    pub node: Node,
    /// Its secrets; never 0 in a table.
    pub secrets: u64,
    /// Hash of the name it was last seen under (files), to notice renames.
    pub name_hash: u64,
    /// Insertion order: the smallest is evicted first.
    pub born: u64,
}

// A snapshot copy costs `len` times this; keep it one cache line.
const _: () = assert!(size_of::<Entry>() == 64);

/// The entry of `node` in the sorted `entries`, if any.
pub fn find<'a>(entries: &'a [Entry], node: &Node) -> Option<&'a Entry> {
    let found = entries.binary_search_by(|e| e.node.cmp(node)).ok()?;
    entries.get(found)
}

/// How one [`plan_set`] changes a snapshot; positions are in the current
/// snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plan {
    /// Nothing changes: no snapshot to publish.
    Unchanged,
    /// The entry at this position goes.
    Remove(usize),
    /// The entry at this position becomes this one (same node and `born`).
    Replace(usize, Entry),
    /// `entry` goes before the entry now at `at` (at the end for the
    /// current length); `evict`, when the table is full, is the position
    /// of the entry forgotten to make room.
    Insert {
        /// Where the new entry goes.
        at: usize,
        /// The new entry, with the fresh `born`.
        entry: Entry,
        /// The oldest entry, forgotten when the table is full.
        evict: Option<usize>,
    },
}

/// Plans setting `node` to carry `secrets` in the sorted `current`
/// snapshot of a table holding at most `capacity` entries (0 acts as 1).
///
/// `name_hash` replaces the node's hash when given (`None`: an entry keeps
/// its hash, a new one gets 0). `born` is the insertion number a new entry
/// gets; the caller advances its counter when [`Plan::takes_born`].
pub fn plan_set(
    current: &[Entry],
    node: &Node,
    secrets: u64,
    name_hash: Option<u64>,
    born: u64,
    capacity: usize,
) -> Plan {
    let at = current.partition_point(|e| e.node < *node);
    let present = current.get(at).filter(|e| e.node == *node);
    match (present, secrets) {
        (None, 0) => Plan::Unchanged,
        (Some(_), 0) => Plan::Remove(at),
        (Some(old), secrets) => Plan::Replace(
            at,
            Entry {
                secrets,
                name_hash: name_hash.unwrap_or(old.name_hash),
                ..*old
            },
        ),
        (None, secrets) => Plan::Insert {
            at,
            entry: Entry {
                node: *node,
                secrets,
                name_hash: name_hash.unwrap_or(0),
                born,
            },
            evict: if current.len() >= capacity {
                oldest(current)
            } else {
                None
            },
        },
    }
}

/// The position of the entry with the smallest `born` (the first of
/// equals), `None` when empty.
fn oldest(entries: &[Entry]) -> Option<usize> {
    let (position, _) = entries.iter().enumerate().min_by_key(|(_, e)| e.born)?;
    Some(position)
}

impl Plan {
    /// Whether the plan inserts an entry, using the `born` number it was
    /// given.
    pub fn takes_born(&self) -> bool {
        matches!(self, Plan::Insert { .. })
    }

    /// The entry of `current` the plan forgets to make room, if any.
    pub fn evicted(&self, current: &[Entry]) -> Option<Entry> {
        match self {
            Plan::Insert { evict: Some(position), .. } => current.get(*position).copied(),
            _ => None,
        }
    }

    /// The next snapshot's entries, in order: `current` (the snapshot the
    /// plan was made for) with the plan applied.
    ///
    /// Its length is exact for any plan: a position past `current` removes
    /// or replaces nothing, and inserts at the end.
    pub fn apply(self, current: &[Entry]) -> impl ExactSizeIterator<Item = Entry> + '_ {
        let (removed, replaced, inserted) = match self {
            Plan::Unchanged => (None, None, None),
            Plan::Remove(position) => (Some(position), None, None),
            Plan::Replace(position, entry) => (None, Some((position, entry)), None),
            Plan::Insert { at, entry, evict } => (evict, None, Some((at.min(current.len()), entry))),
        };
        let removed = removed.filter(|position| *position < current.len());
        let len = current.len() - usize::from(removed.is_some()) + usize::from(inserted.is_some());
        let inserted_before = move |position: usize| {
            inserted.and_then(|(at, entry)| (at == position).then_some(entry))
        };
        let kept = current.iter().enumerate().flat_map(move |(position, old)| {
            let now = match replaced {
                Some((at, entry)) if at == position => Some(entry),
                _ if removed == Some(position) => None,
                _ => Some(*old),
            };
            inserted_before(position).into_iter().chain(now)
        });
        let at_end = inserted_before(current.len());
        Exact(kept.chain(at_end), len)
    }
}

/// An iterator known to yield exactly `.1` more items (`apply` counts them).
struct Exact<I>(I, usize);

impl<I: Iterator<Item = Entry>> Iterator for Exact<I> {
    type Item = Entry;

    fn next(&mut self) -> Option<Entry> {
        let next = self.0.next()?;
        self.1 = self.1.saturating_sub(1);
        Some(next)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.1, Some(self.1))
    }
}

impl<I: Iterator<Item = Entry>> ExactSizeIterator for Exact<I> {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::NodeKind;
    use std::vec;
    use std::vec::Vec;

    /// A file node; `vm_id` sorts before `id` (field order of `Node`).
    fn node(vm_id: u32, id: u64) -> Node {
        Node {
            kind: NodeKind::File as u32,
            vm_id,
            id,
            dev: 8,
            ..Node::default()
        }
    }

    /// A table backed by a `Vec`, updated the way `tables.rs` does it.
    struct Table {
        entries: Vec<Entry>,
        next_born: u64,
        capacity: usize,
    }

    impl Table {
        fn new(capacity: usize) -> Self {
            Self {
                entries: Vec::new(),
                next_born: 0,
                capacity,
            }
        }

        /// Sets `node`, checks the result's invariants, returns what was
        /// evicted.
        fn set(&mut self, node: Node, secrets: u64, name_hash: Option<u64>) -> Option<Entry> {
            let current = &self.entries;
            let plan = plan_set(current, &node, secrets, name_hash, self.next_born, self.capacity);
            let evicted = plan.evicted(current);
            if plan == Plan::Unchanged {
                assert!(evicted.is_none());
                return None;
            }
            if plan.takes_born() {
                self.next_born += 1;
            }
            let next = plan.apply(current);
            let len = next.len();
            let next: Vec<Entry> = next.collect();
            assert_eq!(next.len(), len, "length announced for {plan:?}");
            assert!(next.windows(2).all(|w| w[0].node < w[1].node), "sorted, unique: {next:?}");
            assert!(next.len() <= self.capacity.max(1), "capacity {}", self.capacity);
            assert!(next.iter().all(|e| e.secrets != 0));
            self.entries = next;
            evicted
        }

        fn get(&self, node: Node) -> Option<Entry> {
            find(&self.entries, &node).copied()
        }

        fn nodes(&self) -> Vec<u64> {
            self.entries.iter().map(|e| e.node.id).collect()
        }
    }

    #[test]
    fn inserts_sorted_with_fresh_born() {
        let mut t = Table::new(8);
        for id in [5, 1, 9, 3] {
            assert_eq!(t.set(node(1, id), id * 10, Some(id)), None);
        }
        assert_eq!(t.nodes(), vec![1, 3, 5, 9]);
        let borns: Vec<u64> = t.entries.iter().map(|e| e.born).collect();
        assert_eq!(borns, vec![1, 3, 0, 2]);
        assert_eq!(t.get(node(1, 9)).map(|e| (e.secrets, e.name_hash)), Some((90, 9)));
        t.set(node(1, 7), 1, None);
        assert_eq!(t.get(node(1, 7)).map(|e| e.name_hash), Some(0), "no hash: 0");
    }

    #[test]
    fn update_keeps_born_and_position() {
        let mut t = Table::new(4);
        t.set(node(1, 1), 1, Some(11));
        t.set(node(1, 2), 1, Some(22));
        let plan = plan_set(&t.entries, &node(1, 1), 3, None, 99, 4);
        assert!(!plan.takes_born());
        assert_eq!(t.set(node(1, 1), 3, None), None);
        assert_eq!(t.next_born, 2, "an update takes no born");
        let e = t.get(node(1, 1)).unwrap();
        assert_eq!((e.secrets, e.name_hash, e.born), (3, 11, 0), "no hash: kept");
        t.set(node(1, 1), 3, Some(12));
        assert_eq!(t.get(node(1, 1)).unwrap().name_hash, 12);
        assert_eq!(t.nodes(), vec![1, 2]);
    }

    #[test]
    fn update_of_a_full_table_evicts_nothing() {
        let mut t = Table::new(2);
        t.set(node(1, 1), 1, None);
        t.set(node(1, 2), 1, None);
        assert_eq!(t.set(node(1, 1), 2, None), None);
        assert_eq!(t.nodes(), vec![1, 2]);
    }

    #[test]
    fn removal() {
        let mut t = Table::new(4);
        for id in 1..=3 {
            t.set(node(1, id), 1, None);
        }
        assert_eq!(plan_set(&t.entries, &node(1, 2), 0, None, 7, 4), Plan::Remove(1));
        t.set(node(1, 2), 0, None);
        assert_eq!(t.nodes(), vec![1, 3]);
        t.set(node(1, 1), 0, None);
        t.set(node(1, 3), 0, None);
        assert!(t.entries.is_empty());
    }

    #[test]
    fn removal_of_an_absent_node_changes_nothing() {
        let mut t = Table::new(4);
        assert_eq!(plan_set(&[], &node(1, 1), 0, Some(3), 0, 4), Plan::Unchanged);
        t.set(node(1, 1), 1, None);
        t.set(node(1, 3), 1, None);
        for id in [0, 2, 4] {
            let plan = plan_set(&t.entries, &node(1, id), 0, None, 5, 4);
            assert_eq!(plan, Plan::Unchanged);
            assert!(!plan.takes_born());
            assert_eq!(plan.apply(&t.entries).collect::<Vec<_>>(), t.entries, "no-op");
        }
        assert_eq!(t.next_born, 2);
    }

    /// A full table of nodes 10, 20, 30, 40, born in `order` (ids).
    fn full(order: [u64; 4]) -> Table {
        let mut t = Table::new(4);
        for id in order {
            assert_eq!(t.set(node(1, id), id, None), None);
        }
        t
    }

    #[test]
    fn full_table_evicts_the_oldest_after_the_insertion_point() {
        let mut t = full([30, 10, 20, 40]);
        let evicted = t.set(node(1, 15), 1, None).unwrap();
        assert_eq!((evicted.node, evicted.born), (node(1, 30), 0));
        assert_eq!(t.nodes(), vec![10, 15, 20, 40]);
        assert_eq!(t.get(node(1, 15)).unwrap().born, 4);
    }

    #[test]
    fn full_table_evicts_the_oldest_before_the_insertion_point() {
        let mut t = full([10, 40, 20, 30]);
        assert_eq!(t.set(node(1, 35), 1, None).map(|e| e.node), Some(node(1, 10)));
        assert_eq!(t.nodes(), vec![20, 30, 35, 40]);
    }

    #[test]
    fn full_table_evicts_the_oldest_next_to_the_insertion_point() {
        let mut t = full([20, 10, 30, 40]);
        assert_eq!(t.set(node(1, 25), 1, None).map(|e| e.node), Some(node(1, 20)));
        assert_eq!(t.nodes(), vec![10, 25, 30, 40]);
        let mut t = full([30, 10, 20, 40]);
        assert_eq!(t.set(node(1, 25), 1, None).map(|e| e.node), Some(node(1, 30)));
        assert_eq!(t.nodes(), vec![10, 20, 25, 40]);
    }

    #[test]
    fn full_table_inserting_first_or_last() {
        let mut t = full([40, 10, 20, 30]);
        assert_eq!(t.set(node(1, 5), 1, None).map(|e| e.node), Some(node(1, 40)));
        assert_eq!(t.nodes(), vec![5, 10, 20, 30]);
        assert_eq!(t.set(node(1, 50), 1, None).map(|e| e.node), Some(node(1, 10)));
        assert_eq!(t.nodes(), vec![5, 20, 30, 50]);
        assert_eq!(t.set(node(0, 99), 1, None).map(|e| e.node), Some(node(1, 20)), "vm 0 sorts first");
        assert_eq!(t.nodes(), vec![99, 5, 30, 50]);
        assert_eq!(t.set(node(2, 0), 1, None).map(|e| e.node), Some(node(1, 30)), "vm 2 sorts last");
        assert_eq!(t.nodes(), vec![99, 5, 50, 0]);
    }

    #[test]
    fn evicted_entry_is_reported_whole() {
        let mut t = Table::new(2);
        t.set(node(1, 1), 0b101, Some(77));
        t.set(node(1, 2), 1, None);
        let oldest = t.get(node(1, 1)).unwrap();
        assert_eq!(t.set(node(1, 3), 1, None), Some(oldest));
        assert_eq!(oldest, Entry { node: node(1, 1), secrets: 0b101, name_hash: 77, born: 0 });
    }

    #[test]
    fn capacity_one() {
        let mut t = Table::new(1);
        assert_eq!(t.set(node(1, 5), 1, None), None);
        assert_eq!(t.set(node(1, 5), 2, None), None, "update in place");
        assert_eq!(t.set(node(1, 9), 3, None).map(|e| (e.node.id, e.secrets)), Some((5, 2)));
        assert_eq!(t.set(node(1, 1), 4, None).map(|e| e.node.id), Some(9));
        assert_eq!(t.nodes(), vec![1]);
        t.set(node(1, 1), 0, None);
        assert!(t.entries.is_empty());
        assert_eq!(t.set(node(1, 2), 1, None), None);
    }

    #[test]
    fn capacity_zero_acts_as_one() {
        let mut t = Table::new(0);
        assert_eq!(t.set(node(1, 5), 1, None), None);
        assert_eq!(t.set(node(1, 6), 1, None).map(|e| e.node.id), Some(5));
        assert_eq!(t.nodes(), vec![6]);
    }

    #[test]
    fn apply_keeps_its_length_for_any_position() {
        let current = full([10, 20, 30, 40]).entries;
        let entry = Entry { node: node(3, 0), secrets: 1, ..Entry::default() };
        let plans = [
            Plan::Remove(9),
            Plan::Replace(9, entry),
            Plan::Insert { at: 9, entry, evict: Some(9) },
            Plan::Insert { at: 0, entry, evict: Some(3) },
        ];
        for plan in plans {
            let next = plan.apply(&current);
            let len = next.len();
            assert_eq!(next.count(), len, "{plan:?}");
        }
    }

    /// xorshift64: deterministic, no dependencies.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    /// The rule stated naively: unsorted, linear search, oldest found by
    /// scanning.
    #[derive(Default)]
    struct Reference {
        entries: Vec<Entry>,
        next_born: u64,
    }

    impl Reference {
        fn set(&mut self, node: Node, secrets: u64, name_hash: Option<u64>, capacity: usize) -> Option<Entry> {
            let present = self.entries.iter().position(|e| e.node == node);
            match present {
                Some(i) if secrets == 0 => {
                    self.entries.remove(i);
                    None
                }
                Some(i) => {
                    let e = &mut self.entries[i];
                    e.secrets = secrets;
                    e.name_hash = name_hash.unwrap_or(e.name_hash);
                    None
                }
                None if secrets == 0 => None,
                None => {
                    let mut evicted = None;
                    if !self.entries.is_empty() && self.entries.len() >= capacity {
                        let mut oldest = 0;
                        for (i, e) in self.entries.iter().enumerate() {
                            if e.born < self.entries[oldest].born {
                                oldest = i;
                            }
                        }
                        evicted = Some(self.entries.remove(oldest));
                    }
                    let name_hash = name_hash.unwrap_or(0);
                    let born = self.next_born;
                    self.next_born += 1;
                    self.entries.push(Entry { node, secrets, name_hash, born });
                    evicted
                }
            }
        }

        fn sorted(&self) -> Vec<Entry> {
            let mut sorted = self.entries.clone();
            sorted.sort_by_key(|e| e.node);
            sorted
        }
    }

    #[test]
    fn random_sequences_match_the_reference() {
        for (seed, capacity) in [(0x9e37_79b9_7f4a_7c15, 8), (0x2545_f491_4f6c_dd1d, 1), (7, 33)] {
            let mut rng = Rng(seed);
            let mut table = Table::new(capacity);
            let mut reference = Reference::default();
            let mut evictions = 0;
            for step in 0..4000 {
                // A few more nodes than the capacity, over 3 VMs, so that
                // inserts, updates, removals and evictions all happen.
                let node = node(rng.below(3) as u32, rng.below(capacity as u64 * 2 + 2));
                let secrets = match rng.below(4) {
                    0 => 0,
                    _ => 1 + rng.below(15),
                };
                let name_hash = (rng.below(2) == 0).then(|| rng.below(1000));
                let got = table.set(node, secrets, name_hash);
                let expected = reference.set(node, secrets, name_hash, capacity);
                assert_eq!(got, expected, "evicted, step {step}");
                assert_eq!(table.entries, reference.sorted(), "step {step}");
                evictions += usize::from(got.is_some());
            }
            assert!(evictions > 100, "evictions exercised: {evictions}");
        }
    }
}
