/* Which sockets the stack serves. A socket is a kernel socket until an
 * address-bearing call shows it belongs to the accelerated interface; then
 * the stack takes it over and the fd is marked in the table. */
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>

#include "../stack/rules.h"
#include "claim.h"
#include "init.h"

bool fs_accel_on;

static bool
in_subnet(uint32_t addr)
{
	const struct fs_config *c = &fs_ctx.cfg;
	uint32_t mask = fs_prefix_mask(c->prefix);

	return ((addr ^ c->ip) & mask) == 0;
}

static const char *const why_name[] = {"bind", "connect", "sendto", "multicast join", "listen"};

/* One bit per fd: its "stays on the kernel" line was written. */
static uint8_t told[FS_FDT_MAX / 8];

void
fs_claim_forget(int fd)
{
	if ((unsigned)fd < FS_FDT_MAX)
		__atomic_and_fetch(&told[fd / 8], (uint8_t) ~(1u << (fd % 8)), __ATOMIC_RELAXED);
}

/* Tells, once per socket and at info level, why it stays on the kernel. */
static void
stays(int fd, enum fs_claim why, const char *reason)
{
	uint8_t bit = (uint8_t)(1u << (fd % 8));

	if (fs_log_threshold < FS_LOG_INFO || (unsigned)fd >= FS_FDT_MAX ||
	    (__atomic_fetch_or(&told[fd / 8], bit, __ATOMIC_RELAXED) & bit))
		return;
	FS_INFO("fd %d stays on the kernel at %s: %s", fd, why_name[why], reason);
}

static void
stays_addr(int fd, enum fs_claim why, const char *what, uint32_t addr)
{
	char msg[96];
	const uint8_t *b = (const uint8_t *)&addr;

	if (fs_log_threshold < FS_LOG_INFO)
		return;
	snprintf(msg, sizeof(msg), "%s %u.%u.%u.%u", what, b[0], b[1], b[2], b[3]);
	stays(fd, why, msg);
}

/* Another thread may already sit in the kernel's recv on this socket (a
 * receiving thread started before the first send claimed it): nothing will
 * ever arrive there. One loopback datagram wakes it; the receive wrappers
 * then see the fd is the stack's and ask the stack instead. */
static void
wake_kernel_readers(int fd)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t n = sizeof(a);
	int k;

	fs_in_stack++;
	if (FS_REAL(getsockname, fd, (struct sockaddr *)&a, &n) == 0 && a.sin_port == 0) {
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		FS_REAL(bind, fd, (struct sockaddr *)&a, sizeof(a));
		n = sizeof(a);
		FS_REAL(getsockname, fd, (struct sockaddr *)&a, &n);
	}
	if (a.sin_port != 0 && (k = FS_REAL(socket, AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) >= 0) {
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		FS_REAL(sendto, k, "", 0, MSG_DONTWAIT, (struct sockaddr *)&a, sizeof(a));
		FS_REAL(close, k);
	}
	fs_in_stack--;
}

/* The rules' verdict for socket d; logs and returns true when a rule keeps
 * it on the kernel. */
static bool
rule_says_kernel(int fd, enum fs_claim why, const struct fs_sock_desc *d)
{
	char msg[48];
	bool accel;
	int idx;

	if (!fs_ctx.cfg.nrules)
		return false;
	idx = fs_rules_match(&fs_ctx.cfg, d, &accel);
	if (accel)
		return false;
	snprintf(msg, sizeof(msg), "acceleration rule %d says kernel", idx + 1);
	stays(fd, why, msg);
	return true;
}

/* Starts the stack if need be; on failure (said once, by the stack)
 * acceleration is off for the process. */
static bool
stack_up(void)
{
	if (fs_stk_ensure(&fs_ctx.cfg) == 0)
		return true;
	fs_accel_on = false;
	return false;
}

/* Marks fd as served by s (a new stack socket, or NULL when it could not
 * be made). Returns false, having closed s and said why, when that fails. */
