/* Socket set-up calls: socket, bind, connect, listen, accept, names, options.
 * Each does the four steps: ensure init, look the fd up, the accelerated
 * path, otherwise the real libc call. */
#include <netinet/in.h>

#include "claim.h"
#include "init.h"

/* glibc declares the address arguments as transparent unions in GNU mode. */
#define SA(a) ((a).__sockaddr__)

/* A new kernel fd may reuse the number of an accelerated fd that was closed
 * behind our back (close_range, closefrom, a raw syscall): forget it. */
static void
forget_stale(int fd)
{
	struct fs_fd *f;

	if (fd >= 0 && fs_unlikely(fs_fdt_get(fd) != 0) && (f = fs_fdt_unmark(fd)))
		fs_fdt_free(f);
}

FS_EXPORT int
socket(int domain, int type, int protocol)
{
	int fd;

	fd = FS_REAL(socket, domain, type, protocol);
	if (fd >= 0 && !fs_in_stack) {
		forget_stale(fd);
		fs_init_sockets();
		if (fs_accel_on)
			fs_claim_forget(fd);
	}
	return fd;
}

FS_EXPORT int
socketpair(int domain, int type, int protocol, int sv[2])
{
	int r;

	r = FS_REAL(socketpair, domain, type, protocol, sv);
	if (r == 0) {
		forget_stale(sv[0]);
		forget_stale(sv[1]);
	}
	return r;
}

FS_EXPORT int
bind(int fd, __CONST_SOCKADDR_ARG addr, socklen_t len)
{
	struct fs_fd *f = fs_lookup(fd);

	if (!f && fs_unlikely(fs_accel_on)) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)SA(addr);

		if (sin && len >= sizeof(*sin) && sin->sin_family == AF_INET &&
		    sin->sin_addr.s_addr == INADDR_ANY) {
			/* The wildcard: the kernel binds (and keeps serving the
			 * other interfaces), then the stack takes the port too. */
			int r = FS_REAL(bind, fd, SA(addr), len);

			if (r == 0)
				fs_claim_wildcard(fd);
			return r;
		}
		f = fs_claim(fd, SA(addr), len, FS_CLAIM_BIND);
	}
	if (f)
		return FS_HELD(f, (int)fs_ret(f->ops->bind(f->sock, SA(addr), len)));
	return FS_REAL(bind, fd, SA(addr), len);
}

FS_EXPORT int
connect(int fd, __CONST_SOCKADDR_ARG addr, socklen_t len)
{
	struct fs_fd *f = fs_lookup(fd);
	int r;

	if (!f && fs_unlikely(fs_accel_on))
		f = fs_claim(fd, SA(addr), len, FS_CLAIM_CONNECT);
	if (f) {
		r = f->ops->connect(f->sock, SA(addr), len);
		fs_fdt_release(f);
		if (r != -FS_RELEASE_TO_KERNEL)
			return (int)fs_ret(r);
		/* A wildcard socket connecting off our interface: it is the
		 * kernel's from now on. */
		if ((f = fs_fdt_unmark(fd)))
			fs_fdt_free(f);
	}
	r = FS_REAL(connect, fd, SA(addr), len);
	fs_dual_sent(); /* a loopback handshake ends in the call */
	return r;
}

FS_EXPORT int
listen(int fd, int backlog)
{
	struct fs_fd *f = fs_lookup(fd);

	int r;

	if (f)
		return FS_HELD(f, (int)fs_ret(f->ops->listen(f->sock, backlog)));
	r = FS_REAL(listen, fd, backlog);
	if (r == 0 && fs_unlikely(fs_accel_on))
		fs_claim_listen(fd, backlog);
	return r;
}

/* A connection the stack accepted gets the kernel fd the stack made for
 * it, marked as the stack's; one the kernel side of a wildcard listener
 * gave is a plain kernel fd. */
