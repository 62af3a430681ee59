#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Diffusion scenario "local", guest 1: files and their names, pipes and
# FIFOs, kernel copies, the read and write system calls, duplicated
# descriptors, truncation, several secrets in one file. ./expected lists the exact edges; selftests/leaktrace/
# diffusion.sh checks them with diffusion-check.
#
# The script's shell never reads anything confidential (no command
# substitution, no pipeline it reads): it only forks, redirects and waits,
# so it stays innocent and its children start clean. busybox cat and cp
# copy with sendfile(2): a kernel copy, so cat itself stays clean too,
# except when it reads a FIFO (sendfile cannot, cat falls back to
# read/write).
S=/scenario/files
fails=0

# run CMD...: CMD, and an LTFAIL line if it fails (the script goes on; on
# stderr, which redirections of CMD's stdout leave to the log).
run() {
	"$@"
	rc=$?
	[ "$rc" = 0 ] || { echo "LTFAIL vm1: $*: exit $rc" >&2; fails=$((fails + 1)); }
}

# Names: a copy, renamed; a hard link, the old name removed; an open file
# unlinked, read through its descriptor; a truncated file rewritten with
# public text, still confidential.
run cat $S/secret-1.txt >/tmp/cat.out
run mv /tmp/cat.out /tmp/renamed.out
run cat /tmp/renamed.out >/tmp/renamed-copy.out
run ln /tmp/renamed-copy.out /tmp/link.out
run rm /tmp/renamed-copy.out
run cat /tmp/link.out >/tmp/link-copy.out
exec 3</tmp/link-copy.out
run rm /tmp/link-copy.out
run cat <&3 >/tmp/unlinked-copy.out
exec 3<&-
echo "public now" >/tmp/link.out
run cat /tmp/link.out >/tmp/trunc-copy.out

# A pipe (cat's stdin is the secret, a dup'd descriptor) and a FIFO.
cat <$S/secret-2.txt | tr a-z A-Z >/tmp/tr.out || { echo "LTFAIL vm1: cat | tr"; fails=$((fails + 1)); }
mkfifo /tmp/fifo
cat /tmp/fifo >/tmp/fifo.out &
reader=$!
run cat $S/secret-3.txt >/tmp/fifo
wait $reader || { echo "LTFAIL vm1: cat /tmp/fifo"; fails=$((fails + 1)); }

# Kernel copies; lt-diffuse's own output goes to a .note file, which it
# writes after the copy: it must stay clean.
run lt-diffuse sendfile $S/secret-4.txt /tmp/sendfile.out >/tmp/sendfile.note
run lt-diffuse splice $S/secret-5.txt /tmp/splice.out >/tmp/splice.note
run lt-diffuse tee $S/secret-6.txt /tmp/tee.out >/tmp/tee.note
# copy_file_range within one file system: /scenario is the initramfs.
run lt-diffuse copy-range $S/secret-7.txt /scenario/copy-range.out >/tmp/copy-range.note
run lt-diffuse vmsplice $S/secret-8.txt /tmp/vmsplice.out

# Every read and write system call, one process each.
for v in read pread readv preadv preadv2; do
	run lt-diffuse rw $v $S/secret-9.txt /tmp/rw-$v.out
done

# Descriptors: the data goes through duplicates (dup, dup2, dup3,
# fcntl(F_DUPFD)), the original descriptors closed first.
for v in dup dup2 dup3 fcntl; do
	run lt-diffuse dup $v $S/secret-13.txt /tmp/dup-$v.out
done
# truncate(2) and ftruncate(2) by clean processes that then write public
# text: the files stay confidential.
run lt-diffuse truncate truncate /tmp/dup-dup.out "public now"
run lt-diffuse -n trunc-reader-1 rw read /tmp/dup-dup.out /tmp/trunc-1.out
run lt-diffuse truncate ftruncate /tmp/dup-dup2.out "public now"
run lt-diffuse -n trunc-reader-2 rw read /tmp/dup-dup2.out /tmp/trunc-2.out

# Two secrets (ids 0 and 1) in one file, then in one process.
run cat $S/secret-10.txt $S/deep/a/b/key.txt >/tmp/both.out
run lt-diffuse -n both rw read /tmp/both.out /tmp/both-copy.out

# Not confidential: a public file, and a file named like a secret outside
# the glob.
run cat $S/public.txt >/tmp/public-copy.out
run lt-diffuse -n public-reader rw read $S/public.txt /tmp/public-reader.out
run cp $S/public.txt /tmp/secret-decoy.txt
run lt-diffuse -n decoy rw read /tmp/secret-decoy.txt /tmp/decoy.out

if [ $fails = 0 ]; then
	echo "LTDONE ok"
else
	echo "LTDONE failed ($fails)"
	exit 1
fi
