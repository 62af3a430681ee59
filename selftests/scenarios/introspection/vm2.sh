#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The same program as vm1 (see vm1.sh), on Debian's stock kernel (vm2.kernel).
. /scenario/vm1.sh
