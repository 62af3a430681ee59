// SPDX-License-Identifier: GPL-2.0

//! leaktrace: follow the diffusion of confidential files inside KVM guests,
//! from the host.
//!
//! This is the crate root of `leaktrace.ko`: the client of KVM's syscall
//! trap that follows VMs and their system calls ([`tracker`]), and the
//! event path: a bounded ring of versioned records ([`hub`]) read through
//! `/dev/leaktrace` ([`device`]). See Documentation/abi.rst for the
//! userspace ABI and Documentation/kvm-series.rst for KVM's side.

// The ABI and the pure logic are shared with the userspace crates (and
// tested there on the host): include them from their single definition.
#[path = "../abi/abi.rs"]
pub mod abi;
#[path = "../core/src/diffusion.rs"]
pub mod diffusion;
#[path = "../core/src/fdcalls.rs"]
pub mod fdcalls;
#[path = "../core/src/glob.rs"]
pub mod glob;
#[path = "../core/src/introspect.rs"]
pub mod introspect;
#[path = "../core/src/pending.rs"]
pub mod pending;
#[path = "../core/src/ring.rs"]
pub mod ring;
#[path = "../core/src/smbios.rs"]
pub mod smbios;
#[path = "../core/src/snapshot.rs"]
pub mod snapshot;

mod device;
mod hub;
mod propagation;
mod shim;
mod tables;
mod tracker;

use kernel::prelude::*;
use kernel::sync::Arc;
use kernel::time::hrtimer::ArcHrTimerHandle;
use kernel::time::hrtimer::HrTimerPointer;

module! {
    type: LeakTrace,
    name: "leaktrace",
    authors: ["leaktrace developers"],
    description: "Trace the diffusion of confidential files across KVM guests",
    license: "GPL",
    params: {
        ring_kib: u32 {
            default: 256,
            description: "Size of the event ring in KiB (16..=65536)",
        },
        heartbeat_ms: u32 {
            default: 1000,
            description: "Period of heartbeat records in milliseconds (10..=60000)",
        },
        pending_max: u32 {
            default: 1024,
            description: "System calls awaiting their return, per VM (1..=65536)",
        },
        pending_timeout_ms: u32 {
            default: 60000,
            description: "End a call not returned after this many ms; 0: never (0..=3600000)",
        },
        test_trap_hold_us: u32 {
            default: 0,
            description: "Testing only: hold each traced SYSCALL this many us in the module, to force lifecycle races (0..=100000)",
        },
    },
}

/// Bounds of the `ring_kib` parameter.
const RING_KIB_RANGE: core::ops::RangeInclusive<u32> = 16..=65536;
/// Bounds of the `heartbeat_ms` parameter.
const HEARTBEAT_MS_RANGE: core::ops::RangeInclusive<u32> = 10..=60000;
/// Bounds of the `pending_max` parameter.
const PENDING_MAX_RANGE: core::ops::RangeInclusive<u32> = 1..=65536;
/// Bounds of the `pending_timeout_ms` parameter.
const PENDING_TIMEOUT_MS_RANGE: core::ops::RangeInclusive<u32> = 0..=3_600_000;
/// Bounds of the `test_trap_hold_us` parameter.
const TEST_TRAP_HOLD_US_RANGE: core::ops::RangeInclusive<u32> = 0..=100_000;

/// Checks that module parameter `name` lies in `range`, and says so if not.
fn check_param(name: &str, value: u32, range: &core::ops::RangeInclusive<u32>) -> Result {
    if range.contains(&value) {
        return Ok(());
    }
    pr_err!(
        "{}={} out of range {}..={}\n",
        name,
        value,
        range.start(),
        range.end()
    );
    Err(EINVAL)
}

/// The loaded module.
///
/// Fields drop in declaration order: the device node goes first (no new
/// opens; open files pin the module, so there are none left at unload),
/// then KVM forgets us (every VM disarmed, no callback left running), then
/// the heartbeat timer is cancelled and waited for, then the hub.
struct LeakTrace {
    _device: device::EventDevice,
    _kvm_client: tracker::KvmClient,
    _heartbeat: ArcHrTimerHandle<hub::Hub>,
    _hub: Arc<hub::Hub>,
}

impl kernel::Module for LeakTrace {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let ring_kib = module_parameters::ring_kib.value();
        let heartbeat_ms = module_parameters::heartbeat_ms.value();
        let pending_max = module_parameters::pending_max.value();
        let pending_timeout_ms = module_parameters::pending_timeout_ms.value();
        let trap_hold_us = module_parameters::test_trap_hold_us.value();
        check_param("ring_kib", ring_kib, &RING_KIB_RANGE)?;
        check_param("heartbeat_ms", heartbeat_ms, &HEARTBEAT_MS_RANGE)?;
        check_param("pending_max", pending_max, &PENDING_MAX_RANGE)?;
        check_param(
            "pending_timeout_ms",
            pending_timeout_ms,
            &PENDING_TIMEOUT_MS_RANGE,
        )?;
        check_param("test_trap_hold_us", trap_hold_us, &TEST_TRAP_HOLD_US_RANGE)?;
        if trap_hold_us != 0 {
            pr_warn!(
                "test_trap_hold_us={}: every traced SYSCALL sleeps that long in the module (a test knob)\n",
                trap_hold_us
            );
        }

        let hub = hub::Hub::new(ring_kib as usize * 1024, heartbeat_ms)?;
        hub.emit_loaded();
        let heartbeat = hub.clone().start(hub.heartbeat_period());
        let tracker = tracker::Tracker::new(
            hub.clone(),
            pending_max as usize,
            pending_timeout_ms,
            trap_hold_us,
        )?;
        let kvm_client = tracker::KvmClient::register(tracker.clone()).inspect_err(|e| {
            pr_err!("cannot become KVM's syscall-trap client: {:?}\n", e);
        })?;
        let device = device::EventDevice::register(tracker)?;

        pr_info!(
            "/dev/leaktrace ready (ABI {}, ring {} KiB, heartbeat {} ms)\n",
            abi::ABI_VERSION,
            ring_kib,
            heartbeat_ms
        );
        Ok(Self {
            _device: device,
            _kvm_client: kvm_client,
            _heartbeat: heartbeat,
            _hub: hub,
        })
    }
}
