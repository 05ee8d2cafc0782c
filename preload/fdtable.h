/* The fd table: a flat array indexed by fd. An entry is NULL for every fd
 * the kernel serves (all of them, until the stack claims a socket), so the
 * passthrough decision is one array load and a branch. */
#ifndef FS_FDTABLE_H
#define FS_FDTABLE_H

#include <stdint.h>

#include "../stack/sock.h"

/* Fds at or above this stay on the kernel. Linux's default nr_open. */
#define FS_FDT_MAX (1u << 20)

/* One accelerated socket; every fd that dup() made of it shares it.
 * Entries are never given back to malloc: a freed one is kept for the
 * next socket, so a thread that loaded a pointer just before another
 * closed the fd touches an entry, never freed memory. */
struct fs_fd {
	const struct fs_sock_ops *ops;
	void *sock;
	unsigned refs; /* fds naming this socket; under the table lock */
	unsigned serial; /* this entry's, of all ever made: an entry freed and
			  * made again at the same address is another one */
	unsigned calls; /* calls using the socket now (fs_fdt_hold) */
	/* The entry's life: its serial << 2 | FS_FD_CLOSED | FS_FD_REAPED.
	 * Closed: no fd names it; reaped: its socket is closed. */
	uint64_t state;
	struct fs_fd *next_free;
};
#define FS_FD_CLOSED 1u
#define FS_FD_REAPED 2u

extern struct fs_fd *fs_fdt[FS_FDT_MAX];

static inline struct fs_fd *
fs_fdt_get(int fd)
{
	if ((unsigned)fd >= FS_FDT_MAX)
		return 0;
	return __atomic_load_n(&fs_fdt[fd], __ATOMIC_ACQUIRE);
}

/* Closes the socket of an entry whose fds are gone and whose last call
 * ended, once (state: what the caller saw). */
void fs_fdt_reap(struct fs_fd *f, uint64_t state);

/* Ends a call's hold; the last one of a closed socket closes it. */
static inline void
fs_fdt_release(struct fs_fd *f)
{
	uint64_t s;

	if (__atomic_sub_fetch(&f->calls, 1, __ATOMIC_SEQ_CST) != 0)
		return;
	s = __atomic_load_n(&f->state, __ATOMIC_SEQ_CST);
	if (__builtin_expect((s & (FS_FD_CLOSED | FS_FD_REAPED)) == FS_FD_CLOSED, 0))
		fs_fdt_reap(f, s);
}

/* A call's hold on fd's socket, as the kernel's file reference: a close()
 * on another thread meanwhile removes the fd at once, but the socket is
 * closed (and its memory reused) only when the last call holding it
 * returns. NULL: fd is not accelerated (or was closed meanwhile). */
static inline struct fs_fd *
fs_fdt_hold(int fd)
{
	struct fs_fd *f = fs_fdt_get(fd);

	if (__builtin_expect(f == 0, 1))
		return 0;
	/* Both sides are sequentially consistent: either the closer sees
	 * our count, or we see its removal from the table. */
	__atomic_add_fetch(&f->calls, 1, __ATOMIC_SEQ_CST);
	if (__builtin_expect(__atomic_load_n(&fs_fdt[fd], __ATOMIC_SEQ_CST) == f, 1))
		return f;
	fs_fdt_release(f);
	return 0;
}

/* Marks fd accelerated with a new entry for sock. Returns 0, -EBADF for an
 * fd out of range, -ENOMEM. */
int fs_fdt_mark(int fd, const struct fs_sock_ops *ops, void *sock);

/* Makes newfd name the same socket as f (dup). Returns 0 or -EBADF. */
int fs_fdt_share(int newfd, struct fs_fd *f);

/* Forgets fd. When it was the socket's last fd, returns the entry for the
 * caller to close and free with fs_fdt_free(); otherwise NULL. */
struct fs_fd *fs_fdt_unmark(int fd);

/* Closes the socket of an entry fs_fdt_unmark() returned and frees it:
 * at once, or when the last call holding it returns. */
void fs_fdt_free(struct fs_fd *f);

/* In a forked child: the calls other threads of the parent were making
 * hold nothing here (those threads are not in the child), and the table's
 * lock may have been taken by one of them. */
void fs_fdt_forked(void);

/* Number of marked fds; 0 lets poll-like calls skip scanning their sets. */
unsigned fs_fdt_count(void);

#endif
