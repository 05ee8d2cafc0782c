/* UDP sockets on lwIP's raw API with the kernel's semantics. A socket keeps
 * the datagrams lwIP hands it in a ring that the stack fills (under the
 * stack lock) and the program empties (under the socket's own reader
 * lock), so an empty nonblocking receive touches neither lock. */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

#include <lwip/etharp.h>
#include <lwip/icmp.h>
#include <lwip/igmp.h>
#include <lwip/ip.h>
#include <lwip/ip4.h>
#include <lwip/memp.h>
#include <lwip/netif.h>
#include <lwip/pbuf.h>
#include <lwip/prot/icmp.h>
#include <lwip/prot/ip4.h>
#include <lwip/prot/udp.h>
#include <lwip/raw.h>
#include <lwip/udp.h>

#include "csum.h"
#include "dual.h"
#include "log.h"
#include "lwip_errno.h"
#include "publish.h"
#include "sock.h"
#include "sockutil.h"
#include "shared.h"
#include "stack.h"

#define QCAP 1024u		/* datagrams a socket may hold */
#define QCAP_SMALL 16u		/* ... in the socket itself (see grow) */
#define RMEM_DEFAULT 212992	/* Linux's net.core.rmem_default */
#define UDP_MAX_PAYLOAD 65507

struct dgram {
	struct pbuf *p;
	uint32_t addr; /* network order */
	uint16_t port; /* host order */
};

struct fs_udp {
	struct udp_pcb *pcb;
	int kfd;
	/* Receive ring: tail written by the stack, head by readers. q is
	 * q_small until the queue first needs more, then QCAP entries of
	 * the arena's (grow); readers load it once (ring). */
	struct dgram *q;
	unsigned head, tail;
	size_t qbytes; /* bytes queued (__atomic: readers take theirs off without the lock) */
	int rlock; /* readers, one at a time (rlock_take) */
	/* The kernel socket keeps every option; these are the ones the data
	 * path needs, read back from it when set (no system call per packet). */
	int rcvbuf;
	bool broadcast; /* SO_BROADCAST */
	int64_t rcvtimeo_ns, sndtimeo_ns; /* -1: none */
	int so_error;
	unsigned errors; /* errors reported so far: moves edge-triggered epoll */
	uint32_t mcast_if; /* IP_MULTICAST_IF: ours or INADDR_ANY */
	bool nonblock, connected, mcast_loop;
	bool dual; /* wildcard: the kernel socket serves the other interfaces */
	struct fs_dual kd; /* its kernel side, watched (when dual) */
	uint64_t drops, sent; /* under the stack lock */
	struct fs_udp *next; /* all sockets, for ICMP errors and restarts */
	struct fs_udp **prevp;	  /* where all (or the previous socket) points to u */
	struct fs_udp *port_next; /* in by_port[port % PORT_BUCKETS] */
	uint16_t port;		  /* the pcb's local port when indexed; 0: not */
	struct udp_pcb *lprev;	  /* the pcb before ours in udp_pcbs (see pcb_remove) */
	struct udp_pcb re;   /* its pcb, kept across a restart */
	struct dgram q_small[QCAP_SMALL];
};

static struct fs_udp *all;

/* Sockets by local port, for fs_udp_direct: lwIP's udp_input walks every
 * pcb for each datagram (docs/benchmarks.md, 2026-12-07 21:10). A socket is indexed from
 * the call that gave its pcb a port (bind, connect, the first send) to
 * its close; every UDP pcb lwIP has is a socket's. Under the lock. */
#define PORT_BUCKETS 4096
static struct fs_udp *by_port[PORT_BUCKETS];
#define EPH_LO 0xc000u /* lwIP's ephemeral range, 0xc000-0xffff */
#define EPH_N 0x4000u
/* Sockets indexed with an ephemeral port; eph_full: their count when
 * port_new last found none free (it does not look again until fewer). */
static unsigned eph_socks, eph_full = ~0u;

static void
port_unindex(struct fs_udp *u)
{
	struct fs_udp **pp;

	if (!u->port)
		return;
	for (pp = &by_port[u->port % PORT_BUCKETS]; *pp != u; pp = &(*pp)->port_next)
		;
	*pp = u->port_next;
	eph_socks -= u->port >= EPH_LO;
	u->port = 0;
}

/* After a call that may have given u's pcb its port. */
static void
port_index(struct fs_udp *u)
{
	uint16_t port = u->pcb->local_port;

	if (port == u->port)
		return;
	port_unindex(u);
	if (!port)
		return;
	u->port = port;
	eph_socks += port >= EPH_LO;
	u->port_next = by_port[port % PORT_BUCKETS];
	by_port[port % PORT_BUCKETS] = u;
}

/* lwIP's udp_bind and udp_remove walk every pcb (udp_bind twice: is it
 * bound already, is the port taken): opening N sockets cost N^2 steps
 * (docs/benchmarks.md, 2026-12-07 21:10). A socket's pcb gets its port here instead: the port
 * judged by the index, lwIP's walks shown an empty list. Each socket keeps
 * its pcb's predecessor in udp_pcbs (lprev), exact while only we change
 * the list; lwIP reorders it only in udp_input (a pcb moved to the front),
 * so every pass through lwIP's input moves udp_order and a removal that
 * finds the hints older walks once to set them all again. */
static uint64_t udp_order, hints_at;
static uint16_t next_port;

void
fs_udp_order_moved(void)
{
	udp_order++;
}

static struct fs_udp *
owner(const struct udp_pcb *pcb)
{
	return pcb->recv_arg; /* udp_recv(pcb, on_recv, u) for every pcb */
}

static void
hints_set(void)
{
	struct udp_pcb *pcb, *prev = NULL;

	for (pcb = udp_pcbs; pcb; prev = pcb, pcb = pcb->next)
		owner(pcb)->lprev = prev;
	hints_at = udp_order;
}

