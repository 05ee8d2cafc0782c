/* The DPDK port behind stack/dev.h: EAL start-up, one mempool, one port
 * with one RX and one TX queue. Only DPDK headers here (lwIP's clash). */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_mbuf.h>
#include <rte_mbuf_pool_ops.h>
#include <rte_mempool.h>

#include "config.h"
#include "dev.h"
#include "memif.h"
#include "shared.h"

#define NB_DESC 1024
#define TX_BATCH 32
#define LINK_WAIT_MS 2000

struct dpdk_dev {
	struct fs_dev dev; /* first: fs_dev * and dpdk_dev * convert */
	uint16_t port;
	struct rte_mempool *pool;
	struct rte_mbuf *tx[TX_BATCH];
	uint16_t ntx;
	int intr_fd;
	bool intr_ok; /* the port was configured with RX interrupts */
};

static struct dpdk_dev *
D(struct fs_dev *d)
{
	return (struct dpdk_dev *)d;
}

static uint16_t
dpdk_rx(struct fs_dev *d, struct fs_rxframe *f, uint16_t n)
{
	struct dpdk_dev *dd = D(d);
	struct rte_mbuf *m[FS_RX_BURST_MAX];
	uint16_t i, got;

	if (n > FS_RX_BURST_MAX)
		n = FS_RX_BURST_MAX;
	got = rte_eth_rx_burst(dd->port, 0, m, n);
	for (i = 0; i < got; i++) {
		/* One segment per frame: the stack's MTU fits one mbuf. A frame
		 * a device split over several (memif with a buffer size below
		 * the MTU) is joined into its first; one that does not fit
		 * stays cut short, and the stack drops it as truncated. */
		if (unlikely(m[i]->nb_segs > 1))
			rte_pktmbuf_linearize(m[i]);
		f[i].data = rte_pktmbuf_mtod(m[i], void *);
		f[i].len = rte_pktmbuf_data_len(m[i]);
		f[i].handle = m[i];
		f[i].scratch = m[i]->data_off >= FS_RX_SCRATCH ? m[i]->buf_addr : NULL;
		d->rx_pkts++;
		d->rx_bytes += f[i].len;
	}
	return got;
}

static void
dpdk_rx_free(struct fs_dev *d, void *handle)
{
	(void)d;
	rte_pktmbuf_free(handle);
}

static uint16_t
dpdk_tx_flush(struct fs_dev *d)
{
	struct dpdk_dev *dd = D(d);
	uint16_t sent;

	if (dd->ntx == 0)
		return 0;
	sent = rte_eth_tx_burst(dd->port, 0, dd->tx, dd->ntx);
	d->tx_pkts += sent;
	if (sent < dd->ntx)
		memmove(dd->tx, dd->tx + sent, (dd->ntx - sent) * sizeof(dd->tx[0]));
	dd->ntx -= sent;
	__atomic_store_n(&d->tx_pending, dd->ntx, __ATOMIC_RELAXED);
	return dd->ntx;
}

static void *
dpdk_tx_alloc(struct fs_dev *d, uint16_t len, void **handle)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(D(d)->pool);
	char *p;

	if (!m) {
		d->tx_nobuf++;
		return NULL;
	}
	p = rte_pktmbuf_append(m, len);
	if (!p) {
		rte_pktmbuf_free(m);
		d->tx_nobuf++;
		return NULL;
	}
	*handle = m;
	return p;
}

static void
dpdk_tx_queue(struct fs_dev *d, void *handle)
{
	struct dpdk_dev *dd = D(d);

	if (dd->ntx == TX_BATCH && dpdk_tx_flush(d) == TX_BATCH) {
		/* The device ring and our queue are full: a NIC queue
		 * overflow, dropped and counted. */
		d->tx_full++;
		rte_pktmbuf_free(handle);
		return;
	}
	d->tx_bytes += rte_pktmbuf_data_len((struct rte_mbuf *)handle);
	dd->tx[dd->ntx++] = handle;
	__atomic_store_n(&d->tx_pending, dd->ntx, __ATOMIC_RELAXED);
}

