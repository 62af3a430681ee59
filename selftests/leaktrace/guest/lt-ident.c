// SPDX-License-Identifier: GPL-2.0
/*
 * lt-ident: a guest program that says who it is and what its descriptors
 * are, for leaktrace's guest introspection to be checked against.
 *
 * Runs inside an L2 guest of the testbed (static, in /usr/bin). It learns
 * its own identity (getpid, gettid, getppid, prctl(PR_GET_NAME)) and, for
 * every descriptor it opens, what fstat and readlink("/proc/self/fd/N")
 * say; then it makes *marked* calls whose records must carry exactly that.
 *
 * A marked call is made with the program's own `syscall` instruction, with
 * R8 = MARK_MAGIC and R9 = a mark unique in the guest ((tid << 32) | a
 * counter), in addition to its real arguments. Every call the program
 * marks takes at most four arguments (RDI, RSI, RDX, R10), so the kernel
 * ignores R8 and R9, but the host sees them: the record of a marked call
 * has args[4] == MARK_MAGIC and args[5] == the mark, and no other record
 * does. For each marked call the program prints, on stdout:
 *
 *   LTIDENT call proc=P mark=0xM nr=N name=NAME ret=R pid=P tid=T ppid=PP comm=COMM
 *
 *     the record with that mark must have that nr and return value, and
 *     its task must be resolved with tgid=pid, pid=tid, ppid and comm (the
 *     rest of the line; the guest's view just before the call);
 *
 *   LTIDENT file mark=0xM obj=O role=R fd=F kind=K dev=MAJ:MIN ino=I mode=0OOO [family=F type=T [local=A:P remote=A:P]] link=TEXT
 *
 *     the same call must have one file record with that role (arg0,
 *     return, pair0, pair1) for descriptor F, resolved, with that kind,
 *     st_dev, st_ino and st_mode (from the program's fstat), socket family
 *     and type (SO_DOMAIN, SO_TYPE) and, where given, local and remote
 *     address (getsockname, getpeername), and showing what readlink shows
 *     (TEXT, the rest of the line). O names the open file: all records of
 *     one O refer to the same struct file.
 *
 * proc says which part of the program made the call:
 *
 *   main       the program as started (comm as execve set it)
 *   thread     a second thread, comm set with prctl(PR_SET_NAME): tid != pid
 *   orphan     a grandchild before and after its parent exits; the program
 *              is a child subreaper, so its ppid changes to the program's
 *   churn      short-lived children (--churn N, default 300), each with its
 *              own comm (prctl); every tenth also execs the program through
 *              a symlink of its own name and marks a call again, so
 *              task_structs and pids are reused under the module's cache
 *   renamed    the program after prctl(PR_SET_NAME)
 *   proc-comm  the program after writing its name to /proc/self/comm
 *   exec       the program after execve through a symlink (new comm)
 *
 * Other lines: "LTIDENT start magic=0x... pid=P churn=N" first;
 * "LTIDENT churn children=N lines=L" once the children are reaped (L churn
 * call lines were printed); "LTFAIL ..." for a self-check that failed;
 * "LTDONE ok" (or "LTDONE failed (N)") at the very end, from the exec'd
 * image.
 *
 * Exit status: 0 when every self-check passed, 1 otherwise, 2 on bad usage.
 *
 * Output goes through write(2) on fd 1 only, one line per call, unbuffered,
 * so that a fork never duplicates pending output.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* say()'s lines carry paths: room for the longest. */
#define LT_SAY_MAX (PATH_MAX + 1024)
#include "lt-guest.h"

/* R8 of a marked call: "LTIDENT!". */
#define MARK_MAGIC 0x4c544944454e5421UL
#define WORK_DIR "/tmp/lt-ident.d"
#define NESTED_DIR WORK_DIR "/nested-directory"
#define TMP_FILE NESTED_DIR "/file.txt"
#define EXEC_LINK WORK_DIR "/lt-ident-exec"
#define EXEC_COMM "lt-ident-exec"
#define DEFAULT_CHURN 300
#define CHURN_EXEC_EVERY 10
#define CHURN_PAUSE_EVERY 20
#define CHURN_PAUSE_NS (50 * 1000 * 1000)
#define DEFAULT_PORT 47011
#define LONG_COMPONENT 200
#define LONG_DEPTH 3

extern char **environ;

