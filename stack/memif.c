/* fastsock's own memif driver behind stack/dev.h: the memif 2.0 protocol
 * (the shared-memory packet interface of VPP, DPDK's net_memif and
 * libmemif), written for a family of processes. DPDK's driver runs its
 * control plane on the EAL interrupt thread of the process that started
 * DPDK and maps the peer's memory there only, so a child forked before the
 * peer connects (a prefork server, nginx after daemon()) can never drive
 * it. Here every piece is reachable from every member:
 * - the state below lives in the family's memory (fs_obj_calloc);
 * - the listening socket, the bundle channel and, as client, our region
 *   and the queue eventfds are made at start, before any fork;
 * - as server, the client's regions are mapped inside a reservation made
 *   at start, so at the same address in every member (readable zeros
 *   where nothing is mapped: mif_rx_idle may read a ring just unmapped); a member that has
 *   not mapped them yet asks for the fds over the bundle channel (a
 *   socketpair made at start) and any member that has them answers;
 * - the control plane (accepting a client, the handshake, disconnects,
 *   reconnecting) runs in whichever member's progress thread sees it
 *   first (ctl_lock), and the data path in whichever holds the stack lock.
 * Protocol facts (message layout, ring layout, who writes which index)
 * follow the memif 2.0 wire format; nothing of another driver is used.
 * No DPDK or lwIP header here. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "dev.h"
#include "memif.h"
#include "shared.h"
#include "stack.h"

/* --- the wire format (memif 2.0) --- */

#define COOKIE 0x3E31F20u
#define VERSION 0x0200u /* 2.0 */
#define NAME_SZ 32
#define SECRET_SZ 24

enum { MSG_NONE, MSG_ACK, MSG_HELLO, MSG_INIT, MSG_ADD_REGION, MSG_ADD_RING,
       MSG_CONNECT, MSG_CONNECTED, MSG_DISCONNECT };

#define RING_C2S_FLAG 1 /* ADD_RING: the ring goes client to server */
#define RING_MASK_INT 1 /* ring flags: its reader polls, wants no eventfd */
#define DESC_NEXT 1	/* the frame goes on in the next descriptor */

struct __attribute__((packed)) m_hello {
	uint8_t name[NAME_SZ];
	uint16_t min_version, max_version, max_region, max_s2c_ring, max_c2s_ring;
	uint8_t max_log2_ring;
};
struct __attribute__((packed)) m_init {
	uint16_t version;
	uint32_t id;
	uint8_t mode; /* 0: ethernet */
	uint8_t secret[SECRET_SZ];
	uint8_t name[NAME_SZ];
};
struct __attribute__((packed)) m_add_region {
	uint16_t index;
	uint64_t size;
};
struct __attribute__((packed)) m_add_ring {
	uint16_t flags, index, region;
	uint32_t offset;
	uint8_t log2_size;
	uint16_t private_hdr_size;
};
struct __attribute__((packed)) m_name {
	uint8_t if_name[NAME_SZ];
};
struct __attribute__((packed)) m_disconnect {
	uint32_t code;
	uint8_t reason[96];
};

/* Every message is 128 bytes: a type, then one of the above. */
union msg {
	struct __attribute__((packed)) {
		uint16_t type;
		union {
			struct m_hello hello;
			struct m_init init;
			struct m_add_region add_region;
			struct m_add_ring add_ring;
			struct m_name connect, connected;
			struct m_disconnect disconnect;
		};
	};
	uint8_t raw[128];
};

struct desc {
	uint16_t flags, region;
	uint32_t length, offset, metadata;
};

/* A ring: head and tail on cache lines of their own, then descriptors.
 * Client to server: the client fills from head, the server consumes up to
 * head and hands slots back with tail. Server to client: the client offers
 * empty buffers up to head, the server fills them and advances tail. */
struct ring {
	uint32_t cookie;
	uint16_t flags, head;
	uint8_t pad0[56];
	uint16_t tail;
	uint8_t pad1[62];
	struct desc desc[];
};

_Static_assert(sizeof(union msg) == 128, "memif messages are 128 bytes");
_Static_assert(sizeof(struct desc) == 16, "memif descriptors are 16 bytes");
_Static_assert(offsetof(struct ring, tail) == 64 && sizeof(struct ring) == 128,
	       "memif ring header: head and tail on cache lines of their own");

/* --- the device --- */

#define MAX_REGIONS 8
#define TX_BATCH 32
#define RESERVE_LEN (1ull << 30) /* address space for the client's regions */
#define HANDSHAKE_MS 1000
#define RETRY_NS 100000000ull /* a client reconnects this often */
#define FETCH_NS 1000000000ull /* a member waits this long for the fds */
#define FD_FLOOR 64		/* our fds above the program's (engine.c) */

struct buf {
	uint32_t next; /* the free list, by index */
	uint16_t len;
	_Alignas(16) uint8_t scratch[FS_RX_SCRATCH];
	uint8_t data[];
};

struct mif {
	struct fs_dev dev; /* first: fs_dev * and mif * convert */
	/* as configured */
	bool server, abstract;
	uint32_t id;
	uint8_t secret[SECRET_SZ];
	struct sockaddr_un addr;
	socklen_t addrlen;
	uid_t owner_uid; /* owner-uid=: also a user whose peer is let in */
	gid_t owner_gid;
	uid_t uid;	 /* who started the stack */
	uint32_t bsize;	 /* client: our buffers in the region */
	uint8_t log2;	 /* client: ring size */
	int listen_fd;	 /* server: made at start, so every member's */
	int pass[2];	 /* the bundle channel: [0] asks and gets, [1] answers */
	pid_t ctl_pid;	 /* the member running the control plane, or 0 */
	uint64_t next_try_ns;
	/* The connection: changed under the stack lock. */
	uint32_t gen; /* moves at each connect and disconnect */
	bool up;
	pid_t conn_pid; /* client: who holds the control connection */
	struct {
		char *addr;
		uint64_t size;
	} reg[MAX_REGIONS];
	unsigned nreg;
	struct ring *txr, *rxr;
	uint16_t tx_mask, rx_mask;
	uint16_t rx_next; /* next slot to read */
	uint16_t rx_given; /* slots before it given back to the peer */
	/* client: our region (rings, then buffers), made at start */
	char *own;
	size_t own_len;
	/* server: where the client's regions go */
	char *resv;
	size_t resv_used;
	/* the buffer pool, in the family's memory */
	uint64_t free_top; /* buf_get */
	uint32_t nfree, nbufs, stride, room;
	char *pool;
	struct buf *tx[TX_BATCH];
	uint16_t ntx;
	/* Frames written in place into the ring's next slots (tx_alloc), not
	 * yet published: they go before the queued ones (tx). */
	uint16_t tx_resv;
	uint64_t rx_bad, rx_big, rx_nobuf;
	char peer[NAME_SZ + 1];
};

/* This process's fds of the connection (the bundle) and the generation
 * they belong to: inherited across fork, the rest fetched. */
static struct {
	uint32_t gen;
	int conn, efd_rx, efd_tx, reg[MAX_REGIONS];
	unsigned nreg;
	bool want;	/* rx/tx found it behind: the progress thread fetches */
	uint64_t asked_ns; /* when the last request went out (0: none) */
} mine FS_PRIVATE = {.conn = -1, .efd_rx = -1, .efd_tx = -1};

static struct mif *
M(struct fs_dev *d)
{
	return (struct mif *)d;
}

