/* A prefork server: the parent listens, forks CHILDREN children that all
 * block in accept() on the one inherited listener, and waits. Each child
 * answers every connection with "<its number>:<what the client sent>" and
 * counts it in memory shared before the fork.
 *   prefork server ADDR PORT   until SIGINT or SIGTERM, then prints how
 *                              many connections the children accepted
 *   prefork client ADDR PORT N N connections, one after another; prints
 *                              how many were answered with their own bytes
 * The kernel run and the fastsock run must print the same: every
 * connection accepted exactly once, by one child, and answered. Nothing
 * waits forever: the client's calls have timeouts. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHILDREN 8

static unsigned long *accepted; /* per child, shared with the parent */
static volatile sig_atomic_t stop;

static void
on_stop(int sig)
{
	(void)sig;
	stop = 1;
}

static void
child(int l, int k)
{
	char buf[64], out[80];
	ssize_t n;
	int c, len;

	for (;;) {
		c = accept(l, NULL, NULL);
		if (c < 0) {
			if (errno == EINTR)
				continue;
			perror("accept");
			_exit(1);
		}
		__atomic_add_fetch(&accepted[k], 1, __ATOMIC_RELAXED);
		n = read(c, buf, sizeof(buf) - 1);
		if (n > 0) {
			buf[n] = '\0';
			len = snprintf(out, sizeof(out), "%d:%s", k, buf);
			if (write(c, out, (size_t)len) != len)
				perror("write");
		}
		close(c);
	}
}

static int
server(struct sockaddr_in *a)
{
	struct sigaction sa = {.sa_handler = on_stop};
	unsigned long total = 0;
	pid_t kids[CHILDREN];
	int l, one = 1, k, busy = 0;

	accepted = mmap(NULL, sizeof(*accepted) * CHILDREN, PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	l = socket(AF_INET, SOCK_STREAM, 0);
	if (accepted == MAP_FAILED || l < 0)
		return perror("set-up"), 1;
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l, (struct sockaddr *)a, sizeof(*a)) < 0 || listen(l, 512) < 0)
		return perror("bind/listen"), 1;
	for (k = 0; k < CHILDREN; k++)
		if ((kids[k] = fork()) == 0)
			child(l, k);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	while (!stop)
		pause();
	for (k = 0; k < CHILDREN; k++) {
		kill(kids[k], SIGKILL);
		waitpid(kids[k], NULL, 0);
		total += accepted[k];
		busy += accepted[k] != 0;
	}
	printf("prefork: the children accepted %lu connections\n", total);
	fprintf(stderr, "prefork: %d of %d children accepted some\n", busy, CHILDREN);
	return 0;
}

static int
client(struct sockaddr_in *a, int n)
{
	struct timeval tv = {10, 0};
	char msg[32], buf[80], *colon;
	int i, s, ok = 0, len;
	ssize_t got;

	for (i = 0; i < n; i++) {
		s = socket(AF_INET, SOCK_STREAM, 0);
		setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(s, (struct sockaddr *)a, sizeof(*a)) < 0) {
			close(s);
			continue;
		}
		len = snprintf(msg, sizeof(msg), "req%d", i);
		got = write(s, msg, (size_t)len) == len ? read(s, buf, sizeof(buf) - 1) : -1;
		if (got > 0) {
			buf[got] = '\0';
			colon = strchr(buf, ':');
			ok += colon && strcmp(colon + 1, msg) == 0;
		}
		close(s);
	}
	printf("prefork: %d of %d connections answered\n", ok, n);
	return 0;
}

int
main(int argc, char **argv)
{
	struct sockaddr_in a = {.sin_family = AF_INET};

	if (argc < 4 || inet_pton(AF_INET, argv[2], &a.sin_addr) != 1) {
		fprintf(stderr, "usage: prefork server|client ADDR PORT [N]\n");
		return 2;
	}
	a.sin_port = htons((uint16_t)atoi(argv[3]));
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(argv[1], "server") == 0)
		return server(&a);
	return client(&a, argc > 4 ? atoi(argv[4]) : 100);
}
