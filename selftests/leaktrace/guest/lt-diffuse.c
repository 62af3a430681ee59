// SPDX-License-Identifier: GPL-2.0
/*
 * lt-diffuse: moves the contents of a file to another file through one
 * mechanism at a time, for the diffusion scenarios
 * (selftests/scenarios/diffusion-*). Each mode is one rule of
 * Documentation/diffusion.rst, so that the chain of diffusion edges it
 * makes is known in advance:
 *
 *   lt-diffuse [-n NAME] MODE ARGS...
 *
 * Every process sets its command name (prctl PR_SET_NAME) before it
 * touches a file: the main process takes NAME, or the mode's name below;
 * the other processes of a mode have fixed names. Names are cut to 15
 * bytes by the kernel. A process "taints" (reads the secret) only where
 * the mode says so; every process forked before that stays innocent.
 *
 * Kernel copies (the process never holds the data):
 *   sendfile IN OUT         sendfile(OUT, IN)
 *   splice IN OUT           splice IN -> pipe -> OUT
 *   tee IN OUT              splice IN -> pipe 1, tee pipe 1 -> pipe 2,
 *                           splice pipe 2 -> OUT (pipe 1 drained to
 *                           /dev/null)
 *   copy-range IN OUT       copy_file_range(IN, OUT) (same file system)
 *   vmsplice IN OUT         read IN, vmsplice it into a pipe, splice the
 *                           pipe -> OUT
 * Reading and writing:
 *   rw VARIANT IN OUT       read IN, write OUT with VARIANT: read (read,
 *                           write), pread (pread64, pwrite64), readv
 *                           (readv, writev), preadv (preadv, pwritev),
 *                           preadv2 (preadv2, pwritev2); name rw-VARIANT
 *   dup VARIANT IN OUT      duplicate a descriptor of IN and one of OUT
 *                           with VARIANT: dup, dup2, dup3, fcntl
 *                           (F_DUPFD), close the originals, read and write
 *                           through the new ones; name dup-VARIANT
 *   truncate VARIANT FILE TEXT
 *                           truncate FILE to 0 with VARIANT: truncate
 *                           (truncate(2) by name) or ftruncate, then write
 *                           TEXT at its start; never reads anything;
 *                           name trunc-VARIANT
 *   emit NAME SYNCFD OUT TEXT
 *                           name NAME, wait until SYNCFD (a pipe) reads
 *                           end of file ("-": no wait), write TEXT to OUT
 *                           (what an exec'd child runs)
 * Memory:
 *   mmap-read IN OUT        mmap IN PROT_READ, write the mapping to OUT
 *   mmap-write IN OUT       read IN, mmap OUT MAP_SHARED|PROT_WRITE,
 *                           copy into the mapping
 *   memfd IN OUT            memfd-write writes IN to a memfd; its child
 *                           memfd-read (forked before) maps it, writes OUT
 *   posix-shm IN OUT        pshm-write writes IN to /dev/shm/lt-diffuse
 *                           (shm_open); child pshm-read maps it, writes OUT
 *   sysv-shm IN OUT         sysv-shm-write attaches a System V segment
 *                           (after reading IN) and copies IN into it; child
 *                           sysv-shm-read attaches it SHM_RDONLY, writes OUT
 * Messages and sockets:
 *   sysv-msg IN OUT         msg-send: msgsnd; child msg-recv: msgrcv, OUT
 *   posix-mq IN OUT         mq-send: mq_send on /lt-diffuse-mq; child
 *                           mq-recv: mq_receive, OUT
 *   socketpair-stream IN OUT
 *   socketpair-dgram IN OUT AF_UNIX socketpair, ends X and Y. Children
 *                           forked first: RECV (on Y) sends "hello" to X,
 *                           then reads what SEND wrote on X and writes OUT;
 *                           OTHER (on X too) reads RECV's "hello" and
 *                           writes it to OUT.other: it must stay innocent.
 *                           SEND reads IN and writes it on X. Names
 *                           sps-send/sps-recv/sps-other (write, read) or
 *                           spd-send/spd-recv/spd-other (sendmsg, recvmsg)
 *   unix-stream IN OUT      unix-recv listens on /tmp/lt-diffuse.sock,
 *                           accepts, waits until unix-send has closed its
 *                           end (poll POLLRDHUP), recv()s, writes OUT;
 *                           unix-send connects, reads IN, send()s, closes
 *   tcp-send IN HOST PORT   connect (retried for 60 s), read IN, write
 *   tcp-recv [-g GATE] [-e] BIND PORT OUT
 *                           bind BIND:PORT, listen, accept one connection,
 *                           (with -g: wait until the file GATE exists; with
 *                           -e: until the sender has closed its end, poll
 *                           POLLRDHUP), read it to the end, write OUT
 *   udp-send [-m|-c] IN HOST PORT
 *                           read IN, send one datagram: sendto with the
 *                           address, -m sendmsg with the address, -c
 *                           connect then sendmmsg
 *   udp-recv [-m] [-g GATE] BIND PORT OUT [READY]
 *                           bind BIND:PORT (getsockname shows the address
 *                           to the tracer), create the empty file READY,
 *                           (with -g: wait until the file GATE exists),
 *                           receive one datagram (recvfrom, -m recvmmsg),
 *                           write OUT
 *
 * A receiver blocked in its read is woken by the sender's call, and may
 * return before the sender does; -g GATE (a file created once the sender
 * has exited) or -e makes it read only after the sender's call returned.
 * Processes:
 *   fork|vfork|clone|clone3 IN OUT
 *                           read IN, then make a child with that system
 *                           call (vfork: the child execs "emit"); the
 *                           child, MODE-child, waits until the call
 *                           returned in the parent, then writes OUT
 *   exec IN OUT             read IN, execve "emit exec-after - OUT DATA"
 *   child-reads IN OUT      cr-parent forks cr-child, which reads IN and
 *                           writes OUT; cr-parent then writes OUT.parent
 *   pthread IN OUT          a thread reads IN, the main thread writes OUT,
 *                           then a second thread (created once the process
 *                           is tainted) writes OUT.thread
 *   exit-forget IN OUT      forget-a reads IN and exits; forget-b is
 *                           created with forget-a's pid (clone3 set_tid)
 *                           and writes public text to OUT
 * Innocence:
 *   write-then-read IN OUT  late-reader writes public text to OUT, then
 *                           reads IN
 *   innocent IN OUT         copies IN (public) to a child through a pipe,
 *                           maps it; the child, innocent-child, writes OUT
 *
 * Prints what it did on stdout ("lt-diffuse: MODE: ..."). Any failing
 * system call prints "lt-diffuse: MODE: WHAT: strerror" and exits 1; a
 * child's failure fails its parent. Every process gives up after 60 s
 * (SIGALRM). Exit status 2: bad usage.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lt-guest.h"

#define DATA_MAX 4000
#define TIMEOUT_S 60
#define SHM_NAME "/lt-diffuse"
#define MQ_NAME "/lt-diffuse-mq"
#define UNIX_PATH "/tmp/lt-diffuse.sock"

static const char *mode = "lt-diffuse";
static char data[DATA_MAX + 1];
static size_t data_len;

static void usage(void)
{
	say("usage: lt-diffuse [-n NAME] MODE ARGS... (modes: see the source's header)");
	exit(2);
}

/* A failed call: say what and why, exit 1. */
static void die(const char *what)
{
	say("lt-diffuse: %s: %s: %s", mode, what, strerror(errno));
	_exit(1);
}