/* Whether u's pcb could take port at ip, as lwIP's udp_bind judges. */
static bool
port_taken(const struct fs_udp *u, const ip_addr_t *ip, uint16_t port)
{
	const struct fs_udp *o;

	for (o = by_port[port % PORT_BUCKETS]; o; o = o->port_next) {
		if (o == u || o->port != port)
			continue;
		if (ip_get_option(u->pcb, SOF_REUSEADDR) && ip_get_option(o->pcb, SOF_REUSEADDR))
			continue;
		if (ip_addr_isany(ip) || ip_addr_isany(&o->pcb->local_ip) ||
		    ip_addr_cmp(ip, &o->pcb->local_ip))
			return true;
	}
	return false;
}

/* An ephemeral port, as lwIP's udp_new_port picks them (the next free
 * one of its range after the last, from a random start); 0 when all are
 * taken. */
static uint16_t
port_new(void)
{
	const struct fs_udp *o;
	unsigned i;

	if (eph_socks >= eph_full)
		return 0; /* none was free, and none has been given back */
	if (!next_port)
		next_port = (uint16_t)(EPH_LO + fs_nif_rand() % EPH_N);
	for (i = 0; i < EPH_N; i++) {
		uint16_t port = next_port;

		next_port = next_port == 0xffff ? (uint16_t)EPH_LO : (uint16_t)(next_port + 1);
		for (o = by_port[port % PORT_BUCKETS]; o && o->port != port; o = o->port_next)
			;
		if (!o) {
			eph_full = ~0u;
			return port;
		}
	}
	eph_full = eph_socks;
	return 0;
}

/* udp_bind for u's pcb, which has no port yet (so it is not in
 * udp_pcbs): port 0 asks for an ephemeral one. */
static err_t
pcb_bind(struct fs_udp *u, const ip_addr_t *ip, uint16_t port)
{
	struct udp_pcb *head = udp_pcbs;
	err_t e;

	if (port == 0 && (port = port_new()) == 0)
		return ERR_USE;
	if (port_taken(u, ip, port))
		return ERR_USE;
	udp_pcbs = NULL;
	e = udp_bind(u->pcb, ip, port); /* puts the pcb on the list it sees */
	udp_pcbs = head;
	if (e != ERR_OK)
		return e;
	u->pcb->next = head;
	udp_pcbs = u->pcb;
	u->lprev = NULL;
	if (head)
		owner(head)->lprev = u->pcb;
	port_index(u);
	return ERR_OK;
}

/* udp_remove for u's pcb, in one step while the hints hold. */
static void
pcb_remove(struct fs_udp *u)
{
	struct udp_pcb *pcb = u->pcb, *head, *prev;
	bool on;

	if (pcb->local_port) { /* on the list, unless a restart left it off */
		if (hints_at != udp_order)
			hints_set();
		prev = u->lprev;
		on = (prev ? prev->next : udp_pcbs) == pcb;
		if (!on) { /* off the list, or the hint is wrong: look */
			on = udp_pcbs == pcb;
			for (prev = on ? NULL : udp_pcbs; prev && prev->next != pcb; prev = prev->next)
				;
			on = on || prev;
		}
		if (on) {
			if (prev)
				prev->next = pcb->next;
			else
				udp_pcbs = pcb->next;
			if (pcb->next)
				owner(pcb->next)->lprev = prev;
		}
	}
	head = udp_pcbs;
	udp_pcbs = NULL;
	udp_remove(pcb);
	udp_pcbs = head;
}

static struct raw_pcb *icmp_watch;

static unsigned
queued(const struct fs_udp *u)
{
	return __atomic_load_n(&u->tail, __ATOMIC_ACQUIRE) - __atomic_load_n(&u->head, __ATOMIC_RELAXED);
}

/* The readers' lock: a spin (a reader holds it while it copies one
 * datagram out), in the family's memory like the socket, so that the
 * processes sharing a socket (a fork) take turns too. */
static void
rlock_take(struct fs_udp *u)
{
	unsigned spins = 0;

	while (__atomic_exchange_n(&u->rlock, 1, __ATOMIC_ACQUIRE))
		if ((++spins & 255) == 0)
			sched_yield();
		else
			fs_cpu_relax();
}

static void
rlock_give(struct fs_udp *u)
{
	__atomic_store_n(&u->rlock, 0, __ATOMIC_RELEASE);
}

/* Socket options live on the kernel socket too, so that validation,
 * defaults and getsockopt answers are the kernel's own. Reads back the
 * options the data path keeps a copy of. */
static void
sync_opts(struct fs_udp *u)
{
	int v = RMEM_DEFAULT;
	socklen_t n = sizeof(v);

	fs_kopt_get(u->kfd, SOL_SOCKET, SO_RCVBUF, &v, &n);
	u->rcvbuf = v;
	v = 0;
	n = sizeof(v);
	fs_kopt_get(u->kfd, SOL_SOCKET, SO_BROADCAST, &v, &n);
	u->broadcast = v != 0;
	u->rcvtimeo_ns = fs_kopt_timeo_ns(u->kfd, SO_RCVTIMEO);
	u->sndtimeo_ns = fs_kopt_timeo_ns(u->kfd, SO_SNDTIMEO);
}

/* A reader's view of u's ring: the entry of index i (under the readers'
 * lock, after queued() saw it: tail's acquire orders the load of q after
 * a grow that came before the entry). */
static struct dgram *
ring_at(const struct fs_udp *u, unsigned i)
{
	struct dgram *q = __atomic_load_n(&u->q, __ATOMIC_ACQUIRE);

	return q == u->q_small ? &q[i % QCAP_SMALL] : &q[i % QCAP];
}

/* Most sockets never hold more than a few datagrams: the ring starts in
 * the socket (16 entries), and moves to QCAP entries of the arena the
 * first time the queue needs more (what inline entries cost a socket:
 * docs/benchmarks.md, 2026-12-07 23:30). Under the stack lock, the only
 * writer. Readers hold no stack lock: the entries from head to tail are
 * copied first, then q changes; both rings hold them alike until a
 * reader takes them, a reader that loaded the old q reads the same
 * datagram, and q_small is never written again, nor freed before the
 * socket. False when no memory. */
