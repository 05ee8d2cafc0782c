/* TCP sockets on lwIP's raw API with the kernel's semantics. Everything a
 * socket holds is under the stack lock; the few fields read without it
 * (rx_len, fin, err, aq_n, gen) are hints that are checked again under the
 * lock, so an empty nonblocking receive takes no lock at all.
 *
 * Error model, as Linux: a connection reset (RST), a connect refused or a
 * timeout sets a pending error that the next call (or SO_ERROR) reports
 * once; afterwards reads see end of file and writes EPIPE. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>
/* netinet/tcp.h's TCP_MSS (a constant of old BSD) is not lwIP's. */
#undef TCP_MSS

#include <lwip/ip.h>
#include <lwip/ip4.h>
#include <lwip/netif.h>
#include <lwip/pbuf.h>
#include <lwip/priv/tcp_priv.h>
#include <lwip/tcp.h>

#include "dual.h"
#include "log.h"
#include "lwip_errno.h"
#include "lwip_pin.h"
#include "pcbmap.h"
#include "publish.h"
#include "sock.h"
#include "sockutil.h"
#include "shared.h"
#include "stack.h"

#define SOMAXCONN_LINUX 4096
/* A sender waiting for room in a full device queue sleeps at most this
 * long at a time (memif tells nobody when its ring drains). */
#define TX_SLICE_NS 20000

enum tstate { T_NEW, T_LISTEN, T_CONNECTING, T_CONNECTED, T_CLOSED };

struct fs_tcp {
	struct tcp_pcb *pcb; /* NULL once lwIP freed it */
	int kfd;	     /* the program's kernel socket (-1: not accepted yet) */
	enum tstate st;
	bool nonblock;
	bool dual;	     /* a wildcard listener: the kernel listens too */
	struct fs_dual kd;   /* its kernel side, watched (when dual) */
	bool ever_connected;
	bool connect_pending; /* a nonblocking connect not yet seen through */
	bool connect_failed; /* connect() reported its failure: the next one
			      * starts anew (Linux's SS_UNCONNECTED) */
	/* Receive queue: lwIP's pbufs linked by next (their tot_len is not
	 * kept up to date), rx_off bytes of the first consumed. */
	struct pbuf *rx, *rx_tail;
	size_t rx_len;
	uint16_t rx_off;
	bool fin;	     /* the peer's FIN arrived */
	bool rd_shut, wr_shut;
	int err;	     /* pending error, reported once */
	bool reset;	     /* died by RST or timeout: writes get EPIPE */
	uint32_t gen;	     /* moves on every arrival, ack and error */
	/* Listener: established connections not yet accepted. */
	struct fs_tcp *aq_head, *aq_tail, *aq_next;
	unsigned aq_n, backlog;
	struct fs_tcp *listener; /* a connection still in its accept queue */
	/* Options the data path needs; the kernel socket keeps them all. */
	int64_t rcvtimeo_ns, sndtimeo_ns;
	bool nodelay, cork, keepalive;
	int linger_on, linger_s;
	uint32_t keep_idle_s, keep_intvl_s, keep_cnt;
	uint32_t user_timeout_ms; /* TCP_USER_TIMEOUT (0: retransmissions' count) */
	uint32_t snd_limit;  /* bytes in flight allowed by SO_SNDBUF (0: lwIP's) */
	uint32_t rcv_limit;  /* bytes held allowed by SO_RCVBUF (0: rcv_auto) */
	uint32_t rcv_auto;   /* bytes held allowed without it (credit) */
	uint32_t snd_auto;   /* bytes queued allowed without SO_SNDBUF (send_room) */
	uint64_t rx_bytes, tx_bytes;
	uint64_t acked_bytes; /* of tx_bytes, acknowledged by the peer */
	struct fs_tcp *next; /* all sockets, for fastsock-stat */
	struct fs_tcp *delack_next;
	bool delack_on;
	/* Our retransmission timer (fs_tcp_rto): the ACK point it last saw
	 * move, since when (moved at each timeout too), how many timeouts in
	 * a row, and when the first of them came. */
	bool rto_armed;
	uint8_t rto_shift;
	uint32_t probe_tick; /* lwIP's tcp_ticks at the last probe_uncount */
	uint32_t rto_ack;
	uint64_t rto_since, rexmit_since;
	/* The round-trip time (rtt_arm, rtt_sample): the segment timed, and
	 * the smoothed estimate in ns (0: none yet). */
	bool rtt_timing;
	uint8_t rtt_skip;
	uint32_t rtt_seq, rtt_ssthresh;
	uint64_t rtt_start;
	uint64_t srtt_ns, rttvar_ns;
	/* Loss recovery beyond lwIP's (fs_tcp_after_input): in fast
	 * recovery until the ACK reaches recover; lwIP's dupack count as
	 * last seen. */
	bool in_rec, had_ooseq;
	uint8_t dupacks_seen;
	uint32_t recover;
	/* Where a listener or a new socket was bound, kept across a restart
	 * (fs_tcp_restart_drop). */
	uint32_t re_ip;
	uint16_t re_port;
	bool re_reuse;
};

static struct fs_tcp *all;

/* Connections that received data since the last delayed-ACK round. lwIP
 * sends delayed ACKs from its 250 ms timer; Linux within 40 ms, and at
 * once while a connection is young (quickack). A program that writes
 * small pieces with Nagle on waits for those ACKs, so ours go within
 * DELACK_NS. */
#define DELACK_NS 1000000
static struct fs_tcp *delack_head;
static uint64_t delack_due;

void
fs_tcp_delack(uint64_t now)
{
	struct fs_tcp *t;

	if (!delack_head)
		return;
	if (!delack_due) {
		delack_due = now + DELACK_NS;
		return;
	}
	if (now < delack_due)
		return;
	while ((t = delack_head)) {
		delack_head = t->delack_next;
		t->delack_on = false;
		if (t->pcb && (t->pcb->flags & TF_ACK_DELAY)) {
			tcp_ack_now(t->pcb);
			tcp_output(t->pcb);
		}
	}
	delack_due = 0;
}

/* The round-trip time in real units, for TCP_INFO and the retransmission
 * timeout: lwIP keeps its estimate in 500 ms ticks, which reads 0 on any
 * fast path. As Linux without timestamps: one segment timed at a time,
 * from the send that put it in flight to the ACK that covers it, none
 * across a loss (Karn; lwIP resets its retransmission count before the
 * ACK reaches us, but a loss always moves ssthresh), smoothed as RFC 6298.
 * Every send until the first sample, then every RTT_STRIDE-th send only
 * (a connection whose handshake waited for ARP has no sample of it, and
 * its first few sends must give one): with a sample per send, the two clock
 * reads on each side looked like 6% of a memif ping-pong's round trip
 * (one set of four interleaved runs, medians 0.856 against 0.796 us).
 * Under the stack lock. */
#define RTT_STRIDE 16

/* Times from now until an ACK reaches seq. */
static void
rtt_begin(struct fs_tcp *t, struct tcp_pcb *pcb, uint32_t seq)
{
	t->rtt_timing = true;
	t->rtt_seq = seq;
	t->rtt_ssthresh = pcb->ssthresh;
	t->rtt_start = fs_now_ns();
}

/* After a send: times what it put in flight. */
static void
rtt_arm(struct fs_tcp *t, struct tcp_pcb *pcb)
{
	if (!t->rtt_timing && pcb->unacked &&
	    (!t->srtt_ns || (++t->rtt_skip % RTT_STRIDE) == 0))
		rtt_begin(t, pcb, pcb->snd_nxt);
}

static void
rtt_sample(struct fs_tcp *t, struct tcp_pcb *pcb)
{
	uint64_t m;

	if (!t->rtt_timing || TCP_SEQ_LT(pcb->lastack, t->rtt_seq))
		return;
	t->rtt_timing = false;
	if (pcb->ssthresh != t->rtt_ssthresh)
		return;
	m = fs_now_ns() - t->rtt_start;
	if (!t->srtt_ns) {
		t->srtt_ns = m;
		t->rttvar_ns = m / 2;
		return;
	}
	t->rttvar_ns = (3 * t->rttvar_ns + (m > t->srtt_ns ? m - t->srtt_ns : t->srtt_ns - m)) / 4;
	t->srtt_ns = (7 * t->srtt_ns + m) / 8;
}

/* The first retransmission timeout: Linux's srtt + max(4 rttvar, rto_min)
 * (a path slower than FASTSOCK_TCP_RTO_MIN_MS must not time out every
 * flight), rto_min before any measurement. */
static uint64_t
rto_base_ns(const struct fs_tcp *t, uint64_t min_ns)
{
	uint64_t v = 4 * t->rttvar_ns;

	return t->srtt_ns + (v > min_ns ? v : min_ns);
}

/* Retransmission timeouts at Linux's scale. lwIP's own timer ticks every
 * 500 ms and starts at 3 s: under loss without SACK (lwIP sends none, so
 * every hole the duplicate ACKs miss ends in a timeout) each one cost a
 * second or more, and a 1% loss cut a transfer to 1 MB/s. Here a
 * connection with unacknowledged data and no ACK progress for its RTO
 * (FASTSOCK_TCP_RTO_MIN_MS, doubling with each timeout in a row up to
 * Linux's 120 s) retransmits as lwIP's slow timer would: ssthresh to half
 * the flight, cwnd to one segment, go-back-N. lwIP's own timer is held
 * back (rtime 0); its retry count still gives up after TCP_MAXRTX timeouts
 * in a row (12, lwIP's most: about 9.5 minutes from 200 ms, where Linux's
 * 15 take about 15), and the program sees ETIMEDOUT.
 * Handshakes keep lwIP's timer. */
#define RTO_MAX_NS 120000000000ull

/* A timeout's congestion response, as lwIP's slow timer gives it: ssthresh
 * to half the flight, cwnd to one segment, then go-back-N. */
static void
rto_fire(struct tcp_pcb *pcb)
{
	pcb->ssthresh = LWIP_MIN(pcb->cwnd, pcb->snd_wnd) / 2;
	if (pcb->ssthresh < 2u * pcb->mss)
		pcb->ssthresh = 2u * pcb->mss;
	pcb->cwnd = pcb->mss;
	pcb->bytes_acked = 0;
	pcb->dupacks = 0;
	tcp_clear_flags(pcb, TF_INFR);
	tcp_rexmit_rto(pcb); /* counts the timeout in nrtx */
}