static void fail(const char *what)
{
	say("lt-diffuse: %s: %s", mode, what);
	_exit(1);
}

/* The calling thread's command name (what diffusion records show). */
static void set_name(const char *name)
{
	if (prctl(PR_SET_NAME, (unsigned long)name, 0, 0, 0))
		die("prctl PR_SET_NAME");
}

static int open_in(const char *path)
{
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		die(path);
	return fd;
}

static int open_out(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0)
		die(path);
	return fd;
}

/* Reads all of fd (read(2)) into data[], then closes it. */
static void read_fd(int fd)
{
	data_len = 0;
	for (;;) {
		ssize_t n = read(fd, data + data_len, DATA_MAX - data_len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("read");
		if (n == 0)
			break;
		data_len += (size_t)n;
		if (data_len == DATA_MAX)
			fail("input too large");
	}
	data[data_len] = 0;
	close(fd);
}

/* Reads all of IN into data[]; the process becomes tainted. */
static void read_in(const char *path)
{
	read_fd(open_in(path));
}

static void write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n > 0) {
		ssize_t r = write(fd, p, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			die("write");
		p += r;
		n -= (size_t)r;
	}
}

/* Writes buf to path (created or truncated). */
static void write_out(const char *path, const void *buf, size_t n)
{
	int fd = open_out(path);

	write_all(fd, buf, n);
	if (close(fd))
		die("close");
	say("lt-diffuse: %s: %zu bytes to %s", mode, n, path);
}

/* PATH + SUFFIX, for the side files of a mode. */
static const char *with_suffix(const char *path, const char *suffix)
{
	static char buf[2][512];
	static int k;
	char *b = buf[k++ & 1];

	snprintf(b, sizeof(buf[0]), "%s%s", path, suffix);
	return b;
}

/*
 * Synchronisation without data: children wait until the parent closes the
 * write end of a pipe (read returns 0, which moves nothing), so that
 * nothing confidential ever travels through it.
 */
struct gate {
	int r, w;
};

static void gate_init(struct gate *g, int flags)
{
	int p[2];

	if (pipe2(p, flags))
		die("pipe2");
	g->r = p[0];
	g->w = p[1];
}

/* In a child: wait for the parent's gate_open. */
static void gate_wait(struct gate *g)
{
	char c;
	ssize_t n;

	if (g->w >= 0)
		close(g->w);
	do
		n = read(g->r, &c, 1);
	while (n < 0 && errno == EINTR);
	if (n != 0)
		fail("gate: expected end of file");
	close(g->r);
}

/* In the parent: let the children go. */
static void gate_open(struct gate *g)
{
	if (g->r >= 0)
		close(g->r);
	if (close(g->w))
		die("close gate");
}

/* A child process (glibc fork, i.e. clone) named NAME running fn. */
static pid_t spawn(const char *name, void (*fn)(void *), void *arg)
{
	pid_t pid = fork();

	if (pid < 0)
		die("fork");
	if (pid == 0) {
		mode = name;
		set_name(name);
		fn(arg);
		_exit(0);
	}
	return pid;
}

/* Waits for child pid; its failure is ours. */
static void reap(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0) {
		if (errno != EINTR)
			die("waitpid");
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		say("lt-diffuse: %s: child %d failed (status %#x)", mode, (int)pid, st);
		_exit(1);
	}
}

/* ---- kernel copies ---- */

static void mode_sendfile(char **a)
{
	int in = open_in(a[0]), out = open_out(a[1]);
	size_t total = 0;

	for (;;) {
		ssize_t n = sendfile(out, in, NULL, 1 << 20);

		if (n < 0)
			die("sendfile");
		if (n == 0)
			break;
		total += (size_t)n;
	}
	say("lt-diffuse: %s: sendfile %zu bytes %s -> %s", mode, total, a[0], a[1]);
}

/* Splices all of fd in into fd out through pipe p (p[1] in, p[0] out). */
static size_t splice_through(int in, int p[2], int out)
{
	size_t total = 0;

	for (;;) {
		ssize_t n = splice(in, NULL, p[1], NULL, 65536, 0);

		if (n < 0)
			die("splice in");
		if (n == 0)
			break;
		total += (size_t)n;
		while (n > 0) {
			ssize_t m = splice(p[0], NULL, out, NULL, (size_t)n, 0);

			if (m <= 0)
				die("splice out");
			n -= m;
		}
	}
	return total;
}

