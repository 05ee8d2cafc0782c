/* fastsock-stat: live counters, drops, ARP table and sockets of running
 * preloaded programs, read from the memfd their stacks publish in (see
 * stack/publish.h), in the manner of onload_stackdump and vma_stats.
 *
 *   fastsock-stat [-p PID] [--watch [--count N]] [--json]
 *
 * A process's snapshot dies with it: dead processes are never shown. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../stack/publish.h"

/* Where the snapshots are shown (stdout; tests/fuzz/fuzz_stat.c a memory
 * stream). */
static FILE *out;

static void
usage(FILE *f)
{
	fprintf(f, "usage: fastsock-stat [-p PID] [--watch [--count N]] [--json]\n");
}

/* Opens pid's snapshot memfd through /proc/PID/fd. Returns an fd or -1. */
static int
open_pub(int pid)
{
	char dir[64], link[320], target[256];
	struct dirent *e;
	DIR *d;
	int fd = -1;
	ssize_t n;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", pid);
	if (!(d = opendir(dir)))
		return -1;
	while (fd < 0 && (e = readdir(d))) {
		snprintf(link, sizeof(link), "%s/%s", dir, e->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (strncmp(target, "/memfd:" FS_PUB_NAME, strlen("/memfd:" FS_PUB_NAME)) == 0)
			fd = open(link, O_RDONLY | O_CLOEXEC);
	}
	closedir(d);
	return fd;
}

/* Text from the inspected process (its device string, its name), which
 * may be anyone's program (root's fastsock-stat reads every user's): cut
 * at n, and every byte that could end a JSON string, start a terminal
 * escape or break UTF-8 shown as '?'. */
static void
printable(char *s, size_t n)
{
	s[n - 1] = '\0';
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f || *s == '"' || *s == '\\')
			*s = '?';
}

/* Whether a copied snapshot is pid's own and of this layout; makes its
 * text printable. */
static bool
pub_check(struct fs_pub *p, int pid)
{
	if (p->magic != FS_PUB_MAGIC || p->version != FS_PUB_VERSION || p->pid != pid)
		return false;
	printable(p->dev, sizeof(p->dev));
	return true;
}

/* A consistent copy of pid's snapshot (seqlock). Returns 0, or -1 when
 * there is none, it is not ours to read, or it is a forked child's copy of
 * its parent's. */
static int
snapshot(int pid, struct fs_pub *copy)
{
	struct stat st;
	const struct fs_pub *p;
	int fd, tries, ok = -1;

	fd = open_pub(pid);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || (size_t)st.st_size < sizeof(*p)) {
		close(fd);
		return -1;
	}
	p = mmap(NULL, sizeof(*p), PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return -1;
	for (tries = 0; tries < 1000; tries++) {
		uint32_t s1 = __atomic_load_n(&p->seq, __ATOMIC_ACQUIRE);

		if (s1 & 1)
			continue;
		memcpy(copy, p, sizeof(*copy));
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&p->seq, __ATOMIC_ACQUIRE) == s1) {
			ok = 0;
			break;
		}
	}
	munmap((void *)p, sizeof(*p));
	if (ok == 0 && !pub_check(copy, pid))
		ok = -1;
	return ok;
}

static void
comm(int pid, char *buf, size_t len)
{
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	buf[0] = '\0';
	if ((f = fopen(path, "re"))) {
		if (fgets(buf, (int)len, f))
			buf[strcspn(buf, "\n")] = '\0';
		fclose(f);
	}
	printable(buf, len);
}

static const char *
addr(uint32_t a, uint16_t port, char *buf, size_t len)
{
	char ip[INET_ADDRSTRLEN];

	if (a == 0)
		snprintf(ip, sizeof(ip), "*");
	else
		inet_ntop(AF_INET, &a, ip, sizeof(ip));
	if (port)
		snprintf(buf, len, "%s:%u", ip, port);
	else
		snprintf(buf, len, "%s:*", ip);
	return buf;
}

static double
age_s(const struct fs_pub *p)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return ((double)t.tv_sec * 1e9 + (double)t.tv_nsec - (double)p->updated_ns) / 1e9;
}

/* A socket's state as ss(8) names it. */
static const char *
state_name(const struct fs_pub_sock *s)
{
	if (s->proto != 6)
		return s->connected ? "ESTAB" : "UNCONN";
	return s->connected ? "ESTAB" : s->rport == 0 ? "LISTEN" : "CLOSED";
}

