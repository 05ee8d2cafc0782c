/* The engine: one stack per process under one lock, a progress round that
 * any thread may run, the waiters that sleep until the stack has news, and
 * the background progress thread that covers timers and wakeups while the
 * program is not calling in. No lwIP or DPDK types here. */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "dual.h"
#include "log.h"
#include "publish.h"
#include "shared.h"
#include "stack.h"

/* Per process: a forked child forgets it when it cannot join the family
 * (fs_stk_forget). */
struct fs_stack *fs_stk FS_PRIVATE;
unsigned fs_family_slot FS_PRIVATE;
void (*fs_family_detach)(void) FS_PRIVATE;
/* This process's progress thread. */
static pthread_t progress_tid FS_PRIVATE;
static int progress_stop FS_PRIVATE;
static bool progress_wanted FS_PRIVATE;
__thread unsigned fs_sig_seen __attribute__((tls_model("initial-exec")));
__thread bool fs_sig_restart __attribute__((tls_model("initial-exec")));

/* Raw system calls: these fds are ours, and going through the interposer
 * would only cost a lookup (and could recurse while it starts). */
static void
efd_signal(int fd)
{
	uint64_t one = 1;

	syscall(SYS_write, fd, &one, sizeof(one));
}

static void
efd_drain(int fd)
{
	uint64_t v;

	syscall(SYS_read, fd, &v, sizeof(v));
}

static long
futex(uint32_t *word, int op, uint32_t v)
{
	return syscall(SYS_futex, word, op, v, NULL, NULL, 0);
}

/* The lock is taken (stack.h): spin a little, a section being a poll
 * round of a few microseconds, then sleep until the holder lets it go.
 * Shared futex operations: the waiters may be other processes. */