static bool
grow(struct fs_udp *u, unsigned t)
{
	struct dgram *big = fs_obj_calloc(QCAP * sizeof(*big));
	unsigned i;

	if (!big)
		return false;
	for (i = __atomic_load_n(&u->head, __ATOMIC_ACQUIRE); i != t; i++)
		big[i % QCAP] = u->q_small[i % QCAP_SMALL];
	__atomic_store_n(&u->q, big, __ATOMIC_RELEASE);
	return true;
}

/* Queues p (payload at the UDP data) for u, or drops and counts. */
static void
deliver(struct fs_udp *u, struct pbuf *p, uint32_t addr, uint16_t port)
{
	unsigned t = u->tail, n = t - __atomic_load_n(&u->head, __ATOMIC_ACQUIRE);

	/* As the kernel: a datagram fits while the queue is under rcvbuf. */
	if (n >= QCAP || __atomic_load_n(&u->qbytes, __ATOMIC_RELAXED) + p->tot_len > (size_t)u->rcvbuf) {
		u->drops++;
		fs_stk->drops.rx_queue_full++;
		pbuf_free(p);
		return;
	}
	if (n >= QCAP_SMALL && u->q == u->q_small && !grow(u, t)) {
		u->drops++;
		fs_stk->drops.rx_nomem++;
		pbuf_free(p);
		return;
	}
	u->q[t % (u->q == u->q_small ? QCAP_SMALL : QCAP)] = (struct dgram){p, addr, port};
	__atomic_add_fetch(&u->qbytes, p->tot_len, __ATOMIC_RELAXED);
	__atomic_store_n(&u->tail, t + 1, __ATOMIC_RELEASE);
	fs_stk_news_of(u);
}

static void
on_recv(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr, u16_t port)
{
	(void)pcb;
	deliver(arg, p, ip4_addr_get_u32(ip_2_ip4(addr)), port);
}

bool
fs_udp_direct(struct pbuf *p, unsigned hlen, unsigned len, uint32_t src, uint16_t sport,
	      uint32_t dst, uint16_t dport)
{
	struct fs_udp *u, *one = NULL;
	struct udp_pcb *pcb;

	for (u = by_port[dport % PORT_BUCKETS]; u; u = u->port_next)
		if (u->port == dport) {
			if (one)
				return false; /* lwIP's rules choose */
			one = u;
		}
	if (!one)
		return false; /* lwIP answers: port unreachable */
	pcb = one->pcb;
	if (!ip_addr_isany(&pcb->local_ip) && ip4_addr_get_u32(ip_2_ip4(&pcb->local_ip)) != dst)
		return false;
	if ((pcb->flags & UDP_FLAGS_CONNECTED) &&
	    (pcb->remote_port != sport ||
	     (!ip_addr_isany(&pcb->remote_ip) && ip4_addr_get_u32(ip_2_ip4(&pcb->remote_ip)) != src)))
		return false;
	/* As the kernel, the datagram is what the UDP length says (lwIP
	 * keeps what the IPv4 length says). */
	if (p->tot_len > len)
		pbuf_realloc(p, (u16_t)len);
	pbuf_remove_header(p, hlen);
	deliver(one, p, src, sport);
	return true;
}

/* ICMP destination unreachable for a connected socket's peer becomes its
 * pending error, as the kernel reports it (ECONNREFUSED for a closed port).
 * Returns 0: lwIP's own ICMP handling still sees the packet. */
static u8_t
on_icmp(void *arg, struct raw_pcb *pcb, struct pbuf *p, const ip_addr_t *src)
{
	u8_t buf[8 + IP_HLEN + 8];
	struct ip_hdr *ih = (struct ip_hdr *)(buf + 8);
	struct udp_hdr *uh;
	struct fs_udp *u;
	u16_t hl;

	(void)arg;
	(void)pcb;
	(void)src;
	/* p->payload is the IP header here. */
	if (p->tot_len < IP_HLEN)
		return 0;
	hl = (u16_t)(IPH_HL((struct ip_hdr *)p->payload) * 4);
	if (pbuf_copy_partial(p, buf, sizeof(buf), hl) != sizeof(buf) || buf[0] != ICMP_DUR ||
	    IPH_PROTO(ih) != IP_PROTO_UDP || IPH_HL(ih) != 5)
		return 0;
	uh = (struct udp_hdr *)(buf + 8 + IP_HLEN);
	for (u = all; u; u = u->next) {
		if (u->connected && u->pcb->local_port == lwip_ntohs(uh->src) &&
		    u->pcb->remote_port == lwip_ntohs(uh->dest) &&
		    ip4_addr_get_u32(ip_2_ip4(&u->pcb->remote_ip)) == ih->dest.addr) {
			u->so_error = buf[1] == ICMP_DUR_PORT ? ECONNREFUSED : EHOSTUNREACH;
			u->errors++;
			fs_stk_news_of(u);
		}
	}
	return 0;
}

/* lwIP's ICMP errors for our sockets (on_icmp), watched once a UDP
 * socket exists. Under the lock. */
static void
watch_icmp(void)
{
	if (!icmp_watch && (icmp_watch = raw_new(IP_PROTO_ICMP)))
		raw_recv(icmp_watch, on_icmp, NULL);
}

void *
fs_udp_open(int kfd, bool nonblock)
{
	struct fs_udp *u = fs_obj_calloc(sizeof(*u));

	if (!u)
		return NULL;
	u->q = u->q_small;
	u->kfd = kfd;
	u->nonblock = nonblock;
	sync_opts(u);
	u->mcast_loop = true;
	fs_stk_lock();
	watch_icmp();
	u->pcb = udp_new();
	if (u->pcb) {
		udp_recv(u->pcb, on_recv, u);
		if (fs_stk->dev->lossless)
			udp_set_flags(u->pcb, UDP_FLAGS_NOCHKSUM);
		u->next = all;
		if (all)
			all->prevp = &u->next;
		all = u;
		u->prevp = &all;
	}
	fs_stk_unlock();
	if (!u->pcb) {
		fs_obj_free(u);
		return NULL;
	}
	return u;
}

