#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Diffusion scenario "local", guest 3: memory and messages. mmap (read,
# and shared write), a memfd, POSIX shared memory, System V shared memory
# and message queues, a POSIX message queue, UNIX socketpairs (stream and
# datagram, with an innocent process on the sender's end), a UNIX stream
# connection, TCP and UDP on loopback. ./expected lists the exact edges.
S=/scenario/files
fails=0

# run CMD...: CMD, and an LTFAIL line if it fails (the script goes on; on
# stderr, which redirections of CMD's stdout leave to the log).
run() {
	"$@"
	rc=$?
	[ "$rc" = 0 ] || { echo "LTFAIL vm3: $*: exit $rc" >&2; fails=$((fails + 1)); }
}

# wait_for FILE: until FILE exists (10 s at most).
wait_for() {
	i=0
	until [ -e "$1" ]; do
		i=$((i + 1))
		[ $i -lt 100 ] || { echo "LTFAIL vm3: $1 never appeared" >&2; fails=$((fails + 1)); return 1; }
		sleep 0.1
	done
}

# POSIX shared memory lives in /dev/shm.
mkdir -p /dev/shm
run mount -t tmpfs shm /dev/shm

run lt-diffuse mmap-read $S/secret-1.txt /tmp/mmap-read.out
run lt-diffuse mmap-write $S/secret-2.txt /tmp/mmap-write.out
run lt-diffuse memfd $S/secret-3.txt /tmp/memfd.out
run lt-diffuse posix-shm $S/secret-4.txt /tmp/posix-shm.out
run lt-diffuse sysv-shm $S/secret-5.txt /tmp/sysv-shm.out
run lt-diffuse sysv-msg $S/secret-6.txt /tmp/sysv-msg.out
run lt-diffuse posix-mq $S/secret-7.txt /tmp/posix-mq.out
run lt-diffuse socketpair-stream $S/secret-8.txt /tmp/sps.out
run lt-diffuse socketpair-dgram $S/secret-9.txt /tmp/spd.out
run lt-diffuse unix-stream $S/secret-10.txt /tmp/unix.out

# TCP on loopback (write, read); the sender retries until the receiver
# listens. The receiver is blocked in read when the data comes, as servers
# are.
lt-diffuse tcp-recv 127.0.0.1 7001 /tmp/tcp.out &
receiver=$!
run lt-diffuse tcp-send $S/secret-11.txt 127.0.0.1 7001
wait $receiver || { echo "LTFAIL vm3: tcp-recv" >&2; fails=$((fails + 1)); }

# UDP on loopback: a connected socket and sendmmsg, recvmmsg; the receiver
# is blocked in recvmmsg.
lt-diffuse udp-recv -m 127.0.0.1 7002 /tmp/udp.out /tmp/udp.ready &
receiver=$!
wait_for /tmp/udp.ready && run lt-diffuse udp-send -c $S/secret-12.txt 127.0.0.1 7002
wait $receiver || { echo "LTFAIL vm3: udp-recv" >&2; fails=$((fails + 1)); }

# The same, the receivers reading only once the sender has exited (their
# gate file is created then): a read that cannot return before the write.
lt-diffuse -n tcp-gated-recv tcp-recv -g /tmp/tcp.gate 127.0.0.1 7003 /tmp/tcp-gated.out &
receiver=$!
run lt-diffuse -n tcp-gated-send tcp-send $S/secret-11.txt 127.0.0.1 7003
: >/tmp/tcp.gate
wait $receiver || { echo "LTFAIL vm3: tcp-recv -g" >&2; fails=$((fails + 1)); }
lt-diffuse -n udp-gated-recv udp-recv -m -g /tmp/udp.gate 127.0.0.1 7004 /tmp/udp-gated.out /tmp/udp-gated.ready &
receiver=$!
wait_for /tmp/udp-gated.ready && run lt-diffuse -n udp-gated-send udp-send -c $S/secret-12.txt 127.0.0.1 7004
: >/tmp/udp.gate
wait $receiver || { echo "LTFAIL vm3: udp-recv -g" >&2; fails=$((fails + 1)); }

if [ $fails = 0 ]; then
	echo "LTDONE ok"
else
	echo "LTDONE failed ($fails)"
	exit 1
fi
