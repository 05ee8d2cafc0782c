/* The in-memory device (see memdev.h). Single-threaded by design: the stack
 * lock serialises the stack's side, and tests inject and take under it. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dev.h"
#include "memdev.h"
#include "shared.h"
#include "stack.h"

#define SLOTS 256
#define BUFSZ (FS_MTU_MAX + 18) /* Ethernet and a VLAN tag */

struct frame {
	uint16_t len;
	_Alignas(8) uint8_t scratch[FS_RX_SCRATCH];
	uint8_t data[BUFSZ];
};

struct ring {
	struct frame *f[SLOTS];
	unsigned head, tail;
};

static struct fs_dev dev;
static struct ring rxq, txq;
static unsigned held, fail_tx;
/* Process-shared (fs_dev_open): a forked test child injects and takes too. */
static pthread_mutex_t lock;

/* Frames from the family's memory, so that a forked child sees them. */
static struct frame *
frame_new(void)
{
	return fs_obj_calloc(sizeof(struct frame));
}

static int
push(struct ring *r, const void *data, uint16_t len)
{
	struct frame *f;

	if (r->tail - r->head == SLOTS || len > BUFSZ || !(f = frame_new()))
		return -1;
	f->len = len;
	memcpy(f->data, data, len);
	r->f[r->tail++ % SLOTS] = f;
	return 0;
}

int
fs_memdev_inject(const void *frame, uint16_t len)
{
	int r;

	pthread_mutex_lock(&lock);
	r = push(&rxq, frame, len);
	pthread_mutex_unlock(&lock);
	return r;
}

int
fs_memdev_take(void *buf, uint16_t cap)
{
	struct frame *f = NULL;
	int len = -1;

	pthread_mutex_lock(&lock);
	if (txq.head != txq.tail)
		f = txq.f[txq.head++ % SLOTS];
	pthread_mutex_unlock(&lock);
	if (f) {
		len = f->len < cap ? f->len : cap;
		memcpy(buf, f->data, (size_t)len);
		fs_obj_free(f);
	}
	return len;
}

unsigned
fs_memdev_rx_pending(void)
{
	unsigned n;

	pthread_mutex_lock(&lock);
	n = rxq.tail - rxq.head;
	pthread_mutex_unlock(&lock);
	return n;
}

void
fs_memdev_fail_tx(unsigned n)
{
	__atomic_store_n(&fail_tx, n, __ATOMIC_RELAXED);
}

unsigned
fs_memdev_held(void)
{
	return __atomic_load_n(&held, __ATOMIC_RELAXED);
}

static uint16_t
mem_rx(struct fs_dev *d, struct fs_rxframe *out, uint16_t n)
{
	uint16_t i = 0;

	(void)d;
	pthread_mutex_lock(&lock);
	while (i < n && rxq.head != rxq.tail) {
		struct frame *f = rxq.f[rxq.head++ % SLOTS];

		out[i++] = (struct fs_rxframe){f->data, f->len, f, f->scratch};
		__atomic_add_fetch(&held, 1, __ATOMIC_RELAXED);
	}
	pthread_mutex_unlock(&lock);
	return i;
}

static void
mem_rx_free(struct fs_dev *d, void *handle)
{
	(void)d;
	__atomic_sub_fetch(&held, 1, __ATOMIC_RELAXED);
	fs_obj_free(handle);
}

static void *
mem_tx_alloc(struct fs_dev *d, uint16_t len, void **handle)
{
	struct frame *f;

	if (__atomic_load_n(&fail_tx, __ATOMIC_RELAXED)) {
		__atomic_sub_fetch(&fail_tx, 1, __ATOMIC_RELAXED);
		d->tx_nobuf++;
		return NULL;
	}
	if (len > BUFSZ || !(f = frame_new())) {
		d->tx_nobuf++;
		return NULL;
	}
	f->len = len;
	*handle = f;
	return f->data;
}

static void
mem_tx_queue(struct fs_dev *d, void *handle)
{
	struct frame *f = handle;

	pthread_mutex_lock(&lock);
	if (txq.tail - txq.head == SLOTS) {
		d->tx_full++;
		fs_obj_free(f);
	} else {
		txq.f[txq.tail++ % SLOTS] = f;
		d->tx_pkts++;
		d->tx_bytes += f->len;
	}
	pthread_mutex_unlock(&lock);
}

static uint16_t
mem_tx_flush(struct fs_dev *d)
{
	(void)d;
	return 0;
}

static bool
mem_link_up(struct fs_dev *d)
{
	(void)d;
	return true;
}

static int
mem_rx_intr_fd(struct fs_dev *d)
{
	(void)d;
	return -1;
}

static void
mem_rx_intr(struct fs_dev *d, bool on)
{
	(void)d;
	(void)on;
}

static void
mem_buffers(struct fs_dev *d, struct fs_dev_bufs *b)
{
	(void)d;
	memset(b, 0, sizeof(*b));
}

static void
mem_close(struct fs_dev *d)
{
	(void)d;
}

static void
mem_forked(struct fs_dev *d)
{
	(void)d;
}

static const struct fs_dev_ops mem_ops = {
	.rx = mem_rx,
	.rx_free = mem_rx_free,
	.tx_alloc = mem_tx_alloc,
	.tx_queue = mem_tx_queue,
	.tx_flush = mem_tx_flush,
	.link_up = mem_link_up,
	.rx_intr_fd = mem_rx_intr_fd,
	.rx_intr = mem_rx_intr,
	.buffers = mem_buffers,
	.close = mem_close,
	.forked = mem_forked,
};

struct fs_dev *
fs_dev_open(const struct fs_config *c)
{
	static const uint8_t mac[6] = FS_MEMDEV_MAC;

	pthread_mutexattr_t ma;

	pthread_mutexattr_init(&ma);
	pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
	pthread_mutex_init(&lock, &ma);
	pthread_mutexattr_destroy(&ma);
	dev.ops = &mem_ops;
	dev.forkable = true;
	/* A test of what a link that cannot corrupt (memif) changes. */
	dev.lossless = getenv("FS_MEMDEV_LOSSLESS") != NULL;
	memcpy(dev.mac, c->mac_set ? c->mac : mac, 6);
	dev.mtu = (uint16_t)c->mtu;
	return &dev;
}