static int
accel_accept(struct fs_fd *f, struct sockaddr *addr, socklen_t *len, int flags)
{
	void *conn = NULL;
	int r = f->ops->accept(f->sock, addr, len, flags, &conn);

	if (r < 0)
		return (int)fs_ret(r);
	forget_stale(r);
	if (conn && fs_fdt_mark(r, f->ops, conn) < 0) {
		f->ops->close(conn);
		FS_REAL(close, r);
		return (int)fs_ret(-EMFILE);
	}
	return r;
}

FS_EXPORT int
accept4(int fd, __SOCKADDR_ARG addr, socklen_t *len, int flags)
{
	struct fs_fd *f = fs_lookup(fd);
	int r;

	if (f)
		return FS_HELD(f, accel_accept(f, SA(addr), len, flags));
	r = FS_REAL(accept4, fd, SA(addr), len, flags);
	forget_stale(r);
	return r;
}

FS_EXPORT int
accept(int fd, __SOCKADDR_ARG addr, socklen_t *len)
{
	struct fs_fd *f = fs_lookup(fd);
	int r;

	if (f)
		return FS_HELD(f, accel_accept(f, SA(addr), len, 0));
	r = FS_REAL(accept, fd, SA(addr), len);
	forget_stale(r);
	return r;
}

FS_EXPORT int
shutdown(int fd, int how)
{
	struct fs_fd *f = fs_lookup(fd);

	if (f)
		return FS_HELD(f, (int)fs_ret(f->ops->shutdown(f->sock, how)));
	return FS_REAL(shutdown, fd, how);
}

FS_EXPORT int
getsockname(int fd, __SOCKADDR_ARG addr, socklen_t *len)
{
	struct fs_fd *f = fs_lookup(fd);

	if (f)
		return FS_HELD(f, (int)fs_ret(f->ops->name(f->sock, SA(addr), len, 0)));
	return FS_REAL(getsockname, fd, SA(addr), len);
}

FS_EXPORT int
getpeername(int fd, __SOCKADDR_ARG addr, socklen_t *len)
{
	struct fs_fd *f = fs_lookup(fd);

	if (f)
		return FS_HELD(f, (int)fs_ret(f->ops->name(f->sock, SA(addr), len, 1)));
	return FS_REAL(getpeername, fd, SA(addr), len);
}

FS_EXPORT int
getsockopt(int fd, int level, int opt, void *val, socklen_t *len)
{
	struct fs_fd *f = fs_lookup(fd);

	if (f)
		return FS_HELD(f, (int)fs_ret(f->ops->getsockopt(f->sock, level, opt, val, len)));
	return FS_REAL(getsockopt, fd, level, opt, val, len);
}

/* Joining a group on the accelerated interface, or choosing it for
 * multicast sends, hands the socket to the stack (the kernel has no such
 * interface and would refuse). ip_mreq and ip_mreqn both start with the
 * group, then the interface address. */
static struct fs_fd *
claim_multicast(int fd, int opt, const void *val, socklen_t len)
{
	struct sockaddr_in g = {.sin_family = AF_INET};
	uint32_t ifa;

	if (!fs_mcast_if_addr(val, len, &ifa) || ifa != fs_ctx.cfg.ip)
		return NULL;
	if (opt == IP_ADD_MEMBERSHIP) {
		if (len < sizeof(struct ip_mreq))
			return NULL;
		g.sin_addr = ((const struct ip_mreq *)val)->imr_multiaddr;
	}
	return fs_claim(fd, (struct sockaddr *)&g, sizeof(g), FS_CLAIM_JOIN);
}

FS_EXPORT int
setsockopt(int fd, int level, int opt, const void *val, socklen_t len)
{
	struct fs_fd *f = fs_lookup(fd);

	if (!f && fs_unlikely(fs_accel_on) && level == IPPROTO_IP &&
	    (opt == IP_ADD_MEMBERSHIP || opt == IP_MULTICAST_IF))
		f = claim_multicast(fd, opt, val, len);
	if (f)
		return FS_HELD(f, (int)fs_ret(f->ops->setsockopt(f->sock, level, opt, val, len)));
	return FS_REAL(setsockopt, fd, level, opt, val, len);
}