static bool
mark(int fd, enum fs_claim why, const struct fs_sock_ops *ops, void *s, const char *failure)
{
	if (s && fs_fdt_mark(fd, ops, s) == 0)
		return true;
	if (s)
		ops->close(s);
	stays(fd, why, failure);
	return false;
}

static bool
nonblocking(int fd)
{
	int fl = FS_REAL(fcntl, fd, F_GETFL);

	return fl >= 0 && (fl & O_NONBLOCK);
}

/* Whether fd is a socket of type the kernel bound to an IPv4 address,
 * which it writes to *local. The caller is inside the stack guard. */
static bool
kernel_bound(int fd, int type, struct sockaddr_in *local)
{
	socklen_t ln = sizeof(*local);
	int t = 0;
	socklen_t tn = sizeof(t);

	return FS_REAL(getsockopt, fd, SOL_SOCKET, SO_TYPE, &t, &tn) == 0 && t == type &&
	       FS_REAL(getsockname, fd, (struct sockaddr *)local, &ln) == 0 &&
	       local->sin_family == AF_INET;
}

void
fs_claim_wildcard(int fd)
{
	struct sockaddr_in local = {0};
	struct fs_sock_desc d;
	bool ok;

	if (fs_in_stack)
		return;
	fs_in_stack++;
	/* A TCP socket is claimed at listen (or connect), not here. */
	ok = kernel_bound(fd, SOCK_DGRAM, &local);
	d = (struct fs_sock_desc){FS_PROTO_UDP, FS_ROLE_SERVER, 0, 0, ntohs(local.sin_port), 0};
	ok = ok && !rule_says_kernel(fd, FS_CLAIM_BIND, &d) && stack_up() &&
	     mark(fd, FS_CLAIM_BIND, &fs_udp_ops, fs_udp_open_wildcard(fd, nonblocking(fd), d.lport),
		  "the stack cannot take its port");
	fs_in_stack--;
	if (!ok)
		return;
	FS_DBG("fd %d accelerated at bind, wildcard: served on both paths", fd);
	fs_epoll_claimed(fd, fs_fdt_get(fd));
}

