/* Two processes talking UDP, for the behaviour comparison across memif:
 *   udppair server ADDR PORT     echo server (replies to every datagram)
 *   udppair client ADDR PORT     runs the scenarios, prints the results
 * The client prints only what a program observes (values, errnos, flags),
 * never addresses or timings, so the kernel run (both on 127.0.0.1) and the
 * fastsock run (both preloaded, across memif) print the same lines. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "../show.h"


static struct sockaddr_in srv;

static int
server(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	static char buf[65536];

	if (bind(fd, (struct sockaddr *)&srv, sizeof(srv)) < 0) {
		perror("bind");
		return 1;
	}
	for (;;) {
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);

		if (n < 0) {
			if (errno == EINTR)
				return 0;
			continue;
		}
		if (n == 4 && memcmp(buf, "quit", 4) == 0)
			return 0;
		sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, fl);
	}
}

/* Sends n bytes of a pattern and checks the echo. */
static void
echo(int fd, size_t n)
{
	static char out[9000], in[9000];
	char what[64];
	size_t i;
	ssize_t r;

	for (i = 0; i < n; i++)
		out[i] = (char)(i * 7 + n);
	snprintf(what, sizeof(what), "echo %zu sent", n);
	SHOW(what, sendto(fd, out, n, 0, (struct sockaddr *)&srv, sizeof(srv)));
	r = recv(fd, in, sizeof(in), 0);
	printf("echo %zu back = %zd intact = %d\n", n, r, r == (ssize_t)n && !memcmp(in, out, n));
}

