#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Example scenario: which kernel, which SMBIOS UUID (the testbed gives
# guest N 4c540000-0000-4000-8000-0000000000NN unless vmN.uuid says
# otherwise), and a greeting. vm2.sh runs this same script; LT_VM is the
# guest's number.
uname -r
if [ -r /sys/class/dmi/id/product_uuid ]; then
	cat /sys/class/dmi/id/product_uuid
else
	echo "no /sys/class/dmi/id/product_uuid (kernel without CONFIG_DMIID)"
fi
echo "hello from vm$LT_VM"
