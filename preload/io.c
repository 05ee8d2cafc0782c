/* The send and receive families. On an accelerated fd every member becomes
 * one sendmsg-shaped or recvmsg-shaped call into the stack; otherwise each
 * calls its own real libc function, so the kernel sees exactly what the
 * program asked for. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "claim.h"
#include "init.h"

#define SA(a) ((a).__sockaddr__)

void __chk_fail(void) __attribute__((noreturn));

/* A kernel send's result, after telling the stack (fs_dual_sent): over
 * loopback it may have reached one of its wildcard sockets already. */
static inline ssize_t
kernel_sent(ssize_t r)
{
	fs_dual_sent();
	return r;
}

static ssize_t
accel_send(struct fs_fd *f, const struct iovec *iov, int iovcnt, int flags,
	   const struct sockaddr *to, socklen_t tolen)
{
	struct msghdr m = {
		.msg_name = (void *)to,
		.msg_namelen = to ? tolen : 0,
		.msg_iov = (struct iovec *)iov,
		.msg_iovlen = (size_t)iovcnt,
	};

	return fs_ret(f->ops->sendmsg(f->sock, &m, flags));
}

static ssize_t
accel_recv(struct fs_fd *f, const struct iovec *iov, int iovcnt, int flags,
	   struct sockaddr *from, socklen_t *fromlen)
{
	struct msghdr m = {
		.msg_name = from,
		.msg_namelen = (from && fromlen) ? *fromlen : 0,
		.msg_iov = (struct iovec *)iov,
		.msg_iovlen = (size_t)iovcnt,
	};
	ssize_t r = f->ops->recvmsg(f->sock, &m, flags);

	if (r >= 0 && from && fromlen)
		*fromlen = m.msg_namelen;
	return fs_ret(r);
}

/* The single-buffer members call these out of line, so their passthrough
 * path needs no stack frame. */
static __attribute__((noinline)) ssize_t
accel_send1(struct fs_fd *f, const void *buf, size_t len, int flags,
	    const struct sockaddr *to, socklen_t tolen)
{
	struct iovec iov = {(void *)buf, len};

	return accel_send(f, &iov, 1, flags, to, tolen);
}

static __attribute__((noinline)) ssize_t
accel_recv1(struct fs_fd *f, void *buf, size_t len, int flags, struct sockaddr *from,
	    socklen_t *fromlen)
{
	struct iovec iov = {buf, len};

	return accel_recv(f, &iov, 1, flags, from, fromlen);
}

/* While acceleration is on, a receive the kernel serves may have been
 * overtaken: the fd was handed to the stack while this thread sat in the
 * kernel (woken by the claim's loopback datagram, which carries nothing of
 * the program's), and the stack answers instead. Out of line, so that with
 * acceleration off the wrappers tail-call libc. */
static __attribute__((noinline)) ssize_t
recvmsg_checked(int fd, struct msghdr *m, int flags)
{
	ssize_t r = FS_REAL(recvmsg, fd, m, flags);
	struct fs_fd *f = fs_fdt_hold(fd);

	return f ? FS_HELD(f, fs_ret(f->ops->recvmsg(f->sock, m, flags))) : r;
}

static __attribute__((noinline)) ssize_t
recvfrom_checked(int fd, void *buf, size_t len, int flags, struct sockaddr *from,
		 socklen_t *fromlen)
{
	ssize_t r = from || fromlen ? FS_REAL(recvfrom, fd, buf, len, flags, from, fromlen)
				    : FS_REAL(recv, fd, buf, len, flags);
	struct fs_fd *f = fs_fdt_hold(fd);

	return f ? FS_HELD(f, accel_recv1(f, buf, len, flags, from, fromlen)) : r;
}

static __attribute__((noinline)) ssize_t
read_checked(int fd, void *buf, size_t len)
{
	ssize_t r = FS_REAL(read, fd, buf, len);
	struct fs_fd *f = fs_fdt_hold(fd);

	return f ? FS_HELD(f, accel_recv1(f, buf, len, 0, NULL, NULL)) : r;
}

FS_EXPORT ssize_t
sendmsg(int fd, const struct msghdr *m, int flags)
{
	struct fs_fd *f = fs_lookup(fd);

	if (!f && fs_unlikely(fs_accel_on) && m && m->msg_name)
		f = fs_claim(fd, m->msg_name, m->msg_namelen, FS_CLAIM_SENDTO);
	if (f)
		return FS_HELD(f, fs_ret(f->ops->sendmsg(f->sock, m, flags)));
	return kernel_sent(FS_REAL(sendmsg, fd, m, flags));
}

