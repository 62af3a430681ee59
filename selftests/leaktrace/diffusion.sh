#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The diffusion suite (TAP), run on the host:
#
#   selftests/leaktrace/diffusion.sh [SCENARIO_DIR...]
#
# Runs the scenario runner on each diffusion scenario (default: every
# selftests/scenarios/diffusion-*, and make demo's demo-diffusion), then
# checks its outputs with
# diffusion-check (selftests/leaktrace/syscheck) against the scenario's
# expected file: every rule of Documentation/diffusion.rst as the exact
# set of edges it must produce, and the absence of false ones (innocent
# processes, non-secret files, a process that read a secret only after
# writing, an untraced guest), and loads its PROV-JSON graph with the W3C
# PROV library (selftests/leaktrace/prov-check.py). diffusion-local: files and names, pipes,
# kernel copies, every read and write call, processes, memory, messages,
# UNIX sockets and loopback IPv4 in three guests; diffusion-crossvm: TCP
# and UDP between two traced guests, exfiltration, an untraced guest;
# demo-diffusion: the demo's story, busybox tools only.
#
# Each scenario's tests are prefixed with its name; one plan at the end.
# LT_DIFFUSION_NO_RUN=1 checks the outputs already in SCENARIO/out
# without booting anything.
#
# Builds what it needs first: build/bin/lt-diffuse (static, in every
# guest's /usr/bin with the rest of build/bin) and the checker.
# Exit status: 0 when nothing failed.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=$root/build/bin/lt-diffuse
checker=$root/build/cargo-host/debug/diffusion-check
reader=$root/build/bin/leaktrace
n=0
failed=0

bail() {
	echo "1..1"
	echo "not ok 1 - diffusion suite: $*"
	exit 1
}

if [ $# -gt 0 ]; then
	scenarios=("$@")
else
	scenarios=("$root"/selftests/scenarios/diffusion-* "$root/selftests/scenarios/demo-diffusion")
fi

echo "TAP version 13"

# The guest program, by the Makefile's rule (so the suite runs on its own).
make -s -C "$root" guest 2>&1 | sed 's/^/# /'
[ "${PIPESTATUS[0]}" = 0 ] && [ -x "$bin" ] || bail "cannot build $bin"
cargo build --quiet --locked --target-dir "$root/build/cargo-host" \
	--manifest-path "$root/Cargo.toml" -p lt-syscheck --bin diffusion-check 2>&1 | sed 's/^/# /'
[ "${PIPESTATUS[0]}" = 0 ] || bail "cannot build diffusion-check"

for scenario in "${scenarios[@]}"; do
	name=$(basename "$scenario")
	[ -f "$scenario/expected" ] || bail "$scenario has no expected file"
	echo "# === $name"
	if [ "${LT_DIFFUSION_NO_RUN:-0}" != 1 ]; then
		# The runner's own output becomes diagnostics.
		"$root/scripts/testbed" scenario "$scenario" 2>&1 | sed -u 's/^/# /'
		rc=${PIPESTATUS[0]}
		echo "# scripts/testbed scenario $name exited $rc"
		# (A run whose guests stalled in their firmware is run once more
		# by scripts/testbed itself.)
		if [ "$rc" = 2 ]; then
			n=$((n + 1)) failed=$((failed + 1))
			echo "not ok $n - $name: scripts/testbed refused the scenario (exit 2)"
			continue
		fi
	fi
	# The checker's TAP, renumbered into this suite's, names prefixed.
	out=$("$checker" "$scenario/out")
	rc=$?
	bailed=0
	while IFS= read -r line; do
		case "$line" in
		"TAP version"* | 1..*) ;;
		"ok "*)
			n=$((n + 1))
			echo "ok $n - $name: ${line#ok * - }"
			;;
		"not ok "*)
			n=$((n + 1)) failed=$((failed + 1))
			echo "not ok $n - $name: ${line#not ok * - }"
			;;
		"Bail out!"*)
			n=$((n + 1)) failed=$((failed + 1)) bailed=1
			echo "not ok $n - $name: diffusion-check: ${line#Bail out! }"
			;;
		*) echo "$line" ;;
		esac
	done <<<"$out"
	if [ "$rc" != 0 ] && [ "$rc" != 1 ] && [ "$bailed" = 0 ]; then
		n=$((n + 1)) failed=$((failed + 1))
		echo "not ok $n - $name: diffusion-check exited $rc"
	fi
	# The PROV-JSON graph as a W3C PROV tool reads it (Debian's python,
	# which has the python3-prov that make setup installs).
	n=$((n + 1))
	prov_test="$name: graph --format prov-json loads with the W3C PROV library, every node an element"
	prov=$scenario/out/graph.prov.json
	if ! "$reader" graph "$scenario/out/events.jsonl" --format prov-json -o "$prov" 2>&1 | sed 's/^/# /' ||
		[ ! -s "$prov" ]; then
		failed=$((failed + 1))
		echo "not ok $n - $prov_test # leaktrace graph failed"
	else
		prov_out=$(/usr/bin/python3 "$here/prov-check.py" "$scenario/out/graph.json" "$prov" 2>&1)
		rc=$?
		echo "$prov_out" | sed 's/^/# /'
		case $rc in
		0) echo "ok $n - $prov_test" ;;
		77) echo "ok $n - $prov_test # SKIP $prov_out" ;;
		*) failed=$((failed + 1)); echo "not ok $n - $prov_test" ;;
		esac
	fi
done

echo "1..$n"
[ "$failed" = 0 ]
