/* The poll-like family: poll, ppoll, select, pselect and epoll. A set
 * without accelerated fds goes to its own real function untouched. A set
 * with some is answered from the stack's state first, the kernel fds of the
 * same set are asked without blocking, and a call that must wait spins and
 * then sleeps in the kernel on those fds plus the stack's wakeup. */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "claim.h"
#include "init.h"

static int64_t
mono_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* ---- poll ---- */

struct pollset {
	struct pollfd *fds;
	nfds_t n;
	struct pollfd *k; /* the kernel fds of the set, for the wait */
	int nk;
};

/* An epoll fd is itself pollable: readable while its set has something to
 * report. One whose set has accelerated (or nested) members is answered
 * partly here; both are defined with epoll below. */
static bool epoll_has_accel(int fd);
static unsigned epoll_revents(int fd);
static bool nested_kernel_ready(int fd);

/* Accelerated fds' readiness into revents (and the accelerated part of an
 * epoll fd's); the count of ready ones. */
static int
accel_revents(struct pollset *ps)
{
	nfds_t i;
	int ready = 0;

	for (i = 0; i < ps->n; i++) {
		struct pollfd *p = &ps->fds[i];
		struct fs_fd *f = fs_fdt_hold(p->fd);
		unsigned ev;

		if (f)
			ev = FS_HELD(f, f->ops->poll(f->sock, NULL));
		else if (epoll_has_accel(p->fd))
			ev = epoll_revents(p->fd);
		else
			continue;
		p->revents = (short)(ev & ((unsigned)p->events | POLLERR | POLLHUP | POLLNVAL));
		ready += p->revents != 0;
	}
	return ready;
}

static bool
poll_ready(void *arg)
{
	return accel_revents(arg) > 0;
}

static bool
has_accel(const struct pollfd *fds, nfds_t n)
{
	nfds_t i;

	if (fs_fdt_count() == 0)
		return false;
	for (i = 0; i < n; i++)
		if (fs_fdt_get(fds[i].fd) || epoll_has_accel(fds[i].fd))
			return true;
	return false;
}

