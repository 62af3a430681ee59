#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Guest kernels: vm1 boots Debian's stock 7.3 kernel (vm1.kernel), vm2 the
# testbed kernel (the default). Both print how long their kernel took to
# boot, which kernel it is, and what the testbed's guest init relies on.

# Seconds since the guest kernel started, when its init got here.
echo "uptime $(cut -d' ' -f1 /proc/uptime)"
uname -r
cat /proc/version
if [ -r /sys/class/dmi/id/product_uuid ]; then
	cat /sys/class/dmi/id/product_uuid
else
	echo "no /sys/class/dmi/id/product_uuid (kernel without CONFIG_DMIID)"
fi
grep -E ' (/dev|/proc|/sys|/tmp) ' /proc/mounts | cut -d' ' -f1-3
echo "hello from vm$LT_VM"