/* The library interposes the socket calls and read/write: its own
 * sockets and eventfds go to the kernel directly. */
static long
sys_close(int fd)
{
	return fd >= 0 ? syscall(SYS_close, fd) : 0;
}

static int
move_high(int fd)
{
	int hi;

	if (fd < 0 || fd >= FD_FLOOR)
		return fd;
	hi = (int)syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, FD_FLOOR);
	if (hi < 0)
		return fd;
	sys_close(fd);
	return hi;
}

static void
kick(int efd)
{
	uint64_t one = 1;

	if (efd >= 0)
		(void)syscall(SYS_write, efd, &one, sizeof(one));
}

/* The stack lock, once the stack runs (a client connects at start, before). */
static void
stk_lock(void)
{
	if (fs_stk)
		fs_stk_lock();
}

static void
stk_unlock(void)
{
	if (fs_stk)
		fs_stk_unlock();
}

/* --- messages --- */

static int
msg_send(int fd, union msg *m, int afd)
{
	char ctl[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {m, sizeof(*m)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};

	if (afd >= 0) {
		struct cmsghdr *c;

		memset(ctl, 0, sizeof(ctl));
		mh.msg_control = ctl;
		mh.msg_controllen = sizeof(ctl);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_len = CMSG_LEN(sizeof(int));
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		memcpy(CMSG_DATA(c), &afd, sizeof(int));
	}
	return syscall(SYS_sendmsg, fd, &mh, MSG_NOSIGNAL) == (long)sizeof(*m) ? 0 : -1;
}

/* Receives one message within ms; *afd gets a passed fd or -1. Returns its
 * type, 0 on end of file, -1 on error or time-out. */
static int
msg_recv(int fd, union msg *m, int *afd, int ms)
{
	char ctl[CMSG_SPACE(sizeof(int) * 4)];
	struct iovec iov = {m, sizeof(*m)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
			    .msg_controllen = sizeof(ctl)};
	struct pollfd p = {fd, POLLIN, 0};
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	struct cmsghdr *c;
	long n;

	*afd = -1;
	if (ms >= 0 && syscall(SYS_ppoll, &p, 1, &ts, NULL, 8) != 1)
		return -1;
	n = syscall(SYS_recvmsg, fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n <= 0)
		return (int)n;
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			int k, nfd = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));

			for (k = 0; k < nfd; k++) {
				int x;

				memcpy(&x, CMSG_DATA(c) + k * sizeof(int), sizeof(int));
				if (*afd < 0)
					*afd = move_high(x);
				else
					sys_close(x); /* one fd per message */
			}
		}
	if (n != (long)sizeof(*m) || m->type == MSG_NONE) {
		sys_close(*afd);
		*afd = -1;
		errno = EPROTO;
		return -1;
	}
	return m->type;
}

static void
say_disconnect(int fd, const char *reason)
{
	union msg m = {.type = MSG_DISCONNECT};
	char drain[sizeof(m)];
	int i;

	snprintf((char *)m.disconnect.reason, sizeof(m.disconnect.reason), "%s", reason);
	(void)msg_send(fd, &m, -1);
	/* Every caller closes fd next. The kernel resets a unix connection
	 * closed with messages unread, and the peer then reads ECONNRESET,
	 * not our reason (a refused client's INIT may be there: memif
	 * bad-peer failed so once in CI). So no more reading (the peer's sends
	 * fail from now on), and what came is read first. */
	syscall(SYS_shutdown, fd, SHUT_RD);
	for (i = 0; i < 16 && syscall(SYS_recvfrom, fd, drain, sizeof(drain), MSG_DONTWAIT, NULL, NULL) > 0;
	     i++)
		;
}

/* --- the buffer pool (from any thread: rx_free is) ---
 * A stack without a lock (its head: the top buffer's index, and a tag
 * that moves at every change, so that a pop whose top was popped and
 * pushed back meanwhile fails): a member killed in the middle of it cannot
 * stop the others, as one holding a spin lock would. */

#define NIL 0xffffffffu

static struct buf *
buf_at(struct mif *m, uint32_t i)
{
	return (struct buf *)(m->pool + (size_t)i * m->stride);
}

static struct buf *
buf_get(struct mif *m)
{
	uint64_t old = __atomic_load_n(&m->free_top, __ATOMIC_ACQUIRE), new_;

	do {
		uint32_t i = (uint32_t)old;

		if (i == NIL)
			return NULL;
		/* May read a buffer popped meanwhile: the CAS then fails. */
		new_ = (__atomic_load_n(&buf_at(m, i)->next, __ATOMIC_RELAXED) |
			((old >> 32) + 1) << 32);
	} while (!__atomic_compare_exchange_n(&m->free_top, &old, new_, true, __ATOMIC_ACQUIRE,
					      __ATOMIC_ACQUIRE));
	__atomic_sub_fetch(&m->nfree, 1, __ATOMIC_RELAXED);
	return buf_at(m, (uint32_t)old);
}

static void
buf_put(struct mif *m, struct buf *b)
{
	uint32_t i = (uint32_t)(((char *)b - m->pool) / m->stride);
	uint64_t old = __atomic_load_n(&m->free_top, __ATOMIC_RELAXED), new_;

	do {
		__atomic_store_n(&b->next, (uint32_t)old, __ATOMIC_RELAXED);
		new_ = i | ((old >> 32) + 1) << 32;
	} while (!__atomic_compare_exchange_n(&m->free_top, &old, new_, true, __ATOMIC_RELEASE,
					      __ATOMIC_RELAXED));
	__atomic_add_fetch(&m->nfree, 1, __ATOMIC_RELAXED);
}