/* A connection closed by its program (lwIP's now, no socket state left)
 * that still has data or its FIN unacknowledged: retransmitted when no
 * ACK came for rto_min, without backoff (what is left is short: at exit
 * fastsock waits for it, FASTSOCK_TCP_EXIT_LINGER_MS), and reset after
 * TCP_MAXRTX timeouts in a row. lwIP's rtime marks it: lwIP zeroes it on
 * every ACK of new data, we set it to 1 at each look. */
static void
orphan_rto(struct tcp_pcb *pcb)
{
	if (pcb->rtime > 0) {
		if (pcb->nrtx >= TCP_MAXRTX) {
			tcp_abort(pcb);
			return;
		}
		rto_fire(pcb);
	}
	pcb->rtime = 1;
}

/* lwIP's zero-window probe intervals in slow-timer ticks (tcp.c's
 * tcp_persist_backoff, lwIP 2.1.3: lwip_pin.h). */
static const uint8_t persist_ticks[] = {3, 6, 12, 24, 48, 96, 120};

/* lwIP counts a zero-window probe that a full device queue refused as one
 * the peer left unanswered and tries again at the next tick (500 ms):
 * twelve such end the connection in 6 s. Linux does not count a probe it
 * could not send (local congestion, tcp_send_probe0). A refused probe
 * leaves persist_cnt at its slot's interval (a sent one resets it to 0):
 * the count is taken back, once per tick. */
static void
probe_uncount(struct fs_tcp *t, struct tcp_pcb *pcb)
{
	if (pcb->persist_backoff && pcb->snd_wnd == 0 && pcb->persist_probe &&
	    pcb->persist_backoff <= sizeof(persist_ticks) &&
	    pcb->persist_cnt >= persist_ticks[pcb->persist_backoff - 1] && t->probe_tick != tcp_ticks) {
		t->probe_tick = tcp_ticks;
		pcb->persist_probe--;
	}
}

void
fs_tcp_rto(uint64_t now)
{
	static uint64_t next, orphans_next;
	uint64_t min_ns = fs_stk->cfg.tcp_rto_min_ms * 1000000ull, step = min_ns / 4;
	struct tcp_pcb *pcb, *nx;
	bool orphans;

	if (now < next)
		return;
	step = step < 1000000 ? 1000000 : step > 10000000 ? 10000000 : step;
	next = now + step;
	if ((orphans = now >= orphans_next))
		orphans_next = now + min_ns;
	for (pcb = tcp_active_pcbs; pcb; pcb = nx) {
		struct fs_tcp *t = pcb->callback_arg;
		uint64_t rto;

		nx = pcb->next;
		if (pcb->state < ESTABLISHED)
			continue;
		if (!t) {
			if (orphans && pcb->unacked)
				orphan_rto(pcb);
			continue;
		}
		if (!pcb->unacked) {
			probe_uncount(t, pcb);
			/* Nothing in flight. A timeout's go-back-N puts everything
			 * back in unsent; until it goes out again (a full device
			 * queue, a closed window) the timeout keeps its backoff:
			 * only an ACK of new data ends it, as lwIP's count does. */
			if (pcb->lastack != t->rto_ack || !pcb->unsent)
				t->rto_armed = false;
			continue;
		}
		pcb->rtime = 0; /* lwIP's timer waits for ours */
		if (!t->rto_armed || pcb->lastack != t->rto_ack) {
			t->rto_armed = true;
			t->rto_ack = pcb->lastack;
			t->rto_since = now;
			t->rexmit_since = 0;
			t->rto_shift = 0;
			continue;
		}
		/* TCP_USER_TIMEOUT: that long since the first retransmission
		 * with still no ACK ends the connection (ETIMEDOUT), whatever the
		 * retransmissions' count. Linux counts from its first
		 * retransmission too, and clamps its timer to fire then (most of
		 * the time: docs/benchmarks.md, 2026-12-07 12:40). */
		if (t->user_timeout_ms && t->rexmit_since &&
		    now - t->rexmit_since >= (uint64_t)t->user_timeout_ms * 1000000) {
			FS_DBG("tcp socket %d: nothing acknowledged for TCP_USER_TIMEOUT %u ms",
			       t->kfd, t->user_timeout_ms);
			tcp_abandon(pcb, 0); /* on_err: ETIMEDOUT */
			continue;
		}
		rto = rto_base_ns(t, min_ns) << t->rto_shift;
		if (now - t->rto_since < (rto < RTO_MAX_NS ? rto : RTO_MAX_NS))
			continue;
		if (pcb->nrtx >= TCP_MAXRTX) {
			FS_DBG("tcp socket %d: %d timeouts in a row, giving up", t->kfd, (int)pcb->nrtx);
			tcp_abandon(pcb, 0); /* on_err: ETIMEDOUT */
			continue;
		}
		FS_DBG("tcp socket %d: timeout %u (shift %u): srtt %llu us rttvar %llu us rto %llu us, "
		       "lastack %u snd_nxt %u snd_wnd %u cwnd %u",
		       t->kfd, (unsigned)pcb->nrtx + 1, (unsigned)t->rto_shift,
		       (unsigned long long)(t->srtt_ns / 1000), (unsigned long long)(t->rttvar_ns / 1000),
		       (unsigned long long)(rto / 1000), (unsigned)pcb->lastack, (unsigned)pcb->snd_nxt,
		       (unsigned)pcb->snd_wnd, (unsigned)pcb->cwnd);
		t->in_rec = false;
		t->rtt_timing = false; /* Karn: what comes back may answer either */
		rto_fire(pcb);
		t->rto_since = now;
		if (!pcb->unacked) {
			/* A full device queue refused the retransmission. As Linux
			 * (local congestion): not counted, no backoff; it goes when
			 * the queue drains (fs_tcp_kick), or at the next timeout. */
			if (pcb->nrtx)
				pcb->nrtx--;
			continue;
		}
		if (!t->rexmit_since)
			t->rexmit_since = now;
		if (rto < RTO_MAX_NS)
			t->rto_shift++;
	}
}

/* lwIP 2.1 recovers from loss as Reno did: a fast retransmit on the third
 * duplicate ACK, and the first ACK of new data ends the recovery. Under
 * random loss without SACK that sent most losses to the retransmission
 * timeout: a second hole in the same flight, or a flight too small to
 * draw three duplicate ACKs (5% loss keeps cwnd at a few segments). So,
 * as Linux does without SACK:
 *  - NewReno (RFC 6582): an ACK that ends lwIP's recovery short of the
 *    highest sequence sent when it began is partial: the next hole goes
 *    out at once and the recovery goes on;
 *  - limited transmit (RFC 3042): the first and second duplicate ACK each
 *    let one new segment out beyond cwnd, to draw more duplicates;
 *  - early retransmit (RFC 5827): with fewer than four segments in flight
 *    and nothing new to send, one duplicate ACK fewer than the segments in
 *    flight is enough.
 * As a receiver, as Linux's quick ACKs (RFC 5681 4.2): while segments
 * wait out of order, and when they have just been merged, the ACK goes at
 * once, not after the delayed-ACK time: the sender's recovery (NewReno
 * without SACK: one hole per round trip) waits on each of them.
 * lwIP moves the pcb a segment was for to the head of tcp_active_pcbs:
 * that is the one to look at. Any other pcb found there is looked at to
 * no effect (the checks are of its state, not of the segment). */
static unsigned
in_flight_segs(const struct tcp_pcb *pcb)
{
	const struct tcp_seg *s;
	unsigned n = 0;

	for (s = pcb->unacked; s && n < 4; s = s->next)
		n++;
	return n;
}

void
fs_tcp_after_input(void)
{
	struct tcp_pcb *pcb = tcp_active_pcbs;
	struct fs_tcp *t;
	unsigned dup, segs;

	if (!pcb || pcb->state < ESTABLISHED || !(t = pcb->callback_arg))
		return;
	if ((pcb->ooseq || t->had_ooseq) && (pcb->flags & TF_ACK_DELAY)) {
		tcp_ack_now(pcb);
		tcp_output(pcb);
	}
	t->had_ooseq = pcb->ooseq != NULL;
	dup = pcb->dupacks;
	if (pcb->flags & TF_INFR) {
		if (!t->in_rec) {
			t->in_rec = true;
			t->recover = pcb->snd_nxt;
			t->rtt_timing = false; /* Karn */
		}
		t->dupacks_seen = (uint8_t)dup;
		return;
	}
	if (t->in_rec) {
		if (pcb->unacked && TCP_SEQ_LT(pcb->lastack, t->recover)) {
			/* A partial ACK: lwIP left recovery, cwnd at ssthresh. */
			if (tcp_rexmit(pcb) == ERR_OK) {
				t->rtt_timing = false; /* Karn */
				tcp_set_flags(pcb, TF_INFR);
				pcb->rtime = 0;
				tcp_output(pcb);
			}
			t->dupacks_seen = pcb->dupacks;
			return;
		}
		t->in_rec = false;
	}
	if (dup <= t->dupacks_seen || dup > 2 || !pcb->unacked) {
		t->dupacks_seen = (uint8_t)dup;
		return;
	}
	t->dupacks_seen = (uint8_t)dup;
	if (pcb->unsent && TCP_SEQ_LEQ(pcb->snd_nxt + pcb->mss, pcb->lastack + pcb->snd_wnd)) {
		tcpwnd_size_t cwnd = pcb->cwnd;
		uint32_t allow = pcb->snd_nxt - pcb->lastack + pcb->mss;

		if (allow > cwnd) { /* limited transmit */
			pcb->cwnd = allow;
			tcp_output(pcb);
			pcb->cwnd = cwnd;
		}
		return;
	}
	segs = in_flight_segs(pcb);
	if (segs < 4 && dup + 1 >= segs) { /* early retransmit */
		t->rtt_timing = false; /* Karn */
		tcp_rexmit_fast(pcb);
		tcp_output(pcb);
	}
}

void
fs_tcp_kick(void)
{
	struct fs_tcp *t;

	for (t = all; t; t = t->next)
		if (t->pcb && t->st == T_CONNECTED && t->pcb->unsent)
			tcp_output(t->pcb);
}

/* lwIP keeps TIME_WAIT for 2 MSL (120 s) with no bound when its memory
 * comes from malloc, and a TIME_WAIT connection holds its local port:
 * a client that connects and closes in a loop would run out of ports and
 * memory. As Linux's tcp_max_tw_buckets, the oldest beyond TW_MAX go.
 * New TIME_WAIT connections are put at the head of lwIP's list. */
#define TW_MAX 4096

