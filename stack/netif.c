/* lwIP glue: the netif over the device, lwIP's start-up and timers.
 * lwIP headers only (no DPDK: their headers clash). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <lwip/etharp.h>
#include <lwip/igmp.h>
#include <lwip/inet_chksum.h>
#include <lwip/init.h>
#include <lwip/ip.h>
#include <lwip/ip4.h>
#include <lwip/mem.h>
#include <lwip/netif.h>
#include <lwip/pbuf.h>
#include <lwip/priv/tcp_priv.h>
#include <lwip/sys.h>
#include <lwip/tcp.h>
#include <lwip/timeouts.h>
#include <netif/ethernet.h>

#include "csum.h"
#include "log.h"
#include "lwip_pin.h"
#include "pcbmap.h"
#include "publish.h"
#include "shared.h"
#include "stack.h"

static struct netif nif;
static struct fs_dev *dev;

/* lwIP sums every checksum it computes or verifies with LWIP_CHKSUM
 * (lwipopts.h): this one. lwIP's own adds one 16-bit word a step; on a TCP
 * stream it was 40% of the receiver's time. Same contract: the folded,
 * uncomplemented sum of the bytes as 16-bit words in memory order. */
uint16_t
fs_lwip_chksum(const void *data, int len)
{
	return len > 0 ? fs_csum_raw(data, (size_t)len) : 0;
}

/* LWIP_CHKSUM_COPY (lwipopts.h): the sum tcp_write keeps with a segment
 * for its checksum, which lwIP reads only where the netif generates TCP
 * checksums: not on a link that cannot corrupt (memif, nif_gen). There
 * the copy alone (docs/benchmarks.md, 2026-12-07 09:45). */
uint16_t
fs_lwip_chksum_copy(void *dst, const void *src, uint16_t len)
{
	memcpy(dst, src, len);
	return dev->lossless ? 0 : fs_lwip_chksum(dst, len);
}

/* lwIP's LWIP_PLATFORM_ASSERT (arch/cc.h). */
void
fs_lwip_assert(const char *msg, const char *file, int line)
{
	FS_ERR("lwIP assertion \"%s\" failed at %s:%d", msg, file, line);
	abort();
}

/* The TCP timestamp clock of the direct send path (fs_nif_tcp_send): the
 * latest millisecond any clock read under the lock saw (sys_now, the poll
 * rounds' every 64th: fs_nif_clock), instead of a clock read of its own
 * per segment (its cost: docs/benchmarks.md, 2026-12-07 23:30). Never
 * behind what lwIP's own path sent (both take the latest), so the peer
 * sees timestamps that never go back (PAWS); it ticks at least as often
 * as the stack polls, and nobody measures with it here (lwIP times RTTs
 * with its own counters, a Linux peer its own clock through our echo).
 * Under the lock. */
static uint32_t ts_ms;

void
fs_nif_clock(uint64_t now_ns)
{
	uint32_t ms = (uint32_t)(now_ns / 1000000u);

	if ((int32_t)(ms - ts_ms) > 0)
		ts_ms = ms;
}

/* lwIP's clock (NO_SYS): milliseconds, for its timers and timestamps. */
u32_t
sys_now(void)
{
	fs_nif_clock(fs_now_ns());
	return ts_ms;
}

/* LWIP_RAND (lwipopts.h): xorshift64*, seeded per process at start-up, so
 * that the program's own rand() sequence is neither used nor moved. */
static uint64_t rand_state;

uint32_t
fs_nif_rand(void)
{
	uint64_t x = rand_state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rand_state = x;
	return (uint32_t)((x * 0x2545f4914f6cdd1dull) >> 32);
}

/* lwIP's heap (mem_clib_malloc and friends, lwipopts.h), which also backs
 * its pools (MEMP_MEM_MALLOC), and the stack's own objects: every segment,
 * pbuf, pcb and socket is an allocation and a free (two pairs per TCP
 * message each way). It needs no lock of its own: it runs only under
 * fs_stk->lock (stack.h). Blocks come from the family's shared arena
 * (shared.h; malloc's when there is none) and are never given back: a
 * freed block waits on its size class's list for the next allocation of
 * that class, in whichever process of the family makes it. Classes:
 * shared.h's fs_size_class, up to FS_SIZE_LIMIT. A 16-byte header
 * keeps malloc's alignment and records the class. Under
 * AddressSanitizer a block on a free list is poisoned: a use after free
 * is still caught. */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define HEAP_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define HEAP_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define HEAP_POISON(p, n) ((void)(p), (void)(n))
#define HEAP_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

struct heap_hdr {
	uint32_t cls;
	uint32_t pad[3];
};

struct heap_free {
	struct heap_free *next;
};

static struct heap_free *heap[FS_SIZE_CLASSES];
uint64_t fs_heap_used; /* bytes of blocks handed out, headers included */

_Static_assert(sizeof(struct heap_hdr) == 16, "the header keeps malloc's alignment");

void *
fs_heap_alloc(size_t size)
{
	struct heap_hdr *h;
	size_t n;
	uint32_t c;

	if (size > FS_SIZE_LIMIT)
		return NULL;
	c = fs_size_class(size);
	n = sizeof(*h) + fs_class_size(c);
	if (heap[c]) {
		h = (struct heap_hdr *)heap[c];
		HEAP_UNPOISON(h, n);
		heap[c] = heap[c]->next;
	} else if (!(h = fs_shared_take(n)) && (fs_shared_on() || !(h = malloc(n)))) {
		return NULL;
	}
	h->cls = c;
	fs_heap_used += n;
	return h + 1;
}

void *
fs_heap_calloc(size_t count, size_t size)
{
	void *m;

	if (size && count > SIZE_MAX / size)
		return NULL;
	if ((m = fs_heap_alloc(count * size)))
		memset(m, 0, count * size);
	return m;
}

void
fs_heap_free(void *mem)
{
	struct heap_hdr *h;
	struct heap_free *f;
	uint32_t c;

	if (!mem)
		return;
	h = (struct heap_hdr *)mem - 1;
	f = (struct heap_free *)h;
	c = h->cls;
	fs_heap_used -= sizeof(*h) + fs_class_size(c);
	f->next = heap[c];
	heap[c] = f;
	/* Poison is per process: in a family, a block one member frees and
	 * another takes would stay poisoned for the first (fs_heap_share). */
	if (!fs_stk || fs_stk->family_n <= 1)
		HEAP_POISON((char *)h + sizeof(*f), sizeof(*h) + fs_class_size(c) - sizeof(*f));
}

/* Before a fork: the free blocks' poison goes, and while the family has
 * several members no block is poisoned again (fs_heap_free). Under the
 * lock. */
