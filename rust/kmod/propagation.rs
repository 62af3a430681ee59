// SPDX-License-Identifier: GPL-2.0

//! Diffusion state: the secrets defined, and the tables that say which
//! process, file, channel and flow carries which of them.
//!
//! The rules are pure logic ([`crate::diffusion`]); this is where they
//! meet the kernel: [`Lookup`] answers them from the RCU-published tables
//! without a lock (the hot path: is anything here confidential?), and
//! [`Writers`] applies a call's moves under the tables' mutexes when it
//! is. Processes and objects (files, pipes, queues, shared memory, UNIX
//! sockets, remote destinations) are per VM; IPv4 flows are the host's,
//! since one VM writes them and another reads them.
//!
//! Memory: an entry is 64 bytes ([`crate::tables::Entry`]); a VM's tables
//! hold at most [`PROCESSES_MAX`] + [`OBJECTS_MAX`] entries (320 KiB), the
//! host's flows [`FLOWS_MAX`] (64 KiB), plus one snapshot of each being
//! replaced during an update.

use crate::abi::Node;
use crate::abi::NodeKind;
use crate::abi::PressureRecord;
use crate::abi::RecordHeader;
use crate::abi::RecordKind;
use crate::abi::TableKind;
use crate::abi::Uuid;
use crate::diffusion;
use crate::diffusion::Secrets;
use crate::glob;
use crate::hub::Hub;
use crate::shim;
use crate::tables::Entry;
use crate::tables::NodeTable;
use crate::tables::TableWriter;
use kernel::prelude::*;
use kernel::static_lock_class;
use kernel::sync::atomic::ordering;
use kernel::sync::atomic::Atomic;
use kernel::sync::Arc;

/// Processes carrying secrets, per VM.
pub(crate) const PROCESSES_MAX: usize = 1024;
/// Files, channels and destinations carrying secrets, per VM.
pub(crate) const OBJECTS_MAX: usize = 4096;
/// IPv4 flows carrying secrets, for the host.
pub(crate) const FLOWS_MAX: usize = 1024;
/// IPv4 addresses of traced VMs remembered (to tell a VM from outside).
pub(crate) const ADDRESSES_MAX: usize = 64;

/// One confidential source (`IOCTL_SECRET`).
pub(crate) struct SecretDef {
    /// Its id: its bit in every secret set.
    pub(crate) id: u32,
    /// Whether it applies to every VM.
    pub(crate) all: bool,
    /// The VM it applies to, unless `all`.
    pub(crate) uuid: Uuid,
    /// The path glob (validated).
    pub(crate) pattern: KVec<u8>,
    /// Files that became confidential through it.
    pub(crate) files: Atomic<u64>,
}

/// The secrets that apply to one VM, shared with its vCPUs' hot path.
pub(crate) struct SecretSet {
    pub(crate) defs: KVec<Arc<SecretDef>>,
}

impl SecretSet {
    /// The secrets whose pattern `path` matches.
    pub(crate) fn matching(&self, path: &[u8]) -> Secrets {
        self.defs
            .iter()
            .filter(|d| glob::matches(&d.pattern, path))
            .fold(0, |mask, d| mask | (1u64 << d.id))
    }

    /// Counts one more file for each secret in `mask`.
    pub(crate) fn count_file(&self, mask: Secrets) {
        for d in self.defs.iter().filter(|d| mask & (1u64 << d.id) != 0) {
            d.files.fetch_add(1, ordering::Relaxed);
        }
    }
}

/// A VM's tables and counters.
#[pin_data]
pub(crate) struct VmTables {
    #[pin]
    pub(crate) processes: NodeTable,
    #[pin]
    pub(crate) objects: NodeTable,
    /// Diffusion records produced.
    pub(crate) diffusions: Atomic<u64>,
    /// Of those, exfiltrations.
    pub(crate) exfiltrations: Atomic<u64>,
    /// Moves that could not be applied (no memory, or the call's entry
    /// state was lost).
    pub(crate) lost: Atomic<u64>,
}