static int
pool_init(struct mif *m, const struct fs_config *c)
{
	uint32_t i;

	m->room = (c->mtu + 18 + 63) & ~63u; /* Ethernet and a VLAN tag */
	m->stride = (uint32_t)((sizeof(struct buf) + m->room + 63) & ~63u);
	m->nbufs = c->mbufs;
	m->pool = fs_shared_take((size_t)m->stride * m->nbufs);
	if (!m->pool)
		m->pool = mmap(NULL, (size_t)m->stride * m->nbufs, PROT_READ | PROT_WRITE,
			       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (m->pool == MAP_FAILED || !m->pool)
		return -1;
	for (i = 0; i < m->nbufs; i++)
		buf_at(m, i)->next = i + 1 < m->nbufs ? i + 1 : NIL;
	m->free_top = 0;
	m->nfree = m->nbufs;
	return 0;
}

/* --- the data path (under the stack lock, but rx_free) --- */

/* Whether this process may touch the rings now; if the connection moved
 * on without it, its progress thread is asked to catch up. */
static inline bool
ready(struct mif *m)
{
	if (fs_likely(m->up && mine.gen == m->gen))
		return true;
	if (m->up)
		mine.want = true;
	return false;
}

/* The buffer of descriptor x and its length (the descriptor's own, or
 * cap when cap is not 0), each field read once: the peer may write them
 * at any time. NULL when the buffer lies outside the peer's regions (a bad
 * peer: counted, skipped). */
static inline uint8_t *
desc_get(struct mif *m, const struct desc *x, uint32_t cap, uint32_t *len)
{
	uint16_t region = __atomic_load_n(&x->region, __ATOMIC_RELAXED);
	uint32_t offset = __atomic_load_n(&x->offset, __ATOMIC_RELAXED);

	*len = cap ? cap : __atomic_load_n(&x->length, __ATOMIC_RELAXED);
	if (fs_unlikely(region >= m->nreg || (uint64_t)offset + *len > m->reg[region].size))
		return NULL;
	return (uint8_t *)m->reg[region].addr + offset;
}

/* Gives the slots read so far back to the peer: server, the tail that
 * tells the client its slots are free; client, the buffers offered again
 * for the server to fill. Done at the next receive, not at the end of the
 * one that read them: a store to a line the peer reads costs a cache line
 * round trip between the CPUs, which the next locked instruction (the
 * stack lock's release) waits for, between a frame's arrival and the
 * program's answer (docs/benchmarks.md, 2026-12-07 09:15). */
static void
rx_give_back(struct mif *m, struct ring *r)
{
	uint16_t cur = m->rx_next, head, end;

	if (m->rx_given == cur && (m->server || r->head == (uint16_t)(cur + m->rx_mask + 1)))
		return;
	__atomic_store_n(&m->rx_given, cur, __ATOMIC_RELAXED); /* mif_rx_idle reads it */
	if (m->server) {
		__atomic_store_n(&r->tail, cur, __ATOMIC_RELEASE);
		return;
	}
	/* (The server empties the ring when the client connects.) */
	for (head = r->head, end = (uint16_t)(cur + m->rx_mask + 1); head != end; head++)
		r->desc[head & m->rx_mask].length = m->bsize;
	__atomic_store_n(&r->head, head, __ATOMIC_RELEASE);
}

static uint16_t
mif_rx(struct fs_dev *d, struct fs_rxframe *f, uint16_t n)
{
	struct mif *m = M(d);
	struct ring *r = m->rxr;
	uint16_t cur, last, got = 0;

	if (fs_unlikely(!ready(m)))
		return 0;
	rx_give_back(m, r);
	cur = m->rx_next;
	/* server: the client's frames up to head; client: ours up to tail */
	last = m->server ? __atomic_load_n(&r->head, __ATOMIC_ACQUIRE)
			 : __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);
	while (cur != last && got < n) {
		struct buf *b = buf_get(m);
		uint32_t len = 0;
		bool bad = false, big = false;
		uint16_t fl;

		if (fs_unlikely(!b)) {
			m->rx_nobuf++; /* the stack holds every buffer: wait */
			break;
		}
		do { /* a frame may span several descriptors */
			const struct desc *x = &r->desc[cur++ & m->rx_mask];
			uint32_t l;
			uint8_t *src;

			src = desc_get(m, x, 0, &l);
			if (fs_unlikely(!src))
				bad = true;
			else if (fs_unlikely(l > m->room - len))
				big = true;
			else
				memcpy(b->data + len, src, l);
			if (!bad && !big)
				len += l;
			fl = __atomic_load_n(&x->flags, __ATOMIC_RELAXED);
		} while ((fl & DESC_NEXT) && cur != last);
		if (fs_unlikely(bad || big || (fl & DESC_NEXT) || len == 0)) {
			if (big)
				m->rx_big++;
			else
				m->rx_bad++;
			buf_put(m, b);
			continue;
		}
		b->len = (uint16_t)len;
		f[got].data = b->data;
		f[got].len = (uint16_t)len;
		f[got].handle = b;
		f[got].scratch = b->scratch;
		d->rx_pkts++;
		d->rx_bytes += len;
		got++;
	}
	__atomic_store_n(&m->rx_next, cur, __ATOMIC_RELAXED); /* mif_rx_idle reads it */
	return got;
}

static bool
mif_rx_idle(struct fs_dev *d)
{
	struct mif *m = M(d);
	bool up = __atomic_load_n(&m->up, __ATOMIC_ACQUIRE);
	struct ring *r;

	if (!up || mine.gen != __atomic_load_n(&m->gen, __ATOMIC_RELAXED))
		return !up;
	r = m->rxr;
	/* Slots not given back yet: the next receive does it. */
	return __atomic_load_n(m->server ? &r->head : &r->tail, __ATOMIC_RELAXED) ==
		       __atomic_load_n(&m->rx_next, __ATOMIC_RELAXED) &&
	       __atomic_load_n(&m->rx_given, __ATOMIC_RELAXED) ==
		       __atomic_load_n(&m->rx_next, __ATOMIC_RELAXED);
}

static void
mif_rx_free(struct fs_dev *d, void *handle)
{
	buf_put(M(d), handle);
}

/* The handle of a frame written in place (never a buffer's address). */
#define IN_RING ((void *)1)

/* The transmit ring's first slot after the frames written in place, and
 * how many slots from it are free. client: our slots from head, up to
 * what the server gave back; server: the client's empty buffers from tail
 * up to head. */
static uint16_t
tx_room(struct mif *m, uint16_t *slot)
{
	struct ring *r = m->txr;

	if (m->server) {
		*slot = (uint16_t)(r->tail + m->tx_resv);
		return (uint16_t)(__atomic_load_n(&r->head, __ATOMIC_ACQUIRE) - *slot);
	}
	*slot = (uint16_t)(r->head + m->tx_resv);
	return (uint16_t)(m->tx_mask + 1 -
			  (uint16_t)(*slot - __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE)));
}

/* The ring's next free slot for a frame of len bytes, to be written in
 * place: one copy less than through a pool buffer (the program's bytes
 * go straight into the buffer the peer reads). Only when nothing waits in
 * the queue (the frames keep their order), the slot is free and its buffer
 * takes the whole frame; else NULL. */
static void *
ring_slot(struct mif *m, uint16_t len)
{
	uint16_t slot;
	struct desc *x;
	uint32_t cap;
	uint8_t *dst;

	if (m->ntx || !ready(m) || tx_room(m, &slot) == 0)
		return NULL;
	x = &m->txr->desc[slot & m->tx_mask];
	dst = desc_get(m, x, m->server ? 0 : m->bsize, &cap);
	if (!dst || cap < len)
		return NULL;
	x->length = len;
	x->flags = 0;
	return dst;
}

static void *
mif_tx_alloc(struct fs_dev *d, uint16_t len, void **handle)
{
	struct mif *m = M(d);
	void *dst = ring_slot(m, len);
	struct buf *b;

	if (dst) {
		m->tx_resv++;
		d->tx_bytes += len;
		__atomic_store_n(&d->tx_pending, (uint16_t)(m->ntx + m->tx_resv), __ATOMIC_RELAXED);
		*handle = IN_RING;
		return dst;
	}
	b = len <= m->room ? buf_get(m) : NULL;

	if (!b) {
		d->tx_nobuf++;
		return NULL;
	}
	b->len = len;
	*handle = b;
	return b->data;
}