void
fs_heap_share(void)
{
#if defined(__SANITIZE_ADDRESS__)
	struct heap_free *f;
	uint32_t c;

	for (c = 0; c < FS_SIZE_CLASSES; c++)
		for (f = heap[c]; f; f = f->next)
			HEAP_UNPOISON(f, sizeof(struct heap_hdr) + fs_class_size(c));
#endif
}

uint64_t
fs_now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* Zero-copy receive: the pbuf points into the device buffer; its custom
 * part lives in the buffer's scratch space, and freeing the pbuf gives the
 * buffer back to the device. */
struct rx_pbuf {
	struct pbuf_custom pc;
	void *handle;
};

_Static_assert(sizeof(struct rx_pbuf) <= FS_RX_SCRATCH, "rx_pbuf must fit the scratch space");

/* Device buffers held zero-copy in socket queues. Past half the pool the
 * stack copies instead, so that sockets that are not read cannot starve
 * the receive ring of buffers (the ring itself takes 1024). */
static unsigned held, hold_max;

static void
rx_pbuf_free(struct pbuf *p)
{
	struct rx_pbuf *rp = (struct rx_pbuf *)p;

	__atomic_sub_fetch(&held, 1, __ATOMIC_RELAXED);
	dev->ops->rx_free(dev, rp->handle);
}

void
fs_nif_pbuf_release(struct pbuf *p)
{
	/* Held by nobody else, so nobody changes it under us; the device's
	 * rx_free is safe from any thread. */
	if (!p->next && p->ref == 1 && (p->flags & PBUF_FLAG_IS_CUSTOM) &&
	    ((struct pbuf_custom *)p)->custom_free_function == rx_pbuf_free) {
		rx_pbuf_free(p);
		return;
	}
	fs_stk_lock();
	pbuf_free(p);
	fs_stk_unlock();
}

/* The netif's checksum switches (LWIP_CHECKSUM_CTRL_PER_NETIF): every
 * checksum generated; the checks set per frame by fs_nif_input. */
#define NIF_GEN                                                                    \
	(NETIF_CHECKSUM_GEN_IP | NETIF_CHECKSUM_GEN_UDP | NETIF_CHECKSUM_GEN_TCP | \
	 NETIF_CHECKSUM_GEN_ICMP)
/* What this netif generates: on a link that cannot corrupt (memif) no
 * TCP or UDP checksum, as the receiver (a fastsock stack: check_frame)
 * verifies none there either; the IPv4 header's always (check_frame
 * verifies it on every link). Set by fs_nif_init. */
static uint16_t nif_gen = NIF_GEN;
#define NIF_CHECK_ICMP NETIF_CHECKSUM_CHECK_ICMP
#define NIF_CHECK_L4 (NIF_CHECK_ICMP | NETIF_CHECKSUM_CHECK_UDP | NETIF_CHECKSUM_CHECK_TCP)
#define NIF_CHECK_ALL (NIF_CHECK_L4 | NETIF_CHECKSUM_CHECK_IP)

/* FRAME_OK_L4: the IPv4 header and the TCP or UDP checksum were verified
 * here, or need no verifying (TCP on a lossless link, as the kernel's
 * loopback); FRAME_OK_IP: the IPv4 header only; FRAME_OK: nothing (not
 * IPv4). */
enum verdict { FRAME_OK, FRAME_OK_IP, FRAME_OK_L4, FRAME_BAD, FRAME_BAD_CSUM };

/* Checks what lwIP would drop without telling anyone (its statistics are
 * compiled out: LWIP_STATS 0), so that the drop can be counted: an
 * IPv4 header that is truncated or inconsistent, a bad header checksum, a
 * UDP datagram whose length or checksum is wrong, a TCP segment whose
 * checksum is wrong. Other ethertypes pass. */
static enum verdict
check_frame(const uint8_t *b, uint16_t len)
{
	const uint8_t *ip = b + SIZEOF_ETH_HDR, *udp;
	unsigned ihl, tot, ulen;
	uint32_t sum;

	if (len < SIZEOF_ETH_HDR)
		return FRAME_BAD;
	if (b[12] != 0x08 || b[13] != 0x00)
		return FRAME_OK;
	len -= SIZEOF_ETH_HDR;
	if (len < 20 || (ip[0] >> 4) != 4)
		return FRAME_BAD;
	ihl = (ip[0] & 15u) * 4;
	tot = (unsigned)(ip[2] << 8 | ip[3]);
	if (ihl < 20 || ihl > len || tot < ihl || tot > len)
		return FRAME_BAD;
	if (fs_csum_fold(fs_csum_add(0, ip, ihl)) != 0xffff)
		return FRAME_BAD_CSUM;
	if ((ip[6] & 0x3f) || ip[7]) /* a fragment: lwIP reassembles it */
		return FRAME_OK_IP;
	if (ip[9] == 6) {
		/* A link that cannot corrupt (memif) needs no TCP checksum
		 * verified, as the kernel's loopback. */
		if (dev->lossless)
			return FRAME_OK_L4;
		if (tot - ihl < 20)
			return FRAME_BAD;
		sum = fs_csum_add(fs_csum_pseudo(ip, 6, tot - ihl), ip + ihl, tot - ihl);
		return fs_csum_fold(sum) == 0xffff ? FRAME_OK_L4 : FRAME_BAD_CSUM;
	}
	if (ip[9] != 17)
		return FRAME_OK_IP;
	udp = ip + ihl;
	if (tot - ihl < 8)
		return FRAME_BAD;
	ulen = (unsigned)(udp[4] << 8 | udp[5]);
	if (ulen < 8 || ulen > tot - ihl)
		return FRAME_BAD;
	if (udp[6] == 0 && udp[7] == 0) /* no checksum: allowed in IPv4 */
		return FRAME_OK_L4;
	sum = fs_csum_add(fs_csum_pseudo(ip, 17, ulen), udp, ulen);
	return fs_csum_fold(sum) == 0xffff ? FRAME_OK_L4 : FRAME_BAD_CSUM;
}

/* The next option of the TCP header t (hlen bytes) from offset *i (20
 * for the first): its offset, with its kind at t[at] and its length at
 * t[at + 1], and *i moved past it; 0 at the end of the options or at one
 * whose length does not fit, where reading stops (as lwIP's does). */
static unsigned
tcp_opt_next(const uint8_t *t, unsigned hlen, unsigned *i)
{
	unsigned at;

	while (*i < hlen && t[*i] == 1) /* NOP */
		(*i)++;
	at = *i;
	if (at + 1 >= hlen || t[at] == 0 || t[at + 1] < 2 || at + t[at + 1] > hlen)
		return 0;
	*i = at + t[at + 1];
	return at;
}