void *
fs_udp_open_wildcard(int kfd, bool nonblock, uint16_t port)
{
	struct fs_udp *u = fs_udp_open(kfd, nonblock);
	err_t e;

	if (!u)
		return NULL;
	fs_stk_lock();
	ip_set_option(u->pcb, SOF_REUSEADDR); /* the kernel already judged the port */
	e = pcb_bind(u, IP4_ADDR_ANY, port);
	if (e == ERR_OK) {
		u->dual = true;
		fs_dual_watch(&u->kd, kfd);
	}
	fs_stk_unlock();
	if (e != ERR_OK) {
		fs_udp_ops.close(u);
		return NULL;
	}
	return u;
}

/* The kernel side of a dual socket, never blocking (raw system calls: the
 * kernel fd is the program's own, and our wrappers would send it back here). */
static ssize_t
kernel_recv(struct fs_udp *u, struct msghdr *m, int flags)
{
	ssize_t r = syscall(SYS_recvmsg, u->kfd, m, flags | MSG_DONTWAIT);

	return r < 0 ? -errno : r;
}

static int
udp_bind_(void *s, const struct sockaddr *a, socklen_t n)
{
	struct fs_udp *u = s;
	const struct sockaddr_in *sin;
	ip_addr_t ip;
	int r = fs_check_sin(a, n, &sin), reuse = 0;
	socklen_t rl = sizeof(reuse);
	err_t e;

	if (r < 0)
		return r;
	if (sin->sin_addr.s_addr != INADDR_ANY && sin->sin_addr.s_addr != fs_stk->cfg.ip &&
	    !IN_MULTICAST(ntohl(sin->sin_addr.s_addr)))
		return -EADDRNOTAVAIL;
	fs_kopt_get(u->kfd, SOL_SOCKET, SO_REUSEADDR, &reuse, &rl);
	ip_addr_set_ip4_u32_val(ip, sin->sin_addr.s_addr);
	fs_stk_lock();
	if (u->pcb->local_port != 0) {
		fs_stk_unlock();
		return -EINVAL;
	}
	if (reuse)
		ip_set_option(u->pcb, SOF_REUSEADDR);
	e = pcb_bind(u, &ip, ntohs(sin->sin_port));
	fs_stk_unlock();
	return fs_lwip_errno(e);
}

static bool
routable(uint32_t addr)
{
	uint32_t mask = fs_prefix_mask(fs_stk->cfg.prefix);

	return ((addr ^ fs_stk->cfg.ip) & mask) == 0 || fs_stk->cfg.gw != 0 ||
	       IN_MULTICAST(ntohl(addr)) || addr == INADDR_BROADCAST;
}

static int
udp_connect_(void *s, const struct sockaddr *a, socklen_t n)
{
	struct fs_udp *u = s;
	const struct sockaddr_in *sin;
	ip_addr_t ip;
	struct udp_pcb *head;
	err_t e;
	int r;

	if (a && n >= sizeof(sa_family_t) && a->sa_family == AF_UNSPEC) {
		fs_stk_lock();
		udp_disconnect(u->pcb);
		u->connected = false;
		u->so_error = 0;
		fs_stk_unlock();
		return 0;
	}
	if ((r = fs_check_sin(a, n, &sin)) < 0)
		return r;
	if (!routable(sin->sin_addr.s_addr))
		return u->dual ? -FS_RELEASE_TO_KERNEL : -ENETUNREACH;
	ip_addr_set_ip4_u32_val(ip, sin->sin_addr.s_addr);
	fs_stk_lock();
	if (u->dual) /* connected through us: the kernel side has no part */
		fs_dual_unwatch(&u->kd);
	u->dual = false;
	if (!u->pcb->local_port && pcb_bind(u, IP4_ADDR_ANY, 0) != ERR_OK) {
		fs_stk_unlock();
		return -EAGAIN; /* as Linux: no ephemeral port left */
	}
	/* Bound, so on the list: udp_connect's walk to find it starts at it. */
	head = udp_pcbs;
	udp_pcbs = u->pcb;
	e = udp_connect(u->pcb, &ip, ntohs(sin->sin_port));
	udp_pcbs = head;
	u->connected = e == ERR_OK;
	u->so_error = 0;
	fs_stk_unlock();
	return fs_lwip_errno(e);
}

static int
udp_listen_(void *s, int backlog)
{
	(void)s;
	(void)backlog;
	return -EOPNOTSUPP;
}

static int
udp_accept_(void *s, struct sockaddr *a, socklen_t *n, int flags, void **conn)
{
	*conn = NULL;
	(void)s;
	(void)a;
	(void)n;
	(void)flags;
	return -EOPNOTSUPP;
}

static int
udp_shutdown_(void *s, int how)
{
	struct fs_udp *u = s;

	if (how < SHUT_RD || how > SHUT_RDWR)
		return -EINVAL;
	/* The kernel refuses shutdown on an unconnected datagram socket. */
	return u->connected ? 0 : -ENOTCONN;
}

static int
udp_name_(void *s, struct sockaddr *a, socklen_t *n, int peer)
{
	struct fs_udp *u = s;
	uint32_t ip;

	if (!n)
		return -EFAULT;
	fs_stk_lock();
	if (peer) {
		if (!u->connected) {
			fs_stk_unlock();
			return -ENOTCONN;
		}
		fs_fill_sin(a, n, ip4_addr_get_u32(ip_2_ip4(&u->pcb->remote_ip)), u->pcb->remote_port);
	} else {
		ip = ip4_addr_get_u32(ip_2_ip4(&u->pcb->local_ip));
		/* A connected socket reports the source address it uses. */
		if (ip == 0 && u->connected)
			ip = fs_stk->cfg.ip;
		fs_fill_sin(a, n, ip, u->pcb->local_port);
	}
	fs_stk_unlock();
	return 0;
}

