/* The stack core shared by stack/ files: one stack per process, its lock,
 * its device, its waiters and counters. No lwIP or DPDK types here. */
#ifndef FS_STACK_H
#define FS_STACK_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "dev.h"
#include "publish.h"
#include "shared.h"
#include "sock.h"

struct iovec;
struct pbuf;
struct tcp_pcb;

#define fs_likely(x) __builtin_expect(!!(x), 1)
#define fs_unlikely(x) __builtin_expect(!!(x), 0)

/* The stack's drop counters: a field for each drop of publish.h's
 * FS_DROPS counted here (STK), and two counts that are not drops. */
#define FS_DROP_FIELD_STK(field) uint64_t field;
#define FS_DROP_FIELD_DEV(field)
#define FS_DROP_FIELD_BUFS(field)
#define FS_DROP_FIELD(id, name, src, field) FS_DROP_FIELD_##src(field)
struct fs_drops {
	FS_DROPS(FS_DROP_FIELD)
	uint64_t rx_no_socket;	/* UDP to a port nobody bound (ICMP sent) */
	uint64_t tcp_time_wait_recycled; /* TIME_WAIT connections beyond the bound */
};
#undef FS_DROP_FIELD

/* A thread sleeping until the stack has news: the stack writes efd, an
 * fd of the process in family slot `slot` (only that process can write
 * it; the others ring kick_fd, below). In the family's memory. */
struct fs_waiter {
	int efd;
	unsigned slot;
	struct fs_waiter *next;
};

#define FS_NEWS_LOG 1024 /* a power of two */

struct fs_stack {
	uint32_t lock; /* everything below, and all of lwIP (fs_stk_lock) */
	struct fs_dev *dev;
	struct fs_config cfg;
	struct fs_drops drops;
	struct fs_waiter *waiters;
	/* Wakes the progress thread of the member in each slot: all made
	 * before any fork, so every member can ring every other (-1: none,
	 * a device that cannot be shared has slot 0's only). */
	int kick_fd[FS_FAMILY_MAX];
	uint32_t news_gen;	/* moves when waiters of other processes have news */
	pid_t members[FS_FAMILY_MAX]; /* the family by slot; 0 free, -1 forking */
	unsigned family_n;	/* members */
	uint64_t leaving;	/* members that exited normally, until gone */
	uint64_t check_ns;	/* when the family is next checked for the dead */
	bool news;		/* a socket changed state during this poll */
	bool tx_blocked;	/* lwIP was refused a frame: the device queue was full */
	uint64_t tx_refused;	/* frames so refused (TCP sends them again) */
	unsigned arp_pending;	/* sends queued while a neighbour is unresolved */
	uint64_t arp_asked_ns;	/* when it was last asked for (udp_sock.c) */
	uint64_t polls;
	unsigned restarts;	/* of lwIP: a member died holding the lock */
	/* The news log: the sockets whose readiness may have risen, in
	 * order, the last FS_NEWS_LOG of them (fs_stk_news_of, under the
	 * lock; read without it by fs_stk_news_since). */
	uint64_t news_seq;
	const void *news_log[FS_NEWS_LOG];
};

/* The process's stack once started, else NULL. */
extern struct fs_stack *fs_stk;

/* Starts the stack over dev (taken over). Returns 0 or -errno. */
int fs_stk_start(struct fs_dev *dev, const struct fs_config *c, bool progress_thread);

/* Stops the progress thread and closes the device (tests, exit). */
void fs_stk_stop(void);

/* One round of progress: receive a burst, run lwIP, fire due timers, send
 * what is queued. The caller holds fs_stk->lock. Returns frames received. */
unsigned fs_stk_poll_locked(void);

/* Hands what is queued to the device (under the lock). */
void fs_stk_flush_locked(void);

/* The stack lock: a futex word in the family's memory. 0 when free, else
 * the holder's family slot + 1, with FS_LOCK_WAITERS while a thread may
 * sleep on it. Not a pthread mutex: a member that dies holding the lock
 * must not stop the others (the family's check takes the lock over from a
 * dead holder, engine.c), and glibc's robust mutex costs more than
 * sharing may (docs/benchmarks.md, 2026-12-06). */