/* lwIP 2.1.3 applies an MSS option found in any segment (tcp_parseopt
 * runs for every segment in every state); RFC 9293 sends it in SYNs only
 * and Linux ignores it elsewhere. A peer could so shrink a live
 * connection's MSS at will, down to 1 byte, and with it break tcp_write's
 * bookkeeping of the segments it queued: lwIP's assertion "mss_local is
 * too small" aborted the program (found by tests/fuzz fuzz_frames' live
 * connection). Here such an option becomes NOPs, the checksum updated
 * for it (RFC 1624), in a whole segment or the first fragment of one
 * (lwIP verifies the reassembled segment). */
static void
late_mss_off(uint8_t *b, uint16_t len)
{
	uint8_t *ip = b + SIZEOF_ETH_HDR, *t;
	unsigned ihl = (ip[0] & 15u) * 4, hlen, i = 20, at;

	if (SIZEOF_ETH_HDR + ihl + 20u > len)
		return;
	t = ip + ihl;
	hlen = (t[12] >> 4) * 4u;
	if (hlen <= 20 || (t[13] & TCP_SYN) || SIZEOF_ETH_HDR + ihl + hlen > len)
		return;
	/* Most segments with options carry only the timestamp, laid out as
	 * every stack does (NOP, NOP, kind 8 length 10): nothing to look at. */
	if (hlen == 32 && t[20] == 1 && t[21] == 1 && t[22] == 8 && t[23] == 10)
		return;
	while ((at = tcp_opt_next(t, hlen, &i))) {
		unsigned lo = at & ~1u, hi = (i + 1) & ~1u;
		uint16_t old, hc;

		if (t[at] != 2)
			continue;
		old = fs_csum_fold(fs_csum_add(0, t + lo, hi - lo));
		hc = (uint16_t)(t[16] << 8 | t[17]);
		memset(t + at, 1, i - at);
		hc = (uint16_t)~fs_csum_fold((uint32_t)(uint16_t)~hc + (uint16_t)~old +
					     fs_csum_fold(fs_csum_add(0, t + lo, hi - lo)));
		t[16] = (uint8_t)(hc >> 8);
		t[17] = (uint8_t)hc;
	}
}

/* The first fragment of an IPv4 datagram (offset 0, more to come). */
static bool
first_fragment(const uint8_t *b)
{
	const uint8_t *ip = b + SIZEOF_ETH_HDR;

	return (ip[6] & 0x20) && (ip[6] & 0x1f) == 0 && ip[7] == 0;
}

/* An IPv4 TCP segment; the frame passed check_frame. */
static bool
is_tcp(const uint8_t *b)
{
	return b[12] == 0x08 && b[13] == 0x00 && b[SIZEOF_ETH_HDR + 9] == 6;
}

/* A SYN whose 4-tuple is in TIME_WAIT here (fs_tcp_syn_time_wait): its
 * sequence number and timestamp option, if any, read from the header of
 * n bytes at tcp. */
static void
syn_time_wait(const uint8_t *ip, const uint8_t *tcp, unsigned n)
{
	unsigned hlen = (tcp[12] >> 4) * 4u, i = 20, at;
	uint32_t src, dst, seq, tsval = 0;
	bool ts = false;

	if (hlen > n)
		return;
	while ((at = tcp_opt_next(tcp, hlen, &i)))
		if (tcp[at] == 8 && tcp[at + 1] == 10) {
			ts = true;
			tsval = (uint32_t)tcp[at + 2] << 24 | (uint32_t)tcp[at + 3] << 16 |
				(uint32_t)tcp[at + 4] << 8 | tcp[at + 5];
		}
	memcpy(&src, ip + 12, 4);
	memcpy(&dst, ip + 16, 4);
	seq = (uint32_t)tcp[4] << 24 | (uint32_t)tcp[5] << 16 | (uint32_t)tcp[6] << 8 | tcp[7];
	fs_tcp_syn_time_wait(src, (uint16_t)(tcp[0] << 8 | tcp[1]), dst,
			     (uint16_t)(tcp[2] << 8 | tcp[3]), seq, ts, tsval);
}

/* A received SYN without ACK to a listener whose accept queue is full is
 * dropped here, as the kernel drops it (the peer retries later). The
 * frame passed check_frame. */
static bool
syn_refused(const uint8_t *b, uint16_t len)
{
	const uint8_t *ip = b + SIZEOF_ETH_HDR, *tcp;
	unsigned ihl;
	uint32_t dst;

	if (!is_tcp(b))
		return false;
	ihl = (ip[0] & 15u) * 4;
	if (len < SIZEOF_ETH_HDR + ihl + 20)
		return false;
	tcp = ip + ihl;
	if ((tcp[13] & 0x12) != 0x02)
		return false;
	memcpy(&dst, ip + 16, 4);
	syn_time_wait(ip, tcp, (unsigned)(b + len - tcp));
	return !fs_tcp_syn_admit(dst, (uint16_t)(tcp[2] << 8 | tcp[3]));
}

uint64_t fs_tcp_direct_in;

/* An in-order data segment for an established connection, with nothing
 * unusual about it or the connection (header prediction, RFC 1323's
 * "fast path"): what tcp_input and tcp_receive would do for it, done in
 * a few tests and stores (they took about 1,000 instructions a segment).
 * The segment: no options (our lwIP build negotiates no timestamps or
 * SACK), ACK with or without PSH, data, exactly at rcv_nxt and inside the
 * window, an ACK between lastack and snd_nxt, a window that is not zero.
 * The connection: ESTABLISHED, nothing out of order, refused or pending
 * close, not in fast recovery or a timeout's retransmission, no persist
 * timer. lwIP's own order is kept: window update, ACK of new data
 * (congestion window, acked segments freed, the send buffer, the RTT),
 * then the data, the delayed-ACK flag, the sent and recv callbacks, and
 * tcp_output. Returns false, having changed nothing, when any of it does
 * not hold (tcp_input then takes the segment). Consumes p when it returns
 * true. */
uint64_t fs_tcp_fast_in;

/* Connections looked at for a segment's: each one served moves to the head
 * of lwIP's list, so the busy ones are found first. */
#define FAST_PCB_SCAN 8

