// SPDX-License-Identifier: GPL-2.0
/*
 * lt-syscalls: a guest program whose system calls leaktrace must see.
 *
 * Runs inside an L2 guest of the testbed (static, in /usr/bin). It makes a
 * fixed list of system calls with distinctive arguments through its own
 * `syscall` instruction (so the registers the host traps are exactly those
 * printed here, with no libc wrapper in between), checks each result itself,
 * and prints one expectation per call on stdout:
 *
 *   LTEXPECT proc=main pid=123 nr=1 name=write a0=0x3 a1=0x4c6f20 a2=0x1092 ret=4242 end=returned
 *
 *   proc   which process image made the call: "main" (the program as
 *          started), "fork" (the child between fork and execve), "exec"
 *          (the child after execve, run as "lt-syscalls --child PPID")
 *   pid    that process's pid, as getpid returned it
 *   nr     system call number (x86-64), name for humans
 *   aN     argument N (RDI, RSI, RDX, R10, R8, R9), hex, only those worth
 *          checking (pointers included: the value the call was given)
 *   ret    the return value (RAX at SYSRET), signed decimal, -errno on error;
 *          absent when the call does not return
 *   end    "returned", "no-return" (exit_group) or "not-returned" (a
 *          successful execve: the record must end some other way than
 *          SYSRET)
 *
 * An expectation is printed after its call completes, or just before a call
 * that does not return. The lines of one proc are in the order of its calls.
 * Self-check failures print "LTFAIL <what>" and make the exit status
 * non-zero; success ends with "LTDONE ok" (from "main" only).
 *
 * Exit status: 0 when every self-check passed, 1 otherwise, 2 on bad usage.
 * As "--child PPID": 42 (the status the parent checks), 1 on failure.
 *
 * Output goes through write(2) on fd 1 only, unbuffered, so that a fork
 * never duplicates pending output. Those writes are system calls too: the
 * checker looks for the expected calls as an ordered subsequence of the
 * process's records.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "lt-guest.h"

#define KNOWN_FILE "/tmp/lt-known-file"
#define FILE_LEN 4242
#define PIPE_LEN 17
#define BAD_FD 4242
#define CHILD_STATUS 42
#define BAD_PTR ((void *)8)

static const char *proc = "main";
static long my_pid;
static int failures;

static void fail(const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	say("LTFAIL proc=%s: %s", proc, msg);
	failures++;
}

/*
 * expect(nr, name, ret, end, nargs, a0, a1, ...): one LTEXPECT line. nargs
 * counts the arguments printed, from a0; a negative nargs lists them as
 * (index, value) pairs, for calls where only some are worth checking.
 */
static void expect(long nr, const char *name, long ret, const char *end, int nargs, ...)
{
	char line[512];
	size_t n;
	va_list ap;
	int i;

	n = (size_t)snprintf(line, sizeof(line), "LTEXPECT proc=%s pid=%ld nr=%ld name=%s",
			     proc, my_pid, nr, name);
	va_start(ap, nargs);
	if (nargs >= 0) {
		for (i = 0; i < nargs; i++)
			n += (size_t)snprintf(line + n, sizeof(line) - n, " a%d=%#lx", i,
					      (unsigned long)va_arg(ap, long));
	} else {
		for (i = 0; i < -nargs; i++) {
			int idx = va_arg(ap, int);

			n += (size_t)snprintf(line + n, sizeof(line) - n, " a%d=%#lx", idx,
					      (unsigned long)va_arg(ap, long));
		}
	}
	va_end(ap);
	if (strcmp(end, "returned") == 0)
		n += (size_t)snprintf(line + n, sizeof(line) - n, " ret=%ld", ret);
	snprintf(line + n, sizeof(line) - n, " end=%s", end);
	say("%s", line);
}

/* The pid in /proc/self/stat, read with plain calls: another witness. */
static long stat_pid(void)
{
	char buf[64];
	long fd, n, pid = 0;
	int i;

	fd = raw4(SYS_openat, AT_FDCWD, "/proc/self/stat", O_RDONLY, 0);
	if (fd < 0)
		return fd;
	n = raw3(SYS_read, fd, buf, sizeof(buf) - 1);
	raw1(SYS_close, fd);
	if (n <= 0)
		return -1;
	for (i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; i++)
		pid = pid * 10 + (buf[i] - '0');
	return i > 0 && i < n && buf[i] == ' ' ? pid : -1;
}