struct fs_fd *
fs_claim(int fd, const struct sockaddr *a, socklen_t n, enum fs_claim why)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)a;
	struct sockaddr_in local;
	socklen_t ln = sizeof(local);
	int type = 0;
	socklen_t tn = sizeof(type);
	struct fs_sock_desc d;
	const struct fs_sock_ops *ops;
	uint32_t addr;
	void *s;

	if (fs_in_stack || !a || n < sizeof(*sin))
		return NULL;
	if (a->sa_family != AF_INET) {
		if (a->sa_family == AF_INET6)
			stays(fd, why, "IPv6 is not accelerated");
		return NULL;
	}
	addr = sin->sin_addr.s_addr;
	switch (why) {
	case FS_CLAIM_BIND:
		if (addr != fs_ctx.cfg.ip) {
			if (addr == INADDR_ANY)
				stays(fd, why, "bound to the wildcard address");
			else
				stays_addr(fd, why, "bound to", addr);
			return NULL;
		}
		break;
	case FS_CLAIM_CONNECT:
	case FS_CLAIM_SENDTO:
		/* A group is ours only once IP_MULTICAST_IF names our
		 * interface, and that option claims the socket itself. */
		if (!in_subnet(addr)) {
			stays_addr(fd, why, "destination outside the fastsock subnet:", addr);
			return NULL;
		}
		break;
	case FS_CLAIM_JOIN:
		break; /* the caller checked the interface address */
	case FS_CLAIM_LISTEN:
		return NULL; /* fs_claim_listen's */
	}
	fs_in_stack++;
	if (FS_REAL(getsockopt, fd, SOL_SOCKET, SO_TYPE, &type, &tn) < 0 ||
	    (type != SOCK_DGRAM && type != SOCK_STREAM) ||
	    (type == SOCK_STREAM && why != FS_CLAIM_BIND && why != FS_CLAIM_CONNECT)) {
		fs_in_stack--;
		return NULL;
	}
	/* A socket the kernel bound keeps its binding, except that a TCP
	 * client bound to the wildcard connects through us from that port. */
	if (why != FS_CLAIM_BIND && why != FS_CLAIM_JOIN &&
	    (FS_REAL(getsockname, fd, (struct sockaddr *)&local, &ln) < 0 ||
	     (local.sin_port != 0 && (type != SOCK_STREAM || local.sin_addr.s_addr != INADDR_ANY)))) {
		fs_in_stack--;
		stays(fd, why, "already bound on the kernel");
		return NULL;
	}
	ops = type == SOCK_STREAM ? &fs_tcp_ops : &fs_udp_ops;
	d = (struct fs_sock_desc){type == SOCK_STREAM ? FS_PROTO_TCP : FS_PROTO_UDP, FS_ROLE_CLIENT,
				  fs_ctx.cfg.ip, 0, 0, 0};
	if (why == FS_CLAIM_BIND || why == FS_CLAIM_JOIN) {
		d.role = FS_ROLE_SERVER;
		d.lport = ntohs(sin->sin_port);
		if (why == FS_CLAIM_JOIN &&
		    FS_REAL(getsockname, fd, (struct sockaddr *)&local, &ln) == 0)
			d.lport = ntohs(local.sin_port);
	} else {
		d.raddr = addr;
		d.rport = ntohs(sin->sin_port);
	}
	if (rule_says_kernel(fd, why, &d) || !stack_up()) {
		fs_in_stack--;
		return NULL;
	}
	s = type == SOCK_STREAM ? fs_tcp_open(fd, nonblocking(fd)) : fs_udp_open(fd, nonblocking(fd));
	if (!mark(fd, why, ops, s, "out of memory")) {
		fs_in_stack--;
		return NULL;
	}
	if (type == SOCK_STREAM && why == FS_CLAIM_CONNECT && local.sin_port != 0) {
		local.sin_addr.s_addr = INADDR_ANY;
		if (ops->bind(s, (struct sockaddr *)&local, sizeof(local)) < 0)
			stays(fd, why, "the stack cannot take its port");
	}
	if (why == FS_CLAIM_JOIN) {
		/* Joined after a kernel bind: the stack binds the same port. */
		if (FS_REAL(getsockname, fd, (struct sockaddr *)&local, &ln) == 0 && local.sin_port)
			fs_udp_ops.bind(s, (struct sockaddr *)&local, sizeof(local));
	}
	fs_in_stack--;
	FS_DBG("fd %d accelerated at %s", fd, why_name[why]);
	fs_epoll_claimed(fd, fs_fdt_get(fd));
	if (type == SOCK_DGRAM)
		wake_kernel_readers(fd);
	return fs_fdt_hold(fd);
}

void
fs_claim_listen(int fd, int backlog)
{
	struct sockaddr_in local = {0};
	struct fs_sock_desc d;
	bool ok;

	if (fs_in_stack)
		return;
	fs_in_stack++;
	ok = kernel_bound(fd, SOCK_STREAM, &local);
	if (ok && local.sin_addr.s_addr != INADDR_ANY) {
		stays_addr(fd, FS_CLAIM_LISTEN, "listening on", local.sin_addr.s_addr);
		ok = false;
	}
	d = (struct fs_sock_desc){FS_PROTO_TCP, FS_ROLE_SERVER, 0, 0, ntohs(local.sin_port), 0};
	ok = ok && !rule_says_kernel(fd, FS_CLAIM_LISTEN, &d) && stack_up() &&
	     mark(fd, FS_CLAIM_LISTEN, &fs_tcp_ops,
		  fs_tcp_listen_wildcard(fd, nonblocking(fd), d.lport, backlog),
		  "the stack cannot take its port");
	fs_in_stack--;
	if (!ok)
		return;
	FS_DBG("fd %d accelerated at listen, wildcard: served on both paths", fd);
	fs_epoll_claimed(fd, fs_fdt_get(fd));
}