/* What a task knows about itself. */
struct ident {
	const char *proc;
	long pid, tid, ppid;
	char comm[17];
};

/* An open file as the program sees it. */
struct obj {
	const char *name;
	int fd;
	struct stat st;
	char link[PATH_MAX];
	/* Sockets: SO_DOMAIN, SO_TYPE; addresses unless empty. */
	int sock, family, type;
	char local[64], remote[64];
};

static int failures;
static unsigned long mark_seq;
static char exe_path[PATH_MAX];

static void fail(const struct ident *id, const char *fmt, ...)
{
	char msg[PATH_MAX + 512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	say("LTFAIL proc=%s pid=%ld: %s", id ? id->proc : "?", id ? id->pid : 0L, msg);
	failures++;
}

/* The task's identity as it sees it, through plain (unmarked) calls. */
static void refresh(struct ident *id, const char *proc)
{
	memset(id, 0, sizeof(*id));
	id->proc = proc;
	id->pid = raw0(SYS_getpid);
	id->tid = raw0(SYS_gettid);
	id->ppid = raw0(SYS_getppid);
	if (raw2(SYS_prctl, PR_GET_NAME, id->comm) != 0)
		fail(id, "prctl(PR_GET_NAME) failed");
	id->comm[16] = 0;
}

static void set_comm(const struct ident *id, const char *name)
{
	long r = raw2(SYS_prctl, PR_SET_NAME, name);

	if (r != 0)
		fail(id, "prctl(PR_SET_NAME, %s) = %ld", name, r);
}

/* A marked call: see the top of the file. */
static long mcall(const struct ident *id, unsigned long *mark, long nr, long a0, long a1,
		  long a2, long a3)
{
	*mark = ((unsigned long)id->tid << 32) | __atomic_add_fetch(&mark_seq, 1, __ATOMIC_RELAXED);
	return raw6(nr, a0, a1, a2, a3, (long)MARK_MAGIC, (long)*mark);
}

static void call_line(const struct ident *id, unsigned long mark, long nr, const char *name,
		      long ret)
{
	say("LTIDENT call proc=%s mark=%#lx nr=%ld name=%s ret=%ld pid=%ld tid=%ld ppid=%ld comm=%s",
	    id->proc, mark, nr, name, ret, id->pid, id->tid, id->ppid, id->comm);
}

/* A marked call that tells who made it: getpid, whose result is the pid. */
static void mark_task(const struct ident *id)
{
	unsigned long mark;
	long r = mcall(id, &mark, SYS_getpid, 0, 0, 0, 0);

	if (r != id->pid)
		fail(id, "getpid = %ld, expected %ld", r, id->pid);
	call_line(id, mark, SYS_getpid, "getpid", r);
}

static const char *kind_name(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: return "regular";
	case S_IFDIR: return "directory";
	case S_IFCHR: return "char-device";
	case S_IFBLK: return "block-device";
	case S_IFIFO: return "fifo";
	case S_IFSOCK: return "socket";
	case S_IFLNK: return "symlink";
	case 0: return "anonymous";
	default: return "unknown";
	}
}

static void sockaddr_text(const struct sockaddr_in *sa, char *buf, size_t len)
{
	char a[INET_ADDRSTRLEN] = "?";

	inet_ntop(AF_INET, &sa->sin_addr, a, sizeof(a));
	snprintf(buf, len, "%s:%u", a, (unsigned)ntohs(sa->sin_port));
}

/* A socket's family, type and (AF_INET) addresses, by plain libc calls. */
static void sock_refresh(const struct ident *id, struct obj *o)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(int);

	o->sock = 1;
	if (getsockopt(o->fd, SOL_SOCKET, SO_DOMAIN, &o->family, &len) != 0)
		fail(id, "%s: getsockopt(SO_DOMAIN): %s", o->name, strerror(errno));
	len = sizeof(int);
	if (getsockopt(o->fd, SOL_SOCKET, SO_TYPE, &o->type, &len) != 0)
		fail(id, "%s: getsockopt(SO_TYPE): %s", o->name, strerror(errno));
	o->local[0] = o->remote[0] = 0;
	if (o->family != AF_INET)
		return;
	len = sizeof(sa);
	memset(&sa, 0, sizeof(sa));
	if (getsockname(o->fd, (struct sockaddr *)&sa, &len) != 0) {
		fail(id, "%s: getsockname: %s", o->name, strerror(errno));
		return;
	}
	sockaddr_text(&sa, o->local, sizeof(o->local));
	len = sizeof(sa);
	memset(&sa, 0, sizeof(sa));
	if (getpeername(o->fd, (struct sockaddr *)&sa, &len) != 0) {
		if (errno != ENOTCONN) {
			fail(id, "%s: getpeername: %s", o->name, strerror(errno));
			return;
		}
		/* Not connected: no remote, as the kernel's sock_common says. */
		memset(&sa, 0, sizeof(sa));
	}
	sockaddr_text(&sa, o->remote, sizeof(o->remote));
}

