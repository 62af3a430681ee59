#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Diffusion scenario "local", guest 2: processes. A tainted parent's child
# inherits its secrets whatever made it (fork, vfork, clone, clone3); exec
# keeps them; threads are the process; a child's secrets are not its
# parent's; exit forgets (a new process with the same pid is clean); a
# process that read a secret only after writing wrote nothing
# confidential; an innocent process stays innocent; a busybox shell that
# read a secret hands it to the program it runs. ./expected lists the
# exact edges.
S=/scenario/files
fails=0

# run CMD...: CMD, and an LTFAIL line if it fails (the script goes on; on
# stderr, which redirections of CMD's stdout leave to the log).
run() {
	"$@"
	rc=$?
	[ "$rc" = 0 ] || { echo "LTFAIL vm2: $*: exit $rc" >&2; fails=$((fails + 1)); }
}

run lt-diffuse fork $S/secret-1.txt /tmp/fork.out
run lt-diffuse vfork $S/secret-2.txt /tmp/vfork.out
run lt-diffuse clone $S/secret-3.txt /tmp/clone.out
run lt-diffuse clone3 $S/secret-4.txt /tmp/clone3.out
run lt-diffuse exec $S/secret-5.txt /tmp/exec.out
run lt-diffuse pthread $S/secret-6.txt /tmp/pthread.out
run lt-diffuse child-reads $S/secret-7.txt /tmp/child-reads.out
run lt-diffuse exit-forget $S/secret-8.txt /tmp/forget.out
run lt-diffuse write-then-read $S/secret-9.txt /tmp/late.out
run lt-diffuse innocent $S/public.txt /tmp/innocent.out

# The inner shell reads a line of a secret (the read builtin), then forks
# and execs tr, which writes public input to a file: tainted by inheritance.
run sh -c "read line <$S/secret-10.txt; tr a-z A-Z <$S/public.txt >/tmp/sh-child.out; exit 0"

if [ $fails = 0 ]; then
	echo "LTDONE ok"
else
	echo "LTDONE failed ($fails)"
	exit 1
fi
