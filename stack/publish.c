/* Publishing the stack's counters, sockets and ARP table for fastsock-stat
 * (see publish.h). Called by the progress thread under the stack lock. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "publish.h"
#include "shared.h"
#include "stack.h"

/* Per process: each member of a family publishes under its own pid (a
 * forked child closes the copy of its parent's it inherited and opens
 * its own: fs_pub_open again). */
static struct fs_pub *pub FS_PRIVATE;
static uint64_t next_ns FS_PRIVATE;
static int pub_fd FS_PRIVATE = -1;

void
fs_pub_open(void)
{
	int fd;

	if (pub) {
		munmap(pub, sizeof(*pub));
		pub = NULL;
	}
	if (pub_fd >= 0)
		close(pub_fd);
	pub_fd = -1;
	next_ns = 0;
	fd = memfd_create(FS_PUB_NAME, MFD_CLOEXEC);

	if (fd < 0) {
		FS_WARN("cannot publish statistics: memfd_create: %s", strerror(errno));
		return;
	}
	if (ftruncate(fd, sizeof(*pub)) == 0)
		pub = mmap(NULL, sizeof(*pub), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (pub == MAP_FAILED || !pub) {
		pub = NULL;
		close(fd);
		FS_WARN("cannot map the statistics memfd: not published");
		return;
	}
	/* The fd stays open: fastsock-stat finds the snapshot through it. */
	pub_fd = fd;
	pub->magic = FS_PUB_MAGIC;
	pub->version = FS_PUB_VERSION;
	pub->pid = getpid();
}

void
fs_pub_drops(uint64_t *v, struct fs_dev_bufs *b)
{
	struct fs_dev *d = fs_stk->dev;

	d->ops->buffers(d, b);
#define FROM_STK(field) fs_stk->drops.field
#define FROM_DEV(field) d->field
#define FROM_BUFS(field) b->field
#define READ(id, name, src, field) v[FS_DROP_##id] = FROM_##src(field);
	FS_DROPS(READ)
#undef READ
#undef FROM_BUFS
#undef FROM_DEV
#undef FROM_STK
}

void
fs_pub_update(bool force)
{
	struct fs_dev *d = fs_stk->dev;
	struct fs_dev_bufs b;
	struct timespec t;
	uint64_t now = fs_now_ns();

	if (!pub || (!force && now < next_ns))
		return;
	next_ns = now + FS_PUB_PERIOD_MS * 1000000ull;
	__atomic_add_fetch(&pub->seq, 1, __ATOMIC_ACQ_REL); /* odd: writing */
	clock_gettime(CLOCK_REALTIME, &t);
	pub->updated_ns = (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
	snprintf(pub->dev, sizeof(pub->dev), "%s", fs_stk->cfg.dev);
	pub->ip = fs_stk->cfg.ip;
	pub->prefix = fs_stk->cfg.prefix;
	memcpy(pub->mac, d->mac, 6);
	pub->link_up = d->ops->link_up(d);
	pub->rx_pkts = d->rx_pkts;
	pub->rx_bytes = d->rx_bytes;
	pub->tx_pkts = d->tx_pkts;
	pub->tx_bytes = d->tx_bytes;
	fs_pub_drops(pub->drops, &b);
	pub->bufs_free = b.free;
	pub->bufs_total = b.total;
	pub->tcp_direct_in = fs_tcp_direct_in;
	pub->tcp_fast_in = fs_tcp_fast_in;
	pub->tcp_direct_out = fs_tcp_direct_out;
	pub->tx_refused = fs_stk->tx_refused;
	pub->heap_used = fs_heap_used;
	pub->nsocks = fs_udp_publish(pub->socks, FS_PUB_SOCKS);
	pub->nsocks += fs_tcp_publish(pub->socks + pub->nsocks, FS_PUB_SOCKS - pub->nsocks);
	pub->narp = fs_nif_publish_arp(pub->arp, FS_PUB_ARP);
	__atomic_add_fetch(&pub->seq, 1, __ATOMIC_ACQ_REL); /* even: done */
}