static int
udp_getsockopt_(void *s, int level, int opt, void *v, socklen_t *n)
{
	struct fs_udp *u = s;

	if (level == IPPROTO_IP && opt == IP_MULTICAST_IF && v && n && *n >= sizeof(uint32_t)) {
		memcpy(v, &u->mcast_if, sizeof(uint32_t));
		*n = sizeof(uint32_t);
		return 0;
	}
	if (level == SOL_SOCKET && opt == SO_ERROR && v && n && *n >= sizeof(int)) {
		fs_stk_lock();
		*(int *)v = u->so_error;
		u->so_error = 0;
		fs_stk_unlock();
		*n = sizeof(int);
		return 0;
	}
	return fs_kopt_get(u->kfd, level, opt, v, n);
}

static int
membership(struct fs_udp *u, int opt, const void *v, socklen_t n)
{
	const struct ip_mreq *mr = v;
	ip4_addr_t group;
	err_t e;

	if (!v || n < sizeof(struct ip_mreq))
		return -EINVAL;
	if (!IN_MULTICAST(ntohl(mr->imr_multiaddr.s_addr)))
		return -EINVAL;
	(void)u;
	ip4_addr_set_u32(&group, mr->imr_multiaddr.s_addr);
	fs_stk_lock();
	e = opt == IP_ADD_MEMBERSHIP ? igmp_joingroup_netif(netif_default, &group)
				     : igmp_leavegroup_netif(netif_default, &group);
	fs_stk->dev->ops->tx_flush(fs_stk->dev);
	fs_stk_unlock();
	if (e == ERR_OK)
		return 0;
	return opt == IP_ADD_MEMBERSHIP ? -ENOBUFS : -EADDRNOTAVAIL;
}

static int
udp_setsockopt_(void *s, int level, int opt, const void *v, socklen_t n)
{
	struct fs_udp *u = s;
	int r;

	if (level == IPPROTO_IP && (opt == IP_ADD_MEMBERSHIP || opt == IP_DROP_MEMBERSHIP))
		return membership(u, opt, v, n);
	if (level == IPPROTO_IP && opt == IP_MULTICAST_IF) {
		uint32_t a;

		/* Our address is not the kernel's: the stack keeps it. */
		if (!fs_mcast_if_addr(v, n, &a))
			return -EINVAL;
		if (a != fs_stk->cfg.ip && a != INADDR_ANY)
			return -EADDRNOTAVAIL;
		fs_stk_lock();
		u->mcast_if = a;
		fs_stk_unlock();
		return 0;
	}
	/* The kernel validates and keeps every option; we mirror what the
	 * stack needs. */
	r = fs_kopt_set(u->kfd, level, opt, v, n);
	if (r == 0 && level == SOL_SOCKET)
		sync_opts(u);
	if (r < 0 || level != IPPROTO_IP)
		return r;
	fs_stk_lock();
	if (opt == IP_MULTICAST_TTL || opt == IP_TTL) {
		int ttl = n >= sizeof(int) ? *(const int *)v : *(const unsigned char *)v;

		if (opt == IP_MULTICAST_TTL)
			udp_set_multicast_ttl(u->pcb, (u8_t)ttl);
		else
			u->pcb->ttl = (u8_t)ttl;
	} else if (opt == IP_MULTICAST_LOOP) {
		u->mcast_loop = (n >= sizeof(int) ? *(const int *)v : *(const unsigned char *)v) != 0;
	}
	fs_stk_unlock();
	return 0;
}

static bool
readable(void *s)
{
	struct fs_udp *u = s;

	return queued(u) != 0 || u->so_error != 0;
}

static int
udp_kernel_fd_(void *s, bool *reported)
{
	struct fs_udp *u = s;

	if (reported)
		*reported = u->dual && fs_dual_reported(&u->kd);
	return u->dual ? u->kfd : -1;
}

/* Copies the datagram into the iovecs; returns the bytes copied. */
static size_t
copy_out(struct pbuf *p, const struct msghdr *m)
{
	size_t done = 0, i;

	for (i = 0; i < m->msg_iovlen && done < p->tot_len; i++) {
		size_t want = m->msg_iov[i].iov_len;

		if (want > p->tot_len - done)
			want = p->tot_len - done;
		pbuf_copy_partial(p, m->msg_iov[i].iov_base, (u16_t)want, (u16_t)done);
		done += want;
	}
	return done;
}

static ssize_t
udp_recvmsg_(void *s, struct msghdr *m, int flags)
{
	struct fs_udp *u = s;
	struct dgram d;
	size_t got;
	int e;

	if (flags & (MSG_OOB | MSG_ERRQUEUE))
		return flags & MSG_OOB ? -EOPNOTSUPP : -EAGAIN;
	if (fs_unlikely(queued(u) == 0)) {
		fs_stk_progress();
		while (queued(u) == 0) {
			if (u->so_error) {
				fs_stk_lock();
				e = u->so_error;
				u->so_error = 0;
				fs_stk_unlock();
				if (e)
					return -e;
			}
			if (u->nonblock || (flags & MSG_DONTWAIT))
				return u->dual && fs_dual_readable(&u->kd) ? kernel_recv(u, m, flags)
									   : -EAGAIN;
			int64_t t = u->rcvtimeo_ns;
			struct pollfd kp = {u->kfd, POLLIN, 0};

			/* A dual socket's kernel side: readable() sees the
			 * kernel's reports (dual.c), the wait asks the kernel now
			 * and then and watches it in the sleep. */
			e = fs_stk_wait(readable, u, t, &kp, u->dual, u->dual, NULL);
			if (e == 2) {
				ssize_t k = kernel_recv(u, m, flags);

				if (k != -EAGAIN)
					return k;
				continue;
			}
			if (e == 0)
				return -EAGAIN;
			/* As the kernel: SA_RESTART restarts a receive that has
			 * no timeout; otherwise the signal ends it. */
			if (e == -EINTR && fs_sig_restart && t < 0)
				continue;
			if (e < 0)
				return e;
		}
	}
	rlock_take(u);
	if (queued(u) == 0) { /* another reader took it */
		rlock_give(u);
		return u->nonblock || (flags & MSG_DONTWAIT) ? -EAGAIN
							      : udp_recvmsg_(s, m, flags);
	}
	d = *ring_at(u, u->head);
	got = copy_out(d.p, m);
	m->msg_flags = got < d.p->tot_len ? MSG_TRUNC : 0;
	m->msg_controllen = 0;
	if (m->msg_name)
		fs_fill_sin(m->msg_name, &m->msg_namelen, d.addr, d.port);
	else
		m->msg_namelen = 0;
	if (!(flags & MSG_PEEK)) {
		__atomic_sub_fetch(&u->qbytes, d.p->tot_len, __ATOMIC_RELAXED);
		__atomic_store_n(&u->head, u->head + 1, __ATOMIC_RELEASE);
	}
	rlock_give(u);
	if (flags & MSG_TRUNC)
		got = d.p->tot_len;
	if (!(flags & MSG_PEEK))
		fs_nif_pbuf_release(d.p);
	return (ssize_t)got;
}

