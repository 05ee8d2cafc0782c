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
	int ready;	/* fs_real filled; written once, then read-only */
	struct fs_config cfg;
};

extern struct fs_ctx fs_ctx;

/* Non-zero while this thread runs fastsock's own code (configuration, and
 * later DPDK and the stack): calls it makes go straight to libc. */
extern __thread int fs_in_stack __attribute__((tls_model("initial-exec")));

/* Fills fs_real for a call that arrived before our constructor ran (from
 * another library's constructor, say). */
void fs_init_early(void);

/* Reads the configuration on the first socket call of the process (so that
 * programs without sockets, which inherit LD_PRELOAD through exec, never
 * print anything). Returns true when acceleration may be attempted. */
bool fs_init_sockets(void);

/* Step one and two of every interposed function: ensure init, look fd up.
 * NULL means the kernel serves fd. */
static inline struct fs_fd *
fs_lookup(int fd)
{
	if (fs_unlikely(!fs_ctx.ready))
		fs_init_early();
	return fs_fdt_get(fd);
}

static inline void
fs_ensure(void)
{
	if (fs_unlikely(!fs_ctx.ready))
		fs_init_early();
}

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

/* Calls the real function, or fails with ENOSYS when libc lacks it. */
#define FS_REAL(name, ...) \
	(fs_likely(fs_real.name != 0) ? fs_real.name(__VA_ARGS__) \
				      : (errno = ENOSYS, -1))

#endif
