/* The one header between preload/ and stack/: a socket-like API over stack
 * objects. preload/ holds, per accelerated fd, an ops table and the object
 * it acts on; every function returns a count, 0, or -errno. */
#ifndef FS_SOCK_H
#define FS_SOCK_H

#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

struct fs_config;

struct fs_sock_ops {
	int (*bind)(void *s, const struct sockaddr *a, socklen_t n);
	int (*connect)(void *s, const struct sockaddr *a, socklen_t n);
	int (*listen)(void *s, int backlog);
	/* Takes a connection: returns its new kernel fd and sets *conn to the
	 * stack socket serving it (the caller marks the fd), or *conn = NULL
	 * when the kernel side of a wildcard listener gave it. */
	int (*accept)(void *s, struct sockaddr *a, socklen_t *n, int flags, void **conn);
	int (*shutdown)(void *s, int how);
	/* Local (peer == 0) or remote address, truncated as the kernel does. */
	int (*name)(void *s, struct sockaddr *a, socklen_t *n, int peer);
	int (*getsockopt)(void *s, int level, int opt, void *v, socklen_t *n);
	int (*setsockopt)(void *s, int level, int opt, const void *v, socklen_t n);
	ssize_t (*sendmsg)(void *s, const struct msghdr *m, int flags);
	ssize_t (*recvmsg)(void *s, struct msghdr *m, int flags);
	/* FIONREAD, FIONBIO (also reached from fcntl F_SETFL O_NONBLOCK)... */
	int (*ioctl)(void *s, unsigned long req, void *arg);
	/* Readiness now: POLLIN, POLLOUT, POLLERR, POLLHUP bits. When gen is
	 * not NULL it receives a counter that moves on every arrival or error
	 * (edge-triggered epoll reports each one, as the kernel does). */
	unsigned (*poll)(void *s, uint32_t *gen);
	/* The last fd naming the socket was closed. */
	void (*close)(void *s);
	/* The kernel fd to watch beside the stack for a socket served on both
	 * paths (a wildcard bind), or -1. *reported (when not NULL) tells
	 * whether the progress thread reports its arrivals (stack/dual.c), so
	 * that poll above sees them without asking the kernel. */
	int (*kernel_fd)(void *s, bool *reported);
};

/* Returned by connect when the socket belongs to the kernel from now on
 * (a wildcard socket connecting off the fastsock interface): the caller
 * forgets the fd and lets the kernel connect it. */
#define FS_RELEASE_TO_KERNEL 1000

/* A UDP socket bound on the kernel to the wildcard address and port: the
 * stack binds the same port and serves what comes on its interface; the
 * kernel socket keeps serving the rest. NULL when out of memory or the
 * stack cannot bind that port. */
void *fs_udp_open_wildcard(int kfd, bool nonblock, uint16_t port);

/* The interface address of an IP_MULTICAST_IF value, which the kernel
 * takes as a struct in_addr, ip_mreq or ip_mreqn by its length. Returns
 * false when the value is too short. */
static inline bool
fs_mcast_if_addr(const void *v, socklen_t n, uint32_t *addr)
{
	const uint32_t *w = v;

	if (!v || n < 4)
		return false;
	*addr = n >= 8 ? w[1] : w[0];
	return true;
}

/* Starts the stack (DPDK, lwIP, progress thread) once per process. Returns
 * 0, or -errno after logging why; every later call returns the same. */
int fs_stk_ensure(const struct fs_config *c);

/* A new UDP socket on the stack for kernel fd kfd (which keeps its socket
 * options). Returns NULL when out of memory. */
void *fs_udp_open(int kfd, bool nonblock);
extern const struct fs_sock_ops fs_udp_ops;

/* A new TCP socket on the stack for kernel fd kfd. NULL when out of memory. */
void *fs_tcp_open(int kfd, bool nonblock);
extern const struct fs_sock_ops fs_tcp_ops;

/* A TCP listener on the kernel at the wildcard address and port: the stack
 * listens on the same port and accept() returns connections from both.
 * NULL when out of memory or the stack cannot take that port. */
void *fs_tcp_listen_wildcard(int kfd, bool nonblock, uint16_t port, int backlog);

/* The sockets whose readiness may have risen since position *pos of the
 * stack's news log (an arrival, an ACK, an error, a state change; each
 * moves the socket's poll gen too): calls seen(ctx, sock) for each and
 * moves *pos on. False when the log no longer holds some of them (it
 * keeps the last 1024), lwIP restarted, or there is no stack: the caller
 * must look at all its sockets. Without the lock. */
bool fs_stk_news_since(uint64_t *pos, void (*seen)(void *ctx, const void *sock), void *ctx);

/* Waits until ready(arg) is true, a kernel fd in kfds (nk of them) is
 * ready, or timeout_ns passes (negative: forever): spins FASTSOCK_SPIN_US
 * polling the device, then sleeps in the kernel with sigmask (or NULL).
 * While it spins only the first nk_spin kernel fds are asked (a system
 * call every few microseconds); the others are ones ready() sees without
 * asking (kernel sides the progress thread reports). Returns 1 (ready), 2
 * (a kernel fd), 0 (timeout) or -EINTR. */
int fs_stk_wait(bool (*ready)(void *), void *arg, int64_t timeout_ns,
		struct pollfd *kfds, int nk, int nk_spin, const sigset_t *sigmask);

/* Signal handlers the interposer's trampoline ran on this thread, and
 * whether the last one asked for SA_RESTART. fs_stk_wait returns -EINTR
 * when the count moves. */
extern __thread unsigned fs_sig_seen __attribute__((tls_model("initial-exec")));
extern __thread bool fs_sig_restart __attribute__((tls_model("initial-exec")));

/* The program sent or connected through a kernel socket: over loopback
 * that delivers during the call, possibly to the kernel side of one of our
 * sockets served on both paths, before the kernel's report of it reaches
 * the stack (stack/dual.c). Call after the real call returns. */
extern unsigned fs_dual_n;
void fs_dual_touch(void);

static inline void
fs_dual_sent(void)
{
	if (__builtin_expect(__atomic_load_n(&fs_dual_n, __ATOMIC_RELAXED) != 0, 0))
		fs_dual_touch();
}

/* One round of progress if nobody else is making it. */
void fs_stk_kick(void);

/* Whether this process uses a stack (a forked child that joined its
 * parent's family does). */
bool fs_stk_running(void);

/* fork() failed after the engine had made room for the child. */
void fs_stk_fork_failed(void);

/* The processes sharing this process's stack (0: none started). */
unsigned fs_stk_family_size(void);
/* This process leaves its family for good (it execs; its sockets were
 * dropped): the stack is forgotten here. */
void fs_stk_leave(void);
/* The process ends (exit, _exit): its progress thread stops first, within
 * 50 ms, so that the process does not die holding the family's lock. */
void fs_stk_quiesce(void);

/* Called in a forked child that cannot join the family (engine.c): the
 * preload detaches the inherited sockets. Set by the preload. */
extern void (*fs_family_detach)(void);

/* In a forked child: the parent's stack is not ours to touch. Afterwards
 * fs_stk_wait only waits on the kernel fds and fs_stk_kick does nothing. */
void fs_stk_forget(void);

#endif
