// SPDX-License-Identifier: GPL-2.0
/*
 * lt-fuzz: a hostile guest program for leaktrace's robustness tests.
 *
 * Runs inside an L2 guest (static, in /usr/bin) and makes, from a seed,
 * a long deterministic stream of system calls with hostile arguments
 * through its own `syscall` instruction: unmapped, kernel, non-canonical
 * and guard-straddling pointers, huge and negative lengths, unterminated,
 * overlong and control-character paths, garbage descriptors (also with
 * garbage in the upper half of an int register), garbage in the upper
 * half of RAX, unknown and x32 system call numbers, hostile socket
 * addresses and message headers (which leaktrace itself reads), clone3
 * and pipe2 pointers, comm names full of escapes, signals to itself
 * (whose handlers return through IRET, not SYSRET), rapid fork/exit,
 * fork storms, thread storms (raw clone) and vfork, exec of itself.
 *
 * What it must never do is harm the guest or depend on timing: every call
 * is one of a fixed list, with arguments chosen so that nothing blocks
 * (descriptors non-blocking, zero timeouts, WNOHANG, futex values that
 * never match), nothing outside its sandbox directory is changed, and no
 * call can replace or fork the fuzzer by accident (clone3 and execve get
 * only pointers that fault or paths that do not exist). So the results
 * depend on the seed only: the program folds every result (the exact
 * return value, or only the errno where the value depends on the run,
 * such as a pid or an mmap address) into a digest, and two runs of the
 * same seed, traced or not, must print the same lines:
 *
 *   LTFUZZ start seed=S calls=N
 *   LTFUZZ chunk=K calls=C digest=D        every -c calls (default 10000)
 *   LTFUZZ end seed=S calls=N ok=A err=B signals=C children=D threads=E digest=D
 *   LTFUZZ stats syscalls=M                (not compared: includes waits)
 *   LTDONE ok
 *
 * Usage: lt-fuzz [-s SEED] [-n CALLS] [-c CHUNK] [-d DIR] [-t|-t -t|-T]
 *        lt-fuzz --child-exit N      (exec'd by the fuzzer: exits with N)
 *
 * -t prints each result as it comes (T CALL op=OP r=RESULT), -t -t also
 * each operation before it runs (to find one that blocks), -T keeps the
 * results with their call's number and first arguments in memory and
 * prints them at the end (to find where two runs diverge without
 * changing their timing).
 *
 * DIR (default /tmp/lt-fuzz) is created, emptied and used as the working
 * directory; it is removed at the end. Exit status 0, or 1 if the setup
 * failed.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lt-guest.h"

#define PAGE 4096UL
#define SCRATCH_PAGES 16
#define SCRATCH_LEN (SCRATCH_PAGES * PAGE)
#define IN_LEN (8 * PAGE)
#define ARENA_PAGES 64
#define ARENA_LEN (ARENA_PAGES * PAGE)
#define RESET_EVERY 1000
#define FD_KEEP 200	/* descriptors from this up are closed at once */
#define STORM 16
#define THREADS 8

/* Kernel, non-canonical and other addresses no user buffer is at. */
#define K_DIRECT 0xffff888000000000UL
#define K_TEXT 0xffffffff81000000UL
#define NONCANON 0x0000800000000000UL
#define NONCANON2 0x8000000000000000UL

#define EFD_NONBLOCK_FLAG 04000	/* O_NONBLOCK */
#define GRND_NONBLOCK_FLAG 1

/* ---- the seeded stream ---- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static unsigned long below(unsigned long n)
{
	return (unsigned long)(rnd() % n);
}

#define PICK(arr) ((arr)[below(sizeof(arr) / sizeof((arr)[0]))])

/* ---- results ---- */

static uint64_t digest = 0x6c742d66757a7aULL;
static unsigned long n_ok, n_err, n_children, n_threads, n_syscalls;
static volatile unsigned long n_signals;
static int tracing, in_child;	/* -t: one line per result (to find a divergence) */
static unsigned long call_no;
/* -T: the results kept in memory and printed at the end (no timing change). */
#define MEMTRACE_MAX 400000
static struct { unsigned long call; unsigned op; long r, nr, a0, a1, a2; } *memtrace;
static long last_nr, last_a0, last_a1, last_a2;
static unsigned long memtrace_n;

static void fold(unsigned op, long value)
{
	uint64_t z = digest ^ ((uint64_t)op << 48) ^ (uint64_t)value;

	z = (z ^ (z >> 33)) * 0xff51afd7ed558ccdULL;
	z = (z ^ (z >> 33)) * 0xc4ceb9fe1a85ec53ULL;
	digest = z ^ (z >> 33);
}

/* The exact result. */
static void exact(unsigned op, long r)
{
	if (r < 0)
		n_err++;
	else
		n_ok++;
	fold(op, r);
	if (tracing && !in_child)
		say("T %lu op=%u r=%ld", call_no, op, r);
	if (memtrace && !in_child && memtrace_n < MEMTRACE_MAX) {
		memtrace[memtrace_n].call = call_no;
		memtrace[memtrace_n].op = op;
		memtrace[memtrace_n].nr = last_nr;
		memtrace[memtrace_n].a0 = last_a0;
		memtrace[memtrace_n].a1 = last_a1;
		memtrace[memtrace_n].a2 = last_a2;
		memtrace[memtrace_n++].r = r;
	}
}

/* Only whether it failed, and how: for results that vary between runs. */
static void sign(unsigned op, long r)
{
	exact(op, r < 0 ? r : 0);
}

/*
 * One fuzzed call: now and then with garbage in RAX's upper half, which
 * the kernel ignores (it dispatches on EAX), so the result is the same.
 */
static long sc(long nr, long a0, long a1, long a2, long a3, long a4, long a5)
{
	n_syscalls++;
	last_nr = nr;
	last_a0 = a0;
	last_a1 = a1;
	last_a2 = a2;
	if (below(8) == 0)
		nr |= (long)(rnd() << 32);
	return raw6(nr, a0, a1, a2, a3, a4, a5);
}

/* A helper call (setup, cleanup, reaping): never garbled. */
static long hc(long nr, long a0, long a1, long a2, long a3)
{
	n_syscalls++;
	return raw6(nr, a0, a1, a2, a3, 0, 0);
}

/* ---- the sandbox ---- */

/*
 * What the kernel reads (inbuf, read-only, a fixed pattern) and what it
 * writes (outbuf) are apart: what the kernel writes (times, random bytes,
 * addresses) varies between runs and must never come back as an input.
 * Each is followed by a guard page. `structs` holds the iovecs, message
 * headers and pollfds the fuzzer builds afresh before each call.
 */
