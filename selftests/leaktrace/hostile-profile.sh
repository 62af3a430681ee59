# SPDX-License-Identifier: GPL-2.0
#
# Hostile and wrong profiles (kselftest TAP), run inside the testbed's L1 by
# `scripts/testbed job`, sourced after the L1 helper library.
#
# A busy guest on the testbed kernel is traced while the host loads, in
# turn: the profile of another kernel (Debian's), which must be refused by
# the check against the running kernel ("profile-mismatch", no file
# records); a profile with the right identity but every structure offset
# wrong, so that the module follows garbage pointers and lengths through
# the guest's memory ("unresolved", bounded, never a splat); malformed
# profiles, which fail with a message and change nothing; and finally the
# right profile, which must resolve again. The guest checks every result
# it computes and must finish; the kernel log must stay clean.

# The busy guest of selftests/scenarios/busy, for long enough to outlast
# the tests (it checks its rounds for LT_BUSY_SECONDS of uptime).
LT_BUSY=$LT_JOBDIR/busy-long
mkdir -p "$LT_BUSY"
{
	echo "LT_BUSY_SECONDS=240"
	cat "$LT_ROOT/selftests/scenarios/busy/vm1.sh"
} >"$LT_BUSY/vm1.sh"
LT_U1=4c540000-0000-4000-8000-00000000c001
PROFILES=$LT_JOBDIR/profiles
FORGED=$LT_JOBDIR/forged.json

lt_lt() { "$LT_BIN/leaktrace" "$@"; }

is_traced() { [ "$(lt_vm_field "$1" traced)" = true ]; }
profile_is() { [ "$(lt_vm_field "$LT_U1" profile)" = "$1" ]; }

# records N: the next N syscall records of the guest and their file
# records, as JSON lines.
records() {
	lt_lt watch --syscalls --json --count "$1" --timeout 60
}

# mark: where the stream of the job's reader is now (a line number).
EVENTS=$LT_JOBDIR/events.jsonl
mark() {
	local n
	n=$(wc -l <"$EVENTS" 2>/dev/null) || n=0
	echo "${n:-0}"
}

# now_ns: CLOCK_MONOTONIC in ns, as the module stamps records (L1 never
# suspends, so uptime is the monotonic clock), to 10 ms.
now_ns() { awk '{ printf "%.0f\n", $1 * 1e9 }' /proc/uptime; }