static int64_t
ts_to_ns(const struct timespec *ts)
{
	return ts ? (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec : -1;
}

/* The kernel's answers k[] (in the order of fds' kernel fds) into fds: an
 * epoll fd's join what accel_revents found. Returns how many fds became
 * ready that were not. */
static int
kernel_revents(struct pollfd *fds, nfds_t n, const struct pollfd *k)
{
	nfds_t i;
	int j = 0, more = 0;

	for (i = 0; i < n; i++) {
		short rv;

		if (fs_fdt_get(fds[i].fd))
			continue;
		rv = k[j++].revents;
		if ((rv & POLLIN) && epoll_has_accel(fds[i].fd) &&
		    !nested_kernel_ready(fds[i].fd))
			rv &= (short)~(POLLIN | POLLRDNORM);
		more += fds[i].revents == 0 && rv != 0;
		fds[i].revents |= rv;
	}
	return more;
}

/* Appends kernel fd kfd to a wait's k[0..*n), keeping those a spin must
 * ask (ask: k[0..*spin)) before those only a sleep watches. */
static void
kfd_add(struct pollfd *k, int *n, int *spin, int kfd, bool ask)
{
	k[*n] = (struct pollfd){kfd, POLLIN, 0};
	if (ask) {
		struct pollfd t = k[*spin];

		k[*spin] = k[*n];
		k[*n] = t;
		(*spin)++;
	}
	(*n)++;
}

/* poll over a set with accelerated fds; timeout_ns < 0 waits forever. */
static int
accel_poll(struct pollfd *fds, nfds_t n, int64_t timeout_ns, const sigset_t *mask)
{
	struct pollfd kbuf[64], *k = kbuf;
	struct pollset ps = {fds, n, NULL, 0};
	int64_t end = 0;
	nfds_t i;
	int r, ready = 0, nk = 0, nkw, nks;

	if (n > 32 && !(k = malloc(2 * n * sizeof(*k))))
		return (int)fs_ret(-ENOMEM);
	for (i = 0; i < n; i++) {
		fds[i].revents = 0;
		if (!fs_fdt_get(fds[i].fd))
			k[nk++] = fds[i];
	}
	/* After them (the mapping back below stops before these): the kernel
	 * sides of sockets served on both paths, to wake the sleep; a spin
	 * sees those the progress thread reports through accel_revents. */
	nkw = nks = nk;
	for (i = 0; i < n; i++) {
		struct fs_fd *f = fs_fdt_hold(fds[i].fd);
		bool reported = false;
		int kfd = -1;

		if (f)
			kfd = FS_HELD(f, f->ops->kernel_fd ? f->ops->kernel_fd(f->sock, &reported)
							   : -1);
		if (kfd >= 0)
			kfd_add(k, &nkw, &nks, kfd, !reported);
	}
	ps.k = k;
	ps.nk = nk;
	if (timeout_ns > 0)
		end = mono_ns() + timeout_ns;
	/* As the kernel, 0 only when the time is up: a kernel fd that woke
	 * the wait may have been emptied since, or been an epoll set's kick. */
	for (;;) {
		r = fs_stk_wait(poll_ready, &ps, timeout_ns, k, nkw, nks, mask);
		if (r < 0) {
			ready = (int)fs_ret(r);
			break;
		}
		ready = accel_revents(&ps);
		if (nk > 0 && FS_REAL(poll, k, (nfds_t)nk, 0) > 0)
			ready += kernel_revents(fds, n, k);
		if (ready > 0 || r == 0 || timeout_ns == 0)
			break;
		if (timeout_ns > 0 && (timeout_ns = end - mono_ns()) <= 0)
			break;
	}
	if (k != kbuf)
		free(k);
	return ready;
}

/* glibc declares poll's and ppoll's array write-only (access attribute),
 * though the kernel reads its events; reading it here is what poll does. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

FS_EXPORT int
poll(struct pollfd *fds, nfds_t n, int timeout)
{
	if (fs_likely(!has_accel(fds, n)))
		return FS_REAL(poll, fds, n, timeout);
	return accel_poll(fds, n, timeout < 0 ? -1 : (int64_t)timeout * 1000000, NULL);
}

FS_EXPORT int
ppoll(struct pollfd *fds, nfds_t n, const struct timespec *ts, const sigset_t *mask)
{
	if (fs_likely(!has_accel(fds, n)))
		return FS_REAL(ppoll, fds, n, ts, mask);
	return accel_poll(fds, n, ts_to_ns(ts), mask);
}

#pragma GCC diagnostic pop

void __chk_fail(void) __attribute__((noreturn));

FS_EXPORT int
__poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen)
{
	if (fs_likely(!has_accel(fds, n)))
		return FS_REAL(__poll_chk, fds, n, timeout, fdslen);
	if (fdslen / sizeof(*fds) < n)
		__chk_fail();
	return poll(fds, n, timeout);
}

FS_EXPORT int
__ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *ts, const sigset_t *mask,
	    size_t fdslen)
{
	if (fs_likely(!has_accel(fds, n)))
		return FS_REAL(__ppoll_chk, fds, n, ts, mask, fdslen);
	if (fdslen / sizeof(*fds) < n)
		__chk_fail();
	return ppoll(fds, n, ts, mask);
}

/* ---- select: converted to poll when the sets hold accelerated fds ---- */

static bool
sets_have_accel(int n, fd_set *r, fd_set *w, fd_set *e)
{
	int fd;

	if (fs_fdt_count() == 0)
		return false;
	for (fd = 0; fd < n; fd++)
		if (((r && FD_ISSET(fd, r)) || (w && FD_ISSET(fd, w)) || (e && FD_ISSET(fd, e))) &&
		    (fs_fdt_get(fd) || epoll_has_accel(fd)))
			return true;
	return false;
}

static int
accel_select(int n, fd_set *r, fd_set *w, fd_set *e, int64_t timeout_ns, const sigset_t *mask)
{
	struct pollfd *p = malloc(sizeof(*p) * (size_t)n);
	int fd, np = 0, i, ready;

	if (!p)
		return (int)fs_ret(-ENOMEM);
	for (fd = 0; fd < n; fd++) {
		short ev = (short)((r && FD_ISSET(fd, r) ? POLLIN : 0) |
				   (w && FD_ISSET(fd, w) ? POLLOUT : 0) |
				   (e && FD_ISSET(fd, e) ? POLLPRI : 0));

		if (ev)
			p[np++] = (struct pollfd){fd, ev, 0};
	}
	ready = accel_poll(p, (nfds_t)np, timeout_ns, mask);
	if (ready < 0) {
		free(p);
		return ready;
	}
	for (i = 0; i < np; i++)
		if (p[i].revents & POLLNVAL) {
			free(p);
			return (int)fs_ret(-EBADF);
		}
	if (r)
		FD_ZERO(r);
	if (w)
		FD_ZERO(w);
	if (e)
		FD_ZERO(e);
	ready = 0;
	for (i = 0; i < np; i++) {
		short rv = p[i].revents;

		/* As the kernel: an error or hang-up makes the fd readable and
		 * writable, so the program's next call reports it. */
		if (r && (p[i].events & POLLIN) && (rv & (POLLIN | POLLERR | POLLHUP))) {
			FD_SET(p[i].fd, r);
			ready++;
		}
		if (w && (p[i].events & POLLOUT) && (rv & (POLLOUT | POLLERR))) {
			FD_SET(p[i].fd, w);
			ready++;
		}
		if (e && (p[i].events & POLLPRI) && (rv & POLLPRI)) {
			FD_SET(p[i].fd, e);
			ready++;
		}
	}
	free(p);
	return ready;
}

FS_EXPORT int
select(int n, fd_set *r, fd_set *w, fd_set *e, struct timeval *tv)
{
	int64_t t, start, left;
	int ret, saved;

	if (fs_likely(!sets_have_accel(n, r, w, e)))
		return FS_REAL(select, n, r, w, e, tv);
	if (tv && (tv->tv_sec < 0 || tv->tv_usec < 0))
		return (int)fs_ret(-EINVAL);
	t = tv ? (int64_t)tv->tv_sec * 1000000000 + (int64_t)tv->tv_usec * 1000 : -1;
	if (!tv)
		return accel_select(n, r, w, e, t, NULL);
	/* As Linux's select: the timeout comes back as the time not slept
	 * (programs loop on it); pselect leaves its own alone, as Linux. */
	start = mono_ns();
	ret = accel_select(n, r, w, e, t, NULL);
	saved = errno;
	left = t - (mono_ns() - start);
	if (left < 0)
		left = 0;
	tv->tv_sec = left / 1000000000;
	tv->tv_usec = (left % 1000000000) / 1000;
	errno = saved;
	return ret;
}

FS_EXPORT int
pselect(int n, fd_set *r, fd_set *w, fd_set *e, const struct timespec *ts, const sigset_t *mask)
{
	if (fs_likely(!sets_have_accel(n, r, w, e)))
		return FS_REAL(pselect, n, r, w, e, ts, mask);
	return accel_select(n, r, w, e, ts_to_ns(ts), mask);
}

/* ---- epoll ---- */

/* The accelerated members of one kernel epoll fd; kernel members stay in
 * the kernel's epoll set.
 *
 * As the kernel's ready list, a wait looks only at the candidates: the
 * members named in the stack's news log since the last look (an arrival,
 * an ACK, an error, a state change: fs_stk_news_since), those added or
 * changed since, level-triggered ones that reported last time (the
 * kernel's wait puts those back on its list), and the ones no news
 * covers (nested sets, kernel sides of sockets served on both paths).
 * Looking at every member on each spin made a wait's cost grow with the
 * set (docs/benchmarks.md, 2026-12-07 20:25). Every 100 ms a look at all members checks that nothing became ready
 * without news, and says so if something did (a bug). */
struct ep_member {
	int fd;
	struct fs_fd *f; /* the entry when added: a closed fd is dropped */
	unsigned serial; /* f's then (f's address may come back for another) */
	bool nested;	 /* fd is another epoll set (f is NULL) */
	bool always;	 /* no news covers it: always a candidate */
	bool cand;	 /* on the candidate list */
	bool dead;	 /* closed, found by ep_collect */
	struct epoll_event ev;
	unsigned last;	 /* readiness last reported (edge-triggered) */
	uint32_t gen;	 /* the socket's arrival counter then */
	bool disabled;	 /* EPOLLONESHOT fired */
	const void *sock; /* f's socket, the news log's name for it */
	int hnext;	 /* the next member in its hash bucket, or -1 */
};

struct ep_set {
	pthread_mutex_t lock;
	struct ep_member *m;
	int n, cap;
	/* An eventfd in the kernel's set, signalled when a member moved here
	 * while a thread may be blocked in the kernel's epoll_wait on the set;
	 * -1 until needed. Its event carries FS_EP_KICK and is never reported. */
	int kick_fd;
	int nested; /* members that are epoll sets */
	/* Members the kernel's set holds (ours, the kick, not counted), known
	 * exactly when every epoll_ctl on the set passed through us (counted:
	 * made by epoll_create with acceleration on). A kernel member closed
	 * without EPOLL_CTL_DEL stays counted: that costs a system call per
	 * wait, never an event. */
	int kernel_n;
	bool counted;
	/* Members by socket (the news log names sockets): buckets of member
	 * indexes chained through hnext; nbuckets a power of two. */
	int *bucket;
	unsigned nbuckets;
	int *cand; /* candidate member indexes, ncand of them (room: cap) */
	int ncand;
	uint64_t news_pos; /* in the stack's news log */
	int64_t audit_ns;  /* when all members are next looked at */
};

/* Whether m's fd still names the socket it named when added: closing
 * an fd drops it from every set, in the kernel. */
static bool
member_open(const struct ep_member *m)
{
	struct fs_fd *f = fs_fdt_get(m->fd);

	return f == m->f && f && f->serial == m->serial;
}

/* member_open, and then holding its socket (fs_fdt_hold) while it is used:
 * a close on another thread meanwhile does not take it away. */
static bool
member_hold(const struct ep_member *m)
{
	struct fs_fd *f = fs_fdt_hold(m->fd);

	if (f && f == m->f && f->serial == m->serial)
		return true;
	if (f)
		fs_fdt_release(f);
	return false;
}

/* How deep readiness is looked for through nested sets (the kernel refuses
 * loops and nesting deeper than 5: EPOLL_MAX_NESTS 4). */
#define EP_NEST_MAX 5

#define FS_EP_KICK 0xf457c0ffee5e7ull

static struct ep_set *ep_sets[FS_FDT_MAX];
static pthread_mutex_t ep_lock = PTHREAD_MUTEX_INITIALIZER;

static struct ep_set *
ep_get(int epfd)
{
	if ((unsigned)epfd >= FS_FDT_MAX)
		return NULL;
	return __atomic_load_n(&ep_sets[epfd], __ATOMIC_ACQUIRE);
}

static bool
ep_has_members(struct ep_set *s)
{
	return s && __atomic_load_n(&s->n, __ATOMIC_RELAXED) > 0;
}

static struct ep_set *
ep_make(int epfd)
{
	struct ep_set *s;

	pthread_mutex_lock(&ep_lock);
	s = ep_sets[epfd];
	if (!s && (s = calloc(1, sizeof(*s)))) {
		pthread_mutex_init(&s->lock, NULL);
		s->kick_fd = -1;
		__atomic_store_n(&ep_sets[epfd], s, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&ep_lock);
	return s;
}

void
fs_epoll_forget(int epfd)
{
	struct ep_set *s = ep_get(epfd);

	if (!s)
		return;
	__atomic_store_n(&ep_sets[epfd], NULL, __ATOMIC_RELEASE);
	if (s->kick_fd >= 0)
		FS_REAL(close, s->kick_fd);
	free(s->m);
	free(s->cand);
	free(s->bucket);
	free(s);
}

/* Wakes a thread that may sit in the kernel's epoll_wait on epfd, whose set
 * just gained an accelerated member it cannot see from there. */
static void
ep_kick(int epfd, struct ep_set *s)
{
	uint64_t one = 1;

	pthread_mutex_lock(&s->lock);
	if (s->kick_fd < 0) {
		struct epoll_event ev = {.events = EPOLLIN, .data.u64 = FS_EP_KICK};
		int k = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

		if (k >= 0 && FS_REAL(epoll_ctl, epfd, EPOLL_CTL_ADD, k, &ev) < 0) {
			FS_REAL(close, k);
			k = -1;
		}
		s->kick_fd = k;
	}
	pthread_mutex_unlock(&s->lock);
	if (s->kick_fd >= 0)
		FS_REAL(write, s->kick_fd, &one, sizeof(one));
}

/* Removes the kick's event from what the kernel returned (draining it);
 * returns the count left and sets *kicked. */
static int
drop_kick(struct ep_set *s, struct epoll_event *evs, int n, bool *kicked)
{
	uint64_t v;
	int i, j = 0;

	for (i = 0; i < n; i++) {
		if (evs[i].data.u64 == FS_EP_KICK) {
			*kicked = true;
			if (s && s->kick_fd >= 0)
				FS_REAL(read, s->kick_fd, &v, sizeof(v));
			continue;
		}
		evs[j++] = evs[i];
	}
	return j;
}

static void ep_kick(int epfd, struct ep_set *s);

static int
ep_find(struct ep_set *s, int fd)
{
	int i;

	for (i = 0; i < s->n; i++)
		if (s->m[i].fd == fd)
			return i;
	return -1;
}

/* The candidate list and the hash of members by socket, under s->lock. */
static void
cand_add(struct ep_set *s, int i)
{
	if (!s->m[i].cand) {
		s->m[i].cand = true;
		s->cand[s->ncand++] = i;
	}
}

static unsigned
sock_bucket(const struct ep_set *s, const void *sock)
{
	return (unsigned)(((uintptr_t)sock >> 4) * 0x9e3779b97f4a7c15ull >> 40) & (s->nbuckets - 1);
}

static void
hash_link(struct ep_set *s, int i)
{
	unsigned b = sock_bucket(s, s->m[i].sock);

	s->m[i].hnext = s->bucket[b];
	s->bucket[b] = i;
}

static void
hash_unlink(struct ep_set *s, int i)
{
	int *pp = &s->bucket[sock_bucket(s, s->m[i].sock)];

	while (*pp != i)
		pp = &s->m[*pp].hnext;
	*pp = s->m[i].hnext;
}

/* The news log named sock: its members become candidates. */
static void
news_seen(void *ctx, const void *sock)
{
	struct ep_set *s = ctx;
	int i;

	for (i = s->bucket[sock_bucket(s, sock)]; i >= 0; i = s->m[i].hnext)
		if (s->m[i].sock == sock)
			cand_add(s, i);
}

/* Makes room for cap members (their candidate list and buckets too). */
static int
ep_grow(struct ep_set *s, int cap)
{
	struct ep_member *a = realloc(s->m, sizeof(*a) * (size_t)cap);
	int *c, *b, i;

	if (a)
		s->m = a;
	c = a ? realloc(s->cand, sizeof(*c) * (size_t)cap) : NULL;
	if (c)
		s->cand = c;
	b = c ? malloc(sizeof(*b) * (size_t)cap) : NULL; /* cap: a power of two */
	if (!b)
		return -ENOMEM;
	free(s->bucket);
	s->bucket = b;
	s->nbuckets = (unsigned)cap;
	s->cap = cap;
	for (i = 0; i < cap; i++)
		b[i] = -1;
	for (i = 0; i < s->n; i++)
		hash_link(s, i);
	return 0;
}

/* Member array changes, under s->lock. ep_add returns -ENOMEM when the
 * array cannot grow; ep_remove puts the last member in i's place. A new or
 * changed member is a candidate: the kernel looks at it then too. */
static int
ep_add(struct ep_set *s, struct ep_member m)
{
	if (s->n == s->cap && ep_grow(s, s->cap ? s->cap * 2 : 8) < 0)
		return -ENOMEM;
	m.sock = m.f ? m.f->sock : NULL;
	m.cand = false;
	s->m[s->n] = m;
	hash_link(s, s->n);
	cand_add(s, s->n++);
	s->nested += m.nested;
	return 0;
}

static void
ep_remove(struct ep_set *s, int i)
{
	int c, last = s->n - 1;

	s->nested -= s->m[i].nested;
	hash_unlink(s, i);
	for (c = 0; c < s->ncand; c++)
		if (s->cand[c] == i) {
			s->cand[c] = s->cand[--s->ncand];
			break;
		}
	if (i != last) {
		hash_unlink(s, last);
		s->m[i] = s->m[last];
		hash_link(s, i);
		for (c = 0; c < s->ncand; c++)
			if (s->cand[c] == last)
				s->cand[c] = i;
	}
	s->n--;
}

static void
ep_modify(struct ep_set *s, int i, const struct epoll_event *ev)
{
	struct ep_member *m = &s->m[i];

	m->ev = *ev;
	m->last = 0;
	m->disabled = false;
	cand_add(s, i);
}

/* Whether fd is an epoll fd: 1 yes, 0 no, -1 unknown (no /proc). */
static int
epoll_fd_kind(int fd)
{
	char path[32], link[32];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n <= 0)
		return -1;
	link[n] = '\0';
	return strcmp(link, "anon_inode:[eventpoll]") == 0;
}

static int
accel_epoll_ctl(int epfd, int op, int fd, struct fs_fd *f, struct epoll_event *ev)
{
	struct ep_set *s;
	int i, r = 0;
	bool kick = false;

	/* epfd must be an open epoll fd. One we keep a set for is (its set
	 * goes when the number changes hands: close, dup2, epoll_create), so
	 * the calls an event loop makes per request stay in user space; any
	 * other is judged by the kernel once: DEL of itself always fails, with
	 * EBADF when epfd is not an open fd. */
	if (!ep_get(epfd)) {
		if (FS_REAL(epoll_ctl, epfd, EPOLL_CTL_DEL, epfd, NULL) < 0 && errno == EBADF)
			return -1;
		if (epoll_fd_kind(epfd) == 0)
			return (int)fs_ret(-EINVAL);
	}
	if (epfd == fd)
		return (int)fs_ret(-EINVAL);
	if ((op == EPOLL_CTL_ADD || op == EPOLL_CTL_MOD) && !ev)
		return (int)fs_ret(-EFAULT);
	if (!(s = ep_make(epfd)))
		return (int)fs_ret(-ENOMEM);
	pthread_mutex_lock(&s->lock);
	i = ep_find(s, fd);
	if (i >= 0 && (s->m[i].f != f || !member_open(&s->m[i]))) { /* closed, reused */
		ep_remove(s, i);
		i = -1;
	}
	switch (op) {
	case EPOLL_CTL_ADD:
		if (i >= 0) {
			r = -EEXIST;
			break;
		}
		if ((r = ep_add(s, (struct ep_member){.fd = fd, .f = f, .serial = f->serial, .ev = *ev,
						      .always = f->ops->kernel_fd &&
								f->ops->kernel_fd(f->sock, NULL) >= 0})) < 0)
			break;
		/* The set's first accelerated member: a thread already in the
		 * kernel's epoll_wait on it must come out and wait our way. */
		kick = s->n == 1;
		break;
	case EPOLL_CTL_MOD:
		if (i < 0) {
			r = -ENOENT;
			break;
		}
		ep_modify(s, i, ev);
		break;
	case EPOLL_CTL_DEL:
		if (i < 0) {
			r = -ENOENT;
			break;
		}
		ep_remove(s, i);
		break;
	default:
		r = -EINVAL;
	}
	pthread_mutex_unlock(&s->lock);
	if (kick)
		ep_kick(epfd, s);
	return (int)fs_ret(r);
}

/* The events member m would report now (without changing its state);
 * *gen receives the socket's arrival counter. Edge-triggered members report
 * what became ready since the last report, and everything ready again on
 * each new arrival, as the kernel's wake-ups do. */
static bool set_ready(struct ep_set *s, int depth);

/* A member's readiness now: a nested set is readable when one of its
 * accelerated members is ready (its kernel members wake the kernel's wait
 * on the outer set themselves). */
static unsigned
member_now(struct ep_member *m, uint32_t *gen, int depth)
{
	struct ep_set *in;

	if (!m->nested)
		return m->f->ops->poll(m->f->sock, gen);
	*gen = m->gen;
	in = ep_get(m->fd);
	return in && depth < EP_NEST_MAX && set_ready(in, depth + 1) ? EPOLLIN : 0;
}

static unsigned
member_events_at(struct ep_member *m, uint32_t *gen, int depth)
{
	unsigned want = m->ev.events & (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLPRI);
	unsigned now;

	if (m->disabled || (!m->nested && !member_hold(m)))
		return 0;
	now = member_now(m, gen, depth) & (want | EPOLLERR | EPOLLHUP);
	if (!m->nested)
		fs_fdt_release(m->f);
	if (!(m->ev.events & EPOLLET))
		return now;
	/* A wake-up makes the kernel poll the file and report its whole mask. */
	return *gen != m->gen ? now : now & ~m->last;
}

static unsigned
member_events(struct ep_member *m, uint32_t *gen)
{
	return member_events_at(m, gen, 0);
}

#define EP_AUDIT_NS 100000000

/* The news since the last look: its members become candidates; all do
 * when the log lost some. Every EP_AUDIT_NS, the others are looked at
 * too: one that reports then became ready without news. Under s->lock. */
static void
ep_news(struct ep_set *s, int depth)
{
	static bool told;
	uint32_t gen;
	int64_t now;
	int i;

	if (!fs_stk_news_since(&s->news_pos, news_seen, s)) {
		for (i = 0; i < s->n; i++)
			cand_add(s, i);
		return;
	}
	if ((now = mono_ns()) < s->audit_ns)
		return;
	s->audit_ns = now + EP_AUDIT_NS;
	for (i = 0; i < s->n; i++) {
		if (s->m[i].cand || !member_events_at(&s->m[i], &gen, depth))
			continue;
		if (!told) {
			told = true;
			FS_WARN("epoll: fd %d became ready without the stack's news (a fastsock bug; "
				"found by the check every 100 ms, which reports it late)",
				s->m[i].fd);
		}
		cand_add(s, i);
	}
}

static bool
set_ready(struct ep_set *s, int depth)
{
	uint32_t gen;
	bool ready = false;
	int c;

	pthread_mutex_lock(&s->lock);
	ep_news(s, depth);
	for (c = 0; c < s->ncand && !ready; c++)
		ready = member_events_at(&s->m[s->cand[c]], &gen, depth) != 0;
	pthread_mutex_unlock(&s->lock);
	return ready;
}

static bool
ep_ready(void *arg)
{
	return set_ready(arg, 0);
}

/* Fills evs with up to max ready accelerated members among the
 * candidates, updating edge and one-shot state; returns the count. Stay
 * candidates: those not looked at (max reached), those no news covers,
 * and level-triggered ones that reported (as the kernel's list keeps
 * them). The caller holds s->lock. */
static int
ep_collect(struct ep_set *s, struct epoll_event *evs, int max)
{
	int c, k = 0, n = 0, i, dead = 0;

	ep_news(s, 0);
	for (c = 0; c < s->ncand; c++) {
		struct ep_member *m = &s->m[i = s->cand[c]];
		uint32_t gen = m->gen;
		unsigned ev;

		if (n == max) {
			s->cand[k++] = i;
			continue;
		}
		if (!m->nested && !member_hold(m)) { /* closed: the kernel drops it */
			m->cand = false;
			m->dead = true;
			dead++;
			continue;
		}
		ev = member_events(m, &gen);
		/* Edge state follows the readiness whether reported or not. */
		if (!m->disabled) {
			uint32_t g;

			m->last = member_now(m, &g, 0) & (m->ev.events | EPOLLERR | EPOLLHUP);
			m->gen = gen;
		}
		if (!m->nested)
			fs_fdt_release(m->f);
		if (ev) {
			evs[n].events = ev;
			evs[n].data = m->ev.data;
			n++;
			if (m->ev.events & EPOLLONESHOT)
				m->disabled = true;
		}
		if (m->always || (ev && !(m->ev.events & (EPOLLET | EPOLLONESHOT))))
			s->cand[k++] = i;
		else
			m->cand = false;
	}
	s->ncand = k;
	/* From the last: a removal moves the last member into the gap. */
	for (i = s->n - 1; dead > 0 && i >= 0; i--)
		if (s->m[i].dead) {
			ep_remove(s, i);
			dead--;
		}
	return n;
}

/* Whether the kernel's report of epoll fd fd readable (as a nested member,
 * or to poll) is real: the set's kick (ep_kick) makes it readable in the
 * kernel too, which says nothing to the program. Drains the kick and asks
 * the kernel again.
 * (A thread sleeping in the kernel's epoll_wait on the inner set itself
 * has been woken by the kick already.) */
static bool
nested_kernel_ready(int fd)
{
	struct ep_set *in = ep_get(fd);
	struct pollfd p = {fd, POLLIN, 0};
	uint64_t v;

	if (!in || in->kick_fd < 0)
		return true;
	FS_REAL(read, in->kick_fd, &v, sizeof(v));
	return FS_REAL(poll, &p, 1, 0) > 0;
}

/* poll and select on an epoll fd (declared with poll above). */
static bool
epoll_has_accel(int fd)
{
	return ep_has_members(ep_get(fd));
}

static unsigned
epoll_revents(int fd)
{
	struct ep_set *s = ep_get(fd);

	return s && set_ready(s, 0) ? POLLIN | POLLRDNORM : 0;
}

/* A nested set is in the kernel's outer set too (its kernel members wake
 * the outer wait): when both report it, it is one event, as the kernel's.
 * evs[0..n) are ours, evs[n..n+m) the kernel's; returns the count left.
 * The caller holds s->lock. */
static int
merge_nested(struct ep_set *s, struct epoll_event *evs, int n, int m)
{
	int i, j, k = n;

	for (j = n; j < n + m; j++) {
		for (i = 0; i < n && evs[i].data.u64 != evs[j].data.u64; i++)
			;
		if (i < n) {
			evs[i].events |= evs[j].events;
			continue;
		}
		for (i = 0; i < s->n; i++)
			if (s->m[i].nested && s->m[i].ev.data.u64 == evs[j].data.u64)
				break;
		if (i < s->n && !nested_kernel_ready(s->m[i].fd))
			continue;
		evs[k++] = evs[j];
	}
	return k;
}

/* One wait and collection; may return 0 before the timeout when what woke
 * it was the kick or was taken by another thread. */
static int
ep_wait_once(int epfd, struct ep_set *s, struct epoll_event *evs, int max, int64_t timeout_ns,
	     const sigset_t *mask)
{
	struct pollfd kbuf[16], *k = kbuf;
	int n, r, m, nk = 0, nks = 0, c;

	/* The epoll fd itself (kernel members), and the kernel sides of
	 * members served on both paths: a spin asks the kernel only about
	 * those ep_ready does not see, the epoll fd when the set may hold
	 * kernel members (its kick matters to a sleep only) and kernel
	 * sides the progress thread does not report. */
	pthread_mutex_lock(&s->lock);
	if (s->n + 1 > 16 && !(k = malloc(sizeof(*k) * (size_t)(s->n + 1)))) {
		pthread_mutex_unlock(&s->lock);
		return (int)fs_ret(-ENOMEM);
	}
	kfd_add(k, &nk, &nks, epfd, !s->counted || s->kernel_n > 0 || s->nested > 0);
	for (c = 0; c < s->ncand; c++) { /* kernel sides are always candidates */
		int i = s->cand[c];
		struct fs_fd *f = s->m[i].f;
		bool reported = false;
		int kfd;

		if (!s->m[i].always || s->m[i].nested || !member_hold(&s->m[i])) /* closed: f may be gone */
			continue;
		kfd = f->ops->kernel_fd ? f->ops->kernel_fd(f->sock, &reported) : -1;
		fs_fdt_release(f);
		if (kfd >= 0)
			kfd_add(k, &nk, &nks, kfd, !reported);
	}
	pthread_mutex_unlock(&s->lock);
	r = fs_stk_wait(ep_ready, s, timeout_ns, k, nk, nks, mask);
	if (k != kbuf)
		free(k);
	if (r < 0)
		return (int)fs_ret(r);
	pthread_mutex_lock(&s->lock);
	n = ep_collect(s, evs, max);
	pthread_mutex_unlock(&s->lock);
	/* The kernel's members: when the wait saw them ready, or the set has
	 * (or may have) some. A set of accelerated members only costs no
	 * system call here. */
	if (n < max && (r == 2 || !s->counted || __atomic_load_n(&s->kernel_n, __ATOMIC_RELAXED))) {
		bool kicked = false;

		m = FS_REAL(epoll_wait, epfd, evs + n, max - n, 0);
		if (m > 0) {
			m = drop_kick(s, evs + n, m, &kicked);
			if (s->nested) {
				pthread_mutex_lock(&s->lock);
				n = merge_nested(s, evs, n, m);
				pthread_mutex_unlock(&s->lock);
			} else {
				n += m;
			}
		} else if (m < 0 && n == 0) {
			return -1;
		}
	}
	return n;
}

/* As the kernel: returns 0 only when the timeout ran out. */
static int
accel_epoll_wait(int epfd, struct ep_set *s, struct epoll_event *evs, int max,
		 int64_t timeout_ns, const sigset_t *mask)
{
	int64_t end = timeout_ns > 0 ? mono_ns() + timeout_ns : 0;
	int n;

	if (max <= 0)
		return (int)fs_ret(-EINVAL);
	for (;;) {
		n = ep_wait_once(epfd, s, evs, max, timeout_ns, mask);
		if (n != 0 || timeout_ns == 0)
			return n;
		if (timeout_ns > 0 && (timeout_ns = end - mono_ns()) <= 0)
			return 0;
	}
}

/* A new epoll fd: a set made before under its number is stale; with
 * acceleration on, its set starts now and counts its kernel members. */
static int
epoll_created(int epfd)
{
	struct ep_set *s;

	fs_epoll_forget(epfd);
	if (epfd >= 0 && fs_unlikely(fs_accel_on) && (s = ep_make(epfd)))
		s->counted = true;
	return epfd;
}

/* The kernel took op on epfd for a member it serves. */
static void
kernel_member(int epfd, int op)
{
	struct ep_set *s = ep_get(epfd);

	if (!s || op == EPOLL_CTL_MOD)
		return;
	pthread_mutex_lock(&s->lock);
	if (op == EPOLL_CTL_ADD)
		s->kernel_n++;
	else if (s->kernel_n > 0)
		s->kernel_n--;
	pthread_mutex_unlock(&s->lock);
}

FS_EXPORT int
epoll_create(int size)
{
	int r = FS_REAL(epoll_create, size);

	return epoll_created(r);
}

FS_EXPORT int
epoll_create1(int flags)
{
	int r = FS_REAL(epoll_create1, flags);

	return epoll_created(r);
}

/* Kernel epoll sets a not-yet-accelerated fd joined. A socket is often
 * added to an epoll set before the call that hands it to the stack
 * (connect, the first sendto); when that happens it must leave the kernel's
 * set, where its placeholder never fires, for ours. Kept only while
 * acceleration is on; epoll_ctl is a control-path call. */
struct ep_reg {
	int epfd;
	struct epoll_event ev;
	struct ep_reg *next;
};

static struct ep_reg *ep_regs[FS_FDT_MAX];
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;

static void
reg_update(int epfd, int op, int fd, const struct epoll_event *ev)
{
	struct ep_reg **pp, *r;

	if ((unsigned)fd >= FS_FDT_MAX)
		return;
	pthread_mutex_lock(&reg_lock);
	for (pp = &ep_regs[fd]; *pp && (*pp)->epfd != epfd; pp = &(*pp)->next)
		;
	if (op == EPOLL_CTL_DEL) {
		if ((r = *pp)) {
			*pp = r->next;
			free(r);
		}
	} else if (*pp) {
		(*pp)->ev = *ev;
	} else if (op == EPOLL_CTL_ADD && (r = malloc(sizeof(*r)))) {
		*r = (struct ep_reg){epfd, *ev, ep_regs[fd]};
		ep_regs[fd] = r;
	}
	pthread_mutex_unlock(&reg_lock);
}

/* Detaches and returns fd's list of registrations (NULL when none). */
static struct ep_reg *
reg_take(int fd)
{
	struct ep_reg *r;

	if ((unsigned)fd >= FS_FDT_MAX || !__atomic_load_n(&ep_regs[fd], __ATOMIC_RELAXED))
		return NULL;
	pthread_mutex_lock(&reg_lock);
	r = ep_regs[fd];
	ep_regs[fd] = NULL;
	pthread_mutex_unlock(&reg_lock);
	return r;
}

void
fs_epoll_fd_closed(int fd)
{
	struct ep_reg *r, *next;

	for (r = reg_take(fd); r; r = next) {
		next = r->next;
		free(r);
	}
}

void
fs_epoll_claimed(int fd, struct fs_fd *f)
{
	struct ep_reg *r, *next;

	for (r = reg_take(fd); r; r = next) {
		next = r->next;
		/* Only a set that still holds the fd (a closed and reused epfd
		 * does not) takes it over. */
		if (FS_REAL(epoll_ctl, r->epfd, EPOLL_CTL_DEL, fd, NULL) == 0) {
			kernel_member(r->epfd, EPOLL_CTL_DEL);
			accel_epoll_ctl(r->epfd, EPOLL_CTL_ADD, fd, f, &r->ev);
		}
		free(r);
	}
}

/* An epoll set inside another (event libraries nest them): the kernel
 * keeps it as a member, which wakes the outer wait for the inner set's
 * kernel members; the inner set's accelerated members are invisible to it,
 * so the outer set also keeps the inner one as a nested member of ours,
 * readable while one of those is ready. Called after the kernel accepted
 * the change (it refuses loops). */
static void
nested_ctl(int epfd, int op, int fd, const struct epoll_event *ev)
{
	struct ep_set *s;
	int i;

	if (op == EPOLL_CTL_ADD && epoll_fd_kind(fd) != 1)
		return;
	if (op != EPOLL_CTL_ADD && !ep_get(epfd))
		return;
	if (!(s = ep_make(epfd)) || (op == EPOLL_CTL_ADD && !ep_make(fd)))
		return;
	pthread_mutex_lock(&s->lock);
	i = ep_find(s, fd);
	if (i >= 0 && !s->m[i].nested)
		i = -1; /* not ours to change */
	if (op == EPOLL_CTL_ADD && i < 0)
		ep_add(s, (struct ep_member){.fd = fd, .nested = true, .always = true, .ev = *ev}); /* ENOMEM: not nested */
	else if (op == EPOLL_CTL_MOD && i >= 0)
		ep_modify(s, i, ev);
	else if (op == EPOLL_CTL_DEL && i >= 0)
		ep_remove(s, i);
	pthread_mutex_unlock(&s->lock);
}

FS_EXPORT int
epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	struct fs_fd *f = fs_lookup(fd);
	int r;

	if (fs_unlikely(f != NULL))
		return FS_HELD(f, accel_epoll_ctl(epfd, op, fd, f, ev));
	r = FS_REAL(epoll_ctl, epfd, op, fd, ev);
	if (fs_unlikely(fs_accel_on) && r == 0) {
		kernel_member(epfd, op);
		reg_update(epfd, op, fd, ev);
		nested_ctl(epfd, op, fd, ev);
	}
	return r;
}