static void
show_text(const struct fs_pub *p)
{
	char name[64], a[32], b[32], ip[INET_ADDRSTRLEN];
	unsigned i;

	comm(p->pid, name, sizeof(name));
	inet_ntop(AF_INET, &p->ip, ip, sizeof(ip));
	fprintf(out, "fastsock %d (%s): %s, %s/%u, mac %02x:%02x:%02x:%02x:%02x:%02x, link %s, "
	       "updated %.1f s ago\n",
	       p->pid, name, p->dev, ip, p->prefix, p->mac[0], p->mac[1], p->mac[2], p->mac[3],
	       p->mac[4], p->mac[5], p->link_up ? "up" : "down", age_s(p));
	fprintf(out, "  rx %llu pkts %llu bytes, tx %llu pkts %llu bytes\n",
	       (unsigned long long)p->rx_pkts, (unsigned long long)p->rx_bytes,
	       (unsigned long long)p->tx_pkts, (unsigned long long)p->tx_bytes);
	fprintf(out, "  drops:");
	for (i = 0; i < FS_DROP_COUNT; i++)
		fprintf(out, "%s %s %llu", i ? "," : "", fs_pub_drop_name[i],
		       (unsigned long long)p->drops[i]);
	fprintf(out, "\n  buffers: %u free of %u, tx refused %llu (sent again); heap %llu KiB in use\n",
	       p->bufs_free, p->bufs_total, (unsigned long long)p->tx_refused,
	       (unsigned long long)(p->heap_used >> 10));
	fprintf(out, "  tcp segments: in straight to TCP %llu (fast path %llu), out built directly %llu\n  arp:",
	       (unsigned long long)p->tcp_direct_in, (unsigned long long)p->tcp_fast_in,
	       (unsigned long long)p->tcp_direct_out);
	if (!p->narp)
		fprintf(out, " (empty)");
	for (i = 0; i < p->narp && i < FS_PUB_ARP; i++) {
		inet_ntop(AF_INET, &p->arp[i].ip, ip, sizeof(ip));
		fprintf(out, " %s %02x:%02x:%02x:%02x:%02x:%02x", ip, p->arp[i].mac[0], p->arp[i].mac[1],
		       p->arp[i].mac[2], p->arp[i].mac[3], p->arp[i].mac[4], p->arp[i].mac[5]);
	}
	fprintf(out, "\n  %-5s %-22s %-22s %-6s %7s %7s %11s %11s %8s %5s\n", "Proto", "Local",
	       "Remote", "State", "Recv-Q", "Bytes", "Rx-dgrams", "Tx-dgrams", "Drops", "Fd");
	for (i = 0; i < p->nsocks && i < FS_PUB_SOCKS; i++) {
		const struct fs_pub_sock *s = &p->socks[i];

		fprintf(out, "  %-5s %-22s %-22s %-6s %7u %7u %11llu %11llu %8llu %5d\n", s->proto == 6 ? "tcp" : "udp",
		       addr(s->laddr, s->lport, a, sizeof(a)),
		       addr(s->raddr, s->rport, b, sizeof(b)), state_name(s),
		       s->rx_queued, s->rx_queued_bytes, (unsigned long long)s->rx_dgrams,
		       (unsigned long long)s->tx_dgrams, (unsigned long long)s->drops, s->fd);
	}
}