static void mode_splice(char **a)
{
	int in = open_in(a[0]), out = open_out(a[1]);
	int p[2];
	size_t total;

	if (pipe(p))
		die("pipe");
	total = splice_through(in, p, out);
	say("lt-diffuse: %s: spliced %zu bytes %s -> pipe -> %s", mode, total, a[0], a[1]);
}

static void mode_tee(char **a)
{
	int in = open_in(a[0]), out = open_out(a[1]);
	int null = open("/dev/null", O_WRONLY);
	int p1[2], p2[2];
	size_t total = 0;

	if (null < 0)
		die("/dev/null");
	if (pipe(p1) || pipe(p2))
		die("pipe");
	for (;;) {
		ssize_t n = splice(in, NULL, p1[1], NULL, 65536, 0);

		if (n < 0)
			die("splice in");
		if (n == 0)
			break;
		total += (size_t)n;
		while (n > 0) {
			ssize_t t = tee(p1[0], p2[1], (size_t)n, 0), m;

			if (t <= 0)
				die("tee");
			for (m = t; m > 0;) {
				ssize_t k = splice(p2[0], NULL, out, NULL, (size_t)m, 0);

				if (k <= 0)
					die("splice out");
				m -= k;
			}
			/* tee does not consume: drop what was copied. */
			for (m = t; m > 0;) {
				ssize_t k = splice(p1[0], NULL, null, NULL, (size_t)m, 0);

				if (k <= 0)
					die("splice to /dev/null");
				m -= k;
			}
			n -= t;
		}
	}
	say("lt-diffuse: %s: %zu bytes %s -> pipe -tee-> pipe -> %s", mode, total, a[0], a[1]);
}

static void mode_copy_range(char **a)
{
	int in = open_in(a[0]), out = open_out(a[1]);
	size_t total = 0;

	for (;;) {
		ssize_t n = copy_file_range(in, NULL, out, NULL, 1 << 20, 0);

		if (n < 0)
			die("copy_file_range");
		if (n == 0)
			break;
		total += (size_t)n;
	}
	say("lt-diffuse: %s: copy_file_range %zu bytes %s -> %s", mode, total, a[0], a[1]);
}

static void mode_vmsplice(char **a)
{
	int p[2], out;
	struct iovec iov;
	size_t left;

	read_in(a[0]);
	out = open_out(a[1]);
	if (pipe(p))
		die("pipe");
	iov.iov_base = data;
	iov.iov_len = data_len;
	while (iov.iov_len > 0) {
		ssize_t n = vmsplice(p[1], &iov, 1, 0);

		if (n <= 0)
			die("vmsplice");
		for (left = (size_t)n; left > 0;) {
			ssize_t m = splice(p[0], NULL, out, NULL, left, 0);

			if (m <= 0)
				die("splice out");
			left -= (size_t)m;
		}
		iov.iov_base = (char *)iov.iov_base + n;
		iov.iov_len -= (size_t)n;
	}
	say("lt-diffuse: %s: %zu bytes vmspliced, then spliced to %s", mode, data_len, a[1]);
}

/* ---- reading and writing ---- */

static void mode_rw(char **a)
{
	const char *v = a[0];
	int in = open_in(a[1]), out = open_out(a[2]);
	struct iovec iov;
	off_t off = 0;
	size_t n = 0;
	ssize_t r;

	for (;;) {
		iov.iov_base = data + n;
		iov.iov_len = DATA_MAX - n;
		if (!strcmp(v, "read"))
			r = read(in, data + n, DATA_MAX - n);
		else if (!strcmp(v, "pread"))
			r = pread(in, data + n, DATA_MAX - n, off);
		else if (!strcmp(v, "readv"))
			r = readv(in, &iov, 1);
		else if (!strcmp(v, "preadv"))
			r = preadv(in, &iov, 1, off);
		else if (!strcmp(v, "preadv2"))
			r = preadv2(in, &iov, 1, off, 0);
		else
			usage();
		if (r < 0)
			die(v);
		if (r == 0)
			break;
		n += (size_t)r;
		off += r;
		if (n == DATA_MAX)
			fail("input too large");
	}
	iov.iov_base = data;
	iov.iov_len = n;
	if (!strcmp(v, "read"))
		r = write(out, data, n);
	else if (!strcmp(v, "pread"))
		r = pwrite(out, data, n, 0);
	else if (!strcmp(v, "readv"))
		r = writev(out, &iov, 1);
	else if (!strcmp(v, "preadv"))
		r = pwritev(out, &iov, 1, 0);
	else
		r = pwritev2(out, &iov, 1, 0, 0);
	if (r != (ssize_t)n)
		die("write variant");
	say("lt-diffuse: %s: %zu bytes %s -> %s", mode, n, a[1], a[2]);
}

static void mode_emit(char **a)
{
	mode = a[0];
	set_name(a[0]);
	if (strcmp(a[1], "-")) {
		struct gate g = { .r = atoi(a[1]), .w = -1 };

		gate_wait(&g);
	}
	write_out(a[2], a[3], strlen(a[3]));
}

/* ---- descriptors ---- */

/*
 * A duplicate of fd made by VARIANT, fd itself closed: from then on only
 * the new descriptor number refers to the file. Fixed target numbers for
 * dup2 and dup3, so that they are never fd's own.
 */
static int dup_by(const char *v, int fd, int target)
{
	int nfd;

	if (!strcmp(v, "dup"))
		nfd = dup(fd);
	else if (!strcmp(v, "dup2"))
		nfd = dup2(fd, target);
	else if (!strcmp(v, "dup3"))
		nfd = dup3(fd, target, O_CLOEXEC);
	else if (!strcmp(v, "fcntl"))
		nfd = fcntl(fd, F_DUPFD, target);
	else
		usage();
	if (nfd < 0)
		die(v);
	if (close(fd))
		die("close");
	return nfd;
}

