// SPDX-License-Identifier: GPL-2.0
/*
 * lt-bench: system-call latency inside an L2 guest, for the multi-VM
 * evaluation (selftests/leaktrace/bench.sh, scripts/bench,
 * Documentation/evaluation.md).
 *
 *   lt-bench measure [-n ITER] [-w WARMUP] [-r ROUNDS] [-s SIZE] [-d DIR]
 *                    [-z SECONDS]
 *
 *     Times ITER calls (default 20000) of each operation, one call at a
 *     time, with the time stamp counter read right before and right after
 *     the program's own `syscall` instruction:
 *
 *       getpid           SYS_getpid (no libc cache; a call leaktrace
 *                        does not follow)
 *       read-unmanaged   read(SIZE) of DIR/unmanaged.dat, a file no secret
 *                        names
 *       read-managed     read(SIZE) of DIR/managed.dat, a file the host may
 *                        name as a secret (bench.sh adds the glob
 *                        DIR/managed*)
 *       write-unmanaged  write(SIZE) to DIR/unmanaged-out.dat
 *       write-managed    write(SIZE) to DIR/managed-out.dat
 *
 *     Before timing it creates the files (64 KiB each) and reads
 *     DIR/managed.dat once, so that under a secret the process carries it
 *     and every timed read of the secret file takes leaktrace's lock-free
 *     path (nothing new to record). The ITER calls of each operation are
 *     spread over ROUNDS rounds (default 10) that take the operations in
 *     turn, so that a slow phase of the host hits them all alike; WARMUP
 *     untimed calls (default 1000) of each come first. Reads and writes
 *     go back to offset 0 (an untimed lseek) before they reach the end of
 *     the 64 KiB file.
 *
 *     Output, kselftest TAP plus one machine-readable line per operation:
 *
 *       # bench tsc_hz=H clocksource=C iterations=N warmup=W rounds=R size=S
 *       # stats op=OP n=N min=.. max=.. mean=.. median=.. var=.. p99=.. p999=.. unit=us
 *       ok K - OP: N calls timed, every result as expected
 *
 *     var is the sample variance in us^2; p99 and p999 are nearest-rank
 *     percentiles. The counter's rate is calibrated against
 *     CLOCK_MONOTONIC over the whole run. Then "# bench done", and the
 *     program sleeps SECONDS (default 0) before exiting, so that the host
 *     can read the module's counters while the VM still exists.
 *
 *   lt-bench load [-p PORT] [-t SECONDS] [-s SIZE] [-d DIR]
 *
 *     The other VMs' load: read(SIZE) of DIR/load.dat in a loop (lseek to 0
 *     at the end of the 64 KiB file). Controlled by datagrams on UDP PORT
 *     (default 7000): "go ..." starts the loop, "stop" pauses it (the VM is
 *     idle until the next "go"), "exit" ends the program. Prints "load:
 *     waiting", "load: running", "load: stopped after N reads in S s". It
 *     looks for a datagram every 1024 reads (a non-blocking recvfrom). Gives
 *     up after SECONDS (default 7200) in all.
 *
 *   lt-bench wait [-p PORT]
 *
 *     Binds UDP PORT (default 7000), says "bench: waiting" on stderr, and
 *     prints the first datagram it gets as one line on stdout: how the
 *     measuring VM's script learns that the host wants a measurement.
 *
 *   lt-bench send [-p PORT] [-g GROUP:GPORT] MESSAGE N...
 *
 *     Run on the testbed's L1, which is not on the guests' LAN: sends
 *     MESSAGE to UDP PORT of guest N (10.0.0.N, MAC 52:54:00:12:34:0N) for
 *     each N, as whole Ethernet frames from 10.0.0.254 into the QEMU
 *     multicast group that is the LAN (default 230.0.0.1:10001, see
 *     Documentation/testbed.rst, "Network").
 *
 * Exit status: 0 when every call returned what it should, 1 otherwise, 2
 * on bad usage.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lt-guest.h"

#define FILE_BYTES (64 * 1024)
#define SIZE_MAX_BYTES 4096

enum op { OP_GETPID, OP_READ_UNMANAGED, OP_READ_MANAGED, OP_WRITE_UNMANAGED, OP_WRITE_MANAGED, OPS };

static const char *const op_names[OPS] = {
	"getpid", "read-unmanaged", "read-managed", "write-unmanaged", "write-managed",
};

static unsigned long iterations = 20000, warmup = 1000, rounds = 10;
static unsigned long size = 64, linger, port = 7000;
static const char *dir = "/tmp/bench";
static const char *group = "230.0.0.1:10001";

/* The time stamp counter, not reordered with what comes before it. */
static inline uint64_t tsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("lfence\n\trdtsc" : "=a"(lo), "=d"(hi) : : "memory");
	return ((uint64_t)hi << 32) | lo;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
	say("Bail out! %s: %s", what, strerror(errno));
	exit(1);
}

