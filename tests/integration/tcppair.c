/* Two processes talking TCP, for the behaviour comparison across memif:
 *   tcppair server ADDR PORT     serves one connection at a time; the first
 *                                byte a client sends says what to do
 *   tcppair client ADDR PORT     runs the scenarios, prints the results
 * The client prints only what a program observes (values, errnos, event
 * bits), never addresses, byte counts that depend on buffer sizes, or
 * timings, so the kernel run (127.0.0.1) and the fastsock run (both ends
 * preloaded, across memif) print the same lines. Nothing waits forever:
 * every blocking call has a timeout. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "../show.h"

static struct sockaddr_in srv;
static char big[1 << 20];

static void
timeouts(int fd, int secs)
{
	struct timeval tv = {secs, 0};

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static size_t
drain(int fd)
{
	size_t total = 0;
	ssize_t r;

	while ((r = recv(fd, big, sizeof(big), 0)) > 0)
		total += (size_t)r;
	return total;
}

/* One connection: the first byte is the command. */
static void
serve(int c)
{
	char cmd = 0, buf[65536];
	ssize_t r;
	struct linger lg = {1, 0};

	timeouts(c, 5);
	if (recv(c, &cmd, 1, MSG_WAITALL) != 1)
		return;
	switch (cmd) {
	case 'e': /* echo until EOF */
		while ((r = recv(c, buf, sizeof(buf), 0)) > 0)
			if (send(c, buf, (size_t)r, MSG_NOSIGNAL) != r)
				break;
		break;
	case 'c': /* close at once */
		break;
	case 'r': /* reset at once */
		setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		break;
	case 'u': /* close with unread data: the kernel resets */
		usleep(200000);
		break;
	case 's': /* 1 MiB then close: all of it must arrive before EOF */
		for (r = 0; r < (ssize_t)sizeof(big); r++)
			big[r] = (char)(r * 13);
		send(c, big, sizeof(big), MSG_NOSIGNAL);
		break;
	case 'w': /* wait for EOF, answer, close */
		drain(c);
		send(c, "bye", 3, MSG_NOSIGNAL);
		break;
	case 'k': { /* connect back to the client's listener (port + 2) */
		struct sockaddr_in back;
		socklen_t bn = sizeof(back);
		int b = socket(AF_INET, SOCK_STREAM, 0);

		getpeername(c, (struct sockaddr *)&back, &bn);
		back.sin_port = htons((uint16_t)(ntohs(srv.sin_port) + 2));
		timeouts(b, 5);
		if (connect(b, (struct sockaddr *)&back, sizeof(back)) == 0) {
			/* Each byte from the client is a step. */
			while (recv(c, &cmd, 1, 0) == 1) {
				if (cmd == '1')
					send(b, "ab", 2, MSG_NOSIGNAL);
				else if (cmd == '2')
					shutdown(b, SHUT_WR);
			}
		}
		close(b);
		break;
	}
	case 'h': /* hold: read nothing until the client says */
		poll(&(struct pollfd){c, POLLRDHUP, 0}, 1, 3000);
		usleep(300000);
		drain(c);
		break;
	}
	close(c);
}

/* A listener on srv, or -1 (said on stderr). */
static int
listener(void)
{
	int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l, (struct sockaddr *)&srv, sizeof(srv)) < 0 || listen(l, 16) < 0) {
		perror("bind/listen");
		return -1;
	}
	return l;
}

static int
server(void)
{
	int l = listener(), c;

	if (l < 0)
		return 1;
	for (;;) {
		c = accept(l, NULL, NULL);
		if (c < 0) {
			if (errno == EINTR)
				return 0;
			continue;
		}
		serve(c);
	}
}

static int
conn(char cmd)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	timeouts(fd, 5);
	if (connect(fd, (struct sockaddr *)&srv, sizeof(srv)) < 0) {
		printf("connect for %c = -1 %s\n", cmd, strerrorname_np(errno));
		return fd;
	}
	if (cmd)
		send(fd, &cmd, 1, 0);
	return fd;
}

static void
echo(int fd, size_t n)
{
	static char out[300000], in[300000];
	char what[64];
	size_t i;
	ssize_t r;

	for (i = 0; i < n; i++)
		out[i] = (char)(i * 7 + n);
	snprintf(what, sizeof(what), "echo %zu send", n);
	SHOW(what, send(fd, out, n, 0));
	r = recv(fd, in, n, MSG_WAITALL);
	printf("echo %zu back = %zd intact = %d\n", n, r, r == (ssize_t)n && !memcmp(in, out, n));
}