/* Delivers a copy of p to every local socket that would receive a packet
 * to addr:port (our own address, or a group with loop on): lwIP's own
 * loopback needs a tcpip thread we do not run. */
static void
loop_local(struct pbuf *p, uint32_t dst, uint16_t port, uint32_t src, uint16_t sport)
{
	struct fs_udp *v;

	for (v = by_port[port % PORT_BUCKETS]; v; v = v->port_next) {
		uint32_t lip = ip4_addr_get_u32(ip_2_ip4(&v->pcb->local_ip));
		struct pbuf *c;

		if (v->port != port || (lip != 0 && lip != dst))
			continue;
		if (v->connected && (v->pcb->remote_port != sport ||
				     ip4_addr_get_u32(ip_2_ip4(&v->pcb->remote_ip)) != src))
			continue;
		c = pbuf_alloc(PBUF_RAW, p->tot_len, PBUF_RAM);
		if (!c) {
			fs_stk->drops.rx_nomem++;
			continue;
		}
		pbuf_copy(c, p);
		deliver(v, c, src, sport);
		if (!IN_MULTICAST(ntohl(dst)))
			break; /* unicast: one receiver */
	}
}

/* The subnet's directed broadcast (none on /31 and /32, RFC 3021). */
static bool
is_subnet_broadcast(uint32_t dst)
{
	uint32_t mask = fs_prefix_mask(fs_stk->cfg.prefix);

	return fs_stk->cfg.prefix < 31 && ((dst ^ fs_stk->cfg.ip) & mask) == 0 &&
	       (dst & ~mask) == ~mask;
}

/* stack.h: fs_next_hop, fs_arp_known. */
uint32_t
fs_next_hop(uint32_t dst)
{
	uint32_t mask = fs_prefix_mask(fs_stk->cfg.prefix);

	if (IN_MULTICAST(ntohl(dst)) || dst == INADDR_BROADCAST)
		return 0;
	if (((dst ^ fs_stk->cfg.ip) & mask) == 0)
		return is_subnet_broadcast(dst) ? 0 : dst;
	return fs_stk->cfg.gw;
}

bool
fs_arp_known(uint32_t hop)
{
	struct eth_addr *eth;
	const ip4_addr_t *ip;
	ip4_addr_t a;

	ip4_addr_set_u32(&a, hop);
	return etharp_find_addr(netif_default, &a, &eth, &ip) >= 0;
}

/* lwIP holds at most this many datagrams per unresolved neighbour
 * (ARP_QUEUE_LEN, lwipopts.h: Linux's unres_qlen). */
#define ARP_QUEUE 101
/* A sender waiting for device room sleeps at most this long at a time:
 * memif tells nobody when its ring drains. */
#define TX_SLICE_NS 20000

/* The direct path: a datagram that needs no fragmenting, to a unicast
 * neighbour whose MAC is known, gets its Ethernet, IPv4 and UDP headers
 * written straight into a device buffer and its payload copied once from
 * the program's iovecs (lwIP's path allocates a pbuf, copies the payload
 * into it and copies again into the device buffer). Every other datagram
 * takes lwIP's path. Under the stack lock; returns 1 (queued), 0 (declined:
 * use lwIP's path) or -ENOBUFS (the device pool is dry, counted). */
#define HDRS (14 + 20 + 8)

static int
send_direct(struct fs_udp *u, const struct msghdr *m, size_t len, uint32_t dst, uint16_t port,
	    uint32_t hop)
{
	struct fs_dev *d = fs_stk->dev;
	uint8_t *b, *ip, *udp, mac[6];
	void *handle;
	uint32_t sum;
	uint16_t c;
	size_t i, off = HDRS;

	if (len + 28 > d->mtu || !hop || u->pcb->local_port == 0)
		return 0;
	if (!fs_nif_neigh(dst, mac))
		return 0;
	b = d->ops->tx_alloc(d, (uint16_t)(HDRS + len), &handle);
	if (!b)
		return -ENOBUFS;
	ip = fs_nif_headers(b, mac, u->pcb->tos, u->pcb->ttl, 17, (uint16_t)(20 + 8 + len),
			    fs_stk->cfg.ip, dst);
	udp = ip + 20;
	udp[0] = (uint8_t)(u->pcb->local_port >> 8);
	udp[1] = (uint8_t)u->pcb->local_port;
	udp[2] = (uint8_t)(port >> 8);
	udp[3] = (uint8_t)port;
	udp[4] = (uint8_t)((8 + len) >> 8);
	udp[5] = (uint8_t)(8 + len);
	udp[6] = udp[7] = 0;
	for (i = 0; i < m->msg_iovlen; i++) {
		memcpy(b + off, m->msg_iov[i].iov_base, m->msg_iov[i].iov_len);
		off += m->msg_iov[i].iov_len;
	}
	if (!d->lossless) {
		sum = fs_csum_pseudo(ip, 17, (unsigned)(8 + len));
		c = (uint16_t)~fs_csum_fold(fs_csum_add(sum, udp, 8 + len));
		if (c == 0)
			c = 0xffff; /* 0 means "no checksum" */
		udp[6] = (uint8_t)(c >> 8);
		udp[7] = (uint8_t)c;
	}
	d->ops->tx_queue(d, handle);
	return 1;
}

