#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Diffusion scenario "crossvm", guest 1 (10.0.0.1): receives vm2's secrets
# over TCP and UDP, on sockets bound to its own address (so that leaktrace
# knows the address is vm1's before vm2 sends), and passes one on. Its
# copies of vm2's secret files are not secret here; the shared secret is.
# ./expected lists the exact edges.
S=/scenario/files
fails=0

# run CMD...: CMD, and an LTFAIL line if it fails (the script goes on; on
# stderr, which redirections of CMD's stdout leave to the log).
run() {
	"$@"
	rc=$?
	[ "$rc" = 0 ] || { echo "LTFAIL vm1: $*: exit $rc" >&2; fails=$((fails + 1)); }
}

# wait_for FILE: until FILE exists (10 s at most).
wait_for() {
	i=0
	until [ -e "$1" ]; do
		i=$((i + 1))
		[ $i -lt 100 ] || { echo "LTFAIL vm1: $1 never appeared" >&2; fails=$((fails + 1)); return 1; }
		sleep 0.1
	done
}

[ -n "$LT_IP" ] || { echo "LTFAIL vm1: no network (LT_IP is empty)"; echo "LTDONE failed (1)"; exit 1; }

# The receivers read only once vm2's sending call has returned (a receiver
# blocked in its read can otherwise return first): the UDP receiver, bound
# first, reads once the TCP exchange is over (its gate file); vm2 sends
# its datagram before it connects over TCP, and the TCP receiver reads
# once vm2 has closed its end (-e).
lt-diffuse udp-recv -g /tmp/udp.gate $LT_IP 9001 /tmp/udp-from-vm2.out /tmp/udp.ready &
udp=$!
wait_for /tmp/udp.ready
# A barrier: vm2 connects here (retrying) before it sends its datagram.
run nc -l -p 9005 </dev/null >/dev/null
run lt-diffuse tcp-recv -e $LT_IP 9000 /tmp/tcp-from-vm2.out
: >/tmp/udp.gate
wait $udp || { echo "LTFAIL vm1: udp-recv" >&2; fails=$((fails + 1)); }

# vm2's secret goes on in vm1.
run lt-diffuse -n forward rw read /tmp/tcp-from-vm2.out /tmp/forward.out
# Not secret in this guest: its own copy of vm2's secret file.
run lt-diffuse -n vm1-reader rw read $S/secret-1.txt /tmp/vm1-reader.out
# Secret in every guest.
run lt-diffuse -n vm1-shared rw read $S/shared-secret.txt /tmp/vm1-shared.out

if [ $fails = 0 ]; then
	echo "LTDONE ok"
else
	echo "LTDONE failed ($fails)"
	exit 1
fi
