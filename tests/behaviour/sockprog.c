/* A deterministic tour of the socket API over loopback: every line it
 * prints is a call and what it returned (value and errno). The behaviour
 * suite runs it on the kernel and under fastsock and compares the output,
 * so this program is the specification's probe, not a test by itself. */
#include <arpa/inet.h>
#include <dlfcn.h>
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
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../show.h"


static struct sockaddr_in
loopback(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

static int
bound_udp(struct sockaddr_in *a)
{
	socklen_t n = sizeof(*a);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	*a = loopback(0);
	bind(fd, (struct sockaddr *)a, n);
	getsockname(fd, (struct sockaddr *)a, &n);
	return fd;
}

static void
udp(void)
{
	struct sockaddr_in a, b, from, unspec = {.sin_family = AF_UNSPEC};
	socklen_t n = sizeof(from);
	char buf[64], small[4];
	struct iovec iov = {small, sizeof(small)};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
	struct mmsghdr mm[3];
	struct iovec mio[3];
	char mb[3][8];
	int x = bound_udp(&a), y = bound_udp(&b), i, v;
	struct timeval tv = {0, 50000};

	printf("-- udp\n");
	SHOW("sendto", sendto(x, "hello", 5, 0, (struct sockaddr *)&b, sizeof(b)));
	SHOW("recv peek", recv(y, buf, sizeof(buf), MSG_PEEK));
	SHOW("ioctl FIONREAD", ioctl(y, FIONREAD, &v));
	printf("fionread = %d\n", v);
	SHOW("recvfrom", recvfrom(y, buf, sizeof(buf), 0, (struct sockaddr *)&from, &n));
	printf("from matches = %d, len %u\n", from.sin_port == a.sin_port, n);
	SHOW("sendto long", sendto(x, "0123456789", 10, 0, (struct sockaddr *)&b, sizeof(b)));
	SHOW("recvmsg trunc", recvmsg(y, &m, MSG_TRUNC));
	printf("msg_flags trunc = %d\n", (m.msg_flags & MSG_TRUNC) != 0);
	SHOW("recv dontwait", recv(y, buf, sizeof(buf), MSG_DONTWAIT));
	for (i = 0; i < 3; i++) {
		mio[i] = (struct iovec){mb[i], sizeof(mb[i])};
		mm[i] = (struct mmsghdr){.msg_hdr = {.msg_name = &b, .msg_namelen = sizeof(b),
						     .msg_iov = &mio[i], .msg_iovlen = 1}};
		memcpy(mb[i], "mmsg", 4);
		mio[i].iov_len = 4;
	}
	SHOW("sendmmsg", sendmmsg(x, mm, 3, 0));
	for (i = 0; i < 3; i++) {
		mio[i].iov_len = sizeof(mb[i]);
		mm[i].msg_hdr.msg_name = NULL;
	}
	SHOW("recvmmsg", recvmmsg(y, mm, 3, MSG_DONTWAIT, NULL));
	printf("mmsg lens = %u %u %u\n", mm[0].msg_len, mm[1].msg_len, mm[2].msg_len);
	SHOW("connect", connect(x, (struct sockaddr *)&b, sizeof(b)));
	n = sizeof(from);
	SHOW("getpeername", getpeername(x, (struct sockaddr *)&from, &n));
	SHOW("send connected", send(x, "c", 1, 0));
	SHOW("write connected", write(x, "w", 1));
	SHOW("read", read(y, buf, sizeof(buf)));
	SHOW("readv", readv(y, &(struct iovec){buf, sizeof(buf)}, 1));
	SHOW("connect AF_UNSPEC", connect(x, (struct sockaddr *)&unspec, sizeof(unspec)));
	SHOW("getpeername after", getpeername(x, (struct sockaddr *)&from, &n));
	SHOW("send unconnected", send(x, "c", 1, 0));
	close(y);
	SHOW("connect to closed", connect(x, (struct sockaddr *)&b, sizeof(b)));
	SHOW("send to closed", send(x, "z", 1, 0));
	usleep(20000);
	SHOW("recv after icmp", recv(x, buf, sizeof(buf), MSG_DONTWAIT));
	SHOW("setsockopt rcvtimeo", setsockopt(x, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)));
	SHOW("recv timeout", recv(x, buf, sizeof(buf), 0));
	v = 65536;
	SHOW("setsockopt rcvbuf", setsockopt(x, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v)));
	n = sizeof(v);
	SHOW("getsockopt rcvbuf", getsockopt(x, SOL_SOCKET, SO_RCVBUF, &v, &n));
	printf("rcvbuf = %d\n", v);
	close(x);
}

