// SPDX-License-Identifier: GPL-2.0

//! Which events `leaktrace watch` prints: `--syscalls` (VM, syscall,
//! file, diffusion and pressure records only) and `--vm ID|UUID` (one
//! VM's records only).
//!
//! `lost` events always pass: a gap may hide records of any VM, and a
//! filtered view must not look complete when it is not. Nor do pressure
//! records of the flows table, shared by all VMs (`vm_id` 0): what it
//! forgot may be any VM's.

use crate::decode::Event;
use crate::decode::Record;
use crate::uuid;
use leaktrace_abi::Uuid;
use leaktrace_abi::VM_UUID_KNOWN;
use std::collections::BTreeSet;

/// A VM named on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmSelector {
    /// By the module's VM id.
    Id(u32),
    /// By UUID.
    Uuid(Uuid),
}

/// Parses `--vm`: a decimal VM id, or a canonical UUID.
pub fn parse_vm_selector(text: &str) -> Result<VmSelector, String> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse()
            .map(VmSelector::Id)
            .map_err(|_| format!("`{text}`: VM id out of range"));
    }
    uuid::parse(text)
        .map(VmSelector::Uuid)
        .map_err(|e| format!("`{text}` is neither a VM id nor a UUID: {e}"))
}

/// The filter of one `watch`.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Only VM, syscall, file, diffusion and pressure records.
    syscalls: bool,
    /// Only this VM's records.
    vm: Option<VmSelector>,
    /// Ids of the VMs seen with the selected UUID (a VM record before the
    /// UUID is known, e.g. `destroyed` of a VM whose UUID was seen, still
    /// belongs to it).
    ids: BTreeSet<u32>,
}

impl Filter {
    /// A filter; `Filter::default()` passes everything.
    pub fn new(syscalls: bool, vm: Option<VmSelector>) -> Self {
        Self {
            syscalls,
            vm,
            ids: BTreeSet::new(),
        }
    }

    /// Whether the filter passes everything.
    pub fn is_everything(&self) -> bool {
        !self.syscalls && self.vm.is_none()
    }

    /// Whether a record of VM `vm_id` (with `uuid`, if known) belongs to
    /// the selected VM.
    fn matches_vm(&mut self, vm_id: u32, uuid: Option<&Uuid>) -> bool {
        match self.vm {
            None => true,
            Some(VmSelector::Id(id)) => vm_id == id,
            Some(VmSelector::Uuid(wanted)) => {
                if uuid == Some(&wanted) {
                    self.ids.insert(vm_id);
                    true
                } else {
                    self.ids.contains(&vm_id)
                }
            }
        }
    }