/* getpid, checked against /proc/self/stat; sets my_pid. */
static void do_getpid(void)
{
	long pid = raw0(SYS_getpid), witness;

	my_pid = pid;
	witness = stat_pid();
	if (pid <= 0 || pid != witness)
		fail("getpid returned %ld, /proc/self/stat says %ld", pid, witness);
	expect(SYS_getpid, "getpid", pid, "returned", 0);
}

static unsigned char pattern(size_t i)
{
	return (unsigned char)(i * 7 + 13 + (i >> 8));
}

static void file_calls(void)
{
	static unsigned char wbuf[FILE_LEN], rbuf[FILE_LEN];
	static const char path[] = KNOWN_FILE;
	const long flags_w = O_CREAT | O_WRONLY | O_TRUNC, mode = 0640;
	struct stat st;
	long fd, r;
	size_t i;

	for (i = 0; i < sizeof(wbuf); i++)
		wbuf[i] = pattern(i);

	fd = raw4(SYS_openat, AT_FDCWD, path, flags_w, mode);
	if (fd < 0)
		fail("openat(%s, O_CREAT|O_WRONLY|O_TRUNC, 0640) = %ld", path, fd);
	expect(SYS_openat, "openat", fd, "returned", 4, (long)AT_FDCWD, (long)path, flags_w, mode);

	r = raw3(SYS_write, fd, wbuf, FILE_LEN);
	if (r != FILE_LEN)
		fail("write(%ld, buf, %d) = %ld", fd, FILE_LEN, r);
	expect(SYS_write, "write", r, "returned", 3, fd, (long)wbuf, (long)FILE_LEN);

	r = raw1(SYS_close, fd);
	if (r != 0)
		fail("close(%ld) = %ld", fd, r);
	expect(SYS_close, "close", r, "returned", 1, fd);

	fd = raw4(SYS_openat, AT_FDCWD, path, O_RDONLY, 0);
	if (fd < 0)
		fail("openat(%s, O_RDONLY) = %ld", path, fd);
	expect(SYS_openat, "openat", fd, "returned", 3, (long)AT_FDCWD, (long)path, (long)O_RDONLY);

	r = raw2(SYS_fstat, fd, &st);
	if (r != 0 || st.st_size != FILE_LEN || (st.st_mode & 07777) != mode || !S_ISREG(st.st_mode))
		fail("fstat(%ld) = %ld: size %ld mode %#o, expected %d %#lo", fd, r,
		     (long)st.st_size, (unsigned)st.st_mode, FILE_LEN, mode);
	expect(SYS_fstat, "fstat", r, "returned", 2, fd, (long)&st);

	/*
	 * The bad pointer, at offset 0 (at EOF, read returns 0 without
	 * touching the buffer): the kernel must refuse it, not the libc, and
	 * consume nothing, which the full read below checks.
	 */
	r = raw3(SYS_read, fd, BAD_PTR, 16);
	if (r != -14)
		fail("read(%ld, %p, 16) = %ld, expected -EFAULT (-14)", fd, BAD_PTR, r);
	expect(SYS_read, "read", r, "returned", 3, fd, (long)BAD_PTR, 16L);

	r = raw3(SYS_read, fd, rbuf, FILE_LEN);
	if (r != FILE_LEN)
		fail("read(%ld, buf, %d) = %ld", fd, FILE_LEN, r);
	else if (memcmp(rbuf, wbuf, FILE_LEN) != 0)
		fail("read back different bytes from %s", path);
	expect(SYS_read, "read", r, "returned", 3, fd, (long)rbuf, (long)FILE_LEN);

	r = raw1(SYS_close, fd);
	if (r != 0)
		fail("close(%ld) = %ld", fd, r);
	expect(SYS_close, "close", r, "returned", 1, fd);

	r = raw1(SYS_close, BAD_FD);
	if (r != -9)
		fail("close(%d) = %ld, expected -EBADF (-9)", BAD_FD, r);
	expect(SYS_close, "close", r, "returned", 1, (long)BAD_FD);
}