FS_EXPORT ssize_t
sendto(int fd, const void *buf, size_t len, int flags, __CONST_SOCKADDR_ARG to,
       socklen_t tolen)
{
	struct fs_fd *f = fs_lookup(fd);

	if (!f && fs_unlikely(fs_accel_on) && SA(to))
		f = fs_claim(fd, SA(to), tolen, FS_CLAIM_SENDTO);
	if (fs_unlikely(f != NULL))
		return FS_HELD(f, accel_send1(f, buf, len, flags, SA(to), tolen));
	return kernel_sent(FS_REAL(sendto, fd, buf, len, flags, SA(to), tolen));
}

FS_EXPORT ssize_t
send(int fd, const void *buf, size_t len, int flags)
{
	struct fs_fd *f = fs_lookup(fd);

	if (fs_unlikely(f != NULL))
		return FS_HELD(f, accel_send1(f, buf, len, flags, NULL, 0));
	return kernel_sent(FS_REAL(send, fd, buf, len, flags));
}

FS_EXPORT ssize_t
write(int fd, const void *buf, size_t len)
{
	struct fs_fd *f = fs_lookup(fd);

	if (fs_unlikely(f != NULL))
		return FS_HELD(f, accel_send1(f, buf, len, 0, NULL, 0));
	return kernel_sent(FS_REAL(write, fd, buf, len));
}

FS_EXPORT ssize_t
writev(int fd, const struct iovec *iov, int iovcnt)
{
	struct fs_fd *f = fs_lookup(fd);

	if (f)
		return FS_HELD(f, accel_send(f, iov, iovcnt, 0, NULL, 0));
	return kernel_sent(FS_REAL(writev, fd, iov, iovcnt));
}

static int
accel_sendmmsg(struct fs_fd *f, struct mmsghdr *v, unsigned n, int flags)
{
	unsigned i;

	/* As the kernel: the count sent, or the error of the first message. */
	for (i = 0; i < n; i++) {
		ssize_t r = f->ops->sendmsg(f->sock, &v[i].msg_hdr, flags);

		if (r < 0)
			return i > 0 ? (int)i : (int)fs_ret(r);
		v[i].msg_len = (unsigned)r;
	}
	return (int)n;
}

FS_EXPORT int
sendmmsg(int fd, struct mmsghdr *v, unsigned n, int flags)
{
	struct fs_fd *f = fs_lookup(fd);

	if (!f && fs_unlikely(fs_accel_on) && n > 0 && v[0].msg_hdr.msg_name)
		f = fs_claim(fd, v[0].msg_hdr.msg_name, v[0].msg_hdr.msg_namelen, FS_CLAIM_SENDTO);
	if (!f)
		return (int)kernel_sent(FS_REAL(sendmmsg, fd, v, n, flags));
	return FS_HELD(f, accel_sendmmsg(f, v, n, flags));
}

static ssize_t
accel_sendfile(struct fs_fd *f, int in, off_t *off, size_t count)
{
	char buf[16384];
	size_t done = 0;

	/* Into the stack: read the file in slices and send them. */
	while (done < count) {
		size_t want = count - done < sizeof(buf) ? count - done : sizeof(buf);
		ssize_t n = off ? pread(in, buf, want, *off) : FS_REAL(read, in, buf, want);
		struct iovec iov;
		ssize_t s;

		if (n <= 0) {
			if (n < 0 && done == 0)
				return -1;
			break;
		}
		iov = (struct iovec){buf, (size_t)n};
		s = f->ops->sendmsg(f->sock, &(struct msghdr){.msg_iov = &iov, .msg_iovlen = 1},
				    0);
		if (s < 0) {
			if (!off && done == 0) /* give back what we read but could not send */
				lseek(in, -n, SEEK_CUR);
			return done ? (ssize_t)done : fs_ret(s);
		}
		if (off)
			*off += s;
		else if (s < n)
			lseek(in, s - n, SEEK_CUR);
		done += (size_t)s;
		if (s < n)
			break;
	}
	return (ssize_t)done;
}

FS_EXPORT ssize_t
sendfile(int out, int in, off_t *off, size_t count)
{
	struct fs_fd *f = fs_lookup(out);

	if (!f) {
		if (fs_fdt_get(in))
			return fs_ret(-EINVAL); /* the kernel refuses a socket as source */
		return FS_REAL(sendfile, out, in, off, count);
	}
	return FS_HELD(f, accel_sendfile(f, in, off, count));
}

FS_EXPORT ssize_t
recvmsg(int fd, struct msghdr *m, int flags)
{
	struct fs_fd *f = fs_lookup(fd);

	if (f)
		return FS_HELD(f, fs_ret(f->ops->recvmsg(f->sock, m, flags)));
	if (fs_likely(!fs_accel_on))
		return FS_REAL(recvmsg, fd, m, flags);
	return recvmsg_checked(fd, m, flags);
}

