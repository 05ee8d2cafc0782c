/* Threads on shared sockets, run the same on the kernel and under fastsock;
 * the outputs must match.
 *
 *   threadstress ADDR PORT CONNECTIONS
 *
 * In one process, on its own address ADDR:
 *   - a TCP listener served by 4 threads, each with its own epoll set
 *     holding the listener with EPOLLEXCLUSIVE, accepting nonblocking and
 *     echoing each connection it wins until EOF;
 *   - CONNECTIONS connections, 4 at a time, each with a sender thread and a
 *     receiver thread on the one socket (concurrent send and recv): 256 KiB
 *     of a pseudo-random stream out, the echo checked byte for byte;
 *   - between connections, dup2() of a fresh socket onto an fd another
 *     thread is receiving on (nonblocking), and close() of it: each such
 *     call ends, nothing crashes;
 *   - UDP_ROUNDS times, a burst of UDP_BURST datagrams to a fresh socket
 *     that another thread is reading (under fastsock the socket's queue
 *     starts small and grows while the reader reads: udp_sock.c grow):
 *     each datagram received once, in order.
 * Prints totals only (no timings): connections accepted, each exactly once,
 * bytes echoed intact. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>

#define STREAM (256 * 1024)
#define ACCEPTORS 4
#define AT_ONCE 4

static struct sockaddr_in srv;
static int lfd;
static int stop; /* __atomic: ThreadSanitizer runs this too */
static unsigned accepted[ACCEPTORS];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned long conns_ok, conns_bad, bytes_ok;

static unsigned char
stream_byte(unsigned seed, size_t i)
{
	uint32_t x = seed * 2654435761u ^ (uint32_t)i * 40503u;

	x ^= x >> 13;
	x *= 0x5bd1e995u;
	return (unsigned char)(x >> 24);
}

static void
die(const char *what)
{
	perror(what);
	exit(1);
}

static void *
acceptor(void *arg)
{
	long me = (long)arg;
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN | EPOLLEXCLUSIVE};

	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0)
		die("epoll");
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		struct epoll_event got;
		char buf[16384];
		ssize_t n;
		int c;

		if (epoll_wait(ep, &got, 1, 100) <= 0)
			continue;
		c = accept4(lfd, NULL, NULL, 0);
		if (c < 0)
			continue; /* another acceptor won it */
		accepted[me]++;
		while ((n = recv(c, buf, sizeof(buf), 0)) > 0) {
			ssize_t off = 0;

			while (off < n) {
				ssize_t w = send(c, buf + off, (size_t)(n - off), MSG_NOSIGNAL);

				if (w <= 0)
					break;
				off += w;
			}
		}
		close(c);
	}
	close(ep);
	return NULL;
}

struct conn {
	int fd;
	unsigned seed;
};

static void *
sender(void *arg)
{
	struct conn *c = arg;
	unsigned char buf[4096];
	size_t sent = 0;

	while (sent < STREAM) {
		size_t k, want = STREAM - sent < sizeof(buf) ? STREAM - sent : sizeof(buf);
		ssize_t w;

		for (k = 0; k < want; k++)
			buf[k] = stream_byte(c->seed, sent + k);
		w = send(c->fd, buf, want, MSG_NOSIGNAL);
		if (w <= 0)
			break;
		sent += (size_t)w;
	}
	shutdown(c->fd, SHUT_WR);
	return NULL;
}

/* One connection: a sender thread and this thread receiving the echo. */
static void *
client(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;
	struct conn c = {socket(AF_INET, SOCK_STREAM, 0), seed};
	unsigned char buf[8192];
	size_t got = 0, bad = 0;
	pthread_t t;
	ssize_t n;

	if (c.fd < 0 || connect(c.fd, (struct sockaddr *)&srv, sizeof(srv)) < 0)
		die("connect");
	pthread_create(&t, NULL, sender, &c);
	while ((n = recv(c.fd, buf, sizeof(buf), 0)) > 0) {
		for (ssize_t k = 0; k < n; k++)
			bad += buf[k] != stream_byte(seed, got + (size_t)k);
		got += (size_t)n;
	}
	pthread_join(t, NULL);
	close(c.fd);
	pthread_mutex_lock(&mu);
	if (got == STREAM && bad == 0) {
		conns_ok++;
		bytes_ok += got;
	} else {
		conns_bad++;
		fprintf(stderr, "connection %u: %zu bytes back, %zu wrong\n", seed, got, bad);
	}
	pthread_mutex_unlock(&mu);
	return NULL;
}

/* dup2 and close racing with a receiving thread. */
static int race_fd;
static int race_stop;

static void *
race_reader(void *unused)
{
	char b[64];

	(void)unused;
	while (!__atomic_load_n(&race_stop, __ATOMIC_RELAXED))
		recv(race_fd, b, sizeof(b), MSG_DONTWAIT);
	return NULL;
}

