/* A multi-threaded socket program: UDP ping-pong pairs and TCP echo clients
 * against one epoll server thread, all at once, plus a thread that forks
 * and execs. It prints totals that must not depend on timing, so the run
 * on the kernel and the run under fastsock print the same lines. */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define UDP_THREADS 4
#define TCP_THREADS 4
#define ROUNDS 2000

static struct sockaddr_in server_addr;
static long udp_ok[UDP_THREADS], tcp_ok[TCP_THREADS];

static struct sockaddr_in
lo0(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET};

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

static void *
udp_pair(void *arg)
{
	long id = (long)arg, i;
	struct sockaddr_in a = lo0(), b = lo0();
	socklen_t n = sizeof(a);
	int x = socket(AF_INET, SOCK_DGRAM, 0), y = socket(AF_INET, SOCK_DGRAM, 0);
	char buf[32];

	bind(x, (struct sockaddr *)&a, n);
	bind(y, (struct sockaddr *)&b, n);
	getsockname(x, (struct sockaddr *)&a, &n);
	getsockname(y, (struct sockaddr *)&b, &n);
	connect(x, (struct sockaddr *)&b, n);
	connect(y, (struct sockaddr *)&a, n);
	for (i = 0; i < ROUNDS; i++) {
		snprintf(buf, sizeof(buf), "%ld:%ld", id, i);
		if (send(x, buf, strlen(buf), 0) < 0)
			break;
		char got[32] = {0};
		if (recv(y, got, sizeof(got), 0) <= 0 || strcmp(got, buf) != 0)
			break;
		if (send(y, got, strlen(got), 0) < 0 || recv(x, got, sizeof(got), 0) <= 0)
			break;
		udp_ok[id]++;
	}
	close(x);
	close(y);
	return NULL;
}

static void *
tcp_server(void *arg)
{
	int l = *(int *)arg, ep = epoll_create1(0), open_conns = 0, served = 0;
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = l}, evs[16];

	epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev);
	while (served < TCP_THREADS) {
		int n = epoll_wait(ep, evs, 16, 5000), i;

		if (n <= 0)
			break;
		for (i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			char buf[4096];

			if (fd == l) {
				int c = accept(l, NULL, NULL);

				ev = (struct epoll_event){.events = EPOLLIN, .data.fd = c};
				epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
				open_conns++;
				continue;
			}
			ssize_t r = read(fd, buf, sizeof(buf));

			if (r <= 0) {
				epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
				close(fd);
				served++;
			} else {
				write(fd, buf, (size_t)r);
			}
		}
	}
	close(ep);
	return NULL;
}

static void *
tcp_client(void *arg)
{
	long id = (long)arg, i;
	int c = socket(AF_INET, SOCK_STREAM, 0);

	if (connect(c, (struct sockaddr *)&server_addr, sizeof(server_addr)) < 0)
		return NULL;
	for (i = 0; i < ROUNDS; i++) {
		char msg[16], got[16];
		size_t have = 0;

		memset(msg, 'a' + (int)(i % 26), sizeof(msg));
		if (write(c, msg, sizeof(msg)) != sizeof(msg))
			break;
		while (have < sizeof(got)) {
			ssize_t r = read(c, got + have, sizeof(got) - have);

			if (r <= 0)
				break;
			have += (size_t)r;
		}
		if (have != sizeof(got) || memcmp(msg, got, sizeof(msg)) != 0)
			break;
		tcp_ok[id]++;
	}
	close(c);
	return NULL;
}

static void *
forker(void *arg)
{
	int *ok = arg, i, st;

	for (i = 0; i < 20; i++) {
		pid_t p = fork();

		if (p == 0) {
			execl("/bin/true", "true", (char *)NULL);
			_exit(127);
		}
		if (p > 0 && waitpid(p, &st, 0) == p && WIFEXITED(st) && WEXITSTATUS(st) == 0)
			(*ok)++;
	}
	return NULL;
}

int
main(void)
{
	pthread_t ut[UDP_THREADS], tt[TCP_THREADS], srv, fk;
	socklen_t n = sizeof(server_addr);
	int l = socket(AF_INET, SOCK_STREAM, 0), forks = 0;
	long i, usum = 0, tsum = 0;

	fprintf(stderr, "fastsock loaded: %s\n",
		dlsym(RTLD_DEFAULT, "fastsock_version") ? "yes" : "no");
	server_addr = lo0();
	bind(l, (struct sockaddr *)&server_addr, n);
	listen(l, 16);
	getsockname(l, (struct sockaddr *)&server_addr, &n);
	pthread_create(&srv, NULL, tcp_server, &l);
	pthread_create(&fk, NULL, forker, &forks);
	for (i = 0; i < UDP_THREADS; i++)
		pthread_create(&ut[i], NULL, udp_pair, (void *)i);
	for (i = 0; i < TCP_THREADS; i++)
		pthread_create(&tt[i], NULL, tcp_client, (void *)i);
	for (i = 0; i < UDP_THREADS; i++) {
		pthread_join(ut[i], NULL);
		usum += udp_ok[i];
	}
	for (i = 0; i < TCP_THREADS; i++) {
		pthread_join(tt[i], NULL);
		tsum += tcp_ok[i];
	}
	pthread_join(srv, NULL);
	pthread_join(fk, NULL);
	printf("udp round trips: %ld of %d\n", usum, UDP_THREADS * ROUNDS);
	printf("tcp echoes: %ld of %d\n", tsum, TCP_THREADS * ROUNDS);
	printf("fork+exec children ok: %d of 20\n", forks);
	close(l);
	return 0;
}
