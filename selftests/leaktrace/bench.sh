#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The multi-VM latency evaluation (kselftest TAP), run inside the testbed's
# L1 by `scripts/testbed job`, sourced after the L1 helper library. The
# host side is scripts/bench (`make bench`), which sets the parameters below
# and turns the output into Documentation/evaluation.md.
#
# The seed paper's experiment (../shared/design/anchors.md): system-call
# latency in one VM while n-1 other VMs run read() loops, for n VMs. Here,
# in one L1 boot, for each n in BENCH_NS:
#
#   none      n = 0 only: one VM, leaktrace.ko not loaded, nothing armed
#             (the paper's "no monitoring")
#   untraced  leaktrace.ko loaded with a reader, nothing selected: every VM
#             is armed until its first system call identifies it, then
#             disarmed (a VM that leaktrace does not trace, as deployed)
#   traced    leaktrace.ko, all n VMs traced with their guest kernel's
#             profile, vm1's DIR/managed* a secret, a reader
#             (`leaktrace watch --json > /dev/null`) taking every record
#   bare      leaktrace.ko not loaded; every VM armed through KVM's debugfs
#             knob (Documentation/kvm-series.rst): KVM traps and emulates
#             each SYSCALL/SYSRET and calls no client. The cost of the trap
#             itself, without the module's.
#   mixed     n >= 2: as traced, but vm1 (the measuring VM) is not traced:
#             an untraced VM on a host that traces others
#
# For each n the n VMs boot once, idle, and every configuration of that n
# is set up on them as they run (the module loaded, VMs selected, knobs
# armed), then measured: L1 sends "go" over the guests' LAN (`lt-bench
# send`: Ethernet frames into the QEMU multicast group, as if from
# 10.0.0.254), vm1 runs `lt-bench measure` (selftests/leaktrace/guest/
# lt-bench.c) while vm2..n run `lt-bench load` (read() in a loop), and once
# vm1 is done L1 sends the load VMs "stop": they idle until the next "go".
# So no VM boots under load, and the load runs exactly while vm1 measures.
# Then the ring's throughput (lt-ringbench, module loaded, no VM) and a
# function trace of vm1's trapped calls in L1 (BENCH_PROFILE_RUNS).
#
# Parameters (shell variables, set by scripts/bench before sourcing this):
#
#   BENCH_NS        VM counts (default "0 1 2 4 7")
#   BENCH_MODES     modes for n >= 1 (default "untraced traced bare mixed")
#   BENCH_ITER      timed calls per operation (default 20000)
#   BENCH_WARMUP    untimed calls per operation first (default 200)
#   BENCH_ROUNDS    rounds the timed calls are spread over (default 10)
#   BENCH_ABLATION  1: at n = 1 also split the traced cost (default 1):
#                   "traced-noreader" (no reader: the vCPU's own path),
#                   "traced-noprofile-noreader" (syscall records only),
#                   "traced-noprofile" (the same, read), "traced-nosecret"
#                   (profile, no secret: no diffusion)
#   BENCH_RING      records for lt-ringbench; 0: skip (default 1000000)
#   BENCH_PROFILE   calls per operation of the function-trace runs; 0: skip
#                   (default 1000)
#   BENCH_PROFILE_RUNS  which, as N:MODE (default "1:bare 1:traced 2:bare
#                   2:traced")
#
# Output (stdout, TAP): per configuration one "ok" line and, per operation,
#
#   # result n=N mode=M op=OP n_calls=.. min=.. max=.. mean=.. median=..
#     var=.. p99=.. p999=.. unit=us
#
# plus "# config ..." lines (what the module counted, the knobs), "# ring
# ..." lines and "# profile ..." lines, which scripts/bench parses. The
# guests' own output is kept in out/bench/.

BENCH_NS=${BENCH_NS:-"0 1 2 4 7"}
BENCH_MODES=${BENCH_MODES:-"untraced traced bare mixed"}
BENCH_ITER=${BENCH_ITER:-20000}
BENCH_WARMUP=${BENCH_WARMUP:-200}
BENCH_ROUNDS=${BENCH_ROUNDS:-10}
BENCH_ABLATION=${BENCH_ABLATION:-1}
BENCH_RING=${BENCH_RING:-1000000}
BENCH_PROFILE=${BENCH_PROFILE:-1000}
BENCH_PROFILE_RUNS=${BENCH_PROFILE_RUNS:-"1:bare 1:traced 2:bare 2:traced"}

