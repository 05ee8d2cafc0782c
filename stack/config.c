/* Strict parsing of the FASTSOCK_* environment. Every value is checked in
 * full (no atoi, no trailing junk); a bad one is reported and turns
 * acceleration off, never the program. */
#include <ctype.h>
#include <sched.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "config.h"

enum var {
	V_DEV, V_IP, V_GW, V_MAC, V_EAL_ARGS, V_SPIN_US, V_LOG, V_LOG_FILE,
	V_ACCEL, V_CONF, V_PROGRESS_CPU, V_RX_BURST, V_MBUFS, V_MTU, V_TCP_RTO_MIN_MS, V_TCP_EXIT_LINGER_MS, V_MEMIF, V_COUNT
};

const char *const fs_cfg_names[] = {
	[V_DEV] = "FASTSOCK_DEV",
	[V_IP] = "FASTSOCK_IP",
	[V_GW] = "FASTSOCK_GW",
	[V_MAC] = "FASTSOCK_MAC",
	[V_EAL_ARGS] = "FASTSOCK_EAL_ARGS",
	[V_SPIN_US] = "FASTSOCK_SPIN_US",
	[V_LOG] = "FASTSOCK_LOG",
	[V_LOG_FILE] = "FASTSOCK_LOG_FILE",
	[V_ACCEL] = "FASTSOCK_ACCEL",
	[V_CONF] = "FASTSOCK_CONF",
	[V_PROGRESS_CPU] = "FASTSOCK_PROGRESS_CPU",
	[V_RX_BURST] = "FASTSOCK_RX_BURST",
	[V_MBUFS] = "FASTSOCK_MBUFS",
	[V_MTU] = "FASTSOCK_MTU",
	[V_TCP_RTO_MIN_MS] = "FASTSOCK_TCP_RTO_MIN_MS",
	[V_TCP_EXIT_LINGER_MS] = "FASTSOCK_TCP_EXIT_LINGER_MS",
	[V_MEMIF] = "FASTSOCK_MEMIF",
	[V_COUNT] = NULL,
};

static int
bad(int v, const char *val, const char *form)
{
	FS_ERR("%s=\"%.200s\" is invalid: expected %s; everything runs on the kernel",
	       fs_cfg_names[v], val, form);
	return -1;
}

