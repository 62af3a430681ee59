#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Robustness suite, full size (make stress, not part of make check): run
# inside the testbed's L1 by scripts/stress (`scripts/testbed job
# --timeout 28800`). 400000 hostile operations (lt-fuzz; about two
# million system calls with its children, about three hours traced under
# TCG) against an untraced run of the same seed, a 60 s ring flood, 100 load/unload cycles under three storm
# guests, 200000 random ioctls. Hours under TCG. See robustness-lib.sh.
RB_FUZZ_CALLS=400000
RB_FUZZ_CHUNK=20000
RB_CYCLES=100
RB_IOCTLS=200000
RB_FLOOD_SECONDS=60
RB_VM_TIMEOUT=20000
RB_SAMPLE_SECONDS=30
RB_STORM_CALLS=2000
. "$LT_ROOT/selftests/leaktrace/robustness-lib.sh"
rb_run
