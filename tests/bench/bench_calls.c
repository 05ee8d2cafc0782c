/* Cost per call of three socket calls that stay in passthrough: a
 * nonblocking recvfrom() that returns EAGAIN, a UDP send() on loopback and
 * epoll_wait() with timeout 0. scripts/bench-passthrough runs it with and
 * without libfastsock.so and prints the difference.
 *   bench_calls [-n CALLS] [-r REPEATS] [-o recvfrom|send|epoll] [-a ADDR]
 * -a binds the receiving socket to ADDR instead of 127.0.0.1 (fastsock's
 * address: the socket is then accelerated) and sends to ADDR's port.
 * Prints "op median_ns min_ns" per op (median and minimum over repeats). */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double
now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int
main(int argc, char **argv)
{
	long calls = 200000, i;
	int reps = 15, r, opt, rx, tx, ep;
	const char *only = NULL, *addr = "127.0.0.1";
	static const char *const ops[] = {"recvfrom", "send", "epoll"};
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t n = sizeof(a);
	struct epoll_event ev = {.events = EPOLLIN}, out;
	char buf[64] = {0};
	double t[64];

	while ((opt = getopt(argc, argv, "n:r:o:a:")) != -1) {
		if (opt == 'n')
			calls = atol(optarg);
		else if (opt == 'r')
			reps = atoi(optarg);
		else if (opt == 'o')
			only = optarg;
		else if (opt == 'a')
			addr = optarg;
		else
			return 2;
	}
	if (calls <= 0 || reps <= 0 || reps > 64)
		return 2;
	if (inet_pton(AF_INET, addr, &a.sin_addr) != 1)
		return 2;
	rx = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	tx = socket(AF_INET, SOCK_DGRAM, 0);
	bind(rx, (struct sockaddr *)&a, sizeof(a));
	getsockname(rx, (struct sockaddr *)&a, &n);
	connect(tx, (struct sockaddr *)&a, sizeof(a));
	ep = epoll_create1(0);
	epoll_ctl(ep, EPOLL_CTL_ADD, rx, &ev);

	for (int o = 0; o < 3; o++) {
		if (only && strcmp(only, ops[o]) != 0)
			continue;
		for (r = 0; r < reps; r++) {
			double t0 = now_ns();

			for (i = 0; i < calls; i++) {
				if (o == 0) {
					if (recvfrom(rx, buf, sizeof(buf), 0, NULL, NULL) != -1)
						return 3;
				} else if (o == 1) {
					send(tx, buf, 64, 0);
				} else {
					epoll_wait(ep, &out, 1, 0);
				}
			}
			t[r] = (now_ns() - t0) / (double)calls;
			/* drain what send() queued so recvfrom stays empty */
			while (recv(rx, buf, sizeof(buf), MSG_DONTWAIT) > 0)
				;
		}
		qsort(t, (size_t)reps, sizeof(t[0]), cmp);
		printf("%s %.1f %.1f\n", ops[o], t[reps / 2], t[0]);
	}
	return 0;
}
