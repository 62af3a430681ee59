// SPDX-License-Identifier: GPL-2.0

//! The VM list, the trace selection and introspection profiles:
//! `leaktrace vms`, `leaktrace trace`, `leaktrace untrace` and `leaktrace
//! profile load`/`unload`, over the [`Control`] ioctls (which also carry
//! the secrets of [`crate::secret`]).
//!
//! The ioctls themselves are one-line wrappers in [`crate::device`]; this
//! module holds what sits on top of them (growing the arrays until the
//! lists fit, the order of the calls, what to tell the operator) against
//! the [`Control`] trait, so that unit tests run it on a simulated module.
//!
//! Failures are explained for people: [`ioctl_error_message`] for any of
//! the control ioctls, [`trace_error_message`] for `IOCTL_TRACE`'s own
//! errors (a UUID not selected, a full selection), and
//! [`profile_error_message`] for `IOCTL_PROFILE_LOAD`'s.

use crate::device::Device;
use crate::format;
use crate::uuid;
use leaktrace_abi::Profile;
use leaktrace_abi::Refusal;
use leaktrace_abi::SecretInfo;
use leaktrace_abi::SecretRequest;
use leaktrace_abi::TraceRequest;
use leaktrace_abi::Uuid;
use leaktrace_abi::VmInfo;
use leaktrace_abi::SELECTION_MAX;
use leaktrace_abi::TRACE_ADD;
use leaktrace_abi::TRACE_ALL;
use leaktrace_abi::TRACE_NONE;
use leaktrace_abi::TRACE_REMOVE;
use leaktrace_abi::VM_SELECTED;
use leaktrace_abi::VM_TRACED;
use leaktrace_abi::VM_UUID_KNOWN;
use std::io;
use std::path::Path;

/// The control ioctls of the module (the device, or a simulation).
pub trait Control {
    /// Device path, for messages.
    fn path(&self) -> &Path;
    /// `IOCTL_VM_LIST` into `entries`; returns the number of VMs, which
    /// may exceed `entries.len()`.
    fn vm_list(&self, entries: &mut [VmInfo]) -> io::Result<u32>;
    /// `IOCTL_GET_SELECTION` into `uuids`; returns the number of selected
    /// UUIDs (may exceed `uuids.len()`) and the "all VMs" flag.
    fn selection(&self, uuids: &mut [Uuid]) -> io::Result<(u32, bool)>;
    /// `IOCTL_TRACE`.
    fn trace(&self, request: &TraceRequest) -> io::Result<()>;
    /// `IOCTL_PROFILE_LOAD`: sets (`Some`) or removes (`None`) the profile
    /// of `target`.
    fn profile_load(&self, target: ProfileTarget, profile: Option<&Profile>) -> io::Result<()>;
    /// `IOCTL_SECRET`: returns the request as the module left it (the new
    /// secret's `id` after `SECRET_ADD`).
    fn secret(&self, request: &SecretRequest) -> io::Result<SecretRequest>;
    /// `IOCTL_SECRET_LIST` into `entries`; returns the number of secrets,
    /// which may exceed `entries.len()`.
    fn secret_list(&self, entries: &mut [SecretInfo]) -> io::Result<u32>;
}

impl Control for Device {
    fn path(&self) -> &Path {
        Device::path(self)
    }

    fn vm_list(&self, entries: &mut [VmInfo]) -> io::Result<u32> {
        Device::vm_list(self, entries)
    }

    fn selection(&self, uuids: &mut [Uuid]) -> io::Result<(u32, bool)> {
        Device::selection(self, uuids)
    }

    fn trace(&self, request: &TraceRequest) -> io::Result<()> {
        Device::trace(self, request)
    }

    fn profile_load(&self, target: ProfileTarget, profile: Option<&Profile>) -> io::Result<()> {
        match target {
            ProfileTarget::Vm(uuid) => Device::profile_load(self, uuid, false, profile),
            ProfileTarget::Default => Device::profile_load(self, Uuid::default(), true, profile),
        }
    }

    fn secret(&self, request: &SecretRequest) -> io::Result<SecretRequest> {
        let mut req = *request;
        Device::secret(self, &mut req)?;
        Ok(req)
    }

    fn secret_list(&self, entries: &mut [SecretInfo]) -> io::Result<u32> {
        Device::secret_list(self, entries)
    }
}

/// Which control ioctl failed, for messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ioctl {
    /// `IOCTL_VM_LIST`.
    VmList,
    /// `IOCTL_GET_SELECTION`.
    GetSelection,
    /// `IOCTL_TRACE`.
    Trace,
    /// `IOCTL_PROFILE_LOAD`.
    ProfileLoad,
    /// `IOCTL_SECRET`.
    Secret,
    /// `IOCTL_SECRET_LIST`.
    SecretList,
}

impl Ioctl {
    /// The ioctl's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::VmList => "IOCTL_VM_LIST",
            Self::GetSelection => "IOCTL_GET_SELECTION",
            Self::Trace => "IOCTL_TRACE",
            Self::ProfileLoad => "IOCTL_PROFILE_LOAD",
            Self::Secret => "IOCTL_SECRET",
            Self::SecretList => "IOCTL_SECRET_LIST",
        }
    }
}

/// A person-readable explanation of a failure of a control ioctl, for the
/// errors any of them can return.
pub fn ioctl_error_message(path: &Path, ioctl: Ioctl, err: &io::Error) -> String {
    let path = path.display();
    let name = ioctl.name();
    match err.raw_os_error() {
        Some(libc::ENOTTY) => format!(
            "the leaktrace module behind {path} does not know {name} (ENOTTY): \
             it is older than this leaktrace; load the module built with it"
        ),
        Some(libc::EACCES) | Some(libc::EPERM) => {
            format!("{name} on {path}: permission denied ({err}); run as root")
        }
        _ => format!("{name} on {path} failed: {err}"),
    }
}