static bool
dpdk_link_up(struct fs_dev *d)
{
	struct rte_eth_link link;

	return rte_eth_link_get_nowait(D(d)->port, &link) == 0 &&
	       link.link_status == RTE_ETH_LINK_UP;
}

static int
dpdk_rx_intr_fd(struct fs_dev *d)
{
	struct dpdk_dev *dd = D(d);

	/* memif creates its queue interrupts when the peer connects: ask
	 * again once the link is up. */
	if (dd->intr_fd < 0 && dd->intr_ok && dpdk_link_up(d)) {
		dd->intr_fd = rte_eth_dev_rx_intr_ctl_q_get_fd(dd->port, 0);
		if (dd->intr_fd < 0)
			dd->intr_ok = false;
		FS_INFO("rx interrupt fd %d", dd->intr_fd);
	}
	return dd->intr_fd;
}

static void
dpdk_rx_intr(struct fs_dev *d, bool on)
{
	if (dpdk_rx_intr_fd(d) < 0)
		return;
	if (on)
		rte_eth_dev_rx_intr_enable(D(d)->port, 0);
	else
		rte_eth_dev_rx_intr_disable(D(d)->port, 0);
}

static void
dpdk_buffers(struct fs_dev *d, struct fs_dev_bufs *b)
{
	struct dpdk_dev *dd = D(d);
	struct rte_eth_stats st;

	b->free = rte_mempool_avail_count(dd->pool);
	b->total = dd->pool->size;
	b->rx_missed = 0;
	if (rte_eth_stats_get(dd->port, &st) == 0)
		b->rx_missed = st.imissed + st.rx_nombuf;
}

static void
dpdk_close(struct fs_dev *d)
{
	struct dpdk_dev *dd = D(d);

	if (dpdk_tx_flush(d))
		rte_pktmbuf_free_bulk(dd->tx, dd->ntx);
	rte_eth_dev_stop(dd->port);
	rte_eth_dev_close(dd->port);
}

/* The child of a fork runs on the thread that forked, whose lcore id
 * (0 for the thread that started DPDK) is also the parent's: two processes
 * on one lcore would share the mempool's per-lcore cache without a lock.
 * The child's threads are unregistered ones, which use no cache. */
static void
dpdk_forked(struct fs_dev *d)
{
	(void)d;
	RTE_PER_LCORE(_lcore_id) = LCORE_ID_ANY;
}

static void
dpdk_drop_tx(struct fs_dev *d)
{
	d->tx_full += D(d)->ntx;
	D(d)->ntx = 0;
	__atomic_store_n(&d->tx_pending, 0, __ATOMIC_RELAXED);
}

static const struct fs_dev_ops dpdk_ops = {
	.rx = dpdk_rx,
	.rx_free = dpdk_rx_free,
	.tx_alloc = dpdk_tx_alloc,
	.tx_queue = dpdk_tx_queue,
	.tx_flush = dpdk_tx_flush,
	.link_up = dpdk_link_up,
	.rx_intr_fd = dpdk_rx_intr_fd,
	.rx_intr = dpdk_rx_intr,
	.buffers = dpdk_buffers,
	.close = dpdk_close,
	.forked = dpdk_forked,
	.drop_tx = dpdk_drop_tx,
};

/* The packet buffer pool. DPDK lays buffers out so that none crosses a
 * page boundary (for DMA), which with 4 KiB pages (--no-huge) leaves a
 * gap after every buffer. AF_XDP registers the pool as its UMEM assuming
 * buffers back to back (size = count x buffer size): buffers past that
 * length are refused by the kernel as invalid descriptors and the frames
 * placed in them silently vanish (a TCP transfer stalls once the pool
 * reaches them). AF_XDP maps the pool by virtual address and needs no
 * physically contiguous buffer, so its pool is laid out back to back. */
static bool
is_af_xdp(const struct fs_config *c)
{
	return strncmp(c->dev, "net_af_xdp", 10) == 0;
}

static bool
is_memif(const struct fs_config *c)
{
	return strncmp(c->dev, "net_memif", 9) == 0;
}

