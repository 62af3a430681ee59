#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Example scenario, guest 2: the same as guest 1.
. /scenario/vm1.sh
