#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs the scenario runner on a scenario whose guests print known lines
# (selftests/scenarios/two-guests) and checks every output the runner
# documents: the runner's exit status, each vmN.log with the script's output
# and exit status, the guest-visible SMBIOS UUID, events.jsonl, l1-dmesg.log.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
scenario=${1:?usage: scenario-check.sh SCENARIO_DIR}
out=$scenario/out
fail=0

check() { # description command...
	local what=$1
	shift
	if "$@"; then
		echo "ok: $what"
	else
		echo "FAILED: $what"
		fail=1
	fi
}

"$root/scripts/testbed" scenario "$scenario"
rc=$?
check "runner exits 0 (scenario ran, dmesg clean)" test "$rc" -eq 0

for n in 1 2; do
	log=$out/vm$n.log
	uuid=$(printf '4c540000-0000-4000-8000-0000000000%02d' "$n")
	check "vm$n.log exists" test -s "$log"
	check "vm$n ran its script" grep -qx "hello from vm$n" "$log"
	check "vm$n script exited 0" grep -qx "leaktrace-exit-status: 0" "$log"
	check "vm$n sees its default SMBIOS UUID $uuid" grep -qix "$uuid" "$log"
done

check "l1-dmesg.log saved" test -s "$out/l1-dmesg.log"
check "events.jsonl: every line is a JSON object, the first is 'loaded' seq 0, heartbeats follow" \
	python3 - "$out/events.jsonl" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
events = [json.loads(l) for l in lines]
assert events, "no events"
assert all(isinstance(e, dict) and "type" in e for e in events)
assert events[0]["type"] == "loaded" and events[0]["seq"] == 0, events[0]
assert any(e["type"] == "heartbeat" for e in events), "no heartbeat"
seqs = [e["seq"] for e in events if "seq" in e]
assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), "seq not increasing"
assert not any(e["type"] == "lost" for e in events), "records lost"
PY

exit $fail