static void
race_round(void)
{
	struct timespec t = {0, 2000000};
	struct sockaddr_in a = srv;
	pthread_t r;
	int fresh;

	race_fd = socket(AF_INET, SOCK_DGRAM, 0);
	a.sin_port = 0;
	if (race_fd < 0 || bind(race_fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		die("race socket");
	__atomic_store_n(&race_stop, 0, __ATOMIC_RELAXED);
	pthread_create(&r, NULL, race_reader, NULL);
	nanosleep(&t, NULL);
	fresh = socket(AF_INET, SOCK_DGRAM, 0);
	if (bind(fresh, (struct sockaddr *)&a, sizeof(a)) < 0)
		die("race bind");
	dup2(fresh, race_fd); /* the reader's socket goes under it */
	close(fresh);
	nanosleep(&t, NULL);
	close(race_fd);
	nanosleep(&t, NULL);
	__atomic_store_n(&race_stop, 1, __ATOMIC_RELAXED);
	pthread_join(r, NULL);
}

#define UDP_ROUNDS 20
#define UDP_BURST 100

struct udp_reader {
	int fd;
	unsigned got, bad;
};

static void *
udp_reader(void *arg)
{
	struct udp_reader *r = arg;
	unsigned char buf[64];

	while (r->got + r->bad < UDP_BURST) {
		ssize_t n = recv(r->fd, buf, sizeof(buf), 0);

		if (n < 0)
			break; /* SO_RCVTIMEO: the rest is lost */
		if (n == 32 && (unsigned)(buf[0] << 8 | buf[1]) == r->got &&
		    buf[31] == stream_byte(r->got, 31))
			r->got++;
		else
			r->bad++;
	}
	return NULL;
}

/* Datagrams received in order, over UDP_ROUNDS bursts. */
static unsigned
udp_rounds(void)
{
	unsigned round, i, ok = 0;

	for (round = 0; round < UDP_ROUNDS; round++) {
		struct sockaddr_in a = srv;
		struct timeval tv = {2, 0};
		socklen_t al = sizeof(a);
		struct udp_reader r = {.fd = socket(AF_INET, SOCK_DGRAM, 0)};
		int tx = socket(AF_INET, SOCK_DGRAM, 0);
		unsigned char buf[32];
		pthread_t t;

		a.sin_port = 0;
		if (r.fd < 0 || tx < 0 || bind(r.fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
		    getsockname(r.fd, (struct sockaddr *)&a, &al) < 0 ||
		    setsockopt(r.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
			die("udp socket");
		for (i = 0; i < UDP_BURST; i++) {
			if (i == 10) /* a queue of 10 when it starts: it grows meanwhile */
				pthread_create(&t, NULL, udp_reader, &r);
			memset(buf, 0, sizeof(buf));
			buf[0] = (unsigned char)(i >> 8);
			buf[1] = (unsigned char)i;
			buf[31] = stream_byte(i, 31);
			if (sendto(tx, buf, sizeof(buf), 0, (struct sockaddr *)&a, sizeof(a)) != sizeof(buf))
				die("udp sendto");
		}
		pthread_join(t, NULL);
		ok += r.got;
		close(r.fd);
		close(tx);
	}
	return ok;
}

int
main(int argc, char **argv)
{
	pthread_t acc[ACCEPTORS], cl[AT_ONCE];
	unsigned total = 0, i, n, races = 0, udp_ok;
	int one = 1;
	long k;

	if (argc != 4) {
		fprintf(stderr, "usage: threadstress ADDR PORT CONNECTIONS\n");
		return 2;
	}
	srv.sin_family = AF_INET;
	srv.sin_port = htons((unsigned short)atoi(argv[2]));
	if (inet_pton(AF_INET, argv[1], &srv.sin_addr) != 1)
		return 2;
	n = (unsigned)atoi(argv[3]);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&srv, sizeof(srv)) < 0 || listen(lfd, 64) < 0)
		die("listen");
	for (k = 0; k < ACCEPTORS; k++)
		pthread_create(&acc[k], NULL, acceptor, (void *)k);
	for (i = 0; i < n; i += AT_ONCE) {
		unsigned j, m = n - i < AT_ONCE ? n - i : AT_ONCE;

		for (j = 0; j < m; j++)
			pthread_create(&cl[j], NULL, client, (void *)(uintptr_t)(i + j));
		for (j = 0; j < m; j++)
			pthread_join(cl[j], NULL);
		race_round();
		races++;
	}
	udp_ok = udp_rounds();
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (k = 0; k < ACCEPTORS; k++) {
		pthread_join(acc[k], NULL);
		total += accepted[k];
	}
	close(lfd);
	printf("connections: %u made, %u accepted (each by one of %d acceptors)\n", n, total,
	       ACCEPTORS);
	printf("echoed intact: %lu connections, %lu bytes; damaged: %lu\n", conns_ok, bytes_ok,
	       conns_bad);
	printf("dup2/close races with a receiving thread: %u ended\n", races);
	printf("udp: %u of %u datagrams received once and in order\n", udp_ok,
	       UDP_ROUNDS * UDP_BURST);
	printf("done\n");
	return conns_bad != 0 || total != n || udp_ok != UDP_ROUNDS * UDP_BURST;
}