static void mode_dup(char **a)
{
	int in = dup_by(a[0], open_in(a[1]), 40);
	int out = dup_by(a[0], open_out(a[2]), 41);

	read_fd(in);
	write_all(out, data, data_len);
	if (close(out))
		die("close");
	say("lt-diffuse: %s: %zu bytes %s -> %s through %s'd descriptors %d, %d",
	    mode, data_len, a[1], a[2], a[0], in, out);
}

static void mode_truncate(char **a)
{
	int fd;

	if (!strcmp(a[0], "truncate")) {
		if (truncate(a[1], 0))
			die("truncate");
		fd = open(a[1], O_WRONLY);
		if (fd < 0)
			die(a[1]);
	} else if (!strcmp(a[0], "ftruncate")) {
		fd = open(a[1], O_WRONLY);
		if (fd < 0)
			die(a[1]);
		if (ftruncate(fd, 0))
			die("ftruncate");
	} else {
		usage();
	}
	write_all(fd, a[2], strlen(a[2]));
	if (close(fd))
		die("close");
	say("lt-diffuse: %s: %s truncated by %s, %zu public bytes written", mode, a[1],
	    a[0], strlen(a[2]));
}

/* ---- memory ---- */

static void mode_mmap_read(char **a)
{
	int in = open_in(a[0]);
	struct stat st;
	void *p;

	if (fstat(in, &st))
		die("fstat");
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, in, 0);
	if (p == MAP_FAILED)
		die("mmap");
	write_out(a[1], p, (size_t)st.st_size);
}

static void mode_mmap_write(char **a)
{
	int out;
	char *p;

	read_in(a[0]);
	out = open(a[1], O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (out < 0)
		die(a[1]);
	if (ftruncate(out, (off_t)data_len))
		die("ftruncate");
	p = mmap(NULL, data_len, PROT_READ | PROT_WRITE, MAP_SHARED, out, 0);
	if (p == MAP_FAILED)
		die("mmap");
	memcpy(p, data, data_len);
	if (msync(p, data_len, MS_SYNC) || munmap(p, data_len))
		die("msync");
	say("lt-diffuse: %s: %zu bytes through a shared mapping of %s", mode, data_len, a[1]);
}

/* The reader side of the modes that share a file descriptor. */
struct shared_fd {
	struct gate *gate;
	int fd;
	const char *out;
};

/* Waits, maps the whole of fd PROT_READ MAP_SHARED, writes it out. */
static void map_and_write(void *arg)
{
	struct shared_fd *s = arg;
	struct stat st;
	void *p;

	gate_wait(s->gate);
	if (fstat(s->fd, &st))
		die("fstat");
	if (st.st_size == 0)
		fail("nothing to map");
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, s->fd, 0);
	if (p == MAP_FAILED)
		die("mmap");
	write_out(s->out, p, (size_t)st.st_size);
}

/* memfd and posix-shm: fd made before the fork, written by the parent. */
static void shared_file(int fd, const char *in, const char *out, const char *child)
{
	struct gate g;
	struct shared_fd s = { .gate = &g, .fd = fd, .out = out };
	pid_t pid;

	gate_init(&g, 0);
	pid = spawn(child, map_and_write, &s);
	read_in(in);
	write_all(fd, data, data_len);
	gate_open(&g);
	reap(pid);
	say("lt-diffuse: %s: %zu bytes written for %s", mode, data_len, child);
}

static void mode_memfd(char **a)
{
	int fd = memfd_create("lt-diffuse", 0);

	if (fd < 0)
		die("memfd_create");
	shared_file(fd, a[0], a[1], "memfd-read");
}

static void mode_posix_shm(char **a)
{
	int fd;

	shm_unlink(SHM_NAME);
	fd = shm_open(SHM_NAME, O_CREAT | O_RDWR | O_TRUNC, 0600);
	if (fd < 0)
		die("shm_open " SHM_NAME " (is /dev/shm there?)");
	shared_file(fd, a[0], a[1], "pshm-read");
	if (shm_unlink(SHM_NAME))
		die("shm_unlink");
}

struct sysv {
	struct gate *gate;
	int id;
	const char *out;
};

static void sysv_shm_reader(void *arg)
{
	struct sysv *s = arg;
	char *p;

	gate_wait(s->gate);
	p = shmat(s->id, NULL, SHM_RDONLY);
	if (p == (void *)-1)
		die("shmat SHM_RDONLY");
	write_out(s->out, p, strnlen(p, DATA_MAX));
	if (shmdt(p))
		die("shmdt");
}

static void mode_sysv_shm(char **a)
{
	struct gate g;
	struct sysv s = { .gate = &g, .out = a[1] };
	pid_t pid;
	char *p;

	s.id = shmget(IPC_PRIVATE, DATA_MAX + 1, IPC_CREAT | 0600);
	if (s.id < 0)
		die("shmget");
	gate_init(&g, 0);
	pid = spawn("sysv-shm-read", sysv_shm_reader, &s);
	/* Tainted first: attaching is what taints the segment. */
	read_in(a[0]);
	p = shmat(s.id, NULL, 0);
	if (p == (void *)-1)
		die("shmat");
	memcpy(p, data, data_len + 1);
	if (shmdt(p))
		die("shmdt");
	gate_open(&g);
	reap(pid);
	if (shmctl(s.id, IPC_RMID, NULL))
		die("shmctl IPC_RMID");
	say("lt-diffuse: %s: %zu bytes through shm %d", mode, data_len, s.id);
}

/* ---- messages ---- */

struct msg {
	long type;
	char text[DATA_MAX];
};

