# SPDX-License-Identifier: GPL-2.0
#
# leaktrace smoke suite (kselftest TAP), run inside the testbed's L1 by
# `scripts/testbed job` (see Documentation/testbed.rst): sourced after the
# L1 helper library, with kvm and kvm-amd already loaded.
#
# Each test names what it proves; each fails when its subject is broken:
# a module that fails to load, a device with the wrong semantics (the
# lt-devtest cases), a reader that cannot decode, guests that do not boot,
# an unload that hangs or leaves the node behind, a splat in dmesg.

LT_SMOKE_SCENARIO=$LT_ROOT/selftests/scenarios/two-guests

lt_module_loaded() { grep -q '^leaktrace ' /proc/modules; }

t_kvm_ready() {
	grep -q '^kvm_amd ' /proc/modules && [ -c /dev/kvm ]
}

# Bad parameters: the load fails with a message that names the parameter,
# and leaves nothing behind.
t_bad_params_refused() {
	local p
	for p in ring_kib=1 ring_kib=1048576 heartbeat_ms=0 pending_max=0 pending_timeout_ms=3600001; do
		if insmod "$LT_ROOT/build/leaktrace.ko" "$p" 2>/dev/null; then
			echo "insmod with $p succeeded"
			rmmod leaktrace
			return 1
		fi
		dmesg | grep -q "leaktrace: ${p%%=*}=${p#*=} out of range" ||
			{ echo "no kernel log message naming $p"; return 1; }
		! lt_module_loaded || { echo "module stayed loaded after $p"; return 1; }
		[ ! -e /dev/leaktrace ] || { echo "/dev/leaktrace left behind after $p"; return 1; }
	done
}

t_load() {
	lt_load_module || return 1
	[ -c /dev/leaktrace ] || { echo "no /dev/leaktrace after insmod"; return 1; }
}

t_status() {
	local s want
	s=$("$LT_BIN/leaktrace" status --json) || return 1
	echo "$s"
	# The module's ABI version is the one the shared definition says.
	want=$(sed -n 's/^pub const ABI_VERSION: u16 = \([0-9]*\);/\1/p' "$LT_ROOT/rust/abi/abi.rs")
	[ -n "$want" ] || { echo "no ABI_VERSION in rust/abi/abi.rs"; return 1; }
	case "$s" in *"\"abi_version\":$want,"*) ;; *) echo "ABI version is not $want"; return 1 ;; esac
}

# The reader blocks in poll() until heartbeats arrive: proves poll wakes
# through the reader, and that the text and JSON paths decode real records.
t_watch() {
	local out lines
	out=$("$LT_BIN/leaktrace" watch --json --count 2 --timeout 10) || return 1
	echo "$out"
	lines=$(printf '%s\n' "$out" | grep -c '"type":"heartbeat"')
	[ "$lines" -eq 2 ] || { echo "expected 2 heartbeats, got $lines"; return 1; }
	out=$("$LT_BIN/leaktrace" watch --count 1 --timeout 10) || return 1
	echo "$out"
	case "$out" in *heartbeat*) ;; *) echo "text output names no heartbeat"; return 1 ;; esac
}

t_two_guests() {
	local n st
	for n in 1 2; do
		lt_start_vm "$n" "$(printf '4c540000-0000-4000-8000-0000000000%02d' "$n")" \
			"$LT_SMOKE_SCENARIO" || return 1
	done
	lt_wait_vms 300 || return 1
	for n in 1 2; do
		st=$(lt_vm_exit_status "$n") || return 1
		[ "$st" = 0 ] || { echo "vm$n script exited $st"; return 1; }
		grep -qx "hello from vm$n" "$(lt_vm_log "$n")" ||
			{ echo "vm$n did not print its greeting"; return 1; }
	done
}

