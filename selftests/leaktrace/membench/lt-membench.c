// SPDX-License-Identifier: GPL-2.0
/*
 * lt-membench: what copying and clearing a record costs on this CPU, by
 * the instructions the kernel's memcpy()/memset() use on a CPU with FSRM
 * (rep movsb / rep stosb) and by a plain 8-byte loop. Run in L1 by the
 * bench job: under TCG the string instructions are emulated byte by byte,
 * which is part of what each record copy on the trap path costs there.
 *
 * Prints "membench op=OP bytes=N ns=NS" lines, then "membench cpu
 * erms=0|1 fsrm=0|1" (from /proc/cpuinfo); exit status 0.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define ITERATIONS 20000

static unsigned char src[4096], dst[4096];

static double now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

static void rep_movsb(void *d, const void *s, size_t n)
{
	asm volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
}

static void rep_stosb(void *d, size_t n)
{
	asm volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(0) : "memory");
}

static void movq_loop(void *d, const void *s, size_t n)
{
	uint64_t *dq = d;
	const uint64_t *sq = s;

	for (size_t i = 0; i < n / 8; i++) {
		/* Keeps the compiler from turning the loop into memcpy(). */
		asm volatile("" : : : "memory");
		dq[i] = sq[i];
	}
}

static void run(const char *op, size_t n, int which)
{
	double t0 = now_ns();

	for (int i = 0; i < ITERATIONS; i++) {
		if (which == 0)
			rep_movsb(dst, src, n);
		else if (which == 1)
			rep_stosb(dst, n);
		else
			movq_loop(dst, src, n);
	}
	printf("membench op=%s bytes=%zu ns=%.0f\n", op, n, (now_ns() - t0) / ITERATIONS);
}

int main(void)
{
	/* A syscall record, and a file record with its whole path. */
	static const size_t sizes[] = { 216, 600 };
	char line[8192];
	FILE *f;

	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		run("rep_movsb", sizes[k], 0);
		run("rep_stosb", sizes[k], 1);
		run("movq_loop", sizes[k], 2);
	}
	f = fopen("/proc/cpuinfo", "r");
	while (f && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "flags", 5) == 0) {
			printf("membench cpu erms=%d fsrm=%d\n",
			       strstr(line, " erms") != NULL, strstr(line, " fsrm") != NULL);
			break;
		}
	}
	if (f)
		fclose(f);
	return 0;
}