static void sysv_msg_reader(void *arg)
{
	struct sysv *s = arg;
	static struct msg m;
	ssize_t n;

	gate_wait(s->gate);
	n = msgrcv(s->id, &m, sizeof(m.text), 0, 0);
	if (n < 0)
		die("msgrcv");
	write_out(s->out, m.text, (size_t)n);
}

static void mode_sysv_msg(char **a)
{
	struct gate g;
	struct sysv s = { .gate = &g, .out = a[1] };
	static struct msg m = { .type = 1 };
	pid_t pid;

	s.id = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
	if (s.id < 0)
		die("msgget");
	gate_init(&g, 0);
	pid = spawn("msg-recv", sysv_msg_reader, &s);
	read_in(a[0]);
	memcpy(m.text, data, data_len);
	if (msgsnd(s.id, &m, data_len, 0))
		die("msgsnd");
	gate_open(&g);
	reap(pid);
	if (msgctl(s.id, IPC_RMID, NULL))
		die("msgctl IPC_RMID");
	say("lt-diffuse: %s: %zu bytes through msq %d", mode, data_len, s.id);
}

static void mq_reader(void *arg)
{
	struct sysv *s = arg;
	static char buf[DATA_MAX];
	ssize_t n;

	gate_wait(s->gate);
	n = mq_receive(s->id, buf, sizeof(buf), NULL);
	if (n < 0)
		die("mq_receive");
	write_out(s->out, buf, (size_t)n);
}

static void mode_posix_mq(char **a)
{
	struct gate g;
	struct sysv s = { .gate = &g, .out = a[1] };
	struct mq_attr attr = { .mq_maxmsg = 4, .mq_msgsize = DATA_MAX };
	pid_t pid;

	mq_unlink(MQ_NAME);
	s.id = mq_open(MQ_NAME, O_CREAT | O_RDWR, 0600, &attr);
	if (s.id < 0)
		die("mq_open " MQ_NAME);
	gate_init(&g, 0);
	pid = spawn("mq-recv", mq_reader, &s);
	read_in(a[0]);
	if (mq_send(s.id, data, data_len, 0))
		die("mq_send");
	gate_open(&g);
	reap(pid);
	if (mq_unlink(MQ_NAME))
		die("mq_unlink");
	say("lt-diffuse: %s: %zu bytes through %s", mode, data_len, MQ_NAME);
}

/* ---- UNIX sockets ---- */

/* Waits until the peer of connected socket fd has shut its sending side. */
static void wait_peer_end(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLRDHUP };

	for (;;) {
		int n = poll(&p, 1, TIMEOUT_S * 1000);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("poll");
		if (n == 0)
			fail("gave up waiting for the peer to close");
		if (p.revents & (POLLRDHUP | POLLHUP | POLLERR))
			return;
	}
}

struct pair {
	struct gate *gate;
	int x, y;
	int dgram;
	const char *out;
};

static ssize_t pair_send(int fd, int dgram, const void *buf, size_t n)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = n };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	return dgram ? sendmsg(fd, &mh, 0) : write(fd, buf, n);
}

static ssize_t pair_recv(int fd, int dgram, void *buf, size_t n)
{
	struct iovec iov = { .iov_base = buf, .iov_len = n };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	return dgram ? recvmsg(fd, &mh, 0) : read(fd, buf, n);
}

/* On end Y: greet X (innocently), then receive the secret. */
static void pair_receiver(void *arg)
{
	struct pair *p = arg;
	static char buf[DATA_MAX];
	ssize_t n;

	close(p->x);
	if (pair_send(p->y, p->dgram, "hello\n", 6) != 6)
		die("send hello");
	gate_wait(p->gate);
	n = pair_recv(p->y, p->dgram, buf, sizeof(buf));
	if (n <= 0)
		die("receive");
	write_out(p->out, buf, (size_t)n);
}

/* On end X, like the sender: reads what Y sent, which is not secret. */
static void pair_other(void *arg)
{
	struct pair *p = arg;
	char buf[64];
	ssize_t n;

	close(p->y);
	gate_wait(p->gate);
	n = pair_recv(p->x, p->dgram, buf, sizeof(buf));
	if (n <= 0)
		die("receive hello");
	write_out(with_suffix(p->out, ".other"), buf, (size_t)n);
}

static void socketpair_mode(char **a, int dgram)
{
	struct gate g;
	struct pair p = { .gate = &g, .dgram = dgram, .out = a[1] };
	int sv[2];
	pid_t recv_pid, other_pid;

	if (socketpair(AF_UNIX, dgram ? SOCK_DGRAM : SOCK_STREAM, 0, sv))
		die("socketpair");
	p.x = sv[0];
	p.y = sv[1];
	gate_init(&g, 0);
	recv_pid = spawn(dgram ? "spd-recv" : "sps-recv", pair_receiver, &p);
	other_pid = spawn(dgram ? "spd-other" : "sps-other", pair_other, &p);
	close(p.y);
	read_in(a[0]);
	if (pair_send(p.x, dgram, data, data_len) != (ssize_t)data_len)
		die("send");
	gate_open(&g);
	reap(recv_pid);
	reap(other_pid);
	say("lt-diffuse: %s: %zu bytes over a %s socketpair", mode, data_len,
	    dgram ? "datagram" : "stream");
}

static void unix_receiver(void *arg)
{
	struct pair *p = arg;
	static char buf[DATA_MAX];
	size_t got = 0;
	int c = accept(p->x, NULL, NULL);

	if (c < 0)
		die("accept");
	wait_peer_end(c);
	for (;;) {
		ssize_t n = recv(c, buf + got, sizeof(buf) - got, 0);

		if (n < 0)
			die("recv");
		if (n == 0)
			break;
		got += (size_t)n;
	}
	write_out(p->out, buf, got);
}