static char *inbuf;		/* IN_LEN bytes, read-only */
static char *outbuf;		/* SCRATCH_LEN bytes */
static char *in_guard, *out_guard;
static char *structs;		/* a page */
static char *arena;		/* the mmap/mprotect/munmap playground */
static char *unterm;		/* a page of 'A' followed by a guard page */
static char longpath[8192];	/* longer than PATH_MAX, terminated */
static char longname[300];	/* longer than NAME_MAX */
static const char *sandbox = "/tmp/lt-fuzz";
static char self_exe[] = "/proc/self/exe";

/* Descriptors opened at each reset, and what they are. */
enum { F_FILE, F_FILE2, F_DIR, F_PIPE_R, F_PIPE_W, F_SP0, F_SP1, F_UDP, F_TCP,
       F_NULL, F_MEMFD, F_EVENT, F_EPOLL, F_UNIX, F_NFDS };
static long fds[F_NFDS];

/* Where sends and connects go (out of the LAN: nothing answers); what binds take. */
static struct sockaddr_in sin_out, sin_bind;
static struct sockaddr_un sun_sock;

/* Names in the sandbox, hostile ones included: the module reads them. */
static const char *names[] = {
	"f0", "f1", "f2", "d0", "d1", "d0/f1", "d0/d1", "d1/f2", "sock0",
	"\x1b[2J\x1b[1;1Hroot# ", "evil\nvm1 cat[1] read /secret",
	"\xe2\x80\xae" "exe.txt", "\xff\xfe\xc0\x80", "-rf", "a b\tc",
};

static long hostile_ptr(void)
{
	static const unsigned long fixed[] = {
		0, 8, 0x1000, K_DIRECT, K_TEXT, NONCANON, NONCANON2, ~0UL,
		0xffffffffff600000UL, /* vsyscall page */
	};

	switch (below(4)) {
	case 0:
		return (long)(below(2) ? in_guard : out_guard);
	case 1:
		/*
		 * Straddles a guard page: inbuf's (fixed bytes), never outbuf's,
		 * whose bytes vary between runs.
		 */
		return (long)(in_guard - 1 - below(7));
	default:
		return (long)PICK(fixed);
	}
}

/*
 * An address range no mapping of ours is in: kernel, non-canonical,
 * unaligned. munmap, mprotect and madvise never get a user address
 * outside the arena (madvise(0, huge, DONTNEED) would zero our data).
 */
static long bad_range(void)
{
	static const unsigned long fixed[] = {
		K_DIRECT, K_TEXT, NONCANON, NONCANON2, ~0UL & ~(PAGE - 1), 0xffffffffff600000UL,
	};

	return below(4) ? (long)PICK(fixed) : (long)(arena + 1 + below(PAGE - 1));
}

/* A buffer the kernel reads from. */
static long in_ptr(void)
{
	switch (below(6)) {
	case 0:
	case 1:
	case 2:
		return (long)(inbuf + below(IN_LEN / 2) * below(2));
	default:
		return hostile_ptr();
	}
}

/* A buffer the kernel writes to (inbuf, read-only, faults). */
static long out_ptr(void)
{
	switch (below(6)) {
	case 0:
	case 1:
		return (long)(outbuf + below(SCRATCH_LEN / 2) * below(2));
	case 2:
		return (long)(inbuf + below(IN_LEN));
	default:
		return hostile_ptr();
	}
}

/*
 * An in/out length or offset (socklen_t *, loff_t *): the kernel reads it
 * and writes it back, so it is set afresh before every call.
 */
static long inout_ptr(void)
{
	static const long vals[] = { 0, 4, 16, 110, 128, 4096, -1, 0x7fffffff };
	long *slot = (long *)(structs + 3072);

	if (below(5) == 0)
		return hostile_ptr();
	*slot = PICK(vals);
	return (long)slot;
}

static long len_any(void)
{
	static const unsigned long lens[] = {
		0, 1, 7, 8, 64, 255, 4096, 65536, 1UL << 20, 0x7ffff000,
		1UL << 31, 1UL << 40, ~0UL, ~0UL >> 1, (unsigned long)-4096,
	};

	return below(4) == 0 ? (long)(rnd() & 0xffff) : (long)PICK(lens);
}

/*
 * A length for calls that copy file data (sendfile, splice...): bounded,
 * since a file copied into itself could otherwise grow until the guest's
 * memory is gone.
 */
static long len_copy(void)
{
	static const long lens[] = { 0, 1, 100, 4096, 65536 };

	return PICK(lens);
}

/* File offsets and sizes that never make a file huge. */
static long off_any(void)
{
	static const unsigned long offs[] = {
		0, 1, 512, 4096, 65536, ~0UL, 1UL << 63, (unsigned long)-4096,
	};

	return (long)PICK(offs);
}

/* A descriptor: ours, ours with a garbage upper half, or garbage. */
static long fd_any(void)
{
	static const long bad[] = { -1, -100, 4242, 0x7fffffff, 1000, 255 };

	switch (below(8)) {
	case 0:
		return PICK(bad);
	case 1:
		return (long)((rnd() << 32) | (uint64_t)fds[below(F_NFDS)]);
	default:
		return fds[below(F_NFDS)];
	}
}

/* A target descriptor number for dup2/dup3: ours, high, or invalid. */
static long fd_target(void)
{
	static const long t[] = { -1, 4242, 0x7fffffff, 64, 150, 199 };

	return below(2) ? fds[below(F_NFDS)] : PICK(t);
}

/* A path: a sandbox name, or something hostile. */
static long path_any(void)
{
	static const char *const other[] = {
		"", ".", "/dev/null", "/", "/tmp", "nonexistent/x", "d0/../f0",
	};

	switch (below(10)) {
	case 0:
		return (long)unterm;
	case 1:
		return (long)longpath;
	case 2:
		return (long)longname;
	case 3:
		return hostile_ptr();
	case 4:
		return (long)PICK(other);
	default:
		return (long)PICK(names);
	}
}

/* A path to change: sandbox names (relative), or hostile ones. */
static long path_rw(void)
{
	switch (below(8)) {
	case 0:
		return (long)unterm;
	case 1:
		return (long)longpath;
	case 2:
		return (long)longname;
	case 3:
		return hostile_ptr();
	default:
		return (long)PICK(names);
	}
}

/* A directory descriptor for the *at calls: the sandbox's, cwd, garbage. */
static long dirfd_any(void)
{
	switch (below(4)) {
	case 0:
		return fds[F_DIR];
	case 1:
		return fd_any();
	default:
		return AT_FDCWD;
	}
}

/* An iovec array, some entries hostile; `out`: the kernel writes. */
static struct iovec *iov_hostile(int out)
{
	struct iovec *iov = (struct iovec *)(structs + 1024);
	int i;