static int
client(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0), v, p[2], ep, i;
	struct sockaddr_in me, peer, closed = srv, unspec = {.sin_family = AF_UNSPEC};
	socklen_t n = sizeof(me);
	char buf[256], small[4];
	struct timeval tv = {0, 50000};
	struct pollfd pf[2];
	struct epoll_event ev, evs[4];
	struct mmsghdr mm[4];
	struct iovec iov[4];
	char mb[4][16];
	fd_set rs;

	/* Replies wait long enough for a slow start, but never forever. */
	tv.tv_sec = 5;
	tv.tv_usec = 0;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	echo(fd, 1);
	SHOW("getsockname", getsockname(fd, (struct sockaddr *)&me, &n));
	printf("local port set = %d\n", me.sin_port != 0);
	echo(fd, 64);
	echo(fd, 1472);
	echo(fd, 8000); /* IPv4 fragments */
	SHOW("sendto 65508", sendto(fd, buf, 65508, 0, (struct sockaddr *)&srv, sizeof(srv)));

	/* Flags and sizes on the way back. */
	sendto(fd, "0123456789", 10, 0, (struct sockaddr *)&srv, sizeof(srv));
	SHOW("poll reply", poll(&(struct pollfd){fd, POLLIN, 0}, 1, 5000));
	SHOW("ioctl FIONREAD", ioctl(fd, FIONREAD, &v));
	printf("fionread = %d\n", v);
	SHOW("recv peek", recv(fd, buf, sizeof(buf), MSG_PEEK));
	{
		struct iovec io = {small, sizeof(small)};
		struct msghdr m = {.msg_iov = &io, .msg_iovlen = 1};

		SHOW("recvmsg trunc", recvmsg(fd, &m, MSG_TRUNC));
		printf("msg_flags trunc = %d, data = %.4s\n", !!(m.msg_flags & MSG_TRUNC), small);
	}
	SHOW("recv dontwait empty", recv(fd, buf, sizeof(buf), MSG_DONTWAIT));

	/* Batches. */
	for (i = 0; i < 4; i++) {
		snprintf(mb[i], sizeof(mb[i]), "batch-%d", i);
		iov[i] = (struct iovec){mb[i], strlen(mb[i])};
		mm[i] = (struct mmsghdr){.msg_hdr = {.msg_name = &srv, .msg_namelen = sizeof(srv),
						     .msg_iov = &iov[i], .msg_iovlen = 1}};
	}
	SHOW("sendmmsg", sendmmsg(fd, mm, 4, 0));
	for (i = 0; i < 4; i++) {
		iov[i].iov_len = sizeof(mb[i]);
		mm[i].msg_hdr.msg_name = NULL;
		mm[i].msg_hdr.msg_namelen = 0;
	}
	poll(&(struct pollfd){fd, POLLIN, 0}, 1, 5000);
	usleep(50000); /* let all four come back */
	SHOW("recvmmsg", recvmmsg(fd, mm, 4, MSG_DONTWAIT, NULL));
	printf("batch lens = %u %u %u %u\n", mm[0].msg_len, mm[1].msg_len, mm[2].msg_len,
	       mm[3].msg_len);

	/* Connected. */
	SHOW("connect", connect(fd, (struct sockaddr *)&srv, sizeof(srv)));
	n = sizeof(peer);
	SHOW("getpeername", getpeername(fd, (struct sockaddr *)&peer, &n));
	printf("peer port matches = %d\n", peer.sin_port == srv.sin_port);
	SHOW("send", send(fd, "s", 1, 0));
	SHOW("read", read(fd, buf, sizeof(buf)));
	SHOW("writev", writev(fd, (struct iovec[]){{"ab", 2}, {"cd", 2}}, 2));
	SHOW("readv", readv(fd, (struct iovec[]){{buf, 1}, {buf + 1, 10}}, 2));
	printf("readv data = %.4s\n", buf);
	SHOW("write", write(fd, "w", 1));
	SHOW("recv", recv(fd, buf, sizeof(buf), 0));

	/* Readiness with a pipe in the same sets. */
	SHOW("pipe", pipe(p));
	pf[0] = (struct pollfd){fd, POLLIN, 0};
	pf[1] = (struct pollfd){p[0], POLLIN, 0};
	SHOW("poll idle", poll(pf, 2, 20));
	send(fd, "x", 1, 0);
	SHOW("poll socket", poll(pf, 2, 5000));
	printf("revents = %#x %#x\n", pf[0].revents, pf[1].revents);
	FD_ZERO(&rs);
	FD_SET(fd, &rs);
	FD_SET(p[0], &rs);
	SHOW("select", select((fd > p[0] ? fd : p[0]) + 1, &rs, NULL, NULL, &(struct timeval){1, 0}));
	printf("select socket = %d pipe = %d\n", FD_ISSET(fd, &rs), FD_ISSET(p[0], &rs));
	ep = epoll_create1(0);
	ev = (struct epoll_event){.events = EPOLLIN, .data.u32 = 1};
	epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	ev = (struct epoll_event){.events = EPOLLIN, .data.u32 = 2};
	epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
	SHOW("epoll_wait socket", epoll_wait(ep, evs, 4, 1000));
	printf("epoll data = %u\n", evs[0].data.u32);
	read(fd, buf, sizeof(buf));
	SHOW("epoll_wait idle", epoll_wait(ep, evs, 4, 20));
	write(p[1], "p", 1);
	SHOW("epoll_wait pipe", epoll_wait(ep, evs, 4, 1000));
	printf("epoll data = %u\n", evs[0].data.u32);
	close(ep);

	/* Timeouts and nonblocking. */
	tv = (struct timeval){0, 50000};
	SHOW("setsockopt rcvtimeo", setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)));
	SHOW("recv timeout", recv(fd, buf, sizeof(buf), 0));
	v = 1;
	SHOW("ioctl FIONBIO", ioctl(fd, FIONBIO, &v));
	SHOW("recv nonblocking", recv(fd, buf, sizeof(buf), 0));
	SHOW("fcntl getfl nonblock", !!(fcntl(fd, F_GETFL) & O_NONBLOCK));
	SHOW("fcntl clear nonblock", fcntl(fd, F_SETFL, 0));
	v = 65536;
	SHOW("setsockopt rcvbuf", setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v)));
	n = sizeof(v);
	SHOW("getsockopt rcvbuf", getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, &n));
	printf("rcvbuf = %d\n", v);

	/* Disconnect, then a closed port: the peer answers ICMP. */
	SHOW("connect AF_UNSPEC", connect(fd, (struct sockaddr *)&unspec, sizeof(unspec)));
	SHOW("getpeername after", getpeername(fd, (struct sockaddr *)&peer, &n));
	SHOW("send unconnected", send(fd, "u", 1, 0));
	closed.sin_port = htons(ntohs(srv.sin_port) + 1);
	SHOW("connect closed port", connect(fd, (struct sockaddr *)&closed, sizeof(closed)));
	SHOW("send closed port", send(fd, "c", 1, 0));
	usleep(100000);
	SHOW("recv refused", recv(fd, buf, sizeof(buf), MSG_DONTWAIT));
	SHOW("recv after refused", recv(fd, buf, sizeof(buf), MSG_DONTWAIT));
	close(fd);

	/* Stop the server. */
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	sendto(fd, "quit", 4, 0, (struct sockaddr *)&srv, sizeof(srv));
	usleep(50000);
	close(fd);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc != 4)
		return 2;
	srv.sin_family = AF_INET;
	srv.sin_port = htons((uint16_t)atoi(argv[3]));
	inet_pton(AF_INET, argv[2], &srv.sin_addr);
	return strcmp(argv[1], "server") == 0 ? server() : client();
}