/* Copies queued frames into the ring; returns how many stay queued. */
static uint16_t
mif_tx_flush(struct fs_dev *d)
{
	struct mif *m = M(d);
	struct ring *r = m->txr;
	uint16_t slot, room, i = 0;

	if (m->ntx == 0 && m->tx_resv == 0)
		return 0;
	if (fs_unlikely(!ready(m))) {
		/* Written in place into a ring that is gone. */
		d->tx_full += m->tx_resv;
		m->tx_resv = 0;
		__atomic_store_n(&d->tx_pending, m->ntx, __ATOMIC_RELAXED);
		return m->ntx;
	}
	room = tx_room(m, &slot);
	d->tx_pkts += m->tx_resv;
	for (; i < m->ntx; i++) {
		struct buf *b = m->tx[i];
		uint16_t start = slot, used = 0;
		uint32_t off = 0;
		bool bad = false;

		while (off < b->len) {
			struct desc *x = &r->desc[slot & m->tx_mask];
			uint32_t cap, k;
			uint8_t *dst;

			if (used == room)
				break;
			/* server: the client's buffer as it offered it */
			dst = desc_get(m, x, m->server ? 0 : m->bsize, &cap);
			if (fs_unlikely(!dst || cap == 0)) {
				bad = true;
				break;
			}
			k = b->len - off < cap ? b->len - off : cap;
			memcpy(dst, b->data + off, k);
			x->length = k;
			off += k;
			x->flags = off < b->len ? DESC_NEXT : 0;
			slot++;
			used++;
		}
		if (off < b->len) {
			slot = start;
			if (!bad)
				break; /* the ring is full: the rest waits */
			m->rx_bad++; /* the peer gave a buffer outside its regions */
		} else {
			room -= used;
			d->tx_pkts++;
		}
	}
	if (m->server)
		__atomic_store_n(&r->tail, slot, __ATOMIC_RELEASE);
	else
		__atomic_store_n(&r->head, slot, __ATOMIC_RELEASE);
	if (i || m->tx_resv) {
		m->tx_resv = 0;
		/* After the index: buf_put's locked instruction would first wait
		 * for the stores into the peer's lines above (a cache line round
		 * trip each when the two CPUs share no cache). */
		for (uint16_t k = 0; k < i; k++)
			buf_put(m, m->tx[k]);
		if (i < m->ntx) /* rare: a full ring left some */
			memmove(m->tx, m->tx + i, (m->ntx - i) * sizeof(m->tx[0]));
		m->ntx = (uint16_t)(m->ntx - i);
		/* A reader that sleeps unmasks its ring: wake it. The fence
		 * orders our index store before reading its flag (it stores the
		 * flag, then looks at the index once more). */
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (!(__atomic_load_n(&r->flags, __ATOMIC_RELAXED) & RING_MASK_INT))
			kick(mine.efd_tx);
	}
	__atomic_store_n(&d->tx_pending, m->ntx, __ATOMIC_RELAXED);
	return m->ntx;
}

static void
mif_tx_queue(struct fs_dev *d, void *handle)
{
	struct mif *m = M(d);
	struct buf *b = handle;

	if (handle == IN_RING) /* written in place: counted by tx_alloc */
		return;
	if (m->ntx == TX_BATCH && mif_tx_flush(d) == TX_BATCH) {
		d->tx_full++; /* the ring and our queue are full */
		buf_put(m, b);
		return;
	}
	d->tx_bytes += b->len;
	m->tx[m->ntx++] = b;
	__atomic_store_n(&d->tx_pending, m->ntx, __ATOMIC_RELAXED);
}

static bool
mif_link_up(struct fs_dev *d)
{
	struct mif *m = M(d);

	return m->up && mine.gen == m->gen;
}

/* No RX interrupt from our side yet: the progress thread polls for
 * sleepers (10 us backing off to 1 ms), as with DPDK's memif, and our ring
 * stays masked. Unmasking it while a sleeper waits (the peer then writes
 * the eventfd after each send) made the peer pay a system call for every
 * frame whenever one thread of the program slept while another polled
 * (memif no-syscalls: 1 in 19 messages); a count of the family's spinning
 * threads, so that the ring is unmasked only when nobody polls, would
 * allow it (docs/architecture.md). The peer's own mask is honoured in
 * mif_tx_flush. */
static int
mif_rx_intr_fd(struct fs_dev *d)
{
	(void)d;
	return -1;
}

static void
mif_rx_intr(struct fs_dev *d, bool on)
{
	(void)d;
	(void)on;
}

static void
mif_buffers(struct fs_dev *d, struct fs_dev_bufs *b)
{
	struct mif *m = M(d);

	b->free = __atomic_load_n(&m->nfree, __ATOMIC_RELAXED);
	b->total = m->nbufs;
	b->rx_missed = m->rx_bad + m->rx_big; /* rx_nobuf only waits */
}

static void
mif_close(struct fs_dev *d)
{
	(void)d;
}

static void
mif_forked(struct fs_dev *d)
{
	(void)d; /* the child has the parent's fds and mappings */
}

/* Queued frames and those written in place but not published: forgotten,
 * their buffers leaked (a dead member may have put some back already). */
static void
mif_drop_tx(struct fs_dev *d)
{
	struct mif *m = M(d);

	d->tx_full += m->ntx + m->tx_resv;
	m->ntx = 0;
	m->tx_resv = 0;
	__atomic_store_n(&d->tx_pending, 0, __ATOMIC_RELAXED);
}

/* --- the connection --- */