void
fs_tcp_trim_time_wait(uint64_t now)
{
	static uint64_t last;
	struct tcp_pcb *p = tcp_tw_pcbs, *next;
	unsigned n = 0;

	if (now - last < 100000000) /* every 100 ms is enough */
		return;
	last = now;
	while (p && ++n < TW_MAX)
		p = p->next;
	if (!p)
		return;
	for (p = p->next; p; p = next) {
		next = p->next;
		tcp_abort(p); /* a TIME_WAIT pcb is only unlinked and freed */
		fs_stk->drops.tcp_time_wait_recycled++;
	}
}

void
fs_tcp_syn_time_wait(uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport, uint32_t seq,
		     bool has_ts, uint32_t tsval)
{
	struct tcp_pcb *p;

	for (p = tcp_tw_pcbs; p; p = p->next) {
		if (p->remote_port != sport || p->local_port != dport ||
		    ip4_addr_get_u32(ip_2_ip4(&p->remote_ip)) != src ||
		    ip4_addr_get_u32(ip_2_ip4(&p->local_ip)) != dst)
			continue;
		if (TCP_SEQ_GT(seq, p->rcv_nxt) ||
		    (has_ts && (p->flags & TF_TIMESTAMP) && (int32_t)(tsval - p->ts_recent) > 0))
			tcp_abort(p); /* a TIME_WAIT pcb is only unlinked and freed */
		return;
	}
}

static void
delack_forget(struct fs_tcp *t)
{
	struct fs_tcp **pp;

	if (!t->delack_on)
		return;
	for (pp = &delack_head; *pp; pp = &(*pp)->delack_next)
		if (*pp == t) {
			*pp = t->delack_next;
			break;
		}
	t->delack_on = false;
}

static unsigned nsocks;

unsigned
fs_tcp_count(void)
{
	return __atomic_load_n(&nsocks, __ATOMIC_RELAXED);
}

static void
link_in(struct fs_tcp *t)
{
	t->next = all;
	all = t;
	__atomic_add_fetch(&nsocks, 1, __ATOMIC_RELAXED);
}

static void
unlink_(struct fs_tcp *t)
{
	struct fs_tcp **pp;

	for (pp = &all; *pp; pp = &(*pp)->next)
		if (*pp == t) {
			*pp = t->next;
			__atomic_sub_fetch(&nsocks, 1, __ATOMIC_RELAXED);
			return;
		}
}

static void
bump(struct fs_tcp *t)
{
	__atomic_add_fetch(&t->gen, 1, __ATOMIC_RELEASE);
	fs_stk_news_of(t);
}

/* lwIP's view of the options, from ours. Under the stack lock. */
static void
apply_opts(struct fs_tcp *t)
{
	struct tcp_pcb *pcb = t->pcb;

	if (!pcb || t->st == T_LISTEN)
		return;
	/* A cork holds small segments back as Nagle does (lwIP has no cork;
	 * uncorking pushes them out). */
	if (t->nodelay && !t->cork)
		tcp_nagle_disable(pcb);
	else
		tcp_nagle_enable(pcb);
	if (t->keepalive)
		ip_set_option(pcb, SOF_KEEPALIVE);
	else
		ip_reset_option(pcb, SOF_KEEPALIVE);
	pcb->keep_idle = t->keep_idle_s * 1000;
	pcb->keep_intvl = t->keep_intvl_s * 1000;
	pcb->keep_cnt = t->keep_cnt;
}

/* Linux's keepalive defaults (tcp_keepalive_time, _intvl, _probes). */
#define KEEP_IDLE_S 7200
#define KEEP_INTVL_S 75
#define KEEP_CNT 9

/* Reads back from the kernel socket every option we keep a copy of. */
static void
sync_opts(struct fs_tcp *t)
{
	struct linger l = {0, 0};
	socklen_t n = sizeof(l);

	t->rcvtimeo_ns = fs_kopt_timeo_ns(t->kfd, SO_RCVTIMEO);
	t->sndtimeo_ns = fs_kopt_timeo_ns(t->kfd, SO_SNDTIMEO);
	t->nodelay = fs_kopt_int(t->kfd, IPPROTO_TCP, TCP_NODELAY, 0) != 0;
	t->cork = fs_kopt_int(t->kfd, IPPROTO_TCP, TCP_CORK, 0) != 0;
	t->keepalive = fs_kopt_int(t->kfd, SOL_SOCKET, SO_KEEPALIVE, 0) != 0;
	t->keep_idle_s = (uint32_t)fs_kopt_int(t->kfd, IPPROTO_TCP, TCP_KEEPIDLE, KEEP_IDLE_S);
	t->keep_intvl_s = (uint32_t)fs_kopt_int(t->kfd, IPPROTO_TCP, TCP_KEEPINTVL, KEEP_INTVL_S);
	t->keep_cnt = (uint32_t)fs_kopt_int(t->kfd, IPPROTO_TCP, TCP_KEEPCNT, KEEP_CNT);
	t->user_timeout_ms = (uint32_t)fs_kopt_int(t->kfd, IPPROTO_TCP, TCP_USER_TIMEOUT, 0);
	if (fs_kopt_get(t->kfd, SOL_SOCKET, SO_LINGER, &l, &n) == 0) {
		t->linger_on = l.l_onoff;
		t->linger_s = l.l_linger;
	}
}

/* What the socket may hold, queued plus the window it offers: SO_RCVBUF's
 * share when the program set it, else rcv_auto, which grows as Linux's
 * receive buffer autotuning does: from about Linux's first window
 * (tcp_rmem's default 128 KiB) by every byte the program reads, up to
 * RCV_CAP_DEFAULT; a reader that keeps up doubles it every round trip.
 * lwIP's own window (TCP_WND, lwipopts.h) is given back as data arrives,
 * not as the program reads: a program that reads late (or writes before
 * it reads, as an echo client does) sees the kernel's buffering, not
 * lwIP's; and connections that are never read hold 128 KiB each, not
 * megabytes (10,000 of them: 1.25 GiB). */
#define RCV_AUTO_INIT (128u << 10)
#define RCV_CAP_DEFAULT (4u << 20)
/* Where a socket's send room starts (snd_auto_grow). */
#define SND_AUTO_MIN (64u << 10)

static struct fs_tcp *
sock_alloc(int kfd, bool nonblock)
{
	struct fs_tcp *t = fs_obj_calloc(sizeof(*t));

	if (!t)
		return NULL;
	t->kfd = kfd;
	t->nonblock = nonblock;
	t->rcvtimeo_ns = t->sndtimeo_ns = -1;
	t->keep_idle_s = KEEP_IDLE_S;
	t->keep_intvl_s = KEEP_INTVL_S;
	t->keep_cnt = KEEP_CNT;
	t->rcv_auto = RCV_AUTO_INIT;
	t->snd_auto = SND_AUTO_MIN;
	return t;
}

/* tcp_recved for any length (it takes a u16_t). Under the lock. */
static void
recved(struct tcp_pcb *pcb, size_t n)
{
	while (n) {
		u16_t k = n > 0xffff ? 0xffff : (u16_t)n;

		tcp_recved(pcb, k);
		n -= k;
	}
}

/* What the socket may hold, queued plus the window it offers. */
static uint32_t
rcv_cap(const struct fs_tcp *t)
{
	return t->rcv_limit ? t->rcv_limit : t->rcv_auto;
}

/* Opens the window the peer sees up to what the socket may hold less
 * what it holds: back for bytes lwIP handed us, and beyond as rcv_auto
 * grows. Under the lock. */
static bool
credit(struct fs_tcp *t)
{
	size_t cap = rcv_cap(t), want;

	if (!t->pcb || t->rx_len >= cap)
		return false;
	want = cap - t->rx_len;
	if (want > TCP_WND_MAX(t->pcb))
		want = TCP_WND_MAX(t->pcb);
	if (t->pcb->rcv_wnd >= want)
		return false;
	recved(t->pcb, want - t->pcb->rcv_wnd);
	return true;
}

/* The window of a connection just established: what the socket may hold
 * (credit), not lwIP's TCP_WND, which lwIP sets as soon as the peer's SYN
 * offers window scaling. A SYN-ACK's window field said at most 64 KiB
 * (a SYN's is never scaled), but lwIP takes the whole TCP_WND as
 * announced: passive says so, and the right edge goes back to what the
 * peer saw. Under the lock, before any segment of the connection's own. */
static void
first_window(struct fs_tcp *t, struct tcp_pcb *pcb, bool passive)
{
	uint32_t cap = rcv_cap(t);

	if (passive && pcb->rcv_ann_right_edge - pcb->rcv_nxt > 0xffff)
		pcb->rcv_ann_right_edge = pcb->rcv_nxt + 0xffff;
	if (cap < pcb->rcv_wnd)
		pcb->rcv_wnd = (tcpwnd_size_t)cap;
	/* Announced as it is (lwIP's tcp_update_rcv_ann_wnd holds back a
	 * growth under one MSS: a small SO_RCVBUF would offer 0), but the
	 * right edge never moves back. */
	if (TCP_SEQ_GEQ(pcb->rcv_nxt + pcb->rcv_wnd, pcb->rcv_ann_right_edge))
		pcb->rcv_ann_wnd = pcb->rcv_wnd;
	else
		pcb->rcv_ann_wnd = (tcpwnd_size_t)(pcb->rcv_ann_right_edge - pcb->rcv_nxt);
}

/* ---- lwIP callbacks (under the stack lock) ---- */

static err_t
on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
	struct fs_tcp *t = arg;

	(void)pcb;
	(void)err;
	if (!p) {
		t->fin = true;
	} else {
		struct pbuf *last = p;

		while (last->next)
			last = last->next;
		if (t->rx)
			t->rx_tail->next = p;
		else
			t->rx = p;
		t->rx_tail = last;
		__atomic_add_fetch(&t->rx_len, p->tot_len, __ATOMIC_RELEASE);
		t->rx_bytes += p->tot_len;
		credit(t);
		if (!t->delack_on) {
			t->delack_on = true;
			t->delack_next = delack_head;
			delack_head = t;
		}
	}
	bump(t);
	return ERR_OK;
}

static err_t
on_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
	struct fs_tcp *t = arg;

	rtt_sample(t, pcb);
	__atomic_add_fetch(&t->acked_bytes, len, __ATOMIC_RELEASE);
	bump(t);
	return ERR_OK;
}

