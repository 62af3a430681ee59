// SPDX-License-Identifier: GPL-2.0

//! The VMs KVM runs, which of them are traced, and their system calls.
//!
//! leaktrace.ko is the one client of KVM's syscall trap
//! (arch/x86/include/asm/kvm_syscall_trap.h, added by patches/). KVM tells
//! us when VMs come and go; we arm each new VM at once so that its first
//! trapped system call identifies it (the SMBIOS UUID, read from guest
//! memory on the vCPU's thread), then keep it armed only if the trace
//! selection names it. Traced VMs produce one [`SyscallRecord`] per call,
//! when the call returns or is known never to return.
//!
//! Locking, outermost first: `Tracker::registry` (mutex: VM list, selection,
//! arming decisions), `Vm::state` (spinlock: pending calls, counters), the
//! hub's ring (irq spinlock). The vCPU hot path takes only the last two.
//!
//! Lifetime: a `struct kvm` pointer is valid from `vm_created` until
//! `vm_destroyed` returns (KVM's contract). Both take `registry`, and the
//! pointer is used only under `registry` or from a callback of that VM, so
//! it is never used after `vm_destroyed`.

use crate::abi::Pod;
use crate::abi::RecordHeader;
use crate::abi::RecordKind;
use crate::abi::Refusal;
use crate::abi::SelectionRequest;
use crate::abi::SyscallEnd;
use crate::abi::SyscallRecord;
use crate::abi::TraceRequest;
use crate::abi::Uuid;
use crate::abi::VmEvent;
use crate::abi::VmInfo;
use crate::abi::VmListRequest;
use crate::abi::VmRecord;
use crate::abi::SELECTION_MAX;
use crate::abi::SYSCALL_ARGS;
use crate::abi::TRACE_ADD;
use crate::abi::TRACE_ALL;
use crate::abi::TRACE_NONE;
use crate::abi::TRACE_REMOVE;
use crate::abi::VM_SELECTED;
use crate::abi::VM_TRACED;
use crate::abi::VM_UUID_ABSENT;
use crate::abi::VM_UUID_KNOWN;
use crate::hub::Hub;
use crate::pending::End;
use crate::pending::PendingTable;
use crate::pending::Slot;
use crate::shim;
use crate::smbios;
use kernel::ffi::c_void;
use kernel::new_mutex;
use kernel::new_spinlock;
use kernel::prelude::*;
use kernel::sync::atomic::ordering;
use kernel::sync::atomic::Atomic;
use kernel::sync::Arc;
use kernel::sync::Mutex;
use kernel::sync::SpinLock;
use kernel::uaccess::UserPtr;
use kernel::uaccess::UserSlice;

/// x86-64 `exit`: never returns.
const NR_EXIT: u64 = 60;
/// x86-64 `exit_group`: never returns.
const NR_EXIT_GROUP: u64 = 231;

/// Trapped calls on which to look for the SMBIOS UUID before giving up
/// (the firmware writes it long before the guest's first system call, so
/// one attempt normally suffices; a few more cover a table being rebuilt).
const IDENTIFY_ATTEMPTS: u32 = 8;

/// Pending-call storage of one VM.
type Pending = PendingTable<SyscallRecord, KVVec<Slot<SyscallRecord>>>;

/// What we know of a VM's identity.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Identity {
    /// Not looked for yet, or not found yet (`attempts` so far).
    Unknown { attempts: u32 },
    /// The SMBIOS system UUID, canonical byte order.
    Known(Uuid),
    /// The guest has no readable SMBIOS UUID.
    Absent,
}

/// A VM's mutable state, under `Vm::state`.
struct VmState {
    identity: Identity,
    /// Whether KVM traps this VM's system calls (we asked and it agreed).
    armed: bool,
    /// Whether the VM matches the selection.
    selected: bool,
    /// Whether its system calls produce records: armed, selected, identified.
    traced: bool,
    /// Why KVM refused to arm it, if it did.
    refusal: Refusal,
    /// Calls waiting for their SYSRET.
    pending: Pending,
    /// Numbering and counts of the records produced (a field of its own so
    /// that records can be emitted while `pending` is borrowed).
    calls: CallCounts,
}

