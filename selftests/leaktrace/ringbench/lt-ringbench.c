// SPDX-License-Identifier: GPL-2.0
/*
 * lt-ringbench: event throughput of /dev/leaktrace, run in the testbed's
 * L1 (selftests/leaktrace/bench.sh) with leaktrace.ko loaded and no other
 * reader.
 *
 *   lt-ringbench [-n RECORDS] [-b BURST] [-d DEVICE]
 *
 * Test records come from IOCTL_EMIT_TEST (Documentation/abi.rst): the module
 * builds each one (header, clock) and pushes it through the same ring, under
 * the same lock, as a syscall record. Three runs, each checked against the
 * module's counters (IOCTL_GET_INFO) and the sequence numbers read:
 *
 *   alternate   the reader keeps up by construction: emit BURST records
 *               (default and at most a quarter of the ring), read them all,
 *               again, RECORDS in all (default 1000000). Must lose nothing.
 *   concurrent  a reader thread in blocking reads of 64 KiB while the main
 *               thread emits bursts back to back: whether a reader keeps up
 *               with a free-running producer, and if not, that every
 *               record is still accounted for.
 *   overflow    no reader while three ring-fulls are emitted, then drain:
 *               produced = delivered + dropped exactly, and the dropped
 *               count equals the gaps in the sequence numbers read.
 *
 * Output: kselftest TAP and, per run, one line
 *
 *   # ring mode=M records=N seconds=S rate=R produce_rate=P produced=..
 *     delivered=.. dropped=.. gaps=.. capacity=C
 *
 * rate is records read per second of the whole run (emit and read),
 * produce_rate records per second of time spent in the emitting ioctl.
 *
 * Exit status: 0 when every check passed, 1 otherwise, 2 on bad usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

/* Documentation/abi.rst, rust/abi/abi.rs. */
#define RECORD_MAGIC 0x544c
#define KIND_TEST 3
#define IOC(dir, nr, size) (((unsigned long)(dir) << 30) | ((unsigned long)(size) << 16) | ('L' << 8) | (nr))

struct counters {
	uint64_t produced, delivered, dropped, queued;
};

struct info {
	uint16_t abi_version, reserved;
	uint32_t record_max_size;
	uint64_t ring_bytes;
	struct counters c;
	uint64_t readers;
};

struct header {
	uint16_t magic, version, kind, size;
	uint64_t seq, time_ns;
};

struct test_record {
	struct header h;
	uint64_t index, burst;
};

#define IOCTL_GET_INFO IOC(2, 1, sizeof(struct info))
#define IOCTL_EMIT_TEST IOC(1, 2, sizeof(uint64_t))
#define EMIT_TEST_MAX (1u << 20)
#define READ_BYTES (64 * 1024)

static const char *device = "/dev/leaktrace";
static int tap_n, tap_failed;