static const char *
bits(unsigned ev)
{
	static char s[128];

	snprintf(s, sizeof(s), "%s%s%s%s%s", ev & POLLIN ? "IN " : "", ev & POLLOUT ? "OUT " : "",
		 ev & POLLRDHUP ? "RDHUP " : "", ev & POLLHUP ? "HUP " : "", ev & POLLERR ? "ERR " : "");
	return s;
}

static unsigned
poll_now(int fd, int wait_ms)
{
	struct pollfd p = {fd, POLLIN | POLLOUT | POLLRDHUP, 0};

	poll(&p, 1, wait_ms);
	return (unsigned)p.revents;
}

/* Waits until fd shows any of ev (bounded). */
static unsigned
poll_for(int fd, unsigned ev)
{
	struct pollfd p = {fd, (short)(ev & ~(POLLERR | POLLHUP)), 0};
	int i;

	for (i = 0; i < 50; i++) {
		p.revents = 0;
		if (poll(&p, 1, 100) > 0 && (p.revents & ev))
			break;
	}
	return (unsigned)p.revents;
}

static volatile sig_atomic_t pipes;

static void
on_pipe(int s)
{
	(void)s;
	pipes++;
}

static int
client(void)
{
	struct sockaddr_in me, peer, closed = srv;
	socklen_t n = sizeof(me);
	char buf[4096];
	int fd, l, v, e, ep;
	struct epoll_event ev, evs[4];
	struct tcp_info ti;
	size_t total;
	ssize_t r;

	signal(SIGPIPE, on_pipe);
	closed.sin_port = htons((uint16_t)(ntohs(srv.sin_port) + 1));

	/* Connect, names, echo of several sizes. */
	fd = conn('e');
	SHOW("getsockname", getsockname(fd, (struct sockaddr *)&me, &n));
	printf("local port set = %d\n", me.sin_port != 0);
	/* The stack started on that connect: the program's rand() sequence
	 * is its own (lwIP draws from rand()). */
	printf("first rand() = %d\n", rand());
	n = sizeof(peer);
	SHOW("getpeername", getpeername(fd, (struct sockaddr *)&peer, &n));
	printf("peer = server: %d\n", peer.sin_port == srv.sin_port && peer.sin_addr.s_addr ==
					      srv.sin_addr.s_addr);
	echo(fd, 1);
	echo(fd, 1460);
	echo(fd, 5000);
	echo(fd, 300000);
	SHOW("recv dontwait empty", recv(fd, buf, sizeof(buf), MSG_DONTWAIT));
	send(fd, "0123456789", 10, 0);
	printf("poll data = %s\n", bits(poll_for(fd, POLLIN)));
	usleep(20000);
	SHOW("ioctl FIONREAD", ioctl(fd, FIONREAD, &v));
	printf("fionread = %d\n", v);
	SHOW("recv peek", recv(fd, buf, 4, MSG_PEEK));
	SHOW("recv 4", recv(fd, buf, 4, 0));
	printf("data = %.4s\n", buf);
	SHOW("readv rest", readv(fd, (struct iovec[]){{buf, 2}, {buf + 2, 10}}, 2));
	printf("data = %.6s\n", buf);
	SHOW("writev", writev(fd, (struct iovec[]){{"ab", 2}, {"cd", 2}}, 2));
	SHOW("recv waitall", recv(fd, buf, 4, MSG_WAITALL));
	SHOW("send MSG_MORE", send(fd, "xy", 2, MSG_MORE));
	SHOW("send after more", send(fd, "z", 1, 0));
	SHOW("recv waitall 3", recv(fd, buf, 3, MSG_WAITALL));
	printf("data = %.3s\n", buf);

	/* Options. */
	v = 1;
	SHOW("TCP_NODELAY set", setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, sizeof(v)));
	n = sizeof(v);
	SHOW("TCP_NODELAY get", getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &n));
	printf("nodelay = %d\n", v);
	v = 1;
	SHOW("TCP_CORK set", setsockopt(fd, IPPROTO_TCP, TCP_CORK, &v, sizeof(v)));
	SHOW("send corked", send(fd, "cork", 4, 0));
	v = 0;
	SHOW("TCP_CORK clear", setsockopt(fd, IPPROTO_TCP, TCP_CORK, &v, sizeof(v)));
	SHOW("recv uncorked", recv(fd, buf, 4, MSG_WAITALL));
	v = 1;
	SHOW("SO_KEEPALIVE", setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &v, sizeof(v)));
	v = 30;
	SHOW("TCP_KEEPIDLE", setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &v, sizeof(v)));
	SHOW("TCP_KEEPINTVL", setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &v, sizeof(v)));
	v = 3;
	SHOW("TCP_KEEPCNT", setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &v, sizeof(v)));
	n = sizeof(v);
	getsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &v, &n);
	printf("keepcnt = %d\n", v);
	v = 0;
	SHOW("TCP_KEEPIDLE 0", setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &v, sizeof(v)));
	n = sizeof(ti);
	SHOW("TCP_INFO", getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &n));
	printf("tcpi_state = %u, cwnd > 0 = %d, snd_mss > 0 = %d\n", ti.tcpi_state,
	       ti.tcpi_snd_cwnd > 0, ti.tcpi_snd_mss > 0);
	/* Measured in microseconds after the exchanges above; the timeout at
	 * least the 200 ms minimum, above the round trip. */
	printf("rtt in (0, 1 s) = %d, rto >= 200 ms = %d, rto > rtt = %d\n",
	       ti.tcpi_rtt > 0 && ti.tcpi_rtt < 1000000, ti.tcpi_rto >= 200000,
	       ti.tcpi_rto > ti.tcpi_rtt);
	n = sizeof(v);
	SHOW("SO_ERROR", getsockopt(fd, SOL_SOCKET, SO_ERROR, &v, &n));
	printf("so_error = %d\n", v);
	SHOW("SO_ACCEPTCONN", getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &n));
	printf("acceptconn = %d\n", v);
	SHOW("connect again", connect(fd, (struct sockaddr *)&srv, sizeof(srv)));

	/* Half-close: our FIN, then the echo server's. */
	SHOW("shutdown SHUT_WR", shutdown(fd, SHUT_WR));
	SHOW("send after SHUT_WR", send(fd, "x", 1, MSG_NOSIGNAL));
	printf("after peer FIN = %s\n", bits(poll_for(fd, POLLRDHUP)));
	SHOW("recv EOF", recv(fd, buf, sizeof(buf), 0));
	SHOW("recv EOF again", recv(fd, buf, sizeof(buf), 0));
	SHOW("close", close(fd));

	/* SHUT_RD: reads return 0 without blocking. */
	fd = conn('e');
	SHOW("shutdown SHUT_RD", shutdown(fd, SHUT_RD));
	SHOW("recv after SHUT_RD", recv(fd, buf, sizeof(buf), 0));
	SHOW("shutdown bad how", shutdown(fd, 7));
	close(fd);

	/* The server answers after our FIN (half-close both ways). */
	fd = conn('w');
	send(fd, "data", 4, 0);
	SHOW("shutdown SHUT_WR", shutdown(fd, SHUT_WR));
	SHOW("recv answer", recv(fd, buf, 3, MSG_WAITALL));
	SHOW("recv EOF", recv(fd, buf, sizeof(buf), 0));
	close(fd);

	/* The server closes: EOF; writing then gets EPIPE (after its RST). */
	fd = conn('c');
	printf("peer closed = %s\n", bits(poll_for(fd, POLLRDHUP)));
	SHOW("recv EOF", recv(fd, buf, sizeof(buf), 0));
	SHOW("send to closed peer", send(fd, "x", 1, MSG_NOSIGNAL));
	usleep(100000);
	pipes = 0;
	SHOW("send after RST", send(fd, "x", 1, 0));
	printf("SIGPIPE raised = %d\n", pipes);
	SHOW("send after RST NOSIGNAL", send(fd, "x", 1, MSG_NOSIGNAL));
	printf("SIGPIPE raised = %d\n", pipes);
	close(fd);

	/* The server resets (SO_LINGER 0): ECONNRESET once, then EOF. */
	fd = conn('r');
	printf("reset = %s\n", bits(poll_for(fd, POLLERR)));
	n = sizeof(v);
	SHOW("recv reset", recv(fd, buf, sizeof(buf), 0));
	SHOW("recv after reset", recv(fd, buf, sizeof(buf), 0));
	SHOW("SO_ERROR after", getsockopt(fd, SOL_SOCKET, SO_ERROR, &v, &n));
	printf("so_error = %d\n", v);
	SHOW("send after reset", send(fd, "x", 1, MSG_NOSIGNAL));
	close(fd);

	/* Unread data at the server's close: the kernel resets. */
	fd = conn('u');
	send(fd, "unread", 6, 0);
	printf("unread close = %s\n", bits(poll_for(fd, POLLERR)));
	SHOW("recv", recv(fd, buf, sizeof(buf), 0));
	close(fd);

	/* Close with 1 MiB still queued: all of it, then EOF. */
	fd = conn('s');
	usleep(100000);
	total = drain(fd);
	printf("queued at close: got %zu bytes\n", total);
	close(fd);

	/* Our SO_LINGER 0 close resets the server's side (seen by it). */
	fd = conn('e');
	{
		struct linger lg = {1, 0};

		SHOW("SO_LINGER 0", setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)));
	}
	SHOW("close linger 0", close(fd));

	/* Nonblocking connect: EINPROGRESS, writable, SO_ERROR 0. */
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	SHOW("connect nonblocking", connect(fd, (struct sockaddr *)&srv, sizeof(srv)));
	printf("connected = %s\n", bits(poll_for(fd, POLLOUT)));
	n = sizeof(v);
	SHOW("SO_ERROR", getsockopt(fd, SOL_SOCKET, SO_ERROR, &v, &n));
	printf("so_error = %d\n", v);
	SHOW("connect when connected", connect(fd, (struct sockaddr *)&srv, sizeof(srv)));
	send(fd, "e", 1, 0);
	SHOW("recv nonblocking empty", recv(fd, buf, sizeof(buf), 0));
	close(fd);

	/* Refused: blocking, then nonblocking with SO_ERROR. */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	SHOW("connect refused", connect(fd, (struct sockaddr *)&closed, sizeof(closed)));
	SHOW("send after refused", send(fd, "x", 1, MSG_NOSIGNAL));
	close(fd);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	SHOW("connect refused nonblocking", connect(fd, (struct sockaddr *)&closed, sizeof(closed)));
	printf("refused = %s\n", bits(poll_for(fd, POLLOUT | POLLERR)));
	n = sizeof(v);
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &v, &n);
	printf("so_error = %s\n", v ? strerrorname_np(v) : "0");
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &v, &n);
	printf("so_error again = %d\n", v);
	close(fd);

	/* A full send buffer: a nonblocking sender gets a partial write,
	 * then EAGAIN; a peer that reads everything frees it again. */
	fd = conn('h');
	fcntl(fd, F_SETFL, O_NONBLOCK);
	total = 0;
	for (v = 0; v < 10000 && (r = send(fd, big, sizeof(big), 0)) > 0; v++)
		total += (size_t)r;
	e = errno;
	printf("filled: sent > 0 = %d, then %s\n", total > 0, strerrorname_np(e));
	printf("full = %s\n", bits(poll_now(fd, 0) & POLLOUT));
	shutdown(fd, SHUT_WR);
	printf("drained = %s\n", bits(poll_for(fd, POLLIN) & POLLIN));
	close(fd);

	/* A listener of our own: accept4 flags, EAGAIN, SO_ACCEPTCONN. */
	l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	me = srv;
	me.sin_port = htons((uint16_t)(ntohs(srv.sin_port) + 2));
	if (getenv("LAB_CLIENT_IP"))
		inet_pton(AF_INET, getenv("LAB_CLIENT_IP"), &me.sin_addr);
	SHOW("bind own", bind(l, (struct sockaddr *)&me, sizeof(me)));
	SHOW("listen", listen(l, 4));
	n = sizeof(v);
	getsockopt(l, SOL_SOCKET, SO_ACCEPTCONN, &v, &n);
	printf("acceptconn = %d\n", v);
	SHOW("accept empty", accept(l, NULL, NULL));
	SHOW("recv on listener", recv(l, buf, 1, 0));
	fd = conn('k'); /* the server connects back */
	printf("listener = %s\n", bits(poll_for(l, POLLIN)));
	{
		int a = accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		printf("accept4 = %d, nonblock = %d, cloexec = %d\n", a >= 0,
		       !!(fcntl(a, F_GETFL) & O_NONBLOCK), !!(fcntl(a, F_GETFD) & FD_CLOEXEC));
		/* epoll: level, edge, one-shot, RDHUP. */
		ep = epoll_create1(0);
		ev = (struct epoll_event){EPOLLIN | EPOLLET | EPOLLRDHUP, {.u32 = 7}};
		SHOW("epoll_ctl ET", epoll_ctl(ep, EPOLL_CTL_ADD, a, &ev));
		SHOW("epoll_wait none", epoll_wait(ep, evs, 4, 0));
		send(fd, "1", 1, 0);
		v = epoll_wait(ep, evs, 4, 2000);
		printf("epoll ET = %d events = %s\n", v, bits(v > 0 ? evs[0].events : 0));
		SHOW("epoll ET again", epoll_wait(ep, evs, 4, 0));
		recv(a, buf, 1, 0);
		SHOW("epoll ET after partial read", epoll_wait(ep, evs, 4, 0));
		ev = (struct epoll_event){EPOLLIN | EPOLLONESHOT, {.u32 = 8}};
		SHOW("epoll_ctl MOD oneshot", epoll_ctl(ep, EPOLL_CTL_MOD, a, &ev));
		SHOW("epoll oneshot", epoll_wait(ep, evs, 4, 2000));
		SHOW("epoll oneshot spent", epoll_wait(ep, evs, 4, 0));
		ev = (struct epoll_event){EPOLLIN | EPOLLRDHUP, {.u32 = 9}};
		SHOW("epoll_ctl MOD level", epoll_ctl(ep, EPOLL_CTL_MOD, a, &ev));
		recv(a, buf, 1, 0);
		SHOW("epoll level empty", epoll_wait(ep, evs, 4, 0));
		send(fd, "2", 1, 0);
		v = epoll_wait(ep, evs, 4, 2000);
		printf("epoll RDHUP = %d events = %s\n", v, bits(v > 0 ? evs[0].events : 0));
		/* epfd must be an epoll fd: not a socket, not a closed number,
		 * not a number dup2 gave to a socket since. */
		SHOW("epoll_ctl on a socket", epoll_ctl(fd, EPOLL_CTL_ADD, a, &ev));
		close(ep);
		SHOW("epoll_ctl closed epfd", epoll_ctl(ep, EPOLL_CTL_ADD, a, &ev));
		ep = epoll_create1(0);
		SHOW("epoll_ctl new set", epoll_ctl(ep, EPOLL_CTL_ADD, a, &ev));
		SHOW("dup2 over the set", dup2(fd, ep) == ep);
		SHOW("epoll_ctl after dup2", epoll_ctl(ep, EPOLL_CTL_MOD, a, &ev));
		close(ep);
		close(a);
	}
	close(fd);
	close(l);

	/* An epoll set inside another (event libraries nest them): the outer
	 * set reports the inner one when a socket in it is readable. */
	fd = conn('e');
	{
		int outer = epoll_create1(0), inner = epoll_create1(0);

		ev = (struct epoll_event){EPOLLIN, {.u32 = 10}};
		SHOW("epoll_ctl inner", epoll_ctl(inner, EPOLL_CTL_ADD, fd, &ev));
		ev = (struct epoll_event){EPOLLIN, {.u32 = 11}};
		SHOW("epoll_ctl nested", epoll_ctl(outer, EPOLL_CTL_ADD, inner, &ev));
		SHOW("epoll_ctl loop", epoll_ctl(inner, EPOLL_CTL_ADD, outer, &ev));
		SHOW("nested quiet", epoll_wait(outer, evs, 4, 0));
		SHOW("poll on the set, quiet", poll(&(struct pollfd){inner, POLLIN, 0}, 1, 0));
		send(fd, "n", 1, 0);
		v = epoll_wait(outer, evs, 4, 2000);
		printf("nested = %d data = %u events = %s\n", v, v > 0 ? evs[0].data.u32 : 0,
		       bits(v > 0 ? evs[0].events : 0));
		v = epoll_wait(inner, evs, 4, 0);
		printf("inner = %d data = %u\n", v, v > 0 ? evs[0].data.u32 : 0);
		/* An epoll fd is itself pollable (glib and Qt loops poll one). */
		{
			struct pollfd pf = {inner, POLLIN | POLLOUT, 0};
			fd_set rs;

			v = poll(&pf, 1, 0);
			printf("poll on the set = %d revents = %s\n", v, bits(pf.revents));
			FD_ZERO(&rs);
			FD_SET(inner, &rs);
			v = select(inner + 1, &rs, NULL, NULL, &(struct timeval){0, 0});
			printf("select on the set = %d set = %d\n", v, FD_ISSET(inner, &rs) != 0);
		}
		recv(fd, buf, sizeof(buf), 0);
		SHOW("nested after read", epoll_wait(outer, evs, 4, 0));
		SHOW("poll on the set after read", poll(&(struct pollfd){inner, POLLIN, 0}, 1, 0));
		/* A poll that must wait for the set. */
		send(fd, "m", 1, 0);
		SHOW("poll on the set, waiting", poll(&(struct pollfd){inner, POLLIN, 0}, 1, 2000));
		recv(fd, buf, sizeof(buf), 0);
		close(outer);
		close(inner);
	}
	close(fd);

	/* SO_LINGER with a timeout: close waits for the peer to take what
	 * was sent, at most the timeout. This peer reads nothing for 3 s:
	 * send until its window and our buffer are full (no room for 200 ms),
	 * then close. Last: the server is busy for 3 s afterwards. */
	fd = conn('h');
	{
		struct linger lg = {1, 1};
		struct timespec a, b;
		long ms;

		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		fcntl(fd, F_SETFL, O_NONBLOCK);
		for (v = 0; v < 100000; v++)
			if (send(fd, big, sizeof(big), 0) < 0 &&
			    (errno != EAGAIN || poll(&(struct pollfd){fd, POLLOUT, 0}, 1, 200) != 1))
				break;
		clock_gettime(CLOCK_MONOTONIC, &a);
		v = close(fd);
		clock_gettime(CLOCK_MONOTONIC, &b);
		ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
		printf("close linger 1 s, peer not reading = %d, waited about 1 s = %d\n", v,
		       ms >= 800 && ms < 2500);
	}

	/* Never connected: the kernel's answers. */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	SHOW("getpeername unconnected", getpeername(fd, (struct sockaddr *)&peer, &n));
	close(fd);
	return 0;
}

