/* The interposer's dispatch: an fd marked accelerated reaches the stack's
 * ops through one sendmsg-shaped and one recvmsg-shaped call whatever
 * member of the family the program used; -errno becomes errno; dup, fcntl
 * and close keep the table in step with the kernel; unmarked fds reach the
 * kernel untouched. The ops here are a recording fake. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../../preload/init.h"
#include "check_main.h"

/* The fortified entry points glibc declares only in its internal headers. */
ssize_t __recv_chk(int, void *, size_t, size_t, int);
ssize_t __recvfrom_chk(int, void *, size_t, size_t, int, struct sockaddr *, socklen_t *);
ssize_t __read_chk(int, void *, size_t, size_t);

static struct {
	int calls, closes;
	int flags, nonblock;
	char data[256];
	size_t len;
	int named;
	size_t iovlen;
	int ret; /* 0: succeed; else the -errno to return */
	int fail_after; /* sendmsg: fail once this many succeeded (-1 never) */
	unsigned long req;
	int level, opt, how, backlog, peer;
} rec;

static ssize_t
gather(const struct msghdr *m)
{
	size_t i;

	rec.len = 0;
	rec.iovlen = m->msg_iovlen;
	rec.named = m->msg_name != NULL;
	for (i = 0; i < m->msg_iovlen; i++) {
		memcpy(rec.data + rec.len, m->msg_iov[i].iov_base, m->msg_iov[i].iov_len);
		rec.len += m->msg_iov[i].iov_len;
	}
	return (ssize_t)rec.len;
}

static ssize_t
f_sendmsg(void *s, const struct msghdr *m, int flags)
{
	(void)s;
	rec.calls++;
	rec.flags = flags;
	if (rec.ret)
		return rec.ret;
	if (rec.fail_after >= 0 && rec.calls > rec.fail_after)
		return -EAGAIN;
	return gather(m);
}

static ssize_t
f_recvmsg(void *s, struct msghdr *m, int flags)
{
	static const char msg[] = "hello";
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(7)};

	(void)s;
	rec.calls++;
	rec.flags = flags;
	if (rec.ret)
		return rec.ret;
	if (rec.fail_after >= 0 && rec.calls > rec.fail_after)
		return -EAGAIN;
	rec.iovlen = m->msg_iovlen;
	memcpy(m->msg_iov[0].iov_base, msg, 5);
	if (m->msg_name) {
		memcpy(m->msg_name, &sin, sizeof(sin));
		m->msg_namelen = sizeof(sin);
	}
	return 5;
}

static int
f_addr(void *s, const struct sockaddr *a, socklen_t n)
{
	(void)s;
	(void)a;
	(void)n;
	rec.calls++;
	return rec.ret;
}

static int
f_listen(void *s, int backlog)
{
	(void)s;
	rec.calls++;
	rec.backlog = backlog;
	return rec.ret;
}

static int
f_accept(void *s, struct sockaddr *a, socklen_t *n, int flags, void **conn)
{
	*conn = NULL;
	(void)s;
	(void)a;
	(void)n;
	rec.calls++;
	rec.flags = flags;
	return rec.ret ? rec.ret : 99;
}

static int
f_shutdown(void *s, int how)
{
	(void)s;
	rec.calls++;
	rec.how = how;
	return rec.ret;
}

static int
f_name(void *s, struct sockaddr *a, socklen_t *n, int peer)
{
	(void)s;
	(void)a;
	(void)n;
	rec.calls++;
	rec.peer = peer;
	return rec.ret;
}

static int
f_getsockopt(void *s, int level, int opt, void *v, socklen_t *n)
{
	(void)s;
	(void)v;
	(void)n;
	rec.calls++;
	rec.level = level;
	rec.opt = opt;
	return rec.ret;
}

static int
f_setsockopt(void *s, int level, int opt, const void *v, socklen_t n)
{
	return f_getsockopt(s, level, opt, (void *)v, &n);
}

static int
f_ioctl(void *s, unsigned long req, void *arg)
{
	(void)s;
	rec.calls++;
	rec.req = req;
	if (req == FIONBIO)
		rec.nonblock = *(int *)arg;
	if (req == FIONREAD)
		*(int *)arg = 5;
	return rec.ret;
}

static void
f_close(void *s)
{
	(void)s;
	rec.closes++;
}

static const struct fs_sock_ops fake = {
	.bind = f_addr,
	.connect = f_addr,
	.listen = f_listen,
	.accept = f_accept,
	.shutdown = f_shutdown,
	.name = f_name,
	.getsockopt = f_getsockopt,
	.setsockopt = f_setsockopt,
	.sendmsg = f_sendmsg,
	.recvmsg = f_recvmsg,
	.ioctl = f_ioctl,
	.close = f_close,
};

