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
//! A VM with a profile (`IOCTL_PROFILE_LOAD`, for its UUID or the default)
//! also gets the calling guest task in every record and a [`FileRecord`]
//! for each file descriptor a call takes or produces, read from the guest
//! kernel's structures on the vCPU's thread ([`crate::introspect`]). The
//! profile is checked against the running guest kernel first, and again
//! whenever the guest's `MSR_LSTAR` changes (a reboot).
//!
//! Locking, outermost first: `Tracker::registry` (mutex: VM list, selection,
//! arming decisions), `Vm::state` (spinlock: pending calls, counters), the
//! hub's ring (irq spinlock). The vCPU hot path takes only the last two,
//! and never holds `Vm::state` across a guest memory read (which may sleep).
//!
//! Lifetime: a `struct kvm` pointer is valid from `vm_created` until
//! `vm_destroyed` returns (KVM's contract). Both take `registry`, and the
//! pointer is used only under `registry` or from a callback of that VM, so
//! it is never used after `vm_destroyed`.

use crate::abi::DiffusionOp;
use crate::abi::DiffusionRecord;
use crate::abi::FileKind;
use crate::abi::FileRecord;
use crate::abi::Node;
use crate::abi::NodeKind;
use crate::abi::Pod;
use crate::abi::Profile;
use crate::abi::ProfileLoadRequest;
use crate::abi::ProfileState;
use crate::abi::Resolution;
use crate::abi::TaskIdentity;
use crate::abi::FILE_ROLE_PAIR0;
use crate::abi::FILE_ROLE_PAIR1;
use crate::abi::FILE_ROLE_RETURN;
use crate::abi::RecordHeader;
use crate::abi::RecordKind;
use crate::abi::Refusal;
use crate::abi::SecretInfo;
use crate::abi::SecretListRequest;
use crate::abi::SecretRequest;
use crate::abi::SelectionRequest;
use crate::abi::SyscallEnd;
use crate::abi::SyscallRecord;
use crate::abi::TraceRequest;
use crate::abi::Uuid;
use crate::abi::VmEvent;
use crate::abi::VmInfo;
use crate::abi::VmListRequest;
use crate::abi::VmRecord;
use crate::abi::SECRETS_MAX;
use crate::abi::SECRET_ADD;
use crate::abi::SECRET_PATTERN_MAX;
use crate::abi::SECRET_REMOVE;
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
use crate::diffusion;
use crate::diffusion::Object;
use crate::fdcalls;
use crate::glob;
use crate::fdcalls::FdResult;
use crate::hub::Hub;
use crate::introspect;
use crate::introspect::Descriptor;
use crate::introspect::Fault;
use crate::introspect::FileCache;
use crate::introspect::FileCacheEntry;
use crate::introspect::FILE_CACHE_SIZE;
use crate::introspect::GuestMemory;
use crate::introspect::Kernel;
use crate::introspect::TaskCache;
use crate::pending::End;
use crate::pending::PendingTable;
use crate::pending::Slot;
use crate::propagation;
use crate::propagation::HostTables;
use crate::propagation::Lookup;
use crate::propagation::SecretDef;
use crate::propagation::SecretSet;
use crate::propagation::VmTables;
use crate::propagation::Writers;
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
use kernel::time::delay::fsleep;
use kernel::time::Delta;
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

/// `AF_INET`.
const AF_INET: u16 = 2;

/// A call waiting for its SYSRET: its record, and what diffusion needs
/// from its entry (the guest may change it before the call returns).
#[derive(Clone, Copy, Default)]
struct PendingCall {
    record: SyscallRecord,
    /// The descriptors in its arguments, in `fd_arguments()` order.
    fds: [Object; 2],
    /// `clone3`: its flags.
    clone3_flags: u64,
    /// `sendto`/`sendmsg` on an unconnected IPv4 socket: where to.
    destination: Option<([u8; 4], u16)>,
}

/// Pending-call storage of one VM.
type Pending = PendingTable<PendingCall, KVVec<Slot<PendingCall>>>;

/// File identities of one VM, so that a descriptor used again costs one
/// guest read of its `struct file` instead of a path walk.
type Files = FileCache<KVVec<Option<FileCacheEntry>>>;

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
    /// The profile that applies to the VM (its UUID's, or the default).
    profile: Option<Arc<Profile>>,
    /// What checking `profile` against the running guest kernel found.
    binding: Binding,
    /// Recently seen guest tasks, valid for `binding`.
    tasks: TaskCache,
    /// Recently resolved files, valid for `binding`.
    files: Files,
    /// The secrets that apply to the VM.
    secrets: Option<Arc<SecretSet>>,
    /// Recent IPv4 stream sockets' addresses (a closed one loses its port).
    sockets: diffusion::SocketCache,
}

/// A profile checked against a guest kernel.
#[derive(Clone, Copy)]
struct Binding {
    state: ProfileState,
    /// `MSR_LSTAR` when checked: a new value means a new kernel (reboot).
    lstar: u64,
    /// The guest kernel's relocation, when `Active`.
    slide: u64,
}

impl Binding {
    fn unchecked(profile: &Option<Arc<Profile>>) -> Self {
        Self {
            state: if profile.is_some() {
                ProfileState::Loaded
            } else {
                ProfileState::None
            },
            lstar: 0,
            slide: 0,
        }
    }
}

/// How a traced call's guest structures can be read.
enum View<'a> {
    /// Through a profile that matches the kernel.
    Kernel(Kernel<'a>),
    /// Not at all, for this reason.
    Unavailable(Resolution),
}

