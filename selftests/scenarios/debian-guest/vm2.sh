#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Guest 2: the same as guest 1, on the testbed kernel.
. /scenario/vm1.sh