/* The two causes of an AF_XDP start failure a user meets first, said
 * before DPDK starts (its own lines name neither plainly): an interface
 * that is not there, and a process without the capabilities (CAP_NET_RAW
 * and CAP_NET_ADMIN, as root has; CAP_BPF or CAP_SYS_ADMIN to load the XDP
 * program). Returns false after one line. */
static bool
af_xdp_can_start(const struct fs_config *c)
{
	const char *p = strstr(c->dev, "iface=");
	char name[IF_NAMESIZE + 1] = "", line[256];
	unsigned long long eff = 0;
	size_t n;
	FILE *f;

	if (p) {
		p += 6;
		n = strcspn(p, ",");
		if (n < sizeof(name))
			memcpy(name, p, n);
		if (n == 0 || n >= sizeof(name) || if_nametoindex(name) == 0) {
			FS_ERR("FASTSOCK_DEV=%s: no network interface \"%.*s\" here (ip link lists "
			       "them; an interface in another network namespace is not seen); "
			       "everything runs on the kernel",
			       c->dev, (int)n, p);
			return false;
		}
	}
	if ((f = fopen("/proc/self/status", "r"))) {
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "CapEff: %llx", &eff) == 1)
				break;
		fclose(f);
	}
	/* CAP_NET_ADMIN 12, CAP_NET_RAW 13, CAP_SYS_ADMIN 21, CAP_BPF 39 */
	if (!(eff & (1ull << 12)) || !(eff & (1ull << 13)) ||
	    !(eff & ((1ull << 21) | (1ull << 39)))) {
		FS_ERR("FASTSOCK_DEV=%s: AF_XDP needs CAP_NET_RAW, CAP_NET_ADMIN and CAP_BPF "
		       "(or root), which this process lacks (e.g. setcap "
		       "cap_net_raw,cap_net_admin,cap_bpf+ep on the program, or run it as root); "
		       "everything runs on the kernel",
		       c->dev);
		return false;
	}
	return true;
}

/* Bytes of frame a buffer holds: DPDK's default, or a whole frame of a
 * larger FASTSOCK_MTU (in steps of 1 KiB). AF_XDP's buffers are its UMEM
 * chunks, at most a page: its MTU stays within the default. */
static unsigned
frame_room(const struct fs_config *c)
{
	unsigned want = (c->mtu + 18 + 1023) & ~1023u; /* Ethernet, VLAN tag */

	if (is_af_xdp(c) || want < RTE_MBUF_DEFAULT_DATAROOM)
		return RTE_MBUF_DEFAULT_DATAROOM;
	return want;
}

static struct rte_mempool *
pool_create(const struct fs_config *c)
{
	struct rte_pktmbuf_pool_private priv = {
		.mbuf_data_room_size = RTE_MBUF_DEFAULT_BUF_SIZE,
	};
	struct rte_mempool *mp;

	if (!is_af_xdp(c))
		return rte_pktmbuf_pool_create("fs_pool", c->mbufs, 256, 0,
					       (uint16_t)(RTE_PKTMBUF_HEADROOM + frame_room(c)),
					       rte_socket_id());
	mp = rte_mempool_create_empty("fs_pool", c->mbufs,
				      sizeof(struct rte_mbuf) + RTE_MBUF_DEFAULT_BUF_SIZE, 256,
				      sizeof(priv), rte_socket_id(), RTE_MEMPOOL_F_NO_IOVA_CONTIG);
	if (!mp)
		return NULL;
	if (rte_mempool_set_ops_byname(mp, rte_mbuf_best_mempool_ops(), NULL) != 0)
		goto fail;
	rte_pktmbuf_pool_init(mp, &priv);
	if (rte_mempool_populate_default(mp) < 0)
		goto fail;
	rte_mempool_obj_iter(mp, rte_pktmbuf_init, NULL);
	return mp;
fail:
	rte_mempool_free(mp);
	return NULL;
}

static int
rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	remove(path);
	return 0;
}

/* DPDK keeps a runtime directory per process (/var/run/dpdk/PREFIX) even
 * with --no-shconf. Ours is removed at exit, and those of fastsock
 * processes that died without exiting are swept at the next start. */
