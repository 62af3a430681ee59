// SPDX-License-Identifier: GPL-2.0

//! leaktrace: follow the diffusion of confidential files inside KVM guests,
//! from the host.
//!
//! This is the crate root of `leaktrace.ko`. For now the module provides the
//! event path every later feature uses: a bounded ring of versioned records
//! ([`hub`]) read through `/dev/leaktrace` ([`device`]). See
//! Documentation/abi.rst for the userspace ABI.

// The ABI and the pure logic are shared with the userspace crates (and
// tested there on the host): include them from their single definition.
#[path = "../abi/abi.rs"]
pub mod abi;
#[path = "../core/src/ring.rs"]
pub mod ring;

mod device;
mod hub;
mod shim;

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
    },
}

/// Bounds of the `ring_kib` parameter.
const RING_KIB_RANGE: core::ops::RangeInclusive<u32> = 16..=65536;
/// Bounds of the `heartbeat_ms` parameter.
const HEARTBEAT_MS_RANGE: core::ops::RangeInclusive<u32> = 10..=60000;

/// The loaded module.
///
/// Fields drop in declaration order: the device node goes first (no new
/// opens; open files pin the module, so there are none left at unload),
/// then the heartbeat timer is cancelled and waited for, then the hub.
struct LeakTrace {
    _device: device::EventDevice,
    _heartbeat: ArcHrTimerHandle<hub::Hub>,
    _hub: Arc<hub::Hub>,
}

impl kernel::Module for LeakTrace {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let ring_kib = module_parameters::ring_kib.value();
        let heartbeat_ms = module_parameters::heartbeat_ms.value();
        if !RING_KIB_RANGE.contains(&ring_kib) {
            pr_err!(
                "ring_kib={} out of range {}..={}\n",
                ring_kib,
                RING_KIB_RANGE.start(),
                RING_KIB_RANGE.end()
            );
            return Err(EINVAL);
        }
        if !HEARTBEAT_MS_RANGE.contains(&heartbeat_ms) {
            pr_err!(
                "heartbeat_ms={} out of range {}..={}\n",
                heartbeat_ms,
                HEARTBEAT_MS_RANGE.start(),
                HEARTBEAT_MS_RANGE.end()
            );
            return Err(EINVAL);
        }

        let hub = hub::Hub::new(ring_kib as usize * 1024, heartbeat_ms)?;
        hub.emit_loaded();
        let heartbeat = hub.clone().start(hub.heartbeat_period());
        let device = device::EventDevice::register(hub.clone())?;

        pr_info!(
            "/dev/leaktrace ready (ABI {}, ring {} KiB, heartbeat {} ms)\n",
            abi::ABI_VERSION,
            ring_kib,
            heartbeat_ms
        );
        Ok(Self {
            _device: device,
            _heartbeat: heartbeat,
            _hub: hub,
        })
    }
}
