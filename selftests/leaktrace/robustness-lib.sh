# SPDX-License-Identifier: GPL-2.0
#
# Robustness of leaktrace against hostile guests, lifecycle faults, floods
# and hostile users of /dev/leaktrace (kselftest TAP). Sourced, in L1, by
# the job scripts selftests/leaktrace/robustness.sh (the CI-sized subset
# that `make check` runs) and selftests/leaktrace/stress.sh (the full
# runs, `make stress`), after the L1 helper library; they set the sizes
# (RB_* below) first. See Documentation/security.md, "How each property
# is tested".
#
#   1. /dev/leaktrace against a hostile user: lt-ioctlfuzz (node 0600
#      root; non-root opens refused; random and near-valid ioctls fail and
#      change nothing; reads with bad buffers consume nothing).
#   2. A hostile guest: lt-fuzz (selftests/leaktrace/guest/lt-fuzz.c) in
#      vm1, traced with its profile and a secret covering its sandbox,
#      and the same seed in vm2, untraced: both finish with identical
#      digests; the reader decodes everything; the module's tables and
#      pending calls stay within their capacities and its memory is
#      measured (out/memory.txt).
#   3. A ring flood: ring_kib=16, nobody reading while a guest floods;
#      produced = delivered + dropped + queued exactly, the reader's lost
#      records add up to dropped, and the propagation tables are still
#      right: diffusion that depends on state whose records were dropped
#      is reported.
#   3a. Full tables: a guest makes more files confidential than the
#      objects table holds; the oldest entries are forgotten in order,
#      each reported, the counts exact, the newest still followed.
#   2a. Forged guest structures: a profile whose task_files is task_comm
#      lets lt-forge (selftests/leaktrace/guest/lt-forge.c) point the
#      module at structures it builds in its own memory: every record is
#      what the bounds make of them (resolved, truncated, detached,
#      unresolved), every call quick.
#   4. Lifecycle: RB_CYCLES load/unload cycles of leaktrace.ko under
#      syscall storms in three traced VMs (which must keep running and
#      agree on every result), with short-lived VMs created and destroyed
#      while traced, a VM killed (SIGKILL to its QEMU) while it traps, a
#      reader killed mid-read and reconnecting, and several readers at
#      once (each record to exactly one of them).
#   4a. Races forced: with test_trap_hold_us every traced call sleeps in
#      the module, so VMs are killed and the module unloaded while calls
#      are surely in flight (the module counts them and checks that KVM
#      neither destroys a VM with calls inside nor returns from
#      unregistration before they left).
#   5. L1's kernel log: no splat; with a KMEMLEAK kernel (the debug
#      variant), no leak after the last unload.

: "${RB_FUZZ_CALLS:=6000}"
: "${RB_FUZZ_SEED:=20261126}"
: "${RB_FUZZ_CHUNK:=2000}"
: "${RB_IOCTLS:=20000}"
: "${RB_CYCLES:=10}"
# Calls per storm run: a run must end (a STORM line) several times during
# the cycles, and the debug kernel (KASAN) is several times slower.
# rb_kasan_kernel: whether L1 runs a KASAN kernel (the debug variant).
rb_kasan_kernel() {
	grep -q '^CONFIG_KASAN=y' "${LT_KDIR:-}/.config" 2>/dev/null
}

if rb_kasan_kernel; then
	: "${RB_STORM_CALLS:=100}"
else
	: "${RB_STORM_CALLS:=500}"
fi
# The storm guests' own timeout: they must outlive the lifecycle cycles
# and the forced races that follow (t_storms_check stops them), which on
# a KASAN kernel take longer than a guest's usual LT_VM_TIMEOUT.
: "${RB_STORM_TIMEOUT:=$((${LT_VM_TIMEOUT:-300} * 4))}"
# How long each traced call sleeps in the module while races are forced.
: "${RB_HOLD_US:=50000}"
# The ring while the hostile guest runs: large, so that the reader keeps
# nearly everything (losses are counted either way).
: "${RB_FUZZ_RING_KIB:=16384}"
: "${RB_FLOOD_SECONDS:=15}"
# Files the full-table guest makes confidential: more than the objects
# table's 4096 entries (rust/kmod/propagation.rs, OBJECTS_MAX).
: "${RB_FULL_FILES:=4400}"
# Guests that run whole fuzz runs get three times the testbed's per-guest
# limit, at least 900 s (on the debug kernel, LEAKTRACE_VM_TIMEOUT=900,
# the traced 3000-call fuzz run takes over 900 s).
: "${RB_VM_TIMEOUT:=$((${LT_VM_TIMEOUT:-300} * 3 > 900 ? ${LT_VM_TIMEOUT:-300} * 3 : 900))}"
: "${RB_SAMPLE_SECONDS:=5}"
# Growth of SUnreclaim + VmallocUsed (kB) allowed between before the first
# load and after the last unload, all guests gone.
: "${RB_MEM_SLACK_KB:=4096}"
# Peak of SUnreclaim + VmallocUsed (kB) during the hostile run above its
# level right after the module was loaded: the module's tables at capacity
# for the fuzz guests (320 KiB each, plus the copy an update builds), its
# pending calls, and KVM's and QEMU's kernel memory for two guests, with
# room to spare. A leak per call passes it within a few thousand calls
# (the CI size measured about 2 MiB) and fails it at make stress's size.
: "${RB_MEM_PEAK_KB:=16384}"

RB_FUZZ=$LT_JOBDIR/rb-fuzz
RB_STORM=$LT_JOBDIR/rb-storm
RB_FLOOD=$LT_JOBDIR/rb-flood
RB_CHURN=$LT_JOBDIR/rb-churn
RB_FULL=$LT_JOBDIR/rb-full
RB_EVENTS=$LT_TMP/rb-events.jsonl
RB_MEM=$LT_OUT/memory.txt
RB_PROFILE=$LT_JOBDIR/profiles/testbed.json
rb_uuid() { printf '4c540000-0000-4000-8000-00000000f0%02d' "$1"; }

lt_lt() { "$LT_BIN/leaktrace" "$@"; }

# Guests get no LAN: the fuzzer's packets must go nowhere, the same way in
# every guest (Documentation/security.md).
LT_L2_NET=0