/* lwIP has freed the pcb. */
static void
on_err(void *arg, err_t err)
{
	struct fs_tcp *t = arg;

	t->pcb = NULL;
	FS_DBG("tcp socket %d: lwIP error %d in state %d", t->kfd, (int)err, (int)t->st);
	/* Linux's tcp_reset: a reset after the peer's FIN (CLOSE_WAIT) is a
	 * broken pipe, not a reset connection. (The connection's state
	 * decides here, not fs_lwip_errno's table of calls' errors.) */
	if (err == ERR_RST)
		t->err = t->st == T_CONNECTING ? ECONNREFUSED : t->fin ? EPIPE : ECONNRESET;
	else if (err == ERR_ABRT)
		t->err = ETIMEDOUT; /* retransmissions or keepalives gave up */
	else
		t->err = ECONNRESET;
	t->st = T_CLOSED;
	t->reset = true;
	bump(t);
}

static err_t
on_connected(void *arg, struct tcp_pcb *pcb, err_t err)
{
	struct fs_tcp *t = arg;

	(void)pcb;
	(void)err;
	t->st = T_CONNECTED;
	t->ever_connected = true;
	if (pcb->nrtx) /* Karn: the SYN was sent again (lwIP resets nrtx later) */
		t->rtt_timing = false;
	rtt_sample(t, pcb); /* the handshake's, as Linux's first */
	first_window(t, pcb, false);
	bump(t);
	return ERR_OK;
}

/* lwIP frees a pcb without a word when its TIME_WAIT ends (2 MSL, or
 * fs_tcp_trim_time_wait below) even while a program still holds the
 * socket (it shut down writing, the peer closed, it has not closed yet):
 * the socket lets go of it, and is closed as Linux's is then, with no
 * error. Every other free comes after on_err or close, which already let
 * go. Under the lock (pcbmap.c, just before the free). */
void
fs_tcp_pcb_freed(struct tcp_pcb *pcb)
{
	struct fs_tcp *t = pcb->callback_arg;

	if (!t || t->pcb != pcb)
		return;
	t->pcb = NULL;
	t->st = T_CLOSED;
	bump(t);
}

static void
set_callbacks(struct fs_tcp *t)
{
	tcp_arg(t->pcb, t);
	tcp_recv(t->pcb, on_recv);
	tcp_sent(t->pcb, on_sent);
	tcp_err(t->pcb, on_err);
}

static void
clear_callbacks(struct tcp_pcb *pcb)
{
	tcp_arg(pcb, NULL);
	tcp_recv(pcb, NULL);
	tcp_sent(pcb, NULL);
	tcp_err(pcb, NULL);
}

/* A connection arrived on a listener: it waits in the accept queue for a
 * kernel fd until the program accepts it. */
static err_t
on_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
	struct fs_tcp *l = arg, *c;

	if (err != ERR_OK || !pcb)
		return ERR_VAL;
	/* The SYN was admitted only while the queue had room (fs_tcp_syn_admit);
	 * this is the kernel's limit of backlog + 1 as a last guard. */
	if (l->aq_n > l->backlog || !(c = sock_alloc(-1, false))) {
		fs_stk->drops.tcp_listen_overflow++;
		tcp_abort(pcb);
		return ERR_ABRT;
	}
	c->pcb = pcb;
	c->st = T_CONNECTED;
	c->ever_connected = true;
	c->listener = l;
	/* Inherited from the listener, as the kernel's accepted sockets do. */
	c->nodelay = l->nodelay;
	c->keepalive = l->keepalive;
	c->keep_idle_s = l->keep_idle_s;
	c->keep_intvl_s = l->keep_intvl_s;
	c->keep_cnt = l->keep_cnt;
	c->user_timeout_ms = l->user_timeout_ms;
	c->linger_on = l->linger_on;
	c->linger_s = l->linger_s;
	c->snd_limit = l->snd_limit;
	c->rcv_limit = l->rcv_limit;
	first_window(c, pcb, true);
	set_callbacks(c);
	apply_opts(c);
	if (l->aq_tail)
		l->aq_tail->aq_next = c;
	else
		l->aq_head = c;
	l->aq_tail = c;
	l->aq_n++;
	link_in(c);
	bump(l);
	return ERR_OK;
}

/* Half-open connections (SYN_RCVD) in the whole stack: recounted when a
 * SYN comes 100 ms or more after the last count, plus the SYNs admitted
 * since. lwIP keeps each for 20 s with no bound: a SYN flood from
 * addresses that never answer would grow them, and their memory, without
 * end. Linux answers past its SYN queue with syncookies, which lwIP cannot
 * do; at HALF_OPEN_MAX (Linux's tcp_max_syn_backlog on a small machine)
 * the older half is dropped instead (no RST, counted as "syn queue full"),
 * as BSD's syncache drops its oldest entries, and the new SYN is admitted:
 * a real client's handshake completes within a round trip, long before a
 * flood pushes it out, so it connects at once, as with syncookies. */
#define HALF_OPEN_MAX 1024
static unsigned half_open, syn_since;
static uint64_t half_open_at;

/* Recounts now (evict: dropping the older half) or when the count is old. */
static void
count_half_open(bool evict)
{
	struct tcp_pcb *p, *next;
	uint64_t now = fs_now_ns();
	unsigned n = 0;

	if (!evict && now - half_open_at < 100000000)
		return;
	half_open_at = now;
	/* lwIP puts new connections at the head of its list: the older
	 * half-open ones are the later ones. */
	for (p = tcp_active_pcbs; p; p = next) {
		next = p->next;
		if (p->state != SYN_RCVD)
			continue;
		if (evict && n >= HALF_OPEN_MAX / 2) {
			tcp_abandon(p, 0);
			fs_stk->drops.tcp_syn_queue_full++;
			continue;
		}
		n++;
	}
	half_open = n;
	syn_since = 0;
}

bool
fs_tcp_syn_admit(uint32_t dst, uint16_t port)
{
	struct fs_tcp *t;

	for (t = all; t; t = t->next) {
		if (t->st != T_LISTEN || !t->pcb || t->pcb->local_port != port)
			continue;
		if (!ip_addr_isany(&t->pcb->local_ip) &&
		    ip4_addr_get_u32(ip_2_ip4(&t->pcb->local_ip)) != dst)
			continue;
		if (t->aq_n > t->backlog) {
			fs_stk->drops.tcp_listen_overflow++;
			return false;
		}
		count_half_open(false);
		if (half_open + syn_since >= HALF_OPEN_MAX)
			count_half_open(true);
		syn_since++;
		return true;
	}
	return true; /* lwIP answers with RST */
}

/* ---- set-up ---- */

void *
fs_tcp_open(int kfd, bool nonblock)
{
	struct fs_tcp *t = sock_alloc(kfd, nonblock);

	if (!t)
		return NULL;
	sync_opts(t);
	fs_stk_lock();
	t->pcb = tcp_new();
	if (t->pcb) {
		set_callbacks(t);
		apply_opts(t);
		link_in(t);
	}
	fs_stk_unlock();
	if (!t->pcb) {
		fs_obj_free(t);
		return NULL;
	}
	return t;
}

static int
tcp_bind_(void *s, const struct sockaddr *a, socklen_t n)
{
	struct fs_tcp *t = s;
	const struct sockaddr_in *sin;
	ip_addr_t ip;
	int r = fs_check_sin(a, n, &sin);
	err_t e;

	if (r < 0)
		return r;
	if (sin->sin_addr.s_addr != INADDR_ANY && sin->sin_addr.s_addr != fs_stk->cfg.ip)
		return -EADDRNOTAVAIL;
	ip_addr_set_ip4_u32_val(ip, sin->sin_addr.s_addr);
	fs_stk_lock();
	if (!t->pcb || t->st != T_NEW || t->pcb->local_port != 0) {
		fs_stk_unlock();
		return -EINVAL;
	}
	if (fs_kopt_int(t->kfd, SOL_SOCKET, SO_REUSEADDR, 0))
		ip_set_option(t->pcb, SOF_REUSEADDR);
	e = tcp_bind(t->pcb, &ip, ntohs(sin->sin_port));
	fs_stk_unlock();
	return fs_lwip_errno(e);
}

static int
tcp_listen_(void *s, int backlog)
{
	struct fs_tcp *t = s;
	struct tcp_pcb *lp;

	if (backlog < 0 || backlog > SOMAXCONN_LINUX)
		backlog = SOMAXCONN_LINUX; /* as the kernel's net.core.somaxconn */
	fs_stk_lock();
	if (t->st == T_LISTEN) { /* a second listen changes the backlog */
		t->backlog = (unsigned)backlog;
		fs_stk_unlock();
		return 0;
	}
	if (!t->pcb || t->st != T_NEW) {
		fs_stk_unlock();
		return -EINVAL;
	}
	if (t->pcb->local_port == 0 && tcp_bind(t->pcb, IP4_ADDR_ANY, 0) != ERR_OK) {
		fs_stk_unlock();
		return -EADDRINUSE;
	}
	lp = tcp_listen_with_backlog(t->pcb, 255);
	if (!lp) {
		fs_stk_unlock();
		return -ENOBUFS;
	}
	fs_pcb_listening(lp);
	/* lwIP freed the old pcb and made a smaller listening one. */
	t->pcb = lp;
	t->st = T_LISTEN;
	t->backlog = (unsigned)backlog;
	tcp_arg(lp, t);
	tcp_accept(lp, on_accept);
	fs_stk_unlock();
	return 0;
}

void *
fs_tcp_listen_wildcard(int kfd, bool nonblock, uint16_t port, int backlog)
{
	struct fs_tcp *t = fs_tcp_open(kfd, nonblock);
	ip_addr_t any;
	err_t e;

	if (!t)
		return NULL;
	ip_addr_set_ip4_u32_val(any, 0);
	fs_stk_lock();
	ip_set_option(t->pcb, SOF_REUSEADDR); /* the kernel already judged the port */
	e = tcp_bind(t->pcb, &any, port);
	fs_stk_unlock();
	if (e != ERR_OK || tcp_listen_(t, backlog) < 0) {
		fs_tcp_ops.close(t);
		return NULL;
	}
	fs_stk_lock();
	t->dual = true;
	fs_dual_watch(&t->kd, kfd);
	fs_stk_unlock();
	return t;
}

static bool
connect_done(void *s)
{
	struct fs_tcp *t = s;

	return __atomic_load_n(&t->st, __ATOMIC_ACQUIRE) != T_CONNECTING;
}

/* Takes the pending error. Under the stack lock. */
static int
take_err(struct fs_tcp *t)
{
	int e = t->err;

	t->err = 0;
	return e;
}

