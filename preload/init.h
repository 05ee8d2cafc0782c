/* Process and thread context of the interposer, its start-up, and the
 * helpers every interposed function shares. */
#ifndef FS_INIT_H
#define FS_INIT_H

#include <errno.h>
#include <stdbool.h>

#include "../stack/config.h"
#include "fdtable.h"
#include "real.h"

#define FS_EXPORT __attribute__((visibility("default")))
#define fs_likely(x) __builtin_expect(!!(x), 1)
#define fs_unlikely(x) __builtin_expect(!!(x), 0)

struct fs_ctx {
	struct fs_config cfg;
};

extern struct fs_ctx fs_ctx;

/* Non-zero while this thread runs fastsock's own code (configuration, and
 * later DPDK and the stack): calls it makes go straight to libc. */
extern __thread int fs_in_stack __attribute__((tls_model("initial-exec")));

/* Fills fs_real. The constructor calls it; so does a call that arrives
 * before the constructor ran (from another library's constructor, say),
 * when it finds its real function still NULL. */
void fs_init_early(void) __attribute__((cold));

/* Reads the configuration on the first socket call of the process (so that
 * programs without sockets, which inherit LD_PRELOAD through exec, never
 * print anything). Returns true when acceleration may be attempted. */
bool fs_init_sockets(void);

/* Look the fd up: NULL means the kernel serves it, else the call holds
 * the socket (fs_fdt_hold) until it returns through FS_HELD, or calls
 * fs_fdt_release. Valid before initialisation too (the table starts
 * empty). */
#define fs_lookup fs_fdt_hold

/* The value of expr, after letting f go: return FS_HELD(f, ...). */
#define FS_HELD(f, expr)                       \
	({                                     \
		__typeof__(expr) held_ = (expr); \
		fs_fdt_release(f);             \
		held_;                         \
	})

/* Forgets the accelerated members of epoll fd epfd (closed or new). */
void fs_epoll_forget(int epfd);

/* fd was closed: forget which kernel epoll sets it had joined. */
void fs_epoll_fd_closed(int fd);

/* fd was just handed to the stack (entry f): the kernel epoll sets it had
 * joined hand it over to fastsock's, with the same events and data. */
void fs_epoll_claimed(int fd, struct fs_fd *f);

/* The interposer boundary: a count, 0, or -errno becomes the libc form. */
static inline long
fs_ret(long r)
{
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

/* Calls the real function. Its pointer doubles as the "initialised" flag,
 * so the passthrough path tests one value: NULL means not resolved yet
 * (resolve, then call) or missing from libc (ENOSYS). */
#define FS_REAL(name, ...) \
	(fs_likely(fs_real.name != 0) \
		 ? fs_real.name(__VA_ARGS__) \
		 : (fs_init_early(), \
		    fs_real.name ? fs_real.name(__VA_ARGS__) : (errno = ENOSYS, -1)))

#endif