	for (i = 0; i < 16; i++) {
		iov[i].iov_base = (void *)(below(3) ? (out ? out_ptr() : in_ptr()) : hostile_ptr());
		iov[i].iov_len = below(3) ? below(4096) : (size_t)len_any();
	}
	return iov;
}

static long iov_ptr(int out)
{
	return below(5) ? (long)iov_hostile(out) : hostile_ptr();
}

static long iov_cnt(void)
{
	static const long c[] = { 0, 1, 2, 16, 1024, 1025, -1, 0x7fffffff };

	return PICK(c);
}

/*
 * A socket address: out of the LAN, a UNIX socket in the sandbox, garbage
 * or hostile; for bind (`bind`), also the wildcard address. Never the
 * loopback: what arrives there depends on when softirqs run.
 */
static long sockaddr_ptr(long *len, int bind)
{
	static const long lens[] = { 0, 2, 16, 110, 128, 4096, -1 };

	*len = below(2) ? (long)sizeof(struct sockaddr_in) : PICK(lens);
	switch (below(5)) {
	case 0:
		return (long)&sin_out;
	case 1:
		return bind ? (long)&sin_bind : (long)&sin_out;
	case 2:
		*len = below(2) ? (long)sizeof(sun_sock) : *len;
		return (long)&sun_sock;
	case 3:
		return in_ptr();
	default:
		return hostile_ptr();
	}
}

/*
 * A message header with hostile parts (leaktrace reads its name); `out`:
 * for recvmsg, which writes to its buffers.
 */
static long msghdr_ptr(int out)
{
	struct msghdr *m = (struct msghdr *)structs;
	long len;

	if (below(5) == 0)
		return hostile_ptr();
	m->msg_name = (void *)(out ? out_ptr() : sockaddr_ptr(&len, 0));
	if (out)
		len = len_any();
	m->msg_namelen = (socklen_t)len;
	m->msg_iov = (struct iovec *)iov_ptr(out);
	m->msg_iovlen = (size_t)iov_cnt();
	m->msg_control = below(3) ? NULL : (void *)in_ptr();
	m->msg_controllen = below(3) ? 0 : (size_t)len_any();
	m->msg_flags = (int)rnd();
	return (long)m;
}

/* A zero timespec (never block), or a hostile pointer. */
static long timeout_ptr(void)
{
	static struct timespec zero, bad_nsec = { 0, 2000000000L };

	switch (below(4)) {
	case 0:
		return (long)&bad_nsec;
	case 1: {
		long p = hostile_ptr();

		return p ? p : (long)&bad_nsec;	/* NULL would wait forever */
	}
	default:
		return (long)&zero;
	}
}

/* ---- setup and reset ---- */

static void on_signal(int sig)
{
	(void)sig;
	n_signals++;
}

/* Removes NAME in directory DFD, whatever it is (op_deep nests deeply). */
static void remove_at(int dfd, const char *name, int depth)
{
	struct dirent *e;
	int fd, pass;
	DIR *d;

	if (unlinkat(dfd, name, 0) == 0 || depth > 400)
		return;
	fchmodat(dfd, name, 0700, 0);
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
	if (fd >= 0) {
		d = fdopendir(fd);
		if (!d) {
			close(fd);
		} else {
			for (pass = 0; pass < 2; pass++) {
				rewinddir(d);
				while ((e = readdir(d)) != NULL)
					if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
						remove_at(dirfd(d), e->d_name, depth + 1);
			}
			closedir(d);
		}
	}
	unlinkat(dfd, name, AT_REMOVEDIR);
}

static void remove_tree(const char *path)
{
	remove_at(AT_FDCWD, path, 0);
}

static int open_base(void)
{
	int sp[2], p[2];

	fds[F_FILE] = hc(SYS_openat, AT_FDCWD, (long)"f0", O_RDWR | O_CREAT, 0644);
	fds[F_FILE2] = hc(SYS_openat, AT_FDCWD, (long)"f1", O_RDWR | O_CREAT | O_APPEND, 0600);
	fds[F_DIR] = hc(SYS_openat, AT_FDCWD, (long)".", O_RDONLY | O_DIRECTORY, 0);
	if (hc(SYS_pipe2, (long)p, O_NONBLOCK, 0, 0) != 0)
		return -1;
	fds[F_PIPE_R] = p[0];
	fds[F_PIPE_W] = p[1];
	if (hc(SYS_socketpair, AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, (long)sp) != 0)
		return -1;
	fds[F_SP0] = sp[0];
	fds[F_SP1] = sp[1];
	fds[F_UDP] = hc(SYS_socket, AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0, 0);
	fds[F_TCP] = hc(SYS_socket, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0, 0);
	fds[F_NULL] = hc(SYS_openat, AT_FDCWD, (long)"/dev/null", O_RDWR, 0);
	fds[F_MEMFD] = hc(SYS_memfd_create, (long)"lt-fuzz", 0, 0, 0);
	fds[F_EVENT] = hc(SYS_eventfd2, 0, EFD_NONBLOCK_FLAG, 0, 0);
	fds[F_EPOLL] = hc(SYS_epoll_create1, 0, 0, 0, 0);
	fds[F_UNIX] = hc(SYS_socket, AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, 0);
	for (int i = 0; i < F_NFDS; i++)
		if (fds[i] < 0)
			return -1;
	return 0;
}

/*
 * Back to a known state: every descriptor but stdio closed, the sandbox
 * emptied and entered again, signals unblocked, the arena mapped, the
 * base descriptors reopened. Deterministic, like everything else.
 */
