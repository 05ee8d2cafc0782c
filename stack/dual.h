/* The kernel sides of sockets served on both paths (a UDP socket bound to
 * the wildcard address, a wildcard TCP listener), watched so that asking
 * whether one has something to read costs no system call (dual.c). */
#ifndef FS_DUAL_H
#define FS_DUAL_H

#include <stdbool.h>
#include <stdint.h>

struct fs_dual {
	int kfd;
	int slot;	/* in the watch table; -1: not watched, every look asks */
	bool hint;	/* the kernel reported an arrival since the last look */
	uint32_t epoch; /* of the last look */
};

/* Starts watching kfd's kernel socket for d (under the stack lock). When
 * it cannot (no progress thread, a full table, epoll refused), d is left
 * unwatched and every look asks the kernel, as before. */
void fs_dual_watch(struct fs_dual *d, int kfd);

/* Whether d's arrivals are reported (d is watched): fs_dual_readable then
 * answers without a system call until one comes. */
static inline bool
fs_dual_reported(const struct fs_dual *d)
{
	return d->slot >= 0;
}

/* Stops watching (under the stack lock; harmless when not watched). */
void fs_dual_unwatch(struct fs_dual *d);
/* Forgets d without asking the kernel: its fd was another process's, one
 * that ended (the kernel closed the fd; a copy left elsewhere reports as
 * stale). Under the stack lock. */
void fs_dual_forget(struct fs_dual *d);

/* Whether d's kernel socket may have something to read: false without a
 * system call unless the kernel reported an arrival, or something may have
 * arrived that no report covers yet (see fs_dual_touch); then the kernel
 * is asked. Without the lock. */
bool fs_dual_readable(struct fs_dual *d);

/* fs_dual_touch (sock.h): something may have reached a kernel side before
 * the kernel's report (the program's own send or connect over loopback
 * delivers during the call; a wait saw a kernel fd ready): the next look at
 * each asks. */

/* For the progress thread: the epoll fd to sleep on while sockets are
 * watched (-1 when none is), and the collection of its reports once it
 * is readable (takes the stack lock). */
int fs_dual_fd(void);
void fs_dual_collect(void);

#endif