static bool
tcp_fast_input(struct pbuf *p, const uint8_t *ip, uint16_t ihl, uint16_t tot, uint32_t src,
	       uint32_t dst)
{
	const struct tcp_hdr *h = (const struct tcp_hdr *)(ip + ihl);
	const uint8_t *o = (const uint8_t *)(h + 1);
	struct tcp_pcb *pcb, *prev = NULL;
	uint16_t sport, dport, hf = ntohs(h->_hdrlen_rsvd_flags), hlen = (uint16_t)(hf >> 12) * 4;
	uint32_t seq, ack, wnd, len, acked = 0, tsval = 0;
	unsigned n = 0;
	bool ts;
	err_t e;

	/* No options, or only the timestamp in the layout every stack sends
	 * (two NOPs first, RFC 7323's appendix A). */
	if ((hf & 0x0fffu & ~TCP_PSH) != TCP_ACK || tot < ihl + hlen + 1u)
		return false;
	if (hlen == TCP_HLEN)
		ts = false;
	else if (hlen == TCP_HLEN + LWIP_TCP_OPT_LEN_TS_OUT && o[0] == 1 && o[1] == 1 && o[2] == 8 && o[3] == 10)
		ts = true;
	else
		return false;
	len = tot - ihl - hlen;
	sport = ntohs(h->src);
	dport = ntohs(h->dest);
	for (pcb = tcp_active_pcbs; pcb; prev = pcb, pcb = pcb->next) {
		if (pcb->remote_port == sport && pcb->local_port == dport &&
		    ip4_addr_get_u32(ip_2_ip4(&pcb->remote_ip)) == src &&
		    ip4_addr_get_u32(ip_2_ip4(&pcb->local_ip)) == dst && IP_IS_V4(&pcb->remote_ip))
			break;
		if (++n == FAST_PCB_SCAN)
			return false;
	}
	if (!pcb)
		return false;
	seq = ntohl(h->seqno);
	ack = ntohl(h->ackno);
	wnd = SND_WND_SCALE(pcb, ntohs(h->wnd));
	if (pcb->state != ESTABLISHED || seq != pcb->rcv_nxt || len > pcb->rcv_wnd ||
	    ts != !!(pcb->flags & TF_TIMESTAMP) ||
	    pcb->ooseq || pcb->refused_data || !pcb->recv || wnd == 0 || pcb->persist_backoff ||
	    (pcb->flags & (TF_RXCLOSED | TF_CLOSEPEND | TF_INFR | TF_RTO | TF_FIN)) ||
	    !TCP_SEQ_BETWEEN(ack, pcb->lastack, pcb->snd_nxt))
		return false;

	if (prev) { /* to the head, as tcp_input moves it */
		prev->next = pcb->next;
		pcb->next = tcp_active_pcbs;
		tcp_active_pcbs = pcb;
	}
	/* As tcp_parseopt: the peer's clock is echoed from the segment that
	 * our last ACK asked for. */
	if (ts && TCP_SEQ_BETWEEN(pcb->ts_lastacksent, seq, seq + len)) {
		memcpy(&tsval, o + 4, 4);
		pcb->ts_recent = ntohl(tsval);
	}
	pcb->tmr = tcp_ticks;
	pcb->keep_cnt_sent = 0;
	pcb->persist_probe = 0;
	if (TCP_SEQ_LT(pcb->snd_wl1, seq) || (pcb->snd_wl1 == seq && TCP_SEQ_LT(pcb->snd_wl2, ack)) ||
	    (pcb->snd_wl2 == ack && wnd > pcb->snd_wnd)) {
		pcb->snd_wnd = (tcpwnd_size_t)wnd;
		if (pcb->snd_wnd_max < pcb->snd_wnd)
			pcb->snd_wnd_max = pcb->snd_wnd;
		pcb->snd_wl1 = seq;
		pcb->snd_wl2 = ack;
	}
	pcb->dupacks = 0;
	if (ack != pcb->lastack) {
		tcpwnd_size_t a = (tcpwnd_size_t)(ack - pcb->lastack);

		pcb->nrtx = 0;
		pcb->rto = (s16_t)((pcb->sa >> 3) + pcb->sv);
		pcb->lastack = ack;
		if (pcb->cwnd < pcb->ssthresh) {
			TCP_WND_INC(pcb->cwnd, LWIP_MIN(a, (tcpwnd_size_t)(2 * pcb->mss)));
		} else {
			TCP_WND_INC(pcb->bytes_acked, a);
			if (pcb->bytes_acked >= pcb->cwnd) {
				pcb->bytes_acked = (tcpwnd_size_t)(pcb->bytes_acked - pcb->cwnd);
				TCP_WND_INC(pcb->cwnd, pcb->mss);
			}
		}
		while (pcb->unacked &&
		       TCP_SEQ_LEQ(ntohl(pcb->unacked->tcphdr->seqno) + TCP_TCPLEN(pcb->unacked),
				   ack)) {
			struct tcp_seg *done = pcb->unacked;

			pcb->unacked = done->next;
			pcb->snd_queuelen = (u16_t)(pcb->snd_queuelen - pbuf_clen(done->p));
			acked += done->len;
			tcp_seg_free(done);
		}
		pcb->rtime = pcb->unacked ? 0 : -1;
		pcb->polltmr = 0;
#if TCP_OVERSIZE
		if (!pcb->unsent)
			pcb->unsent_oversize = 0;
#endif
		pcb->snd_buf = (tcpwnd_size_t)(pcb->snd_buf + acked);
	}
	if (pcb->rttest && TCP_SEQ_LT(pcb->rtseq, ack)) {
		s16_t m = (s16_t)(tcp_ticks - pcb->rttest);

		m = (s16_t)(m - (pcb->sa >> 3));
		pcb->sa = (s16_t)(pcb->sa + m);
		if (m < 0)
			m = (s16_t)-m;
		m = (s16_t)(m - (pcb->sv >> 2));
		pcb->sv = (s16_t)(pcb->sv + m);
		pcb->rto = (s16_t)((pcb->sa >> 3) + pcb->sv);
		pcb->rttest = 0;
	}
	pcb->rcv_nxt = seq + len;
	pcb->rcv_wnd = (tcpwnd_size_t)(pcb->rcv_wnd - len);
	tcp_update_rcv_ann_wnd(pcb);
	if (pcb->flags & TF_ACK_DELAY) {
		tcp_clear_flags(pcb, TF_ACK_DELAY);
		tcp_set_flags(pcb, TF_ACK_NOW);
	} else {
		tcp_set_flags(pcb, TF_ACK_DELAY);
	}
	pbuf_remove_header(p, (u16_t)(SIZEOF_ETH_HDR + ihl + hlen));
	if (hf & TCP_PSH)
		p->flags |= PBUF_FLAG_PUSH;
	fs_tcp_fast_in++;
	/* The callbacks as tcp_input makes them: output deferred meanwhile. */
	tcp_input_pcb = pcb;
	while (acked && pcb->sent) {
		u16_t k = acked > 0xffff ? 0xffff : (u16_t)acked;

		acked -= k;
		if (pcb->sent(pcb->callback_arg, pcb, k) == ERR_ABRT) {
			tcp_input_pcb = NULL;
			pbuf_free(p);
			return true;
		}
	}
	e = pcb->recv(pcb->callback_arg, pcb, p, ERR_OK);
	tcp_input_pcb = NULL;
	if (e == ERR_ABRT)
		return true;
	if (e != ERR_OK)
		pcb->refused_data = p;
	tcp_output(pcb);
	return true;
}

