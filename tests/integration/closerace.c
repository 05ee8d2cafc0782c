/* close() racing with calls on other threads, run the same on the kernel
 * and under fastsock; the outputs must match.
 *
 *   closerace ADDR PORT ROUNDS
 *
 * ADDR is the program's own address (127.0.0.1 on the kernel, the
 * accelerated address under fastsock). Each round, on a UDP socket bound
 * to ADDR:
 *   1. a thread blocks in recv (SO_RCVTIMEO 200 ms); the main thread
 *      closes the fd, opens a new socket at once (the kernel gives it the
 *      same number), binds it and sends itself a datagram. The kernel keeps
 *      the closed socket alive until the blocked recv returns: the recv
 *      times out (EAGAIN), it never sees the new socket's datagram, and the
 *      new socket reads its own datagram;
 *   2. four threads loop in nonblocking recv, send and poll on one socket
 *      while the main thread closes it: every call ends (with data, EAGAIN
 *      or EBADF), nothing crashes.
 * Prints one line per round and step, without timings. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>

static struct sockaddr_in self;
static int blocked_fd;
static int blocked_r, blocked_errno;
static char blocked_buf[64];

static int
udp_bound(unsigned short port)
{
	struct sockaddr_in a = self;
	int s = socket(AF_INET, SOCK_DGRAM, 0);

	a.sin_port = htons(port);
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
		perror("socket/bind");
		exit(1);
	}
	return s;
}

static void *
blocked_recv(void *unused)
{
	(void)unused;
	blocked_r = (int)recv(blocked_fd, blocked_buf, sizeof(blocked_buf), 0);
	blocked_errno = blocked_r < 0 ? errno : 0;
	return NULL;
}

static void
sleep_ms(int ms)
{
	struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&t, NULL);
}

/* Step 2: calls that end however the race goes. */
static int busy_fd;
static int busy_stop; /* __atomic: ThreadSanitizer runs this too */

static void *
busy(void *arg)
{
	long kind = (long)arg;
	char b[64];
	unsigned long calls = 0;

	while (!__atomic_load_n(&busy_stop, __ATOMIC_RELAXED)) {
		struct pollfd p = {busy_fd, POLLIN | POLLOUT, 0};

		switch (kind) {
		case 0:
			recv(busy_fd, b, sizeof(b), MSG_DONTWAIT);
			break;
		case 1:
			send(busy_fd, "x", 1, MSG_DONTWAIT);
			break;
		default:
			poll(&p, 1, 0);
			break;
		}
		calls++;
	}
	return (void *)calls;
}

int
main(int argc, char **argv)
{
	unsigned short port;
	int rounds, i;

	if (argc != 4) {
		fprintf(stderr, "usage: closerace ADDR PORT ROUNDS\n");
		return 2;
	}
	self.sin_family = AF_INET;
	if (inet_pton(AF_INET, argv[1], &self.sin_addr) != 1) {
		fprintf(stderr, "closerace: bad address %s\n", argv[1]);
		return 2;
	}
	port = (unsigned short)atoi(argv[2]);
	rounds = atoi(argv[3]);
	for (i = 0; i < rounds; i++) {
		struct timeval tv = {0, 200000};
		struct sockaddr_in to = self;
		char msg[32], got[64] = "";
		pthread_t t, b[4];
		int s, s2, n;
		long k;

		/* Step 1. */
		s = udp_bound(port);
		setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		blocked_fd = s;
		pthread_create(&t, NULL, blocked_recv, NULL);
		sleep_ms(30); /* the thread is in recv */
		close(s);
		s2 = udp_bound((unsigned short)(port + 1));
		setsockopt(s2, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		to.sin_port = htons((unsigned short)(port + 1));
		snprintf(msg, sizeof(msg), "round %d", i);
		sendto(s2, msg, strlen(msg), 0, (struct sockaddr *)&to, sizeof(to));
		n = (int)recv(s2, got, sizeof(got) - 1, 0);
		got[n > 0 ? n : 0] = 0;
		pthread_join(t, NULL);
		printf("round %d: new socket %s the closed one's number; it read \"%s\"; "
		       "the blocked recv returned %d (%s)\n",
		       i, s2 == s ? "took" : "did not take", got, blocked_r,
		       blocked_r < 0 ? strerror(blocked_errno) : "data");
		close(s2);

		/* Step 2: to itself, so that sends are accepted. */
		busy_fd = udp_bound(port);
		to.sin_port = htons(port);
		connect(busy_fd, (struct sockaddr *)&to, sizeof(to));
		__atomic_store_n(&busy_stop, 0, __ATOMIC_RELAXED);
		for (k = 0; k < 4; k++)
			pthread_create(&b[k], NULL, busy, (void *)(k < 2 ? k : 2));
		sleep_ms(20);
		close(busy_fd);
		sleep_ms(20);
		__atomic_store_n(&busy_stop, 1, __ATOMIC_RELAXED);
		for (k = 0; k < 4; k++) {
			void *calls;

			pthread_join(b[k], &calls);
			if (calls == NULL)
				printf("round %d: thread %ld made no call\n", i, k);
		}
		printf("round %d: four threads' calls ended around the close\n", i);
		fflush(stdout);
	}
	printf("done\n");
	return 0;
}