static void mode_unix_stream(char **a)
{
	struct pair p = { .out = a[1] };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	pid_t pid;
	int s;

	strcpy(sa.sun_path, UNIX_PATH);
	unlink(UNIX_PATH);
	p.x = socket(AF_UNIX, SOCK_STREAM, 0);
	if (p.x < 0)
		die("socket");
	if (bind(p.x, (struct sockaddr *)&sa, sizeof(sa)) || listen(p.x, 1))
		die("bind/listen " UNIX_PATH);
	pid = spawn("unix-recv", unix_receiver, &p);
	close(p.x);
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	if (s < 0)
		die("socket");
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)))
		die("connect " UNIX_PATH);
	read_in(a[0]);
	if (send(s, data, data_len, 0) != (ssize_t)data_len)
		die("send");
	close(s);
	reap(pid);
	unlink(UNIX_PATH);
	say("lt-diffuse: %s: %zu bytes over %s", mode, data_len, UNIX_PATH);
}

/* ---- IPv4 ---- */

static struct sockaddr_in inet_arg(const char *host, const char *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	char *end;
	long p = strtol(port, &end, 10);

	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1 || !*port || *end || p < 1 || p > 65535)
		usage();
	sa.sin_port = htons((unsigned short)p);
	return sa;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* -g GATE of the receivers: NULL, or a file to wait for before reading. */
static const char *gate_file;

/* Waits until gate_file exists (stat, which moves nothing). */
static void wait_gate_file(void)
{
	struct stat st;
	int tries = 0;

	if (!gate_file)
		return;
	while (stat(gate_file, &st)) {
		if (errno != ENOENT)
			die(gate_file);
		if (++tries >= TIMEOUT_S * 20)
			fail("gave up waiting for the gate file");
		sleep_ms(50);
	}
}

/* -e of tcp-recv: read only once the peer has closed. */
static int wait_end;

static void mode_tcp_send(char **a)
{
	struct sockaddr_in sa = inet_arg(a[1], a[2]);
	int s, tries = 0;

	for (;;) {
		s = socket(AF_INET, SOCK_STREAM, 0);
		if (s < 0)
			die("socket");
		if (!connect(s, (struct sockaddr *)&sa, sizeof(sa)))
			break;
		if (errno != ECONNREFUSED && errno != ENETUNREACH && errno != EHOSTUNREACH &&
		    errno != ETIMEDOUT)
			die("connect");
		close(s);
		if (++tries >= TIMEOUT_S * 5)
			die("connect (gave up)");
		sleep_ms(200);
	}
	read_in(a[0]);
	write_all(s, data, data_len);
	if (close(s))
		die("close");
	say("lt-diffuse: %s: %zu bytes to %s:%s (connected after %d retries)", mode, data_len,
	    a[1], a[2], tries);
}

static int bound_socket(int type, const char *host, const char *port)
{
	struct sockaddr_in sa = inet_arg(host, port);
	socklen_t len = sizeof(sa);
	int one = 1;
	int s = socket(AF_INET, type, 0);

	if (s < 0)
		die("socket");
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa)))
		die("bind");
	/* A call on the bound socket shows its address to the tracer. */
	if (getsockname(s, (struct sockaddr *)&sa, &len))
		die("getsockname");
	return s;
}

static void mode_tcp_recv(char **a)
{
	int l = bound_socket(SOCK_STREAM, a[0], a[1]), c;
	size_t got = 0;

	if (listen(l, 1))
		die("listen");
	say("lt-diffuse: %s: listening on %s:%s", mode, a[0], a[1]);
	c = accept(l, NULL, NULL);
	if (c < 0)
		die("accept");
	wait_gate_file();
	if (wait_end)
		wait_peer_end(c);
	for (;;) {
		ssize_t n = read(c, data + got, DATA_MAX - got);

		if (n < 0)
			die("read");
		if (n == 0)
			break;
		got += (size_t)n;
		if (got == DATA_MAX)
			fail("input too large");
	}
	write_out(a[2], data, got);
}

static void mode_udp_send(char **a, int how)
{
	struct sockaddr_in sa = inet_arg(a[1], a[2]);
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	struct iovec iov;
	ssize_t n;

	if (s < 0)
		die("socket");
	read_in(a[0]);
	iov.iov_base = data;
	iov.iov_len = data_len;
	if (how == 'c') {
		struct mmsghdr mm = { .msg_hdr = { .msg_iov = &iov, .msg_iovlen = 1 } };

		if (connect(s, (struct sockaddr *)&sa, sizeof(sa)))
			die("connect");
		if (sendmmsg(s, &mm, 1, 0) != 1)
			die("sendmmsg");
		n = (ssize_t)mm.msg_len;
	} else if (how == 'm') {
		struct msghdr mh = { .msg_name = &sa, .msg_namelen = sizeof(sa),
				     .msg_iov = &iov, .msg_iovlen = 1 };

		n = sendmsg(s, &mh, 0);
	} else {
		n = sendto(s, data, data_len, 0, (struct sockaddr *)&sa, sizeof(sa));
	}
	if (n != (ssize_t)data_len)
		die("send");
	say("lt-diffuse: %s: %zu bytes to %s:%s (%s)", mode, data_len, a[1], a[2],
	    how == 'c' ? "connect, sendmmsg" : how == 'm' ? "sendmsg" : "sendto");
}