/* A TCP segment to our own address and MAC, unfragmented, its IPv4
 * header verified by check_frame, from a unicast source: handed to
 * tcp_input as ethernet_input and ip4_input would hand it (they cost about
 * 170 instructions a segment, for checks made already). Anything else
 * takes lwIP's way. Consumes p when it returns true. */
/* Whether frame p (checked by check_frame) carries an unfragmented IPv4
 * packet of protocol proto to our own address and MAC from a unicast
 * source, which may then skip ethernet_input's and ip4_input's checks:
 * *src and *dst receive the addresses, and p loses its Ethernet padding. */
static inline __attribute__((always_inline)) bool
for_us_direct(struct pbuf *p, uint8_t proto, uint32_t *src, uint32_t *dst)
{
	const uint8_t *b = p->payload, *ip = b + SIZEOF_ETH_HDR;
	uint32_t self = ip4_addr_get_u32(netif_ip4_addr(&nif));
	uint32_t bcast = self | ~ip4_addr_get_u32(netif_ip4_netmask(&nif));
	unsigned tot = (unsigned)(ip[2] << 8 | ip[3]);
	uint32_t mac4, our4;
	uint16_t mac2, our2;

	/* The destination MAC as two loads (a call to memcmp cost more). */
	memcpy(&mac4, b, 4);
	memcpy(&mac2, b + 4, 2);
	memcpy(&our4, nif.hwaddr, 4);
	memcpy(&our2, nif.hwaddr + 4, 2);
	if (b[12] != 0x08 || b[13] != 0x00 || ip[9] != proto || (ip[6] & 0x3f) || ip[7] ||
	    mac4 != our4 || mac2 != our2)
		return false;
	memcpy(src, ip + 12, 4);
	memcpy(dst, ip + 16, 4);
	if (*dst != self || self == 0 || *src == bcast || *src == IPADDR_BROADCAST ||
	    ip4_addr_ismulticast((const ip4_addr_t *)src) || *src == 0)
		return false;
	if (p->tot_len > SIZEOF_ETH_HDR + tot) /* Ethernet padding */
		pbuf_realloc(p, (u16_t)(SIZEOF_ETH_HDR + tot));
	return true;
}

static bool
tcp_direct(struct pbuf *p)
{
	const uint8_t *b = p->payload, *ip = b + SIZEOF_ETH_HDR;
	uint16_t ihl = (uint16_t)((ip[0] & 15u) * 4), tot = (uint16_t)(ip[2] << 8 | ip[3]);
	uint32_t src, dst;

	if (!for_us_direct(p, 6, &src, &dst))
		return false;
	fs_pcb_front(src, (uint16_t)(ip[ihl] << 8 | ip[ihl + 1]), dst, (uint16_t)(ip[ihl + 2] << 8 | ip[ihl + 3]));
	if (tcp_fast_input(p, ip, ihl, tot, src, dst)) {
		fs_tcp_direct_in++;
		return true;
	}
	pbuf_remove_header(p, SIZEOF_ETH_HDR);
	ip_data.current_netif = &nif;
	ip_data.current_input_netif = &nif;
	ip_data.current_ip4_header = (const struct ip_hdr *)ip;
	ip_data.current_ip_header_tot_len = ihl;
	ip_addr_copy_from_ip4(ip_data.current_iphdr_src, *(const ip4_addr_t *)&src);
	ip_addr_copy_from_ip4(ip_data.current_iphdr_dest, *(const ip4_addr_t *)&dst);
	pbuf_remove_header(p, ihl);
	fs_tcp_direct_in++;
	tcp_input(p, &nif);
	ip_data.current_netif = NULL;
	ip_data.current_input_netif = NULL;
	ip_data.current_ip4_header = NULL;
	ip_data.current_ip_header_tot_len = 0;
	ip4_addr_set_any(ip4_current_src_addr());
	ip4_addr_set_any(ip4_current_dest_addr());
	return true;
}

uint64_t fs_udp_direct_in;

/* A UDP datagram to our own address and MAC, unfragmented, checked by
 * check_frame, from a unicast source: to its socket without lwIP's walk of
 * every UDP pcb (fs_udp_direct), or lwIP's way. Consumes p when it returns
 * true. */
static bool
udp_direct(struct pbuf *p)
{
	const uint8_t *ip = (const uint8_t *)p->payload + SIZEOF_ETH_HDR, *udp;
	unsigned ihl = (ip[0] & 15u) * 4;
	uint32_t src, dst;

	if (!for_us_direct(p, 17, &src, &dst))
		return false;
	udp = ip + ihl;
	if (!fs_udp_direct(p, SIZEOF_ETH_HDR + ihl + 8, SIZEOF_ETH_HDR + ihl + (unsigned)(udp[4] << 8 | udp[5]),
			   src, (uint16_t)(udp[0] << 8 | udp[1]), dst, (uint16_t)(udp[2] << 8 | udp[3])))
		return false;
	fs_udp_direct_in++;
	return true;
}

