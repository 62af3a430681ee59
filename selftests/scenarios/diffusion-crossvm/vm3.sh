#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Diffusion scenario "crossvm", guest 3: not traced (./trace). It reads
# every kind of secret and copies it, and receives vm2's TCP exfiltration;
# none of it may show up.
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
# vm2 connects here once (TCP out of the traced VMs). lt-diffuse gives up
# after 60 s, and vm2 sends only after its exchange with vm1: listen again
# until it came, five times at most.
i=0
until lt-diffuse -n vm3-tcp-recv tcp-recv 0.0.0.0 9004 /tmp/from-vm2.out; do
	i=$((i + 1))
	[ $i -lt 5 ] || { echo "LTFAIL vm3: vm2 never connected to TCP 9004" >&2; fails=$((fails + 1)); break; }
done

if [ $fails = 0 ]; then
	echo "LTDONE ok"
else
	echo "LTDONE failed ($fails)"
	exit 1
fi