static void
tcp(void)
{
	struct sockaddr_in a;
	socklen_t n = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), c, s, d, v = 1, ep;
	struct pollfd p;
	struct epoll_event ev = {.events = EPOLLIN | EPOLLET}, out[4];
	char buf[256];
	fd_set rs;

	printf("-- tcp\n");
	a = loopback(0);
	SHOW("setsockopt reuseaddr", setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &v, sizeof(v)));
	SHOW("bind", bind(l, (struct sockaddr *)&a, sizeof(a)));
	SHOW("listen", listen(l, 8));
	getsockname(l, (struct sockaddr *)&a, &n);
	c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (connect(c, (struct sockaddr *)&a, sizeof(a)) < 0)
		printf("connect nonblocking = %s\n",
		       errno == EINPROGRESS ? "EINPROGRESS" : strerrorname_np(errno));
	else
		printf("connect nonblocking = EINPROGRESS\n"); /* loopback may finish at once */
	p = (struct pollfd){c, POLLOUT, 0};
	SHOW("poll pollout", poll(&p, 1, 1000));
	printf("revents = %#x\n", p.revents);
	n = sizeof(v);
	SHOW("getsockopt so_error", getsockopt(c, SOL_SOCKET, SO_ERROR, &v, &n));
	printf("so_error = %d\n", v);
	s = accept4(l, NULL, NULL, SOCK_NONBLOCK);
	printf("accept4 ok = %d\n", s >= 0);
	SHOW("accept4 nonblock flag", fcntl(s, F_GETFL) & O_NONBLOCK);
	close(s);
	SHOW("setsockopt l nonblock", fcntl(l, F_SETFL, O_NONBLOCK));
	SHOW("accept4 none pending", accept4(l, NULL, NULL, 0));
	SHOW("setsockopt l blocking", fcntl(l, F_SETFL, 0));
	{
		int c2 = socket(AF_INET, SOCK_STREAM, 0);

		SHOW("connect blocking", connect(c2, (struct sockaddr *)&a, sizeof(a)));
		close(c);
		c = c2;
	}
	s = accept(l, NULL, NULL);
	printf("accept ok = %d\n", s >= 0);
	SHOW("fcntl getfl nonblock", fcntl(s, F_GETFL) & O_NONBLOCK);
	SHOW("setsockopt nodelay", setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &v, sizeof(v)));
	ep = epoll_create1(EPOLL_CLOEXEC);
	SHOW("epoll_ctl add", epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev));
	SHOW("epoll_wait empty", epoll_wait(ep, out, 4, 0));
	SHOW("writev", writev(c, (struct iovec[]){{"abc", 3}, {"defg", 4}}, 2));
	SHOW("epoll_wait data", epoll_wait(ep, out, 4, 1000));
	SHOW("epoll_wait edge again", epoll_wait(ep, out, 4, 0));
	FD_ZERO(&rs);
	FD_SET(s, &rs);
	SHOW("select", select(s + 1, &rs, NULL, NULL, &(struct timeval){1, 0}));
	SHOW("recv waitall", recv(s, buf, 7, MSG_WAITALL));
	d = dup(s);
	SHOW("close original", close(s));
	SHOW("send via dup", send(c, "xyz", 3, 0));
	usleep(10000);
	SHOW("read via dup", read(d, buf, sizeof(buf)));
	SHOW("dup2", dup2(d, 100));
	SHOW("shutdown wr", shutdown(c, SHUT_WR));
	usleep(10000);
	SHOW("read eof", read(100, buf, sizeof(buf)));
	SHOW("close dup", close(d));
	SHOW("close dup2", close(100));
	usleep(10000);
	SHOW("recv after peer close", recv(c, buf, sizeof(buf), 0));
	SHOW("send after close 1", send(c, "a", 1, MSG_NOSIGNAL));
	usleep(10000);
	SHOW("send after close 2", send(c, "a", 1, MSG_NOSIGNAL));
	close(c);
	close(ep);
	/* sendfile from a file into a connection */
	{
		char path[] = "/tmp/fs-sockprog-XXXXXX";
		int f = mkstemp(path), k = socket(AF_INET, SOCK_STREAM, 0), t;
		off_t off = 0;

		SHOW("write file", write(f, "file-contents", 13));
		connect(k, (struct sockaddr *)&a, sizeof(a));
		t = accept(l, NULL, NULL);
		SHOW("sendfile", sendfile(k, f, &off, 100));
		SHOW("recv sendfile", recv(t, buf, sizeof(buf), MSG_WAITALL | MSG_DONTWAIT));
		close(f);
		unlink(path);
		close(k);
		close(t);
	}
	close(l);
	n = sizeof(a);
	c = socket(AF_INET, SOCK_STREAM, 0);
	SHOW("connect refused", connect(c, (struct sockaddr *)&a, sizeof(a)));
	close(c);
}