static int sock_obj;
static int kfd, peer; /* a kernel socketpair; kfd gets marked */

static void
setup(void)
{
	int sv[2];

	memset(&rec, 0, sizeof(rec));
	rec.fail_after = -1;
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv), 0);
	kfd = sv[0];
	peer = sv[1];
	ck_assert_int_eq(fs_fdt_mark(kfd, &fake, &sock_obj), 0);
}

static void
teardown(void)
{
	close(kfd);
	close(peer);
}

START_TEST(send_family_funnels)
{
	struct sockaddr_in to = {.sin_family = AF_INET};
	struct iovec iov[2] = {{"ab", 2}, {"cde", 3}};
	struct msghdr m = {.msg_iov = iov, .msg_iovlen = 2};

	ck_assert_int_eq(send(kfd, "abc", 3, MSG_DONTWAIT), 3);
	ck_assert_int_eq(rec.flags, MSG_DONTWAIT);
	ck_assert_int_eq(rec.named, 0);
	ck_assert_int_eq(memcmp(rec.data, "abc", 3), 0);
	ck_assert_int_eq(sendto(kfd, "xy", 2, MSG_MORE, (struct sockaddr *)&to, sizeof(to)), 2);
	ck_assert_int_eq(rec.flags, MSG_MORE);
	ck_assert_int_eq(rec.named, 1);
	ck_assert_int_eq(write(kfd, "w", 1), 1);
	ck_assert_int_eq(rec.flags, 0);
	ck_assert_int_eq(writev(kfd, iov, 2), 5);
	ck_assert_uint_eq(rec.iovlen, 2);
	ck_assert_int_eq(memcmp(rec.data, "abcde", 5), 0);
	ck_assert_int_eq(sendmsg(kfd, &m, MSG_NOSIGNAL), 5);
	ck_assert_int_eq(rec.flags, MSG_NOSIGNAL);
	ck_assert_int_eq(rec.calls, 5);
	/* Nothing reached the kernel socket. */
	ck_assert_int_eq(recv(peer, rec.data, sizeof(rec.data), MSG_DONTWAIT), -1);
	ck_assert_int_eq(errno, EAGAIN);
}
END_TEST

START_TEST(sendmmsg_partial_and_error)
{
	struct iovec iov = {"m", 1};
	struct mmsghdr v[3];
	int i;

	for (i = 0; i < 3; i++)
		v[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &iov, .msg_iovlen = 1}};
	rec.fail_after = 2;
	ck_assert_int_eq(sendmmsg(kfd, v, 3, 0), 2);
	ck_assert_uint_eq(v[0].msg_len, 1);
	ck_assert_uint_eq(v[1].msg_len, 1);
	rec.fail_after = -1;
	rec.ret = -EMSGSIZE;
	errno = 0;
	ck_assert_int_eq(sendmmsg(kfd, v, 3, 0), -1);
	ck_assert_int_eq(errno, EMSGSIZE);
}
END_TEST

START_TEST(recv_family_funnels)
{
	char buf[16] = {0};
	struct sockaddr_in from;
	socklen_t fromlen = sizeof(from);
	struct iovec iov[2] = {{buf, 2}, {buf + 2, 8}};
	struct msghdr m = {.msg_iov = iov, .msg_iovlen = 2};

	ck_assert_int_eq(recv(kfd, buf, sizeof(buf), MSG_PEEK), 5);
	ck_assert_int_eq(rec.flags, MSG_PEEK);
	ck_assert_str_eq(buf, "hello");
	ck_assert_int_eq(recvfrom(kfd, buf, sizeof(buf), MSG_TRUNC, (struct sockaddr *)&from,
				  &fromlen),
			 5);
	ck_assert_int_eq(fromlen, sizeof(from));
	ck_assert_int_eq(ntohs(from.sin_port), 7);
	ck_assert_int_eq(read(kfd, buf, sizeof(buf)), 5);
	ck_assert_int_eq(rec.flags, 0);
	ck_assert_int_eq(readv(kfd, iov, 2), 5);
	ck_assert_uint_eq(rec.iovlen, 2);
	ck_assert_int_eq(recvmsg(kfd, &m, MSG_DONTWAIT), 5);
	ck_assert_int_eq(rec.flags, MSG_DONTWAIT);
	ck_assert_int_eq(__recv_chk(kfd, buf, 8, sizeof(buf), 0), 5);
	ck_assert_int_eq(__recvfrom_chk(kfd, buf, 8, sizeof(buf), 0, NULL, NULL), 5);
	ck_assert_int_eq(__read_chk(kfd, buf, 8, sizeof(buf)), 5);
	ck_assert_int_eq(rec.calls, 8);
}
END_TEST