static char runtime_dir[256];
static pid_t runtime_owner;

static void
remove_runtime_dir(void)
{
	/* A forked child inherits this handler: the directory is the parent's. */
	if (runtime_dir[0] && getpid() == runtime_owner)
		nftw(runtime_dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static void
sweep_dead_runtime_dirs(void)
{
	DIR *d = opendir("/var/run/dpdk");
	struct dirent *e;
	char path[512];
	int pid;

	if (!d)
		return;
	while ((e = readdir(d)))
		if (sscanf(e->d_name, "fastsock-%d", &pid) == 1 && pid > 0 &&
		    kill(pid, 0) < 0 && errno == ESRCH) {
			snprintf(path, sizeof(path), "/var/run/dpdk/%s", e->d_name);
			nftw(path, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
		}
	closedir(d);
}

/* DPDK's own log lines go to our logger at debug level: drivers print
 * harmless errors (memif's "mp action callback" under --no-shconf) that
 * would otherwise appear in the program's stderr. Failures that matter are
 * reported by us. */
static ssize_t
dpdk_log_write(void *cookie, const char *buf, size_t n)
{
	(void)cookie;
	FS_DBG("dpdk: %.*s", (int)(n && buf[n - 1] == '\n' ? n - 1 : n), buf);
	return (ssize_t)n;
}

static bool
have_hugepages(void)
{
	char line[128];
	long free_pages = 0;
	FILE *f = fopen("/proc/meminfo", "re");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "HugePages_Free: %ld", &free_pages) == 1)
			break;
	fclose(f);
	return free_pages > 0;
}

/* The first of the user's EAL arguments (FASTSOCK_EAL_ARGS) that only
 * works with hugepages, or NULL. */
static const char *
wants_hugepages(const struct fs_config *c)
{
	static const char *const opts[] = {"--socket-mem",	    "--socket-limit", "--huge-dir",
					   "--huge-unlink",	    "--legacy-mem",
					   "--single-file-segments", "--match-allocations"};
	size_t i, j;

	for (i = 0; i < (size_t)c->eal_argc; i++)
		for (j = 0; j < sizeof(opts) / sizeof(opts[0]); j++)
			if (strncmp(c->eal_argv[i], opts[j], strlen(opts[j])) == 0)
				return c->eal_argv[i];
	return NULL;
}

/* Runs rte_eal_init without letting it change what the program sees:
 * EAL pins the calling thread to its main lcore (we restore the thread's
 * CPU set) and starts threads that inherit the signal mask (we block every
 * signal while it runs, so those threads never take the program's). */
static int
eal_start(const struct fs_config *c)
{
	static char *argv[64];
	static char prefix[64], lcore[32], vdev[FS_CFG_STR_MAX + 32], loglvl[32], mem[16];
	int argc = 0, i, cpu = 0, r;
	bool huge = have_hugepages();
	const char *wants = wants_hugepages(c);
	cpu_set_t cpus;
	sigset_t all, old;

	CPU_ZERO(&cpus);
	sched_getaffinity(0, sizeof(cpus), &cpus);
	for (i = 0; i < CPU_SETSIZE; i++)
		if (CPU_ISSET(i, &cpus)) {
			cpu = i;
			break;
		}
	snprintf(prefix, sizeof(prefix), "--file-prefix=fastsock-%d", (int)getpid());
	snprintf(lcore, sizeof(lcore), "--lcores=0@%d", cpu);
	snprintf(loglvl, sizeof(loglvl), "--log-level=%d",
		 c->log_level >= FS_LOG_DEBUG ? RTE_LOG_DEBUG : RTE_LOG_WARNING);
	argv[argc++] = "fastsock";
	argv[argc++] = lcore;
	argv[argc++] = prefix;
	argv[argc++] = "--no-telemetry";
	argv[argc++] = loglvl;
	if (!huge && wants) {
		/* DPDK would say only "invalid argument" or fail to map. */
		FS_ERR("FASTSOCK_EAL_ARGS asks for hugepages (%s), but none are free here "
		       "(HugePages_Free is 0 in /proc/meminfo): reserve some (as root, e.g. echo 512 > "
		       "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages) or leave the option "
		       "out (fastsock then runs DPDK without hugepages); everything runs on the kernel",
		       wants);
		return -1;
	}
	if (!huge) {
		/* 22.11 refuses --no-huge with --in-memory; --no-shconf keeps
		 * the process from sharing a config file instead. */
		argv[argc++] = "--no-huge";
		argv[argc++] = "--no-shconf";
		/* 128 MiB, and more for buffers larger than the default. */
		snprintf(mem, sizeof(mem), "%lu",
			 128 + (unsigned long)c->mbufs *
				       (frame_room(c) - RTE_MBUF_DEFAULT_DATAROOM) / (1u << 20));
		argv[argc++] = "-m";
		argv[argc++] = mem;
	}
	if (c->dev_is_pci) {
		argv[argc++] = "-a";
		argv[argc++] = (char *)c->dev;
	} else {
		/* memif's buffers are 2 KiB unless told: a larger MTU's frame
		 * would take several, joined again on receipt. Its ring of
		 * 1024 such buffers is 2 MiB the copies walk through; whole
		 * frames of 9 KiB in a ring of 256 keep about that (nginx's
		 * 11 KiB answers at 9000, 8 connections, medians of five runs:
		 * 103k requests/s with 1024 slots, 131k with 256). */
		snprintf(vdev, sizeof(vdev), "--vdev=%s", c->dev);
		if (is_memif(c) && frame_room(c) > RTE_MBUF_DEFAULT_DATAROOM) {
			size_t n = strlen(vdev);

			if (!strstr(c->dev, "bsize="))
				n += (size_t)snprintf(vdev + n, sizeof(vdev) - n, ",bsize=%u",
						      frame_room(c));
			if (!strstr(c->dev, "rsize=") && n < sizeof(vdev))
				snprintf(vdev + n, sizeof(vdev) - n, ",rsize=%u",
					 frame_room(c) > 4096 ? 8 : 9);
		}
		argv[argc++] = "--no-pci";
		argv[argc++] = vdev;
	}
	for (i = 0; i < c->eal_argc; i++)
		argv[argc++] = c->eal_argv[i];
	argv[argc] = NULL;

	sweep_dead_runtime_dirs();
	{
		static cookie_io_functions_t io = {.write = dpdk_log_write};
		FILE *f = fopencookie(NULL, "w", io);

		if (f) {
			setvbuf(f, NULL, _IOLBF, 0);
			rte_openlog_stream(f);
		}
	}
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = rte_eal_init(argc, argv);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	sched_setaffinity(0, sizeof(cpus), &cpus);
	if (r < 0) {
		FS_ERR("DPDK start failed (%s) for FASTSOCK_DEV=%s; everything runs on the kernel",
		       rte_strerror(rte_errno), c->dev);
		return -1;
	}
	/* With --no-shconf nothing in DPDK's runtime directory is used once
	 * EAL is up (no config file, no multi-process socket): remove it now,
	 * so that even a SIGKILL leaves nothing behind. */
	snprintf(runtime_dir, sizeof(runtime_dir), "%s", rte_eal_get_runtime_dir());
	if (!huge)
		nftw(runtime_dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	else
		atexit(remove_runtime_dir);
	runtime_owner = getpid();
	return 0;
}

struct fs_dev *
fs_dev_open(const struct fs_config *c)
{
	struct rte_eth_conf conf = {0};
	struct rte_eth_dev_info info;
	struct rte_ether_addr mac;
	struct dpdk_dev *dd;
	uint16_t port = RTE_MAX_ETHPORTS, p;
	int r, ms, wait_ms;

	/* memif is ours unless asked (memif.c: one a forked family shares). */
	if (is_memif(c) && !c->memif_dpdk)
		return fs_memif_open(c);
	if (is_af_xdp(c) && !af_xdp_can_start(c))
		return NULL;
	if (eal_start(c) < 0)
		return NULL;
	RTE_ETH_FOREACH_DEV(p) {
		port = p;
		break;
	}
	if (port == RTE_MAX_ETHPORTS) {
		FS_ERR("FASTSOCK_DEV=%s gave DPDK no port; everything runs on the kernel", c->dev);
		return NULL;
	}
	dd = fs_obj_calloc(sizeof(*dd)); /* the family's (shared.h) */
	if (!dd)
		return NULL;
	dd->port = port;
	dd->intr_fd = -1;
	dd->dev.ops = &dpdk_ops;
	dd->pool = pool_create(c);
	if (!dd->pool) {
		FS_ERR("DPDK mempool: %s; everything runs on the kernel", rte_strerror(rte_errno));
		goto fail;
	}
	rte_eth_dev_info_get(port, &info);
	/* RX interrupts let the progress thread sleep until a frame comes. */
	conf.intr_conf.rxq = 1;
	r = rte_eth_dev_configure(port, 1, 1, &conf);
	if (r < 0) {
		conf.intr_conf.rxq = 0;
		r = rte_eth_dev_configure(port, 1, 1, &conf);
	}
	dd->dev.mtu = FS_MTU_DEFAULT;
	if (r >= 0 && c->mtu != FS_MTU_DEFAULT) {
		/* memif has no MTU of its own (its frames are chained buffers,
		 * whatever it reports); other ports are asked. */
		int e = is_memif(c) ? 0 : rte_eth_dev_set_mtu(port, (uint16_t)c->mtu);

		if (e == 0 && c->mtu + 18 <= frame_room(c))
			dd->dev.mtu = (uint16_t)c->mtu;
		else
			FS_WARN("FASTSOCK_MTU=%u: %s refuses it (%s); the MTU stays %u", c->mtu,
				info.driver_name, e ? strerror(-e) : "buffers too small",
				FS_MTU_DEFAULT);
	}
	if (r < 0 ||
	    (r = rte_eth_rx_queue_setup(port, 0, NB_DESC, rte_eth_dev_socket_id(port), NULL,
					dd->pool)) < 0 ||
	    (r = rte_eth_tx_queue_setup(port, 0, NB_DESC, rte_eth_dev_socket_id(port), NULL)) < 0 ||
	    (r = rte_eth_dev_start(port)) < 0) {
		if (is_memif(c) && strstr(c->dev, "role=client"))
			/* memif's client connects once, at start, and says only
			 * -1 (EPERM) when nobody listens. */
			FS_ERR("FASTSOCK_DEV=%s: no memif server listening at its socket (start the "
			       "server side first; both ends need the same socket= and "
			       "socket-abstract=); everything runs on the kernel",
			       c->dev);
		else
			FS_ERR("DPDK port %u (%s): set-up failed: %s; everything runs on the kernel",
			       port, info.driver_name, strerror(-r));
		goto fail;
	}
	rte_eth_allmulticast_enable(port);
	dd->intr_ok = conf.intr_conf.rxq;
	rte_eth_macaddr_get(port, &mac);
	memcpy(dd->dev.mac, c->mac_set ? c->mac : mac.addr_bytes, 6);
	dd->dev.lossless = strcmp(info.driver_name, "net_memif") == 0;
	/* AF_XDP's umem and rings are mapped now, before any fork: a forked
	 * child drives them as they are. memif maps its regions when the peer
	 * connects, in this process only (docs/architecture.md). */
	dd->dev.forkable = strcmp(info.driver_name, "net_af_xdp") == 0;
	dd->dev.tx_full_at = TX_BATCH;
	/* A memif server's link comes up when its client connects, which may
	 * be much later: only other devices are worth waiting for. */
	wait_ms = strstr(c->dev, "role=server") ? 0 : LINK_WAIT_MS;
	for (ms = 0; ms < wait_ms && !dpdk_link_up(&dd->dev); ms++) {
		struct timespec t = {0, 1000000};

		nanosleep(&t, NULL);
	}
	FS_INFO("DPDK port %u (%s) started, link %s after %d ms", port, info.driver_name,
		dpdk_link_up(&dd->dev) ? "up" : "still down", ms);
	return &dd->dev;
fail:
	fs_obj_free(dd);
	return NULL;
}