static int reset(void)
{
	sigset_t none;

	hc(SYS_close_range, 3, ~0U, 0, 0);
	sigemptyset(&none);
	hc(SYS_rt_sigprocmask, SIG_SETMASK, (long)&none, 0, 8);
	if (chdir("/") != 0)
		return -1;
	remove_tree(sandbox);
	if (mkdir(sandbox, 0755) != 0 || chdir(sandbox) != 0)
		return -1;
	umask(022);
	if (mmap(arena, ARENA_LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != arena)
		return -1;
	prctl(PR_SET_NAME, "lt-fuzz");
	return open_base();
}

/* Keeps the descriptor table small: a new descriptor beyond FD_KEEP goes. */
static void keep_small(long fd)
{
	if (fd >= FD_KEEP && fd < 65536)
		hc(SYS_close, fd, 0, 0, 0);
}

/* ---- processes and threads ---- */

static char thread_stack[THREADS][256] __attribute__((aligned(16)));

/*
 * clone() whose child, in the same instruction stream, calls exit(0) at
 * once without touching memory: safe with CLONE_VM and any stack.
 */
static long clone_and_exit(unsigned long flags, void *stack, int *ctid)
{
	long ret;
	register long r10 __asm__("r10") = (long)ctid;
	register long r8 __asm__("r8") = 0;

	n_syscalls++;
	__asm__ volatile("syscall\n\t"
			 "test %%rax, %%rax\n\t"
			 "jnz 1f\n\t"
			 "mov $60, %%eax\n\t"
			 "xor %%edi, %%edi\n\t"
			 "syscall\n\t"
			 "ud2\n"
			 "1:\n\t"
			 : "=a"(ret)
			 : "a"((long)SYS_clone), "D"(flags), "S"(stack), "d"(0L), "r"(r10), "r"(r8)
			 : "rcx", "r11", "memory");
	return ret;
}

static void fuzz_one(int child);

/* Reaps every child; returns the sum of their exit codes (-1: none). */
static long reap_all(void)
{
	long sum = 0, pid;
	int status, got = 0;

	while ((pid = hc(SYS_wait4, -1, (long)&status, __WALL, 0)) > 0) {
		got++;
		sum += WIFEXITED(status) ? WEXITSTATUS(status) : 1000 + WTERMSIG(status);
	}
	return got ? sum : -1;
}

static void op_fork_exit(unsigned op)
{
	long pid = sc(SYS_fork, 0, 0, 0, 0, 0, 0);
	int status = 0, i;

	if (pid == 0) {
		/* The child: a few calls of its own, its digest as exit code. */
		in_child = 1;
		for (i = 0; i < 8; i++)
			fuzz_one(1);
		raw1(SYS_exit_group, (long)(digest & 0x7f));
	}
	if (pid < 0) {
		sign(op, pid);
		return;
	}
	n_children++;
	hc(SYS_wait4, pid, (long)&status, 0, 0);
	exact(op, status);
}

static void op_fork_storm(unsigned op)
{
	long pid;
	int i, made = 0;

	for (i = 0; i < STORM; i++) {
		pid = sc(SYS_fork, 0, 0, 0, 0, 0, 0);
		if (pid == 0)
			raw1(SYS_exit_group, i);
		if (pid > 0)
			made++;
	}
	n_children += made;
	exact(op, made);
	exact(op, reap_all());
}

static void op_thread_storm(unsigned op)
{
	static int ctid[THREADS];
	const unsigned long flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND |
				    CLONE_THREAD | CLONE_SYSVSEM | CLONE_CHILD_CLEARTID;
	long r;
	int i, made = 0, v;

	for (i = 0; i < THREADS; i++) {
		ctid[i] = 1;
		r = clone_and_exit(flags, thread_stack[i] + sizeof(thread_stack[i]), &ctid[i]);
		if (r > 0)
			made++;
		else
			ctid[i] = 0;
	}
	/* The kernel clears ctid and wakes us when each thread is gone. */
	for (i = 0; i < THREADS; i++)
		while ((v = __atomic_load_n(&ctid[i], __ATOMIC_ACQUIRE)) != 0)
			hc(SYS_futex, (long)&ctid[i], FUTEX_WAIT, v, 0);
	n_threads += made;
	exact(op, made);
}

static void op_vfork(unsigned op)
{
	long r = clone_and_exit(CLONE_VM | CLONE_VFORK | SIGCHLD, thread_stack[0] + 256, NULL);

	if (r > 0)
		n_children++;
	sign(op, r);
	exact(op, reap_all());
}

static void op_exec_child(unsigned op)
{
	long pid = sc(SYS_fork, 0, 0, 0, 0, 0, 0);
	int status = 0;

	if (pid == 0) {
		char code[4] = { (char)('0' + digest % 10), 0 };
		char *argv[] = { self_exe, "--child-exit", code, NULL };
		char *envp[] = { NULL };

		raw3(SYS_execve, (long)self_exe, (long)argv, (long)envp);
		raw1(SYS_exit_group, 99);
	}
	if (pid < 0) {
		sign(op, pid);
		return;
	}
	n_children++;
	hc(SYS_wait4, pid, (long)&status, 0, 0);
	exact(op, status);
}

/*
 * A file deeper than leaktrace follows paths (64 components, 512 bytes):
 * its records must carry the path's tail, marked truncated.
 */
static void op_deep(unsigned op)
{
	static const char comp[] = "deep-directory-level";
	unsigned long depth = 60 + below(50), d;
	long fd;

	for (d = 0; d < depth; d++) {
		hc(SYS_mkdirat, AT_FDCWD, (long)comp, 0755, 0);
		if (hc(SYS_chdir, (long)comp, 0, 0, 0) != 0)
			break;
	}
	fd = sc(SYS_openat, AT_FDCWD, (long)"leaf", O_CREAT | O_RDWR, 0644, 0, 0);
	exact(op, fd);
	if (fd >= 0) {
		exact(op, sc(SYS_write, fd, (long)"deep", 4, 0, 0, 0));
		hc(SYS_close, fd, 0, 0, 0);
	}
	exact(op, (long)d);
	hc(SYS_chdir, (long)sandbox, 0, 0, 0);
}

/* ---- the calls ---- */

static int sig_any(void)
{
	return below(4) ? (below(2) ? SIGUSR1 : SIGUSR2) : (int)below(80) - 5;
}

/*
 * One fuzzed operation. `child`: in a forked child (no process
 * operations there).
 */
static void fuzz_one(int child)
{
	unsigned op = (unsigned)below(child ? 70 : 76);
	long r, a, b, len;
	int fd;

	if (tracing > 1 && !in_child)
		say("S %lu op=%u", call_no, op);

	switch (op) {
	case 0:
		exact(op, sc(SYS_read, fd_any(), out_ptr(), len_any(), 0, 0, 0));
		break;
	case 1:
		exact(op, sc(SYS_write, fd_any(), in_ptr(), below(4) ? len_copy() : len_any(), 0, 0, 0));
		break;
	case 2:
		exact(op, sc(SYS_pread64, fd_any(), out_ptr(), len_any(), off_any(), 0, 0));
		break;
	case 3:
		exact(op, sc(SYS_pwrite64, fd_any(), in_ptr(), len_copy(), off_any(), 0, 0));
		break;
	case 4:
		exact(op, sc(SYS_readv, fd_any(), iov_ptr(1), iov_cnt(), 0, 0, 0));
		break;
	case 5:
		exact(op, sc(SYS_writev, fd_any(), iov_ptr(0), iov_cnt(), 0, 0, 0));
		break;
	case 6:
		r = sc(SYS_preadv2, fd_any(), iov_ptr(1), iov_cnt(), off_any(), 0, (long)(rnd() & 0x3f));
		exact(op, r);
		break;
	case 7:
		r = sc(SYS_openat, dirfd_any(), path_any(), (long)(rnd() & 0x7fffff & ~O_PATH), (long)(rnd() & 07777), 0, 0);
		exact(op, r);
		keep_small(r);
		break;
	case 8:
		exact(op, sc(SYS_close, fd_any(), 0, 0, 0, 0, 0));
		break;
	case 9:
		exact(op, sc(SYS_newfstatat, dirfd_any(), path_any(), out_ptr(), (long)(rnd() & 0x1fff), 0, 0));
		break;
	case 10:
		exact(op, sc(SYS_fstat, fd_any(), out_ptr(), 0, 0, 0, 0));
		break;
	case 11:
		exact(op, sc(SYS_statx, dirfd_any(), path_any(), (long)(rnd() & 0x7fff), (long)rnd(), out_ptr(), 0));
		break;
	case 12:
		exact(op, sc(SYS_lseek, fd_any(), off_any(), (long)below(6), 0, 0, 0));
		break;
	case 13:
		exact(op, sc(SYS_getdents64, fd_any(), out_ptr(), len_any(), 0, 0, 0));
		break;
	case 14:
		exact(op, sc(SYS_mkdirat, dirfd_any(), path_rw(), (long)(rnd() & 07777), 0, 0, 0));
		break;
	case 15:
		exact(op, sc(SYS_unlinkat, dirfd_any(), path_rw(), below(2) ? 0 : AT_REMOVEDIR | (long)(rnd() & 0xff00), 0, 0, 0));
		break;
	case 16:
		exact(op, sc(SYS_renameat2, dirfd_any(), path_rw(), dirfd_any(), path_rw(), (long)below(8), 0));
		break;
	case 17:
		exact(op, sc(SYS_linkat, dirfd_any(), path_rw(), dirfd_any(), path_rw(), below(2) ? 0 : (long)rnd(), 0));
		break;
	case 18:
		/* Symlinks point inside the sandbox (or nowhere). */
		exact(op, sc(SYS_symlinkat, below(4) ? (long)PICK(names) : path_rw(), dirfd_any(), path_rw(), 0, 0, 0));
		break;
	case 19:
		exact(op, sc(SYS_readlinkat, dirfd_any(), path_any(), out_ptr(), len_any(), 0, 0));
		break;
	case 20:
		exact(op, sc(SYS_fchmodat, dirfd_any(), path_rw(), (long)(rnd() & 07777), 0, 0, 0));
		break;
	case 21:
		exact(op, sc(SYS_fchmod, fd_any(), (long)(rnd() & 07777), 0, 0, 0, 0));
		break;
	case 22:
		exact(op, sc(SYS_ftruncate, fd_any(), off_any() == 1 ? len_copy() : off_any(), 0, 0, 0, 0));
		break;
	case 23:
		exact(op, sc(SYS_truncate, path_rw(), len_copy(), 0, 0, 0, 0));
		break;
	case 24:
		exact(op, sc(SYS_faccessat2, dirfd_any(), path_any(), (long)below(16), (long)(rnd() & 0x1fff), 0, 0));
		break;
	case 25: {
		static const char *const dirs[] = { "d0", "d1", "d0/d1", "nonexistent", "f0" };

		a = below(3) ? (long)PICK(dirs) : path_rw();
		exact(op, sc(SYS_chdir, a, 0, 0, 0, 0, 0));
		break;
	}
	case 26:
		exact(op, sc(SYS_getcwd, out_ptr(), len_any(), 0, 0, 0, 0));
		break;
	case 27:
		r = sc(SYS_dup, fd_any(), 0, 0, 0, 0, 0);
		exact(op, r);
		keep_small(r);
		break;
	case 28:
		r = sc(SYS_dup3, fd_any(), fd_target(), below(2) ? 0 : (long)(rnd() & 0xfffff), 0, 0, 0);
		exact(op, r);
		keep_small(r);
		break;
	case 29: {
		static const long cmds[] = {
			F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_DUPFD, F_DUPFD_CLOEXEC, F_GETLK,
			F_SETLK, F_GETPIPE_SZ, F_SETPIPE_SZ, F_GET_SEALS, F_ADD_SEALS, 0x7777,
		};
		long cmd = PICK(cmds);

		a = cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC ? 3 + (long)below(60)
		    : cmd == F_GETLK || cmd == F_SETLK ? in_ptr() : len_any();
		if (cmd == F_SETFL)
			a |= O_NONBLOCK;	/* never a blocking descriptor */
		if (below(4) == 0)
			cmd |= (long)(rnd() << 32);	/* an unsigned int: ignored */
		r = sc(SYS_fcntl, fd_any(), cmd, a, 0, 0, 0);
		exact(op, r);
		if ((cmd & 0xffffffff) == F_DUPFD || (cmd & 0xffffffff) == F_DUPFD_CLOEXEC)
			keep_small(r);
		break;
	}
	case 30: {
		/* Never FIONBIO or FIOASYNC, nor socket or terminal requests. */
		static const unsigned long cmds[] = {
			0x541b /* FIONREAD */, 0x5451 /* FIOCLEX */, 0x5450 /* FIONCLEX */,
			0x80086601 /* FS_IOC_GETFLAGS */, 0x5401 /* TCGETS */, 0xdead0001,
		};
		unsigned long cmd = below(2) ? PICK(cmds)
			: ((rnd() & 3) << 30) | ((rnd() & 0x3fff) << 16) | ('L' << 8) | below(16);

		exact(op, sc(SYS_ioctl, fd_any(), (long)cmd, out_ptr(), 0, 0, 0));
		break;
	}
	case 31: {
		/* Never MAP_FIXED outside the arena, never populate or lock. */
		long addr = below(3) == 0 ? (long)arena : below(2) ? 0 : hostile_ptr();
		long flags = (long)(rnd() & 0xfffff) & ~(MAP_FIXED | MAP_FIXED_NOREPLACE | MAP_POPULATE | MAP_LOCKED | MAP_GROWSDOWN);

		len = below(2) ? (long)((1 + below(ARENA_PAGES)) * PAGE) : len_any();
		if (addr == (long)arena && len <= (long)ARENA_LEN && len > 0 && below(2))
			flags |= MAP_FIXED;
		r = sc(SYS_mmap, addr, len, (long)(rnd() & 0xf), flags, below(3) ? -1 : fd_any(), off_any() & ~(PAGE - 1));
		sign(op, r);
		if (r >= 0 && r != (long)arena)
			hc(SYS_munmap, r, len, 0, 0);
		break;
	}
	case 32:
	case 33:
	case 34: {
		/* munmap, mprotect, madvise: in the arena, or hostile. */
		static const long advice[] = { 0, 1, 2, 3, 4, 8, 20, 21, 200 };
		long addr = below(4) ? (long)(arena + below(ARENA_PAGES) * PAGE + (below(8) == 0)) : bad_range();

		len = (long)(below(ARENA_PAGES) * PAGE);
		if (addr >= (long)arena && addr < (long)arena + (long)ARENA_LEN)
			len = len > (long)arena + (long)ARENA_LEN - addr ? (long)arena + (long)ARENA_LEN - addr : len;
		else
			len = len_any();
		if (op == 32)
			r = sc(SYS_munmap, addr, len, 0, 0, 0, 0);
		else if (op == 33)
			r = sc(SYS_mprotect, addr, len, (long)(rnd() & 0xf), 0, 0, 0);
		else
			r = sc(SYS_madvise, addr, len, PICK(advice), 0, 0, 0);
		exact(op, r);
		break;
	}
	case 35:
		len = (long)(below(ARENA_PAGES) * PAGE);
		exact(op, sc(SYS_mincore, below(3) ? (long)arena : bad_range(), len, out_ptr(), 0, 0, 0));
		break;
	case 36:
		sign(op, sc(SYS_brk, 0, 0, 0, 0, 0, 0));
		break;
	case 37: {
		long p = out_ptr();

		r = sc(SYS_pipe2, p, (long)(rnd() & (O_CLOEXEC | O_DIRECT | 0x100)) | O_NONBLOCK, 0, 0, 0, 0);
		exact(op, r);
		if (r == 0) {
			keep_small(((int *)p)[0]);
			keep_small(((int *)p)[1]);
		}
		break;
	}
	case 38: {
		static const long domains[] = { AF_UNIX, AF_INET, AF_INET6, 77 };
		static const long types[] = { SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET, SOCK_RAW, 11 };
		long p = out_ptr();

		r = sc(SYS_socketpair, PICK(domains), PICK(types) | SOCK_NONBLOCK, (long)below(3), p, 0, 0);
		exact(op, r);
		if (r == 0) {
			keep_small(((int *)p)[0]);
			keep_small(((int *)p)[1]);
		}
		break;
	}
	case 39: {
		static const long domains[] = { AF_UNIX, AF_INET, AF_INET6, 77, -1 };
		static const long types[] = { SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET, SOCK_RAW, 11 };

		r = sc(SYS_socket, PICK(domains), PICK(types) | SOCK_NONBLOCK, (long)below(20), 0, 0, 0);
		exact(op, r);
		keep_small(r);
		break;
	}
	case 40:
		a = sockaddr_ptr(&len, 1);
		exact(op, sc(SYS_bind, fd_any(), a, len, 0, 0, 0));
		break;
	case 41:
		a = sockaddr_ptr(&len, 0);
		exact(op, sc(SYS_connect, fd_any(), a, len, 0, 0, 0));
		break;
	case 42:
		a = sockaddr_ptr(&len, 0);
		exact(op, sc(SYS_sendto, fd_any(), in_ptr(), below(4) ? len_copy() : len_any(),
			     (long)(rnd() & 0x8fff) | MSG_DONTWAIT, below(4) ? a : 0, len));
		break;
	case 43:
		exact(op, sc(SYS_recvfrom, fd_any(), out_ptr(), len_any(), (long)(rnd() & 0x4fff) | MSG_DONTWAIT,
			     below(2) ? 0 : out_ptr(), below(2) ? 0 : inout_ptr()));
		break;
	case 44:
		exact(op, sc(SYS_sendmsg, fd_any(), msghdr_ptr(0), (long)(rnd() & 0x8fff) | MSG_DONTWAIT, 0, 0, 0));
		break;
	case 45:
		exact(op, sc(SYS_recvmsg, fd_any(), msghdr_ptr(1), (long)(rnd() & 0x4fff) | MSG_DONTWAIT, 0, 0, 0));
		break;
	case 46:
		exact(op, sc(SYS_shutdown, fd_any(), (long)below(4), 0, 0, 0, 0));
		break;
	case 47:
		exact(op, sc(SYS_listen, fd_any(), below(2) ? 4 : (long)rnd(), 0, 0, 0, 0));
		break;
	case 48:
		r = sc(SYS_accept4, fd_any(), below(2) ? 0 : out_ptr(), below(2) ? 0 : inout_ptr(),
		       (long)(rnd() & SOCK_CLOEXEC) | SOCK_NONBLOCK, 0, 0);
		exact(op, r);
		keep_small(r);
		break;
	case 49:
		exact(op, sc(below(2) ? SYS_getsockname : SYS_getpeername, fd_any(), out_ptr(), inout_ptr(), 0, 0, 0));
		break;
	case 50: {
		static const long levels[] = { SOL_SOCKET, IPPROTO_IP, IPPROTO_TCP, IPPROTO_UDP, 999 };
		long opt = (long)below(70);

		if (opt == SO_LINGER)	/* could make a close wait */
			opt = 1000;
		if (below(2))
			exact(op, sc(SYS_setsockopt, fd_any(), PICK(levels), opt, in_ptr(), len_any(), 0));
		else
			exact(op, sc(SYS_getsockopt, fd_any(), PICK(levels), opt, out_ptr(), inout_ptr(), 0));
		break;
	}
	case 51:
		exact(op, sc(SYS_sendfile, fd_any(), fd_any(), below(2) ? 0 : inout_ptr(), len_copy(), 0, 0));
		break;
	case 52:
		exact(op, sc(SYS_splice, fd_any(), below(2) ? 0 : inout_ptr(), fd_any(), below(2) ? 0 : inout_ptr(),
			     len_copy(), (long)(rnd() & 0xf) | SPLICE_F_NONBLOCK));
		break;
	case 53:
		exact(op, sc(SYS_tee, fd_any(), fd_any(), len_copy(), (long)(rnd() & 0xf) | SPLICE_F_NONBLOCK, 0, 0));
		break;
	case 54:
		exact(op, sc(SYS_copy_file_range, fd_any(), below(2) ? 0 : inout_ptr(), fd_any(),
			     below(2) ? 0 : inout_ptr(), len_copy(), below(4) ? 0 : (long)rnd()));
		break;
	case 55:
		exact(op, sc(SYS_vmsplice, fd_any(), iov_ptr(0), iov_cnt(), (long)(rnd() & 0xf) | SPLICE_F_NONBLOCK, 0, 0));
		break;
	case 56:
		r = sc(SYS_memfd_create, path_any(), (long)(rnd() & 0x1f), 0, 0, 0, 0);
		exact(op, r);
		keep_small(r);
		break;
	case 57:
		r = below(2) ? sc(SYS_eventfd2, (long)rnd(), (long)(rnd() & 0x80001) | EFD_NONBLOCK_FLAG, 0, 0, 0, 0)
			     : sc(SYS_timerfd_create, (long)below(12), (long)(rnd() & 0x80000) | 04000, 0, 0, 0, 0);
		exact(op, r);
		keep_small(r);
		break;
	case 58:
		if (below(2)) {
			r = sc(SYS_epoll_ctl, fd_any(), (long)below(5), fd_any(), in_ptr(), 0, 0);
		} else {
			r = sc(SYS_epoll_wait, fd_any(), out_ptr(), below(2) ? 16 : (long)rnd(), 0, 0, 0);
		}
		exact(op, r);
		break;
	case 59: {
		struct pollfd *p = (struct pollfd *)(structs + 2048);
		int i;

		for (i = 0; i < 8; i++) {
			p[i].fd = (int)fd_any();
			p[i].events = (short)rnd();
		}
		a = below(3) ? (long)p : hostile_ptr();
		if (below(2))
			r = sc(SYS_poll, a, below(2) ? 8 : (long)rnd(), 0, 0, 0, 0);
		else
			r = sc(SYS_ppoll, a, below(2) ? 8 : (long)rnd(), timeout_ptr(), below(2) ? 0 : in_ptr(), (long)below(16), 0);
		exact(op, r);
		break;
	}
	case 60: {
		static const long nfds_pool[] = { 0, 1, 64, 1024, 1025, -1 };

		exact(op, sc(SYS_pselect6, PICK(nfds_pool), below(2) ? 0 : in_ptr(), below(2) ? 0 : in_ptr(),
			     below(2) ? 0 : in_ptr(), timeout_ptr(), below(2) ? 0 : in_ptr()));
		break;
	}
	case 61: {
		/* WAIT only with a value that does not match: never blocks. */
		static const long ops[] = { FUTEX_WAKE, FUTEX_WAIT, FUTEX_WAIT_BITSET, FUTEX_REQUEUE, 99 };
		long fop = PICK(ops) | (below(2) ? FUTEX_PRIVATE_FLAG : 0);
		long uaddr = below(3) ? (long)(inbuf + 4 * below(IN_LEN / 4) + (below(8) == 0)) : hostile_ptr();
		long val = (long)rnd();

		if (uaddr >= (long)inbuf && uaddr < (long)inbuf + (long)IN_LEN && (uaddr & 3) == 0)
			val = (long)(uint32_t)(*(volatile uint32_t *)uaddr + 1);
		/* REQUEUE takes a count where the others take a timeout. */
		a = (fop & 0x7f) == FUTEX_REQUEUE ? (long)below(4) - 1 : timeout_ptr();
		exact(op, sc(SYS_futex, uaddr, fop, val, a, below(2) ? 0 : hostile_ptr(), ~0L));
		break;
	}
	case 62: {
		static const long ids[] = { SYS_getpid, SYS_gettid, SYS_getppid, SYS_getuid, SYS_geteuid,
					    SYS_getgid, SYS_getpgrp, SYS_sched_yield };

		sign(op, sc(PICK(ids), 0, 0, 0, 0, 0, 0));
		break;
	}
	case 63:
		if (below(2))
			exact(op, sc(SYS_uname, out_ptr(), 0, 0, 0, 0, 0));
		else
			exact(op, sc(SYS_getrusage, (long)below(4) - 1, out_ptr(), 0, 0, 0, 0));
		break;
	case 64:
		/* Only reads of limits: a new limit is never set (pointers fault). */
		exact(op, sc(SYS_prlimit64, below(4) ? 0 : (long)(rnd() | 0x40000000), (long)below(20), below(2) ? 0 : hostile_ptr(),
			     out_ptr(), 0, 0));
		break;
	case 65:
		if (below(2))
			exact(op, sc(SYS_clock_gettime, (long)below(14) - 2, out_ptr(), 0, 0, 0, 0));
		else
			exact(op, sc(SYS_nanosleep, timeout_ptr(), below(2) ? 0 : out_ptr(), 0, 0, 0, 0));
		break;
	case 66:
		exact(op, sc(SYS_getrandom, out_ptr(), len_any(), (long)(rnd() & 7) | GRND_NONBLOCK_FLAG, 0, 0, 0));
		break;
	case 67: {
		/* A command name of hostile bytes, or from a hostile pointer. */
		static const long opts[] = { PR_SET_NAME, PR_SET_NAME, PR_GET_NAME, PR_GET_DUMPABLE, 1000 };
		long opt = PICK(opts);

		if (opt == PR_SET_NAME)
			a = below(3) ? (long)PICK(names) : below(2) ? in_ptr() : path_any();
		else
			a = out_ptr();
		if (below(4) == 0)
			opt |= (long)(rnd() << 32);	/* an int: the upper half is ignored */
		exact(op, sc(SYS_prctl, opt, a, 0, 0, 0, 0));
		break;
	}
	case 68: {
		/* Signals: 0 (a probe) anywhere, SIGUSR1/2 to ourselves only. */
		static const long pids[] = { 0, -1, 999999, -999999 };
		long self = hc(SYS_getpid, 0, 0, 0, 0);

		if (below(2))
			exact(op, sc(SYS_kill, below(2) ? self : PICK(pids), 0, 0, 0, 0, 0));
		else
			exact(op, sc(SYS_kill, self, below(2) ? SIGUSR1 : SIGUSR2, 0, 0, 0, 0));
		break;
	}
	case 69:
		switch (below(4)) {
		case 0:
			/* act is never a readable garbage sigaction. */
			exact(op, sc(SYS_rt_sigaction, sig_any(), below(2) ? 0 : hostile_ptr(), out_ptr(),
				     below(2) ? 8 : (long)rnd(), 0, 0));
			break;
		case 1:
			exact(op, sc(SYS_rt_sigprocmask, (long)below(4), in_ptr(), out_ptr(), below(2) ? 8 : (long)rnd(), 0, 0));
			break;
		case 2:
			exact(op, sc(SYS_wait4, -1, out_ptr(), WNOHANG | (long)(rnd() & 0x0f000000), out_ptr(), 0, 0));
			break;
		default: {
			/* Unknown, x32 and negative numbers. */
			static const unsigned long nrs[] = { 400, 512, 530, 547, 1000, 0x40000000, 0x40000001,
							     0x40000200, 0xffffffff, 0x7fffffff, 0x80000000 };

			exact(op, sc((long)PICK(nrs), (long)rnd(), (long)rnd(), (long)rnd(), (long)rnd(), (long)rnd(), (long)rnd()));
			break;
		}
		}
		break;
	/* Process operations (not in children). */
	case 70:
		/* clone3 and execve: only faulting pointers or missing paths. */
		if (below(2)) {
			static const long sizes[] = { 0, 8, 64, 88, 4097, -1 };
			long ptr = below(2) ? hostile_ptr() : (long)(in_guard - 8);

			exact(op, sc(SYS_clone3, ptr, PICK(sizes), 0, 0, 0, 0));
		} else {
			static const char *const missing[] = { "nonexistent/x", "d0/nope", "" };
			long path = below(2) ? hostile_ptr() : below(2) ? (long)unterm : (long)PICK(missing);

			exact(op, sc(SYS_execve, path, below(2) ? 0 : in_ptr(), below(2) ? 0 : in_ptr(), 0, 0, 0));
		}
		break;
	case 71:
		op_fork_exit(op);
		break;
	case 72:
		op_fork_storm(op);
		break;
	case 73:
		op_thread_storm(op);
		break;
	case 74:
		op_vfork(op);
		break;
	default:
		if (below(4) == 0)
			op_exec_child(op);
		else if (below(3) == 0)
			op_deep(op);
		else
			exact(op, sc(SYS_kill, hc(SYS_getpid, 0, 0, 0, 0), SIGUSR1, 0, 0, 0, 0));
		break;
	}
	(void)fd;
	(void)b;
}

/* ---- main ---- */

/*
 * Maps LEN bytes at ADDR (0: anywhere). The fuzzer's buffers are at fixed
 * addresses: whether a huge length from a buffer reaches the end of user
 * space (access_ok) must not depend on address space randomisation.
 */
static void *map_or_die(unsigned long addr, size_t len, int prot)
{
	void *p = mmap((void *)addr, len, prot,
		       MAP_PRIVATE | MAP_ANONYMOUS | (addr ? MAP_FIXED_NOREPLACE : 0), -1, 0);

	if (p == MAP_FAILED || (addr && p != (void *)addr)) {
		say("LTFAIL mmap of %zu bytes at %#lx failed", len, addr);
		raw1(SYS_exit_group, 1);
	}
	return p;
}

int main(int argc, char **argv)
{
	unsigned long seed = 1, calls = 100000, chunk = 10000, i;
	struct sigaction sa;
	char *region;
	int k;

	if (argc == 3 && !strcmp(argv[1], "--child-exit"))
		raw1(SYS_exit_group, atoi(argv[2]));
	for (k = 1; k < argc; k++) {
		if (!strcmp(argv[k], "-s") && k + 1 < argc)
			seed = strtoul(argv[++k], NULL, 0);
		else if (!strcmp(argv[k], "-n") && k + 1 < argc)
			calls = strtoul(argv[++k], NULL, 0);
		else if (!strcmp(argv[k], "-c") && k + 1 < argc)
			chunk = strtoul(argv[++k], NULL, 0);
		else if (!strcmp(argv[k], "-T"))
			memtrace = map_or_die(0, MEMTRACE_MAX * sizeof(*memtrace), PROT_READ | PROT_WRITE);
		else if (!strcmp(argv[k], "-t"))
			tracing++;
		else if (!strcmp(argv[k], "-d") && k + 1 < argc)
			sandbox = argv[++k];
		else {
			say("usage: lt-fuzz [-s SEED] [-n CALLS] [-c CHUNK] [-d DIR]");
			return 2;
		}
	}
	if (chunk == 0)
		chunk = calls ? calls : 1;
	rng_state = seed;

	/* guard | outbuf | guard | inbuf | guard */
	region = map_or_die(0x100000000UL, SCRATCH_LEN + IN_LEN + 3 * PAGE, PROT_READ | PROT_WRITE);
	mprotect(region, PAGE, PROT_NONE);
	outbuf = region + PAGE;
	out_guard = outbuf + SCRATCH_LEN;
	mprotect(out_guard, PAGE, PROT_NONE);
	inbuf = out_guard + PAGE;
	in_guard = inbuf + IN_LEN;
	mprotect(in_guard, PAGE, PROT_NONE);
	for (i = 0; i < IN_LEN; i++)
		inbuf[i] = (char)(i * 131 + 7);
	memcpy(inbuf, "/dev/null", 10);
	mprotect(inbuf, IN_LEN, PROT_READ);
	structs = map_or_die(0x110000000UL, PAGE, PROT_READ | PROT_WRITE);
	arena = map_or_die(0x120000000UL, ARENA_LEN, PROT_READ | PROT_WRITE);
	region = map_or_die(0x130000000UL, 2 * PAGE, PROT_READ | PROT_WRITE);
	memset(region, 'A', PAGE);
	mprotect(region + PAGE, PAGE, PROT_NONE);
	unterm = region;
	for (i = 0; i + 2 < sizeof(longpath); i += 2)
		memcpy(longpath + i, "a/", 2);
	memset(longname, 'n', sizeof(longname) - 1);
	sin_out.sin_family = AF_INET;
	sin_out.sin_port = htons(9);
	sin_out.sin_addr.s_addr = htonl(0xc6336407);	/* 198.51.100.7 */
	sin_bind.sin_family = AF_INET;
	sin_bind.sin_port = htons(7777);
	sun_sock.sun_family = AF_UNIX;
	memcpy(sun_sock.sun_path, "sock0", 6);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGXFSZ, &sa, NULL);
	sigaction(SIGTTOU, &sa, NULL);
	sigaction(SIGTTIN, &sa, NULL);
	/* stdin is never read: make it /dev/null. */
	k = open("/dev/null", O_RDONLY);
	if (k > 0) {
		dup2(k, 0);
		close(k);
	}

	say("LTFUZZ start seed=%lu calls=%lu", seed, calls);
	for (i = 0; i < calls; i++) {
		if (i % RESET_EVERY == 0 && reset() != 0) {
			say("LTFAIL cannot set up the sandbox %s at call %lu", sandbox, i);
			return 1;
		}
		call_no = i;
		fuzz_one(0);
		if ((i + 1) % chunk == 0)
			say("LTFUZZ chunk=%lu calls=%lu digest=%016llx", (i + 1) / chunk, i + 1,
			    (unsigned long long)digest);
	}
	hc(SYS_close_range, 3, ~0U, 0, 0);
	if (chdir("/") == 0)
		remove_tree(sandbox);
	say("LTFUZZ end seed=%lu calls=%lu ok=%lu err=%lu signals=%lu children=%lu threads=%lu digest=%016llx",
	    seed, calls, n_ok, n_err, (unsigned long)n_signals, n_children, n_threads,
	    (unsigned long long)digest);
	say("LTFUZZ stats syscalls=%lu", n_syscalls);
	for (i = 0; i < memtrace_n; i++)
		say("T %lu op=%u r=%ld nr=%ld a0=%lx a1=%lx a2=%lx", memtrace[i].call, memtrace[i].op, memtrace[i].r,
		    memtrace[i].nr, memtrace[i].a0, memtrace[i].a1, memtrace[i].a2);
	say("LTDONE ok");
	return 0;
}