BENCH_ABLATION_MODES="traced-noreader traced-noprofile-noreader traced-noprofile traced-nosecret"
BENCH_DIR=$LT_JOBDIR/bench-vms	# the guests' scripts (lt_start_vm's DIR)
BENCH_OUT=$LT_OUT/bench		# kept: logs, counters, traces
BENCH_GLOB='/tmp/bench/managed*'
BENCH_DBG=/sys/kernel/debug
BENCH_TRACE=/sys/kernel/tracing
BENCH_ROUND_TIMEOUT=${BENCH_ROUND_TIMEOUT:-3000}	# seconds, one measurement
mkdir -p "$BENCH_DIR" "$BENCH_OUT"

bench_uuid() { printf '4c540000-0000-4000-8000-00000000e%03d\n' "$1"; }
lt_lt() { "$LT_BIN/leaktrace" "$@"; }

# The guests' scripts: vm1 measures when told to, vm2..8 load when told to.
bench_scripts() {
	local k
	cat >"$BENCH_DIR/vm1.sh" <<-'EOF'
	#!/bin/sh
	# leaktrace bench: the measuring VM. "go ROUND ITER WARMUP ROUNDS" from
	# L1 starts a measurement, "exit" ends the script.
	uname -r
	[ -n "$LT_IP" ] || { echo "bench: no network: L1 cannot reach this guest"; exit 1; }
	while cmd=$(lt-bench wait); do
		set -- $cmd
		case "$1" in
		go)
			echo "bench: round $2 start"
			lt-bench measure -n "$3" -w "$4" -r "$5"
			echo "bench: round $2 end (status $?)"
			;;
		exit) echo "bench: exit"; exit 0 ;;
		esac
	done
	exit 1
	EOF
	for k in 2 3 4 5 6 7 8; do
		cat >"$BENCH_DIR/vm$k.sh" <<-'EOF'
		#!/bin/sh
		# leaktrace bench: a load VM; "go" starts its read() loop, "stop"
		# pauses it, "exit" ends it.
		[ -n "$LT_IP" ] || { echo "load: no network: L1 cannot reach this guest"; exit 1; }
		exec lt-bench load
		EOF
	done
}

bench_mounts() {
	[ -d "$BENCH_DBG/kvm" ] || mount -t debugfs debugfs "$BENCH_DBG" 2>/dev/null || :
	[ -e "$BENCH_TRACE/trace" ] || mount -t tracefs tracefs "$BENCH_TRACE" 2>/dev/null || :
}

# The debugfs knobs of the running VMs, one per line.
bench_knobs() {
	local f
	for f in "$BENCH_DBG"/kvm/*-*/syscall_trap; do
		[ -e "$f" ] && echo "$f"
	done
	return 0
}

# bench_count N PATTERN: lines of guest N's log matching PATTERN.
bench_count() {
	local c
	c=$(grep -c "$2" "$LT_OUT/vm$1.log" 2>/dev/null) || :
	echo "${c:-0}"
}

# bench_wait_count N PATTERN COUNT SECONDS: until guest N's log has COUNT
# lines matching PATTERN; false if the guest ended or the time passed.
bench_wait_count() {
	local n=$1 i=0
	while [ $i -lt $(($4 * 2)) ]; do
		[ "$(bench_count "$n" "$2")" -lt "$3" ] || return 0
		[ ! -e "$LT_TMP/vm/$n.rc" ] || return 1
		sleep 0.5
		i=$((i + 1))
	done
	return 1
}

# bench_send MESSAGE N...: a datagram to guests N... over their LAN.
bench_send() {
	"$LT_BIN/lt-bench" send "$@"
}

# bench_tell MESSAGE N PATTERN COUNT: send MESSAGE to guest N until its
# log has COUNT lines matching PATTERN (a datagram can be lost, or come
# before the guest listens); up to 60 s.
bench_tell() {
	local msg=$1 n=$2 pat=$3 count=$4 k=0
	while [ $k -lt 12 ]; do
		bench_send "$msg" "$n" || return 1
		bench_wait_count "$n" "$pat" "$count" 5 && return 0
		[ ! -e "$LT_TMP/vm/$n.rc" ] || break
		k=$((k + 1))
	done
	echo "vm$n did not answer '$msg' (no $count lines '$pat' in its log)"
	tail -n 5 "$LT_OUT/vm$n.log" 2>/dev/null
	return 1
}