static void
show_json(const struct fs_pub *p, int first)
{
	char name[64], ip[INET_ADDRSTRLEN], a[32], b[32];
	unsigned i;

	comm(p->pid, name, sizeof(name));
	inet_ntop(AF_INET, &p->ip, ip, sizeof(ip));
	fprintf(out, "%s{\"pid\": %d, \"comm\": \"%s\", \"dev\": \"%s\", \"ip\": \"%s/%u\", "
	       "\"mac\": \"%02x:%02x:%02x:%02x:%02x:%02x\", \"link_up\": %s, \"age_s\": %.3f, "
	       "\"rx_pkts\": %llu, \"rx_bytes\": %llu, \"tx_pkts\": %llu, \"tx_bytes\": %llu, "
	       "\"drops\": {",
	       first ? "" : ", ", p->pid, name, p->dev, ip, p->prefix, p->mac[0], p->mac[1],
	       p->mac[2], p->mac[3], p->mac[4], p->mac[5], p->link_up ? "true" : "false", age_s(p),
	       (unsigned long long)p->rx_pkts, (unsigned long long)p->rx_bytes,
	       (unsigned long long)p->tx_pkts, (unsigned long long)p->tx_bytes);
	for (i = 0; i < FS_DROP_COUNT; i++)
		fprintf(out, "%s\"%s\": %llu", i ? ", " : "", fs_pub_drop_name[i],
		       (unsigned long long)p->drops[i]);
	fprintf(out, "}, \"buffers_free\": %u, \"buffers_total\": %u, \"tx_refused\": %llu, "
	       "\"heap_used\": %llu, "
	       "\"tcp\": {\"direct_in\": %llu, \"fast_in\": %llu, \"direct_out\": %llu}, \"arp\": [",
	       p->bufs_free, p->bufs_total, (unsigned long long)p->tx_refused,
	       (unsigned long long)p->heap_used,
	       (unsigned long long)p->tcp_direct_in, (unsigned long long)p->tcp_fast_in,
	       (unsigned long long)p->tcp_direct_out);
	for (i = 0; i < p->narp && i < FS_PUB_ARP; i++) {
		inet_ntop(AF_INET, &p->arp[i].ip, ip, sizeof(ip));
		fprintf(out, "%s{\"ip\": \"%s\", \"mac\": \"%02x:%02x:%02x:%02x:%02x:%02x\"}", i ? ", " : "",
		       ip, p->arp[i].mac[0], p->arp[i].mac[1], p->arp[i].mac[2], p->arp[i].mac[3],
		       p->arp[i].mac[4], p->arp[i].mac[5]);
	}
	fprintf(out, "], \"sockets\": [");
	for (i = 0; i < p->nsocks && i < FS_PUB_SOCKS; i++) {
		const struct fs_pub_sock *s = &p->socks[i];

		fprintf(out, "%s{\"proto\": \"%s\", \"fd\": %d, \"local\": \"%s\", \"remote\": \"%s\", "
		       "\"state\": \"%s\", \"recv_q\": %u, \"recv_q_bytes\": %u, \"rx_dgrams\": %llu, "
		       "\"tx_dgrams\": %llu, \"drops\": %llu}",
		       i ? ", " : "", s->proto == 6 ? "tcp" : "udp", s->fd,
		       addr(s->laddr, s->lport, a, sizeof(a)), addr(s->raddr, s->rport, b, sizeof(b)),
		       state_name(s),
		       s->rx_queued, s->rx_queued_bytes, (unsigned long long)s->rx_dgrams,
		       (unsigned long long)s->tx_dgrams, (unsigned long long)s->drops);
	}
	fprintf(out, "]}");
}

/* Shows every live published process (or just pid); returns how many. */
static int
show_all(int only, int json)
{
	static struct fs_pub p;
	DIR *d = only > 0 ? NULL : opendir("/proc");
	struct dirent *e;
	int pid, n = 0;

	if (json)
		fprintf(out, "[");
	if (only > 0) {
		if (snapshot(only, &p) == 0) {
			json ? show_json(&p, 1) : show_text(&p);
			n++;
		}
	} else if (d) {
		while ((e = readdir(d)))
			if (sscanf(e->d_name, "%d", &pid) == 1 && snapshot(pid, &p) == 0) {
				json ? show_json(&p, n == 0) : show_text(&p);
				n++;
			}
	}
	if (d)
		closedir(d);
	if (json)
		fprintf(out, "]\n");
	return n;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"pid", required_argument, 0, 'p'}, {"watch", no_argument, 0, 'w'},
		{"count", required_argument, 0, 'c'}, {"json", no_argument, 0, 'j'},
		{"help", no_argument, 0, 'h'}, {0, 0, 0, 0},
	};
	int c, pid = 0, watch = 0, json = 0, count = -1, n = 0, shown;
	char *end;

	out = stdout;
	while ((c = getopt_long(argc, argv, "p:wc:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			pid = (int)strtol(optarg, &end, 10);
			if (*end || pid <= 0) {
				fprintf(stderr, "fastsock-stat: bad pid \"%s\"\n", optarg);
				usage(stderr);
				return 2;
			}
			break;
		case 'w':
			watch = 1;
			break;
		case 'c':
			count = (int)strtol(optarg, &end, 10);
			if (*end || count <= 0) {
				usage(stderr);
				return 2;
			}
			break;
		case 'j':
			json = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	for (;;) {
		if (watch && !json)
			fprintf(out, "\033[H\033[2J");
		shown = show_all(pid, json);
		if (!shown && !json)
			fprintf(out, pid ? "fastsock-stat: no live fastsock stack in process %d\n"
				   : "fastsock-stat: no live fastsock stacks\n",
			       pid);
		fflush(out);
		if (!watch || (count > 0 && ++n >= count))
			return shown ? 0 : 1;
		sleep(1);
	}
}
