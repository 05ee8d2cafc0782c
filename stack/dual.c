/* The kernel sides of sockets served on both paths. Whether such a socket
 * is readable is the stack's answer or the kernel's, and readiness is
 * asked on every poll, epoll_wait and spin of a wait: a poll() system call
 * each time made a server with a wildcard listener in its epoll set spend
 * four system calls per request. Instead each kernel side sits,
 * edge-triggered, in an epoll set of ours; the progress thread sleeps on
 * that set beside its other fds and marks the socket when the kernel
 * reports an arrival. A look asks the kernel only when marked, or when the
 * epoch moved: something may have arrived before any report could (the
 * program's own send or connect over loopback delivers during the call),
 * or a wait saw a kernel fd ready. No lwIP or DPDK. */
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "dual.h"
#include "sockutil.h"
#include "stack.h"

#define DUAL_MAX 1024
#define COLLECT_MAX 64

/* Moved by fs_dual_touch; the count of watched sockets. Read without the
 * lock (the preload's send path tests fs_dual_n through sock.h). */
static uint32_t epoch;
unsigned fs_dual_n;

/* Under the stack lock. A report names its slot and the slot's
 * generation, so one that comes for a socket gone (the kernel keeps a
 * registration while any copy of the fd lives) is ignored. */
static struct {
	int epfd;
	struct fs_dual *tab[DUAL_MAX];
	uint32_t gen[DUAL_MAX];
} dual = {.epfd = -1};

void
fs_dual_watch(struct fs_dual *d, int kfd)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLET};
	int i;

	d->kfd = kfd;
	d->slot = -1;
	d->hint = true; /* the first look asks */
	d->epoch = __atomic_load_n(&epoch, __ATOMIC_ACQUIRE);
	if (!fs_stk_has_progress())
		return; /* nobody would collect the reports */
	if (dual.epfd < 0 && (dual.epfd = (int)syscall(SYS_epoll_create1, EPOLL_CLOEXEC)) < 0)
		return;
	for (i = 0; i < DUAL_MAX && dual.tab[i]; i++)
		;
	if (i == DUAL_MAX)
		return;
	ev.data.u64 = (uint64_t)dual.gen[i] << 32 | (unsigned)i;
	if (syscall(SYS_epoll_ctl, dual.epfd, EPOLL_CTL_ADD, kfd, &ev) < 0)
		return;
	dual.tab[i] = d;
	d->slot = i;
	__atomic_add_fetch(&fs_dual_n, 1, __ATOMIC_RELEASE);
}

void
fs_dual_unwatch(struct fs_dual *d)
{
	if (d->slot < 0)
		return;
	/* Fails when the program closed this fd number and kept a copy: the
	 * slot's new generation makes the registration's reports stale. */
	syscall(SYS_epoll_ctl, dual.epfd, EPOLL_CTL_DEL, d->kfd, NULL);
	fs_dual_forget(d);
}

void
fs_dual_forget(struct fs_dual *d)
{
	if (d->slot < 0)
		return;
	dual.tab[d->slot] = NULL;
	dual.gen[d->slot]++;
	d->slot = -1;
	__atomic_sub_fetch(&fs_dual_n, 1, __ATOMIC_RELEASE);
}

bool
fs_dual_readable(struct fs_dual *d)
{
	uint32_t e = __atomic_load_n(&epoch, __ATOMIC_ACQUIRE);

	if (d->slot >= 0 && e == d->epoch && !__atomic_load_n(&d->hint, __ATOMIC_ACQUIRE))
		return false;
	/* Clear before asking: a report that comes after the answer marks
	 * it again, so none is lost between the two. */
	d->epoch = e;
	__atomic_store_n(&d->hint, false, __ATOMIC_RELEASE);
	if (!fs_kernel_readable(d->kfd))
		return false;
	__atomic_store_n(&d->hint, true, __ATOMIC_RELEASE);
	return true;
}

void
fs_dual_touch(void)
{
	__atomic_add_fetch(&epoch, 1, __ATOMIC_RELEASE);
}

int
fs_dual_fd(void)
{
	return __atomic_load_n(&fs_dual_n, __ATOMIC_ACQUIRE) ? dual.epfd : -1;
}

void
fs_dual_collect(void)
{
	struct epoll_event ev[COLLECT_MAX];
	int n, i;

	/* Waits for the lock (the rule elsewhere is never to): a report is
	 * rare, one per arrival on the kernel's side, and must not be lost. */
	fs_stk_lock();
	do {
		n = (int)syscall(SYS_epoll_wait, dual.epfd, ev, COLLECT_MAX, 0);
		for (i = 0; i < n; i++) {
			unsigned slot = (unsigned)ev[i].data.u64;
			uint32_t gen = (uint32_t)(ev[i].data.u64 >> 32);

			if (slot < DUAL_MAX && dual.tab[slot] && dual.gen[slot] == gen)
				__atomic_store_n(&dual.tab[slot]->hint, true, __ATOMIC_RELEASE);
		}
	} while (n == COLLECT_MAX);
	fs_stk_unlock();
}