START_TEST(recvmmsg_waitforone)
{
	char b[3][8];
	struct iovec iov[3] = {{b[0], 8}, {b[1], 8}, {b[2], 8}};
	struct mmsghdr v[3];
	int i;

	for (i = 0; i < 3; i++)
		v[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &iov[i], .msg_iovlen = 1}};
	rec.fail_after = 2;
	ck_assert_int_eq(recvmmsg(kfd, v, 3, MSG_WAITFORONE, NULL), 2);
	ck_assert_int_eq(rec.flags, MSG_DONTWAIT); /* after the first */
	ck_assert_uint_eq(v[1].msg_len, 5);
	rec.fail_after = 0;
	ck_assert_int_eq(recvmmsg(kfd, v, 3, MSG_DONTWAIT, NULL), -1);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_int_eq(recvmmsg(kfd, v, 3, 0, &(struct timespec){0, 1000000000}), -1);
	ck_assert_int_eq(errno, EINVAL);
}
END_TEST

START_TEST(errno_from_stack)
{
	char c;

	rec.ret = -ECONNREFUSED;
	errno = 0;
	ck_assert_int_eq(send(kfd, "a", 1, 0), -1);
	ck_assert_int_eq(errno, ECONNREFUSED);
	rec.ret = -EAGAIN;
	ck_assert_int_eq(read(kfd, &c, 1), -1);
	ck_assert_int_eq(errno, EAGAIN);
	rec.ret = -EADDRINUSE;
	ck_assert_int_eq(bind(kfd, NULL, 0), -1);
	ck_assert_int_eq(errno, EADDRINUSE);
}
END_TEST

START_TEST(setup_calls_reach_ops)
{
	struct sockaddr_in a;
	socklen_t n = sizeof(a);
	int v = 1;

	ck_assert_int_eq(bind(kfd, (struct sockaddr *)&a, n), 0);
	ck_assert_int_eq(connect(kfd, (struct sockaddr *)&a, n), 0);
	ck_assert_int_eq(listen(kfd, 17), 0);
	ck_assert_int_eq(rec.backlog, 17);
	ck_assert_int_eq(accept4(kfd, NULL, NULL, SOCK_CLOEXEC), 99);
	ck_assert_int_eq(rec.flags, SOCK_CLOEXEC);
	ck_assert_int_eq(accept(kfd, NULL, NULL), 99);
	ck_assert_int_eq(rec.flags, 0);
	ck_assert_int_eq(shutdown(kfd, SHUT_WR), 0);
	ck_assert_int_eq(rec.how, SHUT_WR);
	ck_assert_int_eq(getsockname(kfd, (struct sockaddr *)&a, &n), 0);
	ck_assert_int_eq(rec.peer, 0);
	ck_assert_int_eq(getpeername(kfd, (struct sockaddr *)&a, &n), 0);
	ck_assert_int_eq(rec.peer, 1);
	ck_assert_int_eq(setsockopt(kfd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v)), 0);
	ck_assert_int_eq(rec.opt, SO_RCVBUF);
	ck_assert_int_eq(getsockopt(kfd, IPPROTO_TCP, 1, &v, &n), 0);
	ck_assert_int_eq(rec.level, IPPROTO_TCP);
	ck_assert_int_eq(rec.calls, 10);
}
END_TEST

START_TEST(nonblock_both_ways)
{
	int on = 1, n = 0;

	ck_assert_int_eq(fcntl(kfd, F_SETFL, O_NONBLOCK), 0);
	ck_assert_int_eq(rec.nonblock, 1);
	ck_assert(fcntl(kfd, F_GETFL) & O_NONBLOCK); /* the kernel fd agrees */
	ck_assert_int_eq(fcntl64(kfd, F_SETFL, 0), 0);
	ck_assert_int_eq(rec.nonblock, 0);
	ck_assert_int_eq(ioctl(kfd, FIONBIO, &on), 0);
	ck_assert_int_eq(rec.nonblock, 1);
	ck_assert(fcntl(kfd, F_GETFL) & O_NONBLOCK);
	ck_assert_int_eq(ioctl(kfd, FIONREAD, &n), 0);
	ck_assert_int_eq(n, 5);
	ck_assert_uint_eq(rec.req, FIONREAD);
}
END_TEST