rb_scenarios() {
	local n
	mkdir -p "$RB_FUZZ" "$RB_STORM" "$RB_FLOOD/files" "$RB_CHURN" "$RB_FULL"
	for n in 1 2; do
		cat >"$RB_FUZZ/vm$n.sh" <<-EOF
		# The hostile guest: the same seed in both guests.
		lt-fuzz -s $RB_FUZZ_SEED -n $RB_FUZZ_CALLS -c $RB_FUZZ_CHUNK
		EOF
	done
	# Storm guests: lt-fuzz runs of a few thousand calls, seed after seed,
	# until the host stops them; a run that fails ends the script (and
	# the guest) at once, which the host sees.
	for n in 1 2 3 4 7; do
		cat >"$RB_STORM/vm$n.sh" <<-EOF
		seed=1
		while :; do
			lt-fuzz -s \$seed -n $RB_STORM_CALLS -c 1000000 >/tmp/run.txt || { cat /tmp/run.txt; exit 1; }
			grep -q '^LTDONE ok' /tmp/run.txt || { cat /tmp/run.txt; exit 1; }
			echo "STORM seed=\$seed \$(grep '^LTFUZZ end' /tmp/run.txt)"
			seed=\$((seed + 1))
		done
		EOF
	done
	# Short-lived guests: created and destroyed while traced.
	for n in 5 6; do
		echo 'echo "churn vm$LT_VM up"' >"$RB_CHURN/vm$n.sh"
	done
	# The full-table guest (see t_tables_full): one shell reads the
	# secret and writes it to RB_FULL_FILES new files, then an innocent
	# cat copies the newest one.
	cat >"$RB_FULL/vm8.sh" <<-EOF
	mkdir -p /tmp/rb-full
	echo "confidential \$\$" >/tmp/rb-full/secret
	read line </tmp/rb-full/secret
	i=0
	while [ \$i -lt $RB_FULL_FILES ]; do
		echo "\$line" >/tmp/rb-full/c\$i
		i=\$((i + 1))
	done
	cat /tmp/rb-full/c$((RB_FULL_FILES - 1)) >/tmp/rb-full/after
	echo FULL-DONE
	sleep 20
	EOF
	# The flood guest (see t_flood).
	echo "confidential $RANDOM" >"$RB_FLOOD/files/secret.txt"
	cat >"$RB_FLOOD/vm1.sh" <<-EOF
	# Phase 1, with nobody reading the ring: a flood of system calls; once
	# the ring is full (its records dropped), a copy of the secret, and a
	# shell that reads it and keeps it.
	lt-fuzz -s 4242 -n 1000000000 -c 1000000000 >/dev/null &
	fuzz=\$!
	sleep 5
	cp /scenario/files/secret.txt /tmp/copy1
	( read line </scenario/files/secret.txt; sleep $((RB_FLOOD_SECONDS + 25)); echo "\$line" >/tmp/late; echo FLOOD-HOLDER-DONE ) &
	sleep $((RB_FLOOD_SECONDS - 5))
	kill \$fuzz
	echo FLOOD-DONE
	# Phase 2, once the host reads again (it waits for FLOOD-DONE): uses
	# of what phase 1 made confidential, whose records were dropped.
	sleep 15
	cat /tmp/copy1 >/tmp/copy2
	wait
	echo FLOOD-END
	EOF
}

# rb_mem LABEL: one line of memory figures (kB) and the module's tables.
rb_mem() {
	local m vms
	m=$(awk '/^(MemAvailable|Slab|SUnreclaim|VmallocUsed|KernelStack|PageTables):/ { printf "%s=%s ", $1, $2 }' /proc/meminfo | tr -d ':')
	vms=
	if [ -c /dev/leaktrace ]; then
		vms=$(lt_lt vms --json 2>/dev/null | lt_jq -r '[.vms[] | "vm\(.vm_id):entries=\(.table_entries)/\(.table_capacity),pending=\(.pending),evictions=\(.table_evictions),syscalls=\(.syscalls),unresolved=\(.unresolved)"] | join(" ")' 2>/dev/null)
	fi
	echo "$(cut -d' ' -f1 /proc/uptime) $1 $m$vms" >>"$RB_MEM"
}

# rb_sampler_start / rb_sampler_stop: rb_mem every RB_SAMPLE_SECONDS.
rb_sampler_start() {
	( while :; do rb_mem "$1"; sleep "$RB_SAMPLE_SECONDS"; done ) </dev/null >/dev/null 2>&1 &
	RB_SAMPLER=$!
}
rb_sampler_stop() {
	[ -z "${RB_SAMPLER:-}" ] || { kill "$RB_SAMPLER" 2>/dev/null; wait "$RB_SAMPLER" 2>/dev/null; }
	RB_SAMPLER=
}

# rb_unreclaimable: SUnreclaim + VmallocUsed, kB.
rb_unreclaimable() {
	awk '/^(SUnreclaim|VmallocUsed):/ { s += $2 } END { print s }' /proc/meminfo
}

# rb_mem_unreclaimable LABEL_RE first|max: SUnreclaim + VmallocUsed (kB) of
# the first sample, or the largest, whose label matches LABEL_RE.
rb_mem_unreclaimable() {
	awk -v re="^($1)\$" -v how="$2" '$2 ~ re {
		s = 0
		for (i = 3; i <= NF; i++) {
			split($i, a, "=")
			if (a[1] == "SUnreclaim" || a[1] == "VmallocUsed") s += a[2]
		}
		if (how == "first") { print s; exit }
		if (!seen || s > m) m = s
		seen = 1
	} END { if (how == "max" && seen) print m }' "$RB_MEM"
}

# rb_wait_vm N [SECONDS]: wait for guest N alone (lt_wait_vms waits for
# all); true iff it reported an exit status.
rb_wait_vm() {
	local n=$1 limit=${2:-$LT_VM_TIMEOUT} d=$LT_TMP/vm i=0 ok=0
	while [ ! -e "$d/$n.rc" ]; do
		i=$((i + 1))
		if [ $i -gt "$limit" ]; then
			lt__kill_vm "$n"
			limit=$((limit + 30))
		fi
		sleep 1
	done
	wait "$(cat "$d/$n.pid")" 2>/dev/null || :
	lt__vm_verdict "$n" || ok=1
	rm -f "$d/$n.pid" "$d/$n.qpid" "$LT_TMP/vm$n.initrd"
	return $ok
}

# rb_qemu_pid N: the pid of guest N's QEMU (the child of its timeout(1)).
rb_qemu_pid() {
	local t p
	t=$(cat "$LT_TMP/vm/$1.qpid" 2>/dev/null) || return 1
	for p in /proc/[0-9]*; do
		[ "$(cut -d' ' -f4 "$p/stat" 2>/dev/null)" = "$t" ] && { echo "${p#/proc/}"; return 0; }
	done
	return 1
}

