#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The guest-introspection suite (TAP), run on the host:
#
#   selftests/leaktrace/introspection.sh [SCENARIO_DIR]
#
# Runs the scenario runner on selftests/scenarios/introspection (two
# traced guests running lt-ident, vm1 on the testbed kernel, vm2 on
# Debian's stock kernel), then checks its outputs with ident-check
# (selftests/leaktrace/syscheck): for every call lt-ident marked, the one
# syscall record carrying the mark has the task the guest saw (tgid =
# getpid, pid = gettid, ppid = getppid, comm = PR_GET_NAME), for the
# program, a thread, a reparented orphan, the program renamed by prctl
# and by /proc/self/comm, after execve, and 300 short-lived children;
# its file records (same vm_id and call_id, by role) have what fstat,
# readlink /proc/self/fd/N and getsockname/getpeername said; after a
# guest's profile-active record, every record of it is resolved; records
# of untraced guests are absent.
#
# A guest whose profile never became active (no profile loaded) fails its
# introspection checks; LT_INTROSPECTION_ALLOW_NO_PROFILE=1 reports them
# as SKIP instead (a run before profiles are loaded by the runner).
#
# Builds what it needs first: build/bin/lt-ident (static, it goes into
# every guest's /usr/bin with the rest of build/bin) and the checker.
# Exit status: 0 when nothing failed.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
scenario=${1:-$root/selftests/scenarios/introspection}
src=$here/guest/lt-ident.c
bin=$root/build/bin/lt-ident
checker=$root/build/cargo-host/debug/ident-check

bail() {
	echo "1..1"
	echo "not ok 1 - introspection suite: $*"
	exit 1
}

echo "TAP version 13"

# The guest program, by the Makefile's rule (so the suite runs on its own).
make -s -C "$root" guest 2>&1 | sed 's/^/# /'
[ "${PIPESTATUS[0]}" = 0 ] && [ -x "$bin" ] || bail "cannot build $bin from $src"
cargo build --quiet --locked --target-dir "$root/build/cargo-host" \
	--manifest-path "$root/Cargo.toml" -p lt-syscheck --bin ident-check 2>&1 | sed 's/^/# /'
[ "${PIPESTATUS[0]}" = 0 ] || bail "cannot build ident-check"

# lt-ident's 300 traced children make vm2 (Debian's kernel) run about
# 240 s on this emulated CPU: the runner's default 300 s per guest left
# too little margin (a CI run timed out vm2), so this suite allows 900 s
# unless the caller chose a limit.
export LEAKTRACE_VM_TIMEOUT=${LEAKTRACE_VM_TIMEOUT:-900}

# The runner's own output becomes diagnostics: only the checker speaks TAP.
"$root/scripts/testbed" scenario "$scenario" 2>&1 | sed -u 's/^/# /'
rc=${PIPESTATUS[0]}
echo "# scripts/testbed scenario exited $rc"
[ "$rc" != 2 ] || bail "scripts/testbed refused the scenario $scenario (exit 2)"

args=()
[ "${LT_INTROSPECTION_ALLOW_NO_PROFILE:-0}" != 1 ] || args+=(--allow-no-profile)
# The checker's TAP, without its version line (printed above).
"$checker" "${args[@]}" "$scenario/out" | sed -u '1{/^TAP version/d}'
exit "${PIPESTATUS[0]}"