/* One file line; addresses only when `addrs` (they are stable then). */
static void file_line(unsigned long mark, const struct obj *o, const char *role, int fd, int addrs)
{
	char sock[256] = "";

	if (o->sock) {
		int n = snprintf(sock, sizeof(sock), " family=%d type=%d", o->family, o->type);

		if (addrs && o->local[0])
			snprintf(sock + n, sizeof(sock) - (size_t)n, " local=%s remote=%s", o->local,
				 o->remote);
	}
	say("LTIDENT file mark=%#lx obj=%s role=%s fd=%d kind=%s dev=%u:%u ino=%lu mode=%#o%s link=%s",
	    mark, o->name, role, fd, kind_name(o->st.st_mode), major(o->st.st_dev),
	    minor(o->st.st_dev), (unsigned long)o->st.st_ino, (unsigned)o->st.st_mode, sock,
	    o->link);
}

/*
 * The marked fstat of an object: what it returns, with readlink of its
 * /proc/self/fd entry, is what every file line of the object says.
 */
static void obj_fstat(const struct ident *id, struct obj *o)
{
	char fdlink[64];
	unsigned long mark;
	long r, n;

	memset(&o->st, 0, sizeof(o->st));
	r = mcall(id, &mark, SYS_fstat, o->fd, (long)&o->st, 0, 0);
	if (r != 0)
		fail(id, "%s: fstat(%d) = %ld", o->name, o->fd, r);
	snprintf(fdlink, sizeof(fdlink), "/proc/self/fd/%d", o->fd);
	n = readlink(fdlink, o->link, sizeof(o->link) - 1);
	if (n < 0) {
		fail(id, "%s: readlink(%s): %s", o->name, fdlink, strerror(errno));
		n = 0;
	}
	o->link[n] = 0;
	if (o->sock)
		sock_refresh(id, o);
	call_line(id, mark, SYS_fstat, "fstat", r);
	file_line(mark, o, "arg0", o->fd, 1);
}

/* A marked call on the object's descriptor (argument 0). */
static long obj_call(const struct ident *id, struct obj *o, long nr, const char *name, long a1,
		     long a2, long a3, int addrs)
{
	unsigned long mark;
	long r = mcall(id, &mark, nr, o->fd, a1, a2, a3);

	call_line(id, mark, nr, name, r);
	file_line(mark, o, "arg0", o->fd, addrs);
	return r;
}

static void obj_close(const struct ident *id, struct obj *o)
{
	long r = obj_call(id, o, SYS_close, "close", 0, 0, 0, 1);

	if (r != 0)
		fail(id, "%s: close(%d) = %ld", o->name, o->fd, r);
	o->fd = -1;
}

/* Opens `path` (relative to `dirfd`) with a marked openat. */
static int obj_open(const struct ident *id, struct obj *o, const char *name, int dirfd,
		    const char *path, long flags, long mode)
{
	unsigned long mark;
	long fd = mcall(id, &mark, SYS_openat, dirfd, (long)path, flags, mode);

	memset(o, 0, sizeof(*o));
	o->name = name;
	o->fd = (int)fd;
	if (fd < 0) {
		fail(id, "%s: openat(%s) = %ld", name, path, fd);
		return -1;
	}
	obj_fstat(id, o);
	call_line(id, mark, SYS_openat, "openat", fd);
	file_line(mark, o, "return", o->fd, 1);
	return 0;
}

static void expect_link(const struct ident *id, const struct obj *o, const char *want)
{
	if (strcmp(o->link, want) != 0)
		fail(id, "%s: readlink says '%s', expected '%s'", o->name, o->link, want);
}