rb_vm_syscalls() { lt_vm_field "$1" syscalls; }
rb_vm_gone() { [ "$(lt_vm_field "$1" vm_id)" = null ]; }

# rb_vm_traced_syscalls UUID: the VM's syscall records if it is traced;
# fails otherwise (one query).
rb_vm_traced_syscalls() {
	lt_lt vms --json | lt_jq -e -r --arg u "$1" '[.vms[] | select(.uuid == $u and .traced)][0].syscalls'
}

# rb_reap_killed N: guest N was killed on purpose: wait for its QEMU to be
# gone and forget it, without calling that a failure.
rb_reap_killed() {
	local d=$LT_TMP/vm i=0
	while [ ! -e "$d/$1.rc" ] && [ $i -lt 60 ]; do
		sleep 1
		i=$((i + 1))
	done
	rm -f "$d/$1.pid" "$d/$1.qpid" "$LT_TMP/vm$1.initrd"
}
rb_traced() { [ "$(lt_vm_field "$1" traced)" = true ]; }

# rb_counters: "produced delivered dropped queued readers" from GET_INFO.
rb_counters() {
	lt_lt status --json | lt_jq -r '"\(.counters.produced) \(.counters.delivered) \(.counters.dropped) \(.counters.queued) \(.readers)"'
}

# rb_identity: produced == delivered + dropped + queued, from one GET_INFO.
rb_identity() {
	local p d x q r
	read -r p d x q r <<-EOF
	$(rb_counters)
	EOF
	echo "produced $p delivered $d dropped $x queued $q readers $r"
	[ "$p" = $((d + x + q)) ]
}

# --- 1. the device against a hostile user ------------------------------------

t_load() {
	# kmemleak (debug kernel): forget what was there before us.
	mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null || :
	[ ! -e /sys/kernel/debug/kmemleak ] || echo clear >/sys/kernel/debug/kmemleak
	rb_mem before-load
	lt_load_module ring_kib="$RB_FUZZ_RING_KIB" || return 1
	rb_mem after-load
	# A state that must survive the ioctl fuzzer: a selection, a secret,
	# and the fuzz guest's profile.
	lt_lt trace "$(rb_uuid 1)" && lt_lt trace "$(rb_uuid 3)" || return 1
	lt_lt secret add --vm all '/tmp/lt-fuzz/**' >/dev/null || return 1
	lt_lt profile load --vm "$(rb_uuid 1)" "$RB_PROFILE" || return 1
}

t_ioctlfuzz() {
	local st=0
	"$LT_BIN/lt-ioctlfuzz" --iterations "$RB_IOCTLS" --seed "$RB_FUZZ_SEED" >"$LT_OUT/ioctlfuzz.tap" 2>&1 || st=$?
	sed 's/^/    /' "$LT_OUT/ioctlfuzz.tap"
	return $st
}

# --- 2a. forged guest structures -----------------------------------------------