static unsigned long number(const char *s, const char *opt)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || !*s || *end) {
		say("lt-bench: %s: '%s' is not a number", opt, s);
		exit(2);
	}
	return v;
}

static void path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

/* Creates DIR/name with FILE_BYTES bytes of a pattern; returns an fd open
 * with flags (read or write), at offset 0. */
static int make_file(const char *name, int flags)
{
	static char block[4096];
	char p[256];
	int fd, i;

	for (i = 0; i < (int)sizeof(block); i++)
		block[i] = (char)('a' + i % 26);
	path(p, sizeof(p), name);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		die(p);
	for (i = 0; i < FILE_BYTES / (int)sizeof(block); i++)
		if (write(fd, block, sizeof(block)) != (ssize_t)sizeof(block))
			die(p);
	close(fd);
	fd = open(p, flags);
	if (fd < 0)
		die(p);
	return fd;
}

struct target {
	int fd;
	unsigned long pos;
	long bad;	/* calls that did not return what they should */
	long last_bad;
};

static char buf[SIZE_MAX_BYTES];

/* One call of op, timed; returns the ticks it took. */
static uint64_t one(enum op op, struct target *t)
{
	uint64_t t0, t1;
	long r, want;

	if (op != OP_GETPID && t->pos + size > FILE_BYTES) {
		if (raw3(SYS_lseek, t->fd, 0, SEEK_SET) != 0)
			die("lseek");
		t->pos = 0;
	}
	switch (op) {
	case OP_GETPID:
		t0 = tsc();
		r = raw0(SYS_getpid);
		t1 = tsc();
		want = r > 0 ? r : 1;
		break;
	case OP_READ_UNMANAGED:
	case OP_READ_MANAGED:
		t0 = tsc();
		r = raw3(SYS_read, t->fd, buf, size);
		t1 = tsc();
		want = (long)size;
		break;
	default:
		t0 = tsc();
		r = raw3(SYS_write, t->fd, buf, size);
		t1 = tsc();
		want = (long)size;
		break;
	}
	if (r != want) {
		t->bad++;
		t->last_bad = r;
	} else if (op != OP_GETPID) {
		t->pos += size;
	}
	return t1 - t0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile q (0 < q <= 1) of n sorted values. */
static uint64_t rank(const uint64_t *v, unsigned long n, double q)
{
	unsigned long k = (unsigned long)(q * (double)n + 0.999999);

	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return v[k - 1];
}

static int usage(void);

static int measure(void)
{
	struct target t[OPS];
	uint64_t *samples[OPS];
	unsigned long i, r, k, per, done[OPS] = { 0 };
	uint64_t c0, c1, n0, n1;
	double hz, us;
	char cs[64] = "?";
	int fd, op, failed = 0;

	if (size == 0 || size > SIZE_MAX_BYTES || rounds == 0 || iterations < rounds) {
		say("lt-bench: need 0 < SIZE <= %d and ITER >= ROUNDS > 0", SIZE_MAX_BYTES);
		return 2;
	}
	mkdir(dir, 0755);
	memset(t, 0, sizeof(t));
	t[OP_GETPID].fd = -1;
	t[OP_READ_UNMANAGED].fd = make_file("unmanaged.dat", O_RDONLY);
	t[OP_READ_MANAGED].fd = make_file("managed.dat", O_RDONLY);
	t[OP_WRITE_UNMANAGED].fd = make_file("unmanaged-out.dat", O_WRONLY);
	t[OP_WRITE_MANAGED].fd = make_file("managed-out.dat", O_WRONLY);
	/* Read the secret file once, whole: under a secret, the process
	 * carries it from now on. */
	while (raw3(SYS_read, t[OP_READ_MANAGED].fd, buf, sizeof(buf)) > 0)
		;
	if (raw3(SYS_lseek, t[OP_READ_MANAGED].fd, 0, SEEK_SET) != 0)
		die("lseek");
	for (op = 0; op < OPS; op++) {
		samples[op] = calloc(iterations, sizeof(uint64_t));
		if (!samples[op])
			die("calloc");
	}
	fd = open("/sys/devices/system/clocksource/clocksource0/current_clocksource", O_RDONLY);
	if (fd >= 0) {
		ssize_t n = read(fd, cs, sizeof(cs) - 1);

		cs[n > 0 ? n : 0] = 0;
		cs[strcspn(cs, "\n")] = 0;
		close(fd);
	}

	say("TAP version 13");
	say("1..%d", OPS);
	for (op = 0; op < OPS; op++)
		for (i = 0; i < warmup; i++)
			(void)one(op, &t[op]);
	for (op = 0; op < OPS; op++)
		t[op].bad = 0;

	n0 = mono_ns();
	c0 = tsc();
	for (r = 0; r < rounds; r++) {
		for (op = 0; op < OPS; op++) {
			per = iterations / rounds + (r < iterations % rounds);
			for (k = 0; k < per; k++)
				samples[op][done[op]++] = one(op, &t[op]);
		}
	}
	c1 = tsc();
	n1 = mono_ns();
	hz = (double)(c1 - c0) * 1e9 / (double)(n1 - n0);
	us = 1e6 / hz;

	say("# bench tsc_hz=%.0f clocksource=%s iterations=%lu warmup=%lu rounds=%lu size=%lu seconds=%.3f",
	    hz, cs, iterations, warmup, rounds, size, (double)(n1 - n0) / 1e9);
	for (op = 0; op < OPS; op++) {
		uint64_t *v = samples[op];
		unsigned long n = done[op];
		double sum = 0, mean, ss = 0, d, median;

		qsort(v, n, sizeof(*v), cmp_u64);
		for (i = 0; i < n; i++)
			sum += (double)v[i];
		mean = sum / (double)n;
		for (i = 0; i < n; i++) {
			d = (double)v[i] - mean;
			ss += d * d;
		}
		median = n % 2 ? (double)v[n / 2] : ((double)v[n / 2 - 1] + (double)v[n / 2]) / 2;
		say("# stats op=%s n=%lu min=%.4f max=%.4f mean=%.4f median=%.4f var=%.6g p99=%.4f p999=%.4f unit=us",
		    op_names[op], n, (double)v[0] * us, (double)v[n - 1] * us, mean * us,
		    median * us, n > 1 ? ss / (double)(n - 1) * us * us : 0.0,
		    (double)rank(v, n, 0.99) * us, (double)rank(v, n, 0.999) * us);
		if (t[op].bad) {
			failed++;
			say("not ok %d - %s: %ld of %lu calls returned something else (last: %ld)",
			    op + 1, op_names[op], t[op].bad, n, t[op].last_bad);
		} else {
			say("ok %d - %s: %lu calls timed, every result as expected", op + 1,
			    op_names[op], n);
		}
	}
	say("# bench done");
	if (linger)
		sleep((unsigned int)linger);
	return failed ? 1 : 0;
}

/* A UDP socket bound to port on every address. */
static int control_socket(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_DGRAM, 0), one = 1;

	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)))
		die("bind");
	return fd;
}