/// Per-VM numbering and accounting of syscall records.
#[derive(Default)]
struct CallCounts {
    /// Next per-VM record sequence number.
    vm_seq: u64,
    syscalls: u64,
    returned: u64,
    unmatched_returns: u64,
}

/// One VM KVM runs.
#[pin_data]
pub(crate) struct Vm {
    /// Never reused while the module is loaded.
    id: u32,
    /// KVM's `struct kvm`; see the module documentation for its lifetime.
    kvm: *mut c_void,
    vmm_pid: u32,
    created_ns: u64,
    /// Every trapped SYSCALL and SYSRET.
    traps: Atomic<u64>,
    #[pin]
    state: SpinLock<VmState>,
}

// SAFETY: `kvm` is only an identity and an argument to KVM's API, which
// may be called from any thread; everything else is `Send`.
unsafe impl Send for Vm {}
// SAFETY: as above; mutable state is behind `state` or atomic.
unsafe impl Sync for Vm {}

impl Vm {
    fn flags(&self, st: &VmState) -> u32 {
        let mut flags = 0;
        match st.identity {
            Identity::Known(_) => flags |= VM_UUID_KNOWN,
            Identity::Absent => flags |= VM_UUID_ABSENT,
            Identity::Unknown { .. } => {}
        }
        if st.selected {
            flags |= VM_SELECTED;
        }
        if st.traced {
            flags |= VM_TRACED;
        }
        flags
    }

    fn uuid(st: &VmState) -> Uuid {
        match st.identity {
            Identity::Known(uuid) => uuid,
            _ => Uuid::default(),
        }
    }
}

/// Which VMs to trace.
struct Selection {
    all: bool,
    uuids: KVec<Uuid>,
}

impl Selection {
    fn matches(&self, identity: Identity) -> bool {
        match identity {
            Identity::Known(uuid) => self.all || self.uuids.contains(&uuid),
            Identity::Absent => self.all,
            // Decided once the VM is identified.
            Identity::Unknown { .. } => false,
        }
    }
}

/// State under `Tracker::registry`.
struct Registry {
    vms: KVec<Arc<Vm>>,
    next_id: u32,
    selection: Selection,
}

/// The KVM client's state, shared by KVM's callbacks and the device.
#[pin_data]
pub(crate) struct Tracker {
    hub: Arc<Hub>,
    #[pin]
    registry: Mutex<Registry>,
    /// The VMs of `registry`, for the vCPU hot path: a short spinlock
    /// instead of the registry's mutex, which is held across KVM calls.
    #[pin]
    index: SpinLock<KVec<Arc<Vm>>>,
    pending_max: usize,
    pending_timeout_ns: u64,
}

/// The registered tracker, for KVM's callbacks (which carry no context).
///
/// Non-null exactly while [`KvmClient`] is registered with KVM.
static TRACKER: Atomic<*mut Tracker> = Atomic::new(core::ptr::null_mut());

/// Guest registers at a trap, as KVM passes them
/// (`struct kvm_syscall_trap_regs`; shim.c checks the layout).
#[repr(C)]
pub(crate) struct TrapRegs {
    rax: u64,
    rbx: u64,
    rcx: u64,
    rdx: u64,
    rsi: u64,
    rdi: u64,
    rbp: u64,
    rsp: u64,
    r8: u64,
    r9: u64,
    r10: u64,
    r11: u64,
    r12: u64,
    r13: u64,
    r14: u64,
    r15: u64,
    rip: u64,
    rflags: u64,
    cr3: u64,
    kernel_gs_base: u64,
    vcpu_id: u32,
    reserved: u32,
}

const _: () = assert!(core::mem::size_of::<TrapRegs>() == shim::TRAP_REGS_SIZE);