static void pipe_calls(void)
{
	static const char msg[PIPE_LEN + 1] = "leaktrace-pipe-17";
	char got[PIPE_LEN + 8];
	int pfd[2] = { -1, -1 };
	long r;

	r = raw2(SYS_pipe2, pfd, O_CLOEXEC);
	if (r != 0 || pfd[0] < 0 || pfd[1] < 0 || pfd[0] == pfd[1])
		fail("pipe2 = %ld, fds %d %d", r, pfd[0], pfd[1]);
	expect(SYS_pipe2, "pipe2", r, "returned", 2, (long)pfd, (long)O_CLOEXEC);

	r = raw3(SYS_write, pfd[1], msg, PIPE_LEN);
	if (r != PIPE_LEN)
		fail("write(pipe %d, %d) = %ld", pfd[1], PIPE_LEN, r);
	expect(SYS_write, "write", r, "returned", 3, (long)pfd[1], (long)msg, (long)PIPE_LEN);

	memset(got, 0, sizeof(got));
	r = raw3(SYS_read, pfd[0], got, PIPE_LEN);
	if (r != PIPE_LEN || memcmp(got, msg, PIPE_LEN) != 0)
		fail("read(pipe %d, %d) = %ld, '%.*s'", pfd[0], PIPE_LEN, r, PIPE_LEN, got);
	expect(SYS_read, "read", r, "returned", 3, (long)pfd[0], (long)got, (long)PIPE_LEN);

	r = raw1(SYS_close, pfd[0]);
	if (r != 0)
		fail("close(%d) = %ld", pfd[0], r);
	expect(SYS_close, "close", r, "returned", 1, (long)pfd[0]);
	r = raw1(SYS_close, pfd[1]);
	if (r != 0)
		fail("close(%d) = %ld", pfd[1], r);
	expect(SYS_close, "close", r, "returned", 1, (long)pfd[1]);
}

static void process_calls(char **envp)
{
	static const char self[] = "/proc/self/exe";
	static char ppid_arg[24];
	static char *child_argv[] = { "lt-syscalls", "--child", ppid_arg, NULL };
	long child, r, status_raw;
	int status = -1;

	snprintf(ppid_arg, sizeof(ppid_arg), "%ld", my_pid);
	child = raw0(SYS_fork);
	if (child == 0) {
		/* The child, until execve: its own pid first, for the checker. */
		proc = "fork";
		do_getpid();
		expect(SYS_execve, "execve", 0, "not-returned", 3, (long)self, (long)child_argv,
		       (long)envp);
		r = raw3(SYS_execve, self, child_argv, envp);
		fail("execve(%s) = %ld", self, r);
		raw1(SYS_exit_group, 1);
	}
	if (child < 0)
		fail("fork = %ld", child);
	expect(SYS_fork, "fork", child, "returned", 0);
	if (child < 0)
		return;

	r = raw4(SYS_wait4, child, &status, 0, NULL);
	if (r != child)
		fail("wait4(%ld) = %ld", child, r);
	else if (!WIFEXITED(status) || WEXITSTATUS(status) != CHILD_STATUS)
		fail("child %ld: wait status %#x, expected exit %d", child, status, CHILD_STATUS);
	status_raw = (long)&status;
	expect(SYS_wait4, "wait4", r, "returned", 4, child, status_raw, 0L, 0L);
}

/* "lt-syscalls --child PPID": the execve'd child. */
static int child_main(const char *ppid_text)
{
	long ppid = 0, r;
	const char *p;

	proc = "exec";
	for (p = ppid_text; *p >= '0' && *p <= '9'; p++)
		ppid = ppid * 10 + (*p - '0');
	do_getpid();
	r = raw0(SYS_getppid);
	if (p == ppid_text || *p || r != ppid)
		fail("getppid = %ld, parent said it is '%s'", r, ppid_text);
	if (failures)
		return 1;
	expect(SYS_exit_group, "exit_group", 0, "no-return", 1, (long)CHILD_STATUS);
	raw1(SYS_exit_group, CHILD_STATUS);
	return 1; /* not reached */
}

int main(int argc, char **argv, char **envp)
{
	if (argc == 3 && strcmp(argv[1], "--child") == 0)
		return child_main(argv[2]);
	if (argc != 1) {
		say("usage: lt-syscalls (no arguments)");
		return 2;
	}
	do_getpid();
	say("LTSTART pid=%ld", my_pid);
	file_calls();
	pipe_calls();
	process_calls(envp);
	if (failures) {
		say("LTDONE failed (%d)", failures);
		return 1;
	}
	say("LTDONE ok");
	return 0;
}