/* Decimal unsigned integer in [lo, hi]; the whole string must be digits. */
static int
parse_uint(const char *s, unsigned long lo, unsigned long hi, unsigned long *out)
{
	unsigned long v = 0;

	if (*s == '\0' || strlen(s) > 10)
		return -1;
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s))
			return -1;
		v = v * 10 + (unsigned long)(*s - '0');
	}
	if (v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

/* Dotted quad a.b.c.d, each part 0-255 without leading zeros; the parse
 * stops at end (a pointer to the first character after the address). */
static int
parse_ipv4(const char *s, uint32_t *out, const char **end)
{
	uint32_t a = 0;
	int i;

	for (i = 0; i < 4; i++) {
		unsigned v = 0, n = 0;

		if (i > 0 && *s++ != '.')
			return -1;
		while (isdigit((unsigned char)s[n]) && n < 4)
			v = v * 10 + (unsigned)(s[n++] - '0');
		if (n == 0 || n > 3 || v > 255 || (n > 1 && s[0] == '0'))
			return -1;
		s += n;
		a = a << 8 | v;
	}
	*out = htonl(a);
	*end = s;
	return 0;
}

/* Exact address: a.b.c.d and nothing after it. */
static int
parse_addr(const char *s, uint32_t *out)
{
	const char *e;

	return (parse_ipv4(s, out, &e) == 0 && *e == '\0') ? 0 : -1;
}

/* PCI address: [dddd:]bb:dd.f in hex. */
static bool
is_pci(const char *s)
{
	unsigned dom, bus, dev, fn;
	int n = 0;

	if (sscanf(s, "%4x:%2x:%2x.%1x%n", &dom, &bus, &dev, &fn, &n) == 4 &&
	    s[n] == '\0')
		return dev < 32 && fn < 8;
	n = 0;
	if (sscanf(s, "%2x:%2x.%1x%n", &bus, &dev, &fn, &n) == 3 && s[n] == '\0')
		return dev < 32 && fn < 8;
	return false;
}

static bool
is_word_char(char ch)
{
	return isalnum((unsigned char)ch) || ch == '_';
}

/* DPDK virtual device: net_NAME[,key=value]... without spaces. */
static bool
is_vdev(const char *s)
{
	const char *p = s + 4;

	if (strncmp(s, "net_", 4) != 0 || !is_word_char(*p))
		return false;
	while (is_word_char(*p))
		p++;
	while (*p == ',') {
		const char *k = ++p;

		/* Keys as DPDK's drivers name them (memif's socket-abstract). */
		while (is_word_char(*p) || *p == '-')
			p++;
		if (p == k || *p++ != '=')
			return false;
		k = p;
		while (*p && *p != ',' && !isspace((unsigned char)*p))
			p++;
		if (p == k)
			return false;
	}
	return *p == '\0';
}

static int
parse_mac(const char *s, uint8_t mac[6])
{
	unsigned b[6];
	int i, n = 0;

	if (strlen(s) != 17 ||
	    sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%n", &b[0], &b[1], &b[2], &b[3],
		   &b[4], &b[5], &n) != 6 || n != 17)
		return -1;
	for (i = 0; i < 17; i++)
		if ((i % 3 == 2) ? s[i] != ':' : !isxdigit((unsigned char)s[i]))
			return -1;
	if (b[0] & 1) /* multicast or broadcast: not an interface address */
		return -1;
	if ((b[0] | b[1] | b[2] | b[3] | b[4] | b[5]) == 0)
		return -1;
	for (i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	return 0;
}

/* Endpoint: '*' | ADDR[/PREFIX] | ADDR[/PREFIX]:PORTS | '*:PORTS',
 * PORTS = N | N-M. */
static int
parse_endpoint(const char *s, struct fs_endpoint *ep)
{
	unsigned long lo, hi, pfx = 32;
	const char *p = s, *colon;
	char buf[16];

	*ep = (struct fs_endpoint){0, 0, 0, 65535};
	if (*p == '*') {
		p++;
		pfx = 0;
	} else {
		if (parse_ipv4(p, &ep->addr, &p) < 0)
			return -1;
		if (*p == '/') {
			const char *d = ++p;
			size_t n = strspn(d, "0123456789");

			if (n == 0 || n > 2)
				return -1;
			memcpy(buf, d, n);
			buf[n] = '\0';
			if (parse_uint(buf, 0, 32, &pfx) < 0)
				return -1;
			p = d + n;
		}
	}
	ep->prefix = (uint8_t)pfx;
	ep->addr &= fs_prefix_mask((unsigned)pfx);
	if (*p == '\0')
		return 0;
	if (*p != ':')
		return -1;
	p++;
	colon = strchr(p, '-');
	if (colon) {
		size_t n = (size_t)(colon - p);

		if (n == 0 || n >= sizeof(buf))
			return -1;
		memcpy(buf, p, n);
		buf[n] = '\0';
		if (parse_uint(buf, 0, 65535, &lo) < 0 ||
		    parse_uint(colon + 1, 0, 65535, &hi) < 0 || hi < lo)
			return -1;
	} else {
		if (parse_uint(p, 0, 65535, &lo) < 0)
			return -1;
		hi = lo;
	}
	ep->port_lo = (uint16_t)lo;
	ep->port_hi = (uint16_t)hi;
	return 0;
}

static const char rule_form[] =
	"RULE[; RULE]... with RULE = accel|kernel [proto=udp|tcp|any] "
	"[role=client|server|any] [local=ENDPOINT] [remote=ENDPOINT], "
	"ENDPOINT = *|ADDR[/PREFIX] with optional :PORT or :LO-HI";

static int
parse_rule(struct fs_rule *r, char *text, char **badtok)
{
	char *save = NULL, *tok;
	int ntok = 0;

	*r = (struct fs_rule){.accel = true};
	r->local = r->remote = (struct fs_endpoint){0, 0, 0, 65535};
	for (tok = strtok_r(text, " \t", &save); tok;
	     tok = strtok_r(NULL, " \t", &save), ntok++) {
		*badtok = tok;
		if (ntok == 0) {
			if (strcmp(tok, "accel") == 0)
				r->accel = true;
			else if (strcmp(tok, "kernel") == 0)
				r->accel = false;
			else
				return -1;
		} else if (strncmp(tok, "proto=", 6) == 0) {
			const char *v = tok + 6;

			if (strcmp(v, "udp") == 0)
				r->proto = FS_PROTO_UDP;
			else if (strcmp(v, "tcp") == 0)
				r->proto = FS_PROTO_TCP;
			else if (strcmp(v, "any") == 0)
				r->proto = FS_PROTO_ANY;
			else
				return -1;
		} else if (strncmp(tok, "role=", 5) == 0) {
			const char *v = tok + 5;

			if (strcmp(v, "client") == 0)
				r->role = FS_ROLE_CLIENT;
			else if (strcmp(v, "server") == 0)
				r->role = FS_ROLE_SERVER;
			else if (strcmp(v, "any") == 0)
				r->role = FS_ROLE_ANY;
			else
				return -1;
		} else if (strncmp(tok, "local=", 6) == 0) {
			if (parse_endpoint(tok + 6, &r->local) < 0)
				return -1;
		} else if (strncmp(tok, "remote=", 7) == 0) {
			if (parse_endpoint(tok + 7, &r->remote) < 0)
				return -1;
		} else {
			return -1;
		}
	}
	if (ntok == 0) {
		*badtok = "";
		return -1;
	}
	return 0;
}

int
fs_cfg_parse_rules(struct fs_config *c, const char *what, const char *s)
{
	char buf[1024], *save = NULL, *rule;
	int idx = 0;

	if (strlen(s) >= sizeof(buf)) {
		FS_ERR("%s: rules longer than %zu characters; everything runs on the kernel",
		       what, sizeof(buf) - 1);
		return -1;
	}
	strcpy(buf, s);
	for (rule = strtok_r(buf, ";", &save); rule;
	     rule = strtok_r(NULL, ";", &save)) {
		char copy[1024], *badtok = NULL;

		idx++;
		if (strspn(rule, " \t") == strlen(rule))
			continue; /* empty rule, e.g. a trailing ';' */
		snprintf(copy, sizeof(copy), "%s", rule);
		if (c->nrules == FS_RULES_MAX) {
			FS_ERR("%s: more than %d rules; everything runs on the kernel",
			       what, FS_RULES_MAX);
			return -1;
		}
		if (parse_rule(&c->rules[c->nrules], rule, &badtok) < 0) {
			FS_ERR("%s: rule %d \"%.200s\": bad token \"%.60s\": expected %s; "
			       "everything runs on the kernel",
			       what, idx, copy, badtok, rule_form);
			return -1;
		}
		c->nrules++;
	}
	return 0;
}

static int
parse_conf_file(struct fs_config *c, const char *path)
{
	char line[1024], what[FS_CFG_STR_MAX + 16];
	int lineno = 0, rc = 0;
	FILE *f = fopen(path, "re");

	if (!f) {
		FS_ERR("FASTSOCK_CONF=\"%.200s\": cannot open: %s; everything runs on the kernel",
		       path, strerror(errno));
		return -1;
	}
	while (rc == 0 && fgets(line, sizeof(line), f)) {
		char *hash = strchr(line, '#');

		lineno++;
		if (hash)
			*hash = '\0';
		line[strcspn(line, "\r\n")] = '\0';
		snprintf(what, sizeof(what), "%s:%d", path, lineno);
		rc = fs_cfg_parse_rules(c, what, line);
	}
	fclose(f);
	return rc;
}

/* Edit distance counting a swap of two neighbours as one edit (optimal
 * string alignment), so FASTSOCK_LGO suggests FASTSOCK_LOG. */
static unsigned
edit_distance(const char *a, const char *b)
{
	unsigned d[64][64], i, j, la = (unsigned)strlen(a), lb = (unsigned)strlen(b);

	if (la >= 64 || lb >= 64)
		return 99;
	for (i = 0; i <= la; i++)
		d[i][0] = i;
	for (j = 0; j <= lb; j++)
		d[0][j] = j;
	for (i = 1; i <= la; i++) {
		for (j = 1; j <= lb; j++) {
			unsigned best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);

			if (d[i - 1][j] + 1 < best)
				best = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	}
	return d[la][lb];
}

static void
warn_unknown(const char *name, size_t len)
{
	char n[64];
	unsigned best = ~0u, d;
	int i, bi = 0;

	snprintf(n, sizeof(n), "%.*s", (int)(len < 63 ? len : 63), name);
	for (i = 0; i < V_COUNT; i++) {
		d = edit_distance(n, fs_cfg_names[i]);
		if (d < best) {
			best = d;
			bi = i;
		}
	}
	FS_WARN("unknown variable %s ignored; did you mean %s?", n, fs_cfg_names[bi]);
}

static int
parse_one(struct fs_config *c, int v, const char *val)
{
	unsigned long n;
	const char *e;

	switch (v) {
	case V_LOG:
		if (strcmp(val, "error") == 0)
			c->log_level = FS_LOG_ERROR;
		else if (strcmp(val, "warn") == 0)
			c->log_level = FS_LOG_WARN;
		else if (strcmp(val, "info") == 0)
			c->log_level = FS_LOG_INFO;
		else if (strcmp(val, "debug") == 0)
			c->log_level = FS_LOG_DEBUG;
		else
			return bad(v, val, "error, warn, info or debug");
		fs_log_threshold = c->log_level;
		return 0;
	case V_LOG_FILE: {
		int fd;

		if (*val == '\0' || strlen(val) >= sizeof(c->log_file))
			return bad(v, val, "a file path of 1 to 255 characters");
		fd = open(val, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (fd < 0) {
			FS_ERR("FASTSOCK_LOG_FILE=\"%.200s\": cannot open: %s; "
			       "everything runs on the kernel", val, strerror(errno));
			return -1;
		}
		strcpy(c->log_file, val);
		fs_log_set_fd(fd);
		return 0;
	}
	case V_DEV:
		if (strlen(val) >= sizeof(c->dev) ||
		    !(is_vdev(val) || (c->dev_is_pci = is_pci(val))))
			return bad(v, val,
				   "a DPDK vdev such as net_memif0,role=server,socket=/run/x.sock "
				   "or a PCI address such as 0000:03:00.0");
		strcpy(c->dev, val);
		return 0;
	case V_IP: {
		unsigned long pfx;
		uint32_t host;

		if (parse_ipv4(val, &c->ip, &e) < 0 || *e != '/' ||
		    parse_uint(e + 1, 1, 32, &pfx) < 0 || strlen(e + 1) > 2)
			return bad(v, val, "ADDRESS/PREFIX such as 10.77.0.2/24");
		c->prefix = (uint8_t)pfx;
		host = ntohl(c->ip) & ~ntohl(fs_prefix_mask(c->prefix));
		if (c->prefix < 31 && (host == 0 || host == ~ntohl(fs_prefix_mask(c->prefix))))
			return bad(v, val, "a host address, not the network or broadcast address");
		if ((ntohl(c->ip) >> 28) >= 14 || (ntohl(c->ip) >> 24) == 0)
			return bad(v, val, "a unicast address");
		return 0;
	}
	case V_GW:
		if (parse_addr(val, &c->gw) < 0 || c->gw == 0)
			return bad(v, val, "an IPv4 address such as 10.77.0.1");
		return 0;
	case V_MAC:
		if (parse_mac(val, c->mac) < 0)
			return bad(v, val, "a unicast MAC such as 02:00:00:00:00:01");
		c->mac_set = true;
		return 0;
	case V_EAL_ARGS: {
		char *save = NULL, *tok;

		if (strlen(val) >= sizeof(c->eal_buf))
			return bad(v, val, "at most 511 characters of EAL arguments");
		strcpy(c->eal_buf, val);
		for (tok = strtok_r(c->eal_buf, " \t", &save); tok;
		     tok = strtok_r(NULL, " \t", &save)) {
			if (c->eal_argc == FS_EAL_ARGS_MAX)
				return bad(v, val, "at most 32 EAL arguments");
			c->eal_argv[c->eal_argc++] = tok;
		}
		return 0;
	}
	case V_SPIN_US:
		if (parse_uint(val, 0, FS_SPIN_US_MAX, &n) < 0)
			return bad(v, val, "microseconds, an integer from 0 to 1000000");
		c->spin_us = (unsigned)n;
		return 0;
	case V_PROGRESS_CPU:
		if (parse_uint(val, 0, CPU_SETSIZE - 1, &n) < 0)
			return bad(v, val, "a CPU number from 0 to 1023");
		c->progress_cpu = (int)n;
		return 0;
	case V_RX_BURST:
		if (parse_uint(val, 1, FS_RX_BURST_MAX, &n) < 0)
			return bad(v, val, "frames per receive burst, an integer from 1 to 256");
		c->rx_burst = (unsigned)n;
		return 0;
	case V_MBUFS:
		if (parse_uint(val, FS_MBUFS_MIN, FS_MBUFS_MAX, &n) < 0)
			return bad(v, val, "packet buffers, an integer from 2047 to 262143");
		c->mbufs = (unsigned)n;
		return 0;
	case V_MTU:
		if (parse_uint(val, FS_MTU_MIN, FS_MTU_MAX, &n) < 0)
			return bad(v, val, "bytes, an integer from 576 to 9216");
		c->mtu = (unsigned)n;
		return 0;
	case V_TCP_RTO_MIN_MS:
		if (parse_uint(val, 1, FS_TCP_RTO_MIN_MS_MAX, &n) < 0)
			return bad(v, val, "milliseconds, an integer from 1 to 60000");
		c->tcp_rto_min_ms = (unsigned)n;
		return 0;
	case V_TCP_EXIT_LINGER_MS:
		if (parse_uint(val, 0, FS_TCP_EXIT_LINGER_MS_MAX, &n) < 0)
			return bad(v, val, "milliseconds, an integer from 0 to 60000");
		c->tcp_exit_linger_ms = (unsigned)n;
		return 0;
	case V_MEMIF:
		if (strcmp(val, "fastsock") != 0 && strcmp(val, "dpdk") != 0)
			return bad(v, val, "fastsock or dpdk");
		c->memif_dpdk = strcmp(val, "dpdk") == 0;
		return 0;
	case V_ACCEL:
		return fs_cfg_parse_rules(c, "FASTSOCK_ACCEL", val);
	case V_CONF:
		if (*val == '\0' || strlen(val) >= sizeof(c->conf))
			return bad(v, val, "a rules file path of 1 to 255 characters");
		strcpy(c->conf, val);
		return parse_conf_file(c, val);
	}
	return -1;
}

/* Index of the known variable whose name is name[0..len), or V_COUNT. */
static int
find_var(const char *name, size_t len)
{
	int v;

	for (v = 0; v < V_COUNT; v++)
		if (strlen(fs_cfg_names[v]) == len && strncmp(name, fs_cfg_names[v], len) == 0)
			break;
	return v;
}

int
fs_cfg_parse(struct fs_config *c, char *const *envp)
{
	/* The order in which variables are applied: the log settings first so
	 * that every later message obeys them. */
	static const int order[] = {V_LOG, V_LOG_FILE, V_DEV, V_IP, V_GW, V_MAC,
				    V_EAL_ARGS, V_SPIN_US, V_PROGRESS_CPU, V_RX_BURST, V_MBUFS, V_MTU,
				    V_TCP_RTO_MIN_MS, V_TCP_EXIT_LINGER_MS, V_MEMIF, V_ACCEL, V_CONF};
	const char *val[V_COUNT] = {0};
	char *const *ep;
	int errors = 0, i, v;

	memset(c, 0, sizeof(*c));
	c->spin_us = FS_SPIN_US_DEFAULT;
	c->progress_cpu = -1;
	c->rx_burst = FS_RX_BURST_DEFAULT;
	c->mbufs = FS_MBUFS_DEFAULT;
	c->mtu = FS_MTU_DEFAULT;
	c->tcp_rto_min_ms = FS_TCP_RTO_MIN_MS_DEFAULT;
	c->tcp_exit_linger_ms = FS_TCP_EXIT_LINGER_MS_DEFAULT;
	c->log_level = fs_log_threshold = FS_LOG_WARN;
	for (ep = envp; ep && *ep; ep++) {
		const char *eq, *e = *ep;

		if (strncmp(e, "FASTSOCK_", 9) != 0 || !(eq = strchr(e, '=')))
			continue;
		v = find_var(e, (size_t)(eq - e));
		if (v < V_COUNT)
			val[v] = eq + 1;
	}
	for (i = 0; i < V_COUNT; i++) {
		v = order[i];
		if (val[v] && parse_one(c, v, val[v]) < 0)
			errors++;
	}
	/* Unknown names are reported after FASTSOCK_LOG took effect. */
	for (ep = envp; ep && *ep; ep++) {
		const char *eq = strchr(*ep, '=');

		if (strncmp(*ep, "FASTSOCK_", 9) != 0 || !eq)
			continue;
		if (find_var(*ep, (size_t)(eq - *ep)) == V_COUNT)
			warn_unknown(*ep, (size_t)(eq - *ep));
	}
	if (c->dev[0] && c->ip == 0 && !val[V_IP]) {
		FS_ERR("FASTSOCK_DEV is set but FASTSOCK_IP is not: expected ADDRESS/PREFIX "
		       "such as 10.77.0.2/24; everything runs on the kernel");
		errors++;
	}
	if (c->gw && c->ip &&
	    ((c->gw ^ c->ip) & fs_prefix_mask(c->prefix)) != 0) {
		FS_ERR("FASTSOCK_GW=%s is outside FASTSOCK_IP's subnet; everything runs on "
		       "the kernel", val[V_GW]);
		errors++;
	}
	c->ok = errors == 0;
	return errors;
}

static void
append(char *buf, size_t len, size_t *off, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void
append(char *buf, size_t len, size_t *off, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*off >= len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *off, len - *off, fmt, ap);
	va_end(ap);
	if (n > 0)
		*off += (size_t)n;
}

void
fs_cfg_describe(const struct fs_config *c, char *buf, size_t len)
{
	static const char *const lvl[] = {"error", "warn", "info", "debug"};
	const uint8_t *ip = (const uint8_t *)&c->ip, *gw = (const uint8_t *)&c->gw;
	size_t off = 0;
	int i;

	buf[0] = '\0';
	if (c->dev[0])
		append(buf, len, &off, "FASTSOCK_DEV=%s ", c->dev);
	if (c->ip)
		append(buf, len, &off, "FASTSOCK_IP=%u.%u.%u.%u/%u ", ip[0], ip[1], ip[2], ip[3],
		       c->prefix);
	if (c->gw)
		append(buf, len, &off, "FASTSOCK_GW=%u.%u.%u.%u ", gw[0], gw[1], gw[2], gw[3]);
	if (c->mac_set)
		append(buf, len, &off, "FASTSOCK_MAC=%02x:%02x:%02x:%02x:%02x:%02x ", c->mac[0],
		       c->mac[1], c->mac[2], c->mac[3], c->mac[4], c->mac[5]);
	if (c->spin_us != FS_SPIN_US_DEFAULT)
		append(buf, len, &off, "FASTSOCK_SPIN_US=%u ", c->spin_us);
	if (c->progress_cpu >= 0)
		append(buf, len, &off, "FASTSOCK_PROGRESS_CPU=%d ", c->progress_cpu);
	if (c->rx_burst != FS_RX_BURST_DEFAULT)
		append(buf, len, &off, "FASTSOCK_RX_BURST=%u ", c->rx_burst);
	if (c->mbufs != FS_MBUFS_DEFAULT)
		append(buf, len, &off, "FASTSOCK_MBUFS=%u ", c->mbufs);
	if (c->mtu != FS_MTU_DEFAULT)
		append(buf, len, &off, "FASTSOCK_MTU=%u ", c->mtu);
	if (c->tcp_rto_min_ms != FS_TCP_RTO_MIN_MS_DEFAULT)
		append(buf, len, &off, "FASTSOCK_TCP_RTO_MIN_MS=%u ", c->tcp_rto_min_ms);
	if (c->tcp_exit_linger_ms != FS_TCP_EXIT_LINGER_MS_DEFAULT)
		append(buf, len, &off, "FASTSOCK_TCP_EXIT_LINGER_MS=%u ", c->tcp_exit_linger_ms);
	if (c->memif_dpdk)
		append(buf, len, &off, "FASTSOCK_MEMIF=dpdk ");
	if (c->log_level != FS_LOG_WARN)
		append(buf, len, &off, "FASTSOCK_LOG=%s ", lvl[c->log_level]);
	if (c->log_file[0])
		append(buf, len, &off, "FASTSOCK_LOG_FILE=%s ", c->log_file);
	if (c->eal_argc) {
		append(buf, len, &off, "FASTSOCK_EAL_ARGS=\"");
		for (i = 0; i < c->eal_argc; i++)
			append(buf, len, &off, "%s%s", i ? " " : "", c->eal_argv[i]);
		append(buf, len, &off, "\" ");
	}
	if (c->nrules)
		append(buf, len, &off, "rules=%d%s%s ", c->nrules, c->conf[0] ? " from " : "",
		       c->conf);
	if (off > 0 && off <= len && buf[off - 1] == ' ')
		buf[off - 1] = '\0';
}