# A profile that lies once: task_files is task_comm's offset, so the module
# takes the calling task's command name for its files_struct pointer, and
# lt-forge (selftests/leaktrace/guest/lt-forge.c) points it at structures
# of its own making (Documentation/security.md, "Forged structures").
t_forge() {
	local ok=0 vmid line fd variant expect got want n uuid flags path
	uuid=$(rb_uuid 7)
	lt_jq '.offsets.task_files = .offsets.task_comm' "$RB_PROFILE" >"$LT_JOBDIR/forged.json" || return 1
	mkdir -p "$LT_JOBDIR/rb-forge"
	echo "lt-forge -r 20 $(lt_jq -r '.offsets | to_entries | map("\(.key)=\(.value)") | join(" ")' "$RB_PROFILE")" \
		>"$LT_JOBDIR/rb-forge/vm7.sh"
	lt_lt trace "$uuid" && lt_lt profile load --vm "$uuid" "$LT_JOBDIR/forged.json" || return 1
	lt_reader_start "$LT_OUT/forge-events.jsonl" || return 1
	lt_start_vm 7 "$uuid" "$LT_JOBDIR/rb-forge" || ok=1
	lt_wait_vms 300 || ok=1
	lt_reader_stop || ok=1
	sed 's/^/  vm7: /' "$(lt_vm_log 7)"
	grep -q '^LTDONE ok' "$(lt_vm_log 7)" || { echo "lt-forge did not finish"; return 1; }
	vmid=$(lt_jq -r --arg u "$uuid" 'select(.type == "vm" and .uuid == $u) | .vm_id' "$LT_OUT/forge-events.jsonl" | head -n 1)
	lt_jq -c --arg u "$uuid" 'select(.type == "vm" and .uuid == $u and .event == "profile-active")' "$LT_OUT/forge-events.jsonl" | grep -q . ||
		{ echo "the forged profile never became active"; return 1; }
	# Each record of a forged descriptor as "FD STATUS FLAGS PATH".
	lt_jq -r --argjson vm "$vmid" 'select(.type == "file" and .vm_id == $vm and .fd >= 100) |
		"\(.fd) \(.status) \([if .path_truncated then "truncated" else empty end,
			if .path_detached then "detached" else empty end,
			if .socket != null then "socket" else empty end] | join(",")) \(.path // "")"' \
		"$LT_OUT/forge-events.jsonl" | sort | uniq -c >"$LT_TMP/rb-forge.txt"
	while read -r line; do
		fd=$(echo "$line" | sed -n 's/.* fd=\([0-9]*\) .*/\1/p')
		variant=$(echo "$line" | sed -n 's/.* variant=\([^ ]*\) .*/\1/p')
		expect=$(echo "$line" | sed -n 's/.* expect=\([^ ]*\) .*/\1/p')
		got=$(awk -v fd="$fd" '$2 == fd { $1 = $1 "x"; print }' "$LT_TMP/rb-forge.txt")
		n=$(awk -v fd="$fd" '$2 == fd { s += $1 } END { print s + 0 }' "$LT_TMP/rb-forge.txt")
		case "$expect" in
		any) want='.*' ;;
		none|unresolved) want="^[0-9]*x $fd $expect *\$" ;;
		resolved:*)
			flags=${expect#resolved:}
			path=${flags#*:}
			flags=${flags%%:*}
			[ "$path" != '*' ] || path='.*'
			want="$(printf '^[0-9]*x %s resolved %s %s' "$fd" "$flags" "$path" | tr -s ' ' | sed 's/ *$//') *\$"
			;;
		esac
		if [ "$n" -lt 20 ] || echo "$got" | grep -v -q -e "$want"; then
			echo "fd $fd ($variant): expected $expect from $n records, got: $(echo "$got" | tr '\n' ';')"
			ok=1
		else
			echo "fd $fd $variant: $n records $(echo "$got" | head -n 1 | cut -d' ' -f3- | cut -c1-60) $(echo "$line" | grep -o 'ns_median=[0-9]* ns_max=[0-9]*')"
		fi
	done <<-EOF
	$(grep '^FORGE ' "$(lt_vm_log 7)")
	EOF
	# Bounded work: no forged call took more than a second.
	awk '/^FORGE / { for (i = 1; i <= NF; i++) if ($i ~ /^ns_max=/) { split($i, a, "="); if (a[2] > 1000000000) { print "slow: " $0; bad = 1 } } }
		END { exit bad }' "$(lt_vm_log 7)" || ok=1
	lt_lt untrace "$uuid" >/dev/null
	return $ok
}

# --- 2. the hostile guest -----------------------------------------------------

t_fuzz_start() {
	rb_mem fuzz-start
	lt_reader_start "$RB_EVENTS" || return 1
	RB_FUZZ_T0=$(cut -d. -f1 /proc/uptime)
	LT_VM_TIMEOUT=$RB_VM_TIMEOUT
	lt_start_vm 1 "$(rb_uuid 1)" "$RB_FUZZ" || return 1
	lt_start_vm 2 "$(rb_uuid 2)" "$RB_FUZZ" || return 1
	rb_sampler_start fuzz
}

t_fuzz_finish() {
	local ok=0 n st
	lt_wait_vms "$RB_VM_TIMEOUT" || ok=1
	rb_sampler_stop
	rb_mem fuzz-end
	echo "guests ran $(( $(cut -d. -f1 /proc/uptime) - RB_FUZZ_T0 )) s"
	for n in 1 2; do
		# Kept: later stages start guests with the same numbers.
		cp "$(lt_vm_log "$n")" "$LT_OUT/fuzz-vm$n.log" 2>/dev/null
		cp "$LT_OUT/vm$n-console.log" "$LT_OUT/fuzz-vm$n-console.log" 2>/dev/null
		[ ! -e "$LT_OUT/vm$n-hang.txt" ] || mv "$LT_OUT/vm$n-hang.txt" "$LT_OUT/fuzz-vm$n-hang.txt"
		st=$(lt_vm_exit_status "$n") || {
			echo "vm$n reported no exit status; its last lines:"
			tail -n 5 "$(lt_vm_log "$n")"
			lt_vm_hang_summary "$n" "$LT_OUT/fuzz-vm$n-hang.txt"
			ok=1
			continue
		}
		grep '^LTFUZZ \(end\|stats\)' "$(lt_vm_log "$n")" | sed "s/^/vm$n: /"
		[ "$st" = 0 ] && grep -q '^LTDONE ok' "$(lt_vm_log "$n")" || { echo "vm$n: lt-fuzz did not finish (exit $st)"; tail -n 5 "$(lt_vm_log "$n")"; ok=1; }
	done
	return $ok
}

t_fuzz_same_results() {
	local a b
	a=$(grep '^LTFUZZ \(start\|chunk\|end\)' "$(lt_vm_log 1)")
	b=$(grep '^LTFUZZ \(start\|chunk\|end\)' "$(lt_vm_log 2)")
	[ -n "$a" ] || { echo "no results from vm1"; return 1; }
	if [ "$a" != "$b" ]; then
		echo "traced vm1 and untraced vm2 differ:"
		diff <(echo "$a") <(echo "$b") | head -n 20
		return 1
	fi
	echo "$(echo "$a" | wc -l) result lines identical; $(echo "$a" | tail -n 1)"
}

# t_fuzz_reader: the reader ran through the whole hostile run; what it
# wrote shows the hostile inputs, escaped, and no record of vm2.
t_fuzz_reader() {
	local n lines sys lost other ok=0
	lt_reader_stop || ok=1
	lines=$(wc -l <"$RB_EVENTS")
	echo "the reader wrote $lines JSON lines ($(du -k "$RB_EVENTS" | cut -f1) kB)"
	for what in '"type":"syscall"' '"type":"file"' '"type":"diffusion"' '"type":"pressure"' '"type":"lost"' \
		'"status":"unresolved"' '"path_truncated":true' '"end":"superseded"' '"end":"evicted"' \
		'"end":"timed-out"' '"end":"no-return"' '\u001b' '"nr":4294967295'; do
		n=$(grep -c -F -e "$what" "$RB_EVENTS" || :)
		echo "  lines with $what: $n"
	done
	sys=$(grep -c '"type":"syscall"' "$RB_EVENTS" || :)
	lost=$(grep '"type":"lost"' "$RB_EVENTS" | sed 's/.*"count":\([0-9]*\).*/\1/' | awk '{ s += $1 } END { print s + 0 }')
	other=$(grep '"type":"syscall"' "$RB_EVENTS" | grep -c "$(rb_uuid 2)" || :)
	echo "syscall records $sys, records lost $lost, syscall records of the untraced vm2: $other"
	[ "$other" = 0 ] || { echo "records of the untraced guest"; ok=1; }
	[ $((sys + lost)) -gt "$RB_FUZZ_CALLS" ] || { echo "fewer syscall records than the fuzzer's calls"; ok=1; }
	# The hostile names reach the records (JSON escapes them)...
	grep -q -F '\u001b[2J' "$RB_EVENTS" || { echo "no record carries the fuzzer's escape sequence"; ok=1; }
	grep -q '"path_truncated":true' "$RB_EVENTS" || { echo "no truncated path (lt-fuzz's deep directories)"; ok=1; }
	# ...never raw.
	if grep -q "$(printf '\033')" "$RB_EVENTS"; then
		echo "a raw ESC byte in the JSON output"
		ok=1
	fi
	rm -f "$RB_EVENTS"
	return $ok
}

t_fuzz_bounded() {
	local bad
	echo "memory samples (kB; entries/capacity of vm1's tables, pending calls):"
	sed 's/^/  /' "$RB_MEM" | tail -n 12
	# Every sample within the tables' capacity and pending_max (1024).
	# vmN:entries=E/C,pending=P,...
	bad=$(awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^vm[0-9]+:entries=/) {
			split($i, a, /[=\/,]/)
			if (a[2] + 0 > a[3] + 0) print "entries over capacity: " $i
			if (a[5] + 0 > 1024) print "pending over pending_max: " $i } }' "$RB_MEM")
	[ -z "$bad" ] || { echo "$bad"; return 1; }
	# The measured bound: the first after-load sample against every
	# sample of the run.
	local base peak
	base=$(rb_mem_unreclaimable after-load first)
	peak=$(rb_mem_unreclaimable 'fuzz.*' max)
	[ -n "$base" ] && [ -n "$peak" ] || { echo "no after-load or fuzz memory samples"; return 1; }
	local bound
	bound=$(rb_mem_bound "$RB_MEM_PEAK_KB")
	echo "kernel memory (SUnreclaim + VmallocUsed) during the hostile run: at most $((peak - base)) kB above its level after the load ($base kB), bound $bound kB"
	[ $((peak - base)) -le "$bound" ] || { echo "over the bound"; return 1; }
	lt_identity_line=$(rb_identity) || { echo "ring accounting broken: $lt_identity_line"; return 1; }
	echo "ring: $lt_identity_line"
}