START_TEST(dup_shares_close_counts)
{
	int a = dup(kfd), b = fcntl(kfd, F_DUPFD_CLOEXEC, 100), c = 200;

	ck_assert_int_ge(a, 0);
	ck_assert_int_ge(b, 100);
	ck_assert_ptr_eq(fs_fdt_get(a), fs_fdt_get(kfd));
	ck_assert_ptr_eq(fs_fdt_get(b), fs_fdt_get(kfd));
	ck_assert_int_eq(dup2(kfd, c), c);
	ck_assert_int_eq(dup2(kfd, kfd), kfd); /* no-op, no extra reference */
	ck_assert_uint_eq(fs_fdt_get(kfd)->refs, 4);
	ck_assert_int_eq(send(c, "z", 1, 0), 1);
	ck_assert_int_eq(close(a), 0);
	ck_assert_int_eq(close(b), 0);
	ck_assert_int_eq(close(c), 0);
	ck_assert_int_eq(rec.closes, 0);
	ck_assert_uint_eq(fs_fdt_get(kfd)->refs, 1);
}
END_TEST

START_TEST(dup2_over_accelerated_releases_it)
{
	int plain = socket(AF_INET, SOCK_DGRAM, 0);

	ck_assert_int_eq(dup3(plain, kfd, O_CLOEXEC), kfd);
	ck_assert_ptr_null(fs_fdt_get(kfd));
	ck_assert_int_eq(rec.closes, 1);
	ck_assert_int_eq(fs_fdt_count(), 0);
	close(plain);
}
END_TEST

START_TEST(close_last_closes_socket)
{
	int fd = kfd;

	ck_assert_int_eq(close(fd), 0);
	ck_assert_int_eq(rec.closes, 1);
	ck_assert_ptr_null(fs_fdt_get(fd));
	kfd = socket(AF_INET, SOCK_DGRAM, 0); /* for teardown */
}
END_TEST

START_TEST(stale_entry_forgotten)
{
	int fd = kfd, nfd;

	/* The program closes the fd behind our back (a raw system call). */
	syscall(SYS_close, fd);
	nfd = socket(AF_INET, SOCK_DGRAM, 0);
	ck_assert_int_eq(nfd, fd); /* the kernel reuses the lowest number */
	ck_assert_ptr_null(fs_fdt_get(nfd));
	ck_assert_int_eq(rec.closes, 1);
}
END_TEST

START_TEST(sendfile_into_stack)
{
	char path[] = "/tmp/fs-sendfile-XXXXXX";
	int fd = mkstemp(path);
	off_t off = 2;

	ck_assert_int_eq(write(fd, "0123456789", 10), 10);
	ck_assert_int_eq(sendfile(kfd, fd, &off, 5), 5);
	ck_assert_int_eq(off, 7);
	ck_assert_int_eq(memcmp(rec.data, "23456", 5), 0);
	lseek(fd, 8, SEEK_SET);
	ck_assert_int_eq(sendfile(kfd, fd, NULL, 100), 2);
	ck_assert_int_eq(memcmp(rec.data, "89", 2), 0);
	ck_assert_int_eq(sendfile(peer, kfd, NULL, 1), -1); /* socket as source */
	ck_assert_int_eq(errno, EINVAL);
	close(fd);
	unlink(path);
}
END_TEST

START_TEST(unmarked_reaches_kernel)
{
	char buf[8] = {0};

	ck_assert_int_eq(send(peer, "kern", 4, 0), 4);
	ck_assert_int_eq(rec.calls, 0);
	/* The marked end is served by the fake, so read the kernel directly. */
	ck_assert_int_eq(fs_real.recv(kfd, buf, sizeof(buf), 0), 4);
	ck_assert_str_eq(buf, "kern");
}
END_TEST

static Suite *
make_suite(void)
{
	Suite *s = suite_create("dispatch");
	TCase *t = tcase_create("fake-ops");

	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, send_family_funnels);
	tcase_add_test(t, sendmmsg_partial_and_error);
	tcase_add_test(t, recv_family_funnels);
	tcase_add_test(t, recvmmsg_waitforone);
	tcase_add_test(t, errno_from_stack);
	tcase_add_test(t, setup_calls_reach_ops);
	tcase_add_test(t, nonblock_both_ways);
	tcase_add_test(t, dup_shares_close_counts);
	tcase_add_test(t, dup2_over_accelerated_releases_it);
	tcase_add_test(t, close_last_closes_socket);
	tcase_add_test(t, stale_entry_forgotten);
	tcase_add_test(t, sendfile_into_stack);
	tcase_add_test(t, unmarked_reaches_kernel);
	suite_add_tcase(s, t);
	return s;
}
