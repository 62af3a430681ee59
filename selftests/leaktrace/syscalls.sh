#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The syscall-record suite (TAP), run on the host:
#
#   selftests/leaktrace/syscalls.sh [SCENARIO_DIR]
#
# Runs the scenario runner on selftests/scenarios/syscalls (three guests
# running lt-syscalls, vm1 and vm2 traced, vm3 not), then checks its
# outputs with syscall-check (selftests/leaktrace/syscheck): every traced
# guest's LTEXPECT lines as syscall records of its UUID, in order, with
# their arguments and results; vm_seq without gaps; consistent records;
# nothing for the untraced guest; every guest's self-checks passed.
#
# While the module cannot trace VMs (the runner's summary.txt says "trace
# selection recorded; not applied"), the tracing checks are reported as
# SKIP; LT_SYSCALLS_REQUIRE_TRACING=1 makes them fail instead.
#
# Builds what it needs first: build/bin/lt-syscalls (static, it goes into
# every guest's /usr/bin with the rest of build/bin) and the checker.
# Exit status: 0 when nothing failed.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
scenario=${1:-$root/selftests/scenarios/syscalls}
src=$here/guest/lt-syscalls.c
bin=$root/build/bin/lt-syscalls
checker=$root/build/cargo-host/debug/syscall-check

bail() {
	echo "1..1"
	echo "not ok 1 - syscalls suite: $*"
	exit 1
}

echo "TAP version 13"

# The guest program, by the Makefile's rule (so the suite runs on its own).
make -s -C "$root" guest 2>&1 | sed 's/^/# /'
[ "${PIPESTATUS[0]}" = 0 ] && [ -x "$bin" ] || bail "cannot build $bin from $src"
cargo build --quiet --locked --target-dir "$root/build/cargo-host" \
	--manifest-path "$root/Cargo.toml" -p lt-syscheck --bin syscall-check 2>&1 | sed 's/^/# /'
[ "${PIPESTATUS[0]}" = 0 ] || bail "cannot build syscall-check"

# The runner's own output becomes diagnostics: only the checker speaks TAP.
"$root/scripts/testbed" scenario "$scenario" 2>&1 | sed -u 's/^/# /'
rc=${PIPESTATUS[0]}
echo "# scripts/testbed scenario exited $rc"
[ "$rc" != 2 ] || bail "scripts/testbed refused the scenario $scenario (exit 2)"

args=()
[ "${LT_SYSCALLS_REQUIRE_TRACING:-0}" != 1 ] || args+=(--require-tracing)
# The checker's TAP, without its version line (printed above).
"$checker" "${args[@]}" "$scenario/out" | sed -u '1{/^TAP version/d}'
exit "${PIPESTATUS[0]}"
