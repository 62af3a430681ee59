# SPDX-License-Identifier: GPL-2.0
#
# Tests of the KVM SYSCALL/SYSRET trap series (patches/), run inside the
# testbed's L1 by `scripts/testbed job` (sourced after the L1 helper
# library, with kvm and kvm-amd loaded). Prints kselftest TAP.
#
#  1. the patched KVM is loaded: every VM has a debugfs "syscall_trap" knob;
#  2. an L2 guest armed through that knob (no client loaded: KVM emulates
#     every trapped SYSCALL/SYSRET) boots and runs a script of a few
#     thousand system calls to completion, the knob reads "1 ok", and the
#     #UD intercepts show that its system calls really trapped;
#  3. the KVM selftest x86/syscall_trap_test (patches/0008, built by
#     scripts/build-kvm-selftest; its kselftest TAP is shown as "#" lines):
#     SYSCALL/SYSRETQ architectural state disarmed vs armed and the number
#     of emulated instructions, #GP/#UD cases and the guest's view of
#     EFER.SCE, #GP on SYSRETQ with a non-canonical RCX, RF/VM in R11;
#  4. no splat in dmesg.

LT_KT_BIN=${LEAKTRACE_KVM_SELFTEST:-$LT_CACHE/kvm-selftest/syscall_trap_test}
LT_KT_DBG=/sys/kernel/debug
LT_KT_TRACE=/sys/kernel/tracing

lt_kt_mounts() {
	[ -d "$LT_KT_DBG/kvm" ] || mount -t debugfs debugfs "$LT_KT_DBG" 2>/dev/null || :
	[ -e "$LT_KT_TRACE/events" ] || mount -t tracefs tracefs "$LT_KT_TRACE" 2>/dev/null || :
}

# lt_kt_wait_knob SECONDS: print the knob of the one running VM once it
# exists.
lt_kt_wait_knob() {
	local i=0 f
	while [ $i -lt $(($1 * 10)) ]; do
		for f in "$LT_KT_DBG"/kvm/*-*/syscall_trap; do
			[ -e "$f" ] && { echo "$f"; return 0; }
		done
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

t_armed_guest() {
	local dir=$LT_TMP/kvm-selftest-guest knob st uds state
	mkdir -p "$dir"
	cat >"$dir/vm1.sh" <<'EOF'
#!/bin/sh
# Thousands of SYSCALL/SYSRET pairs, forks, execs, signals and pipes.
i=0
while [ $i -lt 300 ]; do
	cat /proc/self/stat >/dev/null
	echo "$i" | tr 0-9 a-j >/dev/null
	i=$((i + 1))
done
( sleep 1 ) & kill -TERM $! 2>/dev/null; wait
echo "armed guest done"
EOF
	# Count the guest's #UD intercepts (SVM exit code 0x46) from here on.
	if [ -d "$LT_KT_TRACE/events/kvm/kvm_exit" ]; then
		echo 0 >"$LT_KT_TRACE/tracing_on"
		echo >"$LT_KT_TRACE/trace"
		echo 'exit_reason == 70' >"$LT_KT_TRACE/events/kvm/kvm_exit/filter"
		echo 1 >"$LT_KT_TRACE/events/kvm/kvm_exit/enable"
		echo 1 >"$LT_KT_TRACE/tracing_on"
	fi

	lt_start_vm 1 4c540000-0000-4000-8000-0000000000a1 "$dir" || return 1
	if ! knob=$(lt_kt_wait_knob 60); then
		echo "no $LT_KT_DBG/kvm/*/syscall_trap appeared: unpatched KVM?"
		lt_kill_vms
		return 1
	fi
	echo "arming through $knob"
	echo 1 >"$knob" || { echo "arming failed"; lt_kill_vms; return 1; }
	state=$(cat "$knob" 2>/dev/null) || :
	echo "knob reads '$state'"
	lt_wait_vms 300 || return 1
	st=$(lt_vm_exit_status 1) || return 1
	[ "$st" = 0 ] || { echo "guest script exited $st"; return 1; }
	grep -qx "armed guest done" "$(lt_vm_log 1)" ||
		{ echo "guest did not finish its script"; return 1; }
	[ "$state" = "1 ok" ] || { echo "knob read '$state', not '1 ok'"; return 1; }
	if [ -d "$LT_KT_TRACE/events/kvm/kvm_exit" ]; then
		echo 0 >"$LT_KT_TRACE/events/kvm/kvm_exit/enable"
		uds=$(grep -c 'kvm_exit' "$LT_KT_TRACE/trace" || :)
		echo "#UD intercepts while armed: $uds"
		grep 'kvm_exit' "$LT_KT_TRACE/trace" | head -n 3
		echo 0 >"$LT_KT_TRACE/events/kvm/kvm_exit/filter"
		[ "${uds:-0}" -ge 1000 ] ||
			{ echo "expected thousands of #UD intercepts, got $uds"; return 1; }
	fi
}

t_kvm_selftest() {
	"$LT_KT_BIN"
}

lt_kt_mounts
echo "TAP version 13"
echo "1..4"
lt_test "KVM modules loaded" sh -c 'grep -q "^kvm_amd " /proc/modules && [ -c /dev/kvm ]'
lt_test "L2 guest armed through debugfs runs its script (SYSCALL/SYSRET trapped)" t_armed_guest
if [ -x "$LT_KT_BIN" ]; then
	lt_test "KVM selftest x86/syscall_trap_test" t_kvm_selftest
else
	lt_skip "KVM selftest x86/syscall_trap_test" "$LT_KT_BIN not built: run scripts/build-kvm-selftest"
fi
lt_test "no splat in dmesg" lt_check_dmesg
lt_tap_summary "kvm trap series"