/* After a kernel epoll wait on a set with a kick: its event is ours, not
 * the program's. When it was all there was, the set has accelerated members
 * now: wait on, the accelerated way (the remaining time is not tracked: a
 * kicked wait restarts its timeout, a wait may last up to twice as long). */
static __attribute__((noinline)) int
after_kernel_wait(int epfd, struct epoll_event *evs, int max, int r, int64_t timeout_ns,
		  const sigset_t *mask)
{
	struct ep_set *s = ep_get(epfd);
	bool kicked = false;

	if (r <= 0 || !s || s->kick_fd < 0)
		return r;
	r = drop_kick(s, evs, r, &kicked);
	if (r == 0 && kicked)
		return accel_epoll_wait(epfd, s, evs, max, timeout_ns, mask);
	return r;
}

/* epoll_wait (pwait 0) or epoll_pwait (pwait 1) through the kernel, then
 * after_kernel_wait: out of line, so that with acceleration off the
 * wrappers tail-call libc. */
static __attribute__((noinline)) int
epoll_pwait_checked(int epfd, struct epoll_event *evs, int max, int timeout,
		    const sigset_t *mask, int pwait)
{
	int r = pwait ? FS_REAL(epoll_pwait, epfd, evs, max, timeout, mask)
		      : FS_REAL(epoll_wait, epfd, evs, max, timeout);

	return after_kernel_wait(epfd, evs, max, r, timeout < 0 ? -1 : (int64_t)timeout * 1000000,
				 mask);
}