# bench_boot N: boot vm1..vmN, idle (vm1 waiting for "go", the others
# too); sets BENCH_N, BENCH_ROUND (rounds done on this boot) and
# BENCH_VM1_PID (vm1's QEMU, from its debugfs directory <pid>-<fd>).
bench_boot() {
	local n=$1 k before f i=0
	BENCH_N=$n BENCH_ROUND=0 BENCH_VM1_PID=
	LT_VM_TIMEOUT=${BENCH_VM_TIMEOUT:-14400}
	before=$(bench_knobs)
	lt_start_vm 1 "$(bench_uuid 1)" "$BENCH_DIR" || return 1
	while [ $i -lt 600 ] && [ -z "$BENCH_VM1_PID" ]; do
		for f in $(bench_knobs); do
			case "$before" in *"$f"*) continue ;; esac
			f=${f%/syscall_trap}
			f=${f##*/}
			BENCH_VM1_PID=${f%%-*}
		done
		[ -n "$BENCH_VM1_PID" ] || sleep 0.1
		i=$((i + 1))
	done
	[ -n "$BENCH_VM1_PID" ] || { echo "vm1's debugfs directory never appeared"; return 1; }
	for k in $(seq 2 "$n"); do
		lt_start_vm "$k" "$(bench_uuid "$k")" "$BENCH_DIR" || return 1
	done
	bench_wait_count 1 '^bench: waiting' 1 900 ||
		{ echo "vm1 never got to wait for L1"; tail -n 5 "$LT_OUT/vm1.log" "$LT_OUT/vm1-console.log"; return 1; }
	for k in $(seq 2 "$n"); do
		bench_wait_count "$k" '^load: waiting' 1 900 ||
			{ echo "vm$k never got to wait for L1"; tail -n 5 "$LT_OUT/vm$k.log" "$LT_OUT/vm$k-console.log"; return 1; }
	done
}

# bench_shutdown: "exit" to every guest; they end their scripts, and the
# logs are kept in out/bench/.
bench_shutdown() {
	local n=$BENCH_N k
	for k in $(seq 1 "$n"); do
		[ -e "$LT_TMP/vm/$k.pid" ] || continue
		bench_send exit "$k" 2>/dev/null || :
	done
	if ! lt_wait_vms 120; then
		echo "a guest did not exit when told to"
	fi
	for k in $(seq 1 "$n"); do
		cp "$LT_OUT/vm$k.log" "$BENCH_OUT/boot-n$n-vm$k.log" 2>/dev/null || :
	done
}

# bench_setup N MODE: the module and the arming for MODE on the running
# VMs. The traced modes take suffixes: -noprofile (syscall records only, no
# introspection), -nosecret (no secret, so no diffusion), -noreader (nobody
# reads the records: once the ring is full they are dropped and counted, so
# what is left is the vCPU's own path).
bench_setup() {
	local n=$1 mode=$2 k first=1 profile=1 secret=1 reader=1 f
	case "$mode" in
	none) return 0 ;;
	bare)
		for f in $(bench_knobs); do
			echo 1 >"$f" || { echo "arming $f failed"; return 1; }
		done
		return 0
		;;
	untraced) ;;
	traced|traced-*|mixed)
		case "$mode" in *-noprofile*) profile=0 ;; esac
		case "$mode" in *-nosecret*) secret=0 ;; esac
		case "$mode" in *-noreader*) reader=0 ;; esac
		[ "$mode" != mixed ] || first=2
		;;
	*) echo "unknown mode $mode"; return 1 ;;
	esac
	lt_load_module || return 1
	if [ $reader = 1 ]; then
		lt_reader_start /dev/null || return 1
	fi
	[ "$mode" != untraced ] || return 0
	for k in $(seq "$first" "$n"); do
		lt_lt trace "$(bench_uuid "$k")" >/dev/null || return 1
	done
	if [ $profile = 1 ]; then
		for k in $(seq 1 "$n"); do
			lt_load_profile "$k" "$(bench_uuid "$k")" "$BENCH_DIR" 2>/dev/null || return 1
		done
	fi
	if [ $secret = 1 ]; then
		lt_lt secret add --vm "$(bench_uuid 1)" "$BENCH_GLOB" >/dev/null || return 1
	fi
}