static int
wait_connected(struct fs_tcp *t)
{
	int r, e;

	for (;;) {
		r = fs_stk_wait(connect_done, t, t->sndtimeo_ns, NULL, 0, 0, NULL);
		if (r == 0)
			return -EINPROGRESS; /* SO_SNDTIMEO ran out: as the kernel */
		if (r < 0)
			return r == -EINTR ? -EINTR : r;
		fs_stk_lock();
		if (t->st == T_CONNECTING) {
			fs_stk_unlock();
			continue;
		}
		e = t->st == T_CONNECTED ? 0 : take_err(t);
		if (t->st != T_CONNECTED) {
			t->connect_failed = true;
			e = e ? e : ECONNABORTED;
		}
		fs_stk_unlock();
		return e ? -e : 0;
	}
}

static void release(struct fs_tcp *t);

/* A socket whose connect failed (lwIP freed its pcb) gets a new one to
 * connect again, with the options it had. Under the lock. */
static bool
renew(struct fs_tcp *t)
{
	if (t->pcb)
		release(t); /* not expected: lwIP frees a failed connection's pcb */
	if (!(t->pcb = tcp_new()))
		return false;
	set_callbacks(t);
	apply_opts(t);
	t->st = T_NEW;
	t->reset = false;
	t->fin = false;
	t->err = 0;
	t->connect_failed = false;
	t->rto_armed = false;
	t->rtt_timing = false;
	return true;
}

static bool
routable(uint32_t addr)
{
	uint32_t mask = fs_prefix_mask(fs_stk->cfg.prefix);

	return ((addr ^ fs_stk->cfg.ip) & mask) == 0 || fs_stk->cfg.gw != 0;
}

static int
tcp_connect_(void *s, const struct sockaddr *a, socklen_t n)
{
	struct fs_tcp *t = s;
	const struct sockaddr_in *sin;
	ip_addr_t ip;
	err_t e;
	int r;

	if ((r = fs_check_sin(a, n, &sin)) < 0)
		return r;
	fs_stk_lock();
	switch (t->st) {
	case T_CONNECTING:
		fs_stk_unlock();
		return t->nonblock ? -EALREADY : wait_connected(t);
	case T_CONNECTED:
		/* As Linux: the first connect after a nonblocking one completed
		 * reports success; later ones EISCONN. */
		r = t->connect_pending ? 0 : -EISCONN;
		t->connect_pending = false;
		fs_stk_unlock();
		return r;
	case T_LISTEN:
		fs_stk_unlock();
		return -EISCONN;
	case T_CLOSED:
		/* As Linux's inet_stream_connect: a connection that was up
		 * stays "connected" (EISCONN); a failed connect reports its
		 * error once through connect() (ECONNABORTED when SO_ERROR took
		 * it), and the connect after that tries anew. */
		t->connect_pending = false;
		if (t->ever_connected) {
			fs_stk_unlock();
			return -EISCONN;
		}
		if (!t->connect_failed) {
			r = take_err(t);
			t->connect_failed = true;
			fs_stk_unlock();
			return r ? -r : -ECONNABORTED;
		}
		if (!renew(t)) {
			fs_stk_unlock();
			return -ENOBUFS;
		}
		break;
	case T_NEW:
		break;
	}
	if (!routable(sin->sin_addr.s_addr)) {
		fs_stk_unlock();
		return -ENETUNREACH;
	}
	ip_addr_set_ip4_u32_val(ip, sin->sin_addr.s_addr);
	t->st = T_CONNECTING;
	t->connect_failed = false;
	e = tcp_connect(t->pcb, &ip, ntohs(sin->sin_port), on_connected);
	if (e != ERR_OK) {
		t->st = T_NEW;
		fs_stk_unlock();
		return fs_lwip_errno(e);
	}
	fs_pcb_track(t->pcb);
	/* Time the handshake: sampled when it completes (on_connected),
	 * unless the SYN waits for ARP first (a lost request is asked again
	 * after 1 s: a first sample of 1 s made every RTO 3 s). */
	if (fs_arp_known(fs_next_hop(sin->sin_addr.s_addr)))
		rtt_begin(t, t->pcb, t->pcb->lastack);
	fs_stk_poll_locked(); /* the SYN (or the ARP request) goes now */
	fs_stk_unlock();
	if (t->nonblock) {
		t->connect_pending = true;
		return -EINPROGRESS;
	}
	return wait_connected(t);
}

static FS_PEEK bool
acceptable(void *s)
{
	struct fs_tcp *t = s;

	return __atomic_load_n(&t->aq_n, __ATOMIC_ACQUIRE) != 0 || !t->pcb;
}

/* The kernel side of a wildcard listener (the caller saw it readable). */
static int
kernel_accept(struct fs_tcp *l, struct sockaddr *a, socklen_t *n, int flags)
{
	long r = syscall(SYS_accept4, l->kfd, a, n, flags);

	return r < 0 ? -errno : (int)r;
}

static int
tcp_accept_(void *s, struct sockaddr *a, socklen_t *n, int flags, void **conn)
{
	struct fs_tcp *l = s, *c;
	int fd, r;

	*conn = NULL;
	if (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC))
		return -EINVAL;
	if (l->st != T_LISTEN)
		return -EINVAL;
	for (;;) {
		if (!acceptable(l))
			fs_stk_progress();
		fs_stk_lock();
		if ((c = l->aq_head))
			break;
		fs_stk_unlock();
		/* The kernel fd may be blocking: accept only what is there. */
		if (l->dual && fs_dual_readable(&l->kd)) {
			r = kernel_accept(l, a, n, flags);
			if (r != -EAGAIN)
				return r;
		}
		if (l->nonblock)
			return -EAGAIN;
		struct pollfd kp = {l->kfd, POLLIN, 0};

		r = fs_stk_wait(acceptable, l, l->rcvtimeo_ns, &kp, l->dual, l->dual, NULL);
		if (r == 0)
			return -EAGAIN;
		if (r == -EINTR && fs_sig_restart && l->rcvtimeo_ns < 0)
			continue;
		if (r < 0)
			return r;
	}
	/* A kernel fd for the connection, as every socket has one. */
	fd = (int)syscall(SYS_socket, AF_INET, SOCK_STREAM | flags, 0);
	if (fd < 0) {
		fs_stk_unlock();
		return -errno; /* EMFILE: the connection stays queued */
	}
	l->aq_head = c->aq_next;
	if (!l->aq_head)
		l->aq_tail = NULL;
	__atomic_sub_fetch(&l->aq_n, 1, __ATOMIC_RELEASE);
	c->aq_next = NULL;
	c->listener = NULL;
	fs_obj_own(c); /* the accepting process's, whoever's poll made it */
	c->kfd = fd;
	c->nonblock = (flags & SOCK_NONBLOCK) != 0;
	if (c->pcb)
		fs_fill_sin(a, n, ip4_addr_get_u32(ip_2_ip4(&c->pcb->remote_ip)), c->pcb->remote_port);
	else
		fs_fill_sin(a, n, 0, 0);
	fs_stk_unlock();
	/* The kernel socket answers getsockopt: give it the inherited options. */
	if (c->nodelay)
		fs_kopt_set(fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
	if (c->keepalive)
		fs_kopt_set(fd, SOL_SOCKET, SO_KEEPALIVE, &(int){1}, sizeof(int));
	/* The rest only when the listener's differ from the defaults (a
	 * system call each; sync_opts reads them back at the next setsockopt). */
	if (c->keep_idle_s != KEEP_IDLE_S)
		fs_kopt_set(fd, IPPROTO_TCP, TCP_KEEPIDLE, &(int){(int)c->keep_idle_s}, sizeof(int));
	if (c->keep_intvl_s != KEEP_INTVL_S)
		fs_kopt_set(fd, IPPROTO_TCP, TCP_KEEPINTVL, &(int){(int)c->keep_intvl_s}, sizeof(int));
	if (c->keep_cnt != KEEP_CNT)
		fs_kopt_set(fd, IPPROTO_TCP, TCP_KEEPCNT, &(int){(int)c->keep_cnt}, sizeof(int));
	if (c->user_timeout_ms)
		fs_kopt_set(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &(int){(int)c->user_timeout_ms},
			    sizeof(int));
	if (c->linger_on)
		fs_kopt_set(fd, SOL_SOCKET, SO_LINGER,
			    &(struct linger){c->linger_on, c->linger_s}, sizeof(struct linger));
	*conn = c;
	return fd;
}

static int
tcp_shutdown_(void *s, int how)
{
	struct fs_tcp *t = s;
	int r = 0;

	if (how < SHUT_RD || how > SHUT_RDWR)
		return -EINVAL;
	fs_stk_lock();
	if (t->st != T_CONNECTED && !(t->st == T_CLOSED && t->ever_connected)) {
		fs_stk_unlock();
		return -ENOTCONN;
	}
	if (how != SHUT_WR)
		t->rd_shut = true;
	if (how != SHUT_RD && !t->wr_shut) {
		t->wr_shut = true;
		if (t->pcb && tcp_shutdown(t->pcb, 0, 1) != ERR_OK)
			r = -ENOBUFS;
		fs_stk_poll_locked();
	}
	bump(t);
	fs_stk_unlock();
	return r;
}

static int
tcp_name_(void *s, struct sockaddr *a, socklen_t *n, int peer)
{
	struct fs_tcp *t = s;
	struct tcp_pcb *pcb;
	int r = 0;

	if (!n)
		return -EFAULT;
	fs_stk_lock();
	pcb = t->pcb;
	if (peer) {
		if (!pcb || (t->st != T_CONNECTED))
			r = -ENOTCONN;
		else
			fs_fill_sin(a, n, ip4_addr_get_u32(ip_2_ip4(&pcb->remote_ip)), pcb->remote_port);
	} else if (!pcb) {
		fs_fill_sin(a, n, 0, 0);
	} else {
		uint32_t ip = ip4_addr_get_u32(ip_2_ip4(&pcb->local_ip));

		if (ip == 0 && (t->st == T_CONNECTED || t->st == T_CONNECTING))
			ip = fs_stk->cfg.ip;
		fs_fill_sin(a, n, ip, pcb->local_port);
	}
	fs_stk_unlock();
	return r;
}

/* Linux's TCP states, for TCP_INFO. */
static uint8_t
linux_state(const struct fs_tcp *t)
{
	if (!t->pcb)
		return TCP_CLOSE;
	switch (t->pcb->state) {
	case LISTEN:
		return TCP_LISTEN;
	case SYN_SENT:
		return TCP_SYN_SENT;
	case SYN_RCVD:
		return TCP_SYN_RECV;
	case ESTABLISHED:
		return TCP_ESTABLISHED;
	case FIN_WAIT_1:
		return TCP_FIN_WAIT1;
	case FIN_WAIT_2:
		return TCP_FIN_WAIT2;
	case CLOSE_WAIT:
		return TCP_CLOSE_WAIT;
	case CLOSING:
		return TCP_CLOSING;
	case LAST_ACK:
		return TCP_LAST_ACK;
	case TIME_WAIT:
		return TCP_TIME_WAIT;
	default:
		return TCP_CLOSE;
	}
}