impl Tracker {
    /// A tracker producing records into `hub`.
    pub(crate) fn new(
        hub: Arc<Hub>,
        pending_max: usize,
        pending_timeout_ms: u32,
    ) -> Result<Arc<Self>> {
        Arc::pin_init(
            try_pin_init!(Self {
                hub,
                registry <- new_mutex!(
                    Registry {
                        vms: KVec::new(),
                        next_id: 1,
                        selection: Selection {
                            all: false,
                            uuids: KVec::new(),
                        },
                    },
                    "leaktrace_registry"
                ),
                index <- new_spinlock!(KVec::new(), "leaktrace_index"),
                pending_max,
                pending_timeout_ns: u64::from(pending_timeout_ms) * 1_000_000,
            }? Error),
            GFP_KERNEL,
        )
    }

    /// The hub records go to.
    pub(crate) fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    fn emit_vm(&self, vm: &Vm, st: &VmState, event: VmEvent) {
        self.hub.emit(VmRecord {
            header: RecordHeader::new::<VmRecord>(RecordKind::Vm, shim::clock_ns()),
            vm_id: vm.id,
            event: event as u32,
            uuid: Vm::uuid(st),
            vmm_pid: vm.vmm_pid,
            refusal: if event == VmEvent::Refused {
                st.refusal as u32
            } else {
                Refusal::None as u32
            },
            flags: vm.flags(st),
            reserved: 0,
        });
    }

    /// Emits a finished call, numbering it within its VM.
    fn emit_call(&self, calls: &mut CallCounts, mut record: SyscallRecord, end: SyscallEnd) {
        // The header's time is when the record is produced: now, at the end.
        record.header.time_ns = shim::clock_ns();
        record.end = end as u32;
        record.vm_seq = calls.vm_seq;
        calls.vm_seq += 1;
        calls.syscalls += 1;
        if end == SyscallEnd::Returned {
            calls.returned += 1;
        }
        self.hub.emit(record);
    }

    /// Ends every pending call of `vm` (tracing stops).
    fn drain_pending(&self, st: &mut VmState) {
        let now = shim::clock_ns();
        let VmState { pending, calls, .. } = st;
        pending.drain(|mut record| {
            record.exit_ns = now;
            self.emit_call(calls, record, SyscallEnd::Untraced);
        });
    }

    /// Brings `vm`'s arming and tracing in line with its identity and the
    /// selection. Called with `registry` held; may sleep (KVM's arm).
    fn apply(&self, reg: &Registry, vm: &Vm) {
        let (identity, armed) = {
            let st = vm.state.lock();
            (st.identity, st.armed)
        };
        let selected = reg.selection.matches(identity);
        // Unidentified VMs stay armed: their next call identifies them.
        let want_armed = selected || matches!(identity, Identity::Unknown { .. });
        let mut refusal = Refusal::None;
        let mut now_armed = armed;
        if want_armed != armed {
            // SAFETY: `vm.kvm` is alive: `vm` is in the registry, which we
            // hold, and `vm_destroyed` removes it under the same lock.
            let raw = unsafe { shim::kvm_syscall_trap_arm(vm.kvm, want_armed) };
            refusal = refusal_from_kvm(raw);
            now_armed = want_armed && refusal == Refusal::None;
        }

        let mut st = vm.state.lock();
        st.armed = now_armed;
        st.selected = selected;
        let was_traced = st.traced;
        st.traced = now_armed && selected;
        if refusal != Refusal::None {
            st.refusal = refusal;
            self.emit_vm(vm, &st, VmEvent::Refused);
        } else if now_armed {
            st.refusal = Refusal::None;
        }
        match (was_traced, st.traced) {
            (false, true) => self.emit_vm(vm, &st, VmEvent::Armed),
            (true, false) => {
                self.drain_pending(&mut st);
                self.emit_vm(vm, &st, VmEvent::Disarmed);
            }
            _ => {}
        }
    }