# --- 3. a ring flood ----------------------------------------------------------

t_flood() {
	local ok=0 i d lost
	lt_unload_module || return 1
	lt_load_module ring_kib=16 || return 1
	lt_lt trace --all || return 1
	lt_lt profile load --all "$RB_PROFILE" || return 1
	lt_lt secret add --vm all '/scenario/files/secret.txt' >/dev/null || return 1
	lt_start_vm 1 "$(rb_uuid 1)" "$RB_FLOOD" || return 1
	# Nobody reads until the guest says its flood is over.
	i=0
	until grep -q '^FLOOD-DONE' "$(lt_vm_log 1)" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt $((RB_FLOOD_SECONDS + 180)) ] || { echo "the flood guest never finished phase 1"; lt_kill_vms; return 1; }
		sleep 1
	done
	rb_identity || ok=1
	read -r _ _ d _ _ <<-EOF
	$(rb_counters)
	EOF
	echo "dropped during the flood: $d"
	[ "$d" -gt 0 ] || { echo "the ring never overflowed"; ok=1; }
	lt_reader_start "$LT_OUT/flood-events.jsonl" || return 1
	lt_wait_vms 300 || ok=1
	cat "$(lt_vm_log 1)" | sed 's/^/  vm1: /'
	grep -q '^FLOOD-END' "$(lt_vm_log 1)" || { echo "the flood guest did not finish"; ok=1; }
	sleep 3	# heartbeats: a record after the last drop
	lt_reader_stop || ok=1
	read -r _ _ d _ _ <<-EOF
	$(rb_counters)
	EOF
	rb_identity || ok=1
	lost=$(lt_jq -s '[.[] | select(.type == "lost") | .count] | add // 0' "$LT_OUT/flood-events.jsonl")
	echo "dropped $d; the reader reported $lost records lost in $(grep -c '"type":"lost"' "$LT_OUT/flood-events.jsonl") gaps"
	[ "$lost" = "$d" ] || { echo "lost records ($lost) != dropped ($d)"; ok=1; }
	# Text mode says so too.
	lt_jq -c 'select(.type == "lost")' "$LT_OUT/flood-events.jsonl" | head -n 2 | sed 's/^/  /'
	# The tables kept what the dropped records were about: /tmp/copy1 is
	# confidential (the edge that made it so was dropped), and so is the
	# holder shell (its read edge too); what they pass on is reported.
	if lt_jq -e -s 'any(.[]; .type == "diffusion" and .target.name == "/tmp/copy1")' "$LT_OUT/flood-events.jsonl" >/dev/null; then
		echo "note: the edge to /tmp/copy1 was not dropped (the ring was not full yet)"
	else
		echo "the edge to /tmp/copy1 was dropped with the flood"
	fi
	for target in /tmp/copy2 /tmp/late; do
		if lt_jq -e -s --arg t "$target" 'any(.[]; .type == "diffusion" and .target.name == $t and (.secrets | index(0)) != null)' \
			"$LT_OUT/flood-events.jsonl" >/dev/null; then
			echo "diffusion to $target reported, with secret 0"
		else
			echo "no diffusion to $target: the tables lost state with the dropped records"
			ok=1
		fi
	done
	return $ok
}

# Full tables, on purpose: the guest's shell makes RB_FULL_FILES files
# confidential, more than the objects table holds. A full table forgets
# its oldest entry (Documentation/diffusion.rst): the entries forgotten
# must be exactly the first ones that entered it, in order, each told by
# a pressure record whose running count ends at the module's own count;
# the table never holds more than its capacity, and what it still holds
# is still followed (the newest copy's copy is reported).
t_tables_full() {
	local ok=0 i uuid vms ev n last
	uuid=$(rb_uuid 8)
	lt_unload_module || return 1
	lt_load_module ring_kib=16384 || return 1
	lt_lt trace "$uuid" >/dev/null && lt_lt profile load --vm "$uuid" "$RB_PROFILE" >/dev/null &&
		lt_lt secret add --vm all '/tmp/rb-full/secret' >/dev/null || return 1
	lt_reader_start "$LT_OUT/full-events.jsonl" || return 1
	lt_start_vm 8 "$uuid" "$RB_FULL" || return 1
	i=0
	until grep -q '^FULL-DONE' "$(lt_vm_log 8)" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 900 ] || { echo "the full-table guest never finished"; lt_kill_vms; lt_reader_stop; return 1; }
		sleep 1
	done
	# The VM's tables as the module counts them, before the VM goes.
	vms=$(lt_lt vms --json | lt_jq -c --arg u "$uuid" '[.vms[] | select(.uuid == $u)][0] | {table_entries, table_capacity, table_evictions}')
	echo "vm8's tables: $vms"
	rb_wait_vm 8 120 || ok=1
	sleep 2
	lt_reader_stop || ok=1
	rb_identity || ok=1
	[ "$(rb_counters | cut -d' ' -f3)" = 0 ] || { echo "the ring dropped records: the exact checks below cannot hold"; ok=1; }
	# Only diffusion and pressure records matter below: jq on the whole
	# log (about 30 MB of call records) takes minutes on the emulated CPU.
	ev=$LT_TMP/rb-full-diffusion.jsonl
	grep -E '^\{"type":"(diffusion|pressure)"' "$LT_OUT/full-events.jsonl" >"$ev"
	echo "$(wc -l <"$LT_OUT/full-events.jsonl") records, $(wc -l <"$ev") of them diffusion and pressure"
	# Every object the VM's diffusion put in a table, in order of entry;
	# the objects its pressure records forgot, in order.
	lt_jq -r 'select(.type == "diffusion" and (.target.kind | IN("process", "flow", "remote", "none") | not)) | .target.key' "$ev" |
		awk '!seen[$0]++' >"$LT_TMP/rb-full-entered"
	lt_jq -r 'select(.type == "pressure" and .table == "objects") | .node.key' "$ev" >"$LT_TMP/rb-full-evicted"
	n=$(wc -l <"$LT_TMP/rb-full-evicted")
	echo "$(wc -l <"$LT_TMP/rb-full-entered") objects entered the table, $n pressure records for it"
	lt_jq -c 'select(.type == "pressure")' "$ev" | head -n 2 | sed 's/^/  /'
	[ "$n" -gt 0 ] || { echo "no pressure record: the table never filled"; ok=1; }
	if ! head -n "$n" "$LT_TMP/rb-full-entered" | cmp -s - "$LT_TMP/rb-full-evicted"; then
		echo "the forgotten entries are not the oldest, in order:"
		head -n "$n" "$LT_TMP/rb-full-entered" | diff - "$LT_TMP/rb-full-evicted" | head -n 10
		ok=1
	fi
	last=$(lt_jq -s '[.[] | select(.type == "pressure" and .table == "objects") | .evictions] | last // 0' "$ev")
	[ "$last" = "$n" ] || { echo "the last pressure record counts $last evictions, $n were reported"; ok=1; }
	lt_jq -e --argjson n "$n" '.table_evictions == $n and .table_entries <= .table_capacity' <<<"$vms" >/dev/null ||
		{ echo "the module's counts disagree: $vms, $n evictions reported"; ok=1; }
	if lt_jq -e -s 'any(.[]; .type == "diffusion" and .target.name == "/tmp/rb-full/after" and (.secrets | index(0)) != null)' "$ev" >/dev/null; then
		echo "the copy of the newest file is reported, with secret 0"
	else
		echo "no diffusion to /tmp/rb-full/after: the full table lost its newest entries"
		ok=1
	fi
	rm -f "$LT_TMP/rb-full-entered" "$LT_TMP/rb-full-evicted" "$ev"
	# 30 MB: kept only when something failed.
	[ $ok != 0 ] || rm -f "$LT_OUT/full-events.jsonl"
	return $ok
}