static int
tcp_info_(struct fs_tcp *t, void *v, socklen_t *n)
{
	struct tcp_info ti;
	struct tcp_pcb *pcb;

	memset(&ti, 0, sizeof(ti));
	fs_stk_lock();
	pcb = t->pcb;
	ti.tcpi_state = linux_state(t);
	if (pcb && t->st != T_LISTEN) {
		/* As Linux: a segment's payload after its options (1448 with
		 * timestamps at MTU 1500); the MSS itself advertised. */
		uint32_t mss = pcb->mss ? tcp_mss(pcb) : TCP_MSS;

		ti.tcpi_snd_mss = mss;
		ti.tcpi_rcv_mss = mss;
		ti.tcpi_advmss = pcb->mss ? pcb->mss : TCP_MSS;
		ti.tcpi_pmtu = netif_default ? netif_default->mtu : 1500;
		/* Microseconds, as Linux (rtt_sample); the timeout our timer
		 * would use next (fs_tcp_rto). */
		ti.tcpi_rtt = (uint32_t)(t->srtt_ns / 1000);
		ti.tcpi_rttvar = (uint32_t)(t->rttvar_ns / 1000);
		ti.tcpi_rto = (uint32_t)((rto_base_ns(t, fs_stk->cfg.tcp_rto_min_ms * 1000000ull)
					  << t->rto_shift) / 1000);
		ti.tcpi_snd_cwnd = (uint32_t)(pcb->cwnd / mss);
		if (ti.tcpi_snd_cwnd == 0)
			ti.tcpi_snd_cwnd = 1;
		ti.tcpi_snd_ssthresh = (uint32_t)(pcb->ssthresh / mss);
		ti.tcpi_rcv_space = pcb->rcv_wnd;
		ti.tcpi_unacked = pcb->snd_queuelen;
		ti.tcpi_retransmits = pcb->nrtx;
		ti.tcpi_total_retrans = pcb->nrtx;
		ti.tcpi_snd_wscale = pcb->snd_scale;
		ti.tcpi_rcv_wscale = pcb->rcv_scale;
		if (pcb->flags & TF_WND_SCALE)
			ti.tcpi_options |= TCPI_OPT_WSCALE;
		if (pcb->flags & TF_TIMESTAMP)
			ti.tcpi_options |= TCPI_OPT_TIMESTAMPS;
		if (pcb->flags & TF_SACK)
			ti.tcpi_options |= TCPI_OPT_SACK;
	} else if (t->st == T_LISTEN) {
		ti.tcpi_unacked = t->aq_n;	  /* as Linux: the accept queue */
		ti.tcpi_sacked = t->backlog;
	}
	fs_stk_unlock();
	if (*n > sizeof(ti))
		*n = sizeof(ti);
	memcpy(v, &ti, *n);
	return 0;
}

static int
tcp_getsockopt_(void *s, int level, int opt, void *v, socklen_t *n)
{
	struct fs_tcp *t = s;

	if (!v || !n)
		return -EFAULT;
	if (level == SOL_SOCKET && opt == SO_ERROR && *n >= sizeof(int)) {
		fs_stk_lock();
		*(int *)v = take_err(t);
		fs_stk_unlock();
		*n = sizeof(int);
		return 0;
	}
	if (level == SOL_SOCKET && opt == SO_ACCEPTCONN && *n >= sizeof(int)) {
		*(int *)v = t->st == T_LISTEN;
		*n = sizeof(int);
		return 0;
	}
	if (level == IPPROTO_TCP && opt == TCP_INFO)
		return tcp_info_(t, v, n);
	if (level == IPPROTO_TCP && opt == TCP_MAXSEG && *n >= sizeof(int) && t->pcb &&
	    t->st == T_CONNECTED) {
		*(int *)v = tcp_mss(t->pcb); /* Linux's mss_cache: options taken off */
		*n = sizeof(int);
		return 0;
	}
	return fs_kopt_get(t->kfd, level, opt, v, n);
}

static int
tcp_setsockopt_(void *s, int level, int opt, const void *v, socklen_t n)
{
	struct fs_tcp *t = s;
	bool sndbuf = level == SOL_SOCKET && (opt == SO_SNDBUF || opt == SO_SNDBUFFORCE);
	bool rcvbuf = level == SOL_SOCKET && (opt == SO_RCVBUF || opt == SO_RCVBUFFORCE);
	bool uncork = t->cork;
	int r, kbuf = 0;

	/* The kernel validates and keeps every option; we mirror what the
	 * stack needs, reading it back before taking the stack lock (these
	 * are system calls). */
	r = fs_kopt_set(t->kfd, level, opt, v, n);
	if (r < 0)
		return r;
	sync_opts(t);
	uncork = uncork && !t->cork;
	if (sndbuf || rcvbuf)
		kbuf = fs_kopt_int(t->kfd, SOL_SOCKET, sndbuf ? SO_SNDBUF : SO_RCVBUF, 0);
	fs_stk_lock();
	if (sndbuf) {
		/* The kernel doubles the value; that much may be in flight. */
		t->snd_limit = (uint32_t)kbuf;
	} else if (rcvbuf) {
		/* Half of the doubled value holds data, as Linux's default
		 * tcp_adv_win_scale gives. */
		t->rcv_limit = (uint32_t)kbuf / 2;
		if (t->pcb && t->st == T_CONNECTED && t->rcv_limit < t->pcb->rcv_wnd)
			t->pcb->rcv_wnd = t->rcv_limit;
	}
	apply_opts(t);
	if (uncork && t->pcb && t->st == T_CONNECTED) {
		tcp_output(t->pcb);
		fs_stk_poll_locked();
	}
	fs_stk_unlock();
	return 0;
}

/* ---- receive ---- */

static FS_PEEK bool
readable(void *s)
{
	struct fs_tcp *t = s;

	return __atomic_load_n(&t->rx_len, __ATOMIC_ACQUIRE) != 0 || t->fin || t->err ||
	       t->st == T_CLOSED || t->rd_shut;
}

/* Copies up to the iovecs' room from the receive queue, consuming it
 * unless peek. Under the stack lock. */
static size_t
copy_out(struct fs_tcp *t, const struct msghdr *m, bool peek, bool discard, size_t want)
{
	struct pbuf *p = t->rx;
	size_t done = 0, i, at = 0, off = t->rx_off;

	for (i = 0; i < m->msg_iovlen && p && done < want; ) {
		struct iovec *v = &m->msg_iov[i];
		size_t room = v->iov_len - at, have = p->len - off, k;

		if (room == 0) {
			i++;
			at = 0;
			continue;
		}
		k = room < have ? room : have;
		if (k > want - done)
			k = want - done;
		if (!discard)
			memcpy((char *)v->iov_base + at, (char *)p->payload + off, k);
		at += k;
		off += k;
		done += k;
		if (off == p->len) {
			p = p->next;
			off = 0;
		}
	}
	if (discard && !m->msg_iovlen) {
		/* MSG_TRUNC without buffers: discard want bytes. */
		while (p && done < want) {
			size_t have = p->len - off, k = have < want - done ? have : want - done;

			done += k;
			off += k;
			if (off == p->len) {
				p = p->next;
				off = 0;
			}
		}
	}
	if (peek)
		return done;
	/* Free the pbufs wholly consumed (each holds the one reference to
	 * the next: cut the link first). */
	while (t->rx && t->rx != p) {
		struct pbuf *q = t->rx;

		t->rx = q->next;
		q->next = NULL;
		pbuf_free(q);
	}
	t->rx_off = (uint16_t)off;
	if (!t->rx)
		t->rx_tail = NULL;
	__atomic_sub_fetch(&t->rx_len, done, __ATOMIC_RELEASE);
	t->rcv_auto = (uint32_t)(t->rcv_auto + done < RCV_CAP_DEFAULT ? t->rcv_auto + done : RCV_CAP_DEFAULT);
	return done;
}

static ssize_t
tcp_recvmsg_(void *s, struct msghdr *m, int flags)
{
	struct fs_tcp *t = s;
	size_t want = 0, got = 0, i;
	bool block = !(t->nonblock || (flags & MSG_DONTWAIT));
	int r;

	if (flags & MSG_OOB)
		return -EINVAL; /* no urgent data, as the kernel says */
	if (flags & MSG_ERRQUEUE)
		return -EAGAIN;
	for (i = 0; i < m->msg_iovlen; i++)
		want += m->msg_iov[i].iov_len;
	m->msg_flags = 0;
	m->msg_controllen = 0;
	if (m->msg_name)
		m->msg_namelen = 0;
	if (t->st == T_LISTEN || (t->st == T_NEW))
		return -ENOTCONN;
	if (want == 0 && !(flags & MSG_TRUNC))
		return 0;
	for (;;) {
		if (__atomic_load_n(&t->rx_len, __ATOMIC_ACQUIRE) == 0)
			fs_stk_progress();
		if (readable(t)) {
			fs_stk_lock();
			if (t->rx_len) {
				size_t k = copy_out(t, m, flags & MSG_PEEK,
						    (flags & MSG_TRUNC) != 0, want - got);

				if (!(flags & MSG_PEEK)) {
					if (credit(t))
						fs_stk_flush_locked(); /* the window update goes now */
				}
				got += k;
				fs_stk_unlock();
				if (!(flags & MSG_WAITALL) || got == want || (flags & MSG_PEEK))
					return (ssize_t)got;
				/* MSG_WAITALL: the rest goes into the iovecs' tail. */
				struct iovec rest[64];
				struct msghdr mm = *m;
				size_t skip = got, j, nr = 0;

				for (j = 0; j < m->msg_iovlen && nr < 64; j++) {
					struct iovec v = m->msg_iov[j];

					if (skip >= v.iov_len) {
						skip -= v.iov_len;
						continue;
					}
					v.iov_base = (char *)v.iov_base + skip;
					v.iov_len -= skip;
					skip = 0;
					rest[nr++] = v;
				}
				mm.msg_iov = rest;
				mm.msg_iovlen = nr;
				r = (int)tcp_recvmsg_(s, &mm, flags);
				if (r < 0)
					return (ssize_t)got; /* what came before the error */
				return (ssize_t)(got + (size_t)r);
			}
			if (t->err) {
				r = take_err(t);
				fs_stk_unlock();
				if (r)
					return got ? (ssize_t)got : -r;
				continue;
			}
			if (t->fin || t->st == T_CLOSED || t->rd_shut) {
				fs_stk_unlock();
				return (ssize_t)got;
			}
			fs_stk_unlock();
		}
		if (!block)
			return got ? (ssize_t)got : -EAGAIN;
		r = fs_stk_wait(readable, t, t->rcvtimeo_ns, NULL, 0, 0, NULL);
		if (r == 0)
			return got ? (ssize_t)got : -EAGAIN;
		if (r == -EINTR && fs_sig_restart && t->rcvtimeo_ns < 0)
			continue;
		if (r < 0)
			return got ? (ssize_t)got : r;
	}
}