#define FS_LOCK_WAITERS 0x80000000u
/* FS_PEEK marks a function that reads, without the lock, what the lock's
 * holder writes, where a stale value is fine (its caller looks again under
 * the lock or is woken): hidden from ThreadSanitizer, which reports such a
 * read as the race it is. ThreadSanitizer is told of the lock's acquire
 * and release (FS_TSAN_*): without that it reported races between
 * accesses that both were under the lock (2026-12-07). */
#ifdef __SANITIZE_THREAD__
#define FS_PEEK __attribute__((no_sanitize_thread, noinline))
#include <sanitizer/tsan_interface.h>
#define FS_TSAN_ACQUIRE(p) __tsan_acquire(p)
#define FS_TSAN_RELEASE(p) __tsan_release(p)
#else
#define FS_PEEK
#define FS_TSAN_ACQUIRE(p) ((void)0)
#define FS_TSAN_RELEASE(p) ((void)0)
#endif
void fs_stk_lock_slow(void);
void fs_stk_lock_wake(void);

/* This process's slot in the family. */
extern unsigned fs_family_slot;

/* Takes the lock if it is free. */
static inline bool
fs_stk_trylock(void)
{
	uint32_t free_ = 0;

	if (!__atomic_compare_exchange_n(&fs_stk->lock, &free_, fs_family_slot + 1, false,
					 __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
		return false;
	FS_TSAN_ACQUIRE(&fs_stk->lock);
	return true;
}

static inline void
fs_stk_lock(void)
{
	if (fs_unlikely(!fs_stk_trylock()))
		fs_stk_lock_slow();
}

static inline void
fs_stk_unlock(void)
{
	FS_TSAN_RELEASE(&fs_stk->lock);
	if (fs_unlikely(__atomic_exchange_n(&fs_stk->lock, 0, __ATOMIC_RELEASE) & FS_LOCK_WAITERS))
		fs_stk_lock_wake();
}

/* Looks for members that ended (exited, or were killed) and closes what
 * only they held, as the kernel closes a dead process's files; a lock one
 * of them died holding is taken over. The progress threads run it every
 * FS_FAMILY_CHECK_NS; force: now. Returns how many were found. */
#define FS_FAMILY_CHECK_NS 100000000ull
unsigned fs_family_check(bool force);

/* Whether this process runs a progress thread; the unit tests pretend. */
bool fs_stk_has_progress(void);
void fs_stk_test_progress(bool on);

bool fs_nif_loop_pending(void);

/* Progress if the lock is free (the hot paths never wait for it). A
 * device that can tell, without the lock, that nothing arrived spares a
 * spinning thread the lock while nothing waits to go either: busy-polling
 * members of a family would otherwise hold it most of the time, taking it
 * from each other (and a member killed holding it leaves the stack half
 * updated). Timers are the progress thread's then. */
static inline void
fs_stk_progress(void)
{
	struct fs_dev *d = fs_stk->dev;

	/* tx_pending: a hint read without the lock (the devices store it
	 * atomically under the lock). */
	if (d->ops->rx_idle && __atomic_load_n(&d->tx_pending, __ATOMIC_RELAXED) == 0 &&
	    d->ops->rx_idle(d) && !fs_nif_loop_pending())
		return;
	if (fs_stk_trylock()) {
		fs_stk_poll_locked();
		fs_stk_unlock();
	}
}

/* Called under the lock when socket sock became readable, writable or got
 * an error: wakes the sleeping waiters once the poll ends, and logs sock
 * for the epoll sets (fs_stk_news_since). */
static inline void
fs_stk_news_of(const void *sock)
{
	uint64_t q = fs_stk->news_seq;

	__atomic_store_n(&fs_stk->news_log[q & (FS_NEWS_LOG - 1)], sock, __ATOMIC_RELEASE);
	__atomic_store_n(&fs_stk->news_seq, q + 1, __ATOMIC_RELEASE);
	fs_stk->news = true;
}

/* Every socket's readiness may have changed (lwIP restarted): the next
 * look of every epoll set is at all its members. Under the lock. */
static inline void
fs_stk_news_all(void)
{
	__atomic_store_n(&fs_stk->news_seq, fs_stk->news_seq + FS_NEWS_LOG + 1, __ATOMIC_RELEASE);
	fs_stk->news = true;
}


/* fs_stk_wait for a condition no frame announces (room in a device queue
 * that has no completion event): each sleep lasts at most slice_ns. */
int fs_stk_wait_sliced(bool (*ready)(void *), void *arg, int64_t timeout_ns,
		       struct pollfd *kfds, int nk, int nk_spin, const sigset_t *sigmask,
		       int64_t slice_ns);

/* Publishing for fastsock-stat (publish.c): open at start, then update
 * from the progress thread under the lock (every 250 ms unless forced). */
struct fs_pub_sock;
struct fs_pub_arp;
void fs_pub_open(void);
void fs_pub_update(bool force);
/* The drop counters in enum fs_pub_drop's order (their names are
 * fs_pub_drop_name), into v[FS_DROP_COUNT]; b receives the device's buffer
 * figures (may be a system call). For fastsock-stat and the exit report. */
void fs_pub_drops(uint64_t *v, struct fs_dev_bufs *b);
/* Fill the tables; return how many entries were written. */
unsigned fs_udp_publish(struct fs_pub_sock *s, unsigned max);
unsigned fs_tcp_publish(struct fs_pub_sock *s, unsigned max);

/* Whether a SYN to a listener on dst:port may go to lwIP: false (and the
 * drop counted) while its accept queue is full (the kernel drops such SYNs
 * too; the peer retries). At the bound of half-open connections it makes
 * room by dropping the older half of them. */
bool fs_tcp_syn_admit(uint32_t dst, uint16_t port);

/* A SYN (no ACK) from src:sport to dst:dport (addresses network order,
 * ports host order), with its sequence number and, if it has one, its
 * timestamp. If a connection of that 4-tuple is in TIME_WAIT here, it
 * goes when the SYN starts a new one as Linux lets it
 * (tcp_timewait_state_process: a sequence number past the old one's or a
 * newer timestamp). lwIP would answer each such SYN with an ACK and
 * ignore the peer's RST (RFC 1337): a client reusing its ports, as Linux
 * does when it connects in a loop, would wait 2 MSL. Under the lock. */
void fs_tcp_syn_time_wait(uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport,
			  uint32_t seq, bool has_ts, uint32_t tsval);

/* TCP sockets open on the stack (read without the lock). */
unsigned fs_tcp_count(void);

/* Asks every TCP connection to send what it holds (after the device
 * refused frames and has room again). Under the lock. */
void fs_tcp_kick(void);

/* Bounds the connections in TIME_WAIT (under the lock). */
void fs_tcp_trim_time_wait(uint64_t now);

/* Sends the delayed ACKs that are due (under the lock). */
void fs_tcp_delack(uint64_t now);

/* Retransmits for connections whose retransmission timeout ran out
 * (under the lock; looks at most every few milliseconds). */
void fs_tcp_rto(uint64_t now);

/* At exit: closes every TCP socket as the kernel would (fs_tcp_exit_close)
 * and tells whether any connection still has data or a FIN to deliver
 * (fs_tcp_delivering). Under the lock. */
void fs_tcp_exit_close(void);
bool fs_tcp_delivering(void);

/* Adds family member bit add to every socket a member in have holds (a
 * fork). Under the lock. */
void fs_tcp_family_add(uint64_t have, uint64_t add);
void fs_udp_family_add(uint64_t have, uint64_t add);
/* Closes and frees the sockets only the member of bit held: it ended
 * (exit, or killed), and the kernel would close its files. Under the
 * lock. */
void fs_tcp_member_gone(uint64_t bit);
void fs_udp_member_gone(uint64_t bit);
/* A restart of lwIP (engine.c): the sockets let go of lwIP's objects,
 * then take new ones. Under the lock. */
unsigned fs_tcp_restart_drop(void);
void fs_tcp_restart_again(void);
void fs_udp_restart_drop(void);
void fs_udp_restart_again(void);

/* A unicast datagram to our address, its checksum verified, p's payload
 * at the frame (hlen bytes of headers before the UDP data, len bytes to
 * the datagram's end): delivered straight to the one socket bound to
 * dport when lwIP's udp_input would choose it, consuming p. False, p
 * untouched, when there is none or there are several (lwIP's rules
 * choose, its walk pays). Under the lock. */
bool fs_udp_direct(struct pbuf *p, unsigned hlen, unsigned len, uint32_t src, uint16_t sport,
		   uint32_t dst, uint16_t dport);

/* Loss recovery lwIP lacks, run after each TCP segment from a lossy link
 * has been through lwIP (under the lock). */
void fs_tcp_after_input(void);
unsigned fs_nif_publish_arp(struct fs_pub_arp *a, unsigned max);
/* Bytes of the stack's heap in use (netif.c fs_heap_alloc). */
extern uint64_t fs_heap_used;

/* lwIP glue (netif.c). */
int fs_nif_init(struct fs_dev *dev, const struct fs_config *c);
/* lwIP started again from scratch (engine.c restart); -errno when it
 * cannot start. Only where fs_nif_can_restart. Under the lock. */
bool fs_nif_can_restart(void);
int fs_nif_restart(const struct fs_config *c);
void fs_nif_input(struct fs_rxframe *f);
/* Delivers what lwIP sent to our own address (its loop queue); true if
 * there was any. Under the lock. */
bool fs_nif_loop(void);
/* Frees a received pbuf without holding fs_stk->lock: a zero-copy buffer
 * nobody else holds goes straight back to the device, anything else to
 * lwIP under the lock. */
void fs_nif_pbuf_release(struct pbuf *p);
/* The MAC of the next hop to dst (a unicast address, not ours) for a direct
 * send path, if the cache holds it for this second; false: send this frame
 * lwIP's way (see netif.c). */
bool fs_nif_neigh(uint32_t dst, uint8_t mac[6]);
/* Fills the cache for dst from lwIP's ARP table (after lwIP's path sent
 * the second's first frame to it). */
void fs_nif_neigh_learn(uint32_t dst);
/* The second the neighbour cache serves (its entries of other seconds are
 * stale); fs_nif_timers advances it. */
extern uint32_t fs_nif_neigh_epoch;
/* The direct send paths' Ethernet and IPv4 headers at b, as lwIP writes
 * them (no options, no DF, the next identification): to mac, ip_len bytes
 * of IPv4 from src to dst (network order). Returns the IPv4 header. */
uint8_t *fs_nif_headers(uint8_t *b, const uint8_t mac[6], uint8_t tos, uint8_t ttl, uint8_t proto,
			uint16_t ip_len, uint32_t src, uint32_t dst);
/* The identification fs_nif_headers gives next. */
extern uint16_t fs_ip_id;
/* Packets lwIP built that nif_output wrote straight into a device buffer
 * (neighbour cached), not through etharp_output. */
extern uint64_t fs_nif_out_direct;
/* TCP segments received that netif.c's tcp_direct handed to tcp_input. */
extern uint64_t fs_tcp_direct_in;
/* lwIP's udp_input may have reordered udp_pcbs (it moves a connected
 * pcb that matched to the front): netif.c calls it before each pass
 * through lwIP's input. Under the lock. */
void fs_udp_order_moved(void);

/* UDP datagrams netif.c handed straight to their socket (fs_udp_direct). */
extern uint64_t fs_udp_direct_in;
/* Sends a write of len bytes (<= the MSS) from iov as one segment built
 * directly, when the connection's state lets it out now as tcp_write and
 * tcp_output would; false: nothing done, lwIP's way then (netif.c). */
bool fs_nif_tcp_send(struct tcp_pcb *pcb, const struct iovec *iov, size_t iovcnt, size_t len);
/* Segments so sent. */
extern uint64_t fs_tcp_direct_out;
/* Of fs_tcp_direct_in, the in-order data segments netif.c's tcp_fast_input
 * took instead of tcp_input. */
extern uint64_t fs_tcp_fast_in;
void fs_nif_timers(void);
/* ms until the next lwIP timer (capped). */
uint32_t fs_nif_sleeptime(void);

/* The neighbour a packet to dst goes to first (0: none, for multicast and
 * broadcast), and whether its address is in the ARP table (under the
 * lock). Network order. */
uint32_t fs_next_hop(uint32_t dst);
bool fs_arp_known(uint32_t hop);

uint64_t fs_now_ns(void);
/* A clock read made under the lock, for the timestamp clock (netif.c). */
void fs_nif_clock(uint64_t now_ns);

#endif
