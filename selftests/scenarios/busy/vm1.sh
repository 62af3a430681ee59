# A guest that keeps making system calls for a while and checks that each
# round gave the right result: the host arms, disarms and unloads tracing
# under it (selftests/leaktrace/tracing.sh), and the guest must not notice.
# Runs for LT_BUSY_SECONDS of guest uptime (default 90), prints one line
# per 50 rounds and fails on the first wrong result.
secs=${LT_BUSY_SECONDS:-90}
start=$(cut -d. -f1 /proc/uptime)
round=0
echo "busy: start at uptime $start, for ${secs}s"
while :; do
	now=$(cut -d. -f1 /proc/uptime)
	[ $((now - start)) -lt "$secs" ] || break
	round=$((round + 1))
	echo "round $round payload" >/tmp/busy.txt
	got=$(cat /tmp/busy.txt)
	[ "$got" = "round $round payload" ] || { echo "busy: round $round read back '$got'"; exit 1; }
	# fork + execve + a pipe, and an exit status through wait4.
	got=$(echo "x$round" | tr x y)
	[ "$got" = "y$round" ] || { echo "busy: round $round piped '$got'"; exit 1; }
	sh -c "exit $((round % 7))"
	[ $? = $((round % 7)) ] || { echo "busy: round $round wrong exit status"; exit 1; }
	[ $((round % 50)) != 0 ] || echo "busy: $round rounds"
done
echo "busy: done after $round rounds"
[ "$round" -gt 0 ]