impl VmTables {
    /// Empty tables.
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            processes <- NodeTable::new(
                TableKind::Processes,
                PROCESSES_MAX,
                c"leaktrace_processes",
                static_lock_class!()
            ),
            objects <- NodeTable::new(
                TableKind::Objects,
                OBJECTS_MAX,
                c"leaktrace_objects",
                static_lock_class!()
            ),
            diffusions: Atomic::new(0),
            exfiltrations: Atomic::new(0),
            lost: Atomic::new(0),
        })
    }

    /// Entries in the VM's tables.
    pub(crate) fn len(&self) -> usize {
        self.processes.len() + self.objects.len()
    }

    /// Their capacity.
    pub(crate) fn capacity(&self) -> usize {
        self.processes.capacity() + self.objects.capacity()
    }

    /// Entries forgotten for room.
    pub(crate) fn evictions(&self) -> u64 {
        self.processes.evictions() + self.objects.evictions()
    }
}

/// The host's tables: flows between and inside VMs, VM addresses.
#[pin_data]
pub(crate) struct HostTables {
    #[pin]
    pub(crate) flows: NodeTable,
    /// `addr << 32 | vm_id` of traced VMs' IPv4 addresses; 0 is free.
    addresses: [Atomic<u64>; ADDRESSES_MAX],
}

impl HostTables {
    /// Empty tables.
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            flows <- NodeTable::new(
                TableKind::Flows,
                FLOWS_MAX,
                c"leaktrace_flows",
                static_lock_class!()
            ),
            addresses: [const { Atomic::new(0) }; ADDRESSES_MAX],
        })
    }

    /// Remembers that VM `vm_id` has `addr` (seen as a socket's local
    /// address there). Lock-free; when full, the address is not learned.
    pub(crate) fn learn(&self, addr: [u8; 4], vm_id: u32) {
        if addr == [0; 4] || addr[0] == 127 || vm_id == 0 {
            return;
        }
        let value = (u64::from(u32::from_be_bytes(addr)) << 32) | u64::from(vm_id);
        for slot in &self.addresses {
            let seen = slot.load(ordering::Relaxed);
            if seen == value {
                return;
            }
            if seen >> 32 == value >> 32 {
                // The address moved to another VM (a VM was replaced).
                slot.store(value, ordering::Relaxed);
                return;
            }
        }
        for slot in &self.addresses {
            if slot.cmpxchg(0, value, ordering::Relaxed).is_ok() {
                return;
            }
        }
    }

    /// Forgets VM `vm_id`: its addresses and the flows into it.
    pub(crate) fn forget_vm(&self, vm_id: u32) {
        for slot in &self.addresses {
            let seen = slot.load(ordering::Relaxed);
            if seen != 0 && seen & 0xffff_ffff == u64::from(vm_id) {
                let _ = slot.cmpxchg(seen, 0, ordering::Relaxed);
            }
        }
        // Without memory the flows stay until evicted: harmless.
        let _ = self.flows.retain(|e| e.node.vm_id != vm_id);
    }
}

impl diffusion::Network for HostTables {
    fn vm_of(&self, addr: [u8; 4]) -> Option<u32> {
        let key = u64::from(u32::from_be_bytes(addr));
        self.addresses.iter().find_map(|slot| {
            let seen = slot.load(ordering::Relaxed);
            (seen != 0 && seen >> 32 == key).then_some((seen & 0xffff_ffff) as u32)
        })
    }
}

/// Whether a node lives in the host's flows table.
fn is_flow(node: &Node) -> bool {
    node.kind == NodeKind::Flow as u32
}

/// The lock-free view of the tables, for [`diffusion::changes`].
pub(crate) struct Lookup<'a> {
    pub(crate) vm: &'a VmTables,
    pub(crate) host: &'a HostTables,
}