# --- 4. lifecycle --------------------------------------------------------------

# rb_readers_split: three readers at once, then each record must have gone
# to exactly one of them, and none between the first and the last they
# got may be missing unless the module dropped it.
rb_pid_gone() { ! lt__alive "$1"; }

rb_readers_split() {
	local i pids= dup n deaf=0 holes dropped
	for i in 1 2 3; do
		"$LT_BIN/leaktrace" watch --json >"$LT_TMP/rb-split-$i.jsonl" 2>>"$LT_OUT/reader.err" </dev/null &
		pids="$pids $!"
	done
	sleep 4
	for i in $pids; do kill -INT "$i" 2>/dev/null; done
	# A reader must stop on SIGINT even while records keep coming.
	for i in $pids; do
		lt_wait_for 10 rb_pid_gone "$i" || { echo "reader $i ignored SIGINT for 10 s"; kill -KILL "$i" 2>/dev/null; deaf=1; }
		wait "$i" 2>/dev/null || :
	done
	cat "$LT_TMP"/rb-split-*.jsonl | grep -o '"seq":[0-9]*' | cut -d: -f2 | sort -n >"$LT_TMP/rb-seqs"
	n=$(wc -l <"$LT_TMP/rb-seqs")
	dup=$(uniq -d "$LT_TMP/rb-seqs" | wc -l)
	# Completeness: between the first and the last record the readers
	# got, a sequence number none of them printed is a record the module
	# dropped (its ring was full) or one a reader took and lost.
	holes=$(uniq "$LT_TMP/rb-seqs" | awk 'NR == 1 { min = $1 } { max = $1; n++ } END { print n ? max - min + 1 - n : 0 }')
	dropped=$(rb_counters | cut -d' ' -f3)
	echo "three readers: $(for i in 1 2 3; do wc -l <"$LT_TMP/rb-split-$i.jsonl"; done | tr '\n' ' ')lines; $n records, $dup seen twice; $holes sequence numbers between the first and the last that no reader printed, $dropped records dropped by the module since the load"
	rm -f "$LT_TMP"/rb-split-*.jsonl "$LT_TMP/rb-seqs"
	[ "$holes" -le "${dropped:-0}" ] || echo "records were lost between the module and the readers"
	[ "$dup" = 0 ] && [ "$n" -gt 0 ] && [ "$deaf" = 0 ] && [ "$holes" -le "${dropped:-0}" ]
}

# rb_reader_killed: a reader killed by SIGKILL in the middle of reading,
# and a new one that must get records.
rb_reader_killed() {
	local pid n
	"$LT_BIN/leaktrace" watch --json >/dev/null 2>&1 </dev/null &
	pid=$!
	sleep 1
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null || :
	n=$("$LT_BIN/leaktrace" watch --json --count 50 --timeout 20 | wc -l)
	[ "$n" -ge 50 ] || { echo "a reader after a killed one got $n records"; return 1; }
}