    /// KVM created a VM (or it existed when we registered).
    fn vm_created(&self, kvm: *mut c_void) {
        // SAFETY: `kvm` is alive during the callback.
        let vmm_pid = unsafe { shim::leaktrace_kvm_creator_pid(kvm) };
        let mut reg = self.registry.lock();
        let id = reg.next_id;
        let slots = KVVec::from_elem(Slot::default(), self.pending_max, GFP_KERNEL);
        let vm = slots.map_err(Error::from).and_then(|slots| {
            Arc::pin_init(
                try_pin_init!(Vm {
                    id,
                    kvm,
                    vmm_pid,
                    created_ns: shim::clock_ns(),
                    traps: Atomic::new(0),
                    state <- new_spinlock!(
                        VmState {
                            identity: Identity::Unknown { attempts: 0 },
                            armed: false,
                            selected: false,
                            traced: false,
                            refusal: Refusal::None,
                            pending: PendingTable::new(slots),
                            calls: CallCounts::default(),
                        },
                        "leaktrace_vm"
                    ),
                }? Error),
                GFP_KERNEL,
            )
        });
        let vm = match vm.and_then(|vm| {
            reg.vms.push(vm.clone(), GFP_KERNEL)?;
            let mut index = KVec::new();
            index.reserve(reg.vms.len(), GFP_KERNEL)?;
            for vm in reg.vms.iter() {
                // Cannot allocate: reserved above.
                index.push(vm.clone(), GFP_NOWAIT)?;
            }
            // The old index is freed outside the spinlock.
            let _old = core::mem::replace(&mut *self.index.lock(), index);
            Ok(vm)
        }) {
            Ok(vm) => vm,
            Err(_) => {
                // Without memory we cannot follow it: say so, never crash.
                pr_err!("out of memory: VM of pid {} will not be traced\n", vmm_pid);
                return;
            }
        };
        reg.next_id = reg.next_id.wrapping_add(1);
        self.emit_vm(&vm, &vm.state.lock(), VmEvent::Created);
        self.apply(&reg, &vm);
    }

    /// KVM is destroying a VM: forget it.
    fn vm_destroyed(&self, kvm: *mut c_void) {
        let mut reg = self.registry.lock();
        let Some(index) = reg.vms.iter().position(|vm| vm.kvm == kvm) else {
            return;
        };
        let vm = reg.vms.remove(index);
        {
            let mut lookup = self.index.lock();
            if let Some(i) = lookup.iter().position(|vm| vm.kvm == kvm) {
                // Shrinking never allocates.
                let _ = lookup.remove(i);
            }
        }
        drop(reg);
        if let Ok(vm) = vm {
            let mut st = vm.state.lock();
            if st.traced {
                self.drain_pending(&mut st);
            }
            st.traced = false;
            st.armed = false;
            self.emit_vm(&vm, &st, VmEvent::Destroyed);
        }
    }

    /// Looks for the VM's SMBIOS UUID on its vCPU's thread.
    fn identify(&self, vm: &Arc<Vm>, vcpu: *mut c_void) {
        // Read before taking any lock: it may fault guest pages in.
        let found = read_smbios_uuid(vcpu);
        let reg = self.registry.lock();
        {
            let mut st = vm.state.lock();
            let Identity::Unknown { attempts } = st.identity else {
                // Another vCPU was faster.
                return;
            };
            match found {
                Some(uuid) => {
                    st.identity = Identity::Known(uuid);
                    self.emit_vm(vm, &st, VmEvent::Identified);
                }
                None if attempts + 1 >= IDENTIFY_ATTEMPTS => {
                    st.identity = Identity::Absent;
                    self.emit_vm(vm, &st, VmEvent::NoUuid);
                }
                None => {
                    st.identity = Identity::Unknown {
                        attempts: attempts + 1,
                    };
                    return;
                }
            }
        }
        self.apply(&reg, vm);
    }

    /// The `Vm` of a vCPU; `None` for a VM we failed to register.
    fn vm_of(&self, vcpu: *mut c_void) -> Option<Arc<Vm>> {
        // SAFETY: `vcpu` is alive during the callback.
        let kvm = unsafe { shim::leaktrace_vcpu_kvm(vcpu) };
        self.index.lock().iter().find(|vm| vm.kvm == kvm).cloned()
    }