FS_EXPORT ssize_t
recvfrom(int fd, void *buf, size_t len, int flags, __SOCKADDR_ARG from,
	 socklen_t *fromlen)
{
	struct fs_fd *f = fs_lookup(fd);

	if (fs_unlikely(f != NULL))
		return FS_HELD(f, accel_recv1(f, buf, len, flags, SA(from), fromlen));
	if (fs_likely(!fs_accel_on))
		return FS_REAL(recvfrom, fd, buf, len, flags, SA(from), fromlen);
	return recvfrom_checked(fd, buf, len, flags, SA(from), fromlen);
}

FS_EXPORT ssize_t
recv(int fd, void *buf, size_t len, int flags)
{
	struct fs_fd *f = fs_lookup(fd);

	if (fs_unlikely(f != NULL))
		return FS_HELD(f, accel_recv1(f, buf, len, flags, NULL, NULL));
	if (fs_likely(!fs_accel_on))
		return FS_REAL(recv, fd, buf, len, flags);
	return recvfrom_checked(fd, buf, len, flags, NULL, NULL);
}

FS_EXPORT ssize_t
read(int fd, void *buf, size_t len)
{
	struct fs_fd *f = fs_lookup(fd);

	if (fs_unlikely(f != NULL))
		return FS_HELD(f, accel_recv1(f, buf, len, 0, NULL, NULL));
	if (fs_likely(!fs_accel_on))
		return FS_REAL(read, fd, buf, len);
	return read_checked(fd, buf, len);
}

FS_EXPORT ssize_t
readv(int fd, const struct iovec *iov, int iovcnt)
{
	struct fs_fd *f = fs_lookup(fd);

	if (f)
		return FS_HELD(f, accel_recv(f, iov, iovcnt, 0, NULL, NULL));
	return FS_REAL(readv, fd, iov, iovcnt);
}

static long
ts_ns(const struct timespec *t)
{
	return t->tv_sec * 1000000000L + t->tv_nsec;
}

static int
accel_recvmmsg(struct fs_fd *f, struct mmsghdr *v, unsigned n, int flags, struct timespec *timeout)
{
	struct timespec start, now;
	unsigned i;

	if (timeout && (timeout->tv_sec < 0 || (unsigned long)timeout->tv_nsec >= 1000000000ul))
		return (int)fs_ret(-EINVAL);
	if (timeout)
		clock_gettime(CLOCK_MONOTONIC, &start);
	/* As the kernel: MSG_WAITFORONE makes every call after the first
	 * nonblocking; the timeout is checked after each datagram. */
	for (i = 0; i < n; i++) {
		int fl = flags & ~MSG_WAITFORONE;
		ssize_t r;

		if (i > 0 && (flags & MSG_WAITFORONE))
			fl |= MSG_DONTWAIT;
		r = f->ops->recvmsg(f->sock, &v[i].msg_hdr, fl);
		if (r < 0)
			return i > 0 ? (int)i : (int)fs_ret(r);
		v[i].msg_len = (unsigned)r;
		if (timeout) {
			clock_gettime(CLOCK_MONOTONIC, &now);
			if (ts_ns(&now) - ts_ns(&start) >= ts_ns(timeout))
				return (int)i + 1;
		}
	}
	return (int)n;
}

FS_EXPORT int
recvmmsg(int fd, struct mmsghdr *v, unsigned n, int flags, struct timespec *timeout)
{
	struct fs_fd *f = fs_lookup(fd);

	if (!f)
		return FS_REAL(recvmmsg, fd, v, n, flags, timeout);
	return FS_HELD(f, accel_recvmmsg(f, v, n, flags, timeout));
}

/* The fortified entry points: check as glibc does, then the plain path. */

FS_EXPORT ssize_t
__recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags)
{
	if (fs_fdt_get(fd) == 0) {
		return FS_REAL(__recv_chk, fd, buf, len, buflen, flags);
	}
	if (len > buflen)
		__chk_fail();
	return recv(fd, buf, len, flags);
}

FS_EXPORT ssize_t
__recvfrom_chk(int fd, void *buf, size_t len, size_t buflen, int flags,
	       struct sockaddr *from, socklen_t *fromlen)
{
	if (fs_fdt_get(fd) == 0) {
		return FS_REAL(__recvfrom_chk, fd, buf, len, buflen, flags, from, fromlen);
	}
	if (len > buflen)
		__chk_fail();
	return recvfrom(fd, buf, len, flags, from, fromlen);
}

FS_EXPORT ssize_t
__read_chk(int fd, void *buf, size_t len, size_t buflen)
{
	if (fs_fdt_get(fd) == 0) {
		return FS_REAL(__read_chk, fd, buf, len, buflen);
	}
	if (len > buflen)
		__chk_fail();
	return read(fd, buf, len);
}
