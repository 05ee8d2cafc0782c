/* The real libc: every function we interpose, resolved once with
 * dlsym(RTLD_NEXT). Nothing else in fastsock calls dlsym. */
#ifndef FS_REAL_H
#define FS_REAL_H

#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>

/* X(return type, name, parameter types) for every interposed function. */
#define FS_REAL_FUNCS(X) \
	X(int, socket, (int, int, int)) \
	X(int, socketpair, (int, int, int, int[2])) \
	X(int, bind, (int, const struct sockaddr *, socklen_t)) \
	X(int, listen, (int, int)) \
	X(int, accept, (int, struct sockaddr *, socklen_t *)) \
	X(int, accept4, (int, struct sockaddr *, socklen_t *, int)) \
	X(int, connect, (int, const struct sockaddr *, socklen_t)) \
	X(int, shutdown, (int, int)) \
	X(int, getsockname, (int, struct sockaddr *, socklen_t *)) \
	X(int, getpeername, (int, struct sockaddr *, socklen_t *)) \
	X(int, getsockopt, (int, int, int, void *, socklen_t *)) \
	X(int, setsockopt, (int, int, int, const void *, socklen_t)) \
	X(ssize_t, send, (int, const void *, size_t, int)) \
	X(ssize_t, sendto, (int, const void *, size_t, int, const struct sockaddr *, socklen_t)) \
	X(ssize_t, sendmsg, (int, const struct msghdr *, int)) \
	X(int, sendmmsg, (int, struct mmsghdr *, unsigned, int)) \
	X(ssize_t, recv, (int, void *, size_t, int)) \
	X(ssize_t, recvfrom, (int, void *, size_t, int, struct sockaddr *, socklen_t *)) \
	X(ssize_t, recvmsg, (int, struct msghdr *, int)) \
	X(int, recvmmsg, (int, struct mmsghdr *, unsigned, int, struct timespec *)) \
	X(ssize_t, read, (int, void *, size_t)) \
	X(ssize_t, readv, (int, const struct iovec *, int)) \
	X(ssize_t, write, (int, const void *, size_t)) \
	X(ssize_t, writev, (int, const struct iovec *, int)) \
	X(int, close, (int)) \
	X(int, fcntl, (int, int, ...)) \
	X(int, fcntl64, (int, int, ...)) \
	X(int, ioctl, (int, unsigned long, ...)) \
	X(int, poll, (struct pollfd *, nfds_t, int)) \
	X(int, ppoll, (struct pollfd *, nfds_t, const struct timespec *, const sigset_t *)) \
	X(int, select, (int, fd_set *, fd_set *, fd_set *, struct timeval *)) \
	X(int, pselect, (int, fd_set *, fd_set *, fd_set *, const struct timespec *, const sigset_t *)) \
	X(int, epoll_create, (int)) \
	X(int, epoll_create1, (int)) \
	X(int, epoll_ctl, (int, int, int, struct epoll_event *)) \
	X(int, epoll_wait, (int, struct epoll_event *, int, int)) \
	X(int, epoll_pwait, (int, struct epoll_event *, int, int, const sigset_t *)) \
	X(int, epoll_pwait2, (int, struct epoll_event *, int, const struct timespec *, const sigset_t *)) \
	X(int, dup, (int)) \
	X(int, dup2, (int, int)) \
	X(int, dup3, (int, int, int)) \
	X(pid_t, fork, (void)) \
	X(void, _exit, (int)) \
	X(void, _Exit, (int)) \
	X(int, execve, (const char *, char *const[], char *const[])) \
	X(int, execv, (const char *, char *const[])) \
	X(int, execvp, (const char *, char *const[])) \
	X(int, execvpe, (const char *, char *const[], char *const[])) \
	X(int, fexecve, (int, char *const[], char *const[])) \
	X(ssize_t, sendfile, (int, int, off_t *, size_t)) \
	X(ssize_t, __recv_chk, (int, void *, size_t, size_t, int)) \
	X(ssize_t, __recvfrom_chk, (int, void *, size_t, size_t, int, struct sockaddr *, socklen_t *)) \
	X(ssize_t, __read_chk, (int, void *, size_t, size_t)) \
	X(int, __poll_chk, (struct pollfd *, nfds_t, int, size_t)) \
	X(int, __ppoll_chk, (struct pollfd *, nfds_t, const struct timespec *, const sigset_t *, size_t)) \
	X(int, sigaction, (int, const struct sigaction *, struct sigaction *))

struct fs_real {
#define FS_REAL_MEMBER(ret, name, args) ret(*name) args;
	FS_REAL_FUNCS(FS_REAL_MEMBER)
#undef FS_REAL_MEMBER
};

/* Filled by fs_real_init(); read-only afterwards. */
extern struct fs_real fs_real;

/* Resolves every entry. Idempotent and safe to call from several threads
 * (each stores the same values). A name that resolves into libfastsock
 * itself aborts with a message: calling it would recurse forever. A name
 * libc lacks is left NULL and its wrapper fails with ENOSYS. */
void fs_real_init(void);

/* Resolves one name with dlsym(RTLD_NEXT); aborts, naming it, if the result
 * lies inside the object that contains self. Exposed for the unit test. */
void *fs_real_lookup(const char *name, const void *self);

#endif