    /// A SYSCALL trapped, before KVM emulates it.
    fn syscall(&self, vcpu: *mut c_void, regs: &TrapRegs) {
        let Some(vm) = self.vm_of(vcpu) else { return };
        vm.traps.fetch_add(1, ordering::Relaxed);
        let mut st = vm.state.lock();
        if matches!(st.identity, Identity::Unknown { .. }) {
            // Identifying reads guest memory and may sleep: not under the lock.
            drop(st);
            self.identify(&vm, vcpu);
            st = vm.state.lock();
        }
        if !st.traced {
            return;
        }
        let now = shim::clock_ns();
        let record = SyscallRecord {
            header: RecordHeader::new::<SyscallRecord>(RecordKind::Syscall, now),
            vm_id: vm.id,
            vcpu: regs.vcpu_id,
            vm_seq: 0,
            uuid: Vm::uuid(&st),
            cr3: regs.cr3,
            rip: regs.rip,
            rsp: regs.rsp,
            nr: regs.rax,
            args: [regs.rdi, regs.rsi, regs.rdx, regs.r10, regs.r8, regs.r9],
            ret: 0,
            entry_ns: now,
            exit_ns: 0,
            end: 0,
            reserved: 0,
        };
        const _: () = assert!(SYSCALL_ARGS == 6);

        if record.nr == NR_EXIT || record.nr == NR_EXIT_GROUP {
            let record = SyscallRecord {
                exit_ns: now,
                ..record
            };
            self.emit_call(&mut st.calls, record, SyscallEnd::NoReturn);
            return;
        }
        let VmState { pending, calls, .. } = &mut *st;
        pending.enter(
            regs.cr3,
            regs.rsp,
            now,
            record,
            self.pending_timeout_ns,
            |mut old, end| {
                old.exit_ns = now;
                let end = match end {
                    End::Superseded => SyscallEnd::Superseded,
                    End::TimedOut => SyscallEnd::TimedOut,
                    End::Evicted => SyscallEnd::Evicted,
                };
                self.emit_call(calls, old, end);
            },
        );
    }

    /// A SYSRET trapped, after KVM emulated it.
    fn sysret(&self, vcpu: *mut c_void, regs: &TrapRegs) {
        let Some(vm) = self.vm_of(vcpu) else { return };
        vm.traps.fetch_add(1, ordering::Relaxed);
        let mut st = vm.state.lock();
        if !st.traced {
            return;
        }
        let VmState { pending, calls, .. } = &mut *st;
        match pending.exit(regs.cr3, regs.rsp) {
            Some(mut record) => {
                // RAX holds the return value as a signed long.
                record.ret = regs.rax as i64;
                record.exit_ns = shim::clock_ns();
                self.emit_call(calls, record, SyscallEnd::Returned);
            }
            None => calls.unmatched_returns += 1,
        }
    }

    /// `IOCTL_VM_LIST`.
    pub(crate) fn vm_list(&self, arg: usize) -> Result {
        let mut request = read_request::<VmListRequest>(arg)?;
        let mut infos = KVec::new();
        {
            let reg = self.registry.lock();
            infos.reserve(reg.vms.len(), GFP_KERNEL)?;
            for vm in reg.vms.iter() {
                let armed = vm.state.lock().armed;
                // A VM armed earlier may be refused now (e.g. it enabled CET).
                let live_refusal = if armed {
                    // SAFETY: alive while in the registry, which we hold.
                    Some(refusal_from_kvm(unsafe {
                        shim::kvm_syscall_trap_status(vm.kvm)
                    }))
                } else {
                    None
                };
                let st = vm.state.lock();
                let refusal = live_refusal.unwrap_or(st.refusal);
                // Cannot allocate: reserved above.
                infos.push(Self::info(vm, &st, refusal), GFP_NOWAIT)?;
            }
        }
        let count = infos.len();
        let written = count.min(request.capacity as usize);
        let mut out = UserSlice::new(
            UserPtr::from_addr(request.entries as usize),
            written * size_of::<VmInfo>(),
        )
        .writer();
        for info in &infos[..written] {
            out.write_slice(info.as_bytes())?;
        }
        request.count = count.try_into().unwrap_or(u32::MAX);
        write_reply(arg, &request)
    }