static void mode_udp_recv(char **a, int argc, int mmsg)
{
	int s = bound_socket(SOCK_DGRAM, a[0], a[1]);
	ssize_t n;

	if (argc > 3) {
		int fd = open(a[3], O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (fd < 0 || close(fd))
			die(a[3]);
	}
	say("lt-diffuse: %s: bound to %s:%s", mode, a[0], a[1]);
	wait_gate_file();
	if (mmsg) {
		struct iovec iov = { .iov_base = data, .iov_len = DATA_MAX };
		struct mmsghdr mm = { .msg_hdr = { .msg_iov = &iov, .msg_iovlen = 1 } };

		if (recvmmsg(s, &mm, 1, 0, NULL) != 1)
			die("recvmmsg");
		n = (ssize_t)mm.msg_len;
	} else {
		n = recvfrom(s, data, DATA_MAX, 0, NULL, NULL);
		if (n < 0)
			die("recvfrom");
	}
	write_out(a[2], data, (size_t)n);
}

/* ---- processes ---- */

/* struct clone_args up to set_tid_size (CLONE_ARGS_SIZE_VER1). */
struct lt_clone_args {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal;
	uint64_t stack, stack_size, tls, set_tid, set_tid_size;
};

static long clone3_fork(pid_t *set_tid)
{
	struct lt_clone_args args = { .exit_signal = SIGCHLD };

	if (set_tid) {
		args.set_tid = (uint64_t)(uintptr_t)set_tid;
		args.set_tid_size = 1;
	}
	return syscall(SYS_clone3, &args, sizeof(args));
}

static void mode_procs(const char *how, char **a)
{
	char child_name[16], fdtext[16];
	struct gate g;
	long pid;

	snprintf(child_name, sizeof(child_name), "%s-child", how);
	read_in(a[0]);
	/* The gate's write end must not outlive an exec in the child. */
	gate_init(&g, O_CLOEXEC);
	if (!strcmp(how, "vfork")) {
		char *argv[] = { "lt-diffuse", "emit", child_name, fdtext, a[1], data, NULL };

		if (fcntl(g.r, F_SETFD, 0))
			die("fcntl");
		snprintf(fdtext, sizeof(fdtext), "%d", g.r);
		pid = vfork();
		if (pid == 0) {
			execv("/proc/self/exe", argv);
			_exit(127);
		}
	} else if (!strcmp(how, "fork")) {
		pid = syscall(SYS_fork);
	} else if (!strcmp(how, "clone")) {
		pid = syscall(SYS_clone, SIGCHLD, 0, NULL, NULL, 0);
	} else {
		pid = clone3_fork(NULL);
	}
	if (pid < 0)
		die(how);
	if (pid == 0) {
		mode = child_name;
		set_name(child_name);
		gate_wait(&g);
		write_out(a[1], data, data_len);
		_exit(0);
	}
	/* The call has returned here: the child may write now. */
	gate_open(&g);
	reap((pid_t)pid);
	say("lt-diffuse: %s: child %ld wrote %s", mode, pid, a[1]);
}

static void mode_exec(char **a)
{
	char *argv[] = { "lt-diffuse", "emit", "exec-after", "-", a[1], data, NULL };

	read_in(a[0]);
	execv("/proc/self/exe", argv);
	die("execv /proc/self/exe");
}

static void child_reads(void *arg)
{
	char **a = arg;

	read_in(a[0]);
	write_out(a[1], data, data_len);
}

static void mode_child_reads(char **a)
{
	static const char text[] = "cr-parent: my child read a secret, I did not\n";

	reap(spawn("cr-child", child_reads, a));
	write_out(with_suffix(a[1], ".parent"), text, sizeof(text) - 1);
}

static void *thread_read(void *arg)
{
	read_in(arg);
	return NULL;
}

static void *thread_write(void *arg)
{
	write_out(arg, data, data_len);
	return NULL;
}

static void mode_pthread(char **a)
{
	pthread_t t;
	int e;

	if ((e = pthread_create(&t, NULL, thread_read, a[0])) || (e = pthread_join(t, NULL))) {
		errno = e;
		die("pthread reader");
	}
	write_out(a[1], data, data_len);
	/* Created by a tainted process: a thread, not a new process. */
	if ((e = pthread_create(&t, NULL, thread_write, (void *)with_suffix(a[1], ".thread"))) ||
	    (e = pthread_join(t, NULL))) {
		errno = e;
		die("pthread writer");
	}
}

static void forget_a(void *arg)
{
	read_in(arg);
	say("lt-diffuse: %s: read %zu bytes, exiting", mode, data_len);
}

static void mode_exit_forget(char **a)
{
	static const char text[] = "forget-b: public text\n";
	pid_t first = spawn("forget-a", forget_a, a[0]);
	long pid;

	reap(first);
	/* forget-a has exited and is reaped: its pid is free again. */
	pid = clone3_fork(&first);
	if (pid < 0)
		die("clone3 set_tid");
	if (pid == 0) {
		mode = "forget-b";
		set_name("forget-b");
		write_out(a[1], text, sizeof(text) - 1);
		_exit(0);
	}
	reap((pid_t)pid);
	say("lt-diffuse: %s: forget-a and forget-b were both pid %d", mode, (int)first);
}

/* ---- innocence ---- */

static void mode_write_then_read(char **a)
{
	static const char text[] = "late-reader: written before any secret was read\n";

	write_out(a[1], text, sizeof(text) - 1);
	read_in(a[0]);
	say("lt-diffuse: %s: then read %zu bytes of %s", mode, data_len, a[0]);
}

struct innocent {
	int p[2];
	const char *out;
};

static void innocent_child(void *arg)
{
	struct innocent *s = arg;
	static char buf[DATA_MAX];
	size_t got = 0;

	close(s->p[1]);
	for (;;) {
		ssize_t n = read(s->p[0], buf + got, sizeof(buf) - got);

		if (n < 0)
			die("read pipe");
		if (n == 0)
			break;
		got += (size_t)n;
	}
	write_out(s->out, buf, got);
}

static void mode_innocent(char **a)
{
	struct innocent s = { .out = a[1] };
	struct stat st;
	pid_t pid;
	void *m;
	int fd;

	if (pipe(s.p))
		die("pipe");
	pid = spawn("innocent-child", innocent_child, &s);
	close(s.p[0]);
	read_in(a[0]);
	write_all(s.p[1], data, data_len);
	close(s.p[1]);
	reap(pid);
	fd = open_in(a[0]);
	if (fstat(fd, &st))
		die("fstat");
	m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		die("mmap");
	say("lt-diffuse: %s: %zu public bytes through a pipe to innocent-child", mode, data_len);
}

/* ---- main ---- */

struct mode {
	const char *name;
	int args; /* required arguments */
	void (*fn)(char **a);
};

static void m_socketpair_stream(char **a) { socketpair_mode(a, 0); }
static void m_socketpair_dgram(char **a) { socketpair_mode(a, 1); }
static void m_fork(char **a) { mode_procs("fork", a); }
static void m_vfork(char **a) { mode_procs("vfork", a); }
static void m_clone(char **a) { mode_procs("clone", a); }
static void m_clone3(char **a) { mode_procs("clone3", a); }

static const struct mode modes[] = {
	{ "sendfile", 2, mode_sendfile },
	{ "splice", 2, mode_splice },
	{ "tee", 2, mode_tee },
	{ "copy-range", 2, mode_copy_range },
	{ "vmsplice", 2, mode_vmsplice },
	{ "rw", 3, mode_rw },
	{ "emit", 4, mode_emit },
	{ "dup", 3, mode_dup },
	{ "truncate", 3, mode_truncate },
	{ "mmap-read", 2, mode_mmap_read },
	{ "mmap-write", 2, mode_mmap_write },
	{ "memfd", 2, mode_memfd },
	{ "posix-shm", 2, mode_posix_shm },
	{ "sysv-shm", 2, mode_sysv_shm },
	{ "sysv-msg", 2, mode_sysv_msg },
	{ "posix-mq", 2, mode_posix_mq },
	{ "socketpair-stream", 2, m_socketpair_stream },
	{ "socketpair-dgram", 2, m_socketpair_dgram },
	{ "unix-stream", 2, mode_unix_stream },
	{ "tcp-send", 3, mode_tcp_send },
	{ "tcp-recv", 3, mode_tcp_recv },
	{ "fork", 2, m_fork },
	{ "vfork", 2, m_vfork },
	{ "clone", 2, m_clone },
	{ "clone3", 2, m_clone3 },
	{ "exec", 2, mode_exec },
	{ "child-reads", 2, mode_child_reads },
	{ "pthread", 2, mode_pthread },
	{ "exit-forget", 2, mode_exit_forget },
	{ "write-then-read", 2, mode_write_then_read },
	{ "innocent", 2, mode_innocent },
};

/* The main process's default name. */
static const char *default_name(const char *m, char **a, int argc)
{
	static char buf[16];

	if (!strcmp(m, "memfd"))
		return "memfd-write";
	if (!strcmp(m, "posix-shm"))
		return "pshm-write";
	if (!strcmp(m, "sysv-shm"))
		return "sysv-shm-write";
	if (!strcmp(m, "sysv-msg"))
		return "msg-send";
	if (!strcmp(m, "posix-mq"))
		return "mq-send";
	if (!strcmp(m, "socketpair-stream"))
		return "sps-send";
	if (!strcmp(m, "socketpair-dgram"))
		return "spd-send";
	if (!strcmp(m, "unix-stream"))
		return "unix-send";
	if (!strcmp(m, "child-reads"))
		return "cr-parent";
	if (!strcmp(m, "exit-forget"))
		return "forget";
	if (!strcmp(m, "write-then-read"))
		return "late-reader";
	if (!strcmp(m, "rw") && argc > 0) {
		snprintf(buf, sizeof(buf), "rw-%s", a[0]);
		return buf;
	}
	if (!strcmp(m, "dup") && argc > 0) {
		snprintf(buf, sizeof(buf), "dup-%s", a[0]);
		return buf;
	}
	if (!strcmp(m, "truncate") && argc > 0) {
		snprintf(buf, sizeof(buf), "trunc-%s", a[0]);
		return buf;
	}
	return m;
}

int main(int argc, char **argv)
{
	const char *name = NULL;
	int i = 1, opt = 0;

	if (argc > 2 && !strcmp(argv[1], "-n")) {
		name = argv[2];
		i = 3;
	}
	if (i >= argc)
		usage();
	mode = argv[i++];
	alarm(TIMEOUT_S);
	if (!strcmp(mode, "emit")) {
		if (argc - i != 4)
			usage();
		mode_emit(argv + i);
		return 0;
	}
	/* Options of the socket modes: -m, -c (udp-send), -g GATE (receivers). */
	while (i < argc && argv[i][0] == '-' && argv[i][1] && !argv[i][2] &&
	       (!strcmp(mode, "udp-send") || !strcmp(mode, "udp-recv") ||
		!strcmp(mode, "tcp-recv"))) {
		int o = argv[i][1];
		int recv = strcmp(mode, "udp-send") != 0;

		if (o == 'g' && recv && i + 1 < argc)
			gate_file = argv[++i];
		else if (o == 'e' && !strcmp(mode, "tcp-recv"))
			wait_end = 1;
		else if ((o == 'm' && strcmp(mode, "tcp-recv")) || (o == 'c' && !recv))
			opt = o;
		else
			usage();
		i++;
	}
	set_name(name ? name : default_name(mode, argv + i, argc - i));
	if (!strcmp(mode, "udp-send")) {
		if (argc - i != 3)
			usage();
		mode_udp_send(argv + i, opt);
		return 0;
	}
	if (!strcmp(mode, "udp-recv")) {
		if (argc - i != 3 && argc - i != 4)
			usage();
		mode_udp_recv(argv + i, argc - i, opt == 'm');
		return 0;
	}
	for (size_t k = 0; k < sizeof(modes) / sizeof(modes[0]); k++) {
		if (strcmp(mode, modes[k].name))
			continue;
		if (argc - i != modes[k].args)
			usage();
		modes[k].fn(argv + i);
		return 0;
	}
	usage();
	return 2;
}