void
fs_nif_input(struct fs_rxframe *f)
{
	struct pbuf *p;
	enum verdict v;
	bool tcp;

	if (f->len > dev->mtu + SIZEOF_ETH_HDR + 4 ||
	    (v = check_frame(f->data, f->len)) >= FRAME_BAD) {
		if (f->len > dev->mtu + SIZEOF_ETH_HDR + 4 || v == FRAME_BAD)
			fs_stk->drops.rx_bad_frame++;
		else
			fs_stk->drops.rx_bad_csum++;
		dev->ops->rx_free(dev, f->handle);
		return;
	}
	if (fs_unlikely(syn_refused(f->data, f->len))) { /* counted by reason */
		dev->ops->rx_free(dev, f->handle);
		return;
	}
	tcp = is_tcp(f->data);
	if (tcp && (v == FRAME_OK_L4 || (v == FRAME_OK_IP && first_fragment(f->data))))
		late_mss_off(f->data, f->len);
	/* A link that cannot lose frames (memif) needs no loss recovery. */
	tcp = tcp && !dev->lossless;
	if (f->scratch && ((uintptr_t)f->scratch & 7) == 0 &&
	    __atomic_load_n(&held, __ATOMIC_RELAXED) < hold_max) {
		struct rx_pbuf *rp = f->scratch;

		__atomic_add_fetch(&held, 1, __ATOMIC_RELAXED);
		rp->pc.custom_free_function = rx_pbuf_free;
		rp->handle = f->handle;
		p = pbuf_alloced_custom(PBUF_RAW, f->len, PBUF_REF, &rp->pc, f->data, f->len);
	} else {
		p = pbuf_alloc(PBUF_RAW, f->len, PBUF_RAM);
		if (p)
			memcpy(p->payload, f->data, f->len);
		dev->ops->rx_free(dev, f->handle);
	}
	if (!p) {
		fs_stk->drops.rx_nomem++;
		return;
	}
	/* lwIP verifies what check_frame did not: the IPv4 header of a frame
	 * that is not IPv4, the TCP or UDP checksum of a fragment (lwIP checks
	 * the datagram it reassembles), ICMP's always. */
	NETIF_SET_CHECKSUM_CTRL(&nif, nif_gen | (v == FRAME_OK_L4   ? NIF_CHECK_ICMP
						 : v == FRAME_OK_IP ? NIF_CHECK_L4
								    : NIF_CHECK_ALL));
	if (!(v == FRAME_OK_L4 && (tcp_direct(p) || udp_direct(p)))) {
		fs_udp_order_moved();
		if (nif.input(p, &nif) != ERR_OK) {
			pbuf_free(p);
			return;
		}
	}
	if (tcp)
		fs_tcp_after_input();
}

/* Device ring and queue full: refuse rather than drop. TCP keeps the
 * segment and sends it again once the device drains (fs_tcp_kick). */
static bool
tx_refused(void)
{
	if (fs_unlikely(dev->tx_full_at && dev->tx_pending >= dev->tx_full_at) &&
	    dev->ops->tx_flush(dev) >= dev->tx_full_at) {
		fs_stk->tx_blocked = true;
		fs_stk->tx_refused++;
		return true;
	}
	return false;
}

static err_t
linkoutput(struct netif *n, struct pbuf *p)
{
	void *handle;
	char *buf;

	(void)n;
	if (p->tot_len > dev->mtu + SIZEOF_ETH_HDR) {
		return ERR_BUF;
	}
	if (tx_refused())
		return ERR_MEM;
	buf = dev->ops->tx_alloc(dev, p->tot_len, &handle);
	if (!buf)
		return ERR_MEM;
	pbuf_copy_partial(p, buf, p->tot_len, 0);
	dev->ops->tx_queue(dev, handle);
	return ERR_OK;
}

/* Neighbours for the direct send paths (TCP's below, UDP's send_direct),
 * which skip lwIP's etharp_output: a small cache of lwIP's ARP table by
 * destination (a hit skips the next-hop choice too). An entry serves for
 * the second it was filled in only; the first frame to a destination in
 * each second takes lwIP's path, whose etharp_output asks the neighbour
 * again before its entry expires (a direct path alone would let a busy
 * neighbour's entry age out). */
#define NEIGH_SLOTS 16

static struct neigh {
	uint32_t ip;
	uint32_t epoch;
	uint8_t mac[6];
} neigh[NEIGH_SLOTS];
uint32_t fs_nif_neigh_epoch = 1; /* seconds; fs_nif_timers advances it */

static uint32_t
epoch_now(void)
{
	return (uint32_t)(fs_now_ns() / 1000000000u) + 1;
}

uint16_t fs_ip_id;

uint8_t *
fs_nif_headers(uint8_t *b, const uint8_t mac[6], uint8_t tos, uint8_t ttl, uint8_t proto,
	       uint16_t ip_len, uint32_t src, uint32_t dst)
{
	uint8_t *ip = b + SIZEOF_ETH_HDR;
	uint16_t c;

	memcpy(b, mac, 6);
	memcpy(b + 6, dev->mac, 6);
	b[12] = 0x08;
	b[13] = 0x00;
	ip[0] = 0x45;
	ip[1] = tos;
	ip[2] = (uint8_t)(ip_len >> 8);
	ip[3] = (uint8_t)ip_len;
	ip[4] = (uint8_t)(fs_ip_id >> 8);
	ip[5] = (uint8_t)fs_ip_id;
	fs_ip_id++;
	ip[6] = ip[7] = 0;
	ip[8] = ttl;
	ip[9] = proto;
	ip[10] = ip[11] = 0;
	memcpy(ip + 12, &src, 4);
	memcpy(ip + 16, &dst, 4);
	c = (uint16_t)~fs_csum_fold(fs_csum_add(0, ip, 20));
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
	return ip;
}

bool
fs_nif_neigh(uint32_t dst, uint8_t mac[6])
{
	struct neigh *e = &neigh[ntohl(dst) % NEIGH_SLOTS];

	if (fs_likely(e->ip == dst && e->epoch == fs_nif_neigh_epoch)) {
		memcpy(mac, e->mac, 6);
		return true;
	}
	return false;
}

/* Fills dst's cache entry from lwIP's ARP table, once lwIP's path (its
 * etharp_output) took the first frame of the second: filled by the
 * lookup that missed, the cache would send that very frame directly too,
 * lwIP would never ask again, and the entry would expire under load (seen:
 * a UDP sender's neighbour expired under load and never found again;
 * docs/benchmarks.md, 2026-12-07 10:15). */
void
fs_nif_neigh_learn(uint32_t dst)
{
	struct neigh *e = &neigh[ntohl(dst) % NEIGH_SLOTS];
	const ip4_addr_t *ipr;
	struct eth_addr *eth;
	ip4_addr_t a;
	uint32_t hop;

	if (!(hop = fs_next_hop(dst)))
		return;
	ip4_addr_set_u32(&a, hop);
	if (etharp_find_addr(&nif, &a, &eth, &ipr) >= 0) {
		e->ip = dst;
		e->epoch = fs_nif_neigh_epoch;
		memcpy(e->mac, eth->addr, 6);
	}
}

/* The netif's output (etharp_output's place): an IPv4 packet lwIP built,
 * to a unicast destination whose neighbour is in the cache, gets its
 * Ethernet header written straight into a device buffer and the packet
 * copied after it (skipping etharp_output's and ethernet_output's
 * lookups). Everything else goes etharp_output's way, as
 * does the first frame to each neighbour per second, so that lwIP
 * refreshes the entry. */
uint64_t fs_nif_out_direct;