    fn info(vm: &Vm, st: &VmState, refusal: Refusal) -> VmInfo {
        VmInfo {
            vm_id: vm.id,
            flags: vm.flags(st),
            uuid: Vm::uuid(st),
            vmm_pid: vm.vmm_pid,
            refusal: refusal as u32,
            created_ns: vm.created_ns,
            syscalls: st.calls.syscalls,
            returned: st.calls.returned,
            unmatched_returns: st.calls.unmatched_returns,
            pending: st.pending.len() as u64,
            traps: vm.traps.load(ordering::Relaxed),
        }
    }

    /// `IOCTL_TRACE`: validates fully before changing anything.
    pub(crate) fn trace(&self, arg: usize) -> Result {
        let request = read_request::<TraceRequest>(arg)?;
        if request.reserved != 0 {
            return Err(EINVAL);
        }
        let nil = request.uuid == Uuid::default();
        let mut reg = self.registry.lock();
        match request.op {
            TRACE_ADD if !nil => {
                if !reg.selection.uuids.contains(&request.uuid) {
                    if reg.selection.uuids.len() >= SELECTION_MAX {
                        return Err(ENOSPC);
                    }
                    reg.selection.uuids.push(request.uuid, GFP_KERNEL)?;
                }
            }
            TRACE_REMOVE if !nil => {
                let index = reg
                    .selection
                    .uuids
                    .iter()
                    .position(|u| *u == request.uuid)
                    .ok_or(ENOENT)?;
                reg.selection.uuids.remove(index).map_err(|_| EINVAL)?;
            }
            TRACE_ALL if nil => reg.selection.all = true,
            TRACE_NONE if nil => {
                reg.selection.all = false;
                reg.selection.uuids.clear();
            }
            _ => return Err(EINVAL),
        }
        for i in 0..reg.vms.len() {
            let vm = reg.vms[i].clone();
            self.apply(&reg, &vm);
        }
        Ok(())
    }

    /// `IOCTL_GET_SELECTION`.
    pub(crate) fn selection(&self, arg: usize) -> Result {
        let mut request = read_request::<SelectionRequest>(arg)?;
        let reg = self.registry.lock();
        let count = reg.selection.uuids.len();
        let written = count.min(request.capacity as usize);
        let mut out =
            UserSlice::new(UserPtr::from_addr(request.uuids as usize), written * 16).writer();
        for uuid in &reg.selection.uuids[..written] {
            out.write_slice(uuid)?;
        }
        request.count = count as u32;
        request.all = u32::from(reg.selection.all);
        request.reserved = 0;
        write_reply(arg, &request)
    }

    /// After KVM stopped calling us: end what is pending, report the VMs
    /// as no longer traced.
    fn shut_down(&self) {
        let mut reg = self.registry.lock();
        for vm in reg.vms.iter() {
            let mut st = vm.state.lock();
            if st.traced {
                self.drain_pending(&mut st);
                st.traced = false;
                st.armed = false;
                self.emit_vm(vm, &st, VmEvent::Disarmed);
            }
        }
        reg.vms.clear();
        let _old = core::mem::replace(&mut *self.index.lock(), KVec::new());
    }
}

/// Reads an ioctl's argument structure from user address `arg`.
fn read_request<T: Pod + Default>(arg: usize) -> Result<T> {
    let mut request = T::default();
    UserSlice::new(UserPtr::from_addr(arg), size_of::<T>())
        .reader()
        .read_slice(request.as_bytes_mut())?;
    Ok(request)
}

/// Writes an ioctl's updated argument structure back to `arg`.
fn write_reply<T: Pod>(arg: usize, reply: &T) -> Result {
    UserSlice::new(UserPtr::from_addr(arg), size_of::<T>())
        .writer()
        .write_slice(reply.as_bytes())
}

/// Converts KVM's `enum kvm_syscall_trap_refusal`.
fn refusal_from_kvm(raw: u32) -> Refusal {
    Refusal::from_raw(raw).unwrap_or(Refusal::None)
}