/* ---- send ---- */

/* Bytes queued in lwIP, unsent or unacknowledged. Needs the pcb. Also
 * read without the lock (send_room). */
static FS_PEEK size_t
queued(const struct fs_tcp *t)
{
	return (size_t)(TCP_SND_BUF - t->pcb->snd_buf);
}

/* What a socket may queue without SO_SNDBUF (snd_auto): twice the
 * largest window the peer offered, as Linux's send buffer grows with what
 * the connection can move. A peer that reads keeps it at TCP_SND_BUF; one
 * that never reads holds the sender to a few windows, not a megabyte per
 * connection. It moves when the program sends, not under a poll: a sender
 * that filled its buffer is told writable once ACKs freed half of it, as
 * on Linux, not when a window update arrives. Under the stack lock. */
static void
snd_auto_grow(struct fs_tcp *t)
{
	size_t want = 2 * (size_t)t->pcb->snd_wnd_max;

	if (want > TCP_SND_BUF)
		want = TCP_SND_BUF;
	if (want > t->snd_auto)
		t->snd_auto = (uint32_t)want;
}

/* Bytes the socket may queue now. Under the stack lock, or without it
 * where a stale answer is looked at again under it (writable, a blocked
 * send's wait). */
static FS_PEEK size_t
send_room(const struct fs_tcp *t)
{
	size_t room, limit, used;

	if (!t->pcb || tcp_sndqueuelen(t->pcb) >= TCP_SND_QUEUELEN - 1)
		return 0;
	room = tcp_sndbuf(t->pcb);
	limit = t->snd_limit ? t->snd_limit : t->snd_auto;
	used = queued(t);
	if (limit < used + room)
		room = limit > used ? limit - used : 0;
	return room;
}

/* Linux's poll says writable only once the free room is at least half of
 * what is queued (sk_stream_is_writeable): a sender that filled the buffer
 * is not told about every ACK that frees a few bytes. A send itself takes
 * any room. Under the stack lock. */
static bool
poll_writable(const struct fs_tcp *t)
{
	size_t room = send_room(t);

	return room != 0 && room >= queued(t) / 2; /* room != 0: there is a pcb */
}

static bool
writable(void *s)
{
	struct fs_tcp *t = s;

	return t->err || t->st != T_CONNECTED || t->wr_shut || send_room(t) != 0;
}

static ssize_t
epipe(int flags)
{
	if (!(flags & MSG_NOSIGNAL))
		raise(SIGPIPE);
	return -EPIPE;
}

/* Writes of up to this many bytes in several pieces are copied together. */
#define GATHER_MAX 1024

static ssize_t
tcp_sendmsg_(void *s, const struct msghdr *m, int flags)
{
	struct fs_tcp *t = s;
	bool block = !(t->nonblock || (flags & MSG_DONTWAIT));
	size_t total = 0, done = 0, i, at = 0;
	int r;

	if (flags & MSG_OOB)
		return -EOPNOTSUPP;
	for (i = 0; i < m->msg_iovlen; i++)
		total += m->msg_iov[i].iov_len;
	i = 0;
	fs_stk_lock();
	for (;;) {
		if (t->err) {
			/* As Linux: a partial write returns its count and leaves
			 * the error for the next call. */
			r = done ? 0 : take_err(t);
			fs_stk_unlock();
			if (done)
				return (ssize_t)done;
			return r == EPIPE ? epipe(flags) : -r;
		}
		if (t->wr_shut || t->st == T_CLOSED || t->st == T_NEW || t->st == T_LISTEN) {
			fs_stk_unlock();
			if (done)
				return (ssize_t)done;
			return epipe(flags); /* as Linux, also before any connect */
		}
		if (t->st == T_CONNECTED) {
			size_t room;

			if (t->pcb)
				snd_auto_grow(t);
			room = send_room(t);

			/* A write that goes out whole now, in one segment. */
			if (!done && total <= room && !(flags & MSG_MORE) && !t->cork &&
			    fs_nif_tcp_send(t->pcb, m->msg_iov, m->msg_iovlen, total)) {
				done = total;
				t->tx_bytes += done;
				rtt_arm(t, t->pcb);
				fs_stk_flush_locked();
				break;
			}
			/* A small write in pieces (a header and a body) goes to
			 * lwIP in one: piece by piece, lwIP sizes the first
			 * segment's buffer for a whole MSS to append to, past
			 * malloc's fast sizes, and runs twice. */
			if (m->msg_iovlen > 1 && total <= GATHER_MAX && total <= room && !done) {
				char buf[GATHER_MAX];
				u8_t wf = TCP_WRITE_FLAG_COPY;

				for (i = 0; i < m->msg_iovlen; i++) {
					memcpy(buf + at, m->msg_iov[i].iov_base, m->msg_iov[i].iov_len);
					at += m->msg_iov[i].iov_len;
				}
				if ((flags & MSG_MORE) || t->cork)
					wf |= TCP_WRITE_FLAG_MORE;
				if (tcp_write(t->pcb, buf, (u16_t)total, wf) == ERR_OK)
					done = total;
				i = 0;
				at = 0;
			}
			while (room && done < total) {
				const struct iovec *v = &m->msg_iov[i];
				size_t k = v->iov_len - at;
				u8_t wf = TCP_WRITE_FLAG_COPY;
				err_t e;

				if (k == 0) {
					i++;
					at = 0;
					continue;
				}
				if (k > room)
					k = room;
				if (k > 0xffff)
					k = 0xffff;
				if (done + k < total || (flags & MSG_MORE) || t->cork)
					wf |= TCP_WRITE_FLAG_MORE;
				e = tcp_write(t->pcb, (char *)v->iov_base + at, (u16_t)k, wf);
				if (e != ERR_OK)
					break; /* out of segments: wait for acks */
				at += k;
				done += k;
				room = send_room(t);
			}
			if (done) {
				t->tx_bytes += done;
				if (!(flags & MSG_MORE))
					tcp_output(t->pcb);
				rtt_arm(t, t->pcb);
				fs_stk_flush_locked();
			}
			if (done == total || (!block && done))
				break;
		}
		fs_stk_unlock();
		if (!block)
			return -EAGAIN;
		/* A full device queue holds lwIP's output back too. */
		r = fs_stk_wait_sliced(writable, t, t->sndtimeo_ns, NULL, 0, 0, NULL, TX_SLICE_NS);
		if (r == 0)
			return done ? (ssize_t)done : -EAGAIN;
		if (r == -EINTR && !done && fs_sig_restart && t->sndtimeo_ns < 0) {
			fs_stk_lock();
			continue;
		}
		if (r < 0)
			return done ? (ssize_t)done : r;
		fs_stk_lock();
	}
	fs_stk_unlock();
	return (ssize_t)done;
}

static int
tcp_ioctl_(void *s, unsigned long req, void *arg)
{
	struct fs_tcp *t = s;

	switch (req) {
	case FIONBIO:
		t->nonblock = *(int *)arg != 0;
		return 0;
	case FIONREAD:
		if (t->st == T_LISTEN)
			return -EINVAL;
		*(int *)arg = (int)__atomic_load_n(&t->rx_len, __ATOMIC_ACQUIRE);
		return 0;
	case TIOCOUTQ:
		fs_stk_lock();
		*(int *)arg = t->pcb && t->st == T_CONNECTED ? (int)(TCP_SND_BUF - t->pcb->snd_buf) : 0;
		fs_stk_unlock();
		return 0;
	}
	return syscall(SYS_ioctl, t->kfd, req, arg) < 0 ? -errno : 0;
}

/* Linux's tcp_poll, on our state. */
static unsigned
tcp_poll_(void *s, uint32_t *gen)
{
	struct fs_tcp *t = s;
	unsigned ev = 0;
	bool rd_shut, wr_shut;

	if (gen)
		*gen = __atomic_load_n(&t->gen, __ATOMIC_ACQUIRE);
	if (t->st == T_LISTEN) {
		if (__atomic_load_n(&t->aq_n, __ATOMIC_ACQUIRE) ||
		    (t->dual && fs_dual_readable(&t->kd)))
			ev |= POLLIN | POLLRDNORM;
		return ev;
	}
	if (t->st == T_CONNECTING)
		return 0;
	rd_shut = t->fin || t->rd_shut || t->st == T_CLOSED;
	wr_shut = t->wr_shut || t->st == T_CLOSED;
	if ((rd_shut && wr_shut) || t->st == T_CLOSED || t->st == T_NEW)
		ev |= POLLHUP;
	if (rd_shut && t->st != T_NEW)
		ev |= POLLIN | POLLRDNORM | POLLRDHUP;
	if (__atomic_load_n(&t->rx_len, __ATOMIC_ACQUIRE))
		ev |= POLLIN | POLLRDNORM;
	if (wr_shut || t->st == T_NEW || poll_writable(t))
		ev |= POLLOUT | POLLWRNORM;
	if (t->err)
		ev |= POLLERR;
	return ev;
}

/* Gives a connection that is no program's any more to lwIP to finish:
 * queued data goes out and then a FIN, or an RST when unread data is
 * thrown away or SO_LINGER says zero. Under the stack lock. */
static void
release(struct fs_tcp *t)
{
	struct tcp_pcb *pcb = t->pcb;
	bool unread = t->rx_len != 0;

	delack_forget(t);
	while (t->rx) {
		struct pbuf *q = t->rx;

		t->rx = q->next;
		q->next = NULL;
		pbuf_free(q);
	}
	t->rx_tail = NULL;
	t->rx_len = 0;
	if (!pcb)
		return;
	t->pcb = NULL;
	if (t->st == T_LISTEN) {
		tcp_arg(pcb, NULL);
		tcp_accept(pcb, NULL);
		tcp_close(pcb);
		return;
	}
	clear_callbacks(pcb);
	if ((t->linger_on && t->linger_s == 0) || unread) {
		/* As the kernel: unread data or a zero linger resets. */
		tcp_abort(pcb);
		return;
	}
	/* lwIP resets when it thinks data went unread: give it all back. */
	if (pcb->rcv_wnd < TCP_WND_MAX(pcb))
		recved(pcb, TCP_WND_MAX(pcb) - pcb->rcv_wnd);
	if (tcp_close(pcb) != ERR_OK)
		tcp_abort(pcb);
}

