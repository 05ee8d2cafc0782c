/* The fd table: a flat array indexed by fd. An entry is NULL for every fd
 * the kernel serves (all of them, until the stack claims a socket), so the
 * passthrough decision is one array load and a branch. */
#ifndef FS_FDTABLE_H
#define FS_FDTABLE_H

#include <stdint.h>

#include "../stack/sock.h"

/* Fds at or above this stay on the kernel. Linux's default nr_open. */
#define FS_FDT_MAX (1u << 20)

/* One accelerated socket; every fd that dup() made of it shares it. */
struct fs_fd {
	const struct fs_sock_ops *ops;
	void *sock;
	unsigned refs; /* fds naming this socket; under the table lock */
	unsigned serial; /* this entry's, of all ever made: an entry freed and
			  * made again at the same address is another one */
};

extern struct fs_fd *fs_fdt[FS_FDT_MAX];

static inline struct fs_fd *
fs_fdt_get(int fd)
{
	if ((unsigned)fd >= FS_FDT_MAX)
		return 0;
	return __atomic_load_n(&fs_fdt[fd], __ATOMIC_ACQUIRE);
}

/* Marks fd accelerated with a new entry for sock. Returns 0, -EBADF for an
 * fd out of range, -ENOMEM. */
int fs_fdt_mark(int fd, const struct fs_sock_ops *ops, void *sock);

/* Makes newfd name the same socket as f (dup). Returns 0 or -EBADF. */
int fs_fdt_share(int newfd, struct fs_fd *f);

/* Forgets fd. When it was the socket's last fd, returns the entry for the
 * caller to close and free with fs_fdt_free(); otherwise NULL. */
struct fs_fd *fs_fdt_unmark(int fd);

/* Closes the socket of an entry fs_fdt_unmark() returned and frees it. */
void fs_fdt_free(struct fs_fd *f);

/* Number of marked fds; 0 lets poll-like calls skip scanning their sets. */
unsigned fs_fdt_count(void);

#endif