/* The next datagram (flags: 0 or MSG_DONTWAIT) into msg, NUL-terminated
 * and without a trailing newline; 0 if none is waiting. */
static int control_recv(int fd, char *msg, size_t len, int flags)
{
	ssize_t n = recv(fd, msg, len - 1, flags);

	if (n < 0)
		return 0;
	msg[n] = 0;
	msg[strcspn(msg, "\n")] = 0;
	return 1;
}

static int load(unsigned long seconds)
{
	struct target t = { 0 };
	uint64_t start = mono_ns(), now = start, t0;
	unsigned long long reads = 0, total = 0;
	char msg[128];
	int fd;

	if (size == 0 || size > SIZE_MAX_BYTES) {
		say("lt-bench: need 0 < SIZE <= %d", SIZE_MAX_BYTES);
		return 2;
	}
	mkdir(dir, 0755);
	t.fd = make_file("load.dat", O_RDONLY);
	fd = control_socket();
	for (;;) {
		say("load: waiting");
		do {
			if (!control_recv(fd, msg, sizeof(msg), 0))
				die("recv");
		} while (strncmp(msg, "go", 2) && strcmp(msg, "exit"));
		if (!strcmp(msg, "exit"))
			break;
		say("load: running (read of %lu bytes)", size);
		t0 = mono_ns();
		reads = 0;
		for (;;) {
			(void)one(OP_READ_UNMANAGED, &t);
			if (++reads % 1024)
				continue;
			if (control_recv(fd, msg, sizeof(msg), MSG_DONTWAIT) &&
			    (!strcmp(msg, "stop") || !strcmp(msg, "exit")))
				break;
			now = mono_ns();
			if (now - start >= (uint64_t)seconds * 1000000000u) {
				strcpy(msg, "exit");
				break;
			}
		}
		now = mono_ns();
		total += reads;
		say("load: stopped after %llu reads in %.1f s, %ld unexpected results", reads,
		    (double)(now - t0) / 1e9, t.bad);
		if (!strcmp(msg, "exit"))
			break;
	}
	say("load: exit after %llu reads", total);
	return t.bad ? 1 : 0;
}