/* exit: a server that takes two connections, sends EXIT_BYTES on each
 * and exits at once, the first closed and the second left open; sink:
 * the client, which tells what each brought before its EOF. The kernel
 * delivers both after the sender is gone. */
#define EXIT_BYTES (4u << 20)

static int
exiter(void)
{
	int l = listener(), c[2], i;
	size_t k;

	if (l < 0)
		return 1;
	for (i = 0; i < 2; i++)
		c[i] = accept(l, NULL, NULL);
	for (k = 0; k < sizeof(big); k++)
		big[k] = (char)(k * 7 + 1);
	for (i = 0; i < 2; i++) {
		for (k = 0; k < EXIT_BYTES; k += sizeof(big))
			send(c[i], big, sizeof(big), MSG_NOSIGNAL);
		if (i == 0)
			close(c[0]);
	}
	exit(0); /* c[1] and the listener are left to exit() */
}

static int
sink(void)
{
	int c[2], i;

	for (i = 0; i < 2; i++)
		c[i] = conn(0);
	for (i = 0; i < 2; i++) {
		size_t total = 0, bad = 0;
		ssize_t r, k;

		while ((r = recv(c[i], big, sizeof(big), 0)) > 0) {
			for (k = 0; k < r; k++)
				bad += big[k] != (char)((total + (size_t)k) * 7 + 1);
			total += (size_t)r;
		}
		printf("connection %s: %zu bytes, %zu wrong, then %s\n", i ? "left open" : "closed",
		       total, bad, r == 0 ? "EOF" : strerrorname_np(errno));
	}
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: %s server|client|exit|sink ADDR PORT\n", argv[0]);
		return 2;
	}
	srv.sin_family = AF_INET;
	srv.sin_port = htons((uint16_t)atoi(argv[3]));
	inet_pton(AF_INET, argv[2], &srv.sin_addr);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(argv[1], "exit") == 0)
		return exiter();
	if (strcmp(argv[1], "sink") == 0)
		return sink();
	return strcmp(argv[1], "server") == 0 ? server() : client();
}
