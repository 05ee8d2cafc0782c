/* What a running stack publishes for fastsock-stat: one fixed-layout
 * snapshot in a memfd named FS_PUB_NAME, rewritten by the progress thread
 * every FS_PUB_PERIOD_MS under a seqlock. A memfd dies with its process,
 * however it ends (exit, _exit, crash, SIGKILL): nothing is ever left
 * behind. fastsock-stat opens it through /proc/PID/fd, which only the same
 * user (or root) may do.
 * Counters are copied from the stack's own plain counters: publishing adds
 * nothing to the per-packet path. No lwIP or DPDK types here. */
#ifndef FS_PUBLISH_H
#define FS_PUBLISH_H

#include <stdint.h>

#define FS_PUB_MAGIC 0x66737374u /* "fsst" */
#define FS_PUB_VERSION 5u
#define FS_PUB_SOCKS 256
#define FS_PUB_ARP 32
#define FS_PUB_PERIOD_MS 250
#define FS_PUB_NAME "fastsock-stat"

/* The drops, by reason: the one list behind the enum below, the names
 * fastsock-stat and the exit report print, the stack's counters (struct
 * fs_drops, stack.h) and their publication (fs_pub_drops). Each is
 * X(ID, name, where counted, field): STK a field of struct fs_drops, DEV
 * of struct fs_dev, BUFS of struct fs_dev_bufs (the device's own). */
#define FS_DROPS(X) \
	X(BAD_FRAME, "bad frame", STK, rx_bad_frame)           /* truncated, oversize, bad headers */ \
	X(BAD_CSUM, "bad checksum", STK, rx_bad_csum)          /* IPv4 header, TCP or UDP */ \
	X(NOMEM, "no memory", STK, rx_nomem)                   /* no pbuf for a received frame */ \
	X(QUEUE_FULL, "socket queue full", STK, rx_queue_full) /* a socket's receive queue */ \
	X(TX_NOBUF, "tx no buffer", DEV, tx_nobuf)             /* no device buffer to send in */ \
	X(TX_FULL, "tx ring full", DEV, tx_full)               /* the device queue refused it */ \
	X(TX_ARP, "arp unresolved", STK, tx_arp)               /* sends past lwIP's ARP queue */ \
	X(LISTEN_OVERFLOW, "listen overflow", STK, tcp_listen_overflow) /* accept queue full */ \
	X(RX_MISSED, "rx missed", BUFS, rx_missed)             /* the device had no room */ \
	X(SYN_QUEUE_FULL, "syn queue full", STK, tcp_syn_queue_full) /* half-open, at the bound */

#define FS_DROP_ENUM(id, name, src, field) FS_DROP_##id,
enum fs_pub_drop { FS_DROPS(FS_DROP_ENUM) FS_DROP_COUNT };
#undef FS_DROP_ENUM

struct fs_pub_sock {
	int32_t fd;
	uint8_t proto; /* 17: UDP, 6: TCP (dgrams count bytes) */
	uint8_t connected;
	uint16_t lport, rport; /* host order */
	uint32_t laddr, raddr; /* network order */
	uint32_t rx_queued, rx_queued_bytes;
	uint64_t rx_dgrams, tx_dgrams, drops;
};

struct fs_pub_arp {
	uint32_t ip;
	uint8_t mac[6];
	uint8_t pad[2];
};

struct fs_pub {
	uint32_t magic, version;
	int32_t pid;
	uint32_t seq; /* odd while the writer is in the middle */
	uint64_t updated_ns; /* CLOCK_REALTIME */
	char dev[256];
	uint32_t ip;
	uint8_t prefix, link_up, mac[6];
	uint64_t rx_pkts, rx_bytes, tx_pkts, tx_bytes;
	uint64_t drops[FS_DROP_COUNT];
	uint32_t bufs_free, bufs_total; /* device buffer pool */
	/* TCP segments received straight into tcp_input (direct_in), of them
	 * those the in-order fast path took (fast_in), segments sent built
	 * directly (direct_out); frames refused by a full device queue and
	 * kept to send again (tx_refused, not drops). */
	uint64_t tcp_direct_in, tcp_fast_in, tcp_direct_out, tx_refused;
	/* Bytes of the stack's heap in use: queued data, lwIP's segments and
	 * pcbs (freed blocks are kept for reuse, so RSS does not fall back). */
	uint64_t heap_used;
	uint32_t nsocks, narp;
	struct fs_pub_sock socks[FS_PUB_SOCKS];
	struct fs_pub_arp arp[FS_PUB_ARP];
};

#define FS_DROP_NAME(id, name, src, field) name,
static const char *const fs_pub_drop_name[FS_DROP_COUNT] = {FS_DROPS(FS_DROP_NAME)};
#undef FS_DROP_NAME

#endif