/// What an `IOCTL_TRACE` request asked for, for messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TraceOp {
    /// `TRACE_ADD` of the UUID.
    Add(Uuid),
    /// `TRACE_REMOVE` of the UUID.
    Remove(Uuid),
    /// `TRACE_ALL`.
    All,
    /// `TRACE_NONE`.
    None,
}

impl TraceOp {
    /// The request structure.
    pub fn request(self) -> TraceRequest {
        let (op, uuid) = match self {
            Self::Add(uuid) => (TRACE_ADD, uuid),
            Self::Remove(uuid) => (TRACE_REMOVE, uuid),
            Self::All => (TRACE_ALL, Uuid::default()),
            Self::None => (TRACE_NONE, Uuid::default()),
        };
        TraceRequest {
            op,
            reserved: 0,
            uuid,
        }
    }

    /// What the request does, in words.
    fn describe(self) -> String {
        match self {
            Self::Add(u) => format!("tracing {}", uuid::format(&u)),
            Self::Remove(u) => format!("untracing {}", uuid::format(&u)),
            Self::All => "tracing all VMs".into(),
            Self::None => "clearing the trace selection".into(),
        }
    }
}

/// A person-readable explanation of a failure of `IOCTL_TRACE` for `op`.
pub fn trace_error_message(path: &Path, op: TraceOp, err: &io::Error) -> String {
    match (err.raw_os_error(), op) {
        (Some(libc::ENOENT), TraceOp::Remove(u)) => format!(
            "{}: UUID is not in the trace selection (see leaktrace vms)",
            uuid::format(&u)
        ),
        (Some(libc::ENOSPC), _) => format!(
            "{}: the trace selection is full (at most {SELECTION_MAX} UUIDs); \
             untrace some first",
            op.describe()
        ),
        (Some(libc::EINVAL), _) => format!(
            "{}: the module rejected the request as invalid (EINVAL); \
             is it built from the same ABI as this leaktrace?",
            op.describe()
        ),
        (Some(libc::ENOTTY), _) | (Some(libc::EACCES), _) | (Some(libc::EPERM), _) => {
            ioctl_error_message(path, Ioctl::Trace, err)
        }
        _ => format!("{} on {}: {err}", op.describe(), path.display()),
    }
}

/// Which profile an `IOCTL_PROFILE_LOAD` sets or removes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProfileTarget {
    /// The profile of the VMs with this SMBIOS UUID.
    Vm(Uuid),
    /// The default profile: every VM without a profile of its own.
    Default,
}

impl ProfileTarget {
    /// The profile, in words.
    fn describe(self) -> String {
        match self {
            Self::Vm(u) => format!("the profile of {}", uuid::format(&u)),
            Self::Default => "the default profile".into(),
        }
    }
}

/// A person-readable explanation of a failure of `IOCTL_PROFILE_LOAD`,
/// loading (`load`) or removing the profile of `target`.
pub fn profile_error_message(
    path: &Path,
    target: ProfileTarget,
    load: bool,
    err: &io::Error,
) -> String {
    let what = format!(
        "{} {}",
        if load { "loading" } else { "unloading" },
        target.describe()
    );
    match err.raw_os_error() {
        Some(libc::ENOENT) if !load => match target {
            ProfileTarget::Vm(u) => format!(
                "{}: no profile of its own is loaded for this UUID (nothing to unload)",
                uuid::format(&u)
            ),
            ProfileTarget::Default => "no default profile is loaded (nothing to unload)".into(),
        },
        Some(libc::ENOSPC) => format!(
            "{what}: the module holds at most {SELECTION_MAX} per-VM profiles; unload some, \
             or load one for every VM with --all"
        ),
        Some(libc::EINVAL) if load => format!(
            "{what}: the module refused the profile as invalid (EINVAL), though it passed \
             leaktrace's own checks; is the module built from the same ABI as this leaktrace?"
        ),
        Some(libc::EINVAL) => format!(
            "{what}: the module rejected the request as invalid (EINVAL); \
             is it built from the same ABI as this leaktrace?"
        ),
        Some(libc::EFAULT) => format!("{what}: the module could not read the request (EFAULT)"),
        Some(libc::ENOTTY) | Some(libc::EACCES) | Some(libc::EPERM) => {
            ioctl_error_message(path, Ioctl::ProfileLoad, err)
        }
        _ => format!("{what} on {}: {err}", path.display()),
    }
}

/// Where the VMs a per-VM profile is for stand.
fn profile_uuid_status(uuid: &Uuid, vms: &[VmInfo]) -> String {
    let running: Vec<String> = vms_with_uuid(vms, uuid)
        .map(|vm| {
            let traced = if vm.flags & VM_TRACED != 0 {
                "traced"
            } else {
                "not traced"
            };
            format!("vm {} (vmm pid {}), {traced}", vm.vm_id, vm.vmm_pid)
        })
        .collect();
    if running.is_empty() {
        "no running VM has this UUID; used when one starts".to_owned()
    } else {
        format!(
            "running as {}; checked against the guest kernel at its next traced system call",
            running.join("; ")
        )
    }
}

