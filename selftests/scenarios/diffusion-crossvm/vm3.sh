#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Diffusion scenario "crossvm", guest 3: not traced (./trace). It reads
# every kind of secret and copies it; none of it may show up.
S=/scenario/files
fails=0

# run CMD...: CMD, and an LTFAIL line if it fails (the script goes on; on
# stderr, which redirections of CMD's stdout leave to the log).
run() {
	"$@"
	rc=$?
	[ "$rc" = 0 ] || { echo "LTFAIL vm3: $*: exit $rc" >&2; fails=$((fails + 1)); }
}

run lt-diffuse -n vm3-reader rw read $S/secret-1.txt /tmp/vm3-reader.out
run lt-diffuse -n vm3-shared rw read $S/shared-secret.txt /tmp/vm3-shared.out
run lt-diffuse -n vm3-fork fork $S/shared-secret.txt /tmp/vm3-fork.out

if [ $fails = 0 ]; then
	echo "LTDONE ok"
else
	echo "LTDONE failed ($fails)"
	exit 1
fi