FS_EXPORT int
epoll_wait(int epfd, struct epoll_event *evs, int max, int timeout)
{
	struct ep_set *s = ep_get(epfd);

	if (fs_likely(!ep_has_members(s))) {
		if (fs_likely(!fs_accel_on))
			return FS_REAL(epoll_wait, epfd, evs, max, timeout);
		return epoll_pwait_checked(epfd, evs, max, timeout, NULL, 0);
	}
	return accel_epoll_wait(epfd, s, evs, max, timeout < 0 ? -1 : (int64_t)timeout * 1000000,
				NULL);
}

FS_EXPORT int
epoll_pwait(int epfd, struct epoll_event *evs, int max, int timeout, const sigset_t *mask)
{
	struct ep_set *s = ep_get(epfd);

	if (fs_likely(!ep_has_members(s))) {
		if (fs_likely(!fs_accel_on))
			return FS_REAL(epoll_pwait, epfd, evs, max, timeout, mask);
		return epoll_pwait_checked(epfd, evs, max, timeout, mask, 1);
	}
	return accel_epoll_wait(epfd, s, evs, max, timeout < 0 ? -1 : (int64_t)timeout * 1000000,
				mask);
}

FS_EXPORT int
epoll_pwait2(int epfd, struct epoll_event *evs, int max, const struct timespec *ts,
	     const sigset_t *mask)
{
	struct ep_set *s = ep_get(epfd);

	if (fs_likely(!ep_has_members(s))) {
		if (fs_likely(!fs_accel_on))
			return FS_REAL(epoll_pwait2, epfd, evs, max, ts, mask);
		return after_kernel_wait(epfd, evs, max, FS_REAL(epoll_pwait2, epfd, evs, max, ts, mask),
					 ts_to_ns(ts), mask);
	}
	return accel_epoll_wait(epfd, s, evs, max, ts_to_ns(ts), mask);
}
