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

static void
set(int fd, struct fs_fd *f)
{
	struct fs_fd *old = fs_fdt[fd];

	__atomic_store_n(&marked, marked + (f != NULL) - (old != NULL), __ATOMIC_RELAXED);
	__atomic_store_n(&fs_fdt[fd], f, __ATOMIC_RELEASE);
}

int
fs_fdt_mark(int fd, const struct fs_sock_ops *ops, void *sock)
{
	struct fs_fd *f;

	if ((unsigned)fd >= FS_FDT_MAX)
		return -EBADF;
	f = malloc(sizeof(*f));
	if (!f)
		return -ENOMEM;
	*f = (struct fs_fd){ops, sock, 1, 0};
	pthread_mutex_lock(&lock);
	f->serial = ++serials;
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
fs_fdt_free(struct fs_fd *f)
{
	if (f->ops->close)
		f->ops->close(f->sock);
	free(f);
}

unsigned
fs_fdt_count(void)
{
	return __atomic_load_n(&marked, __ATOMIC_RELAXED);
}
