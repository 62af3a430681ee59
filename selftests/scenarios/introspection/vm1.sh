#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The introspection scenario: every guest runs lt-ident (from
# selftests/leaktrace/guest, in /usr/bin), which prints what it knows
# about itself (pid, tid, ppid, comm) and its descriptors (fstat,
# readlink /proc/self/fd/N, socket addresses) and marks the calls whose
# task and file records must say the same: files on tmpfs, the initramfs
# root and devtmpfs, directories, a pipe, a socketpair, a TCP connection
# on loopback, a thread, a reparented orphan, prctl and /proc/self/comm
# renames, an execve, and 300 short-lived children. Both guests are
# traced; vm1 boots the testbed kernel, vm2 Debian's stock kernel
# (vm2.kernel). selftests/leaktrace/introspection.sh runs it and checks
# the records with ident-check. vm2.sh sources this script.
echo "LTKERNEL $(uname -r)"
if [ -r /sys/class/dmi/id/product_uuid ]; then
	echo "LTUUID $(cat /sys/class/dmi/id/product_uuid)"
else
	echo "no /sys/class/dmi/id/product_uuid (kernel without CONFIG_DMIID)"
fi
# Loopback for the TCP part (lt-ident also tries, with SIOCSIFFLAGS).
ip link set lo up 2>/dev/null || ifconfig lo up 2>/dev/null || :
cd /tmp || exit 1
lt-ident