# since_check MARK: the guest's records of calls that entered the kernel
# from now on (the caller saw its profile checked already), as a JSON
# array: after 5 s, or longer (up to 60 s) until at least 50 such calls
# are in, since a loaded host makes the reader lag. They come from the
# reader that runs for the whole job, from line MARK: a reader started now
# would first get what the ring kept while nobody read, and a full ring
# drops the newest records.
since_check() {
	local t waited=0 out
	t=$(now_ns)
	while :; do
		sleep 5
		waited=$((waited + 5))
		out=$(tail -n +"$(($1 + 1))" "$EVENTS" | head -n 6000 | lt_jq -s --argjson t "$t" '
			[.[] | select((.type == "syscall" and .entry_ns > $t) or (.type == "file" and .time_ns > $t))]') ||
			return 1
		if [ "$waited" -ge 60 ] ||
			echo "$out" | lt_jq -e '[.[] | select(.type == "syscall")] | length >= 50' >/dev/null; then
			break
		fi
	done
	echo "$out"
}

t_start() {
	[ -f "$PROFILES/testbed.json" ] || { echo "no testbed profile in $PROFILES"; return 1; }
	lt_load_module || return 1
	lt_lt trace --all || return 1
	lt_start_vm 1 "$LT_U1" "$LT_BUSY" || return 1
	lt_wait_for 150 is_traced "$LT_U1" || { lt_lt vms; echo "vm1 never traced"; return 1; }
	profile_is none || { echo "a profile before any was loaded"; return 1; }
	records 20 | lt_jq -e -s '[.[] | select(.type == "syscall")] | length > 0 and all(.task.status == "no-profile")' ||
		{ echo "records without a profile do not say no-profile"; return 1; }
}

t_wrong_kernel() {
	local out m
	if [ ! -f "$PROFILES/debian.json" ]; then
		echo "skip: no Debian guest kernel profile (make guest-kernels)"
		return 0
	fi
	m=$(mark)
	lt_lt profile load --vm "$LT_U1" "$PROFILES/debian.json" || return 1
	lt_wait_for 30 profile_is mismatch || { lt_lt vms; echo "Debian's profile was not refused"; return 1; }
	out=$(since_check "$m") || return 1
	echo "$out" | lt_jq -c '[.[] | select(.type == "syscall") | .task.status] | group_by(.) | map({(.[0]): length}) | add'
	echo "$out" | lt_jq -e '[.[] | select(.type == "syscall")] | length >= 50 and all(.task.status == "profile-mismatch")' ||
		{ echo "records do not all say profile-mismatch"; return 1; }
	echo "$out" | lt_jq -e '[.[] | select(.type == "file")] | length == 0' ||
		{ echo "file records without a matching profile"; return 1; }
	[ "$(lt_vm_field "$LT_U1" kernel_slide)" = 0 ] || { echo "a slide for a mismatched profile"; return 1; }
}

# Every offset moved by 8 bytes (comm's size kept, so the profile is well
# formed): the identity checks pass, every structure read is wrong.
t_forged_offsets() {
	local out before after m
	lt_jq '.offsets |= with_entries(if .key == "task_comm_size" then . else .value += 8 end)' \
		"$PROFILES/testbed.json" >"$FORGED" || return 1
	before=$(lt_vm_field "$LT_U1" unresolved)
	m=$(mark)
	lt_lt profile load --vm "$LT_U1" "$FORGED" || return 1
	lt_wait_for 30 profile_is active || { lt_lt vms; echo "forged profile not active"; return 1; }
	out=$(since_check "$m") || return 1
	after=$(lt_vm_field "$LT_U1" unresolved)
	echo "unresolved: $before before, $after after"
	echo "$out" | lt_jq -c '[.[] | select(.type == "syscall") | .task.status] | group_by(.) | map({(.[0]): length}) | add'
	echo "$out" | lt_jq -c '[.[] | select(.type == "file") | .status] | group_by(.) | map({(.[0]): length}) | add'
	echo "$out" | lt_jq -e '[.[] | select(.type == "syscall")] | length > 0 and all(.task.status != "no-profile")' ||
		{ echo "records after the forged profile say no-profile"; return 1; }
	[ "$after" -gt "$before" ] || { echo "garbage offsets resolved everything"; return 1; }
	is_traced "$LT_U1" || { echo "vm1 no longer traced"; return 1; }
}

t_malformed() {
	local before after f out
	before=$(lt_vm_field "$LT_U1" profile)
	printf '{"format": "leaktrace-profile", "version": 2,' >"$LT_JOBDIR/cut.json"
	lt_jq '.addresses.current_task = "0x1000"' "$PROFILES/testbed.json" >"$LT_JOBDIR/user-address.json"
	lt_jq '.offsets.task_pid = 70000' "$PROFILES/testbed.json" >"$LT_JOBDIR/far-offset.json"
	lt_jq '.version = 99' "$PROFILES/testbed.json" >"$LT_JOBDIR/version.json"
	for f in cut user-address far-offset version; do
		if out=$(lt_lt profile load --vm "$LT_U1" "$LT_JOBDIR/$f.json" 2>&1); then
			echo "profile load of $f.json succeeded"
			return 1
		fi
		echo "$f.json: $out"
		[ -n "$out" ] || { echo "$f.json refused without a message"; return 1; }
	done
	if out=$(lt_lt profile unload --all 2>&1); then
		echo "unloading a default profile that is not there succeeded"
		return 1
	fi
	echo "unload --all: $out"
	after=$(lt_vm_field "$LT_U1" profile)
	[ "$before" = "$after" ] || { echo "profile state changed: $before -> $after"; return 1; }
}

t_right_profile() {
	local out m
	m=$(mark)
	lt_lt profile load --vm "$LT_U1" "$PROFILES/testbed.json" || return 1
	lt_wait_for 30 profile_is active || { lt_lt vms; echo "the right profile is not active"; return 1; }
	out=$(since_check "$m") || return 1
	echo "$out" | lt_jq -c '[.[] | select(.type == "syscall") | .task.status] | group_by(.) | map({(.[0]): length}) | add'
	echo "$out" | lt_jq -c '[.[] | select(.type == "file") | .status] | group_by(.) | map({(.[0]): length}) | add'
	echo "$out" | lt_jq -e '[.[] | select(.type == "syscall")] | length > 0 and all(.task.status == "resolved" and (.task.comm | length) > 0 and .task.pid > 0)' ||
		{ echo "records not resolved with the right profile"; return 1; }
	echo "$out" | lt_jq -e '[.[] | select(.type == "file")] | length > 0 and all(.status == "resolved" or .status == "none")' ||
		{ echo "file records not resolved with the right profile"; return 1; }
	lt_lt vms
	lt_lt profile unload --vm "$LT_U1" || return 1
	if lt_lt profile unload --vm "$LT_U1" 2>/dev/null; then
		echo "a second unload succeeded: the profile was not removed"
		return 1
	fi
	# The guest may have finished by now; if not, it has no profile.
	[ "$(lt_vm_field "$LT_U1" profile)" != active ] || { echo "profile still active after unload"; return 1; }
}

t_guest_finishes() {
	local st
	lt_wait_vms 300 || return 1
	st=$(lt_vm_exit_status 1) || return 1
	tail -n 2 "$(lt_vm_log 1)"
	[ "$st" = 0 ] || { echo "vm1 exited $st"; return 1; }
	grep -q '^busy: done after' "$(lt_vm_log 1)" || { echo "vm1 did not finish its rounds"; return 1; }
}

echo "TAP version 13"
echo "1..8"
lt_test "a busy guest is traced; without a profile its records say no-profile" t_start
# The job's reader, from here to the end (not in a test: lt_test runs each
# in a subshell, which would lose its pid).
lt_reader_start "$EVENTS" --syscalls --vm "$LT_U1" || lt_fail l1 "cannot start the reader"
lt_test "another kernel's profile: profile-mismatch, no file records" t_wrong_kernel
lt_test "wrong offsets: garbage reads end unresolved, tracing goes on" t_forged_offsets
lt_test "malformed profiles fail with a message and change nothing" t_malformed
lt_test "the right profile resolves again; unload removes it" t_right_profile
lt_test "the guest finishes its checked rounds" t_guest_finishes
lt_reader_stop
lt_jq -s '[.[] | select(.type == "lost")] | length' "$EVENTS" | sed 's/^/# lost-record gaps in the stream: /'
lt_test "rmmod" lt_unload_module
lt_test "L1 kernel log has no WARN/BUG/Oops/lockdep splat" lt_check_dmesg
lt_tap_summary hostile-profiles
