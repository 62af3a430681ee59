// SPDX-License-Identifier: GPL-2.0
/*
 * lt-udp: UDP for scenario scripts, netcat style. The guests' busybox nc
 * is built without UDP (no -u), so this is the testbed's "nc -u":
 *
 *   lt-udp [-v] [-p LPORT] HOST PORT
 *	send: every read(2) of stdin (up to 65507 bytes) becomes one
 *	datagram, sent with sendto(2) to HOST:PORT (HOST an IPv4 address);
 *	exits 0 at end of input, 1 when a send fails.
 *
 *   lt-udp -l -p PORT [-v] [-c COUNT] [-w SEC]
 *	receive: bind 0.0.0.0:PORT and write the payload of each datagram
 *	to stdout (unchanged); with -v, "lt-udp: N bytes from ADDR:PORT"
 *	on stderr before each one. Exits 0 after COUNT datagrams (default
 *	1; 0 = never), 1 when SEC seconds (default: no limit) pass first.
 *
 * Exit status 2: bad usage or a socket that cannot be set up.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_DGRAM 65507

static char buf[MAX_DGRAM];

static void usage(void)
{
	fprintf(stderr, "usage: lt-udp [-v] [-p LPORT] HOST PORT\n"
			"       lt-udp -l -p PORT [-v] [-c COUNT] [-w SEC]\n");
	exit(2);
}

static int port_arg(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (!*s || *end || v < 1 || v > 65535) {
		fprintf(stderr, "lt-udp: '%s' is not a port (1-65535)\n", s);
		exit(2);
	}
	return (int)v;
}

static long num_arg(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (!*s || *end || v < 0) {
		fprintf(stderr, "lt-udp: '%s' is not a number\n", s);
		exit(2);
	}
	return v;
}

static int writeall(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t r = write(fd, p, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int do_recv(int fd, int verbose, long count, long secs)
{
	long got = 0;
	long long deadline = secs > 0 ? now_ms() + secs * 1000LL : -1;

	while (count == 0 || got < count) {
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int t = -1;
		ssize_t n;

		if (deadline >= 0) {
			long long left = deadline - now_ms();

			if (left <= 0)
				break;
			t = left > 1000000 ? 1000000 : (int)left;
		}
		if (poll(&p, 1, t) < 0) {
			if (errno == EINTR)
				continue;
			perror("lt-udp: poll");
			return 1;
		}
		if (!(p.revents & POLLIN))
			continue;
		n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("lt-udp: recvfrom");
			return 1;
		}
		if (verbose) {
			char a[INET_ADDRSTRLEN] = "?";

			inet_ntop(AF_INET, &from.sin_addr, a, sizeof(a));
			fprintf(stderr, "lt-udp: %zd bytes from %s:%d\n", n, a,
				ntohs(from.sin_port));
		}
		if (writeall(1, buf, (size_t)n) < 0) {
			perror("lt-udp: write");
			return 1;
		}
		got++;
	}
	if (count != 0 && got < count) {
		fprintf(stderr, "lt-udp: %ld of %ld datagram(s) within %ld s\n", got, count, secs);
		return 1;
	}
	return 0;
}

static int do_send(int fd, int verbose, const struct sockaddr_in *to)
{
	for (;;) {
		ssize_t n = read(0, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			perror("lt-udp: read");
			return 1;
		}
		if (n == 0)
			return 0;
		if (sendto(fd, buf, (size_t)n, 0, (const struct sockaddr *)to, sizeof(*to)) != n) {
			perror("lt-udp: sendto");
			return 1;
		}
		if (verbose)
			fprintf(stderr, "lt-udp: sent %zd bytes\n", n);
	}
}

int main(int argc, char **argv)
{
	int listen = 0, verbose = 0, lport = 0, c, fd;
	long count = 1, secs = 0;
	struct sockaddr_in sa = { .sin_family = AF_INET };

	while ((c = getopt(argc, argv, "lvp:c:w:")) != -1) {
		switch (c) {
		case 'l': listen = 1; break;
		case 'v': verbose = 1; break;
		case 'p': lport = port_arg(optarg); break;
		case 'c': count = num_arg(optarg); break;
		case 'w': secs = num_arg(optarg); break;
		default: usage();
		}
	}
	if (listen ? (optind != argc || !lport) : (optind + 2 != argc))
		usage();

	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0) {
		perror("lt-udp: socket");
		return 2;
	}
	if (lport) {
		int one = 1;

		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		sa.sin_addr.s_addr = htonl(INADDR_ANY);
		sa.sin_port = htons((unsigned short)lport);
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			fprintf(stderr, "lt-udp: bind port %d: %s\n", lport, strerror(errno));
			return 2;
		}
	}
	if (listen)
		return do_recv(fd, verbose, count, secs);

	if (inet_pton(AF_INET, argv[optind], &sa.sin_addr) != 1) {
		fprintf(stderr, "lt-udp: '%s' is not an IPv4 address\n", argv[optind]);
		return 2;
	}
	sa.sin_port = htons((unsigned short)port_arg(argv[optind + 1]));
	return do_send(fd, verbose, &sa);
}