static void expect_kind(const struct ident *id, const struct obj *o, mode_t type)
{
	if ((o->st.st_mode & S_IFMT) != type)
		fail(id, "%s: st_mode %#o, expected type %#o", o->name, (unsigned)o->st.st_mode,
		     (unsigned)type);
}

/* Whose link text is "pipe:[INO]" or "socket:[INO]". */
static void expect_pseudo_link(const struct ident *id, const struct obj *o, const char *what)
{
	char want[64];

	snprintf(want, sizeof(want), "%s:[%lu]", what, (unsigned long)o->st.st_ino);
	expect_link(id, o, want);
}

static void make_dir(const struct ident *id, const char *path)
{
	if (mkdir(path, 0755) != 0 && errno != EEXIST)
		fail(id, "mkdir(%s): %s", path, strerror(errno));
}

/* Regular files, directories, a character device. */
static void files(const struct ident *id)
{
	static char buf[256], longpath[PATH_MAX];
	struct obj o, dir;
	char *p;
	int i;

	make_dir(id, WORK_DIR);
	make_dir(id, NESTED_DIR);
	memset(buf, 'x', sizeof(buf));

	/* A regular file on /tmp (a tmpfs mount): write, read back, close. */
	if (obj_open(id, &o, "tmpfile", AT_FDCWD, TMP_FILE, O_CREAT | O_RDWR | O_TRUNC | O_CLOEXEC,
		     0640) == 0) {
		expect_kind(id, &o, S_IFREG);
		expect_link(id, &o, TMP_FILE);
		if (obj_call(id, &o, SYS_write, "write", (long)buf, 100, 0, 1) != 100)
			fail(id, "tmpfile: short write");
		if (obj_call(id, &o, SYS_pread64, "pread64", (long)buf, 100, 0, 1) != 100)
			fail(id, "tmpfile: short pread64");
		obj_close(id, &o);
	}

	/* A directory below /tmp, then the file again, relative to it. */
	if (obj_open(id, &dir, "dir-work", AT_FDCWD, WORK_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC,
		     0) == 0) {
		expect_kind(id, &dir, S_IFDIR);
		expect_link(id, &dir, WORK_DIR);
		if (obj_open(id, &o, "relfile", dir.fd, "nested-directory/file.txt",
			     O_RDONLY | O_CLOEXEC, 0) == 0) {
			expect_link(id, &o, TMP_FILE);
			obj_call(id, &o, SYS_read, "read", (long)buf, 10, 0, 1);
			obj_close(id, &o);
		}
		if (obj_call(id, &dir, SYS_getdents64, "getdents64", (long)buf, sizeof(buf), 0, 1) <= 0)
			fail(id, "dir-work: getdents64 returned nothing");
		obj_close(id, &dir);
	}

	/* A path longer than a file record holds: its tail, truncated. */
	p = longpath + snprintf(longpath, sizeof(longpath), "%s", WORK_DIR);
	for (i = 0; i < LONG_DEPTH; i++) {
		*p++ = '/';
		memset(p, 'a' + i, LONG_COMPONENT);
		p += LONG_COMPONENT;
		*p = 0;
		make_dir(id, longpath);
	}
	snprintf(p, sizeof(longpath) - (size_t)(p - longpath), "/long.txt");
	if (obj_open(id, &o, "longfile", AT_FDCWD, longpath, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC,
		     0600) == 0) {
		expect_link(id, &o, longpath);
		obj_call(id, &o, SYS_write, "write", (long)buf, 10, 0, 1);
		obj_close(id, &o);
	}

	/* The program itself, on the initramfs' root file system. */
	if (obj_open(id, &o, "exe", AT_FDCWD, exe_path, O_RDONLY | O_CLOEXEC, 0) == 0) {
		expect_kind(id, &o, S_IFREG);
		expect_link(id, &o, exe_path);
		if (obj_call(id, &o, SYS_read, "read", (long)buf, 64, 0, 1) != 64)
			fail(id, "exe: short read");
		obj_close(id, &o);
	}

	/* A character device on devtmpfs: its st_dev is the file system's. */
	if (obj_open(id, &o, "devnull", AT_FDCWD, "/dev/null", O_RDWR | O_CLOEXEC, 0) == 0) {
		expect_kind(id, &o, S_IFCHR);
		expect_link(id, &o, "/dev/null");
		obj_call(id, &o, SYS_write, "write", (long)buf, 10, 0, 1);
		obj_call(id, &o, SYS_read, "read", (long)buf, 10, 0, 1);
		obj_close(id, &o);
	}

	/* The root directory, and /tmp, the root of a mount. */
	if (obj_open(id, &o, "dir-root", AT_FDCWD, "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0) == 0) {
		expect_link(id, &o, "/");
		obj_call(id, &o, SYS_getdents64, "getdents64", (long)buf, sizeof(buf), 0, 1);
		obj_close(id, &o);
	}
	if (obj_open(id, &o, "dir-tmp", AT_FDCWD, "/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0) == 0) {
		expect_link(id, &o, "/tmp");
		obj_close(id, &o);
	}
}

/* Two descriptors from one call (pipe2, socketpair): roles pair0, pair1. */
static void pair(const struct ident *id, long nr, const char *name, long a0, long a1, long a2,
		 long a3, int *fds, struct obj *o0, struct obj *o1, int sock)
{
	unsigned long mark;
	long r = mcall(id, &mark, nr, a0, a1, a2, a3);

	if (r != 0 || fds[0] < 0 || fds[1] < 0)
		fail(id, "%s = %ld, fds %d %d", name, r, fds[0], fds[1]);
	o0->fd = fds[0];
	o1->fd = fds[1];
	o0->sock = o1->sock = sock;
	obj_fstat(id, o0);
	obj_fstat(id, o1);
	call_line(id, mark, nr, name, r);
	file_line(mark, o0, "pair0", o0->fd, 1);
	file_line(mark, o1, "pair1", o1->fd, 1);
}

static void pipes_and_pairs(const struct ident *id)
{
	static const char msg[] = "lt-ident";
	char got[16];
	struct obj r = { .name = "pipe-r" }, w = { .name = "pipe-w" };
	struct obj a = { .name = "unix-a" }, b = { .name = "unix-b" };
	int fds[2] = { -1, -1 };

	pair(id, SYS_pipe2, "pipe2", (long)fds, O_CLOEXEC, 0, 0, fds, &r, &w, 0);
	expect_kind(id, &r, S_IFIFO);
	expect_pseudo_link(id, &r, "pipe");
	expect_pseudo_link(id, &w, "pipe");
	if (r.st.st_ino != w.st.st_ino)
		fail(id, "pipe ends have inodes %lu and %lu", (unsigned long)r.st.st_ino,
		     (unsigned long)w.st.st_ino);
	obj_call(id, &w, SYS_write, "write", (long)msg, 8, 0, 1);
	obj_call(id, &r, SYS_read, "read", (long)got, 8, 0, 1);
	obj_close(id, &r);
	obj_close(id, &w);

	fds[0] = fds[1] = -1;
	pair(id, SYS_socketpair, "socketpair", AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, (long)fds, fds,
	     &a, &b, 1);
	expect_kind(id, &a, S_IFSOCK);
	expect_pseudo_link(id, &a, "socket");
	expect_pseudo_link(id, &b, "socket");
	if (a.family != AF_UNIX || a.type != SOCK_STREAM)
		fail(id, "unix-a: family %d type %d", a.family, a.type);
	obj_call(id, &a, SYS_write, "write", (long)msg, 8, 0, 1);
	obj_call(id, &b, SYS_read, "read", (long)got, 8, 0, 1);
	obj_close(id, &a);
	obj_close(id, &b);
}

/* Loopback up (a fresh guest has it down), if it is not. */
static void loopback_up(const struct ident *id)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (s < 0)
		return;
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0 && !(ifr.ifr_flags & IFF_UP)) {
		ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
		if (ioctl(s, SIOCSIFFLAGS, &ifr) != 0)
			fail(id, "cannot bring lo up: %s", strerror(errno));
	}
	close(s);
}