t_lifecycle() {
	local c ok=0 n s p i churn=5 killed=0 readers saved
	lt_unload_module || return 1
	# Three storm guests, and a fourth to be killed while traced.
	saved=$LT_VM_TIMEOUT
	LT_VM_TIMEOUT=$RB_STORM_TIMEOUT
	for n in 1 2 3 4; do
		lt_start_vm "$n" "$(rb_uuid $((10 + n)))" "$RB_STORM" || { LT_VM_TIMEOUT=$saved; return 1; }
	done
	LT_VM_TIMEOUT=$saved
	sleep 20	# booting, and their first fuzz runs
	rb_storm_progress >"$LT_TMP/rb-storm-before"
	for c in $(seq 1 "$RB_CYCLES"); do
		if ! lt_load_module ring_kib=$(( (c % 4 + 1) * 16 )) heartbeat_ms=$(( 10 + c % 7 * 50 )); then
			echo "cycle $c: load failed"
			ok=1
			break
		fi
		lt_lt trace --all >/dev/null && lt_lt profile load --all "$RB_PROFILE" >/dev/null &&
			lt_lt secret add --vm all '/tmp/lt-fuzz/f*' >/dev/null || { echo "cycle $c: setup failed"; ok=1; }
		# Short-lived VMs, created and destroyed while traced (they
		# boot slowly next to three storms: reaped when done).
		for n in 5 6; do
			[ -e "$LT_TMP/vm/$n.pid" ] && [ -e "$LT_TMP/vm/$n.rc" ] || continue
			rb_wait_vm "$n" 10 2>/dev/null && grep -q "^churn vm$n up" "$(lt_vm_log "$n")" ||
				{ echo "cycle $c: short-lived vm$n failed"; ok=1; }
		done
		if [ $((c % 5)) = 1 ] && [ ! -e "$LT_TMP/vm/$churn.pid" ]; then
			lt_start_vm "$churn" "$(rb_uuid "$churn")" "$RB_CHURN" || ok=1
			churn=$((churn == 5 ? 6 : 5))
		fi
		case $((c % 5)) in
		1) rb_reader_killed || { echo "cycle $c: reader killed mid-read"; ok=1; } ;;
		2) rb_readers_split || { echo "cycle $c: readers"; ok=1; } ;;
		3)
			# A VM killed while it traps: vm4 runs a storm, traced,
			# and its QEMU gets SIGKILL.
			if [ $killed = 0 ]; then
				i=0
				until s=$(rb_vm_traced_syscalls "$(rb_uuid 14)") && [ "$s" -gt 300 ] || [ $i -ge 60 ]; do
					sleep 2
					i=$((i + 1))
				done
				# Killed only once it traps, or the test proves nothing.
				if ! [ "${s:-0}" -gt 300 ] 2>/dev/null; then
					echo "cycle $c: vm4 made no 300 traced calls in 120 s (${s:-none}): not killed while trapping"
					ok=1
				fi
				p=$(rb_qemu_pid 4) && kill -KILL "$p"
				echo "cycle $c: vm4 (traced, $s syscalls) killed by SIGKILL (qemu pid ${p:-?})"
				rb_reap_killed 4
				killed=1
				lt_wait_for 10 rb_vm_gone "$(rb_uuid 14)" || { echo "the killed VM is still listed"; ok=1; }
			else
				sleep 2
			fi
			;;
		*) sleep 2 ;;
		esac
		# Only the status query itself has the device open.
		readers=$(rb_counters | cut -d' ' -f5)
		[ "$readers" = 1 ] || { echo "cycle $c: $((readers - 1)) readers left open"; ok=1; }
		rb_identity >/dev/null || { echo "cycle $c: ring accounting: $(rb_identity)"; ok=1; }
		if ! lt_unload_module; then
			echo "cycle $c: unload failed"
			ok=1
			break
		fi
		[ ! -e /dev/leaktrace ] || { echo "cycle $c: /dev/leaktrace left behind"; ok=1; }
	done
	echo "$RB_CYCLES load/unload cycles under three storm guests done"
	for n in 5 6; do
		[ -e "$LT_TMP/vm/$n.pid" ] || continue
		rb_wait_vm "$n" 600 && grep -q "^churn vm$n up" "$(lt_vm_log "$n")" ||
			{ echo "short-lived vm$n failed"; ok=1; }
	done
	return $ok
}

# Races forced, not left to chance: loaded with test_trap_hold_us, the
# module sleeps RB_HOLD_US in every traced SYSCALL, so the storm guests'
# vCPUs spend most of their time inside it. Each cycle kills a traced
# storm guest (vm7, SIGKILL to its QEMU) and unloads the module while
# calls of the other guests are held. The module's "held traps" lines
# say what overlapped; its "still in the module" errors would mean KVM
# destroyed a VM with a call inside or returned from unregistration too
# early. The races must have happened: at least one unload found calls
# held, at least one VM was destroyed while other VMs' calls were held.
t_races() {
	local c=0 ok=0 p s i log n k forced=0 crossed=0
	# Three cycles, and up to two more while a race was never seen.
	while [ $c -lt 3 ] || { [ $c -lt 5 ] && [ $((forced * crossed)) = 0 ]; }; do
		c=$((c + 1))
		echo "leaktrace-test: races cycle $c" >/dev/kmsg
		lt_start_vm 7 "$(rb_uuid 17)" "$RB_STORM" || { ok=1; continue; }
		lt_load_module test_trap_hold_us="$RB_HOLD_US" || { echo "cycle $c: load failed"; return 1; }
		lt_lt trace --all >/dev/null || { echo "cycle $c: trace --all failed"; ok=1; }
		i=0
		until s=$(rb_vm_traced_syscalls "$(rb_uuid 17)") && [ "$s" -gt 50 ] || [ $i -ge 60 ]; do
			sleep 2
			i=$((i + 1))
		done
		if ! [ "${s:-0}" -gt 50 ] 2>/dev/null; then
			echo "cycle $c: vm7 made no 50 traced calls in 120 s (${s:-none})"
			ok=1
		fi
		p=$(rb_qemu_pid 7) && kill -KILL "$p"
		rb_reap_killed 7
		lt_wait_for 30 rb_vm_gone "$(rb_uuid 17)" || { echo "cycle $c: the killed vm7 is still listed"; ok=1; }
		lt_unload_module || { echo "cycle $c: unload failed"; return 1; }
		log=$(dmesg | sed -n "/leaktrace-test: races cycle $c\$/,\$p")
		echo "cycle $c: vm7 killed after ${s:-?} traced calls"
		printf '%s\n' "$log" | grep -E 'held traps:|still in the module' | sed 's/^/  /'
		if printf '%s\n' "$log" | grep -q 'still in the module'; then
			echo "cycle $c: a call was still in the module (see above)"
			ok=1
		fi
		n=$(printf '%s\n' "$log" | sed -n 's/.*unregistered from KVM with \([0-9]*\) calls held.*/\1/p' | tail -n 1)
		[ -n "$n" ] || { echo "cycle $c: no unregistration line from the module"; ok=1; }
		[ "${n:-0}" -gt 0 ] && forced=$((forced + 1))
		k=$(printf '%s\n' "$log" | sed -n 's/.*us after its last held call left; \([0-9]*\) calls of other VMs held.*/\1/p' | tail -n 1)
		[ "${k:-0}" -gt 0 ] && crossed=$((crossed + 1))
	done
	echo "$forced of $c unloads found calls held in the module; $crossed of $c VM kills came while other VMs' calls were held"
	[ $forced -ge 1 ] || { echo "no unload raced a held call: nothing was forced"; ok=1; }
	[ $crossed -ge 1 ] || { echo "no VM destruction raced other VMs' held calls: nothing was forced"; ok=1; }
	return $ok
}

# rb_storm_progress: "N RUNS" per storm guest (STORM lines so far).
rb_storm_progress() {
	local n
	for n in 1 2 3; do
		echo "$n $(grep -c '^STORM seed=' "$(lt_vm_log "$n")" 2>/dev/null || echo 0)"
	done
}