bench_teardown() {
	local f
	case "$2" in
	none) ;;
	bare)
		for f in $(bench_knobs); do
			echo 0 >"$f" 2>/dev/null || :
		done
		;;
	*)
		[ -z "${LT_READER_PID:-}" ] || lt_reader_stop || :
		! grep -q '^leaktrace ' /proc/modules || lt_unload_module || return 1
		;;
	esac
}

# bench_round ITER TAG [HOOK]: one measurement on the running VMs: "go" to
# the load VMs and vm1, wait for vm1's end, "stop" to the load VMs, vm1's
# output for this round in out/bench/TAG.log. HOOK (a function) runs just
# before "go" and again ("off") right after vm1's end.
bench_round() {
	local iter=$1 tag=$2 hook=${3:-} r k st
	r=$((BENCH_ROUND + 1))
	BENCH_ROUND=$r
	BENCH_CUR_ITER=$iter
	rm -f "$BENCH_OUT/$tag".*
	# Everybody listens for this round.
	bench_wait_count 1 '^bench: waiting' "$r" 120 || { echo "vm1 is not waiting for round $r"; return 1; }
	for k in $(seq 2 "$BENCH_N"); do
		bench_wait_count "$k" '^load: waiting' "$r" 120 || { echo "vm$k is not waiting for round $r"; return 1; }
	done
	[ -z "$hook" ] || $hook on
	for k in $(seq 2 "$BENCH_N"); do
		bench_tell "go $r" "$k" '^load: running' "$r" || return 1
	done
	bench_tell "go $r $iter $BENCH_WARMUP $BENCH_ROUNDS" 1 "^bench: round $r start" 1 || return 1
	if ! bench_wait_count 1 "^bench: round $r end" 1 "$BENCH_ROUND_TIMEOUT"; then
		[ -z "$hook" ] || $hook off
		echo "vm1 did not finish round $r within $BENCH_ROUND_TIMEOUT s"
		tail -n 5 "$LT_OUT/vm1.log"
		return 1
	fi
	[ -z "$hook" ] || $hook off
	for k in $(seq 2 "$BENCH_N"); do
		bench_tell stop "$k" '^load: stopped' "$r" || return 1
	done
	sed -n "/^bench: round $r start/,/^bench: round $r end/p" "$LT_OUT/vm1.log" >"$BENCH_OUT/$tag.log"
	st=$(sed -n "s/^bench: round $r end (status \([0-9]*\)).*/\1/p" "$BENCH_OUT/$tag.log")
	[ "$st" = 0 ] || { echo "vm1's lt-bench measure exited ${st:-?}"; grep '^not ok' "$BENCH_OUT/$tag.log"; return 1; }
	[ "$(grep -c '^# stats ' "$BENCH_OUT/$tag.log")" = 5 ] || { echo "vm1 printed no stats for every operation"; return 1; }
}

# bench_counters N MODE TAG: what the module (or KVM's knobs) says now,
# with the VMs still there.
bench_counters() {
	local f
	case "$2" in
	none) ;;
	bare)
		for f in $(bench_knobs); do
			echo "$f $(cat "$f")"
		done >"$BENCH_OUT/$3.knobs"
		;;
	*)
		lt_lt vms --json >"$BENCH_OUT/$3.vms.json" 2>&1 || :
		lt_lt status --json >"$BENCH_OUT/$3.status.json" 2>&1 || :
		;;
	esac
}

# bench_results N MODE TAG: the round's statistics as "# result" lines.
bench_results() {
	sed -n 's/^# stats op=\([^ ]*\) n=\([0-9]*\) /# result n='"$1"' mode='"$2"' op=\1 n_calls=\2 /p' \
		"$BENCH_OUT/$3.log"
	sed -n 's/^# bench /# config n='"$1"' mode='"$2"' /p' "$BENCH_OUT/$3.log"
}

