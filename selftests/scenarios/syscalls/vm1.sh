#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The syscalls scenario: every guest runs lt-syscalls (from
# selftests/leaktrace/guest, in /usr/bin), which makes known system calls,
# checks their results itself and prints an LTEXPECT line per call.
# vm1 and vm2 are traced (see trace), vm3 is not; vm2 has a non-default
# UUID (vm2.uuid) whose fields are all asymmetric, so a byte-order slip
# in the module's SMBIOS decoding shows. selftests/leaktrace/syscalls.sh
# runs it and checks the records with syscall-check. vm2.sh and vm3.sh
# source this script.
if [ -r /sys/class/dmi/id/product_uuid ]; then
	echo "LTUUID $(cat /sys/class/dmi/id/product_uuid)"
else
	echo "no /sys/class/dmi/id/product_uuid (kernel without CONFIG_DMIID)"
fi
cd /tmp || exit 1
lt-syscalls
