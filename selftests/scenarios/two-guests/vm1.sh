#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Example scenario, guest 1: which kernel, which SMBIOS UUID (the testbed
# gives vm1 4c540000-0000-4000-8000-000000000001 unless vm1.uuid says
# otherwise), and a greeting.
uname -r
if [ -r /sys/class/dmi/id/product_uuid ]; then
	cat /sys/class/dmi/id/product_uuid
else
	echo "no /sys/class/dmi/id/product_uuid (kernel without CONFIG_DMIID)"
fi
echo hello from vm1