# bench_check N MODE TAG: the configuration was what it says.
bench_check() {
	local n=$1 mode=$2 tag=$3 json=$BENCH_OUT/$3.vms.json u1
	u1=$(bench_uuid 1)
	case "$mode" in
	none)
		! grep -q '^leaktrace ' /proc/modules || { echo "leaktrace.ko loaded"; return 1; }
		;;
	bare)
		[ "$(grep -c ' 1 ok$' "$BENCH_OUT/$tag.knobs")" = "$n" ] ||
			{ echo "expected $n knobs reading '1 ok':"; cat "$BENCH_OUT/$tag.knobs"; return 1; }
		echo "# config n=$n mode=$mode knobs_armed=$n"
		;;
	*)
		lt_jq -e '.vms | length > 0' "$json" >/dev/null || { echo "no VM list:"; cat "$json"; return 1; }
		lt_jq -r --arg u "$u1" --arg n "$n" --arg m "$mode" '
			(.vms[] | select(.uuid == $u)) as $v |
			"# config n=\($n) mode=\($m) vm1_traced=\($v.traced) vm1_syscalls=\($v.syscalls) vm1_traps=\($v.traps) vm1_profile=\($v.profile) vm1_resolved=\($v.resolved) vm1_unresolved=\($v.unresolved) vm1_diffusions=\($v.diffusions) traced_vms=\([.vms[] | select(.traced)] | length) vms=\(.vms | length)"' "$json"
		lt_jq -r --arg n "$n" --arg m "$mode" '
			"# config n=\($n) mode=\($m) ring_bytes=\(.ring_bytes) produced=\(.counters.produced) delivered=\(.counters.delivered) dropped=\(.counters.dropped) queued=\(.counters.queued)"' \
			"$BENCH_OUT/$tag.status.json"
		case "$mode" in
		untraced)
			lt_jq -e '[.vms[] | select(.traced)] | length == 0' "$json" >/dev/null ||
				{ echo "a VM is traced"; return 1; }
			;;
		mixed)
			lt_jq -e --arg u "$u1" --argjson n "$n" '
				([.vms[] | select(.uuid == $u and .traced == false)] | length) == 1 and
				([.vms[] | select(.traced)] | length) == $n - 1' "$json" >/dev/null ||
				{ echo "expected vm1 untraced and the $((n - 1)) others traced"; return 1; }
			;;
		traced*)
			lt_jq -e --arg u "$u1" --argjson n "$n" --argjson min "$((5 * BENCH_CUR_ITER))" '
				([.vms[] | select(.uuid == $u and .traced and .syscalls >= $min)] | length) == 1 and
				([.vms[] | select(.traced)] | length) == $n' "$json" >/dev/null ||
				{ echo "expected all $n VMs traced, vm1 with >= $((5 * BENCH_CUR_ITER)) syscall records"; return 1; }
			case "$mode" in
			traced|traced-noreader)
				lt_jq -e --arg u "$u1" '([.vms[] | select(.uuid == $u and .profile == "active" and .diffusions >= 1)] | length) == 1' \
					"$json" >/dev/null || { echo "vm1's profile not active, or its secret never diffused"; return 1; }
				;;
			esac
			;;
		esac
		;;
	esac
}

# bench_config N MODE: one configuration on the running VMs, as one TAP
# test. (Not in a subshell: the reader's pid and the module are this
# shell's.)
bench_config() {
	local n=$1 mode=$2 tag="n$1-$2" t0 st=0 f=$LT_TMP/bench-config.out
	t0=$(date +%s)
	lt_stage "bench-$tag"
	lt_log "bench: n=$n $mode"
	: >"$f"
	{
		bench_setup "$n" "$mode" &&
		bench_round "$BENCH_ITER" "$tag" &&
		bench_counters "$n" "$mode" "$tag" &&
		bench_results "$n" "$mode" "$tag" &&
		bench_check "$n" "$mode" "$tag"
	} >"$f" 2>&1 || st=1
	bench_teardown "$n" "$mode" >>"$f" 2>&1 || st=1
	grep '^# ' "$f" || :
	grep -v '^# ' "$f" | sed '/^$/d; s/^/# /'
	echo "# config n=$n mode=$mode seconds=$(($(date +%s) - t0))"
	if [ $st = 0 ]; then
		lt_ok "n=$n $mode: vm1 timed $BENCH_ITER calls of each operation"
	else
		lt_not_ok "n=$n $mode: vm1 timed $BENCH_ITER calls of each operation"
	fi
}

# bench_ring: lt-ringbench with the module loaded and no VM.
bench_ring() {
	local f=$LT_TMP/ring.out st=0
	lt_stage bench-ring
	lt_load_module >"$f" 2>&1 || st=1
	[ $st != 0 ] || "$LT_BIN/lt-ringbench" -n "$BENCH_RING" >>"$f" 2>&1 || st=1
	lt_unload_module >>"$f" 2>&1 || st=1
	cp "$f" "$BENCH_OUT/ringbench.log"
	grep '^# ring ' "$f" || :
	grep '^\(not \)\?ok ' "$f" | sed 's/^/# lt-ringbench: /'
	grep -v '^# ring \|^\(not \)\?ok \|^TAP\|^1\.\.' "$f" | sed 's/^/# /'
	if [ $st = 0 ]; then
		lt_ok "ring throughput: lt-ringbench's checks pass (alternate, concurrent, overflow)"
	else
		lt_not_ok "ring throughput: lt-ringbench's checks pass (alternate, concurrent, overflow)"
	fi
}

