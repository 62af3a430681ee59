#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The guest-network suite (TAP), run on the host:
#
#   selftests/leaktrace/network.sh [SCENARIO_DIR]
#
# Runs the scenario runner on selftests/scenarios/network and checks the
# guests' LAN (Documentation/testbed.rst, "Network"): vm1 (10.0.0.1)
# listens on TCP 5000 (busybox nc -l -p) and UDP 6000 (lt-udp -l); vm2
# (10.0.0.2) sends its secret file to both (nc HOST PORT, lt-udp HOST
# PORT), gets vm1's TCP answer, sends one datagram to 198.51.100.7:9999
# through the default route (accepted, then lost) and pings vm1 by name;
# vm3 boots Debian's stock kernel, which has no virtio_net built in: no
# network there, LT_IP empty, and the guest still runs. Then the runner's
# other new outputs: out/secrets.txt for the scenario's secrets file and
# out/graph.dot, out/graph.json. Those two are SKIP while the reader has no
# "leaktrace secret" / "leaktrace graph" (summary.txt says so).
#
# Builds what it needs first: build/bin/lt-udp (static, in every guest's
# /usr/bin with the rest of build/bin).
# Exit status: 0 when nothing failed.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
scenario=${1:-$root/selftests/scenarios/network}
out=$scenario/out
n=0
failed=0

bail() {
	echo "1..1"
	echo "not ok 1 - network suite: $*"
	exit 1
}

ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1${2:+ # $2}"; }
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }

# check NAME CMD...: one test; CMD's output becomes diagnostics.
check() {
	local name=$1 o st=0
	shift
	o=$("$@" 2>&1) || st=$?
	[ -z "$o" ] || printf '%s\n' "$o" | sed 's/^/# /'
	if [ $st = 0 ]; then ok "$name"; else not_ok "$name"; fi
}

# has VM LINE: vmN.log has LINE (a whole line, fixed string).
has() {
	grep -qxF -- "$2" "$out/$1.log" && return 0
	echo "$1.log has no line '$2'; it has:"
	sed 's/^/    /' "$out/$1.log" 2>/dev/null | head -n 30
	return 1
}

# summary_has LINE-REGEX: summary.txt has a matching line.
summary_has() {
	grep -qE -- "$1" "$out/summary.txt" && return 0
	echo "summary.txt has no line matching '$1'; it has:"
	sed 's/^/    /' "$out/summary.txt" 2>/dev/null
	return 1
}

echo "TAP version 13"

make -s -C "$root" guest 2>&1 | sed 's/^/# /'
[ "${PIPESTATUS[0]}" = 0 ] && [ -x "$root/build/bin/lt-udp" ] || bail "cannot build build/bin/lt-udp"

# The runner's own output becomes diagnostics.
"$root/scripts/testbed" scenario "$scenario" 2>&1 | sed -u 's/^/# /'
rc=${PIPESTATUS[0]}
echo "# scripts/testbed scenario exited $rc"
[ "$rc" != 2 ] || bail "scripts/testbed refused the scenario $scenario (exit 2)"
[ -f "$out/summary.txt" ] || bail "no $out/summary.txt"

check "runner exits 0 (every guest ran its script, kernel log clean)" test "$rc" = 0
secret=$(cat "$scenario/files/secret.txt")
for vm in vm1 vm2 vm3; do
	check "$vm script exited 0" has "$vm" "leaktrace-exit-status: 0"
done

# Addresses: what the guests got, what they exported, what the runner saw.
for i in 1 2; do
	check "vm$i: LT_IP=10.0.0.$i" has "vm$i" "vm$i: LT_IP=10.0.0.$i"
	check "vm$i: eth0 is 10.0.0.$i/24" has "vm$i" "vm$i: eth0 inet 10.0.0.$i/24"
	check "vm$i: summary.txt says net=10.0.0.$i" summary_has "^vm$i .* net=10\.0\.0\.$i( |$)"
done
check "vm2: default route via 10.0.0.254" grep -q '^vm2: route default via 10\.0\.0\.254 dev eth0' "$out/vm2.log"

# TCP both ways through busybox nc.
check "vm2 -> vm1 TCP: vm2 connected to 10.0.0.1:5000 (nc HOST PORT)" grep -q '^vm2: tcp connected after' "$out/vm2.log"
check "vm2 -> vm1 TCP: vm1 received vm2's secret (nc -l -p 5000)" has vm1 "vm1: tcp received: $secret"
check "vm1 -> vm2 TCP: vm2 received vm1's answer" has vm2 "vm2: tcp reply: ack from vm1"
check "vm1: nc -l exited 0" has vm1 "vm1: tcp nc -l exit 0"

# UDP through lt-udp.
check "vm2 -> vm1 UDP: sent (lt-udp HOST PORT)" has vm2 "vm2: udp to vm1 exit 0"
check "vm2 -> vm1 UDP: vm1 received it (lt-udp -l -p 6000)" has vm1 "vm1: udp received: $secret"
check "vm2 -> vm1 UDP: from 10.0.0.2" grep -q '^vm1: udp from 10\.0\.0\.2 ' "$out/vm1.log"
check "vm2 -> 198.51.100.7:9999 UDP: accepted by vm2's kernel" has vm2 "vm2: udp out exit 0"
check "vm2 pings vm1 by name (/etc/hosts)" has vm2 "vm2: ping vm1 ok"

# Debian's kernel: no virtio_net built in, so no network, and no failure.
check "vm3 (Debian kernel): no eth0" has vm3 "vm3: no eth0"
check "vm3 (Debian kernel): LT_IP empty" has vm3 "vm3: LT_IP="
check "vm3 (Debian kernel): summary.txt says net=none" summary_has '^vm3 .* net=none( |$)'
check "vm3 (Debian kernel): its console says why" \
	grep -q 'leaktrace: vm3: network: none (no eth0' "$out/vm3-console.log"

# The scenario's secrets file, applied before the guests started.
if grep -q "^secrets recorded; not applied" "$out/summary.txt"; then
	skip "secrets.txt lists vm2's secret glob" "the reader has no 'leaktrace secret' yet (summary.txt)"
else
	check "secrets.txt lists vm2's secret glob" grep -qF '/scenario/files/secret*' "$out/secrets.txt"
	check "summary.txt: secrets added" summary_has '^secrets: 1 pattern\(s\) added'
fi

# The diffusion graph, made on the host from events.jsonl.
if grep -q "^graph: not made: the reader has no" "$out/summary.txt"; then
	skip "graph.dot and graph.json made from events.jsonl" "the reader has no 'leaktrace graph' yet (summary.txt)"
else
	check "graph.dot made from events.jsonl" test -s "$out/graph.dot"
	check "graph.json made from events.jsonl, and it is JSON" \
		python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$out/graph.json"
fi

echo "1..$n"
echo "# network: $((n - failed)) passed, $failed failed"
[ "$failed" = 0 ]