/* SO_LINGER with a timeout: all data acknowledged, or the connection is
 * over. */
static bool
lingered(void *s)
{
	struct fs_tcp *t = s;

	return __atomic_load_n(&t->acked_bytes, __ATOMIC_ACQUIRE) >=
		       __atomic_load_n(&t->tx_bytes, __ATOMIC_ACQUIRE) ||
	       __atomic_load_n(&t->st, __ATOMIC_ACQUIRE) != T_CONNECTED || t->reset;
}

/* Closes t, which nobody holds any more, and frees it. Under the lock.
 * forget_dual: its kernel side was a process's that ended (the kernel
 * closed that fd). */
static void
close_locked(struct fs_tcp *t, bool forget_dual)
{
	struct fs_tcp *c;

	if (t->st == T_LISTEN) {
		/* Connections nobody accepted are reset, as the kernel does. */
		while ((c = t->aq_head)) {
			t->aq_head = c->aq_next;
			c->linger_on = 1;
			c->linger_s = 0;
			release(c);
			unlink_(c);
			fs_obj_free(c);
		}
		t->aq_tail = NULL;
		t->aq_n = 0;
		if (t->dual && forget_dual)
			fs_dual_forget(&t->kd);
		else if (t->dual)
			fs_dual_unwatch(&t->kd);
	}
	release(t);
	unlink_(t);
	fs_obj_free(t);
}

static void
tcp_close_(void *s)
{
	struct fs_tcp *t = s;

	/* Another process of the family still has it open (a fork). */
	if (!fs_obj_drop(t))
		return;
	/* As Linux's inet_release: with SO_LINGER on and a timeout, close
	 * waits (even on a nonblocking socket) until the data sent is
	 * acknowledged or the timeout runs out; what is left still goes
	 * after it returns. */
	if (t->st == T_CONNECTED && t->linger_on && t->linger_s > 0)
		fs_stk_wait(lingered, t, (int64_t)t->linger_s * 1000000000, NULL, 0, 0, NULL);
	fs_stk_lock();
	close_locked(t, false);
	fs_stk_poll_locked();
	fs_stk_unlock();
}

/* At exit: what the kernel does to the sockets of a process that ends.
 * Each connection only this process holds is closed as close() would (a
 * FIN after the data, a reset where data went unread); connections
 * waiting in the accept queue of a listener only it holds are reset; what
 * other processes of the family hold is theirs. Nothing is freed, and the
 * process stays their holder: the program's other threads still run. The
 * family frees them once the process is gone (fs_tcp_member_gone). Under
 * the lock. */
void
fs_tcp_exit_close(void)
{
	struct fs_tcp *t;

	for (t = all; t; t = t->next)
		if (!t->listener && fs_obj_holders(t) == fs_family_bit)
			release(t);
	for (t = all; t; t = t->next)
		if (t->listener && fs_obj_holders(t->listener) == fs_family_bit) {
			t->linger_on = 1;
			t->linger_s = 0;
			release(t);
		}
}

/* The member of bit ended (exit, or killed): the sockets only it held are
 * closed as the kernel closes a dead process's files, and freed. Under
 * the lock. */
void
fs_tcp_member_gone(uint64_t bit)
{
	struct fs_tcp *t, **pp = &all;

	/* Connections first: each goes from the list where it stands. */
	while ((t = *pp)) {
		if (t->listener || t->st == T_LISTEN || !(fs_obj_holders(t) & bit) ||
		    !fs_obj_drop_member(t, bit)) {
			pp = &t->next;
			continue;
		}
		*pp = t->next;
		__atomic_sub_fetch(&nsocks, 1, __ATOMIC_RELAXED);
		release(t);
		fs_obj_free(t);
	}
	/* Listeners (few) free their queues from anywhere in the list: look
	 * again from the start after each. */
	for (t = all; t;) {
		if (t->st == T_LISTEN && (fs_obj_holders(t) & bit) && fs_obj_drop_member(t, bit)) {
			close_locked(t, true);
			t = all;
			continue;
		}
		t = t->next;
	}
}

/* A restart (engine.c), step 1, before lwIP starts again: every socket
 * lets go of lwIP's objects, which are never touched again (their memory
 * is leaked: it may be half changed). Connections are reset, as by an RST
 * from the peer, and lose what they had received; connections nobody
 * accepted yet are dropped; listeners and new sockets keep their address
 * for step 2. Returns the connections reset or dropped. Under the lock. */
unsigned
fs_tcp_restart_drop(void)
{
	struct fs_tcp *t, **pp = &all;
	unsigned n = 0;

	delack_head = NULL;
	half_open = syn_since = 0;
	while ((t = *pp)) {
		if (t->listener) { /* in an accept queue: nobody's fd yet */
			*pp = t->next;
			__atomic_sub_fetch(&nsocks, 1, __ATOMIC_RELAXED);
			fs_obj_free(t);
			n++;
			continue;
		}
		t->delack_on = false;
		t->rto_armed = false;
		t->rtt_timing = false;
		t->rx = t->rx_tail = NULL;
		t->rx_off = 0;
		__atomic_store_n(&t->rx_len, 0, __ATOMIC_RELEASE);
		if (t->st == T_LISTEN || t->st == T_NEW) {
			t->aq_head = t->aq_tail = NULL;
			t->aq_n = 0;
			t->re_ip = t->pcb ? ip4_addr_get_u32(ip_2_ip4(&t->pcb->local_ip)) : 0;
			t->re_port = t->pcb ? t->pcb->local_port : 0;
			t->re_reuse = t->pcb && ip_get_option(t->pcb, SOF_REUSEADDR);
			t->pcb = NULL;
		} else if (t->pcb) {
			on_err(t, ERR_RST);
			n++;
		}
		pp = &t->next;
	}
	return n;
}

/* Step 2, on the new lwIP: listeners listen again and new sockets have a
 * pcb again, where they were bound. One that cannot (out of memory) is
 * reset. Under the lock. */
void
fs_tcp_restart_again(void)
{
	struct tcp_pcb *pcb, *lp;
	struct fs_tcp *t;
	ip_addr_t ip;

	for (t = all; t; t = t->next) {
		if (t->st != T_LISTEN && t->st != T_NEW)
			continue;
		ip_addr_set_ip4_u32_val(ip, t->re_ip);
		if (!(pcb = tcp_new()))
			goto lost;
		if (t->re_reuse)
			ip_set_option(pcb, SOF_REUSEADDR);
		if (t->re_port && tcp_bind(pcb, &ip, t->re_port) != ERR_OK) {
			tcp_abort(pcb);
			goto lost;
		}
		t->pcb = pcb;
		if (t->st == T_LISTEN) {
			if (!(lp = tcp_listen_with_backlog(pcb, 255))) {
				t->pcb = NULL;
				tcp_abort(pcb);
				goto lost;
			}
			fs_pcb_listening(lp);
			t->pcb = lp;
			tcp_arg(lp, t);
			tcp_accept(lp, on_accept);
		} else {
			set_callbacks(t);
			apply_opts(t);
		}
		bump(t);
		continue;
	lost:
		FS_WARN("tcp socket %d: no pcb on port %u after the stack's restart: reset",
			t->kfd, (unsigned)t->re_port);
		t->err = ENOMEM;
		t->st = T_CLOSED;
		t->reset = true;
		bump(t);
	}
}

/* Adds member bit add to every socket that a member of have holds (the
 * sockets a forked child inherits). Under the lock. */
void
fs_tcp_family_add(uint64_t have, uint64_t add)
{
	struct fs_tcp *t;

	for (t = all; t; t = t->next)
		if (fs_obj_holders(t) & have)
			fs_obj_add_holder(t, add);
}

/* Whether a connection still has data or a FIN unacknowledged. */
bool
fs_tcp_delivering(void)
{
	struct tcp_pcb *pcb;

	/* Closed ones only (no socket any more): a connection another
	 * process of the family holds is its business. */
	for (pcb = tcp_active_pcbs; pcb; pcb = pcb->next)
		if (!pcb->callback_arg && pcb->state >= ESTABLISHED && (pcb->unsent || pcb->unacked))
			return true;
	return false;
}

static int
tcp_kernel_fd_(void *s, bool *reported)
{
	struct fs_tcp *t = s;

	if (reported)
		*reported = t->dual && fs_dual_reported(&t->kd);
	return t->dual ? t->kfd : -1;
}

const struct fs_sock_ops fs_tcp_ops = {
	.bind = tcp_bind_,
	.connect = tcp_connect_,
	.listen = tcp_listen_,
	.accept = tcp_accept_,
	.shutdown = tcp_shutdown_,
	.name = tcp_name_,
	.getsockopt = tcp_getsockopt_,
	.setsockopt = tcp_setsockopt_,
	.sendmsg = tcp_sendmsg_,
	.recvmsg = tcp_recvmsg_,
	.ioctl = tcp_ioctl_,
	.poll = tcp_poll_,
	.close = tcp_close_,
	.kernel_fd = tcp_kernel_fd_,
};

unsigned
fs_tcp_publish(struct fs_pub_sock *p, unsigned max)
{
	struct fs_tcp *t;
	unsigned n = 0;

	for (t = all; t && n < max; t = t->next) {
		struct tcp_pcb *pcb = t->pcb;

		if (!pcb)
			continue;
		p[n++] = (struct fs_pub_sock){
			.fd = t->kfd,
			.proto = 6,
			.connected = t->st == T_CONNECTED,
			.lport = pcb->local_port,
			.rport = t->st == T_LISTEN ? 0 : pcb->remote_port,
			.laddr = ip4_addr_get_u32(ip_2_ip4(&pcb->local_ip)),
			.raddr = t->st == T_LISTEN ? 0 : ip4_addr_get_u32(ip_2_ip4(&pcb->remote_ip)),
			.rx_queued = 0,
			.rx_queued_bytes = (uint32_t)t->rx_len,
			.rx_dgrams = t->rx_bytes,
			.tx_dgrams = t->tx_bytes,
			.drops = 0,
		};
	}
	return n;
}