/// Runs `leaktrace profile load` (`profile` is the profile and the kernel
/// release it is for) or `unload` (`None`): one `IOCTL_PROFILE_LOAD`, then
/// where the VMs it concerns stand (`IOCTL_VM_LIST`).
pub fn run_profile_load(
    ctl: &dyn Control,
    target: ProfileTarget,
    profile: Option<(&Profile, &str)>,
) -> Report {
    let mut report = Report::default();
    if let Err(e) = ctl.profile_load(target, profile.map(|(p, _)| p)) {
        report.errors.push(profile_error_message(
            ctl.path(),
            target,
            profile.is_some(),
            &e,
        ));
        return report;
    }
    let vms = match list_vms(ctl) {
        Ok(vms) => Some(vms),
        Err(e) => {
            report
                .warnings
                .push(ioctl_error_message(ctl.path(), Ioctl::VmList, &e));
            None
        }
    };
    let line = match (target, profile) {
        (ProfileTarget::Vm(u), Some((_, release))) => {
            let what = format!("{}: profile for {release} loaded", uuid::format(&u));
            match &vms {
                Some(vms) => format!("{what}; {}", profile_uuid_status(&u, vms)),
                None => what,
            }
        }
        (ProfileTarget::Default, Some((_, release))) => {
            let what = format!(
                "default profile for {release} loaded: used by every VM without a profile of its own"
            );
            match &vms {
                Some(vms) => format!("{what} ({} running)", vms.len()),
                None => what,
            }
        }
        (ProfileTarget::Vm(u), None) => format!("{}: profile removed", uuid::format(&u)),
        (ProfileTarget::Default, None) => {
            "default profile removed: VMs without a profile of their own have none".into()
        }
    };
    report.lines.push(line);
    report
}

/// How many times the list ioctls are retried with a larger array when
/// VMs keep appearing between the calls.
const LIST_ATTEMPTS: usize = 8;

/// First capacity of the VM array.
const VM_LIST_FIRST_CAPACITY: usize = 16;

/// Calls `fill` with larger and larger arrays until the count it reports
/// fits the array; returns the entries and the last extra value.
pub(crate) fn fill_growing<T: Clone + Default, X>(
    first_capacity: usize,
    mut fill: impl FnMut(&mut [T]) -> io::Result<(u32, X)>,
) -> io::Result<(Vec<T>, X)> {
    let mut capacity = first_capacity.max(1);
    for _ in 0..LIST_ATTEMPTS {
        let mut entries = vec![T::default(); capacity];
        let (count, extra) = fill(&mut entries)?;
        let count = count as usize;
        if count <= capacity {
            entries.truncate(count);
            return Ok((entries, extra));
        }
        // Room for the ones that may appear before the next call.
        capacity = count.saturating_add(count / 4).saturating_add(4);
    }
    Err(io::Error::other(format!(
        "the list kept growing faster than it could be read ({LIST_ATTEMPTS} attempts)"
    )))
}

/// The VMs the module knows (`IOCTL_VM_LIST`, retried with a larger array
/// while the count exceeds it), in the module's order.
pub fn list_vms(ctl: &dyn Control) -> io::Result<Vec<VmInfo>> {
    fill_growing(VM_LIST_FIRST_CAPACITY, |entries| {
        ctl.vm_list(entries).map(|count| (count, ()))
    })
    .map(|(vms, ())| vms)
}

/// The trace selection.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selection {
    /// Every VM is traced, present and future (`TRACE_ALL`).
    pub all: bool,
    /// Selected UUIDs.
    pub uuids: Vec<Uuid>,
}

/// The trace selection (`IOCTL_GET_SELECTION`, retried like [`list_vms`]).
pub fn get_selection(ctl: &dyn Control) -> io::Result<Selection> {
    fill_growing(SELECTION_MAX, |uuids| ctl.selection(uuids))
        .map(|(uuids, all)| Selection { all, uuids })
}

/// The running VMs whose UUID is `uuid`.
pub fn vms_with_uuid<'a>(vms: &'a [VmInfo], uuid: &Uuid) -> impl Iterator<Item = &'a VmInfo> {
    let uuid = *uuid;
    vms.iter()
        .filter(move |vm| vm.flags & VM_UUID_KNOWN != 0 && vm.uuid == uuid)
}

/// What `leaktrace trace` or `untrace` is to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TraceCommand {
    /// Add these UUIDs to the selection.
    Add(Vec<Uuid>),
    /// Remove these UUIDs from the selection.
    Remove(Vec<Uuid>),
    /// Trace every VM.
    All,
    /// Trace no VM.
    None,
}

/// The UUIDs in order, without repetitions (`trace A A` asks once).
pub fn dedup_uuids(uuids: &[Uuid]) -> Vec<Uuid> {
    let mut out: Vec<Uuid> = Vec::with_capacity(uuids.len());
    for u in uuids {
        if !out.contains(u) {
            out.push(*u);
        }
    }
    out
}

/// What a trace command printed and how it ended.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Lines for standard output: what was done.
    pub lines: Vec<String>,
    /// Lines for standard error that do not make the command fail.
    pub warnings: Vec<String>,
    /// Errors (standard error); the command fails if there is any.
    pub errors: Vec<String>,
}

/// Where a selected UUID stands: `running as vm 2 (vmm pid 812), traced`,
/// or that it will be traced when a VM with it starts.
fn uuid_status(uuid: &Uuid, vms: &[VmInfo]) -> String {
    let running: Vec<String> = vms_with_uuid(vms, uuid)
        .map(|vm| {
            let state = if vm.flags & VM_TRACED != 0 {
                "traced".to_owned()
            } else if vm.refusal != Refusal::None as u32 {
                format!("refused: {}", format::refusal_name(vm.refusal))
            } else if vm.flags & VM_SELECTED != 0 {
                "not traced yet".to_owned()
            } else {
                "not traced".to_owned()
            };
            format!("vm {} (vmm pid {}), {state}", vm.vm_id, vm.vmm_pid)
        })
        .collect();
    if running.is_empty() {
        "no running VM has this UUID; traced when it starts".to_owned()
    } else {
        format!("running as {}", running.join("; "))
    }
}