static bool
tx_room(void *unused)
{
	bool room;

	(void)unused;
	fs_stk_lock();
	room = fs_stk->dev->ops->tx_flush(fs_stk->dev) == 0;
	fs_stk_unlock();
	return room;
}

static ssize_t
udp_sendmsg_(void *s, const struct msghdr *m, int flags)
{
	struct fs_udp *u = s;
	const struct sockaddr_in *sin = NULL;
	size_t len = 0, i, off = 0;
	uint32_t dst, hop;
	uint16_t port;
	struct pbuf *p;
	ip_addr_t ip;
	err_t e;
	int r;

	if (flags & MSG_OOB)
		return -EOPNOTSUPP;
	if (m->msg_name) {
		if ((r = fs_check_sin(m->msg_name, m->msg_namelen, &sin)) < 0 &&
		    !(r == -EAFNOSUPPORT && ((struct sockaddr *)m->msg_name)->sa_family == AF_UNSPEC))
			return r;
		sin = m->msg_name;
		dst = sin->sin_addr.s_addr;
		port = ntohs(sin->sin_port);
		if (port == 0)
			return -EINVAL;
	} else if (u->connected) {
		dst = ip4_addr_get_u32(ip_2_ip4(&u->pcb->remote_ip));
		port = u->pcb->remote_port;
	} else {
		return -EDESTADDRREQ;
	}
	for (i = 0; i < m->msg_iovlen; i++)
		len += m->msg_iov[i].iov_len;
	if (len > UDP_MAX_PAYLOAD)
		return -EMSGSIZE;
	if (!routable(dst)) {
		if (u->dual) {
			ssize_t k = syscall(SYS_sendmsg, u->kfd, m, flags);

			return k < 0 ? -errno : k;
		}
		return -ENETUNREACH;
	}
	if ((dst == INADDR_BROADCAST || is_subnet_broadcast(dst)) && !u->broadcast)
		return -EACCES; /* as the kernel, without SO_BROADCAST */
	fs_stk_lock();
	/* Room on the device first: as the kernel's send buffer accounting
	 * makes a sender wait (or EAGAIN) while its datagrams sit in a full
	 * device queue, instead of dropping them. */
	/* A link that is down (a memif server whose client has not come) is
	 * a cable pulled out: the kernel drops what it cannot send (counted
	 * here, by the device queue) and never makes a sender wait for it. */
	if (fs_unlikely(fs_stk->dev->ops->tx_flush(fs_stk->dev) != 0) &&
	    fs_stk->dev->ops->link_up(fs_stk->dev)) {
		fs_stk_unlock();
		if (u->nonblock || (flags & MSG_DONTWAIT))
			return -EAGAIN;
		r = fs_stk_wait_sliced(tx_room, NULL, u->sndtimeo_ns, NULL, 0, 0, NULL, TX_SLICE_NS);
		if (r == 0)
			return -EAGAIN;
		if (r < 0)
			return r;
		fs_stk_lock();
	}
	hop = fs_next_hop(dst);
	if (hop && hop != fs_stk->cfg.ip && !fs_arp_known(hop)) {
		/* As the kernel's neighbour queue: lwIP holds the datagrams
		 * while it asks; past its queue they are dropped and counted,
		 * and the sender, blocking or not, never waits or fails (a
		 * sender to a dead host carries on as on Linux). Each second
		 * the neighbour is asked again and lwIP takes datagrams again:
		 * lwIP asks once per entry and gives a pending one up after
		 * 5 s, and with every datagram dropped here nothing would ask
		 * any more (seen: an entry that expired under load was never
		 * resolved again; docs/benchmarks.md, 2026-12-07 10:15). */
		uint64_t now = fs_now_ns();

		if (++fs_stk->arp_pending == 1 || now - fs_stk->arp_asked_ns >= 1000000000ull) {
			ip4_addr_t a;

			if (fs_stk->arp_pending > 1) {
				ip4_addr_set_u32(&a, hop);
				etharp_request(netif_default, &a);
			}
			fs_stk->arp_pending = 1;
			fs_stk->arp_asked_ns = now;
		}
		if (fs_stk->arp_pending > ARP_QUEUE) {
			fs_stk->drops.tx_arp++;
			/* A progress round, as every send makes: the answer may
			 * be waiting on the device. */
			fs_stk_poll_locked();
			fs_stk_unlock();
			return (ssize_t)len;
		}
	} else {
		fs_stk->arp_pending = 0;
	}
	if (u->pcb->local_port == 0 && pcb_bind(u, IP4_ADDR_ANY, 0) != ERR_OK) {
		fs_stk_unlock();
		return -EAGAIN;
	}
	if (hop && hop != fs_stk->cfg.ip && (r = send_direct(u, m, len, dst, port, hop)) != 0) {
		if (r > 0) {
			u->sent++;
			fs_stk_poll_locked(); /* flushes it */
		}
		fs_stk_unlock();
		return r > 0 ? (ssize_t)len : r;
	}
	p = pbuf_alloc(PBUF_TRANSPORT, (u16_t)len, PBUF_RAM);
	if (!p) {
		fs_stk_unlock();
		return -ENOBUFS;
	}
	for (i = 0; i < m->msg_iovlen; i++) {
		pbuf_take_at(p, m->msg_iov[i].iov_base, (u16_t)m->msg_iov[i].iov_len, (u16_t)off);
		off += m->msg_iov[i].iov_len;
	}
	if (dst == fs_stk->cfg.ip) {
		loop_local(p, dst, port, fs_stk->cfg.ip, u->pcb->local_port);
		e = ERR_OK;
	} else {
		if (IN_MULTICAST(ntohl(dst)) && u->mcast_loop) {
			ip4_addr_t g;

			ip4_addr_set_u32(&g, dst);
			if (igmp_lookfor_group(netif_default, &g))
				loop_local(p, dst, port, fs_stk->cfg.ip, u->pcb->local_port);
		}
		ip_addr_set_ip4_u32_val(ip, dst);
		e = udp_sendto(u->pcb, p, &ip, port);
	}
	pbuf_free(p);
	if (e == ERR_OK)
		u->sent++;
	/* A sender that never receives still answers ARP and sees ICMP:
	 * each send is also a progress round (it flushes what we sent). */
	fs_stk_poll_locked();
	fs_stk_unlock();
	return e == ERR_OK ? (ssize_t)len : fs_lwip_errno(e);
}