/// Reads the guest's SMBIOS system UUID through the vCPU; `None` if there
/// is none (yet) or the memory cannot be read.
fn read_smbios_uuid(vcpu: *mut c_void) -> Option<Uuid> {
    let mut fseg = KVVec::from_elem(0u8, smbios::FSEG_LEN, GFP_KERNEL).ok()?;
    // SAFETY: `vcpu` is the calling vCPU, alive during the callback; the
    // buffer holds `FSEG_LEN` bytes.
    unsafe { shim::read_guest_phys(vcpu, smbios::FSEG_BASE, &mut fseg) }.ok()?;
    let entry = smbios::find_entry_point(&fseg)?;
    drop(fseg);
    let mut table = KVVec::from_elem(0u8, entry.table_len, GFP_KERNEL).ok()?;
    // SAFETY: as above, for `table_len` bytes.
    unsafe { shim::read_guest_phys(vcpu, entry.table_addr, &mut table) }.ok()?;
    smbios::system_uuid(&table, &entry)
}

/// Registration with KVM; unregisters on drop.
///
/// # Invariants
///
/// While it exists, `TRACKER` points to `tracker` and the shim's client is
/// registered with KVM.
pub(crate) struct KvmClient {
    tracker: Arc<Tracker>,
}

impl KvmClient {
    /// Becomes KVM's syscall-trap client; `EBUSY` if KVM has another.
    pub(crate) fn register(tracker: Arc<Tracker>) -> Result<Self> {
        TRACKER.store(Arc::as_ptr(&tracker).cast_mut(), ordering::Release);
        // SAFETY: the callbacks find the tracker through `TRACKER`, set
        // above and kept until unregistration in `Drop`.
        let ret = unsafe { shim::leaktrace_trap_register() };
        if ret != 0 {
            TRACKER.store(core::ptr::null_mut(), ordering::Release);
            return Err(Error::from_errno(ret));
        }
        // INVARIANT: registered, `TRACKER` set.
        Ok(Self { tracker })
    }
}

impl Drop for KvmClient {
    fn drop(&mut self) {
        // SAFETY: registered (type invariant). Returns once every VM is
        // disarmed and no callback runs.
        unsafe { shim::leaktrace_trap_unregister() };
        TRACKER.store(core::ptr::null_mut(), ordering::Release);
        self.tracker.shut_down();
    }
}

/// The tracker, for a KVM callback.
fn tracker() -> Option<&'static Tracker> {
    let ptr = TRACKER.load(ordering::Acquire);
    // SAFETY: non-null only while `KvmClient` holds the `Arc` and KVM may
    // call us; KVM makes no callback after unregistration returns, which
    // happens before the `Arc` is dropped.
    unsafe { ptr.as_ref() }
}

/// KVM callback: a VM was created. See `struct kvm_syscall_trap_ops`.
#[no_mangle]
extern "C" fn leaktrace_on_vm_created(kvm: *mut c_void) {
    if let Some(tracker) = tracker() {
        tracker.vm_created(kvm);
    }
}

/// KVM callback: a VM is being destroyed.
#[no_mangle]
extern "C" fn leaktrace_on_vm_destroyed(kvm: *mut c_void) {
    if let Some(tracker) = tracker() {
        tracker.vm_destroyed(kvm);
    }
}

/// KVM callback: a guest SYSCALL, before emulation.
///
/// # Safety
///
/// `regs` points to a valid register snapshot for the call.
#[no_mangle]
unsafe extern "C" fn leaktrace_on_syscall(vcpu: *mut c_void, regs: *const TrapRegs) {
    // SAFETY: KVM passes a valid snapshot for the duration of the call.
    let regs = unsafe { &*regs };
    if let Some(tracker) = tracker() {
        tracker.syscall(vcpu, regs);
    }
}

/// KVM callback: a guest SYSRET, after emulation.
///
/// # Safety
///
/// `regs` points to a valid register snapshot for the call.
#[no_mangle]
unsafe extern "C" fn leaktrace_on_sysret(vcpu: *mut c_void, regs: *const TrapRegs) {
    // SAFETY: KVM passes a valid snapshot for the duration of the call.
    let regs = unsafe { &*regs };
    if let Some(tracker) = tracker() {
        tracker.sysret(vcpu, regs);
    }
}