/// Runs a trace command: one `IOCTL_TRACE` per UUID (or one for `--all`),
/// then reports where each added UUID stands (`IOCTL_VM_LIST`).
///
/// A UUID that is not selected (`untrace`) is an error that does not stop
/// the others; any other failure stops the command at once (the rest
/// would fail the same way). A UUID that was already selected is not an
/// error (the module accepts it again): it is reported as "already in the
/// trace selection", as is an `EEXIST` answer.
pub fn run_trace(ctl: &dyn Control, command: &TraceCommand) -> Report {
    let mut report = Report::default();
    let ops: Vec<TraceOp> = match command {
        TraceCommand::Add(uuids) => uuids.iter().map(|&u| TraceOp::Add(u)).collect(),
        TraceCommand::Remove(uuids) => uuids.iter().map(|&u| TraceOp::Remove(u)).collect(),
        TraceCommand::All => vec![TraceOp::All],
        TraceCommand::None => vec![TraceOp::None],
    };
    // What was selected before, to tell "added" from "already there".
    let before = match command {
        TraceCommand::Add(_) => get_selection(ctl).map(|s| s.uuids).unwrap_or_default(),
        _ => Vec::new(),
    };
    let mut done = Vec::new();
    for op in ops {
        match ctl.trace(&op.request()) {
            Ok(()) => done.push((op, matches!(op, TraceOp::Add(u) if before.contains(&u)))),
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) && matches!(op, TraceOp::Add(_)) => {
                done.push((op, true))
            }
            Err(e) => {
                report.errors.push(trace_error_message(ctl.path(), op, &e));
                if !(e.raw_os_error() == Some(libc::ENOENT) && matches!(op, TraceOp::Remove(_))) {
                    break;
                }
            }
        }
    }
    if done.is_empty() {
        return report;
    }
    let needs_vms = done
        .iter()
        .any(|(op, _)| matches!(op, TraceOp::Add(_) | TraceOp::All));
    let vms = if needs_vms {
        match list_vms(ctl) {
            Ok(vms) => Some(vms),
            Err(e) => {
                report
                    .warnings
                    .push(ioctl_error_message(ctl.path(), Ioctl::VmList, &e));
                None
            }
        }
    } else {
        None
    };
    for (op, already) in done {
        let line = match op {
            TraceOp::Add(u) => {
                let what = if already {
                    "already in the trace selection"
                } else {
                    "added to the trace selection"
                };
                match &vms {
                    Some(vms) => format!("{}: {what}; {}", uuid::format(&u), uuid_status(&u, vms)),
                    None => format!("{}: {what}", uuid::format(&u)),
                }
            }
            TraceOp::Remove(u) => {
                format!("{}: removed from the trace selection", uuid::format(&u))
            }
            TraceOp::All => match &vms {
                Some(vms) => format!(
                    "tracing all VMs, present and future ({} running)",
                    vms.len()
                ),
                None => "tracing all VMs, present and future".to_owned(),
            },
            TraceOp::None => "trace selection cleared: no VM is traced".to_owned(),
        };
        report.lines.push(line);
    }
    // Removing a UUID does not stop its tracing while all VMs are traced.
    if matches!(command, TraceCommand::Remove(_)) {
        if let Ok(selection) = get_selection(ctl) {
            if selection.all {
                report.warnings.push(
                    "all VMs are still traced (trace --all); untrace --all stops that".into(),
                );
            }
        }
    }
    report
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::cell::Cell;
    use std::cell::RefCell;

    /// A simulated module: the selection and VM list semantics of the ABI
    /// documentation, with injectable errors.
    #[derive(Default)]
    pub(crate) struct SimModule {
        pub(crate) vms: RefCell<Vec<VmInfo>>,
        pub(crate) selection: RefCell<Vec<Uuid>>,
        pub(crate) all: Cell<bool>,
        /// VMs that appear at the next `vm_list` (after counting), to
        /// exercise the retry.
        pub(crate) appearing: RefCell<Vec<VmInfo>>,
        /// Every ioctl fails with this errno.
        pub(crate) fail: Cell<Option<i32>>,
        /// `vm_list` calls.
        pub(crate) vm_list_calls: Cell<usize>,
        /// `trace` calls.
        pub(crate) trace_calls: Cell<usize>,
        /// Per-UUID profiles (`IOCTL_PROFILE_LOAD` with `all` 0).
        pub(crate) profiles: RefCell<Vec<(Uuid, Profile)>>,
        /// The default profile (`all` 1).
        pub(crate) default_profile: RefCell<Option<Profile>>,
        /// Secrets, by ascending id.
        pub(crate) secrets: RefCell<Vec<SecretInfo>>,
        /// `secret` calls.
        pub(crate) secret_calls: Cell<usize>,
        /// `secret_list` calls.
        pub(crate) secret_list_calls: Cell<usize>,
        /// The last secret id given (`None`: none yet, as if 63).
        pub(crate) last_secret_id: Cell<Option<u32>>,
    }

    impl SimModule {
        fn check_fail(&self) -> io::Result<()> {
            match self.fail.get() {
                Some(errno) => Err(io::Error::from_raw_os_error(errno)),
                None => Ok(()),
            }
        }

        /// `IOCTL_PROFILE_LOAD` on the raw request, as the module checks it;
        /// `profile` is what `request.profile` points to.
        pub(crate) fn profile_request(
            &self,
            request: &leaktrace_abi::ProfileLoadRequest,
            profile: Option<&Profile>,
        ) -> io::Result<()> {
            self.check_fail()?;
            let err = |errno| Err(io::Error::from_raw_os_error(errno));
            let nil = uuid::is_nil(&request.uuid);
            let malformed = request.reserved != 0
                || request.reserved2 != 0
                || request.all > 1
                || (request.all == 1) != nil
                || (request.profile == 0) != (request.size == 0)
                || (request.size != 0 && request.size as usize != core::mem::size_of::<Profile>());
            if malformed {
                return err(libc::EINVAL);
            }
            if request.profile == 0 {
                if request.all == 1 {
                    return match self.default_profile.borrow_mut().take() {
                        Some(_) => Ok(()),
                        None => err(libc::ENOENT),
                    };
                }
                let mut profiles = self.profiles.borrow_mut();
                let before = profiles.len();
                profiles.retain(|(u, _)| *u != request.uuid);
                return if profiles.len() == before {
                    err(libc::ENOENT)
                } else {
                    Ok(())
                };
            }
            let Some(profile) = profile else {
                return err(libc::EFAULT);
            };
            if profile.validate().is_err() {
                return err(libc::EINVAL);
            }
            if request.all == 1 {
                *self.default_profile.borrow_mut() = Some(*profile);
                return Ok(());
            }
            let mut profiles = self.profiles.borrow_mut();
            if let Some(slot) = profiles.iter_mut().find(|(u, _)| *u == request.uuid) {
                slot.1 = *profile;
            } else if profiles.len() >= SELECTION_MAX {
                return err(libc::ENOSPC);
            } else {
                profiles.push((request.uuid, *profile));
            }
            Ok(())
        }

        /// Recomputes `VM_SELECTED`/`VM_TRACED` as the module would.
        fn update_flags(&self) {
            let selection = self.selection.borrow();
            for vm in self.vms.borrow_mut().iter_mut() {
                let selected = self.all.get()
                    || (vm.flags & VM_UUID_KNOWN != 0 && selection.contains(&vm.uuid));
                vm.flags &= !(VM_SELECTED | VM_TRACED);
                if selected {
                    vm.flags |= VM_SELECTED;
                    if vm.refusal == 0 {
                        vm.flags |= VM_TRACED;
                    }
                }
            }
        }
    }

    impl Control for SimModule {
        fn path(&self) -> &Path {
            Path::new("/dev/sim")
        }

        fn vm_list(&self, entries: &mut [VmInfo]) -> io::Result<u32> {
            self.check_fail()?;
            self.vm_list_calls.set(self.vm_list_calls.get() + 1);
            let vms = self.vms.borrow();
            for (slot, vm) in entries.iter_mut().zip(vms.iter()) {
                *slot = *vm;
            }
            let count = vms.len() as u32;
            drop(vms);
            let appearing: Vec<VmInfo> = self.appearing.borrow_mut().drain(..).collect();
            self.vms.borrow_mut().extend(appearing);
            Ok(count)
        }

        fn selection(&self, uuids: &mut [Uuid]) -> io::Result<(u32, bool)> {
            self.check_fail()?;
            let selection = self.selection.borrow();
            for (slot, u) in uuids.iter_mut().zip(selection.iter()) {
                *slot = *u;
            }
            Ok((selection.len() as u32, self.all.get()))
        }

        fn trace(&self, request: &TraceRequest) -> io::Result<()> {
            self.check_fail()?;
            self.trace_calls.set(self.trace_calls.get() + 1);
            let einval = || Err(io::Error::from_raw_os_error(libc::EINVAL));
            if request.reserved != 0 {
                return einval();
            }
            let nil = uuid::is_nil(&request.uuid);
            {
                let mut selection = self.selection.borrow_mut();
                match request.op {
                    TRACE_ADD | TRACE_REMOVE if nil => return einval(),
                    TRACE_ALL | TRACE_NONE if !nil => return einval(),
                    TRACE_ADD => {
                        if !selection.contains(&request.uuid) {
                            if selection.len() >= SELECTION_MAX {
                                return Err(io::Error::from_raw_os_error(libc::ENOSPC));
                            }
                            selection.push(request.uuid);
                        }
                    }
                    TRACE_REMOVE => {
                        let before = selection.len();
                        selection.retain(|u| *u != request.uuid);
                        if selection.len() == before {
                            return Err(io::Error::from_raw_os_error(libc::ENOENT));
                        }
                    }
                    TRACE_ALL => self.all.set(true),
                    TRACE_NONE => {
                        self.all.set(false);
                        selection.clear();
                    }
                    _ => return einval(),
                }
            }
            self.update_flags();
            Ok(())
        }

        fn profile_load(&self, target: ProfileTarget, profile: Option<&Profile>) -> io::Result<()> {
            let request = match target {
                ProfileTarget::Vm(u) => crate::device::profile_request(u, false, profile),
                ProfileTarget::Default => {
                    crate::device::profile_request(Uuid::default(), true, profile)
                }
            };
            self.profile_request(&request, profile)
        }

        /// `IOCTL_SECRET` with the module's checks: `EINVAL` for an
        /// unknown op, an `id` set with `SECRET_ADD`, a pattern that is
        /// not UTF-8 or that `glob::validate` refuses (empty, too long,
        /// not absolute...), or a bad target (`all` not 0 or 1, a UUID
        /// with `all`, none without); `ENOSPC` past `SECRETS_MAX`;
        /// `ENOENT` to remove an id not defined. A new id is the next free
        /// one after the last given (reused only after every other).
        fn secret(&self, request: &SecretRequest) -> io::Result<SecretRequest> {
            self.check_fail()?;
            self.secret_calls.set(self.secret_calls.get() + 1);
            let err = |errno| Err(io::Error::from_raw_os_error(errno));
            let mut secrets = self.secrets.borrow_mut();
            match request.op {
                leaktrace_abi::SECRET_ADD => {
                    let len = request.pattern_len as usize;
                    let nil = uuid::is_nil(&request.uuid);
                    let pattern = request.pattern.get(..len).unwrap_or_default();
                    let valid = (1..=leaktrace_abi::SECRET_PATTERN_MAX).contains(&len)
                        && core::str::from_utf8(pattern).is_ok()
                        && leaktrace_core::glob::validate(pattern).is_ok()
                        && request.id == 0
                        && request.all <= 1
                        && (request.all == 1) == nil;
                    if !valid {
                        return err(libc::EINVAL);
                    }
                    let max = leaktrace_abi::SECRETS_MAX as u32;
                    let last = self.last_secret_id.get().unwrap_or(max - 1);
                    let Some(id) = (1..=max)
                        .map(|k| (last + k) % max)
                        .find(|id| !secrets.iter().any(|s| s.id == *id))
                    else {
                        return err(libc::ENOSPC);
                    };
                    self.last_secret_id.set(Some(id));
                    let mut info = SecretInfo {
                        id,
                        all: request.all,
                        uuid: request.uuid,
                        pattern_len: request.pattern_len,
                        ..SecretInfo::default()
                    };
                    info.pattern[..len].copy_from_slice(pattern);
                    secrets.push(info);
                    secrets.sort_by_key(|s| s.id);
                    Ok(SecretRequest { id, ..*request })
                }
                leaktrace_abi::SECRET_REMOVE => {
                    let before = secrets.len();
                    secrets.retain(|s| s.id != request.id);
                    if secrets.len() == before {
                        return err(libc::ENOENT);
                    }
                    Ok(*request)
                }
                _ => err(libc::EINVAL),
            }
        }

        fn secret_list(&self, entries: &mut [SecretInfo]) -> io::Result<u32> {
            self.check_fail()?;
            self.secret_list_calls.set(self.secret_list_calls.get() + 1);
            let secrets = self.secrets.borrow();
            for (slot, s) in entries.iter_mut().zip(secrets.iter()) {
                *slot = *s;
            }
            Ok(secrets.len() as u32)
        }
    }

    pub(crate) fn u(text: &str) -> Uuid {
        uuid::parse(text).unwrap()
    }

    pub(crate) const A: &str = "4c4c4544-0042-3510-8052-b3c04f4e3732";
    pub(crate) const B: &str = "11111111-2222-3333-4444-555555555555";

    pub(crate) fn vm(vm_id: u32, uuid: Option<&str>) -> VmInfo {
        VmInfo {
            vm_id,
            flags: if uuid.is_some() { VM_UUID_KNOWN } else { 0 },
            uuid: uuid.map(self::u).unwrap_or_default(),
            vmm_pid: 800 + vm_id,
            syscalls: 10 * u64::from(vm_id),
            ..VmInfo::default()
        }
    }

    #[test]
    fn list_vms_retries_with_a_larger_array() {
        let sim = SimModule::default();
        *sim.vms.borrow_mut() = (1..=20).map(|i| vm(i, None)).collect();
        // Two more appear between the first and the second call.
        *sim.appearing.borrow_mut() = vec![vm(21, None), vm(22, None)];
        let vms = list_vms(&sim).unwrap();
        let ids: Vec<u32> = vms.iter().map(|v| v.vm_id).collect();
        assert_eq!(ids, (1..=22).collect::<Vec<_>>());
        assert_eq!(sim.vm_list_calls.get(), 2, "16 too small, then 29 fits 22");
        let empty = SimModule::default();
        assert!(list_vms(&empty).unwrap().is_empty());
    }

    #[test]
    fn list_errors_are_explained() {
        let sim = SimModule::default();
        sim.fail.set(Some(libc::ENOTTY));
        let err = list_vms(&sim).unwrap_err();
        let msg = ioctl_error_message(sim.path(), Ioctl::VmList, &err);
        assert!(msg.contains("older than this leaktrace"), "{msg}");
        assert!(msg.contains("IOCTL_VM_LIST"), "{msg}");
        for errno in [libc::EACCES, libc::EPERM] {
            let msg = ioctl_error_message(
                sim.path(),
                Ioctl::GetSelection,
                &io::Error::from_raw_os_error(errno),
            );
            assert!(msg.contains("run as root"), "{msg}");
        }
    }

    #[test]
    fn trace_errors_are_explained() {
        let path = Path::new("/dev/leaktrace");
        let e = io::Error::from_raw_os_error;
        let a = u(A);
        let msg = trace_error_message(path, TraceOp::Remove(a), &e(libc::ENOENT));
        assert_eq!(
            msg,
            format!("{A}: UUID is not in the trace selection (see leaktrace vms)")
        );
        let msg = trace_error_message(path, TraceOp::Add(a), &e(libc::ENOSPC));
        assert!(
            msg.contains("selection is full (at most 256 UUIDs)"),
            "{msg}"
        );
        let msg = trace_error_message(path, TraceOp::Add(a), &e(libc::EINVAL));
        assert!(msg.contains("invalid (EINVAL)"), "{msg}");
        let msg = trace_error_message(path, TraceOp::All, &e(libc::ENOTTY));
        assert!(
            msg.contains("IOCTL_TRACE") && msg.contains("older"),
            "{msg}"
        );
        let msg = trace_error_message(path, TraceOp::None, &e(libc::EPERM));
        assert!(msg.contains("run as root"), "{msg}");
        let msg = trace_error_message(path, TraceOp::Add(a), &e(libc::EFAULT));
        assert!(msg.contains(&format!("tracing {A}")), "{msg}");
    }

    #[test]
    fn trace_reports_running_and_future_vms() {
        let sim = SimModule::default();
        let mut refused = vm(3, Some(B));
        refused.refusal = Refusal::Cet as u32;
        *sim.vms.borrow_mut() = vec![vm(2, Some(A)), refused, vm(4, None)];
        let c = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
        let report = run_trace(&sim, &TraceCommand::Add(vec![u(A), u(B), u(c)]));
        assert!(report.errors.is_empty(), "{report:?}");
        assert_eq!(
            report.lines,
            [
                format!("{A}: added to the trace selection; running as vm 2 (vmm pid 802), traced"),
                format!(
                    "{B}: added to the trace selection; running as vm 3 (vmm pid 803), refused: cet"
                ),
                format!(
                    "{c}: added to the trace selection; no running VM has this UUID; \
                     traced when it starts"
                ),
            ]
        );
        assert_eq!(*sim.selection.borrow(), [u(A), u(B), u(c)]);
    }

    #[test]
    fn trace_of_a_selected_uuid_says_so() {
        let sim = SimModule::default();
        *sim.selection.borrow_mut() = vec![u(A)];
        let report = run_trace(&sim, &TraceCommand::Add(vec![u(A), u(B)]));
        assert!(report.errors.is_empty(), "{report:?}");
        assert!(
            report.lines[0].starts_with(&format!("{A}: already in the trace selection; ")),
            "{report:?}"
        );
        assert!(
            report.lines[1].starts_with(&format!("{B}: added to the trace selection; ")),
            "{report:?}"
        );
        assert_eq!(*sim.selection.borrow(), [u(A), u(B)]);
    }

    #[test]
    fn untrace_unknown_uuid_fails_but_does_the_others() {
        let sim = SimModule::default();
        *sim.selection.borrow_mut() = vec![u(B)];
        let report = run_trace(&sim, &TraceCommand::Remove(vec![u(A), u(B)]));
        assert_eq!(
            report.errors,
            [format!(
                "{A}: UUID is not in the trace selection (see leaktrace vms)"
            )]
        );
        assert_eq!(
            report.lines,
            [format!("{B}: removed from the trace selection")]
        );
        assert!(sim.selection.borrow().is_empty());
    }

    #[test]
    fn untrace_while_all_are_traced_warns() {
        let sim = SimModule::default();
        *sim.selection.borrow_mut() = vec![u(A)];
        sim.all.set(true);
        let report = run_trace(&sim, &TraceCommand::Remove(vec![u(A)]));
        assert!(report.errors.is_empty());
        assert_eq!(report.warnings.len(), 1, "{report:?}");
        assert!(report.warnings[0].contains("untrace --all"));
    }

    #[test]
    fn trace_all_and_none() {
        let sim = SimModule::default();
        *sim.vms.borrow_mut() = vec![vm(1, None), vm(2, Some(A))];
        *sim.selection.borrow_mut() = vec![u(B)];
        let report = run_trace(&sim, &TraceCommand::All);
        assert_eq!(
            report.lines,
            ["tracing all VMs, present and future (2 running)"]
        );
        assert!(sim.all.get());
        assert!(sim.vms.borrow().iter().all(|v| v.flags & VM_TRACED != 0));
        let report = run_trace(&sim, &TraceCommand::None);
        assert_eq!(report.lines, ["trace selection cleared: no VM is traced"]);
        assert!(!sim.all.get() && sim.selection.borrow().is_empty());
        assert!(sim.vms.borrow().iter().all(|v| v.flags & VM_TRACED == 0));
    }

    #[test]
    fn global_errors_stop_at_once() {
        let sim = SimModule::default();
        sim.fail.set(Some(libc::EPERM));
        let report = run_trace(&sim, &TraceCommand::Add(vec![u(A), u(B)]));
        assert_eq!(report.errors.len(), 1, "{report:?}");
        assert!(report.errors[0].contains("run as root"));
        assert!(report.lines.is_empty());

        let sim = SimModule::default();
        *sim.selection.borrow_mut() = (0..SELECTION_MAX as u32)
            .map(|i| {
                let mut x = [1u8; 16];
                x[..4].copy_from_slice(&i.to_be_bytes());
                x
            })
            .collect();
        let report = run_trace(&sim, &TraceCommand::Add(vec![u(A), u(B)]));
        assert_eq!(report.errors.len(), 1, "{report:?}");
        assert!(report.errors[0].contains("full"));
        assert_eq!(sim.trace_calls.get(), 1, "stopped after ENOSPC");
    }

    #[test]
    fn a_failing_vm_list_after_trace_is_a_warning() {
        struct NoList(SimModule);
        impl Control for NoList {
            fn path(&self) -> &Path {
                self.0.path()
            }
            fn vm_list(&self, _: &mut [VmInfo]) -> io::Result<u32> {
                Err(io::Error::from_raw_os_error(libc::EFAULT))
            }
            fn selection(&self, uuids: &mut [Uuid]) -> io::Result<(u32, bool)> {
                self.0.selection(uuids)
            }
            fn trace(&self, request: &TraceRequest) -> io::Result<()> {
                self.0.trace(request)
            }
            fn profile_load(&self, t: ProfileTarget, p: Option<&Profile>) -> io::Result<()> {
                self.0.profile_load(t, p)
            }
            fn secret(&self, request: &SecretRequest) -> io::Result<SecretRequest> {
                self.0.secret(request)
            }
            fn secret_list(&self, entries: &mut [SecretInfo]) -> io::Result<u32> {
                self.0.secret_list(entries)
            }
        }
        let sim = NoList(SimModule::default());
        let report = run_trace(&sim, &TraceCommand::Add(vec![u(A)]));
        assert!(report.errors.is_empty());
        assert_eq!(report.lines, [format!("{A}: added to the trace selection")]);
        assert_eq!(report.warnings.len(), 1);
    }

    #[test]
    fn repeated_uuids_are_asked_once() {
        assert_eq!(dedup_uuids(&[u(A), u(B), u(A)]), [u(A), u(B)]);
    }

    #[test]
    fn selection_is_read_whole() {
        let sim = SimModule::default();
        *sim.selection.borrow_mut() = vec![u(A), u(B)];
        sim.all.set(true);
        assert_eq!(
            get_selection(&sim).unwrap(),
            Selection {
                all: true,
                uuids: vec![u(A), u(B)]
            }
        );
    }

    fn valid_profile() -> Profile {
        crate::profile::sample().to_abi().unwrap()
    }

    #[test]
    fn profile_load_and_unload_for_one_vm() {
        let sim = SimModule::default();
        sim.vms.borrow_mut().push(vm(2, Some(A)));
        let p = valid_profile();
        let report = run_profile_load(&sim, ProfileTarget::Vm(u(A)), Some((&p, "7.3.4")));
        assert!(report.errors.is_empty(), "{report:?}");
        assert_eq!(report.lines.len(), 1);
        let line = &report.lines[0];
        assert!(
            line.starts_with(&format!("{A}: profile for 7.3.4 loaded; running as vm 2")),
            "{line}"
        );
        assert!(line.contains("next traced system call"), "{line}");
        assert_eq!(sim.profiles.borrow().len(), 1);
        // Loading again replaces it.
        let report = run_profile_load(&sim, ProfileTarget::Vm(u(A)), Some((&p, "7.3.4")));
        assert!(report.errors.is_empty());
        assert_eq!(sim.profiles.borrow().len(), 1);
        // A UUID no VM has yet.
        let report = run_profile_load(&sim, ProfileTarget::Vm(u(B)), Some((&p, "7.3.4")));
        assert!(report.lines[0].contains("no running VM has this UUID; used when one starts"));

        let report = run_profile_load(&sim, ProfileTarget::Vm(u(A)), None);
        assert_eq!(report.lines, [format!("{A}: profile removed")]);
        let report = run_profile_load(&sim, ProfileTarget::Vm(u(A)), None);
        assert!(report.lines.is_empty());
        assert_eq!(
            report.errors,
            [format!(
                "{A}: no profile of its own is loaded for this UUID (nothing to unload)"
            )]
        );
    }

    #[test]
    fn default_profile_load_and_unload() {
        let sim = SimModule::default();
        sim.vms.borrow_mut().push(vm(1, None));
        let p = valid_profile();
        let report = run_profile_load(&sim, ProfileTarget::Default, Some((&p, "7.3.4")));
        assert_eq!(
            report.lines,
            ["default profile for 7.3.4 loaded: used by every VM without a profile of its own (1 running)"]
        );
        assert_eq!(*sim.default_profile.borrow(), Some(p));
        let report = run_profile_load(&sim, ProfileTarget::Default, None);
        assert!(report.lines[0].starts_with("default profile removed"));
        let report = run_profile_load(&sim, ProfileTarget::Default, None);
        assert_eq!(
            report.errors,
            ["no default profile is loaded (nothing to unload)"]
        );
    }

    #[test]
    fn profile_load_errors_are_explained() {
        let sim = SimModule::default();
        // A profile the module refuses.
        let mut bad = valid_profile();
        bad.offsets.task_comm_size = 8;
        let report = run_profile_load(&sim, ProfileTarget::Default, Some((&bad, "x")));
        assert!(
            report.errors[0].contains("refused the profile as invalid (EINVAL)"),
            "{report:?}"
        );
        assert!(sim.default_profile.borrow().is_none());
        // A nil UUID is a malformed request.
        let nil = Uuid::default();
        let report = run_profile_load(&sim, ProfileTarget::Vm(nil), None);
        assert!(
            report.errors[0].contains("rejected the request as invalid"),
            "{report:?}"
        );
        // Malformed raw requests.
        let p = valid_profile();
        let good = crate::device::profile_request(u(A), false, Some(&p));
        let einval = |req: leaktrace_abi::ProfileLoadRequest| {
            sim.profile_request(&req, Some(&p))
                .unwrap_err()
                .raw_os_error()
        };
        assert_eq!(
            einval(leaktrace_abi::ProfileLoadRequest {
                reserved: 1,
                ..good
            }),
            Some(libc::EINVAL)
        );
        assert_eq!(
            einval(leaktrace_abi::ProfileLoadRequest {
                reserved2: 1,
                ..good
            }),
            Some(libc::EINVAL)
        );
        assert_eq!(
            einval(leaktrace_abi::ProfileLoadRequest { all: 1, ..good }),
            Some(libc::EINVAL)
        );
        assert_eq!(
            einval(leaktrace_abi::ProfileLoadRequest { all: 2, ..good }),
            Some(libc::EINVAL)
        );
        assert_eq!(
            einval(leaktrace_abi::ProfileLoadRequest { size: 8, ..good }),
            Some(libc::EINVAL)
        );
        assert_eq!(
            einval(leaktrace_abi::ProfileLoadRequest { size: 0, ..good }),
            Some(libc::EINVAL)
        );
        assert_eq!(
            einval(leaktrace_abi::ProfileLoadRequest { profile: 0, ..good }),
            Some(libc::EINVAL)
        );
        assert!(sim.profile_request(&good, Some(&p)).is_ok());
        // Full: ENOSPC for a new UUID, a known one is still replaced.
        for i in 1..SELECTION_MAX {
            let mut uuid = [0u8; 16];
            uuid[..8].copy_from_slice(&(i as u64).to_le_bytes());
            sim.profile_load(ProfileTarget::Vm(uuid), Some(&p)).unwrap();
        }
        let report = run_profile_load(&sim, ProfileTarget::Vm(u(B)), Some((&p, "x")));
        assert!(
            report.errors[0].contains("at most 256 per-VM profiles"),
            "{report:?}"
        );
        assert!(sim.profile_load(ProfileTarget::Vm(u(A)), Some(&p)).is_ok());
        // Errors of any ioctl.
        sim.fail.set(Some(libc::ENOTTY));
        let report = run_profile_load(&sim, ProfileTarget::Default, Some((&p, "x")));
        assert!(
            report.errors[0].contains("does not know IOCTL_PROFILE_LOAD"),
            "{report:?}"
        );
        sim.fail.set(Some(libc::EPERM));
        let report = run_profile_load(&sim, ProfileTarget::Default, None);
        assert!(report.errors[0].contains("run as root"), "{report:?}");
        sim.fail.set(Some(libc::EFAULT));
        let report = run_profile_load(&sim, ProfileTarget::Default, None);
        assert!(report.errors[0].contains("EFAULT"), "{report:?}");
    }
}
