/* The poll-like family: poll, ppoll, select, pselect and epoll. No fd is
 * accelerated until the stack claims sockets, so today each call goes to
 * its own real function; answering accelerated fds from the stack's state
 * (and mixed sets) comes with the stack. */
#include "init.h"

FS_EXPORT int
poll(struct pollfd *fds, nfds_t n, int timeout)
{
	return FS_REAL(poll, fds, n, timeout);
}

FS_EXPORT int
ppoll(struct pollfd *fds, nfds_t n, const struct timespec *ts, const sigset_t *mask)
{
	return FS_REAL(ppoll, fds, n, ts, mask);
}

FS_EXPORT int
__poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen)
{
	return FS_REAL(__poll_chk, fds, n, timeout, fdslen);
}

FS_EXPORT int
__ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *ts,
	    const sigset_t *mask, size_t fdslen)
{
	return FS_REAL(__ppoll_chk, fds, n, ts, mask, fdslen);
}

FS_EXPORT int
select(int n, fd_set *r, fd_set *w, fd_set *e, struct timeval *tv)
{
	return FS_REAL(select, n, r, w, e, tv);
}

FS_EXPORT int
pselect(int n, fd_set *r, fd_set *w, fd_set *e, const struct timespec *ts,
	const sigset_t *mask)
{
	return FS_REAL(pselect, n, r, w, e, ts, mask);
}

FS_EXPORT int
epoll_create(int size)
{
	return FS_REAL(epoll_create, size);
}

FS_EXPORT int
epoll_create1(int flags)
{
	return FS_REAL(epoll_create1, flags);
}

FS_EXPORT int
epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	return FS_REAL(epoll_ctl, epfd, op, fd, ev);
}

FS_EXPORT int
epoll_wait(int epfd, struct epoll_event *evs, int max, int timeout)
{
	return FS_REAL(epoll_wait, epfd, evs, max, timeout);
}

FS_EXPORT int
epoll_pwait(int epfd, struct epoll_event *evs, int max, int timeout,
	    const sigset_t *mask)
{
	return FS_REAL(epoll_pwait, epfd, evs, max, timeout, mask);
}

FS_EXPORT int
epoll_pwait2(int epfd, struct epoll_event *evs, int max, const struct timespec *ts,
	     const sigset_t *mask)
{
	return FS_REAL(epoll_pwait2, epfd, evs, max, ts, mask);
}
