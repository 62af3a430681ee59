#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Robustness suite, CI-sized (make check): run inside the testbed's L1 by
# `scripts/testbed job`. The hostile guest makes 3000 calls with a fixed
# seed next to an untraced run of the same seed (about 3 minutes: a
# traced call costs milliseconds under TCG), forged structures, one ring
# flood, a full propagation table, 10 load/unload cycles under three
# storm guests, 3 cycles of forced races (calls held in the module while
# a VM is killed and the module unloaded), 20000 random ioctls. See robustness-lib.sh for what each test proves;
# selftests/leaktrace/stress.sh is the full run (make stress).
RB_FUZZ_CALLS=3000
RB_FUZZ_CHUNK=1000
RB_CYCLES=10
RB_IOCTLS=20000
RB_FLOOD_SECONDS=15
. "$LT_ROOT/selftests/leaktrace/robustness-lib.sh"
rb_run