/* A marked socket(): role return. */
static int tcp_socket(const struct ident *id, struct obj *o, const char *name)
{
	unsigned long mark;
	long fd = mcall(id, &mark, SYS_socket, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0, 0);

	memset(o, 0, sizeof(*o));
	o->name = name;
	o->fd = (int)fd;
	o->sock = 1;
	if (fd < 0) {
		fail(id, "%s: socket(AF_INET, SOCK_STREAM) = %ld", name, fd);
		return -1;
	}
	obj_fstat(id, o);
	expect_kind(id, o, S_IFSOCK);
	expect_pseudo_link(id, o, "socket");
	call_line(id, mark, SYS_socket, "socket", fd);
	file_line(mark, o, "return", o->fd, 1);
	return 0;
}

/*
 * A TCP connection on loopback: listener, client, accepted socket. The
 * addresses are printed for calls that do not change them (bind and
 * connect do: their lines leave them out).
 */
static void tcp(const struct ident *id, int port)
{
	struct obj l, c, a;
	struct sockaddr_in sa;
	socklen_t len;
	char got[16];
	unsigned long mark;
	long r;

	loopback_up(id);
	if (tcp_socket(id, &l, "tcp-listen") != 0)
		return;
	/* A rerun on the same host: the port may still be in TIME_WAIT. */
	setsockopt(l.fd, SOL_SOCKET, SO_REUSEADDR, &(int){ 1 }, sizeof(int));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	r = obj_call(id, &l, SYS_bind, "bind", (long)&sa, sizeof(sa), 0, 0);
	if (r != 0) {
		fail(id, "bind(127.0.0.1:%d) = %ld", port, r);
		obj_close(id, &l);
		return;
	}
	sock_refresh(id, &l);
	obj_call(id, &l, SYS_listen, "listen", 4, 0, 0, 1);
	len = sizeof(sa);
	obj_call(id, &l, SYS_getsockname, "getsockname", (long)&sa, (long)&len, 0, 1);

	if (tcp_socket(id, &c, "tcp-client") != 0)
		return;
	sa.sin_port = htons((unsigned short)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	r = obj_call(id, &c, SYS_connect, "connect", (long)&sa, sizeof(sa), 0, 0);
	if (r != 0)
		fail(id, "connect(127.0.0.1:%d) = %ld", port, r);
	sock_refresh(id, &c);
	len = sizeof(sa);
	obj_call(id, &c, SYS_getsockname, "getsockname", (long)&sa, (long)&len, 0, 1);

	/* accept4: the listener in argument 0, the new socket returned. */
	r = mcall(id, &mark, SYS_accept4, l.fd, 0, 0, SOCK_CLOEXEC);
	memset(&a, 0, sizeof(a));
	a.name = "tcp-accepted";
	a.fd = (int)r;
	a.sock = 1;
	call_line(id, mark, SYS_accept4, "accept4", r);
	file_line(mark, &l, "arg0", l.fd, 1);
	if (r >= 0) {
		obj_fstat(id, &a);
		expect_pseudo_link(id, &a, "socket");
		file_line(mark, &a, "return", a.fd, 1);
		if (strcmp(a.remote, c.local) != 0 || strcmp(c.remote, a.local) != 0)
			fail(id, "accepted %s <- %s, client %s -> %s", a.local, a.remote, c.local,
			     c.remote);
		obj_call(id, &c, SYS_write, "write", (long)"lt-ident", 8, 0, 1);
		obj_call(id, &a, SYS_read, "read", (long)got, 8, 0, 1);
		/* The client closes first: TIME_WAIT is on its port. */
		obj_close(id, &c);
		obj_close(id, &a);
	} else {
		fail(id, "accept4 = %ld", r);
		obj_close(id, &c);
	}
	obj_close(id, &l);
}

static void *thread_main(void *arg)
{
	struct ident id;

	(void)arg;
	set_comm(NULL, "lt-thread");
	refresh(&id, "thread");
	if (id.tid == id.pid)
		fail(&id, "the thread's tid is the pid (%ld)", id.pid);
	if (strcmp(id.comm, "lt-thread") != 0)
		fail(&id, "comm is '%s', expected lt-thread", id.comm);
	mark_task(&id);
	return NULL;
}

static void thread(const struct ident *id)
{
	pthread_t t;
	int e = pthread_create(&t, NULL, thread_main, NULL);

	if (e != 0) {
		fail(id, "pthread_create: %s", strerror(e));
		return;
	}
	pthread_join(t, NULL);
}

/*
 * A grandchild marks a call with its parent alive, then, once the parent
 * has exited and the program (a child subreaper) has become its parent,
 * again: the second record's ppid is the program's.
 */
static void orphan(const struct ident *main_id)
{
	int go[2], done[2], st;
	pid_t child, gc;
	char c;
	long r;

	if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
		fail(main_id, "PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
	if (pipe2(go, O_CLOEXEC) != 0 || pipe2(done, O_CLOEXEC) != 0) {
		fail(main_id, "pipe2: %s", strerror(errno));
		return;
	}
	child = fork();
	if (child == 0) {
		failures = 0; /* its own, reported by its exit status */
		close(done[0]);
		gc = fork();
		if (gc == 0) {
			struct ident id;
			int i;

			close(go[0]);
			set_comm(NULL, "lt-orphan");
			refresh(&id, "orphan");
			mark_task(&id);
			/* Let the parent exit, and wait to be reparented. */
			close(go[1]);
			for (i = 0; i < 1000 && raw0(SYS_getppid) != main_id->pid; i++)
				nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000 * 1000 }, NULL);
			refresh(&id, "orphan");
			if (id.ppid != main_id->pid)
				fail(&id, "not reparented to the subreaper %ld: ppid %ld",
				     main_id->pid, id.ppid);
			mark_task(&id);
			_exit(failures ? 1 : 0);
		}
		close(go[1]);
		close(done[1]);
		/* EOF once the grandchild made its first mark (or died). */
		while (read(go[0], &c, 1) > 0)
			;
		_exit(gc > 0 ? 0 : 1);
	}
	close(go[0]);
	close(go[1]);
	close(done[1]);
	if (child < 0) {
		fail(main_id, "fork: %s", strerror(errno));
		close(done[0]);
		return;
	}
	if (waitpid(child, &st, 0) != child || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail(main_id, "orphan's parent %d: wait status %#x", (int)child, st);
	/* The grandchild holds done[1] until it exits; then reap it. */
	while (read(done[0], &c, 1) > 0)
		;
	close(done[0]);
	r = waitpid(-1, &st, 0);
	if (r < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail(main_id, "orphan %ld: wait status %#x", r, st);
	prctl(PR_SET_CHILD_SUBREAPER, 0);
}

/* A churn child: its own comm, one mark; maybe exec and mark again. */
static void churn_child(int i, const char *exec_link)
{
	char name[16], seq[32];
	struct ident id;

	failures = 0; /* its own, reported by its exit status */
	snprintf(name, sizeof(name), "ltc-%03d", i);
	set_comm(NULL, name);
	refresh(&id, "churn");
	if (strcmp(id.comm, name) != 0)
		fail(&id, "comm is '%s', expected %s", id.comm, name);
	mark_task(&id);
	if (exec_link) {
		char *argv[] = { "ltx", "--churn-exec", seq, NULL };

		snprintf(seq, sizeof(seq), "%lu", mark_seq);
		execve(exec_link, argv, environ);
		fail(&id, "execve(%s): %s", exec_link, strerror(errno));
	}
	_exit(failures ? 1 : 0);
}

/* "ltx-NNN --churn-exec SEQ": a churn child after execve. */
static int churn_exec_main(const char *seq)
{
	struct ident id;

	mark_seq = strtoul(seq, NULL, 10);
	refresh(&id, "churn");
	if (strncmp(id.comm, "ltx-", 4) != 0)
		fail(&id, "comm after execve is '%s', expected ltx-NNN", id.comm);
	mark_task(&id);
	return failures ? 1 : 0;
}

static void churn(const struct ident *main_id, int n)
{
	char link[64];
	int i, st, lines = 0, reaped = 0;

	for (i = 0; i < n; i++) {
		int ex = i % CHURN_EXEC_EVERY == CHURN_EXEC_EVERY - 1;
		pid_t pid;

		if (ex) {
			snprintf(link, sizeof(link), "%s/ltx-%03d", WORK_DIR, i);
			unlink(link);
			if (symlink(exe_path, link) != 0) {
				fail(main_id, "symlink(%s, %s): %s", exe_path, link, strerror(errno));
				ex = 0;
			}
		}
		/* Each child's marks distinct from any other's, pid reuse or not. */
		mark_seq += 2;
		pid = fork();
		if (pid == 0)
			churn_child(i, ex ? link : NULL);
		if (pid < 0) {
			fail(main_id, "churn fork %d: %s", i, strerror(errno));
			break;
		}
		if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			fail(main_id, "churn child %d (pid %d): wait status %#x", i, (int)pid, st);
		reaped++;
		lines += ex ? 2 : 1;
		if (ex)
			unlink(link);
		/*
		 * A pause now and then: the guest's vCPU idles, and the host
		 * (in the testbed a single-CPU L1) runs the reader, which
		 * drains the module's ring before it fills.
		 */
		if (i % CHURN_PAUSE_EVERY == CHURN_PAUSE_EVERY - 1)
			nanosleep(&(struct timespec){ .tv_nsec = CHURN_PAUSE_NS }, NULL);
	}
	say("LTIDENT churn children=%d lines=%d", reaped, lines);
}

/* The name, through /proc/self/comm: no prctl for the module to see. */
static void proc_comm(const struct ident *main_id)
{
	static const char name[] = "lt-proccomm";
	struct ident id;
	int fd = open("/proc/self/comm", O_WRONLY | O_CLOEXEC);

	if (fd < 0 || write(fd, name, strlen(name)) != (ssize_t)strlen(name))
		fail(main_id, "writing /proc/self/comm: %s", strerror(errno));
	if (fd >= 0)
		close(fd);
	refresh(&id, "proc-comm");
	if (strcmp(id.comm, name) != 0)
		fail(&id, "comm is '%s', expected %s", id.comm, name);
	mark_task(&id);
}

/* "lt-ident --exec FAILURES SEQ": the program after execve. */
static int exec_main(const char *fails, const char *seq)
{
	struct ident id;

	failures = atoi(fails);
	mark_seq = strtoul(seq, NULL, 10);
	refresh(&id, "exec");
	if (strcmp(id.comm, EXEC_COMM) != 0)
		fail(&id, "comm after execve is '%s', expected %s", id.comm, EXEC_COMM);
	mark_task(&id);
	unlink(EXEC_LINK);
	if (failures) {
		say("LTDONE failed (%d)", failures);
		return 1;
	}
	say("LTDONE ok");
	return 0;
}

static int usage(void)
{
	say("usage: lt-ident [--churn N] [--port P]");
	return 2;
}

int main(int argc, char **argv)
{
	struct ident id;
	int churn_n = DEFAULT_CHURN, port = DEFAULT_PORT, i;
	long n;

	n = readlink("/proc/self/exe", exe_path, sizeof(exe_path) - 1);
	if (n <= 0) {
		say("LTFAIL readlink(/proc/self/exe): %s", strerror(errno));
		return 1;
	}
	exe_path[n] = 0;
	if (argc == 4 && strcmp(argv[1], "--exec") == 0)
		return exec_main(argv[2], argv[3]);
	if (argc == 3 && strcmp(argv[1], "--churn-exec") == 0)
		return churn_exec_main(argv[2]);
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--churn") == 0 && i + 1 < argc)
			churn_n = atoi(argv[++i]);
		else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
			port = atoi(argv[++i]);
		else
			return usage();
	}
	if (churn_n < 0 || port <= 0 || port > 65535)
		return usage();

	refresh(&id, "main");
	say("LTIDENT start magic=%#lx pid=%ld churn=%d", MARK_MAGIC, id.pid, churn_n);
	mark_task(&id);
	files(&id);
	pipes_and_pairs(&id);
	tcp(&id, port);
	thread(&id);
	/* The thread's comm is its own: the program's is unchanged. */
	refresh(&id, "main");
	mark_task(&id);
	orphan(&id);
	churn(&id, churn_n);

	set_comm(&id, "lt-renamed");
	refresh(&id, "renamed");
	if (strcmp(id.comm, "lt-renamed") != 0)
		fail(&id, "comm is '%s' after PR_SET_NAME", id.comm);
	mark_task(&id);
	proc_comm(&id);

	/* Exec through a symlink: the new comm is the link's name. */
	{
		char fails[16], seq[32];
		char *eargv[] = { "lt-ident", "--exec", fails, seq, NULL };

		unlink(EXEC_LINK);
		if (symlink(exe_path, EXEC_LINK) != 0)
			fail(&id, "symlink(%s, %s): %s", exe_path, EXEC_LINK, strerror(errno));
		snprintf(fails, sizeof(fails), "%d", failures);
		snprintf(seq, sizeof(seq), "%lu", mark_seq);
		execve(EXEC_LINK, eargv, environ);
		fail(&id, "execve(%s): %s", EXEC_LINK, strerror(errno));
	}
	say("LTDONE failed (%d)", failures);
	return 1;
}