/// Guest memory as the trapping vCPU sees it.
struct VcpuMemory {
    vcpu: *mut c_void,
}

impl GuestMemory for VcpuMemory {
    fn read(&mut self, addr: u64, buf: &mut [u8]) -> core::result::Result<(), Fault> {
        // SAFETY: `VcpuMemory` is only made in a trap callback of `vcpu`,
        // on its thread.
        unsafe { shim::read_guest_virt(self.vcpu, addr, buf) }.map_err(|_| Fault)
    }
}

/// Per-VM numbering and accounting of syscall records.
#[derive(Default)]
struct CallCounts {
    /// Next per-VM record sequence number.
    vm_seq: u64,
    /// The last call number given (`SyscallRecord::call_id`).
    call_id: u64,
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
    /// Tasks and files resolved through the profile.
    resolved: Atomic<u64>,
    /// Tasks and files that could not be.
    unresolved: Atomic<u64>,
    /// Its trapped calls inside [`Tracker::hold_trap`] now (test knob).
    held: Atomic<u32>,
    /// When its last held call left the module (ns; test knob).
    last_release_ns: Atomic<u64>,
    #[pin]
    state: SpinLock<VmState>,
    /// What carries secrets in the VM.
    #[pin]
    tables: VmTables,
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
    /// Profiles of VMs by UUID (at most `SELECTION_MAX`).
    profiles: KVec<(Uuid, Arc<Profile>)>,
    /// The profile of every other VM.
    default_profile: Option<Arc<Profile>>,
    /// The secrets defined (at most `SECRETS_MAX`).
    secrets: KVec<Arc<SecretDef>>,
    /// The last secret id given (ids are reused last).
    last_secret_id: u32,
}

impl Registry {
    fn profile_for(&self, identity: Identity) -> Option<Arc<Profile>> {
        if let Identity::Known(uuid) = identity {
            if let Some((_, profile)) = self.profiles.iter().find(|(u, _)| *u == uuid) {
                return Some(profile.clone());
            }
        }
        self.default_profile.clone()
    }

    /// The secrets that apply to a VM of `identity`, `None` for none.
    fn secrets_for(&self, identity: Identity) -> Result<Option<Arc<SecretSet>>> {
        let mut defs = KVec::new();
        for def in self.secrets.iter() {
            let applies = def.all || matches!(identity, Identity::Known(uuid) if uuid == def.uuid);
            if applies {
                defs.push(def.clone(), GFP_KERNEL)?;
            }
        }
        if defs.is_empty() {
            return Ok(None);
        }
        Ok(Some(Arc::new(SecretSet { defs }, GFP_KERNEL)?))
    }
}

/// Whether two optional profiles are the same object.
fn same_profile(a: &Option<Arc<Profile>>, b: &Option<Arc<Profile>>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
        (None, None) => true,
        _ => false,
    }
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
    /// Flows and VM addresses, shared by all VMs.
    #[pin]
    host: HostTables,
    pending_max: usize,
    pending_timeout_ns: u64,
    /// `test_trap_hold_us`: how long a traced call sleeps in the module
    /// (0: it does not), to force lifecycle races in tests.
    trap_hold_us: u32,
}