# The storm guests kept running through the cycles (none ended, each made
# progress), and every seed gave the same results in every guest,
# whatever the module was doing at the time; then they are stopped.
t_storms_check() {
	local n ok=0 before now
	for n in 1 2 3; do
		before=$(awk -v n="$n" '$1 == n { print $2 }' "$LT_TMP/rb-storm-before")
		now=$(grep -c '^STORM seed=' "$(lt_vm_log "$n")" || :)
		echo "vm$n: $before fuzz runs before the cycles, $now after"
		if [ -e "$LT_TMP/vm/$n.rc" ]; then
			echo "vm$n ended during the cycles:"
			tail -n 8 "$(lt_vm_log "$n")"
			ok=1
		elif [ "$now" -le "$before" ]; then
			echo "vm$n made no progress during the cycles"
			ok=1
		fi
	done
	for n in 1 2 3; do
		lt__kill_vm "$n"
	done
	for n in 1 2 3; do
		rb_reap_killed "$n"
		sed -n 's/^STORM \(seed=[0-9]*\) LTFUZZ end .*\(digest=[0-9a-f]*\).*/\1 \2/p' "$(lt_vm_log "$n")" >"$LT_TMP/rb-storm$n"
	done
	if ! awk '{ d[$1] = d[$1] " " $2; c[$1]++ }
		END { for (k in d) { split(d[k], v, " "); for (i = 2; i <= c[k]; i++) if (v[i] != v[1]) { print k ":" d[k]; bad = 1 } }
		      exit bad }' "$LT_TMP/rb-storm1" "$LT_TMP/rb-storm2" "$LT_TMP/rb-storm3"; then
		echo "the storm guests disagree on some results"
		ok=1
	fi
	echo "every seed run by several guests gave the same digest"
	return $ok
}

# --- 5. the kernel log ---------------------------------------------------------

t_memory_back() {
	local after
	rb_mem after-unload
	after=$(rb_unreclaimable)
	local slack
	slack=$(rb_mem_bound "$RB_MEM_SLACK_KB")
	echo "SUnreclaim + VmallocUsed: $RB_MEM_BEFORE kB before the first load, $after kB after the last unload (guests gone)"
	[ $((after - RB_MEM_BEFORE)) -le "$slack" ] ||
		{ echo "grew by $((after - RB_MEM_BEFORE)) kB, more than $slack"; return 1; }
}

# rb_mem_bound KB: a memory bound of KB kB for this kernel, on stdout. On a
# KASAN kernel it adds the most KASAN's quarantine holds (freed objects wait
# there, still counted in SUnreclaim, until it reaches 1/32 of RAM:
# mm/kasan/quarantine.c, QUARANTINE_FRACTION), and says so on stderr:
# growth up to it measures KASAN, not leaktrace; leaks on that kernel are
# kmemleak's to find (t_kmemleak).
rb_mem_bound() {
	local quarantine
	if rb_kasan_kernel; then
		quarantine=$(awk '/^MemTotal:/ { print int($2 / 32) }' /proc/meminfo)
		echo "KASAN kernel: the bound adds its quarantine, up to $quarantine kB" >&2
		echo $(($1 + quarantine))
	else
		echo "$1"
	fi
}

# rb_have_kmemleak: whether this kernel has kmemleak (the debug variant).
rb_have_kmemleak() {
	[ -e /sys/kernel/debug/kmemleak ] || mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null || :
	[ -e /sys/kernel/debug/kmemleak ]
}

t_kmemleak() {
	local f=/sys/kernel/debug/kmemleak n
	echo scan >"$f"
	sleep 5
	echo scan >"$f"
	cat "$f" >"$LT_OUT/kmemleak.txt"
	n=$(grep -c '^unreferenced object' "$LT_OUT/kmemleak.txt" || :)
	echo "kmemleak: $n unreferenced objects since the first load (kmemleak.txt)"
	head -n 80 "$LT_OUT/kmemleak.txt"
	[ "$n" = 0 ]
}

rb_run() {
	echo "TAP version 13"
	rb_scenarios
	RB_MEM_BEFORE=$(rb_unreclaimable)
	lt_test "leaktrace.ko loads; a selection, a secret and a profile to keep" t_load
	lt_test "/dev/leaktrace against a hostile user (lt-ioctlfuzz: $RB_IOCTLS ioctls)" t_ioctlfuzz
	lt_test "forged guest structures (lt-forge): unresolved or bounded, never a splat" t_forge
	# Not in lt_test: the reader and sampler pids must survive.
	if t_fuzz_start >"$LT_TMP/rb-start.log" 2>&1; then lt_ok "hostile guest started (lt-fuzz, $RB_FUZZ_CALLS calls, traced and untraced)"
	else sed 's/^/# /' "$LT_TMP/rb-start.log"; lt_not_ok "hostile guest started"; fi
	lt_test "both fuzz guests finish" t_fuzz_finish
	lt_test "traced and untraced runs of the same seed give identical results" t_fuzz_same_results
	if t_fuzz_reader >"$LT_TMP/rb-reader.log" 2>&1; then sed 's/^/# /' "$LT_TMP/rb-reader.log"; lt_ok "the reader decodes the hostile guest's records; its names are escaped"
	else sed 's/^/# /' "$LT_TMP/rb-reader.log"; lt_not_ok "the reader decodes the hostile guest's records; its names are escaped"; fi
	lt_test "tables and pending calls stay within capacity; ring accounting exact" t_fuzz_bounded
	lt_test "ring flood: exact accounting, the reader reports every loss, the tables stay right" t_flood
	lt_test "full tables: $RB_FULL_FILES files made confidential; the oldest entries forgotten in order and reported, counts exact, the newest still followed" t_tables_full
	lt_test "$RB_CYCLES load/unload cycles under storms, VMs created and killed, readers killed and split" t_lifecycle
	lt_test "races forced (test_trap_hold_us=$RB_HOLD_US): VMs killed and the module unloaded while calls are held inside it" t_races
	lt_test "storm guests ran through every cycle and agree on every result" t_storms_check
	lt_test "kernel memory back to its level before the first load" t_memory_back
	if rb_have_kmemleak; then
		lt_test "no kmemleak report (debug kernel)" t_kmemleak
	else
		lt_skip "no kmemleak report" "this kernel has no kmemleak (LEAKTRACE_KERNEL_VARIANT=debug has)"
	fi
	lt_test "L1 kernel log has no WARN/BUG/Oops/lockdep/KASAN splat" lt_check_dmesg
	echo "1..$LT_TAP_N"
	lt_tap_summary robustness
}