static int wait_message(void)
{
	char msg[128];
	int fd = control_socket();

	/* On stderr: the script's stdout is what it reads. */
	dprintf(2, "bench: waiting\n");
	if (!control_recv(fd, msg, sizeof(msg), 0))
		die("recv");
	say("%s", msg);
	return 0;
}

static uint16_t ip_checksum(const unsigned char *p, size_t n)
{
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* One Ethernet frame per guest, from 10.0.0.254, into the LAN's group. */
static int send_message(int argc, char **argv)
{
	unsigned char f[14 + 20 + 8 + 128];
	struct sockaddr_in g = { .sin_family = AF_INET };
	struct in_addr lo = { .s_addr = htonl(INADDR_LOOPBACK) };
	const char *msg;
	char host[64], *colon;
	size_t len;
	int fd, i;

	if (argc < 2)
		return usage();
	msg = argv[0];
	len = strlen(msg);
	if (len > 128)
		return usage();
	snprintf(host, sizeof(host), "%s", group);
	colon = strchr(host, ':');
	if (!colon)
		return usage();
	*colon = 0;
	g.sin_port = htons((uint16_t)number(colon + 1, "-g"));
	if (inet_pton(AF_INET, host, &g.sin_addr) != 1)
		return usage();
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0)
		die("socket");
	setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &lo, sizeof(lo));
	for (i = 1; i < argc; i++) {
		unsigned long n = number(argv[i], "guest");
		unsigned char *ip = f + 14, *udp = ip + 20;
		size_t ip_len = 20 + 8 + len;

		if (n < 1 || n > 8)
			return usage();
		memset(f, 0, sizeof(f));
		memcpy(f, (unsigned char[]){ 0x52, 0x54, 0x00, 0x12, 0x34, (unsigned char)n }, 6);
		memcpy(f + 6, (unsigned char[]){ 0x52, 0x54, 0x00, 0x12, 0x34, 0xfe }, 6);
		f[12] = 0x08;
		ip[0] = 0x45;
		ip[2] = (unsigned char)(ip_len >> 8);
		ip[3] = (unsigned char)ip_len;
		ip[8] = 64;
		ip[9] = 17;
		memcpy(ip + 12, (unsigned char[]){ 10, 0, 0, 254 }, 4);
		memcpy(ip + 16, (unsigned char[]){ 10, 0, 0, (unsigned char)n }, 4);
		ip[10] = (unsigned char)(ip_checksum(ip, 20) >> 8);
		ip[11] = (unsigned char)ip_checksum(ip, 20);
		udp[0] = (unsigned char)(port >> 8);
		udp[1] = (unsigned char)port;
		udp[2] = (unsigned char)(port >> 8);
		udp[3] = (unsigned char)port;
		udp[4] = (unsigned char)((8 + len) >> 8);
		udp[5] = (unsigned char)(8 + len);
		/* UDP checksum 0: none (IPv4). */
		memcpy(udp + 8, msg, len);
		if (sendto(fd, f, 14 + ip_len, 0, (struct sockaddr *)&g, sizeof(g)) < 0)
			die("sendto");
	}
	return 0;
}

static int usage(void)
{
	say("usage: lt-bench measure [-n ITER] [-w WARMUP] [-r ROUNDS] [-s SIZE] [-d DIR] [-z SECONDS]");
	say("       lt-bench load [-p PORT] [-t SECONDS] [-s SIZE] [-d DIR]");
	say("       lt-bench wait [-p PORT]");
	say("       lt-bench send [-p PORT] [-g GROUP:PORT] MESSAGE N...");
	return 2;
}

int main(int argc, char **argv)
{
	unsigned long seconds = 7200;
	const char *mode;
	int c;

	if (argc < 2)
		return usage();
	mode = argv[1];
	optind = 2;
	while ((c = getopt(argc, argv, "+n:w:r:s:d:z:t:p:g:")) != -1) {
		switch (c) {
		case 'n': iterations = number(optarg, "-n"); break;
		case 'w': warmup = number(optarg, "-w"); break;
		case 'r': rounds = number(optarg, "-r"); break;
		case 's': size = number(optarg, "-s"); break;
		case 'd': dir = optarg; break;
		case 'z': linger = number(optarg, "-z"); break;
		case 't': seconds = number(optarg, "-t"); break;
		case 'p': port = number(optarg, "-p"); break;
		case 'g': group = optarg; break;
		default: return usage();
		}
	}
	if (!strcmp(mode, "send"))
		return send_message(argc - optind, argv + optind);
	if (optind != argc)
		return usage();
	if (!strcmp(mode, "measure"))
		return measure();
	if (!strcmp(mode, "load"))
		return load(seconds);
	if (!strcmp(mode, "wait"))
		return wait_message();
	return usage();
}
