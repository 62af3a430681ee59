#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Network scenario, guest 3: Debian's stock kernel (vm3.kernel), which has
# virtio_net as a module only: no eth0, so no network, and the guest runs
# all the same with LT_IP empty.
echo "vm3: LT_IP=$LT_IP"
if [ -e /sys/class/net/eth0 ]; then echo "vm3: eth0 present"; else echo "vm3: no eth0"; fi