# The functions whose entries the profile traces: KVM's exit path for a
# trapped SYSCALL/SYSRET, the guest memory reads leaktrace makes, and its
# clock (one call per record). leaktrace's own Rust functions carry no
# ftrace entry, so they show as the time between these. sched_switch says
# when vm1's vCPU thread was switched out, and for whom.
BENCH_PROFILE_FUNCS="svm_vcpu_run svm_handle_exit handle_ud kvm_syscall_trap_handle_ud kvm_emulate_instruction kvm_syscall_trap_read_virt kvm_syscall_trap_read_phys leaktrace_clock_ns"

bench_tracer_setup() {
	local fn
	echo 0 >"$BENCH_TRACE/tracing_on" &&
	echo nop >"$BENCH_TRACE/current_tracer" &&
	echo 65536 >"$BENCH_TRACE/buffer_size_kb" &&
	: >"$BENCH_TRACE/set_ftrace_filter" || return 1
	for fn in $BENCH_PROFILE_FUNCS; do
		echo "$fn" >>"$BENCH_TRACE/set_ftrace_filter" 2>/dev/null || echo "not traceable: $fn"
	done
	echo "traced functions: $(tr '\n' ' ' <"$BENCH_TRACE/set_ftrace_filter")"
	echo function >"$BENCH_TRACE/current_tracer" &&
	{ echo 1 >"$BENCH_TRACE/events/sched/sched_switch/enable" || echo "no sched_switch event"; } &&
	echo >"$BENCH_TRACE/trace"
}

bench_tracer_reset() {
	echo 0 >"$BENCH_TRACE/tracing_on" 2>/dev/null
	echo 0 >"$BENCH_TRACE/events/sched/sched_switch/enable" 2>/dev/null
	echo nop >"$BENCH_TRACE/current_tracer" 2>/dev/null
	: >"$BENCH_TRACE/set_ftrace_filter" 2>/dev/null
	echo >"$BENCH_TRACE/trace" 2>/dev/null
	echo 1408 >"$BENCH_TRACE/buffer_size_kb" 2>/dev/null
	return 0
}

# The round's hook: the tracer on from "go" to vm1's end only.
bench_trace_hook() {
	case "$1" in
	on) echo 1 >"$BENCH_TRACE/tracing_on" ;;
	off) echo 0 >"$BENCH_TRACE/tracing_on" ;;
	esac
}

# bench_profile N MODE: on the running VMs, vm1 measuring BENCH_PROFILE
# calls per operation under the function tracer; the trace is kept as
# out/bench/profile-nN-MODE.trace, vm1's QEMU threads as .tids.
bench_profile() {
	local n=$1 mode=$2 tag=profile-n$1-$2 st=0 out=$LT_TMP/profile.out
	lt_stage "bench-$tag"
	lt_log "bench: $tag"
	: >"$out"
	{
		bench_setup "$n" "$mode" &&
		bench_tracer_setup &&
		bench_round "$BENCH_PROFILE" "$tag" bench_trace_hook &&
		ls "/proc/$BENCH_VM1_PID/task" >"$BENCH_OUT/$tag.tids" &&
		bench_counters "$n" "$mode" "$tag" &&
		bench_check "$n" "$mode" "$tag"
	} >>"$out" 2>&1 || st=1
	grep -v '^#' "$BENCH_TRACE/trace" >"$BENCH_OUT/$tag.trace" 2>/dev/null || :
	echo "trace: $(wc -l <"$BENCH_OUT/$tag.trace") lines; $(grep '^overrun' "$BENCH_TRACE/per_cpu/cpu0/stats" 2>/dev/null)" >>"$out"
	bench_tracer_reset
	bench_teardown "$n" "$mode" >>"$out" 2>&1 || st=1
	bench_results "$n" "$mode" "$tag" 2>/dev/null | sed -n 's/^# result /# profile /p'
	grep -v '^# ' "$out" | sed '/^$/d; s/^/# /'
	if [ $st = 0 ]; then
		lt_ok "profile n=$n $mode: function trace of vm1's calls (out/bench/$tag.trace)"
	else
		lt_not_ok "profile n=$n $mode: function trace of vm1's calls"
	fi
}

