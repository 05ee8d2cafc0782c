#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "fdtable.h"

/* 8 MiB of zero pages that are never touched in passthrough: untouched
 * BSS costs neither memory nor fork time. */
struct fs_fd *fs_fdt[FS_FDT_MAX];

/* Marking and unmarking are slow-path events (socket set-up and close);
 * lookups never take this lock. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned marked, serials;
static struct fs_fd *free_list; /* reaped entries, for the next socket */

static void
set(int fd, struct fs_fd *f)
{
	struct fs_fd *old = fs_fdt[fd];

	__atomic_store_n(&marked, marked + (f != NULL) - (old != NULL), __ATOMIC_RELAXED);
	__atomic_store_n(&fs_fdt[fd], f, __ATOMIC_SEQ_CST); /* against fs_fdt_hold */
}

int
fs_fdt_mark(int fd, const struct fs_sock_ops *ops, void *sock)
{
	struct fs_fd *f;

	if ((unsigned)fd >= FS_FDT_MAX)
		return -EBADF;
	pthread_mutex_lock(&lock);
	if ((f = free_list)) {
		free_list = f->next_free;
	} else if (!(f = calloc(1, sizeof(*f)))) {
		pthread_mutex_unlock(&lock);
		return -ENOMEM;
	}
	/* calls is left as it is: a late fs_fdt_hold of the entry's past
	 * life may hold it for a moment; it fails and lets go. */
	f->ops = ops;
	f->sock = sock;
	f->refs = 1;
	f->serial = ++serials;
	__atomic_store_n(&f->state, (uint64_t)f->serial << 2, __ATOMIC_SEQ_CST);
	set(fd, f);
	pthread_mutex_unlock(&lock);
	return 0;
}

int
fs_fdt_share(int newfd, struct fs_fd *f)
{
	if ((unsigned)newfd >= FS_FDT_MAX)
		return -EBADF;
	pthread_mutex_lock(&lock);
	if (f->state & FS_FD_CLOSED) { /* closed by another thread meanwhile */
		pthread_mutex_unlock(&lock);
		return -EBADF;
	}
	f->refs++;
	set(newfd, f);
	pthread_mutex_unlock(&lock);
	return 0;
}

struct fs_fd *
fs_fdt_unmark(int fd)
{
	struct fs_fd *f;

	if ((unsigned)fd >= FS_FDT_MAX)
		return NULL;
	pthread_mutex_lock(&lock);
	f = fs_fdt[fd];
	if (f) {
		set(fd, NULL);
		if (--f->refs != 0)
			f = NULL;
	}
	pthread_mutex_unlock(&lock);
	return f;
}

void
fs_fdt_reap(struct fs_fd *f, uint64_t s)
{
	/* One of the closer and the last call wins; a stale s (the entry
	 * reused since) loses. */
	if (!__atomic_compare_exchange_n(&f->state, &s, s | FS_FD_REAPED, false, __ATOMIC_SEQ_CST,
					 __ATOMIC_RELAXED))
		return;
	if (f->ops->close)
		f->ops->close(f->sock);
	pthread_mutex_lock(&lock);
	f->next_free = free_list;
	free_list = f;
	pthread_mutex_unlock(&lock);
}

void
fs_fdt_free(struct fs_fd *f)
{
	uint64_t s = ((uint64_t)f->serial << 2) | FS_FD_CLOSED;

	__atomic_store_n(&f->state, s, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&f->calls, __ATOMIC_SEQ_CST) == 0)
		fs_fdt_reap(f, s);
}

void
fs_fdt_forked(void)
{
	unsigned fd, left = marked;

	pthread_mutex_init(&lock, NULL);
	for (fd = 0; fd < FS_FDT_MAX && left; fd++)
		if (fs_fdt[fd]) {
			left--;
			fs_fdt[fd]->calls = 0;
		}
}

unsigned
fs_fdt_count(void)
{
	return __atomic_load_n(&marked, __ATOMIC_RELAXED);
}