static err_t
nif_output(struct netif *n, struct pbuf *p, const ip4_addr_t *dest)
{
	uint8_t mac[6], *b;
	void *handle;

	if (p->tot_len > n->mtu || !fs_nif_neigh(ip4_addr_get_u32(dest), mac)) {
		err_t e = etharp_output(n, p, dest);

		if (p->tot_len <= n->mtu)
			fs_nif_neigh_learn(ip4_addr_get_u32(dest));
		return e;
	}
	if (tx_refused())
		return ERR_MEM;
	b = dev->ops->tx_alloc(dev, (uint16_t)(SIZEOF_ETH_HDR + p->tot_len), &handle);
	if (!b)
		return ERR_MEM;
	memcpy(b, mac, 6);
	memcpy(b + 6, dev->mac, 6);
	b[12] = 0x08;
	b[13] = 0x00;
	pbuf_copy_partial(p, b + SIZEOF_ETH_HDR, p->tot_len, 0);
	dev->ops->tx_queue(dev, handle);
	fs_nif_out_direct++;
	return ERR_OK;
}

/* One segment of a program's send, built here instead of by tcp_write and
 * tcp_output (about 1,400 instructions for a small send, most of them
 * deciding what this decides in a few tests): a connection with nothing
 * queued unsent, its window and Nagle letting the whole write out in one
 * segment now, its neighbour cached. The segment is lwIP's in every way
 * that matters after it leaves: the same header tcp_output_segment writes
 * (ACK and PSH, the timestamp option when the connection has it; lwIP
 * sends SACK blocks only on empty ACKs),
 * the same pcb fields moved, and a tcp_seg on the unacked queue with its
 * payload's checksum, from which lwIP retransmits, splits and frees it.
 * Returns false, having changed nothing, whenever any of it does not hold:
 * tcp_write and tcp_output then take the write. Under the lock. */
uint64_t fs_tcp_direct_out;

bool
fs_nif_tcp_send(struct tcp_pcb *pcb, const struct iovec *iov, size_t iovcnt, size_t len)
{
	uint32_t wnd = LWIP_MIN(pcb->snd_wnd, pcb->cwnd), src, dst, seq = pcb->snd_nxt, w[8];
	uint16_t hlen = (pcb->flags & TF_TIMESTAMP) ? TCP_HLEN + LWIP_TCP_OPT_LEN_TS_OUT : TCP_HLEN;
	uint8_t mac[6], *b, *ip;
	uint64_t sum;
	struct tcp_seg *seg, *last;
	struct tcp_hdr *h;
	struct pbuf *p;
	void *handle;
	size_t i, at;

	if (len == 0 || len + hlen - TCP_HLEN > pcb->mss || len > pcb->snd_buf || pcb->unsent ||
	    seq != pcb->snd_lbb || pcb->snd_queuelen >= TCP_SND_QUEUELEN ||
	    (pcb->state != ESTABLISHED && pcb->state != CLOSE_WAIT) ||
	    (pcb->flags & (TF_INFR | TF_RTO | TF_FIN | TF_NAGLEMEMERR)) || pcb->persist_backoff ||
	    (pcb->unacked && !(pcb->flags & TF_NODELAY) && len < pcb->mss) ||
	    seq - pcb->lastack + len > wnd || !IP_IS_V4(&pcb->remote_ip) ||
	    20u + hlen + len > nif.mtu)
		return false;
	src = ip4_addr_get_u32(ip_2_ip4(&pcb->local_ip));
	dst = ip4_addr_get_u32(ip_2_ip4(&pcb->remote_ip));
	if (src != ip4_addr_get_u32(netif_ip4_addr(&nif)) || !fs_nif_neigh(dst, mac) ||
	    tx_refused())
		return false;
	p = pbuf_alloc(PBUF_IP, (u16_t)(hlen + len), PBUF_RAM); /* as tcp_write's after its header */
	if (!p)
		return false;
	seg = memp_malloc(MEMP_TCP_SEG);
	b = seg ? dev->ops->tx_alloc(dev, (uint16_t)(SIZEOF_ETH_HDR + 20 + hlen + len), &handle) : NULL;
	if (!b) {
		if (seg)
			memp_free(MEMP_TCP_SEG, seg);
		pbuf_free(p);
		return false;
	}
	for (i = 0, at = 0; i < iovcnt && at < len; i++) {
		size_t k = LWIP_MIN(iov[i].iov_len, len - at);

		memcpy((uint8_t *)p->payload + hlen + at, iov[i].iov_base, k);
		at += k;
	}
	/* As tcp_write's checksum on copy: the payload's sum, which
	 * tcp_output_segment adds to the header's on every retransmission. */
	seg->next = NULL;
	seg->p = p;
	seg->len = (u16_t)len;
	seg->chksum = dev->lossless ? 0 : fs_csum_raw((uint8_t *)p->payload + hlen, len);
	seg->chksum_swapped = 0;
	seg->flags = TF_SEG_DATA_CHECKSUMMED;
	if (hlen != TCP_HLEN)
		seg->flags |= TF_SEG_OPTS_TS;
	seg->tcphdr = h = p->payload;
	h->src = htons(pcb->local_port);
	h->dest = htons(pcb->remote_port);
	h->seqno = htonl(seq);
	h->ackno = htonl(pcb->rcv_nxt);
	h->_hdrlen_rsvd_flags = htons((uint16_t)(hlen / 4u << 12 | TCP_ACK | TCP_PSH));
	h->wnd = htons(TCPWND_MIN16(RCV_WND_SCALE(pcb, pcb->rcv_ann_wnd)));
	h->chksum = 0;
	h->urgp = 0;
	/* As tcp_build_timestamp_option, and the echo's bookkeeping as
	 * tcp_output_segment keeps it. */
	pcb->ts_lastacksent = pcb->rcv_nxt;
	if (hlen != TCP_HLEN) {
		uint32_t opt[3] = {htonl(0x0101080au), htonl(ts_ms), htonl(pcb->ts_recent)};

		memcpy(h + 1, opt, sizeof(opt));
	}
	/* The pseudo-header and the header, as 16-bit words in memory order
	 * (fs_csum_raw's order), then the payload's sum; none on memif
	 * (nif_gen). */
	if (!dev->lossless) {
		memcpy(w, h, hlen);
		sum = (uint64_t)(src & 0xffff) + (src >> 16) + (dst & 0xffff) + (dst >> 16) +
		      htons(IP_PROTO_TCP) + htons((uint16_t)(hlen + len)) + seg->chksum;
		for (i = 0; i < hlen / 4u; i++)
			sum += (w[i] & 0xffff) + (w[i] >> 16);
		h->chksum = (u16_t)~fs_csum_fold((uint32_t)sum);
	}
	ip = fs_nif_headers(b, mac, pcb->tos, pcb->ttl, IP_PROTO_TCP, (uint16_t)(20 + hlen + len),
			    src, dst);
	memcpy(ip + 20, h, hlen + len);
	dev->ops->tx_queue(dev, handle);
	fs_tcp_direct_out++;
	/* What tcp_write and tcp_output would leave. */
	pcb->rcv_ann_right_edge = pcb->rcv_nxt + pcb->rcv_ann_wnd;
	if (pcb->rtime < 0)
		pcb->rtime = 0;
	if (pcb->rttest == 0) {
		pcb->rttest = tcp_ticks;
		pcb->rtseq = seq;
	}
	pcb->snd_lbb += (u32_t)len;
	pcb->snd_nxt += (u32_t)len;
	pcb->snd_buf -= (tcpwnd_size_t)len;
	pcb->snd_queuelen++;
#if TCP_OVERSIZE
	pcb->unsent_oversize = 0;
#endif
	tcp_clear_flags(pcb, TF_ACK_DELAY | TF_ACK_NOW);
	if (!pcb->unacked) {
		pcb->unacked = seg;
	} else {
		for (last = pcb->unacked; last->next; last = last->next)
			;
		last->next = seg;
	}
	return true;
}

