/* A program that defines functions of its own under names lwIP uses
 * (mem_malloc, mem_free, mem_calloc, inet_chksum, sys_now), exported
 * (-rdynamic) as a plugin host's are, then talks UDP and TCP:
 *   ownsyms server ADDR PORT     echoes one TCP connection and UDP datagrams
 *   ownsyms client ADDR PORT     sends, checks the echoes, prints the counts
 * Each of its functions counts its calls and the calls the program made
 * itself; a call from anywhere else (a preloaded library whose lwIP bound
 * to the program's names) is counted apart. Both print the same lines on
 * the kernel and under fastsock, and exit 1 on any call from elsewhere. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static unsigned long calls, mine;
static int inside;

#define OWN(expr) (inside = 1, (expr), inside = 0)

static void
count(void)
{
	calls++;
	mine += inside != 0;
}

/* Exported in spite of the project's -fvisibility=hidden. */
#define EXPORTED __attribute__((visibility("default")))
EXPORTED void *mem_malloc(size_t n);
EXPORTED void *mem_calloc(size_t c, size_t n);
EXPORTED void mem_free(void *p);
EXPORTED uint16_t inet_chksum(const void *p, uint16_t n);
EXPORTED uint32_t sys_now(void);

void *
mem_malloc(size_t n)
{
	count();
	return malloc(n);
}

void *
mem_calloc(size_t c, size_t n)
{
	count();
	return calloc(c, n);
}

void
mem_free(void *p)
{
	count();
	free(p);
}

uint16_t
inet_chksum(const void *p, uint16_t n)
{
	(void)p;
	(void)n;
	count();
	return 0x5a5a; /* not a checksum: a stack that used it would fail */
}

uint32_t
sys_now(void)
{
	count();
	return 0; /* time stands still: a stack's timers would never run */
}

static struct sockaddr_in srv;

static int
server(void)
{
	int u = socket(AF_INET, SOCK_DGRAM, 0), l = socket(AF_INET, SOCK_STREAM, 0), c, one = 1;
	static char buf[65536];
	ssize_t n;
	int i;

	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(u, (struct sockaddr *)&srv, sizeof(srv)) < 0 ||
	    bind(l, (struct sockaddr *)&srv, sizeof(srv)) < 0 || listen(l, 1) < 0) {
		perror("bind");
		return 1;
	}
	for (i = 0; i < 20; i++) {
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);

		n = recvfrom(u, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
		if (n < 0)
			return 1;
		sendto(u, buf, (size_t)n, 0, (struct sockaddr *)&from, fl);
	}
	if ((c = accept(l, NULL, NULL)) < 0)
		return 1;
	while ((n = recv(c, buf, sizeof(buf), 0)) > 0)
		if (send(c, buf, (size_t)n, 0) != n)
			return 1;
	close(c);
	close(l);
	close(u);
	printf("server: calls %lu, made by the program %lu, from elsewhere %lu\n", calls, mine,
	       calls - mine);
	return calls != mine;
}

static int
client(void)
{
	int u = socket(AF_INET, SOCK_DGRAM, 0), t = socket(AF_INET, SOCK_STREAM, 0), i;
	static char out[20000], in[20000];
	struct timeval tv = {5, 0};
	size_t got;
	ssize_t n;
	void *p;

	OWN(p = mem_malloc(100));
	OWN(mem_free(p));
	OWN(p = mem_calloc(3, 4));
	OWN(mem_free(p));
	OWN(inet_chksum(out, 10));
	OWN(sys_now());
	setsockopt(u, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	for (i = 0; i < (int)sizeof(out); i++)
		out[i] = (char)(i * 7);
	for (i = 0; i < 20; i++) {
		if (sendto(u, out, 1000, 0, (struct sockaddr *)&srv, sizeof(srv)) != 1000)
			return 1;
		n = recv(u, in, sizeof(in), 0);
		if (n < 0 && errno == EAGAIN) { /* the first may wait for ARP */
			i--;
			continue;
		}
		if (n != 1000 || memcmp(in, out, 1000) != 0) {
			printf("udp echo %d wrong\n", i);
			return 1;
		}
	}
	printf("udp: 20 echoes\n");
	if (connect(t, (struct sockaddr *)&srv, sizeof(srv)) < 0) {
		perror("connect");
		return 1;
	}
	if (send(t, out, sizeof(out), 0) != (ssize_t)sizeof(out))
		return 1;
	for (got = 0; got < sizeof(out); got += (size_t)n)
		if ((n = recv(t, in + got, sizeof(in) - got, 0)) <= 0)
			return 1;
	printf("tcp: %s\n", memcmp(in, out, sizeof(out)) ? "echo wrong" : "20000 bytes echoed");
	close(t);
	close(u);
	printf("client: calls %lu, made by the program %lu, from elsewhere %lu\n", calls, mine,
	       calls - mine);
	return calls != mine;
}

int
main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: ownsyms server|client ADDR PORT\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	srv.sin_family = AF_INET;
	srv.sin_port = htons((uint16_t)atoi(argv[3]));
	inet_pton(AF_INET, argv[2], &srv.sin_addr);
	return strcmp(argv[1], "server") == 0 ? server() : client();
}