# bench_modes N: the configurations measured with N VMs.
bench_modes() {
	local mode
	if [ "$1" = 0 ]; then
		echo none
		return
	fi
	for mode in $BENCH_MODES; do
		[ "$mode" = mixed ] && [ "$1" -lt 2 ] && continue
		echo "$mode"
	done
	[ "$1" != 1 ] || [ "$BENCH_ABLATION" != 1 ] || echo $BENCH_ABLATION_MODES | tr ' ' '\n'
}

# bench_boot_or_fail N WHAT...: boot N VMs (N = 0: one); on failure, one
# "not ok" per configuration WHAT that cannot run.
bench_boot_or_fail() {
	local n=$1 what
	shift
	lt_stage "bench-boot-n$n"
	lt_log "bench: booting $n VM(s)"
	if bench_boot "$n" >"$LT_TMP/boot.out" 2>&1; then
		echo "# boot n=$n seconds=$(($(date +%s) - BENCH_T0))"
		return 0
	fi
	sed 's/^/# /' "$LT_TMP/boot.out"
	for what in "$@"; do
		lt_not_ok "$what: the VMs did not boot and wait for L1"
	done
	lt_kill_vms
	return 1
}

bench_main() {
	local n mode count=0 f ns
	bench_mounts
	for n in $BENCH_NS; do
		count=$((count + $(bench_modes "$n" | wc -l)))
	done
	[ "$BENCH_RING" = 0 ] || count=$((count + 1))
	[ "$BENCH_PROFILE" = 0 ] || count=$((count + $(echo $BENCH_PROFILE_RUNS | wc -w)))
	count=$((count + 1))

	echo "TAP version 13"
	echo "1..$count"
	echo "# bench ns=\"$BENCH_NS\" modes=\"$BENCH_MODES\" iterations=$BENCH_ITER warmup=$BENCH_WARMUP rounds=$BENCH_ROUNDS ablation=$BENCH_ABLATION ring=$BENCH_RING profile=$BENCH_PROFILE profile_runs=\"$BENCH_PROFILE_RUNS\""
	echo "# l1 uname=\"$(uname -srvm)\" cpus=$(grep -c ^processor /proc/cpuinfo) model=\"$(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1)\" mem_kb=$(sed -n 's/^MemTotal: *\([0-9]*\).*/\1/p' /proc/meminfo) clocksource=$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource) net=${LT_L2_NET:-0}"
	bench_scripts
	for n in $BENCH_NS; do
		BENCH_T0=$(date +%s)
		if ! bench_boot_or_fail "$([ "$n" = 0 ] && echo 1 || echo "$n")" \
			$(bench_modes "$n" | sed "s/^/n=$n:/"); then
			continue
		fi
		for mode in $(bench_modes "$n"); do
			bench_config "$n" "$mode"
		done
		bench_shutdown >"$LT_TMP/shutdown.out" 2>&1 || :
		sed 's/^/# /' "$LT_TMP/shutdown.out"
	done
	[ "$BENCH_RING" = 0 ] || bench_ring
	# Diagnostic only (no test): what a record copy costs on this CPU.
	"$LT_BIN/lt-membench" 2>&1 | sed 's/^/# /'
	if [ "$BENCH_PROFILE" != 0 ]; then
		for n in $(for f in $BENCH_PROFILE_RUNS; do echo "${f%%:*}"; done | awk '!seen[$0]++'); do
			BENCH_T0=$(date +%s)
			bench_boot_or_fail "$n" $(for f in $BENCH_PROFILE_RUNS; do [ "${f%%:*}" = "$n" ] && echo "profile-n$n:${f#*:}"; done) || continue
			for f in $BENCH_PROFILE_RUNS; do
				[ "${f%%:*}" = "$n" ] || continue
				bench_profile "$n" "${f#*:}"
			done
			bench_shutdown >"$LT_TMP/shutdown.out" 2>&1 || :
			sed 's/^/# /' "$LT_TMP/shutdown.out"
		done
	fi
	lt_test "L1 kernel log has no WARN/BUG/Oops/lockdep splat" lt_check_dmesg
	lt_tap_summary bench
}

bench_main