/// Trapped calls of all VMs inside [`Tracker::hold_trap`] now.
static HELD_TRAPS: Atomic<u32> = Atomic::new(0);

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
    lstar: u64,
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
        trap_hold_us: u32,
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
                        profiles: KVec::new(),
                        default_profile: None,
                        secrets: KVec::new(),
                        last_secret_id: SECRETS_MAX as u32 - 1,
                    },
                    "leaktrace_registry"
                ),
                index <- new_spinlock!(KVec::new(), "leaktrace_index"),
                host <- HostTables::new(),
                pending_max,
                pending_timeout_ns: u64::from(pending_timeout_ms) * 1_000_000,
                trap_hold_us,
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

    /// Emits a finished call, numbering it within its VM. By reference:
    /// under the testbed's emulated CPU each copy of a record costs about
    /// a microsecond (Documentation/evaluation.md, lt-membench).
    fn emit_call(&self, calls: &mut CallCounts, record: &mut SyscallRecord, end: SyscallEnd) {
        // The header's time is when the record is produced: now, at the end.
        record.header.time_ns = shim::clock_ns();
        record.end = end as u32;
        record.vm_seq = calls.vm_seq;
        calls.vm_seq += 1;
        calls.syscalls += 1;
        if end == SyscallEnd::Returned {
            calls.returned += 1;
        }
        self.hub.emit_syscall(record);
    }

    /// Ends every pending call of `vm` (tracing stops).
    fn drain_pending(&self, st: &mut VmState) {
        let now = shim::clock_ns();
        let VmState { pending, calls, .. } = st;
        pending.drain(|mut call| {
            call.record.exit_ns = now;
            self.emit_call(calls, &mut call.record, SyscallEnd::Untraced);
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
        let profile = reg.profile_for(identity);
        // Without memory the VM keeps the secrets it had.
        let secrets = reg.secrets_for(identity);
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
        if let Ok(secrets) = secrets {
            st.secrets = secrets;
        }
        if !same_profile(&st.profile, &profile) {
            st.binding = Binding::unchecked(&profile);
            st.profile = profile;
            st.tasks.clear();
            st.files.invalidate();
            st.sockets.clear();
        }
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
        let files = KVVec::from_elem(None, FILE_CACHE_SIZE, GFP_KERNEL);
        let vm = slots.and_then(|slots| files.map(|files| (slots, files))).map_err(Error::from).and_then(|(slots, files)| {
            Arc::pin_init(
                try_pin_init!(Vm {
                    id,
                    kvm,
                    vmm_pid,
                    created_ns: shim::clock_ns(),
                    traps: Atomic::new(0),
                    resolved: Atomic::new(0),
                    unresolved: Atomic::new(0),
                    held: Atomic::new(0),
                    last_release_ns: Atomic::new(0),
                    state <- new_spinlock!(
                        VmState {
                            identity: Identity::Unknown { attempts: 0 },
                            armed: false,
                            selected: false,
                            traced: false,
                            refusal: Refusal::None,
                            pending: PendingTable::new(slots),
                            calls: CallCounts::default(),
                            profile: None,
                            binding: Binding::unchecked(&None),
                            tasks: TaskCache::default(),
                            files: FileCache::new(files),
                            secrets: None,
                            sockets: diffusion::SocketCache::default(),
                        },
                        "leaktrace_vm"
                    ),
                    tables <- VmTables::new(),
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
            self.check_destroyed(&vm);
            let mut st = vm.state.lock();
            if st.traced {
                self.drain_pending(&mut st);
            }
            st.traced = false;
            st.armed = false;
            self.emit_vm(&vm, &st, VmEvent::Destroyed);
            drop(st);
            // Its processes and objects go with `vm`; flows into it are the host's.
            self.host.forget_vm(vm.id);
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

    /// Checks the VM's profile against the running guest kernel if that
    /// was not done for this kernel (`lstar`) yet, and says how the call's
    /// structures can be read. Reads guest memory: no lock held.
    fn view<'a>(
        &self,
        vm: &Vm,
        profile: Option<&'a Profile>,
        binding: Binding,
        lstar: u64,
        mem: &mut VcpuMemory,
    ) -> View<'a> {
        let Some(profile) = profile else {
            return View::Unavailable(Resolution::NoProfile);
        };
        if binding.state != ProfileState::Loaded && binding.lstar == lstar {
            return match binding.state {
                ProfileState::Active => View::Kernel(Kernel {
                    profile,
                    slide: binding.slide,
                }),
                _ => View::Unavailable(Resolution::ProfileMismatch),
            };
        }
        let checked = introspect::relocation(profile, lstar, mem);
        let mut st = vm.state.lock();
        // Record the result unless the profile changed meanwhile.
        let current = st.profile.as_ref().map(|p| Arc::as_ptr(p));
        if current == Some(profile as *const Profile) {
            let (state, slide) = match checked {
                Ok(slide) => (ProfileState::Active, slide),
                Err(_) => (ProfileState::Mismatch, 0),
            };
            let changed = st.binding.state != state;
            st.binding = Binding { state, lstar, slide };
            st.tasks.clear();
            st.files.invalidate();
            st.sockets.clear();
            if changed {
                let event = if state == ProfileState::Active {
                    VmEvent::ProfileActive
                } else {
                    VmEvent::ProfileMismatch
                };
                self.emit_vm(vm, &st, event);
            }
        }
        drop(st);
        match checked {
            Ok(slide) => View::Kernel(Kernel { profile, slide }),
            Err(_) => View::Unavailable(Resolution::ProfileMismatch),
        }
    }

    /// The task making the call, from the per-CPU `current_task`.
    fn task(&self, vm: &Vm, kernel: &Kernel<'_>, mem: &mut VcpuMemory, regs: &TrapRegs) -> TaskIdentity {
        let unresolved = |task| {
            vm.unresolved.fetch_add(1, ordering::Relaxed);
            TaskIdentity {
                task,
                status: Resolution::Unresolved as u32,
                ..TaskIdentity::default()
            }
        };
        let Ok(task) = kernel.current_task(mem, regs.kernel_gs_base) else {
            return unresolved(0);
        };
        let Ok(key) = kernel.task_key(mem, task) else {
            return unresolved(task);
        };
        let cached = vm.state.lock().tasks.lookup(&key);
        let identity = match cached {
            Some(identity) => identity,
            None => match kernel.task_identity(mem, &key) {
                Ok(identity) => {
                    vm.state.lock().tasks.insert(key, identity);
                    identity
                }
                Err(_) => return unresolved(task),
            },
        };
        vm.resolved.fetch_add(1, ordering::Relaxed);
        identity
    }

    /// Resolves descriptor `fd` of `task` and emits its file record.
    /// Returns what diffusion needs of it, and whether the file is in
    /// `/proc` (where writing `comm` renames a task behind the task
    /// cache's back).
    #[allow(clippy::too_many_arguments)]
    fn emit_file(
        &self,
        vm: &Vm,
        kernel: &Kernel<'_>,
        mem: &mut VcpuMemory,
        secrets: Option<&SecretSet>,
        task: &TaskIdentity,
        fd: i32,
        role: u32,
        call_id: u64,
        nr: u64,
    ) -> (Object, bool) {
        let mut record = FileRecord {
            vm_id: vm.id,
            role,
            call_id,
            fd,
            ..FileRecord::default()
        };
        let now = shim::clock_ns();
        let status = match kernel.descriptor(mem, task.task, fd as u64) {
            Ok(Descriptor::NotOpen) => Resolution::None,
            Ok(Descriptor::Open(file)) => match Self::file_identity(vm, kernel, mem, task.task, file, now, &mut record) {
                Ok(()) => Resolution::Resolved,
                Err(_) => Resolution::Unresolved,
            },
            Err(_) => Resolution::Unresolved,
        };
        if status == Resolution::Unresolved {
            // file_identity() left the identity fields zero.
            vm.unresolved.fetch_add(1, ordering::Relaxed);
        } else if status == Resolution::Resolved {
            vm.resolved.fetch_add(1, ordering::Relaxed);
        }
        record.status = status as u32;
        record.header = RecordHeader::new::<FileRecord>(RecordKind::File, now);
        self.hub.emit_file(&mut record);
        let mut object = Object::from_record(&record);
        if object.socket_valid && object.socket.family == AF_INET {
            vm.state.lock().sockets.update(&mut object);
            let s = &object.socket;
            self.host
                .learn([s.local_addr[0], s.local_addr[1], s.local_addr[2], s.local_addr[3]], vm.id);
        }
        self.note_confidential(vm, secrets, task, &record, &object, nr);
        (object, record.path_bytes().starts_with(b"/proc/"))
    }

    /// Fills the identity of the open file at `file` into `record`: from
    /// the VM's file cache when its key still matches, else read from the
    /// guest (and cached). On a fault the identity fields are zero.
    fn file_identity(
        vm: &Vm,
        kernel: &Kernel<'_>,
        mem: &mut VcpuMemory,
        task: u64,
        file: u64,
        now: u64,
        record: &mut FileRecord,
    ) -> core::result::Result<(), Fault> {
        // On a fault nothing was filled in: the identity fields are zero.
        let key = kernel.file_key(mem, file)?;
        let generation = {
            let st = vm.state.lock();
            if st.files.lookup(&key, now, record) {
                return Ok(());
            }
            st.files.generation()
        };
        // Reads guest memory and may sleep: not under the lock.
        kernel.file_identity_of(mem, task, &key, record)?;
        vm.state.lock().files.insert(generation, now, &key, record);
        Ok(())
    }

    /// A regular file seen under a name: makes it confidential if the
    /// name matches a secret of the VM, and reports a confidential file
    /// seen under a new name.
    fn note_confidential(
        &self,
        vm: &Vm,
        secrets: Option<&SecretSet>,
        task: &TaskIdentity,
        record: &FileRecord,
        object: &Object,
        nr: u64,
    ) {
        let Some(node) = diffusion::file_node(vm.id, object) else {
            return;
        };
        let path = record.path_bytes();
        if path.is_empty() || record.flags & crate::abi::FILE_PATH_DETACHED != 0 {
            return;
        }
        let known = Lookup {
            vm: &vm.tables,
            host: &self.host,
        }
        .entry(&node);
        if known.is_none() && secrets.is_none() {
            // The common case of a VM without secrets: no hashing, no lock.
            return;
        }
        let hash = propagation::name_hash(path);
        let matched = match (known, secrets) {
            // Known under this name: the common case, no lock.
            (Some(entry), _) if entry.name_hash == hash => return,
            (Some(_), _) => 0,
            (None, Some(secrets)) => secrets.matching(path),
            (None, None) => return,
        };
        if known.is_none() && matched == 0 {
            return;
        }
        let mut w = Writers::lock(vm.id, &vm.tables, &self.host, &self.hub);
        let Some(entry) = w.entry(&node).or(if matched != 0 { Some(Default::default()) } else { None })
        else {
            return;
        };
        let carried = entry.secrets | matched;
        w.set_named(&node, carried, Some(hash));
        drop(w);
        let (op, old_name): (DiffusionOp, &[u8]) = if matched & !entry.secrets != 0 {
            if let Some(secrets) = secrets {
                secrets.count_file(matched & !entry.secrets);
            }
            (DiffusionOp::Source, path)
        } else if entry.name_hash != 0 && entry.name_hash != hash {
            (DiffusionOp::Rename, b"")
        } else {
            // First name of a file that became confidential by a write.
            return;
        };
        let mut out = DiffusionRecord {
            vm_id: vm.id,
            op: op as u32,
            call_id: record.call_id,
            nr,
            secrets: carried,
            new_secrets: if op == DiffusionOp::Source { matched & !entry.secrets } else { 0 },
            actor: *task,
            source: node,
            target: node,
            ..DiffusionRecord::default()
        };
        out.set_names(old_name, path);
        self.emit_diffusion(vm, &mut out);
    }

    /// Stamps and queues a diffusion record of `vm`.
    fn emit_diffusion(&self, vm: &Vm, record: &mut DiffusionRecord) {
        record.header = RecordHeader::new::<DiffusionRecord>(RecordKind::Diffusion, shim::clock_ns());
        vm.tables.diffusions.fetch_add(1, ordering::Relaxed);
        if record.op == DiffusionOp::Exfiltrate as u32 {
            vm.tables.exfiltrations.fetch_add(1, ordering::Relaxed);
        }
        self.hub.emit_diffusion(record);
    }

    /// Reads what diffusion needs from user memory at entry: `clone3`'s
    /// flags, the destination of a `sendto`/`sendmsg` on an unconnected
    /// IPv4 socket. Best effort: a fault leaves them unknown.
    fn entry_details(mem: &mut VcpuMemory, nr: u64, args: &[u64; 6], fds: &[Object; 2]) -> (u64, Option<([u8; 4], u16)>) {
        let mut clone3_flags = 0;
        let mut destination = None;
        let unconnected_inet = fds[0].socket_valid
            && fds[0].socket.family == AF_INET
            && fds[0].socket.remote_port == 0;
        match nr {
            diffusion::nr::CLONE3 => {
                let mut raw = [0u8; 8];
                if mem.read(args[0], &mut raw).is_ok() {
                    clone3_flags = u64::from_le_bytes(raw);
                }
            }
            diffusion::nr::SENDTO if unconnected_inet && args[4] != 0 => {
                destination = read_sockaddr_in(mem, args[4]);
            }
            diffusion::nr::SENDMSG if unconnected_inet => {
                // struct msghdr starts with msg_name.
                let mut raw = [0u8; 8];
                if mem.read(args[1], &mut raw).is_ok() {
                    let name = u64::from_le_bytes(raw);
                    if name != 0 {
                        destination = read_sockaddr_in(mem, name);
                    }
                }
            }
            _ => {}
        }
        (clone3_flags, destination)
    }

    /// A SYSCALL trapped, before KVM emulates it.
    fn syscall(&self, vcpu: *mut c_void, regs: &TrapRegs) {
        let Some(vm) = self.vm_of(vcpu) else { return };
        // What the guest kernel runs: the low half of RAX.
        let nr = fdcalls::effective_nr(regs.rax);
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
        st.calls.call_id += 1;
        let call_id = st.calls.call_id;
        if fdcalls::changes_paths(nr) {
            // Again when it returns: see FileCache.
            st.files.invalidate();
        }
        let profile = st.profile.clone();
        let binding = st.binding;
        let secrets = st.secrets.clone();
        drop(st);
        if self.trap_hold_us != 0 {
            self.hold_trap(&vm);
        }

        let args = [regs.rdi, regs.rsi, regs.rdx, regs.r10, regs.r8, regs.r9];
        const _: () = assert!(SYSCALL_ARGS == 6);
        let ends = nr == NR_EXIT || nr == NR_EXIT_GROUP;
        let mut mem = VcpuMemory { vcpu };
        let mut fds = [Object::default(); 2];
        let mut details = (0, None);
        let task = match self.view(&vm, profile.as_deref(), binding, regs.lstar, &mut mem) {
            View::Kernel(kernel) => {
                let task = self.task(&vm, &kernel, &mut mem, regs);
                if task.status == Resolution::Resolved as u32 {
                    let mut proc_file = false;
                    for (k, &i) in fdcalls::fd_arguments(nr).iter().enumerate() {
                        // Descriptors are ints; negative ones are not
                        // descriptors (mmap's -1, AT_FDCWD).
                        let fd = args[usize::from(i)] as u32 as i32;
                        if fd >= 0 {
                            let (object, in_proc) = self.emit_file(
                                &vm,
                                &kernel,
                                &mut mem,
                                secrets.as_deref(),
                                &task,
                                fd,
                                u32::from(i),
                                call_id,
                                nr,
                            );
                            if let Some(slot) = fds.get_mut(k) {
                                *slot = object;
                            }
                            proc_file |= in_proc;
                        }
                    }
                    if proc_file && fdcalls::is_write(nr) {
                        // Maybe /proc/PID/comm, of any task.
                        vm.state.lock().tasks.clear();
                    } else if ends || fdcalls::changes_task_identity(nr, &args) {
                        vm.state.lock().tasks.forget(task.task);
                    }
                    details = Self::entry_details(&mut mem, nr, &args, &fds);
                }
                task
            }
            View::Unavailable(status) => TaskIdentity {
                status: status as u32,
                ..TaskIdentity::default()
            },
        };

        let now = shim::clock_ns();
        let record = SyscallRecord {
            header: RecordHeader::new::<SyscallRecord>(RecordKind::Syscall, now),
            vm_id: vm.id,
            vcpu: regs.vcpu_id,
            vm_seq: 0,
            uuid: [0; 16],
            cr3: regs.cr3,
            rip: regs.rip,
            rsp: regs.rsp,
            nr,
            args,
            ret: 0,
            entry_ns: now,
            exit_ns: 0,
            end: 0,
            reserved: 0,
            call_id,
            task,
        };
        let mut call = PendingCall {
            record,
            fds,
            clone3_flags: details.0,
            destination: details.1,
        };
        if task.status == Resolution::Resolved as u32 {
            // Data leaving the process is followed before the guest kernel
            // moves it: a reader may return before this call does.
            self.diffuse(&vm, vcpu, profile.as_deref(), binding, &call, diffusion::Phase::Entry);
        }

        let mut st = vm.state.lock();
        if !st.traced {
            // Untraced while we read the guest.
            return;
        }
        call.record.uuid = Vm::uuid(&st);
        if ends {
            call.record.exit_ns = now;
            self.emit_call(&mut st.calls, &mut call.record, SyscallEnd::NoReturn);
            return;
        }
        let VmState { pending, calls, .. } = &mut *st;
        pending.enter(
            regs.cr3,
            regs.rsp,
            now,
            call,
            self.pending_timeout_ns,
            |mut old, end| {
                old.record.exit_ns = now;
                let end = match end {
                    End::Superseded => SyscallEnd::Superseded,
                    End::TimedOut => SyscallEnd::TimedOut,
                    End::Evicted => SyscallEnd::Evicted,
                };
                self.emit_call(calls, &mut old.record, end);
            },
        );
    }

    /// Emits the file records of the descriptors `produced`, which the
    /// successful call `record` of a resolved task created (its return
    /// value, or the pair it wrote to user memory).
    #[allow(clippy::too_many_arguments)]
    fn emit_created_files(
        &self,
        vm: &Vm,
        vcpu: *mut c_void,
        profile: Option<&Profile>,
        binding: Binding,
        secrets: Option<&SecretSet>,
        record: &SyscallRecord,
        produced: FdResult,
    ) {
        let (Some(profile), ProfileState::Active) = (profile, binding.state) else {
            return;
        };
        let kernel = Kernel {
            profile,
            slide: binding.slide,
        };
        let mut mem = VcpuMemory { vcpu };
        let task = &record.task;
        match produced {
            FdResult::Returned => {
                let Ok(fd) = i32::try_from(record.ret) else { return };
                self.emit_file(vm, &kernel, &mut mem, secrets, task, fd, FILE_ROLE_RETURN, record.call_id, record.nr);
            }
            FdResult::Pair(arg) => {
                // int fds[2] in user memory: the caller's address space is
                // the one the vCPU runs on at SYSRET.
                let mut pair = [0u8; 8];
                let at = record.args[usize::from(arg)];
                if mem.read(at, &mut pair).is_err() {
                    vm.unresolved.fetch_add(1, ordering::Relaxed);
                    return;
                }
                let first = i32::from_le_bytes([pair[0], pair[1], pair[2], pair[3]]);
                let second = i32::from_le_bytes([pair[4], pair[5], pair[6], pair[7]]);
                self.emit_file(vm, &kernel, &mut mem, secrets, task, first, FILE_ROLE_PAIR0, record.call_id, record.nr);
                self.emit_file(vm, &kernel, &mut mem, secrets, task, second, FILE_ROLE_PAIR1, record.call_id, record.nr);
            }
            FdResult::Nothing => {}
        }
    }

    /// Applies the data movements of `call` of a resolved task in `phase`
    /// (entering or returned), and reports the new edges. Looks the
    /// sources up without a lock first: most calls move nothing
    /// confidential.
    fn diffuse(
        &self,
        vm: &Vm,
        vcpu: *mut c_void,
        profile: Option<&Profile>,
        binding: Binding,
        call: &PendingCall,
        phase: diffusion::Phase,
    ) {
        let record = &call.record;
        let dcall = diffusion::Call {
            vm_id: vm.id,
            nr: record.nr,
            args: record.args,
            ret: record.ret,
            actor: record.task,
            fds: call.fds,
            clone3_flags: call.clone3_flags,
            destination: call.destination,
        };
        let moves = diffusion::moves(&dcall, phase, &self.host);
        if moves.is_empty() {
            return;
        }
        let lookup = Lookup {
            vm: &vm.tables,
            host: &self.host,
        };
        if !moves.iter().any(|m| diffusion::changes(&lookup, m)) {
            return;
        }
        let mut edges = [None; diffusion::MOVES_MAX];
        {
            let mut w = Writers::lock(vm.id, &vm.tables, &self.host, &self.hub);
            for (slot, m) in edges.iter_mut().zip(moves.iter()) {
                *slot = diffusion::apply(&mut w, m);
            }
        }
        // Names are read from the guest: no lock held.
        let kernel = match (profile, binding.state) {
            (Some(profile), ProfileState::Active) => Some(Kernel {
                profile,
                slide: binding.slide,
            }),
            _ => None,
        };
        let mut mem = VcpuMemory { vcpu };
        for edge in edges.iter().flatten() {
            let mut out = DiffusionRecord {
                vm_id: vm.id,
                op: edge.m.op as u32,
                call_id: record.call_id,
                nr: record.nr,
                secrets: edge.secrets,
                new_secrets: edge.new_secrets,
                actor: record.task,
                source: edge.m.source,
                target: edge.m.target,
                ..DiffusionRecord::default()
            };
            let mut source_name = [0u8; crate::abi::DIFFUSION_NAME_MAX];
            let mut target_name = [0u8; crate::abi::DIFFUSION_NAME_MAX];
            let source_len = self.node_name(&kernel, &mut mem, record, &edge.m.source, edge.m.source_fd, &mut source_name);
            let target_len = self.node_name(&kernel, &mut mem, record, &edge.m.target, edge.m.target_fd, &mut target_name);
            out.set_names(&source_name[..source_len], &target_name[..target_len]);
            self.emit_diffusion(vm, &mut out);
        }
    }

    /// Writes the name of `node` (a process's comm, a file's path read
    /// again through descriptor `fd` of the call) into `buf`; returns its
    /// length. Other nodes are named by their fields.
    fn node_name(
        &self,
        kernel: &Option<Kernel<'_>>,
        mem: &mut VcpuMemory,
        record: &SyscallRecord,
        node: &Node,
        fd: Option<u8>,
        buf: &mut [u8; crate::abi::DIFFUSION_NAME_MAX],
    ) -> usize {
        if node.kind == NodeKind::Process as u32 {
            // A child has its parent's name until it calls execve.
            let comm = &record.task.comm;
            let len = comm.iter().position(|&b| b == 0).unwrap_or(comm.len());
            buf[..len].copy_from_slice(&comm[..len]);
            return len;
        }
        let (Some(kernel), Some(k), true) = (kernel, fd, node.kind == NodeKind::File as u32) else {
            return 0;
        };
        let Some(&arg) = fdcalls::fd_arguments(record.nr).get(usize::from(k)) else {
            return 0;
        };
        let fd = record.args[usize::from(arg)];
        let mut file = FileRecord::default();
        let resolved = match kernel.descriptor(mem, record.task.task, fd) {
            Ok(Descriptor::Open(f)) => kernel.file_identity(mem, record.task.task, f, &mut file).is_ok(),
            _ => false,
        };
        // The descriptor may have been closed or replaced meanwhile.
        if !resolved || file.ino != node.id || FileKind::from_raw(file.kind) != Some(FileKind::Regular) {
            return 0;
        }
        let path = file.path_bytes();
        let path = &path[path.len().saturating_sub(buf.len())..];
        buf[..path.len()].copy_from_slice(path);
        path.len()
    }

    /// A SYSRET trapped, after KVM emulated it.
    fn sysret(&self, vcpu: *mut c_void, regs: &TrapRegs) {
        let Some(vm) = self.vm_of(vcpu) else { return };
        vm.traps.fetch_add(1, ordering::Relaxed);
        let mut st = vm.state.lock();
        if !st.traced {
            return;
        }
        let Some(mut call) = st.pending.exit(regs.cr3, regs.rsp) else {
            st.calls.unmatched_returns += 1;
            return;
        };
        if fdcalls::changes_paths(call.record.nr) {
            st.files.invalidate();
        }
        let record = &mut call.record;
        // RAX holds the return value as a signed long.
        record.ret = regs.rax as i64;
        record.exit_ns = shim::clock_ns();
        let resolved = record.task.status == Resolution::Resolved as u32;
        let produced = if resolved && record.ret >= 0 {
            fdcalls::fd_result(record.nr, &record.args)
        } else {
            FdResult::Nothing
        };
        if !resolved {
            self.emit_call(&mut st.calls, &mut call.record, SyscallEnd::Returned);
            return;
        }
        // Reading descriptors and applying diffusion may sleep: not under
        // the lock.
        let profile = st.profile.clone();
        let binding = st.binding;
        let secrets = st.secrets.clone();
        drop(st);
        if produced != FdResult::Nothing {
            self.emit_created_files(
                &vm,
                vcpu,
                profile.as_deref(),
                binding,
                secrets.as_deref(),
                &call.record,
                produced,
            );
        }
        {
            let mut st = vm.state.lock();
            self.emit_call(&mut st.calls, &mut call.record, SyscallEnd::Returned);
        }
        self.diffuse(&vm, vcpu, profile.as_deref(), binding, &call, diffusion::Phase::Return);
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
            profile: st.binding.state as u32,
            reserved: 0,
            kernel_slide: if st.binding.state == ProfileState::Active {
                st.binding.slide
            } else {
                0
            },
            resolved: vm.resolved.load(ordering::Relaxed),
            unresolved: vm.unresolved.load(ordering::Relaxed),
            diffusions: vm.tables.diffusions.load(ordering::Relaxed),
            exfiltrations: vm.tables.exfiltrations.load(ordering::Relaxed),
            table_entries: vm.tables.len().try_into().unwrap_or(u32::MAX),
            table_capacity: vm.tables.capacity().try_into().unwrap_or(u32::MAX),
            table_evictions: vm.tables.evictions(),
            diffusions_lost: vm.tables.lost.load(ordering::Relaxed),
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

    /// `IOCTL_PROFILE_LOAD`: validates fully before changing anything.
    pub(crate) fn profile_load(&self, arg: usize) -> Result {
        let request = read_request::<ProfileLoadRequest>(arg)?;
        let nil = request.uuid == Uuid::default();
        let valid_target = match request.all {
            0 => !nil,
            1 => nil,
            _ => false,
        };
        if request.reserved != 0 || request.reserved2 != 0 || !valid_target {
            return Err(EINVAL);
        }
        let profile = if request.profile == 0 {
            if request.size != 0 {
                return Err(EINVAL);
            }
            None
        } else {
            if request.size as usize != size_of::<Profile>() {
                return Err(EINVAL);
            }
            let mut profile = Profile::default();
            UserSlice::new(
                UserPtr::from_addr(request.profile as usize),
                size_of::<Profile>(),
            )
            .reader()
            .read_slice(profile.as_bytes_mut())?;
            profile.validate().map_err(|_| EINVAL)?;
            Some(Arc::new(profile, GFP_KERNEL)?)
        };

        let mut reg = self.registry.lock();
        let existing = reg.profiles.iter().position(|(u, _)| *u == request.uuid);
        match (request.all, profile, existing) {
            (1, None, _) if reg.default_profile.is_none() => return Err(ENOENT),
            (1, profile, _) => reg.default_profile = profile,
            (_, None, None) => return Err(ENOENT),
            (_, None, Some(i)) => {
                reg.profiles.remove(i).map_err(|_| EINVAL)?;
            }
            (_, Some(profile), Some(i)) => reg.profiles[i].1 = profile,
            (_, Some(profile), None) => {
                if reg.profiles.len() >= SELECTION_MAX {
                    return Err(ENOSPC);
                }
                reg.profiles.push((request.uuid, profile), GFP_KERNEL)?;
            }
        }
        for i in 0..reg.vms.len() {
            let vm = reg.vms[i].clone();
            self.apply(&reg, &vm);
        }
        Ok(())
    }

    /// `IOCTL_SECRET`: validates fully before changing anything.
    pub(crate) fn secret(&self, arg: usize) -> Result {
        let mut request = read_request::<SecretRequest>(arg)?;
        let mut reg = self.registry.lock();
        match request.op {
            SECRET_ADD => {
                let nil = request.uuid == Uuid::default();
                let len = request.pattern_len as usize;
                let valid_target = match request.all {
                    0 => !nil,
                    1 => nil,
                    _ => false,
                };
                if !valid_target || request.id != 0 || len == 0 || len > SECRET_PATTERN_MAX {
                    return Err(EINVAL);
                }
                let pattern = &request.pattern[..len];
                if core::str::from_utf8(pattern).is_err() || glob::validate(pattern).is_err() {
                    return Err(EINVAL);
                }
                if reg.secrets.len() >= SECRETS_MAX {
                    return Err(ENOSPC);
                }
                // The next free id after the last one given: a removed
                // secret's bit, still carried by what it reached, is
                // reused only after every other id.
                let taken = |id: u32| reg.secrets.iter().any(|d| d.id == id);
                let id = (1..=SECRETS_MAX as u32)
                    .map(|k| (reg.last_secret_id + k) % SECRETS_MAX as u32)
                    .find(|&id| !taken(id))
                    .ok_or(ENOSPC)?;
                let mut owned = KVec::new();
                owned.extend_from_slice(pattern, GFP_KERNEL)?;
                let def = Arc::new(
                    SecretDef {
                        id,
                        all: request.all == 1,
                        uuid: request.uuid,
                        pattern: owned,
                        files: Atomic::new(0),
                    },
                    GFP_KERNEL,
                )?;
                reg.secrets.push(def, GFP_KERNEL)?;
                reg.last_secret_id = id;
                request.id = id;
            }
            SECRET_REMOVE => {
                let index = reg
                    .secrets
                    .iter()
                    .position(|d| d.id == request.id)
                    .ok_or(ENOENT)?;
                reg.secrets.remove(index).map_err(|_| EINVAL)?;
            }
            _ => return Err(EINVAL),
        }
        for i in 0..reg.vms.len() {
            let vm = reg.vms[i].clone();
            self.apply(&reg, &vm);
        }
        drop(reg);
        write_reply(arg, &request)
    }

    /// `IOCTL_SECRET_LIST`.
    pub(crate) fn secret_list(&self, arg: usize) -> Result {
        let mut request = read_request::<SecretListRequest>(arg)?;
        let mut infos = KVec::new();
        let count = {
            let reg = self.registry.lock();
            let count = reg.secrets.len();
            let written = count.min(request.capacity as usize);
            infos.reserve(written, GFP_KERNEL)?;
            for def in reg.secrets.iter().take(written) {
                let mut info = SecretInfo {
                    id: def.id,
                    all: u32::from(def.all),
                    uuid: def.uuid,
                    files: def.files.load(ordering::Relaxed),
                    pattern_len: def.pattern.len() as u32,
                    ..SecretInfo::default()
                };
                info.pattern[..def.pattern.len()].copy_from_slice(&def.pattern);
                // Cannot allocate: reserved above.
                infos.push(info, GFP_NOWAIT)?;
            }
            count
        };
        let mut out = UserSlice::new(
            UserPtr::from_addr(request.entries as usize),
            infos.len() * size_of::<SecretInfo>(),
        )
        .writer();
        for info in infos.iter() {
            out.write_slice(info.as_bytes())?;
        }
        request.count = count as u32;
        write_reply(arg, &request)
    }

    /// Test knob `test_trap_hold_us`: the vCPU sleeps here, in the middle
    /// of a traced call, holding its VM, profile and secrets, so that a
    /// test can destroy VMs and unload the module while traps are surely
    /// in flight. Callbacks may sleep (KVM's contract).
    fn hold_trap(&self, vm: &Vm) {
        HELD_TRAPS.fetch_add(1, ordering::Relaxed);
        vm.held.fetch_add(1, ordering::Relaxed);
        fsleep(Delta::from_micros(i64::from(self.trap_hold_us)));
        vm.last_release_ns.store(shim::clock_ns(), ordering::Relaxed);
        vm.held.fetch_sub(1, ordering::Relaxed);
        HELD_TRAPS.fetch_sub(1, ordering::Relaxed);
    }

    /// KVM destroys a VM only once none of its vCPUs runs, so none of its
    /// calls can be held here; with the test knob on, say what overlapped.
    fn check_destroyed(&self, vm: &Vm) {
        let held = vm.held.load(ordering::Relaxed);
        if held != 0 {
            pr_err!(
                "VM {} destroyed with {} of its trapped calls still in the module\n",
                vm.id,
                held
            );
        } else if self.trap_hold_us != 0 {
            let last = vm.last_release_ns.load(ordering::Relaxed);
            let since_us = match last {
                0 => -1,
                _ => (shim::clock_ns().saturating_sub(last) / 1000) as i64,
            };
            pr_info!(
                "held traps: VM {} destroyed {} us after its last held call left; {} calls of other VMs held\n",
                vm.id,
                since_us,
                HELD_TRAPS.load(ordering::Relaxed)
            );
        }
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

/// Reads a `struct sockaddr_in` at user address `at`: its address and
/// port, if it is one (`AF_INET`).
fn read_sockaddr_in(mem: &mut VcpuMemory, at: u64) -> Option<([u8; 4], u16)> {
    let mut raw = [0u8; 8];
    mem.read(at, &mut raw).ok()?;
    let family = u16::from_le_bytes([raw[0], raw[1]]);
    (family == AF_INET).then(|| ([raw[4], raw[5], raw[6], raw[7]], u16::from_be_bytes([raw[2], raw[3]])))
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
        let held = HELD_TRAPS.load(ordering::Relaxed);
        // SAFETY: registered (type invariant). Returns once every VM is
        // disarmed and no callback runs.
        unsafe { shim::leaktrace_trap_unregister() };
        // No callback runs any more: nothing may be held.
        let after = HELD_TRAPS.load(ordering::Relaxed);
        if after != 0 {
            pr_err!("{} trapped calls still in the module after unregistration\n", after);
        } else if self.tracker.trap_hold_us != 0 {
            pr_info!("held traps: unregistered from KVM with {} calls held\n", held);
        }
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
