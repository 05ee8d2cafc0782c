/* The one header between preload/ and stack/: a socket-like API over stack
 * objects. preload/ holds, per accelerated fd, an ops table and the object
 * it acts on; every function returns a count, 0, or -errno. */
#ifndef FS_SOCK_H
#define FS_SOCK_H

#include <sys/socket.h>
#include <sys/types.h>

struct fs_sock_ops {
	int (*bind)(void *s, const struct sockaddr *a, socklen_t n);
	int (*connect)(void *s, const struct sockaddr *a, socklen_t n);
	int (*listen)(void *s, int backlog);
	/* Returns the new connection's fd, already marked accelerated. */
	int (*accept)(void *s, struct sockaddr *a, socklen_t *n, int flags);
	int (*shutdown)(void *s, int how);
	/* Local (peer == 0) or remote address, truncated as the kernel does. */
	int (*name)(void *s, struct sockaddr *a, socklen_t *n, int peer);
	int (*getsockopt)(void *s, int level, int opt, void *v, socklen_t *n);
	int (*setsockopt)(void *s, int level, int opt, const void *v, socklen_t n);
	ssize_t (*sendmsg)(void *s, const struct msghdr *m, int flags);
	ssize_t (*recvmsg)(void *s, struct msghdr *m, int flags);
	/* FIONREAD, FIONBIO (also reached from fcntl F_SETFL O_NONBLOCK)... */
	int (*ioctl)(void *s, unsigned long req, void *arg);
	/* The last fd naming the socket was closed. */
	void (*close)(void *s);
};

#endif