static void
errors(void)
{
	int p[2], u = socket(AF_INET, SOCK_DGRAM, 0), u2 = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = loopback(0);
	socklen_t n = sizeof(a);
	char c;

	printf("-- errors\n");
	SHOW("send bad fd", send(-1, "x", 1, 0));
	SHOW("recv bad fd", recv(9999, &c, 1, 0));
	SHOW("close bad fd", close(9999));
	SHOW("pipe", pipe(p));
	SHOW("recv on pipe", recv(p[0], &c, 1, MSG_DONTWAIT));
	SHOW("write pipe", write(p[1], "q", 1));
	SHOW("read pipe", read(p[0], &c, 1));
	SHOW("socket bad family", socket(12345, SOCK_STREAM, 0));
	SHOW("socket bad type", socket(AF_INET, 77, 0));
	bind(u, (struct sockaddr *)&a, sizeof(a));
	getsockname(u, (struct sockaddr *)&a, &n);
	SHOW("bind in use", bind(u2, (struct sockaddr *)&a, sizeof(a)));
	SHOW("bind short len", bind(u2, (struct sockaddr *)&a, 3));
	SHOW("listen on udp", listen(u, 1));
	SHOW("accept on udp", accept(u, NULL, NULL));
	SHOW("getsockopt bad", getsockopt(u, SOL_SOCKET, 9999, &c, &n));
	SHOW("shutdown unconnected", shutdown(u2, SHUT_RDWR));
	SHOW("fcntl bad cmd", fcntl(u, 99999));
	SHOW("ioctl bad", ioctl(u, 0x1234, &c));
	SHOW("dup2 bad", dup2(u, -5));
	SHOW("dup3 same", dup3(u, u, 0));
	SHOW("epoll_ctl bad", epoll_ctl(u, EPOLL_CTL_ADD, u2, &(struct epoll_event){0}));
	close(p[0]);
	close(p[1]);
	close(u);
	close(u2);
}

static void
processes(void)
{
	int sv[2], st;
	char buf[16] = {0};
	pid_t pid;
	struct pollfd p;

	printf("-- processes\n");
	SHOW("socketpair", socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	pid = fork();
	if (pid == 0) {
		write(sv[1], "child", 5);
		_exit(3);
	}
	SHOW("read from child", read(sv[0], buf, sizeof(buf)));
	printf("child said %s\n", buf);
	waitpid(pid, &st, 0);
	printf("child exit = %d\n", WEXITSTATUS(st));
	pid = vfork();
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", "exit 5", (char *)NULL);
		_exit(127);
	}
	waitpid(pid, &st, 0);
	printf("vfork exec exit = %d\n", WEXITSTATUS(st));
	p = (struct pollfd){sv[0], POLLIN, 0};
	SHOW("poll timeout", poll(&p, 1, 20));
	SHOW("ppoll timeout", ppoll(&p, 1, &(struct timespec){0, 20000000}, NULL));
	SHOW("pselect timeout",
	     pselect(0, NULL, NULL, NULL, &(struct timespec){0, 1000000}, NULL));
	{
		int ep = epoll_create(1);
		struct epoll_event ev;

		SHOW("epoll_pwait2 timeout",
		     epoll_pwait2(ep, &ev, 1, &(struct timespec){0, 1000000}, NULL));
		SHOW("epoll_pwait timeout", epoll_pwait(ep, &ev, 1, 1, NULL));
		close(ep);
	}
	close(sv[0]);
	close(sv[1]);
}

int
main(void)
{
	/* stderr, outside the compared output: proves which run this was. */
	fprintf(stderr, "fastsock loaded: %s\n",
		dlsym(RTLD_DEFAULT, "fastsock_version") ? "yes" : "no");
	signal(SIGPIPE, SIG_IGN);
	udp();
	tcp();
	errors();
	processes();
	return 0;
}