void
fs_stk_lock_slow(void)
{
	uint32_t me = fs_family_slot + 1, v;
	int i;

	for (i = 0; i < 128; i++) {
		fs_cpu_relax();
		if (__atomic_load_n(&fs_stk->lock, __ATOMIC_RELAXED) == 0 && fs_stk_trylock())
			return;
	}
	for (;;) {
		v = __atomic_load_n(&fs_stk->lock, __ATOMIC_RELAXED);
		if (v == 0) {
			/* Others may sleep on it still: keep them noted. */
			if (__atomic_compare_exchange_n(&fs_stk->lock, &v, me | FS_LOCK_WAITERS, false,
							__ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
				FS_TSAN_ACQUIRE(&fs_stk->lock);
				return;
			}
			continue;
		}
		if (!(v & FS_LOCK_WAITERS) &&
		    !__atomic_compare_exchange_n(&fs_stk->lock, &v, v | FS_LOCK_WAITERS, false,
						 __ATOMIC_RELAXED, __ATOMIC_RELAXED))
			continue;
		futex(&fs_stk->lock, FUTEX_WAIT, v | FS_LOCK_WAITERS);
	}
}

void
fs_stk_lock_wake(void)
{
	futex(&fs_stk->lock, FUTEX_WAKE, 1);
}

static int
sleep_on(struct pollfd *p, int n, int64_t timeout_ns, const sigset_t *mask)
{
	struct timespec ts, *tp = NULL;

	if (timeout_ns >= 0) {
		ts.tv_sec = timeout_ns / 1000000000;
		ts.tv_nsec = timeout_ns % 1000000000;
		tp = &ts;
	}
	return (int)syscall(SYS_ppoll, p, (unsigned long)n, tp, mask, (size_t)8);
}

void
fs_stk_flush_locked(void)
{
	struct fs_dev *d = fs_stk->dev;

	if (d->ops->tx_flush(d) == 0 && fs_unlikely(fs_stk->tx_blocked)) {
		fs_stk->tx_blocked = false;
		fs_tcp_kick();
		d->ops->tx_flush(d);
	}
}

/* Wakes this process's waiters; returns the slots of the other members
 * that have waiters too (only their own progress threads can wake them:
 * the eventfds are theirs). Under the lock. */
static uint64_t
wake_own(void)
{
	struct fs_waiter *w;
	uint64_t others = 0;

	for (w = fs_stk->waiters; w; w = w->next)
		if (w->slot == fs_family_slot)
			efd_signal(w->efd);
		else
			others |= 1ull << w->slot;
	return others;
}

/* Whether threads of this process sleep on the stack. Under the lock. */
static bool
own_waiters(void)
{
	struct fs_waiter *w;

	for (w = fs_stk->waiters; w; w = w->next)
		if (w->slot == fs_family_slot)
			return true;
	return false;
}

/* Rings the progress threads of the members in slots. */
static void
kick_slots(uint64_t slots)
{
	while (slots) {
		unsigned i = (unsigned)__builtin_ctzll(slots);

		slots &= slots - 1;
		efd_signal(fs_stk->kick_fd[i]);
	}
}

unsigned
fs_stk_poll_locked(void)
{
	struct fs_dev *d = fs_stk->dev;
	struct fs_rxframe f[FS_RX_BURST_MAX];
	uint16_t n, i;

	n = d->ops->rx(d, f, (uint16_t)fs_stk->cfg.rx_burst);
	for (i = 0; i < n; i++)
		fs_nif_input(&f[i]);
	n += fs_nif_loop();
	/* lwIP's timers read the clock: every 256th round is often enough
	 * for a busy thread; the progress thread keeps them on time. */
	if ((++fs_stk->polls & 255) == 0)
		fs_nif_timers();
	if ((fs_stk->polls & 63) == 0) {
		uint64_t now = fs_now_ns();

		fs_nif_clock(now);
		fs_tcp_delack(now);
		fs_tcp_rto(now);
	}
	fs_stk_flush_locked();
	/* Any frame may be what a sleeper waits for (data, an ARP answer, an
	 * ICMP error): wake them all and let each look again. */
	if (fs_stk->news || (n && fs_stk->waiters)) {
		fs_stk->news = false;
		/* The others' progress threads wake theirs (progress_main). */
		uint64_t others = wake_own();

		if (others) {
			fs_stk->news_gen++;
			kick_slots(others);
		}
	}
	return n;
}

/* Frames the device brought in so far, and the family's size: read
 * without the lock (stale is fine: a hint to yield). */
static FS_PEEK uint64_t
rx_count(void)
{
	return fs_stk->dev->rx_pkts;
}

static FS_PEEK unsigned
family_peek(void)
{
	return fs_stk->family_n;
}

/* This thread's waiter, in the family's memory (other processes walk the
 * list); made at its first sleep, forgotten by a forked child. */
static __thread struct fs_waiter *self;

static void
waiter_add(void)
{
	fs_stk_lock();
	self->next = fs_stk->waiters;
	fs_stk->waiters = self;
	fs_stk_unlock();
	efd_signal(fs_stk->kick_fd[fs_family_slot]);
}

static void
waiter_del(void)
{
	struct fs_waiter **pp;

	fs_stk_lock();
	for (pp = &fs_stk->waiters; *pp; pp = &(*pp)->next)
		if (*pp == self) {
			*pp = self->next;
			break;
		}
	fs_stk_unlock();
}

#define WAIT_FDS 64
/* While spinning, the kernel fds of the wait are asked (a system call) at
 * most this often: an epoll_wait that spun a few microseconds between
 * requests asked on every call. Their readiness may be seen this much
 * later while we spin (OpenOnload's EF_POLL_FAST_USEC, 32 us by default,
 * is the same trade); a sleep watches them at once. */
#define KPOLL_NS 20000
#define YIELD_AFTER_NS 20000

int
fs_stk_wait(bool (*ready)(void *), void *arg, int64_t timeout_ns, struct pollfd *kfds, int nk,
	    int nk_spin, const sigset_t *sigmask)
{
	return fs_stk_wait_sliced(ready, arg, timeout_ns, kfds, nk, nk_spin, sigmask, 0);
}

int
fs_stk_wait_sliced(bool (*ready)(void *), void *arg, int64_t timeout_ns, struct pollfd *kfds,
		   int nk, int nk_spin, const sigset_t *sigmask, int64_t slice_ns)
{
	uint64_t now = fs_now_ns(), start = now;
	uint64_t deadline = timeout_ns < 0 ? UINT64_MAX : now + (uint64_t)timeout_ns;
	uint64_t spin_end, kpoll = now + KPOLL_NS;
	struct pollfd local[WAIT_FDS + 1], *p = local;
	unsigned spins = 0, sigs = fs_sig_seen;
	uint64_t rx;
	int64_t left;
	int i, r = 0;

	if (!fs_stk) { /* a forked child: only the kernel fds can change */
		if (ready(arg))
			return 1;
		r = sleep_on(kfds, nk, timeout_ns, sigmask);
		return r < 0 ? -errno : r > 0 ? 2 : 0;
	}
	spin_end = now + (uint64_t)fs_stk->cfg.spin_us * 1000;
	if (nk > WAIT_FDS) {
		p = malloc(sizeof(*p) * (size_t)(nk + 1));
		if (!p)
			return -ENOMEM;
	}
	for (;;) {
		if (ready(arg)) {
			r = 1;
			break;
		}
		rx = rx_count();
		fs_stk_progress();
		if (ready(arg)) {
			r = 1;
			break;
		}
		/* Frames came in, and not for us: in a family of processes
		 * (a master and its workers sharing a core) they are likely
		 * another process's, which must run to read them. */
		if (rx_count() != rx && family_peek() > 1)
			sched_yield();
		if (fs_unlikely(fs_sig_seen != sigs)) {
			r = -EINTR; /* a handler ran while we spun */
			break;
		}
		fs_cpu_relax();
		/* The clock every 16 spins. */
		if ((++spins & 15) != 0)
			continue;
		now = fs_now_ns();
		/* A spin that found nothing for a while gives the core up now
		 * and then: another thread of the program may share it, and
		 * would otherwise wait for the end of our time slice. Every
		 * 256 spins (about 10 us); in a family of processes every 16
		 * (nginx's workers on one core). A shorter wait (a ping-pong's)
		 * never yields: its system calls would be paced by time, not
		 * by messages. */
		if (now - start > YIELD_AFTER_NS &&
		    ((spins & 255) == 0 || fs_stk->family_n > 1))
			sched_yield();
		if (now >= deadline) {
			r = 0;
			break;
		}
		if (nk_spin > 0 && now >= kpoll) {
			kpoll = now + KPOLL_NS;
			if (sleep_on(kfds, nk_spin, 0, NULL) > 0) {
				r = 2;
				break;
			}
		}
		if (now < spin_end)
			continue;
		/* Sleep: register, tell the progress thread, look once more. A
		 * sliced sleep wakes itself: no frame announces what it waits
		 * for, so the progress thread is not asked to watch for it. */
		if (!self) {
			int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

			if (efd < 0 || !(self = fs_obj_calloc(sizeof(*self)))) {
				r = efd < 0 ? -errno : -ENOMEM;
				if (efd >= 0)
					close(efd);
				break;
			}
			self->efd = efd;
			self->slot = fs_family_slot;
		}
		if (slice_ns == 0)
			waiter_add();
		if (ready(arg) || fs_sig_seen != sigs) {
			if (slice_ns == 0)
				waiter_del();
			r = fs_sig_seen != sigs ? -EINTR : 1;
			break;
		}
		p[0] = (struct pollfd){self->efd, POLLIN, 0};
		for (i = 0; i < nk; i++)
			p[i + 1] = kfds[i];
		left = deadline == UINT64_MAX ? -1 : (int64_t)(deadline - now);
		if (slice_ns > 0 && (left < 0 || left > slice_ns))
			left = slice_ns;
		r = sleep_on(p, nk + 1, left, sigmask);
		if (slice_ns == 0) {
			waiter_del();
			efd_drain(self->efd);
		}
		if (r < 0 && errno == EINTR) {
			r = -EINTR;
			break;
		}
		if (r > 0 && nk > 0) {
			for (i = 0; i < nk && !p[i + 1].revents; i++)
				;
			if (i < nk) {
				r = 2;
				break;
			}
		}
		/* Woken by the stack: look again, without a second spin. */
	}
	if (p != local)
		free(p);
	/* A kernel fd woke us: it may be the kernel side of a dual socket
	 * whose report the progress thread has not collected yet. */
	if (r == 2)
		fs_dual_touch();
	return r;
}

bool
fs_stk_news_since(uint64_t *pos, void (*seen)(void *ctx, const void *sock), void *ctx)
{
	uint64_t end, q;

	if (!fs_stk)
		return false;
	end = __atomic_load_n(&fs_stk->news_seq, __ATOMIC_ACQUIRE);
	if (end - *pos > FS_NEWS_LOG) {
		*pos = end;
		return false;
	}
	for (q = *pos; q != end; q++)
		seen(ctx, __atomic_load_n(&fs_stk->news_log[q & (FS_NEWS_LOG - 1)], __ATOMIC_ACQUIRE));
	/* An entry read may have been overwritten meanwhile: the writer of
	 * sequence s replaces s - FS_NEWS_LOG's before it moves the count
	 * past s, and a new entry seen means the count is at s at least. */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	q = *pos;
	*pos = end;
	return __atomic_load_n(&fs_stk->news_seq, __ATOMIC_RELAXED) - q < FS_NEWS_LOG;
}

void
fs_stk_kick(void)
{
	if (fs_stk)
		fs_stk_progress();
}

/* The parent's stack as the child inherited it: never used again, never
 * freed (it is the parent's), and kept reachable on purpose. */
static struct fs_stack *volatile parents_stack FS_PRIVATE; /* volatile: a store never read */

void
fs_stk_forget(void)
{
	parents_stack = fs_stk;
	fs_stk = NULL;
}

/* Polling for sleeping threads on a device without RX interrupts: every
 * 10 us while frames arrived in the last 5 ms (the next one is likely to
 * come soon), then backing off, doubling, to 1 ms when idle. */
#define POLL_MIN_NS 10000L
#define POLL_MAX_NS 1000000L
#define POLL_HOT_NS 5000000ull
/* With TCP connections and no sleeper, the longest sleep while the
 * program's own threads keep polling (they run the timers themselves). */
#define BUSY_MAX_NS 16000000L
/* With a sleeper and other threads polling, the longest sleep. */
#define SHARE_MAX_NS 200000L

/* A sleep doubled, up to max. */
static long
doubled(long ns, long max)
{
	return ns * 2 > max ? max : ns * 2;
}

/* The progress thread's sleeps: on p[0..n) (room for more after it),
 * while sockets served on both paths are watched, on their epoll set,
 * whose reports it collects, and on the device's control plane, whose
 * readiness goes to *ctl. Returns the poll's count for p[0..n). */
static int
progress_sleep(struct pollfd *p, int n, int64_t ns, bool *ctl)
{
	struct fs_dev *d = fs_stk->dev;
	int dfd = fs_dual_fd(), r, k = n, nc = 0, i;

	if (dfd >= 0)
		p[k++] = (struct pollfd){dfd, POLLIN, 0};
	if (d->ops->ctl_fds)
		nc = d->ops->ctl_fds(d, p + k);
	r = sleep_on(p, k + nc, ns, NULL);
	if (r > 0 && dfd >= 0 && p[n].revents) {
		fs_dual_collect();
		r--;
	}
	for (i = k; i < k + nc; i++)
		if (p[i].revents) {
			*ctl = true;
			r--;
		}
	return r;
}

static void *
progress_main(void *unused)
{
	struct fs_dev *d = fs_stk->dev;
	long idle_ns = POLL_MIN_NS, busy_ns = POLL_MAX_NS, share_ns = POLL_MIN_NS;
	uint64_t seen = 0, last_rx_ns = 0, polls_after = 0, tx_after = 0;
	uint32_t gen = 0;
	bool ctl = false, kicked = false, waiting = false;
	int ifd, kfd = fs_stk->kick_fd[fs_family_slot];

	(void)unused;
	/* Linux stretches a sleep by up to 50 us of timer slack: too coarse
	 * for the 10 us polls below. */
	prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
	while (!__atomic_load_n(&progress_stop, __ATOMIC_RELAXED)) {
		struct pollfd p[3 + FS_DEV_CTL_FDS];
		bool busy = false, active = false;
		uint64_t now;
		int64_t sleep_ns;

		fs_family_check(false);
		if (d->ops->ctl) {
			d->ops->ctl(d, ctl);
			ctl = false;
		}
		/* Never wait for the lock: whoever holds it is making progress,
		 * and a blocked progress thread would cost the holder a futex
		 * wake-up on every unlock. */
		if (fs_stk_trylock()) {
			/* The program polled since our last round (ours not counted). */
			busy = fs_stk->polls != polls_after;
			/* ... or sent: it will poll when it runs out of work. */
			active = busy || d->tx_pkts != tx_after;
			fs_stk_poll_locked();
			/* Frames received by anyone since we last looked. */
			if (d->rx_pkts != seen) {
				seen = d->rx_pkts;
				last_rx_ns = fs_now_ns();
				idle_ns = POLL_MIN_NS;
			}
			fs_nif_timers();
			now = fs_now_ns();
			fs_tcp_delack(now);
			fs_tcp_rto(now);
			fs_tcp_trim_time_wait(now);
			fs_pub_update(false);
			if (fs_stk->news_gen != gen) { /* another process's news */
				gen = fs_stk->news_gen;
				wake_own();
			}
			kicked = false;
			waiting = own_waiters();
			sleep_ns = (int64_t)fs_nif_sleeptime() * 1000000;
			polls_after = fs_stk->polls;
			tx_after = d->tx_pkts;
			fs_stk_unlock();
		} else if (kicked) {
			/* Another member rang for our waiters while the lock is
			 * taken: only we can wake them, so try again soon. */
			sleep_ns = POLL_MIN_NS;
			busy = active = true;
		} else {
			/* The holder is making progress, timers included. */
			sleep_ns = BUSY_MAX_NS;
			busy = active = true;
		}
		busy_ns = !busy ? POLL_MAX_NS : doubled(busy_ns, BUSY_MAX_NS);
		/* TCP needs frames handled while the program is busy elsewhere
		 * (ACKs, window updates, the peer's data, timers): a round every
		 * 1 ms at least. While the program's own threads keep polling,
		 * the rounds back off, doubling, to BUSY_MAX_NS: each of our
		 * wake-ups is a timer interrupt and, on a core a spinning thread
		 * owns, a preemption of it (the tail of a busy-polled ping-pong:
		 * docs/benchmarks.md). The first round that finds the program
		 * gone elsewhere comes back to 1 ms. */
		if (!waiting && fs_tcp_count() != 0 && sleep_ns > busy_ns)
			sleep_ns = busy_ns;

		p[0] = (struct pollfd){kfd, POLLIN, 0};
		if (!waiting) {
			/* Nobody sleeps on us: wake for timers or a kick only. */
			if (progress_sleep(p, 1, sleep_ns, &ctl) > 0 && p[0].revents) {
				efd_drain(kfd);
				kicked = true;
			}
			continue;
		}
		if ((ifd = d->ops->rx_intr_fd(d)) < 0) {
			/* No RX interrupt: poll for the sleepers, backing off
			 * while nothing arrives. While other threads of the
			 * family poll (they ring kick_fd when frames come for
			 * our sleepers), look less often, doubling to
			 * SHARE_MAX_NS: once they stop, the sleepers are ours
			 * again within two of those. */
			share_ns = !active ? POLL_MIN_NS : doubled(share_ns, SHARE_MAX_NS);
			if (progress_sleep(p, 1, active ? share_ns : idle_ns, &ctl) > 0 && p[0].revents) {
				efd_drain(kfd);
				kicked = true;
			}
			if (fs_now_ns() - last_rx_ns > POLL_HOT_NS)
				idle_ns = doubled(idle_ns, POLL_MAX_NS);
			continue;
		}
		/* Arm the interrupt, then look once more so that a frame that
		 * came before arming is not slept through. */
		d->ops->rx_intr(d, true);
		if (!fs_stk_trylock()) {
			d->ops->rx_intr(d, false); /* somebody is polling */
			continue;
		}
		if (fs_stk_poll_locked() == 0) {
			fs_stk_unlock();
			p[1] = (struct pollfd){ifd, POLLIN, 0};
			if (progress_sleep(p, 2, sleep_ns, &ctl) > 0) {
				if (p[0].revents) {
					efd_drain(kfd);
					kicked = true;
				}
				if (p[1].revents)
					efd_drain(ifd);
			}
		} else {
			fs_stk_unlock();
		}
		d->ops->rx_intr(d, false);
	}
	return NULL;
}

/* Starts this process's progress thread. */
static int
progress_start(void)
{
	int cpu = fs_stk->cfg.progress_cpu, r;
	sigset_t all, old;

	/* The progress thread must never take the program's signals. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(&progress_tid, NULL, progress_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		progress_tid = 0;
		return -r;
	}
	pthread_setname_np(progress_tid, "fastsock-prog");
	if (cpu >= 0) {
		cpu_set_t one;

		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		r = pthread_setaffinity_np(progress_tid, sizeof(one), &one);
		if (r != 0)
			FS_WARN("FASTSOCK_PROGRESS_CPU=%d: cannot pin the progress thread: %s", cpu,
				strerror(r));
	}
	return 0;
}

/* Whether process pid ended: gone, or a zombie its parent has not reaped
 * yet (kill() still finds those). Raw system calls, as above. */
static bool
pid_gone(pid_t pid)
{
	char path[32], buf[256], *p;
	ssize_t n;
	int fd;

	if (kill(pid, 0) < 0 && errno == ESRCH)
		return true;
	/* Alive, or not ours to signal (a worker that changed its user). */
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT;
	n = syscall(SYS_read, fd, buf, sizeof(buf) - 1);
	syscall(SYS_close, fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* "pid (comm) S ...": comm may hold anything */
	return p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
}

/* A member (pid) died holding the stack lock, which the caller took over:
 * what it was changing in lwIP may be half done, and going on with it can
 * crash a survivor (seen: lwIP's assertion "pbuf_free: p->ref > 0" after a
 * kill -9 of a busy nginx worker; docs/benchmarks.md, 2026-12-07 09:15).
 * lwIP starts again, empty: its old
 * memory is left alone (leaked), TCP connections are reset (their peers
 * get an RST at their next segment), listeners listen again and UDP
 * sockets carry on with what they hold. Onload's answer is a stack that
 * stays locked ("wedged"); a survivor that just carries on is a crash
 * waiting. Under the lock. */
static void
restart(pid_t pid)
{
	unsigned n;

	if (!fs_nif_can_restart()) {
		FS_WARN("process %d of the family died holding the stack lock: the others carry on, "
			"but what it was changing may be left half done",
			(int)pid);
		fs_stk_news_all();
		return;
	}
	n = fs_tcp_restart_drop();
	fs_udp_restart_drop();
	if (fs_nif_restart(&fs_stk->cfg) < 0) {
		FS_ERR("process %d of the family died holding the stack lock, and the stack could "
		       "not start again: accelerated sockets stop here",
		       (int)pid);
		return;
	}
	fs_tcp_restart_again();
	fs_udp_restart_again();
	fs_stk->restarts++;
	fs_stk_news_all();
	FS_WARN("process %d of the family died holding the stack lock: the stack started again "
		"(%u TCP connections reset; listeners and UDP sockets kept)",
		(int)pid, n);
}

/* The member in slot ended (pid; 0: a fork that failed): the sockets only
 * it held are closed and freed, its waiters forgotten, its slot freed.
 * held: it died holding the lock, which the caller took over and after
 * which the stack restarted. Under the lock. */
static void
reap(unsigned slot, pid_t pid, bool held)
{
	uint64_t bit = 1ull << slot;
	struct fs_waiter **pp, *w;

	if (pid && !held && !(fs_stk->leaving & bit))
		FS_DBG("process %d of the family ended without exit(): the sockets only it held "
		       "are closed",
		       (int)pid);
	fs_tcp_member_gone(bit);
	fs_udp_member_gone(bit);
	for (pp = &fs_stk->waiters; (w = *pp);)
		if (w->slot == slot) {
			*pp = w->next;
			fs_obj_free(w);
		} else {
			pp = &w->next;
		}
	fs_stk->leaving &= ~bit;
	fs_stk->members[slot] = 0;
	fs_stk->family_n--;
}

unsigned
fs_family_check(bool force)
{
	uint64_t now = fs_now_ns(), due = __atomic_load_n(&fs_stk->check_ns, __ATOMIC_RELAXED);
	struct timespec pause = {0, 20000};
	pid_t gone[FS_FAMILY_MAX];
	unsigned i, n = 0, owner;
	int held_by = -1;
	uint32_t v;

	/* One process checks for the family each time. */
	if (!force && (now < due || !__atomic_compare_exchange_n(&fs_stk->check_ns, &due,
								 now + FS_FAMILY_CHECK_NS, false,
								 __ATOMIC_RELAXED, __ATOMIC_RELAXED)))
		return 0;
	for (i = 0; i < FS_FAMILY_MAX; i++) {
		pid_t pid = __atomic_load_n(&fs_stk->members[i], __ATOMIC_RELAXED);

		gone[i] = i != fs_family_slot && pid > 0 && pid_gone(pid) ? pid : 0;
		n += gone[i] != 0;
	}
	if (n == 0)
		return 0;
	/* The lock: from a live holder when it lets go, from a dead one at
	 * once (nobody else would ever have it again). */
	while (!fs_stk_trylock()) {
		v = __atomic_load_n(&fs_stk->lock, __ATOMIC_RELAXED);
		owner = (v & ~FS_LOCK_WAITERS) - 1;
		if (owner < FS_FAMILY_MAX && gone[owner] &&
		    __atomic_compare_exchange_n(&fs_stk->lock, &v,
						(fs_family_slot + 1) | (v & FS_LOCK_WAITERS), false,
						__ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
			FS_TSAN_ACQUIRE(&fs_stk->lock);
			held_by = (int)owner;
			break;
		}
		nanosleep(&pause, NULL);
	}
	if (held_by >= 0)
		restart(gone[held_by]);
	for (i = 0; i < FS_FAMILY_MAX; i++)
		if (gone[i] && fs_stk->members[i] == gone[i])
			reap(i, gone[i], held_by == (int)i);
	fs_stk_poll_locked(); /* the FINs and resets out */
	fs_stk_unlock();
	return n;
}

/* fork (pthread_atfork, so that daemon() and system() are seen too): the
 * child joins the family. Before the fork, under the stack lock, the
 * parent reserves the child's slot and makes the child a holder of every
 * socket it holds itself; after it, the child takes the slot, leaves the
 * parent's waiter and DPDK lcore behind and starts its own progress
 * thread. The lock is held across the fork (the parent's handler lets it
 * go), so that no socket changes hands in between. (It must not be a
 * robust mutex: the child would inherit it on glibc's list of robust
 * mutexes held, and the two processes' lists, threaded through the shared
 * mutex, corrupt each other; tried: every member soon reported the lock's
 * holder dead.) A family that is full, or a device a child cannot drive,
 * leaves the child detached (the old behaviour). */
static int fork_slot FS_PRIVATE = -1;
static bool fork_locked FS_PRIVATE;

static void
fork_prepare(void)
{
	unsigned i;

	if (!fs_stk)
		return;
	fork_slot = -1;
	if (!fs_stk->dev->forkable)
		return;
	/* Members that ended keep their slots until the family's next check:
	 * a server that forks a child per connection may get there first. */
	if (__atomic_load_n(&fs_stk->family_n, __ATOMIC_RELAXED) >= FS_FAMILY_MAX)
		fs_family_check(true);
	fs_stk_lock();
	fork_locked = true;
	for (i = 0; i < FS_FAMILY_MAX; i++)
		if (fs_stk->members[i] == 0) {
			fork_slot = (int)i;
			fs_stk->members[i] = -1;
			fs_stk->family_n++;
			fs_heap_share();
			fs_tcp_family_add(fs_family_bit, 1ull << i);
			fs_udp_family_add(fs_family_bit, 1ull << i);
			break;
		}
}

static void
fork_parent(void)
{
	if (fork_locked) {
		fork_locked = false;
		fs_stk_unlock();
	}
}

static void
fork_child(void)
{
	if (!fs_stk)
		return;
	fork_locked = false;
	self = NULL; /* the forking thread's waiter is the parent's */
	progress_tid = 0;
	progress_stop = 0;
	if (fork_slot < 0) {
		if (fs_stk->dev->forkable)
			FS_WARN("fork: %d processes share the stack already; this child's inherited "
				"sockets are detached and its new ones stay on the kernel",
				FS_FAMILY_MAX);
		else /* info: a fork that execs (system()) is no news */
			FS_INFO("fork: %s cannot be shared with a forked child yet; this child's "
				"inherited sockets are detached and its new ones stay on the kernel",
				fs_stk->cfg.dev);
		fs_stk_forget();
		if (fs_family_detach)
			fs_family_detach();
		return;
	}
	fs_family_slot = (unsigned)fork_slot;
	fs_family_bit = 1ull << fork_slot;
	/* The lock is the parent's until its handler runs. */
	__atomic_store_n(&fs_stk->members[fork_slot], getpid(), __ATOMIC_RELAXED);
	fs_stk->dev->ops->forked(fs_stk->dev);
	fs_pub_open();
	if (progress_wanted && progress_start() < 0)
		FS_WARN("fork: no progress thread in the child: its sockets progress only "
			"while it calls in");
}

unsigned
fs_stk_family_size(void)
{
	return fs_stk ? __atomic_load_n(&fs_stk->family_n, __ATOMIC_RELAXED) : 0;
}

/* This process leaves the family for good (it execs): its progress
 * thread ends, its slot and waiters go. The caller dropped its sockets. */
void
fs_stk_leave(void)
{
	if (!fs_stk)
		return;
	fs_stk_stop();
	fs_stk_lock();
	reap(fs_family_slot, 0, false);
	fs_stk_unlock();
	fs_stk_forget();
}

void
fs_stk_fork_failed(void)
{
	if (!fs_stk || fork_slot < 0)
		return;
	fs_stk_lock();
	if (fs_stk->members[fork_slot] == -1)
		reap((unsigned)fork_slot, 0, false);
	fs_stk_unlock();
	fork_slot = -1;
}

int
fs_stk_start(struct fs_dev *dev, const struct fs_config *c, bool progress_thread)
{
	struct fs_stack *s;
	int r, i;

	/* Before anything is allocated: the stack's memory is the family's. */
	if ((r = fs_shared_init()) < 0)
		return r;
	if (!(s = fs_obj_calloc(sizeof(*s))))
		return -ENOMEM;
	s->dev = dev;
	s->cfg = *c;
	for (i = 0; i < FS_FAMILY_MAX; i++)
		s->kick_fd[i] = -1;
	/* One for each member a device that forks may have. */
	for (i = 0; i < (dev->forkable ? FS_FAMILY_MAX : 1); i++)
		if ((s->kick_fd[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
			r = -errno;
			while (i > 0)
				close(s->kick_fd[--i]);
			fs_obj_free(s);
			return r;
		}
	fs_stk = s;
	r = fs_nif_init(dev, c);
	if (r < 0)
		return r;
	fs_pub_open();
	s->members[0] = getpid();
	s->family_n = 1;
	pthread_atfork(fork_prepare, fork_parent, fork_child);
	progress_wanted = progress_thread;
	return progress_thread ? progress_start() : 0;
}

void
fs_stk_stop(void)
{
	if (!fs_stk)
		return;
	if (progress_tid) {
		__atomic_store_n(&progress_stop, 1, __ATOMIC_RELAXED);
		efd_signal(fs_stk->kick_fd[fs_family_slot]);
		pthread_join(progress_tid, NULL);
		progress_tid = 0;
	}
}

/* The others of a family take a lock its holder died with as a stack
 * half changed and start lwIP again, resetting every TCP connection; a
 * process that ends while its progress thread is in the lock would do
 * that to them (seen with a forked child's os._exit: memif fork-closefds,
 * docs/benchmarks.md 2026-12-07 16:20). The thread
 * is told by its flag alone, not by its eventfd, whose number the program
 * may have closed and reused (close_range before an _exit): it looks at
 * the flag each round, every millisecond or more often while TCP sockets
 * exist. Alone, a process needs none of it. */
void
fs_stk_quiesce(void)
{
	struct timespec until;

	if (!fs_stk || !progress_tid || pthread_equal(progress_tid, pthread_self()) ||
	    __atomic_load_n(&fs_stk->family_n, __ATOMIC_RELAXED) <= 1)
		return;
	__atomic_store_n(&progress_stop, 1, __ATOMIC_RELAXED);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += 50000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	if (pthread_timedjoin_np(progress_tid, NULL, &until) == 0)
		progress_tid = 0;
}

bool
fs_stk_running(void)
{
	return fs_stk != NULL;
}

bool
fs_stk_has_progress(void)
{
	return progress_tid != 0;
}

void
fs_stk_test_progress(bool on)
{
	progress_tid = on ? pthread_self() : 0;
}

/* At exit, with FASTSOCK_LOG=info: what the stack did and dropped. */
static void
report(void)
{
	uint64_t v[FS_DROP_COUNT];
	struct fs_dev_bufs b;
	struct fs_dev *d;
	char drops[512];
	size_t off = 0;
	int i;

	if (!fs_stk) /* a forked child */
		return;
	d = fs_stk->dev;
	/* The same drops, by the same names, as fastsock-stat shows. */
	fs_pub_drops(v, &b);
	drops[0] = '\0';
	for (i = 0; i < FS_DROP_COUNT && off < sizeof(drops); i++)
		off += (size_t)snprintf(drops + off, sizeof(drops) - off, "%s%s %llu", i ? ", " : "",
					fs_pub_drop_name[i], (unsigned long long)v[i]);
	/* Drops last: scripts read everything after "drops: " as drops. */
	FS_INFO("rx %llu pkts %llu bytes, tx %llu pkts %llu bytes (%llu refused while the device "
		"queue was full); tcp segments: in straight to TCP %llu (fast path %llu), out built "
		"directly %llu; drops: %s",
		(unsigned long long)d->rx_pkts, (unsigned long long)d->rx_bytes,
		(unsigned long long)d->tx_pkts, (unsigned long long)d->tx_bytes,
		(unsigned long long)fs_stk->tx_refused, (unsigned long long)fs_tcp_direct_in,
		(unsigned long long)fs_tcp_fast_in, (unsigned long long)fs_tcp_direct_out, drops);
}

/* At exit, as the kernel when a process ends: its connections (those no
 * other process of the family holds) are closed and go on until their data
 * and FIN are acknowledged; it leaves the family. The stack ends
 * with the process, so exit() serves it until then, for at most
 * FASTSOCK_TCP_EXIT_LINGER_MS. */
static void
exit_linger(void)
{
	struct timespec pause = {0, 20000};
	uint64_t end;
	bool busy;

	if (!fs_stk)
		return;
	fs_stk_lock();
	/* Alone and asked not to linger: the connections end with us. */
	if (!fs_stk->cfg.tcp_exit_linger_ms && fs_stk->family_n == 1) {
		fs_stk_unlock();
		return;
	}
	fs_tcp_exit_close();
	/* The slot stays ours until the family sees us gone and frees what
	 * only we held (fs_family_check). */
	fs_stk->leaving |= fs_family_bit;
	end = fs_now_ns() + fs_stk->cfg.tcp_exit_linger_ms * 1000000ull;
	for (;;) {
		fs_stk_poll_locked();
		busy = fs_tcp_delivering();
		fs_stk_unlock();
		if (!busy)
			return;
		if (fs_now_ns() >= end)
			break;
		nanosleep(&pause, NULL);
		fs_stk_lock();
	}
	FS_INFO("exit: TCP data or a FIN still unacknowledged after %u ms, left undelivered",
		fs_stk->cfg.tcp_exit_linger_ms);
}

/* Per process, as the program's own start of the stack. */
static pthread_once_t start_once FS_PRIVATE = PTHREAD_ONCE_INIT;
static const struct fs_config *start_cfg FS_PRIVATE;
static int start_result FS_PRIVATE = -ENODEV;

/* DPDK and the stack open a dozen fds (sockets, eventfds, epoll, memfd).
 * On the program's lowest free numbers they would shift every fd it opens
 * afterwards, and programs that size their tables by their own count (wrk
 * with one connection allows 13 fds) fail. While the stack starts, the
 * free numbers below FD_FLOOR are taken by placeholders, so its fds land
 * above and the program's next fds are the ones the kernel alone would
 * give. Returns how many placeholders start at *first. */
#define FD_FLOOR 64

static int
fds_hold(int *held, int max)
{
	int n = 0, fd, base = (int)syscall(SYS_open, "/dev/null", O_RDONLY | O_CLOEXEC);

	if (base < 0)
		return 0;
	if (base >= FD_FLOOR) {
		syscall(SYS_close, base);
		return 0;
	}
	held[n++] = base;
	while (n < max && (fd = (int)syscall(SYS_fcntl, base, F_DUPFD_CLOEXEC, 0)) >= 0) {
		if (fd >= FD_FLOOR) {
			syscall(SYS_close, fd);
			break;
		}
		held[n++] = fd;
	}
	return n;
}

static void
start(void)
{
	int held[FD_FLOOR], nheld = fds_hold(held, FD_FLOOR), r = -ENODEV;
	struct fs_dev *dev = NULL;

	/* The family's memory first: the device's state is allocated in it. */
	if (fs_shared_init() == 0)
		dev = fs_dev_open(start_cfg);
	if (dev)
		r = fs_stk_start(dev, start_cfg, true);
	while (nheld > 0)
		syscall(SYS_close, held[--nheld]);
	if (!dev)
		return;
	if (r < 0) {
		FS_ERR("stack start failed: %s; everything runs on the kernel", strerror(-r));
		return;
	}
	start_result = 0;
	atexit(fs_stk_quiesce); /* runs last of ours */
	atexit(report);
	atexit(exit_linger); /* runs first */
	FS_INFO("stack up on %s, %u.%u.%u.%u/%u", start_cfg->dev,
		((uint8_t *)&start_cfg->ip)[0], ((uint8_t *)&start_cfg->ip)[1],
		((uint8_t *)&start_cfg->ip)[2], ((uint8_t *)&start_cfg->ip)[3], start_cfg->prefix);
}

int
fs_stk_ensure(const struct fs_config *c)
{
	/* Every caller stores the same pointer (atomic: threads may race here). */
	__atomic_store_n(&start_cfg, c, __ATOMIC_RELAXED);
	pthread_once(&start_once, start);
	return start_result;
}
