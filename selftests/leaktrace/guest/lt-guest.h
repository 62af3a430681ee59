/* SPDX-License-Identifier: GPL-2.0 */
/*
 * lt-guest.h: what the guest test programs (lt-syscalls, lt-ident) share:
 * system calls through their own `syscall` instruction, and output through
 * write(2) on fd 1 only, unbuffered, so that a fork never duplicates
 * pending output.
 *
 * Each program includes it once, after its own includes. LT_SAY_MAX, the
 * longest line say() prints (newline included; longer ones are cut), may
 * be defined before the include; it is 512 otherwise.
 */
#ifndef LT_GUEST_H
#define LT_GUEST_H

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/syscall.h>

#ifndef LT_SAY_MAX
#define LT_SAY_MAX 512
#endif

/* The x86-64 Linux syscall ABI, with nothing in between: -errno on error. */
static long raw6(long nr, long a0, long a1, long a2, long a3, long a4, long a5)
{
	long ret;
	register long r10 __asm__("r10") = a3;
	register long r8 __asm__("r8") = a4;
	register long r9 __asm__("r9") = a5;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a0), "S"(a1), "d"(a2), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

#define raw0(nr) raw6(nr, 0, 0, 0, 0, 0, 0)
#define raw1(nr, a) raw6(nr, (long)(a), 0, 0, 0, 0, 0)
#define raw2(nr, a, b) raw6(nr, (long)(a), (long)(b), 0, 0, 0, 0)
#define raw3(nr, a, b, c) raw6(nr, (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define raw4(nr, a, b, c, d) raw6(nr, (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)

/* Writes all of s[0..n) to fd 1 (raw writes, retried on EINTR). */
static void out(const char *s, size_t n)
{
	while (n > 0) {
		long r = raw3(SYS_write, 1, s, n);

		if (r == -EINTR)
			continue;
		if (r <= 0)
			return;
		s += r;
		n -= (size_t)r;
	}
}

/* printf-style, one line: the newline is added, in the same write. */
static void say(const char *fmt, ...)
{
	char line[LT_SAY_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	out(line, (size_t)n);
}

#endif /* LT_GUEST_H */