static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static void result(int ok, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	tap_n++;
	if (!ok)
		tap_failed++;
	say("%sok %d - %s", ok ? "" : "not ", tap_n, line);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int get_info(int fd, struct info *info)
{
	memset(info, 0, sizeof(*info));
	return ioctl(fd, IOCTL_GET_INFO, info);
}

/* What the reader saw. */
struct seen {
	uint64_t records;	/* every record */
	uint64_t tests;		/* test records */
	uint64_t gaps;		/* sequence numbers skipped */
	uint64_t next_seq;	/* expected next; 0 before the first */
	int started;
	int malformed;
};

/* Checks and counts the whole records in buf[0..n). */
static void scan(struct seen *s, const unsigned char *buf, ssize_t n)
{
	ssize_t at = 0;

	while (at + (ssize_t)sizeof(struct header) <= n) {
		struct header h;

		memcpy(&h, buf + at, sizeof(h));
		if (h.magic != RECORD_MAGIC || h.size < sizeof(h) || at + h.size > n) {
			s->malformed++;
			return;
		}
		if (s->started && h.seq != s->next_seq) {
			if (h.seq < s->next_seq)
				s->malformed++;
			else
				s->gaps += h.seq - s->next_seq;
		}
		s->started = 1;
		s->next_seq = h.seq + 1;
		s->records++;
		if (h.kind == KIND_TEST)
			s->tests++;
		at += h.size;
	}
	if (at != n)
		s->malformed++;
}

/* Reads (non-blocking) until the ring is empty. */
static int drain(int fd, struct seen *s, unsigned char *buf)
{
	for (;;) {
		ssize_t n = read(fd, buf, READ_BYTES);

		if (n > 0) {
			scan(s, buf, n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		return -1;
	}
}

static int emit(int fd, uint64_t count, double *in_ioctl)
{
	double t0 = now_s();
	int r = ioctl(fd, IOCTL_EMIT_TEST, &count);

	*in_ioctl += now_s() - t0;
	return r;
}

static void report(const char *mode, uint64_t records, double secs, double in_ioctl,
		   const struct counters *a, const struct counters *b, const struct seen *s,
		   uint64_t capacity)
{
	say("# ring mode=%s records=%llu seconds=%.4f rate=%.0f produce_rate=%.0f produced=%llu delivered=%llu dropped=%llu gaps=%llu read=%llu capacity=%llu",
	    mode, (unsigned long long)records, secs, (double)s->tests / secs,
	    in_ioctl > 0 ? (double)records / in_ioctl : 0.0,
	    (unsigned long long)(b->produced - a->produced),
	    (unsigned long long)(b->delivered - a->delivered),
	    (unsigned long long)(b->dropped - a->dropped), (unsigned long long)s->gaps,
	    (unsigned long long)s->records, (unsigned long long)capacity);
}

/* Every record produced between a and b was read or dropped, and the
 * reader saw exactly the drops as gaps. */
static int accounted(const struct counters *a, const struct counters *b, const struct seen *s)
{
	uint64_t produced = b->produced - a->produced;
	uint64_t delivered = b->delivered - a->delivered;
	uint64_t dropped = b->dropped - a->dropped;

	return !s->malformed && b->queued == 0 && produced == delivered + dropped &&
	       delivered == s->records && dropped == s->gaps;
}

static int run_alternate(uint64_t total, uint64_t burst, uint64_t capacity)
{
	static unsigned char buf[READ_BYTES];
	struct seen s = { 0 };
	struct info i0, i1;
	double t0, secs, in_ioctl = 0;
	uint64_t left = total;
	int fd = open(device, O_RDONLY | O_NONBLOCK), ok;

	if (fd < 0 || get_info(fd, &i0) || drain(fd, &s, buf) || get_info(fd, &i0)) {
		result(0, "alternate: cannot open or drain %s: %s", device, strerror(errno));
		return -1;
	}
	memset(&s, 0, sizeof(s));
	s.started = 1;
	s.next_seq = i0.c.produced;
	t0 = now_s();
	while (left > 0) {
		uint64_t b = left < burst ? left : burst;

		if (emit(fd, b, &in_ioctl) || drain(fd, &s, buf)) {
			result(0, "alternate: %s", strerror(errno));
			close(fd);
			return -1;
		}
		left -= b;
	}
	secs = now_s() - t0;
	get_info(fd, &i1);
	close(fd);
	report("alternate", total, secs, in_ioctl, &i0.c, &i1.c, &s, capacity);
	ok = accounted(&i0.c, &i1.c, &s) && s.tests == total && i1.c.dropped == i0.c.dropped;
	result(ok, "alternate: %llu records in bursts of %llu read back, none lost: %.0f records/s",
	       (unsigned long long)total, (unsigned long long)burst, (double)s.tests / secs);
	return 0;
}

struct reader {
	int fd;
	volatile int stop;
	struct seen s;
	int error;
};

static void *reader_main(void *arg)
{
	static unsigned char buf[READ_BYTES];
	struct reader *r = arg;

	while (!r->stop) {
		ssize_t n = read(r->fd, buf, READ_BYTES);

		if (n > 0)
			scan(&r->s, buf, n);
		else if (n < 0 && errno != EINTR && errno != EAGAIN) {
			r->error = errno;
			break;
		}
	}
	return NULL;
}

static int run_concurrent(uint64_t total, uint64_t burst, uint64_t capacity)
{
	static unsigned char buf[READ_BYTES];
	struct reader r = { 0 };
	struct info i0, i1;
	struct seen tail = { 0 };
	pthread_t th;
	double t0, secs, in_ioctl = 0;
	uint64_t left = total;
	int ctl = open(device, O_RDONLY | O_NONBLOCK), ok;

	r.fd = open(device, O_RDONLY);
	if (ctl < 0 || r.fd < 0 || drain(ctl, &tail, buf) || get_info(ctl, &i0)) {
		result(0, "concurrent: cannot open or drain %s: %s", device, strerror(errno));
		return -1;
	}
	r.s.started = 1;
	r.s.next_seq = i0.c.produced;
	if (pthread_create(&th, NULL, reader_main, &r)) {
		result(0, "concurrent: pthread_create failed");
		return -1;
	}
	t0 = now_s();
	while (left > 0) {
		uint64_t b = left < burst ? left : burst;

		if (emit(ctl, b, &in_ioctl))
			break;
		left -= b;
	}
	/* Let the reader empty the ring (up to 30 s), then stop it with one
	 * last record to return from its blocking read. */
	for (int k = 0; k < 3000; k++) {
		get_info(ctl, &i1);
		if (i1.c.queued == 0)
			break;
		usleep(10000);
	}
	secs = now_s() - t0;
	r.stop = 1;
	{
		uint64_t one = 1;

		ioctl(ctl, IOCTL_EMIT_TEST, &one);
	}
	pthread_join(th, NULL);
	/* What the reader left (the wake-up record) is read here, on the
	 * same sequence. */
	drain(ctl, &r.s, buf);
	get_info(ctl, &i1);
	close(ctl);
	close(r.fd);
	report("concurrent", total, secs, in_ioctl, &i0.c, &i1.c, &r.s, capacity);
	ok = !r.error && left == 0 && accounted(&i0.c, &i1.c, &r.s);
	result(ok, "concurrent: %llu records, reader thread: %llu read, %llu dropped, all accounted for",
	       (unsigned long long)total, (unsigned long long)r.s.tests,
	       (unsigned long long)(i1.c.dropped - i0.c.dropped));
	return 0;
}

static int run_overflow(uint64_t capacity)
{
	static unsigned char buf[READ_BYTES];
	struct seen s = { 0 };
	struct info i0, i1;
	double t0, secs, in_ioctl = 0;
	uint64_t total = 3 * capacity, left = total;
	int fd = open(device, O_RDONLY | O_NONBLOCK), ok;

	if (fd < 0 || drain(fd, &s, buf) || get_info(fd, &i0)) {
		result(0, "overflow: cannot open or drain %s: %s", device, strerror(errno));
		return -1;
	}
	memset(&s, 0, sizeof(s));
	/* The first record read continues the sequence from here. */
	s.started = 1;
	s.next_seq = i0.c.produced;
	t0 = now_s();
	while (left > 0) {
		uint64_t b = left < EMIT_TEST_MAX ? left : EMIT_TEST_MAX;

		if (emit(fd, b, &in_ioctl))
			break;
		left -= b;
	}
	if (drain(fd, &s, buf)) {
		result(0, "overflow: read: %s", strerror(errno));
		close(fd);
		return -1;
	}
	secs = now_s() - t0;
	get_info(fd, &i1);
	/* Drops at the very end show as a gap only at the next record. */
	if (s.next_seq < i1.c.produced)
		s.gaps += i1.c.produced - s.next_seq;
	close(fd);
	report("overflow", total, secs, in_ioctl, &i0.c, &i1.c, &s, capacity);
	ok = left == 0 && accounted(&i0.c, &i1.c, &s) && i1.c.dropped - i0.c.dropped >= total - capacity;
	result(ok, "overflow: %llu records into a ring of %llu with no reader: produced %llu = delivered %llu + dropped %llu, %llu seq gaps",
	       (unsigned long long)total, (unsigned long long)capacity,
	       (unsigned long long)(i1.c.produced - i0.c.produced),
	       (unsigned long long)(i1.c.delivered - i0.c.delivered),
	       (unsigned long long)(i1.c.dropped - i0.c.dropped), (unsigned long long)s.gaps);
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t total = 1000000, burst = EMIT_TEST_MAX, capacity;
	struct info info;
	int c, fd;

	while ((c = getopt(argc, argv, "n:b:d:")) != -1) {
		switch (c) {
		case 'n': total = strtoull(optarg, NULL, 10); break;
		case 'b': burst = strtoull(optarg, NULL, 10); break;
		case 'd': device = optarg; break;
		default:
			fprintf(stderr, "usage: lt-ringbench [-n RECORDS] [-b BURST] [-d DEVICE]\n");
			return 2;
		}
	}
	if (total == 0 || burst == 0 || burst > EMIT_TEST_MAX) {
		fprintf(stderr, "lt-ringbench: need RECORDS > 0 and 0 < BURST <= %u\n", EMIT_TEST_MAX);
		return 2;
	}
	say("TAP version 13");
	say("1..3");
	fd = open(device, O_RDONLY | O_NONBLOCK);
	if (fd < 0 || get_info(fd, &info)) {
		say("Bail out! %s: %s", device, strerror(errno));
		return 1;
	}
	close(fd);
	capacity = info.ring_bytes / sizeof(struct test_record);
	if (burst > capacity / 4)
		burst = capacity / 4 ? capacity / 4 : 1;
	say("# ring of %llu bytes: %llu test records of %zu bytes; ABI %u",
	    (unsigned long long)info.ring_bytes, (unsigned long long)capacity,
	    sizeof(struct test_record), info.abi_version);
	run_alternate(total, burst, capacity);
	run_concurrent(total, burst, capacity);
	run_overflow(capacity);
	say("# ringbench: %d passed, %d failed", tap_n - tap_failed, tap_failed);
	return tap_failed ? 1 : 0;
}