/* Forgets this process's fds and mappings of the connection. */
static void
mine_release(struct mif *m)
{
	unsigned i;

	sys_close(mine.conn);
	if (m->server) {
		sys_close(mine.efd_rx);
		sys_close(mine.efd_tx);
		for (i = 0; i < mine.nreg; i++)
			sys_close(mine.reg[i]);
		/* The client's regions go; the reservation stays. */
		if (m->resv && mine.nreg)
			mmap(m->resv, RESERVE_LEN, PROT_READ,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
		mine.efd_rx = mine.efd_tx = -1;
		mine.nreg = 0;
	}
	mine.conn = -1;
}

/* Ends the connection for the family (under the control plane). */
static void
teardown(struct mif *m, const char *why)
{
	struct fs_dev *d = &m->dev;
	uint16_t i;

	if (mine.conn >= 0 && why)
		say_disconnect(mine.conn, why);
	fs_stk_lock();
	if (m->up)
		FS_INFO("memif: link to %s down (%s)", m->peer[0] ? m->peer : "the peer",
			why ? why : "the peer left");
	/* Atomic: mif_rx_idle reads them without the lock. */
	__atomic_store_n(&m->up, false, __ATOMIC_RELAXED);
	__atomic_store_n(&m->gen, m->gen + 1, __ATOMIC_RELAXED);
	for (i = 0; i < m->ntx; i++)
		buf_put(m, m->tx[i]);
	d->tx_full += m->ntx + m->tx_resv;
	m->ntx = 0;
	m->tx_resv = 0;
	__atomic_store_n(&d->tx_pending, 0, __ATOMIC_RELAXED);
	fs_stk_unlock();
	mine_release(m);
	mine.gen = m->gen;
	m->resv_used = 0;
}

/* Resets the rings for a new connection (the region stays). Client. */
static void
rings_init(struct mif *m)
{
	size_t rsz = sizeof(struct ring) + sizeof(struct desc) * (1u << m->log2);
	size_t bufs = 2 * rsz;
	unsigned k, n = 1u << m->log2;
	struct ring *r[2] = {(struct ring *)m->own, (struct ring *)(m->own + rsz)};

	for (k = 0; k < 2; k++) {
		unsigned j;

		memset(r[k], 0, sizeof(struct ring));
		r[k]->cookie = COOKIE;
		for (j = 0; j < n; j++) {
			r[k]->desc[j] = (struct desc){
				.region = 0,
				.offset = (uint32_t)(bufs + ((size_t)k * n + j) * m->bsize),
				.length = m->bsize,
			};
		}
	}
	m->txr = r[0]; /* client to server */
	m->rxr = r[1];
	m->tx_mask = m->rx_mask = (uint16_t)(n - 1);
	m->rx_next = m->rx_given = 0;
	m->tx_resv = 0;
	/* We poll until the progress thread sleeps (mif_rx_intr). */
	m->rxr->flags = RING_MASK_INT;
	/* Every buffer of the server-to-client ring is the server's to fill. */
	m->rxr->head = (uint16_t)n;
}

static int
client_region(struct mif *m)
{
	size_t rsz = sizeof(struct ring) + sizeof(struct desc) * (1u << m->log2);
	int fd;

	m->own_len = 2 * rsz + 2 * (size_t)(1u << m->log2) * m->bsize;
	fd = (int)syscall(SYS_memfd_create, "fastsock-memif", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0 || ftruncate(fd, (off_t)m->own_len) < 0)
		goto fail;
	(void)syscall(SYS_fcntl, fd, F_ADD_SEALS, F_SEAL_SHRINK);
	m->own = mmap(NULL, m->own_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m->own == MAP_FAILED)
		goto fail;
	m->reg[0].addr = m->own;
	m->reg[0].size = m->own_len;
	m->nreg = 1;
	mine.reg[0] = move_high(fd);
	mine.nreg = 1;
	mine.efd_tx = move_high(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
	mine.efd_rx = move_high(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
	return mine.efd_tx >= 0 && mine.efd_rx >= 0 ? 0 : -1;
fail:
	sys_close(fd);
	m->own = NULL;
	return -1;
}

/* Whether the process at the other end of fd may share our wire: the
 * user who started the stack, root, or the user owner-uid= names. An
 * abstract socket has no permission of its own: anybody could attach and
 * send from any address (the kernel asks CAP_NET_RAW for that). */
static bool
peer_allowed(struct mif *m, int fd, uid_t *uid)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);

	if (syscall(SYS_getsockopt, fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0)
		return false;
	*uid = cr.uid;
	return cr.uid == m->uid || cr.uid == 0 || (m->owner_uid != (uid_t)-1 && cr.uid == m->owner_uid);
}

/* Expects a message of type want (within the handshake's time). */
static int
expect(int fd, union msg *msg, int want, int *afd)
{
	int t = msg_recv(fd, msg, afd, HANDSHAKE_MS);

	if (t == want)
		return 0;
	if (t == MSG_DISCONNECT)
		FS_ERR("memif: the peer refused: %.96s", (char *)msg->disconnect.reason);
	sys_close(*afd);
	*afd = -1;
	return -1;
}

/* Connects as client and runs the whole handshake. Returns 0, or -1 with
 * errno (ECONNREFUSED/ENOENT: nobody listens). */
static int
client_connect(struct mif *m)
{
	union msg msg;
	int fd, afd = -1, k;
	uid_t uid;

	fd = (int)syscall(SYS_socket, AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	fd = move_high(fd);
	if (syscall(SYS_connect, fd, &m->addr, m->addrlen) < 0) {
		int e = errno;

		sys_close(fd);
		errno = e;
		return -1;
	}
	if (!peer_allowed(m, fd, &uid)) {
		FS_ERR("memif: the server at the socket runs as uid %u, not as this program's "
		       "user (%u) or root: not connecting (owner-uid=%u lets it)",
		       (unsigned)uid, (unsigned)m->uid, (unsigned)uid);
		say_disconnect(fd, "permission denied");
		goto fail;
	}
	if (expect(fd, &msg, MSG_HELLO, &afd) < 0)
		goto fail;
	if (msg.hello.min_version > VERSION || msg.hello.max_version < VERSION ||
	    msg.hello.max_log2_ring < m->log2) {
		say_disconnect(fd, "incompatible version or ring size");
		goto fail;
	}
	memcpy(m->peer, msg.hello.name, NAME_SZ);
	m->peer[NAME_SZ] = '\0';
	rings_init(m);
	msg = (union msg){.type = MSG_INIT};
	msg.init.version = VERSION;
	msg.init.id = m->id;
	memcpy(msg.init.secret, m->secret, SECRET_SZ);
	snprintf((char *)msg.init.name, NAME_SZ, "fastsock");
	if (msg_send(fd, &msg, -1) < 0 || expect(fd, &msg, MSG_ACK, &afd) < 0)
		goto fail;
	msg = (union msg){.type = MSG_ADD_REGION};
	msg.add_region.index = 0;
	msg.add_region.size = m->own_len;
	if (msg_send(fd, &msg, mine.reg[0]) < 0 || expect(fd, &msg, MSG_ACK, &afd) < 0)
		goto fail;
	for (k = 0; k < 2; k++) {
		msg = (union msg){.type = MSG_ADD_RING};
		msg.add_ring.flags = k == 0 ? RING_C2S_FLAG : 0;
		msg.add_ring.index = 0;
		msg.add_ring.region = 0;
		msg.add_ring.offset = (uint32_t)((char *)(k == 0 ? m->txr : m->rxr) - m->own);
		msg.add_ring.log2_size = m->log2;
		if (msg_send(fd, &msg, k == 0 ? mine.efd_tx : mine.efd_rx) < 0 ||
		    expect(fd, &msg, MSG_ACK, &afd) < 0)
			goto fail;
	}
	msg = (union msg){.type = MSG_CONNECT};
	snprintf((char *)msg.connect.if_name, NAME_SZ, "fastsock%d", (int)getpid());
	if (msg_send(fd, &msg, -1) < 0 || expect(fd, &msg, MSG_CONNECTED, &afd) < 0)
		goto fail;
	stk_lock();
	/* After the rings: mif_rx_idle reads them once it sees up. */
	__atomic_store_n(&m->gen, m->gen + 1, __ATOMIC_RELAXED);
	__atomic_store_n(&m->up, true, __ATOMIC_RELEASE);
	m->conn_pid = getpid();
	stk_unlock();
	mine.conn = fd;
	mine.gen = m->gen;
	FS_INFO("memif: connected as client to %s", m->peer);
	return 0;
fail:
	sys_close(fd);
	errno = EPROTO;
	return -1;
}

/* Maps the client's region fd at the next free place of the reservation. */
static int
map_region(struct mif *m, unsigned i, int fd, uint64_t size)
{
	size_t len = (size + 4095) & ~(size_t)4095;
	char *at;

	if (i != m->nreg || i >= MAX_REGIONS || size == 0 || len > RESERVE_LEN - m->resv_used)
		return -1;
	at = mmap(m->resv + m->resv_used, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd,
		  0);
	if (at == MAP_FAILED)
		return -1;
	m->reg[i].addr = at;
	m->reg[i].size = size;
	m->resv_used += len;
	m->nreg++;
	return 0;
}

/* A ring the client announced: inside a region, with its cookie. */
static struct ring *
ring_at(struct mif *m, const struct m_add_ring *a)
{
	size_t len = sizeof(struct ring) + sizeof(struct desc) * (1ull << a->log2_size);
	struct ring *r;

	if (a->region >= m->nreg || a->index != 0 || a->log2_size > 15 ||
	    (uint64_t)a->offset + len > m->reg[a->region].size || (a->offset & 63))
		return NULL;
	r = (struct ring *)(m->reg[a->region].addr + a->offset);
	return r->cookie == COOKIE ? r : NULL;
}

/* Serves a client that connected to the listener: the handshake, then the
 * connection for the family. Runs in the control plane, in one member. */
static void
server_accept(struct mif *m)
{
	struct m_add_ring rings[2];
	bool have[2] = {false, false};
	int efd[2] = {-1, -1}, regfd[MAX_REGIONS];
	union msg msg;
	int fd, afd = -1, t;
	uid_t uid;
	const char *why = NULL;

	fd = (int)syscall(SYS_accept4, m->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	fd = move_high(fd);
	msg = (union msg){.type = MSG_HELLO};
	snprintf((char *)msg.hello.name, NAME_SZ, "fastsock");
	msg.hello.min_version = msg.hello.max_version = VERSION;
	msg.hello.max_region = MAX_REGIONS - 1;
	msg.hello.max_c2s_ring = msg.hello.max_s2c_ring = 0; /* one queue pair */
	msg.hello.max_log2_ring = 14;
	if (msg_send(fd, &msg, -1) < 0)
		goto out;
	if (!peer_allowed(m, fd, &uid)) {
		FS_WARN("memif: refused a client running as uid %u: not this program's user (%u) "
			"or root (owner-uid=%u lets it)",
			(unsigned)uid, (unsigned)m->uid, (unsigned)uid);
		say_disconnect(fd, "permission denied");
		sys_close(fd);
		return;
	}
	if (m->up) { /* one client at a time; the live one is untouched */
		FS_WARN("memif: refused a second client: already connected");
		say_disconnect(fd, "already connected");
		sys_close(fd);
		return;
	}
	if (expect(fd, &msg, MSG_INIT, &afd) < 0) {
		why = "expected INIT";
		goto refuse;
	}
	if (msg.init.version != VERSION || msg.init.mode != 0 || msg.init.id != m->id ||
	    memcmp(msg.init.secret, m->secret, SECRET_SZ) != 0) {
		why = msg.init.id != m->id ? "ID not found"
		      : msg.init.mode != 0 ? "only ethernet mode supported"
		      : msg.init.version != VERSION ? "incompatible memif version"
						    : "incorrect secret";
		goto refuse;
	}
	memcpy(m->peer, msg.init.name, NAME_SZ);
	m->peer[NAME_SZ] = '\0';
	m->nreg = 0;
	m->resv_used = 0;
	msg = (union msg){.type = MSG_ACK};
	if (msg_send(fd, &msg, -1) < 0)
		goto out;
	for (;;) {
		t = msg_recv(fd, &msg, &afd, HANDSHAKE_MS);
		if (t == MSG_ADD_REGION) {
			if (afd < 0 || map_region(m, msg.add_region.index, afd, msg.add_region.size) < 0) {
				why = "invalid region";
				goto refuse;
			}
			regfd[m->nreg - 1] = afd;
			afd = -1;
		} else if (t == MSG_ADD_RING) {
			unsigned k = (msg.add_ring.flags & RING_C2S_FLAG) ? 0 : 1;

			if (afd < 0 || have[k] || msg.add_ring.private_hdr_size != 0 ||
			    !ring_at(m, &msg.add_ring)) {
				why = "invalid ring";
				goto refuse;
			}
			rings[k] = msg.add_ring;
			have[k] = true;
			efd[k] = afd;
			afd = -1;
		} else if (t == MSG_CONNECT && have[0] && have[1]) {
			break;
		} else {
			why = t < 0 ? "handshake timed out" : "unexpected message";
			goto refuse;
		}
		msg = (union msg){.type = MSG_ACK};
		if (msg_send(fd, &msg, -1) < 0)
			goto out;
	}
	/* The client's rings: we read client to server, write the other. */
	fs_stk_lock();
	m->rxr = ring_at(m, &rings[0]);
	m->txr = ring_at(m, &rings[1]);
	m->rx_mask = (uint16_t)((1u << rings[0].log2_size) - 1);
	m->tx_mask = (uint16_t)((1u << rings[1].log2_size) - 1);
	__atomic_store_n(&m->rxr->head, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&m->rxr->tail, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&m->txr->head, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&m->txr->tail, 0, __ATOMIC_RELAXED);
	m->rxr->flags = RING_MASK_INT;
	m->rx_next = m->rx_given = 0;
	m->tx_resv = 0;
	/* After the rings: mif_rx_idle reads them once it sees up. */
	__atomic_store_n(&m->gen, m->gen + 1, __ATOMIC_RELAXED);
	__atomic_store_n(&m->up, true, __ATOMIC_RELEASE);
	fs_stk_unlock();
	mine.conn = fd;
	mine.efd_rx = efd[0];
	mine.efd_tx = efd[1];
	memcpy(mine.reg, regfd, sizeof(regfd[0]) * m->nreg);
	mine.nreg = m->nreg;
	mine.gen = m->gen;
	msg = (union msg){.type = MSG_CONNECTED};
	snprintf((char *)msg.connected.if_name, NAME_SZ, "fastsock%d", (int)getpid());
	(void)msg_send(fd, &msg, -1);
	FS_INFO("memif: client %s connected", m->peer);
	return;
refuse:
	FS_WARN("memif: refused a client: %s", why);
	say_disconnect(fd, why);
out:
	sys_close(afd);
	sys_close(efd[0]);
	sys_close(efd[1]);
	while (m->nreg)
		sys_close(regfd[--m->nreg]);
	if (m->resv)
		mmap(m->resv, RESERVE_LEN, PROT_READ,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
	m->resv_used = 0;
	sys_close(fd);
}

/* --- the bundle channel: a member's fds of the connection, for another --- */

struct bundle_hdr {
	uint32_t gen, nreg;
};

/* Answers the requests waiting (a member that has the fds). */
static void
bundle_serve(struct mif *m)
{
	char c;

	while (syscall(SYS_recvfrom, m->pass[1], &c, 1, MSG_DONTWAIT, NULL, NULL) == 1) {
		struct bundle_hdr h = {m->gen, mine.nreg};
		int fds[3 + MAX_REGIONS] = {mine.conn, mine.efd_rx, mine.efd_tx};
		char ctl[CMSG_SPACE(sizeof(fds))];
		struct iovec iov = {&h, sizeof(h)};
		struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl};
		struct cmsghdr *cm;
		unsigned n = 3 + mine.nreg;

		memcpy(fds + 3, mine.reg, mine.nreg * sizeof(int));
		memset(ctl, 0, sizeof(ctl));
		mh.msg_controllen = CMSG_SPACE(n * sizeof(int));
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(n * sizeof(int));
		memcpy(CMSG_DATA(cm), fds, n * sizeof(int));
		(void)syscall(SYS_sendmsg, m->pass[1], &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	}
}

/* Takes an answer for the current connection if one is there. */
static bool
bundle_take(struct mif *m)
{
	int fds[3 + MAX_REGIONS];
	char ctl[CMSG_SPACE(sizeof(fds))];
	struct bundle_hdr h;
	struct iovec iov = {&h, sizeof(h)};

	for (;;) {
		struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
				    .msg_controllen = sizeof(ctl)};
		struct cmsghdr *cm;
		unsigned n = 0, i;
		bool ok;

		if (syscall(SYS_recvmsg, m->pass[0], &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) !=
		    (long)sizeof(h))
			return false;
		cm = CMSG_FIRSTHDR(&mh);
		if (cm && cm->cmsg_type == SCM_RIGHTS) {
			n = (unsigned)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			memcpy(fds, CMSG_DATA(cm), n * sizeof(int));
		}
		for (i = 0; i < n; i++)
			fds[i] = move_high(fds[i]);
		fs_stk_lock();
		ok = m->up && h.gen == m->gen && h.nreg == m->nreg && n == 3 + h.nreg;
		for (i = 0; ok && i < m->nreg; i++) {
			size_t len = (m->reg[i].size + 4095) & ~(size_t)4095;

			ok = mmap(m->reg[i].addr, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
				  fds[3 + i], 0) != MAP_FAILED;
		}
		if (ok) {
			mine.conn = fds[0];
			mine.efd_rx = fds[1];
			mine.efd_tx = fds[2];
			memcpy(mine.reg, fds + 3, h.nreg * sizeof(int));
			mine.nreg = h.nreg;
			mine.gen = h.gen;
		}
		fs_stk_unlock();
		if (ok)
			return true;
		for (i = 0; i < n; i++) /* an answer for an older connection */
			sys_close(fds[i]);
	}
}

/* Brings this process up to the family's connection: drops what it held
 * of an older one, and as server fetches the fds of the new one. */
static void
catch_up(struct mif *m)
{
	uint64_t now;

	if (mine.gen != m->gen) {
		if (m->server)
			mine_release(m);
		else if (mine.conn >= 0 && m->conn_pid != getpid())
			mine_release(m); /* a control connection of ours that ended */
		/* As client everything else was made before any fork. */
		if (!m->server || !m->up) {
			mine.gen = m->gen;
			mine.want = false;
			return;
		}
	}
	if (mine.gen == m->gen) {
		mine.want = false;
		return;
	}
	if (bundle_take(m)) {
		mine.asked_ns = 0;
		mine.want = false;
		return;
	}
	now = fs_now_ns();
	if (mine.asked_ns == 0 || now - mine.asked_ns > FETCH_NS / 10) {
		char c = 1;

		if (mine.asked_ns && now - mine.asked_ns > FETCH_NS)
			FS_WARN("memif: no member answers with the connection's fds; still asking");
		(void)syscall(SYS_sendto, m->pass[0], &c, 1, MSG_DONTWAIT, NULL, 0);
		mine.asked_ns = now;
	}
}

/* --- the control plane --- */

static bool
ctl_take(struct mif *m)
{
	pid_t free_ = 0, me = getpid(), holder;

	if (__atomic_compare_exchange_n(&m->ctl_pid, &free_, me, false, __ATOMIC_ACQUIRE,
					__ATOMIC_RELAXED))
		return true;
	holder = free_;
	/* A member that died in the middle of it. */
	if (holder != me && kill(holder, 0) < 0 && errno == ESRCH)
		return __atomic_compare_exchange_n(&m->ctl_pid, &holder, me, false,
						   __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
	return false;
}

/* Reads what the peer says on the control connection while up: only a
 * disconnect (or its end) is expected. A copy this process no longer has
 * (the program closed it behind our back: close_range or closefrom before
 * an exec, as python's subprocess does) says nothing about the family's
 * connection: this process forgets its number and the link stays up. */
static void
conn_check(struct mif *m)
{
	union msg msg;
	int afd, t = msg_recv(mine.conn, &msg, &afd, -1);

	sys_close(afd);
	if (t < 0 && (errno == EBADF || errno == ENOTSOCK))
		mine.conn = -1;
	else if (t == 0 || t == MSG_DISCONNECT)
		teardown(m, NULL);
	else if (t > 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
		teardown(m, "unexpected message");
}

/* Whose copy of the control connection is read: the server's members each
 * fetched their own; a client's is the connecting member's alone (its
 * children inherit the same socket, and a child reading it would take
 * the message from its owner). */
static bool
conn_mine(const struct mif *m)
{
	return mine.conn >= 0 && mine.gen == m->gen && (m->server || m->conn_pid == getpid());
}

/* The control plane, from the progress threads (without the stack lock):
 * woke when one of mif_ctl_fds was readable, and every RETRY_NS anyway. */
static void
mif_ctl(struct fs_dev *d, bool woke)
{
	struct mif *m = M(d);

	if (fs_unlikely(mine.gen != m->gen || mine.want))
		catch_up(m);
	if (!woke) {
		uint64_t now = fs_now_ns();

		if (now < __atomic_load_n(&m->next_try_ns, __ATOMIC_RELAXED))
			return;
		__atomic_store_n(&m->next_try_ns, now + RETRY_NS, __ATOMIC_RELAXED);
	}
	if (m->server && m->up && mine.gen == m->gen)
		bundle_serve(m);
	if (!ctl_take(m))
		return;
	if (m->up && conn_mine(m))
		conn_check(m);
	if (m->server) {
		server_accept(m); /* a client knocking: served, or told we are taken */
	} else {
		/* The member that held the control connection died: the server
		 * saw it close. */
		if (m->up && mine.conn < 0 && m->conn_pid != getpid() && kill(m->conn_pid, 0) < 0 &&
		    errno == ESRCH)
			teardown(m, NULL);
		if (!m->up && client_connect(m) == 0)
			FS_INFO("memif: link to %s up again", m->peer);
	}
	__atomic_store_n(&m->ctl_pid, 0, __ATOMIC_RELEASE);
}

/* The fds this process's progress thread watches for the control plane. */
static int
mif_ctl_fds(struct fs_dev *d, struct pollfd *p)
{
	struct mif *m = M(d);
	int n = 0;

	if (m->server)
		p[n++] = (struct pollfd){m->listen_fd, POLLIN, 0};
	if (conn_mine(m))
		p[n++] = (struct pollfd){mine.conn, POLLIN, 0};
	if (m->server && mine.gen == m->gen && m->up)
		p[n++] = (struct pollfd){m->pass[1], POLLIN, 0};
	return n;
}

static const struct fs_dev_ops mif_ops = {
	.rx = mif_rx,
	.rx_free = mif_rx_free,
	.tx_alloc = mif_tx_alloc,
	.tx_queue = mif_tx_queue,
	.tx_flush = mif_tx_flush,
	.link_up = mif_link_up,
	.rx_intr_fd = mif_rx_intr_fd,
	.rx_intr = mif_rx_intr,
	.buffers = mif_buffers,
	.close = mif_close,
	.forked = mif_forked,
	.drop_tx = mif_drop_tx,
	.ctl = mif_ctl,
	.ctl_fds = mif_ctl_fds,
	.rx_idle = mif_rx_idle,
};

/* --- start --- */

static int
parse_mac(const char *s, uint8_t mac[6])
{
	unsigned v[6];
	char end;
	int i;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &end) != 6)
		return -1;
	for (i = 0; i < 6; i++) {
		if (v[i] > 255)
			return -1;
		mac[i] = (uint8_t)v[i];
	}
	return 0;
}

/* net_memifN[,key=value]...: the keys of DPDK's net_memif. */
static int
parse_args(struct mif *m, const struct fs_config *c, char *path, size_t pathlen)
{
	char buf[FS_CFG_STR_MAX], *save = NULL, *kv;
	unsigned long v;
	bool bsize_set = false, rsize_set = false;

	snprintf(buf, sizeof(buf), "%s", c->dev);
	snprintf(path, pathlen, "/run/memif.sock");
	m->abstract = true;
	m->owner_uid = (uid_t)-1;
	m->owner_gid = (gid_t)-1;
	m->log2 = 10;
	m->bsize = 2048;
	strtok_r(buf, ",", &save); /* the device's name */
	while ((kv = strtok_r(NULL, ",", &save))) {
		char *val = strchr(kv, '='), *end;

		if (!val)
			goto bad;
		*val++ = '\0';
		v = strtoul(val, &end, 0);
		if (!strcmp(kv, "role")) {
			if (!strcmp(val, "server") || !strcmp(val, "master"))
				m->server = true;
			else if (!strcmp(val, "client") || !strcmp(val, "slave"))
				m->server = false;
			else
				goto bad;
		} else if (!strcmp(kv, "id")) {
			if (*end || v > UINT32_MAX)
				goto bad;
			m->id = (uint32_t)v;
		} else if (!strcmp(kv, "socket")) {
			if (!*val || strlen(val) >= pathlen)
				goto bad;
			snprintf(path, pathlen, "%s", val);
		} else if (!strcmp(kv, "socket-abstract")) {
			if (strcmp(val, "yes") && strcmp(val, "no"))
				goto bad;
			m->abstract = !strcmp(val, "yes");
		} else if (!strcmp(kv, "bsize")) {
			if (*end || v < 256 || v > 65535)
				goto bad;
			m->bsize = (uint32_t)v;
			bsize_set = true;
		} else if (!strcmp(kv, "rsize")) {
			if (*end || v < 1 || v > 14)
				goto bad;
			m->log2 = (uint8_t)v;
			rsize_set = true;
		} else if (!strcmp(kv, "mac")) {
			if (parse_mac(val, m->dev.mac) < 0)
				goto bad;
		} else if (!strcmp(kv, "secret")) {
			if (strlen(val) >= SECRET_SZ)
				goto bad;
			memcpy(m->secret, val, strlen(val));
		} else if (!strcmp(kv, "owner-uid")) {
			if (*end)
				goto bad;
			m->owner_uid = (uid_t)v;
		} else if (!strcmp(kv, "owner-gid")) {
			if (*end)
				goto bad;
			m->owner_gid = (gid_t)v;
		} else if (!strcmp(kv, "zero-copy")) {
			if (strcmp(val, "no") && strcmp(val, "yes"))
				goto bad;
		} else {
			goto bad;
		}
		continue;
bad:
		FS_ERR("FASTSOCK_DEV=%s: memif does not take '%s%s%s'; everything runs on the kernel",
		       c->dev, kv, val ? "=" : "", val ? val : "");
		return -1;
	}
	/* A frame of a larger MTU in one buffer, in a ring of about the same
	 * bytes (docs/configuration.md, FASTSOCK_MTU). */
	if (!bsize_set && c->mtu + 18 > m->bsize)
		m->bsize = (c->mtu + 18 + 1023) & ~1023u;
	if (!rsize_set && m->bsize > 2048)
		m->log2 = m->bsize > 4096 ? 8 : 9;
	return 0;
}

static int
listen_socket(struct mif *m, const char *path)
{
	int fd = (int)syscall(SYS_socket, AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -1;
	if (syscall(SYS_bind, fd, &m->addr, m->addrlen) < 0 || syscall(SYS_listen, fd, 8) < 0) {
		int e = errno;

		sys_close(fd);
		errno = e;
		return -1;
	}
	if (!m->abstract && (m->owner_uid != (uid_t)-1 || m->owner_gid != (gid_t)-1) &&
	    chown(path, m->owner_uid, m->owner_gid) < 0)
		FS_WARN("memif: chown %s: %s", path, strerror(errno));
	return move_high(fd);
}

struct fs_dev *
fs_memif_open(const struct fs_config *c)
{
	struct mif *m = fs_obj_calloc(sizeof(*m));
	char path[sizeof(m->addr.sun_path)];
	size_t plen;

	if (!m)
		return NULL;
	m->listen_fd = m->pass[0] = m->pass[1] = -1;
	m->uid = geteuid();
	if (parse_args(m, c, path, sizeof(path) - 1) < 0)
		goto fail;
	if (c->mac_set) {
		memcpy(m->dev.mac, c->mac, 6);
	} else if (!memcmp(m->dev.mac, "\0\0\0\0\0", 6)) {
		/* A locally administered unicast address of our own. */
		if (getrandom(m->dev.mac, 6, GRND_NONBLOCK) != 6) {
			uint64_t t = fs_now_ns() ^ (uint64_t)getpid() << 32;

			memcpy(m->dev.mac, &t, 6);
		}
		m->dev.mac[0] = (uint8_t)((m->dev.mac[0] & 0xfc) | 0x02);
	}
	m->addr.sun_family = AF_UNIX;
	plen = strlen(path);
	if (m->abstract) {
		memcpy(m->addr.sun_path + 1, path, plen);
		m->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + plen);
	} else {
		memcpy(m->addr.sun_path, path, plen);
		m->addrlen = (socklen_t)sizeof(m->addr);
	}
	m->dev.ops = &mif_ops;
	m->dev.mtu = (uint16_t)c->mtu;
	m->dev.lossless = true;
	m->dev.forkable = true;
	m->dev.tx_full_at = TX_BATCH;
	if (pool_init(m, c) < 0) {
		FS_ERR("memif: no memory for %u buffers; everything runs on the kernel", c->mbufs);
		goto fail;
	}
	if (syscall(SYS_socketpair, AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0,
		    m->pass) < 0) {
		FS_ERR("memif: socketpair: %s; everything runs on the kernel", strerror(errno));
		goto fail;
	}
	m->pass[0] = move_high(m->pass[0]);
	m->pass[1] = move_high(m->pass[1]);
	if (m->server) {
		m->resv = mmap(NULL, RESERVE_LEN, PROT_READ,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (m->resv == MAP_FAILED) {
			m->resv = NULL;
			FS_ERR("memif: no address space for the client's memory; everything runs "
			       "on the kernel");
			goto fail;
		}
		m->listen_fd = listen_socket(m, path);
		if (m->listen_fd < 0) {
			int e = errno;

			FS_ERR("FASTSOCK_DEV=%s: cannot listen at %s%s: %s (%s); everything runs on "
			       "the kernel",
			       c->dev, m->abstract ? "@" : "", path, strerror(e),
			       e == EADDRINUSE ? "another memif server uses that socket: give each its own"
			       : m->abstract  ? "a name of at most 107 bytes"
					      : "its directory must exist and be writable by this user, "
						"or leave out socket-abstract=no for an abstract socket");
			goto fail;
		}
		FS_INFO("memif: server at %s%s, waiting for a client", m->abstract ? "@" : "", path);
		return &m->dev;
	}
	if (client_region(m) < 0) {
		FS_ERR("memif: cannot make the shared region: %s; everything runs on the kernel",
		       strerror(errno));
		goto fail;
	}
	if (client_connect(m) < 0) {
		if (errno == ECONNREFUSED || errno == ENOENT)
			FS_ERR("FASTSOCK_DEV=%s: no memif server listening at its socket (start the "
			       "server side first; both ends need the same socket= and "
			       "socket-abstract=); everything runs on the kernel",
			       c->dev);
		else
			FS_ERR("FASTSOCK_DEV=%s: the memif handshake with the server failed; "
			       "everything runs on the kernel",
			       c->dev);
		goto fail;
	}
	return &m->dev;
fail:
	/* What start made is given back (the fds; the memory stays the
	 * family's, which does not run). */
	sys_close(m->listen_fd);
	sys_close(m->pass[0]);
	sys_close(m->pass[1]);
	mine_release(m);
	sys_close(mine.efd_rx);
	sys_close(mine.efd_tx);
	while (mine.nreg)
		sys_close(mine.reg[--mine.nreg]);
	mine.efd_rx = mine.efd_tx = -1;
	if (m->own)
		munmap(m->own, m->own_len);
	if (m->resv)
		munmap(m->resv, RESERVE_LEN);
	return NULL;
}