    /// Whether to print `event`. Call it on every event, in order: the
    /// filter learns VM ids from UUIDs as it goes.
    pub fn keep(&mut self, event: &Event) -> bool {
        let record = match event {
            Event::Lost { .. } => return true,
            Event::Record(record) => record,
        };
        match record {
            Record::Vm(r) => {
                let uuid = (r.flags & VM_UUID_KNOWN != 0).then_some(&r.uuid);
                self.matches_vm(r.vm_id, uuid)
            }
            Record::Syscall(r) => {
                let uuid = (!uuid::is_nil(&r.uuid)).then_some(&r.uuid);
                self.matches_vm(r.vm_id, uuid)
            }
            // By id only: a VM's file records come after its VM records,
            // which teach a UUID selector the id.
            Record::File(r) => self.matches_vm(r.vm_id, None),
            Record::Diffusion(r) => self.matches_vm(r.vm_id, None),
            Record::Pressure(r) => r.vm_id == 0 || self.matches_vm(r.vm_id, None),
            _ => self.is_everything(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use leaktrace_abi::RecordHeader;
    use leaktrace_abi::RecordKind;
    use leaktrace_abi::SyscallRecord;
    use leaktrace_abi::TestRecord;
    use leaktrace_abi::VmRecord;

    const A: &str = "4c4c4544-0042-3510-8052-b3c04f4e3732";

    fn vm(vm_id: u32, uuid: Option<&str>) -> Event {
        Event::Record(Record::Vm(VmRecord {
            header: RecordHeader::new::<VmRecord>(RecordKind::Vm, 1),
            vm_id,
            uuid: uuid.map(|u| uuid::parse(u).unwrap()).unwrap_or_default(),
            flags: if uuid.is_some() { VM_UUID_KNOWN } else { 0 },
            ..VmRecord::default()
        }))
    }

    fn syscall(vm_id: u32, uuid: Option<&str>) -> Event {
        Event::Record(Record::Syscall(SyscallRecord {
            header: RecordHeader::new::<SyscallRecord>(RecordKind::Syscall, 1),
            vm_id,
            uuid: uuid.map(|u| uuid::parse(u).unwrap()).unwrap_or_default(),
            ..SyscallRecord::default()
        }))
    }

    fn test_record() -> Event {
        Event::Record(Record::Test(TestRecord {
            header: RecordHeader::new::<TestRecord>(RecordKind::Test, 1),
            index: 0,
            burst: 1,
        }))
    }

    const LOST: Event = Event::Lost {
        first_seq: 1,
        count: 1,
    };

    #[test]
    fn everything_passes_by_default() {
        let mut f = Filter::default();
        for e in [test_record(), vm(1, None), syscall(1, None), LOST] {
            assert!(f.keep(&e));
        }
    }

    #[test]
    fn syscalls_keeps_vm_syscall_and_lost() {
        let mut f = Filter::new(true, None);
        assert!(!f.keep(&test_record()));
        assert!(f.keep(&vm(1, None)));
        assert!(f.keep(&syscall(1, Some(A))));
        assert!(f.keep(&LOST));
    }

    fn file(vm_id: u32) -> Event {
        Event::Record(Record::File(leaktrace_abi::FileRecord {
            vm_id,
            call_id: 1,
            ..Default::default()
        }))
    }

    #[test]
    fn file_records_follow_their_vm() {
        let mut f = Filter::new(true, None);
        assert!(f.keep(&file(1)));
        let mut f = Filter::new(true, Some(parse_vm_selector(A).unwrap()));
        assert!(!f.keep(&file(2)));
        assert!(f.keep(&vm(2, Some(A))));
        assert!(f.keep(&file(2)));
        assert!(!f.keep(&file(3)));
    }

    #[test]
    fn vm_by_id() {
        let mut f = Filter::new(false, Some(parse_vm_selector("2").unwrap()));
        assert!(!f.keep(&test_record()));
        assert!(f.keep(&vm(2, None)));
        assert!(!f.keep(&vm(3, None)));
        assert!(f.keep(&syscall(2, Some(A))));
        assert!(!f.keep(&syscall(22, Some(A))));
        assert!(f.keep(&LOST));
    }

    #[test]
    fn vm_by_uuid_learns_the_id() {
        let mut f = Filter::new(false, Some(parse_vm_selector(A).unwrap()));
        assert!(!f.keep(&vm(5, None)), "created: UUID not known yet");
        assert!(f.keep(&vm(5, Some(A))), "identified");
        assert!(f.keep(&syscall(5, Some(A))));
        assert!(f.keep(&vm(5, None)), "same VM, later record without UUID");
        assert!(!f.keep(&syscall(6, None)));
    }

    #[test]
    fn vm_selectors_parse() {
        assert_eq!(parse_vm_selector("0"), Ok(VmSelector::Id(0)));
        assert_eq!(parse_vm_selector("42"), Ok(VmSelector::Id(42)));
        assert!(matches!(parse_vm_selector(A), Ok(VmSelector::Uuid(_))));
        assert!(parse_vm_selector("99999999999").is_err());
        assert!(parse_vm_selector("-1").is_err());
        assert!(parse_vm_selector("").is_err());
        assert!(parse_vm_selector("vm2").is_err());
    }
    #[test]
    fn diffusion_and_pressure_records_follow_their_vm() {
        let diffusion = |vm_id| {
            Event::Record(Record::Diffusion(leaktrace_abi::DiffusionRecord {
                vm_id,
                ..Default::default()
            }))
        };
        let pressure = |vm_id| {
            Event::Record(Record::Pressure(leaktrace_abi::PressureRecord {
                vm_id,
                ..Default::default()
            }))
        };
        let mut f = Filter::new(true, None);
        assert!(f.keep(&diffusion(1)) && f.keep(&pressure(1)));
        let mut f = Filter::new(false, Some(VmSelector::Id(2)));
        assert!(f.keep(&diffusion(2)) && f.keep(&pressure(2)));
        assert!(!f.keep(&diffusion(1)) && !f.keep(&pressure(1)));
        assert!(f.keep(&pressure(0)), "the flows table is every VM's");
    }
}
