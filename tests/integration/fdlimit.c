/* The fd limit reached, run the same on the kernel and under fastsock; the
 * outputs must match.
 *
 *   fdlimit ADDR PORT
 *
 * On its own address: a listener and 8 connected clients, then fds are
 * filled up to RLIMIT_NOFILE: socket() and accept() fail with EMFILE while
 * the connections wait in the listener's queue; as fds are closed, every
 * queued connection is accepted and carries data. Prints each step's
 * answer. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/resource.h>
#include <sys/socket.h>

#define CLIENTS 8

static const char *
answer(int r)
{
	return r >= 0 ? "ok" : strerror(errno);
}

int
main(int argc, char **argv)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	int l, c[CLIENTS], fill[64], nfill = 0, i, got = 0, bytes = 0, r;
	struct rlimit rl;

	if (argc != 3 || inet_pton(AF_INET, argv[1], &a.sin_addr) != 1) {
		fprintf(stderr, "usage: fdlimit ADDR PORT\n");
		return 2;
	}
	a.sin_port = htons((unsigned short)atoi(argv[2]));
	l = socket(AF_INET, SOCK_STREAM, 0);
	r = 1;
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &r, sizeof(r));
	if (bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 16) < 0) {
		perror("listen");
		return 1;
	}
	for (i = 0; i < CLIENTS; i++) {
		c[i] = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(c[i], (struct sockaddr *)&a, sizeof(a)) < 0) {
			perror("connect");
			return 1;
		}
	}
	printf("%d clients connected\n", CLIENTS);
	/* Room for a few more fds than are open now, then fill it. */
	r = dup(0);
	close(r);
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = (rlim_t)r + CLIENTS + 2;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
		perror("setrlimit");
		return 1;
	}
	while (nfill < 64 && (r = socket(AF_INET, SOCK_DGRAM, 0)) >= 0)
		fill[nfill++] = r;
	printf("fds filled: socket() then said %s\n", answer(r));
	r = accept(l, NULL, NULL);
	printf("accept with no fd left: %s\n", answer(r));
	r = socket(AF_INET, SOCK_STREAM, 0);
	printf("socket with no fd left: %s\n", answer(r));
	/* Each closed fd makes room for one queued connection. */
	while (got < CLIENTS && nfill > 0) {
		close(fill[--nfill]);
		r = accept(l, NULL, NULL);
		if (r < 0) {
			printf("accept after closing an fd: %s\n", answer(r));
			break;
		}
		got++;
		if (send(r, "x", 1, 0) != 1)
			printf("send on accepted connection %d: %s\n", got, strerror(errno));
		close(r); /* the client reads the byte, then the end */
	}
	printf("accepted after closing fds: %d of %d\n", got, CLIENTS);
	for (i = 0; i < CLIENTS; i++) {
		struct pollfd p = {c[i], POLLIN, 0};
		char b[4];
		ssize_t n = 0;

		if (poll(&p, 1, 2000) == 1)
			n = recv(c[i], b, sizeof(b), 0);
		if (n == 1 && b[0] == 'x')
			bytes++;
		else
			printf("client %d: no byte (%zd)\n", i, n);
	}
	printf("clients that got their byte: %d of %d\n", bytes, CLIENTS);
	printf("done\n");
	return 0;
}