static int
udp_ioctl_(void *s, unsigned long req, void *arg)
{
	struct fs_udp *u = s;

	switch (req) {
	case FIONBIO:
		u->nonblock = *(int *)arg != 0;
		return 0;
	case FIONREAD: {
		int n = 0;

		rlock_take(u);
		if (queued(u))
			n = ring_at(u, u->head)->p->tot_len;
		rlock_give(u);
		*(int *)arg = n;
		return 0;
	}
	}
	return syscall(SYS_ioctl, u->kfd, req, arg) < 0 ? -errno : 0;
}

static unsigned
udp_poll_(void *s, uint32_t *gen)
{
	struct fs_udp *u = s;
	unsigned ev = POLLOUT;

	if (gen)
		*gen = __atomic_load_n(&u->tail, __ATOMIC_ACQUIRE) + u->errors;
	if (queued(u) || (u->dual && fs_dual_readable(&u->kd)))
		ev |= POLLIN;
	if (u->so_error)
		ev |= POLLERR;
	return ev;
}

/* Closes u, which nobody holds any more, and frees it. Under the lock.
 * forget_dual: as close_locked in tcp_sock.c. */
static void
close_locked(struct fs_udp *u, bool forget_dual)
{
	*u->prevp = u->next;
	if (u->next)
		u->next->prevp = u->prevp;
	if (u->dual && forget_dual)
		fs_dual_forget(&u->kd);
	else if (u->dual)
		fs_dual_unwatch(&u->kd);
	port_unindex(u);
	pcb_remove(u);
	while (queued(u)) {
		pbuf_free(ring_at(u, u->head)->p);
		__atomic_store_n(&u->head, u->head + 1, __ATOMIC_RELAXED); /* queued() peeks */
	}
	if (u->q != u->q_small)
		fs_obj_free(u->q);
	fs_obj_free(u);
}

static void
udp_close_(void *s)
{
	struct fs_udp *u = s;

	/* Another process of the family still has it open (a fork). */
	if (!fs_obj_drop(u))
		return;
	fs_stk_lock();
	close_locked(u, false);
	fs_stk_unlock();
}

/* As fs_tcp_member_gone. Under the lock. */
void
fs_udp_member_gone(uint64_t bit)
{
	struct fs_udp *u, *next;

	for (u = all; u; u = next) {
		next = u->next;
		if ((fs_obj_holders(u) & bit) && fs_obj_drop_member(u, bit))
			close_locked(u, true);
	}
}

/* A restart (engine.c), step 1: as fs_tcp_restart_drop, but a UDP socket
 * keeps everything: its pcb's settings are copied for step 2, and the
 * datagrams it holds stay readable (they are in memory lwIP no longer
 * knows of, freed as usual once read). Under the lock. */
void
fs_udp_restart_drop(void)
{
	struct fs_udp *u;

	icmp_watch = NULL;
	for (u = all; u; u = u->next)
		u->re = *u->pcb;
}

/* Step 2: each socket has a pcb again, bound and connected as before. One
 * that cannot (out of memory) keeps its old pcb, outside lwIP's lists:
 * it sends, and receives nothing. Under the lock. */
void
fs_udp_restart_again(void)
{
	struct udp_pcb *pcb;
	struct fs_udp *u;

	if (all)
		watch_icmp();
	for (u = all; u; u = u->next) {
		if (!(pcb = memp_malloc(MEMP_UDP_PCB))) {
			FS_WARN("udp socket %d: no pcb after the stack's restart: it receives nothing",
				u->kfd);
			port_unindex(u);
			u->lprev = NULL; /* off the list: pcb_remove looks for it there */
			continue;
		}
		*pcb = u->re;
		if (pcb->local_port) { /* in lwIP's list, as udp_bind puts it */
			pcb->next = udp_pcbs;
			udp_pcbs = pcb;
		}
		u->pcb = pcb;
	}
	udp_order++; /* the hints name the old pcbs */
}

/* As fs_tcp_family_add. Under the lock. */
void
fs_udp_family_add(uint64_t have, uint64_t add)
{
	struct fs_udp *u;

	for (u = all; u; u = u->next)
		if (fs_obj_holders(u) & have)
			fs_obj_add_holder(u, add);
}

const struct fs_sock_ops fs_udp_ops = {
	.bind = udp_bind_,
	.connect = udp_connect_,
	.listen = udp_listen_,
	.accept = udp_accept_,
	.shutdown = udp_shutdown_,
	.name = udp_name_,
	.getsockopt = udp_getsockopt_,
	.setsockopt = udp_setsockopt_,
	.sendmsg = udp_sendmsg_,
	.recvmsg = udp_recvmsg_,
	.ioctl = udp_ioctl_,
	.poll = udp_poll_,
	.close = udp_close_,
	.kernel_fd = udp_kernel_fd_,
};

unsigned
fs_udp_publish(struct fs_pub_sock *p, unsigned max)
{
	struct fs_udp *u;
	unsigned n = 0;

	for (u = all; u && n < max; u = u->next, n++) {
		p[n] = (struct fs_pub_sock){
			.fd = u->kfd,
			.proto = 17,
			.connected = u->connected,
			.lport = u->pcb->local_port,
			.rport = u->connected ? u->pcb->remote_port : 0,
			.laddr = ip4_addr_get_u32(ip_2_ip4(&u->pcb->local_ip)),
			.raddr = u->connected ? ip4_addr_get_u32(ip_2_ip4(&u->pcb->remote_ip)) : 0,
			.rx_queued = queued(u),
			.rx_queued_bytes = (uint32_t)__atomic_load_n(&u->qbytes, __ATOMIC_RELAXED),
			.rx_dgrams = __atomic_load_n(&u->tail, __ATOMIC_RELAXED),
			.tx_dgrams = u->sent,
			.drops = u->drops,
		};
	}
	return n;
}