# A guest whose script blocks past its timeout: 30 s before the kill it
# reports what its processes do (scripts/testbed-l2-init), 15 s before,
# the host records its vCPU (vmN-hang.txt); the kill is reported.
t_hang_report() {
	local dir=$LT_TMP/hang-scenario con=$LT_OUT/vm3-console.log ok=0 saved=$LT_VM_TIMEOUT
	mkdir -p "$dir"
	echo 'sleep 600' >"$dir/vm3.sh"
	LT_VM_TIMEOUT=70
	lt_start_vm 3 4c540000-0000-4000-8000-000000000003 "$dir" || { LT_VM_TIMEOUT=$saved; return 1; }
	LT_VM_TIMEOUT=$saved
	if lt_wait_vms 120 >"$LT_TMP/hang-wait.log" 2>&1; then
		echo "the blocked guest was not reported as timed out"
		ok=1
	fi
	grep 'timed out' "$LT_TMP/hang-wait.log"
	# The timeout is this test's purpose, not a failure of the job.
	sed -i "/^vm3$(printf '\t')/d" "$LT_OUT/failures" 2>/dev/null
	grep '^leaktrace:' "$con"
	grep -q 'still running after 40 s; its processes' "$con" ||
		{ echo "no process report on vm3's console"; ok=1; }
	grep -q '^leaktrace:   [0-9]* sleep S [a-z_]* \[[0-9]' "$con" ||
		{ echo "the report has no sleeping 'sleep' with its system call"; ok=1; }
	grep -q 'RIP=' "$LT_OUT/vm3-hang.txt" 2>/dev/null ||
		{ echo "no vCPU state in vm3-hang.txt"; ok=1; }
	lt_vm_hang_summary 3
	if [ $ok != 0 ]; then
		# Enough to tell a slow guest from a broken report.
		echo "--- wait log"; cat "$LT_TMP/hang-wait.log"
		echo "--- vm3 console (last 30 lines)"; tail -n 30 "$con"
		echo "--- vm3-hang.txt (first 40 lines)"; head -n 40 "$LT_OUT/vm3-hang.txt" 2>/dev/null
	fi
	return $ok
}

# An open file pins the module: rmmod must refuse, not pull the ring from
# under a reader.
t_unload_refused_while_open() {
	local st=0
	exec 3</dev/leaktrace
	rmmod leaktrace 2>&1 && st=1
	exec 3<&-
	[ $st = 0 ] || { echo "rmmod succeeded with /dev/leaktrace open"; return 1; }
	lt_module_loaded || { echo "module gone"; return 1; }
}

t_unload() {
	lt_unload_module || return 1
	[ ! -e /dev/leaktrace ] || { echo "/dev/leaktrace still there after rmmod"; return 1; }
	! lt_module_loaded || { echo "still in /proc/modules"; return 1; }
}

# Load/unload cycles with a small ring and a 10 ms heartbeat nobody reads:
# the ring overflows (drop path) and the timer is live at every unload.
t_reload_cycles() {
	local i dropped
	for i in 1 2 3; do
		lt_load_module ring_kib=16 heartbeat_ms=10 || return 1
		sleep 5
		dropped=$("$LT_BIN/leaktrace" status --json | sed -n 's/.*"dropped":\([0-9]*\).*/\1/p')
		[ "${dropped:-0}" -gt 0 ] || { echo "cycle $i: ring never overflowed (dropped=$dropped)"; return 1; }
		lt_unload_module || return 1
	done
}

t_dmesg_clean() {
	lt_check_dmesg
}

# The device's semantics, from userspace: read/poll/ioctl, short buffers,
# O_NONBLOCK, overflow accounting, concurrent readers. Its KTAP goes out
# indented, as a subtest.
t_devtest() {
	local st=0
	"$LT_BIN/lt-devtest" --fresh >"$LT_OUT/devtest.tap" 2>&1 || st=$?
	sed 's/^/    /' "$LT_OUT/devtest.tap"
	return $st
}

echo "TAP version 13"
echo "1..11"
lt_test "kvm and kvm-amd loaded, /dev/kvm present" t_kvm_ready
lt_test "out-of-range module parameters are refused cleanly" t_bad_params_refused
lt_test "leaktrace.ko loads and creates /dev/leaktrace" t_load
st=0
t_devtest || st=$?
if [ $st = 0 ]; then lt_ok "lt-devtest: device semantics"; else lt_not_ok "lt-devtest: device semantics" "exit $st"; fi
lt_test "leaktrace status decodes GET_INFO" t_status
lt_test "leaktrace watch wakes on heartbeats (poll) and decodes them" t_watch
lt_test "two L2 guests boot and run their scripts" t_two_guests
lt_test "a guest blocked past its timeout reports its processes and is killed" t_hang_report
lt_test "rmmod is refused while /dev/leaktrace is open" t_unload_refused_while_open
lt_test "rmmod unloads cleanly and removes /dev/leaktrace" t_unload
lt_test "load/overflow/unload cycles with a live 10 ms timer" t_reload_cycles
lt_test "L1 kernel log has no WARN/BUG/Oops/lockdep splat" t_dmesg_clean
lt_tap_summary smoke