impl Lookup<'_> {
    /// The entry of `node`, if any.
    pub(crate) fn entry(&self, node: &Node) -> Option<Entry> {
        if is_flow(node) {
            self.host.flows.lookup(node)
        } else if node.kind == NodeKind::Process as u32 {
            self.vm.processes.lookup(node)
        } else {
            self.vm.objects.lookup(node)
        }
    }
}

impl diffusion::State for Lookup<'_> {
    fn secrets(&self, node: &Node) -> Secrets {
        self.entry(node).map_or(0, |e| e.secrets)
    }

    fn set(&mut self, _node: &Node, _secrets: Secrets) {
        // Read-only: `changes()` never sets.
    }
}

/// Write access to the tables a VM's call may change, in lock order:
/// the VM's processes, its objects, the host's flows.
pub(crate) struct Writers<'a> {
    vm_id: u32,
    vm: &'a VmTables,
    hub: &'a Hub,
    processes: TableWriter<'a>,
    objects: TableWriter<'a>,
    flows: TableWriter<'a>,
}

impl<'a> Writers<'a> {
    /// Locks the tables of VM `vm_id` and the host's.
    pub(crate) fn lock(vm_id: u32, vm: &'a VmTables, host: &'a HostTables, hub: &'a Hub) -> Self {
        Self {
            vm_id,
            vm,
            hub,
            processes: vm.processes.write(),
            objects: vm.objects.write(),
            flows: host.flows.write(),
        }
    }

    fn table(&mut self, node: &Node) -> &mut TableWriter<'a> {
        if is_flow(node) {
            &mut self.flows
        } else if node.kind == NodeKind::Process as u32 {
            &mut self.processes
        } else {
            &mut self.objects
        }
    }

    /// The entry of `node`, if any.
    pub(crate) fn entry(&mut self, node: &Node) -> Option<Entry> {
        self.table(node).get(node)
    }

    /// Sets `node`'s secrets and name hash; counts a failure as lost and
    /// reports an eviction.
    pub(crate) fn set_named(&mut self, node: &Node, secrets: Secrets, name_hash: Option<u64>) {
        let vm_id = self.vm_id;
        let table = self.table(node);
        match table.set(node, secrets, name_hash) {
            Ok(written) => {
                if let Some(evicted) = written.evicted {
                    let kind = table.kind();
                    let capacity = table.capacity();
                    let evictions = table.evictions();
                    report_eviction(self.hub, vm_id, kind, capacity, evictions, &evicted);
                }
            }
            Err(_) => {
                self.vm.lost.fetch_add(1, ordering::Relaxed);
            }
        }
    }
}

impl diffusion::State for Writers<'_> {
    fn secrets(&self, node: &Node) -> Secrets {
        let table = if is_flow(node) {
            &self.flows
        } else if node.kind == NodeKind::Process as u32 {
            &self.processes
        } else {
            &self.objects
        };
        table.get(node).map_or(0, |e| e.secrets)
    }

    fn set(&mut self, node: &Node, secrets: Secrets) {
        self.set_named(node, secrets, None);
    }
}

/// Emits the pressure record of an entry forgotten for room.
fn report_eviction(
    hub: &Hub,
    vm_id: u32,
    table: TableKind,
    capacity: usize,
    evictions: u64,
    evicted: &Entry,
) {
    hub.emit(PressureRecord {
        header: RecordHeader::new::<PressureRecord>(RecordKind::Pressure, shim::clock_ns()),
        vm_id: if table == TableKind::Flows { 0 } else { vm_id },
        table: table as u32,
        capacity: capacity.try_into().unwrap_or(u32::MAX),
        reserved: 0,
        node: evicted.node,
        secrets: evicted.secrets,
        evictions,
    });
}

/// FNV-1a of a name: enough to notice that a file's name changed.
pub(crate) fn name_hash(name: &[u8]) -> u64 {
    let hash = name.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    // 0 means "no name seen yet".
    hash.max(1)
}