static err_t
igmp_mac_filter(struct netif *n, const ip4_addr_t *group, enum netif_mac_filter_action a)
{
	/* allmulticast is on at the port: every group reaches us. */
	(void)n;
	(void)group;
	(void)a;
	return ERR_OK;
}

static err_t
nif_init(struct netif *n)
{
	n->name[0] = 'f';
	n->name[1] = 's';
	n->output = nif_output;
	n->linkoutput = linkoutput;
	n->mtu = dev->mtu;
	n->hwaddr_len = ETH_HWADDR_LEN;
	memcpy(n->hwaddr, dev->mac, ETH_HWADDR_LEN);
	n->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET |
		   NETIF_FLAG_IGMP;
	netif_set_igmp_mac_filter(n, igmp_mac_filter);
	return ERR_OK;
}

/* lwIP's writable data (shared.ld) as it was before lwip_init, for a
 * restart; NULL where the program was linked without the section (some
 * unit tests). Every member of a family is a fork of the process that
 * took it, so each has the copy at the same address. */
extern char fs_lwip_start[] __attribute__((weak));
extern char fs_lwip_end[] __attribute__((weak));
static char *lwip_fresh FS_PRIVATE;
static size_t lwip_fresh_len FS_PRIVATE;

static int
lwip_start(const struct fs_config *c)
{
	ip4_addr_t ip, mask, gw;

	lwip_init();
	ip.addr = c->ip;
	mask.addr = fs_prefix_mask(c->prefix);
	gw.addr = c->gw;
	if (!netif_add(&nif, &ip, &mask, &gw, NULL, nif_init, ethernet_input))
		return -ENODEV;
	netif_set_default(&nif);
	netif_set_up(&nif);
	netif_set_link_up(&nif);
	NETIF_SET_CHECKSUM_CTRL(&nif, nif_gen);
	return 0;
}

int
fs_nif_init(struct fs_dev *d, const struct fs_config *c)
{
	size_t n = fs_lwip_start ? (size_t)((uintptr_t)fs_lwip_end - (uintptr_t)fs_lwip_start) : 0;

	dev = d;
	fs_nif_neigh_epoch = epoch_now();
	hold_max = c->mbufs / 2;
	rand_state = fs_now_ns() ^ ((uint64_t)getpid() << 20) ^ 0x9e3779b97f4a7c15ull;
	if (d->lossless)
		nif_gen = NETIF_CHECKSUM_GEN_IP | NETIF_CHECKSUM_GEN_ICMP;
	if (n && !lwip_fresh && (lwip_fresh = malloc(n))) {
		fs_copy_globals(lwip_fresh, fs_lwip_start, n);
		lwip_fresh_len = n;
	}
	return lwip_start(c);
}

bool
fs_nif_can_restart(void)
{
	return lwip_fresh != NULL;
}

/* lwIP from the start, as fs_nif_init left it, with the multicast groups
 * joined again, and nothing queued for the device (dev.h drop_tx).
 * Everything lwIP held before is forgotten, not freed: it may be half
 * changed (engine.c restart), so its memory is never handed out again
 * (leaked, once per restart). Under the lock. */
int
fs_nif_restart(const struct fs_config *c)
{
	struct {
		ip4_addr_t addr;
		u16_t use;
	} g[64];
	struct igmp_group *ig = netif_igmp_data(&nif);
	unsigned i, n = 0;
	int r;

	/* The first group is the all-systems one, which igmp_start joins. */
	for (ig = ig ? ig->next : NULL; ig && n < 64; ig = ig->next, n++) {
		g[n].addr = ig->group_address;
		g[n].use = ig->use;
	}
	if (dev->ops->drop_tx)
		dev->ops->drop_tx(dev);
	fs_copy_globals(fs_lwip_start, lwip_fresh, lwip_fresh_len);
	fs_pcb_restart();
	if ((r = lwip_start(c)) < 0)
		return r;
	for (i = 0; i < n; i++)
		while (g[i].use-- > 0)
			igmp_joingroup_netif(&nif, &g[i].addr);
	return 0;
}

bool
fs_nif_loop(void)
{
	if (fs_likely(!nif.loop_first))
		return false;
	/* Our own packets: their checksums are ours, nothing to verify. */
	NETIF_SET_CHECKSUM_CTRL(&nif, nif_gen);
	fs_udp_order_moved();
	netif_poll(&nif);
	return true;
}

FS_PEEK bool
fs_nif_loop_pending(void)
{
	return __atomic_load_n(&nif.loop_first, __ATOMIC_RELAXED) != NULL;
}

void
fs_nif_timers(void)
{
	sys_check_timeouts();
	fs_nif_neigh_epoch = epoch_now();
}

uint32_t
fs_nif_sleeptime(void)
{
	uint32_t ms = sys_timeouts_sleeptime();

	return ms > 100 ? 100 : ms;
}

unsigned
fs_nif_publish_arp(struct fs_pub_arp *a, unsigned max)
{
	unsigned n = 0;
	size_t i;

	for (i = 0; i < ARP_TABLE_SIZE && n < max; i++) {
		ip4_addr_t *ip;
		struct netif *nf;
		struct eth_addr *eth;

		if (etharp_get_entry(i, &ip, &nf, &eth)) {
			a[n].ip = ip4_addr_get_u32(ip);
			memcpy(a[n].mac, eth->addr, 6);
			n++;
		}
	}
	return n;
}
