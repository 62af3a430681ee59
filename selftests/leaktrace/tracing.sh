# SPDX-License-Identifier: GPL-2.0
#
# Tracing under load (kselftest TAP), run inside the testbed's L1 by
# `scripts/testbed job`, sourced after the L1 helper library.
#
# Two busy guests (selftests/scenarios/busy) run while the host identifies
# them, rejects bad requests, arms one, disarms it, arms it again and
# unloads the module under traffic, twice. The guests check every result
# they compute and must finish normally; the kernel log must stay clean.

LT_BUSY=$LT_ROOT/selftests/scenarios/busy
LT_U1=4c540000-0000-4000-8000-00000000b001
LT_U2=4c540000-0000-4000-8000-00000000b002

lt_lt() { "$LT_BIN/leaktrace" "$@"; }

is_traced() { [ "$(lt_vm_field "$1" traced)" = true ]; }
is_untraced() { [ "$(lt_vm_field "$1" traced)" = false ]; }
is_identified() { [ "$(lt_vm_field "$1" vm_id)" != null ]; }

t_start() {
	lt_load_module || return 1
	lt_start_vm 1 "$LT_U1" "$LT_BUSY" || return 1
	lt_start_vm 2 "$LT_U2" "$LT_BUSY" || return 1
	# Identified at their first system call, whatever the selection.
	lt_wait_for 150 is_identified "$LT_U1" || { lt_lt vms; echo "vm1 never identified"; return 1; }
	lt_wait_for 60 is_identified "$LT_U2" || { lt_lt vms; echo "vm2 never identified"; return 1; }
	lt_lt vms
	is_untraced "$LT_U1" && is_untraced "$LT_U2" || { echo "a VM is traced with nothing selected"; return 1; }
	[ "$(lt_vm_field "$LT_U1" syscalls)" = 0 ] || { echo "records from an unselected VM"; return 1; }
}

# Malformed and impossible requests fail clearly and change nothing.
t_bad_requests() {
	local before after out
	before=$(lt_lt vms --json | lt_jq -c '.selection')
	for args in "trace not-a-uuid" "trace 4c540000-0000-4000-8000-00000000b00" \
		"trace 00000000-0000-0000-0000-000000000000" "untrace $LT_U1" "trace"; do
		if out=$(lt_lt $args 2>&1); then
			echo "'leaktrace $args' succeeded: $out"
			return 1
		fi
		echo "leaktrace $args: $out"
		[ -n "$out" ] || { echo "'leaktrace $args' failed without a message"; return 1; }
	done
	after=$(lt_lt vms --json | lt_jq -c '.selection')
	[ "$before" = "$after" ] || { echo "selection changed: $before -> $after"; return 1; }
	is_untraced "$LT_U1" || { echo "vm1 became traced"; return 1; }
}

# Arming a running VM: its records flow, and only its.
t_arm() {
	local out n other
	lt_lt trace "$LT_U1" || return 1
	lt_wait_for 10 is_traced "$LT_U1" || { lt_lt vms; echo "vm1 not traced after trace"; return 1; }
	is_untraced "$LT_U2" || { echo "vm2 traced too"; return 1; }
	out=$(lt_lt watch --syscalls --json --count 200 --timeout 60) || { echo "watch failed"; return 1; }
	n=$(printf '%s\n' "$out" | lt_jq -s '[.[] | select(.type == "syscall")] | length')
	other=$(printf '%s\n' "$out" | lt_jq -s --arg u "$LT_U1" '[.[] | select(.type == "syscall" and .uuid != $u)] | length')
	echo "$n syscall records, $other from other VMs"
	[ "$n" -ge 100 ] || { echo "too few syscall records"; return 1; }
	[ "$other" = 0 ] || return 1
}

# Disarming stops the records; arming again restarts them.
t_disarm_rearm() {
	local a b
	lt_lt untrace "$LT_U1" || return 1
	lt_wait_for 10 is_untraced "$LT_U1" || { echo "vm1 still traced"; return 1; }
	a=$(lt_vm_field "$LT_U1" syscalls)
	sleep 3
	b=$(lt_vm_field "$LT_U1" syscalls)
	[ "$a" = "$b" ] || { echo "records kept coming after untrace: $a -> $b"; return 1; }
	lt_lt trace "$LT_U1" || return 1
	sleep 3
	b=$(lt_vm_field "$LT_U1" syscalls)
	echo "syscalls: $a before re-arming, $b after"
	[ "$b" -gt "$a" ] || { echo "no records after re-arming"; return 1; }
}

# rmmod with a traced VM making calls: KVM disarms first, the guests go on;
# a new load finds the running VMs again.
t_unload_under_traffic() {
	lt_unload_module || return 1
	lt_load_module || return 1
	lt_lt trace --all || return 1
	lt_wait_for 60 is_traced "$LT_U2" || { lt_lt vms; echo "vm2 not traced after reload + trace --all"; return 1; }
	lt_wait_for 60 is_traced "$LT_U1" || { lt_lt vms; echo "vm1 not traced after reload + trace --all"; return 1; }
	lt_lt vms
	lt_unload_module || return 1
}

t_guests_finish() {
	local n st
	lt_wait_vms 300 || return 1
	for n in 1 2; do
		st=$(lt_vm_exit_status "$n") || return 1
		tail -n 2 "$(lt_vm_log "$n")"
		[ "$st" = 0 ] || { echo "vm$n exited $st"; return 1; }
		grep -q '^busy: done after' "$(lt_vm_log "$n")" || { echo "vm$n did not finish its rounds"; return 1; }
	done
}

echo "TAP version 13"
echo "1..7"
lt_test "two busy guests are identified by their SMBIOS UUIDs, untraced" t_start
lt_test "bad trace/untrace requests fail clearly and change nothing" t_bad_requests
lt_test "trace UUID arms a running VM: its records, only its" t_arm
lt_test "untrace stops the records, trace restarts them" t_disarm_rearm
lt_test "rmmod under traffic, reload, trace --all, rmmod again" t_unload_under_traffic
lt_test "both guests finish their checked rounds" t_guests_finish
lt_test "L1 kernel log has no WARN/BUG/Oops/lockdep splat" lt_check_dmesg
lt_tap_summary tracing
