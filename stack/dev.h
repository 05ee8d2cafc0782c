/* The device layer: frames in and out of one port, one RX and one TX queue.
 * The stack core sees only this header; the DPDK port (dpdk.c) and the
 * in-memory test backend (memdev.c) implement it. Neither DPDK's nor
 * lwIP's headers may appear here: they clash (struct ip6_hdr, IP_DF...). */
#ifndef FS_DEV_H
#define FS_DEV_H

#include <stdbool.h>
#include <stdint.h>

/* A received frame: its bytes, and the handle that frees it. */
struct fs_rxframe {
	void *data;
	uint16_t len;
	void *handle;
	/* FS_RX_SCRATCH bytes the stack may use for as long as it holds the
	 * frame (in DPDK: the mbuf's headroom), or NULL. */
	void *scratch;
};

#define FS_RX_SCRATCH 64

struct fs_dev;
struct pollfd;

struct fs_dev_bufs {
	uint32_t free, total; /* buffers in the pool */
	uint64_t rx_missed; /* frames the device dropped: no buffer or ring full */
};

struct fs_dev_ops {
	/* Up to n received frames; returns how many. */
	uint16_t (*rx)(struct fs_dev *d, struct fs_rxframe *f, uint16_t n);
	/* Gives a received frame's buffer back. */
	void (*rx_free)(struct fs_dev *d, void *handle);
	/* A transmit buffer of room for len bytes: returns its data, sets
	 * *handle; NULL when no buffer is free (counted as a drop). */
	void *(*tx_alloc)(struct fs_dev *d, uint16_t len, void **handle);
	/* Queues a filled buffer; sent at the latest by tx_flush. When the
	 * device's queue is full the frame is dropped and counted (tx_full). */
	void (*tx_queue)(struct fs_dev *d, void *handle);
	/* Hands queued frames to the device; returns how many it could not
	 * take yet (they stay queued: senders wait for room). */
	uint16_t (*tx_flush)(struct fs_dev *d);
	bool (*link_up)(struct fs_dev *d);
	/* An fd that becomes readable when a frame arrives after
	 * rx_intr(d, true); -1 when the device has no such interrupt. */
	int (*rx_intr_fd)(struct fs_dev *d);
	void (*rx_intr)(struct fs_dev *d, bool on);
	/* Buffer pool use and what the device itself dropped, for
	 * fastsock-stat (may be a system call: progress thread only). */
	void (*buffers)(struct fs_dev *d, struct fs_dev_bufs *b);
	void (*close)(struct fs_dev *d);
	/* In a forked child that joins the family, before it touches the
	 * device (dpdk.c: leaves the parent's lcore and its buffer cache). */
	void (*forked)(struct fs_dev *d);
	/* After a member died holding the stack lock (engine.c restart):
	 * forgets the frames queued for the device (may be NULL: it keeps
	 * none). The dead member may have been handing them over: a second
	 * hand-over would send them twice and give their buffers back twice,
	 * and a buffer in the free pool twice is later two frames' at once.
	 * They are leaked and counted as dropped (tx_full). */
	void (*drop_tx)(struct fs_dev *d);
	/* A device with a control plane of its own (memif.c; NULL for the
	 * others): ctl_fds fills p (room for FS_DEV_CTL_FDS) with the fds the
	 * progress thread watches for it, and ctl runs it, from the progress
	 * thread without the stack lock: woke when one of them was readable,
	 * and at every round anyway (it keeps its own time). */
	int (*ctl_fds)(struct fs_dev *d, struct pollfd *p);
	/* Whether nothing has arrived (may be NULL: unknown), read without
	 * the stack lock: a cheap look at the ring, right or stale. */
	bool (*rx_idle)(struct fs_dev *d);
	void (*ctl)(struct fs_dev *d, bool woke);
};

#define FS_DEV_CTL_FDS 3

struct fs_dev {
	const struct fs_dev_ops *ops;
	uint8_t mac[6];
	uint16_t mtu;
	/* A shared-memory link that cannot corrupt frames (memif): UDP goes
	 * out with checksum 0, which IPv4 allows, and receivers skip it. */
	bool lossless;
	/* A forked child may drive the device as its parent does (its
	 * memory is all mapped before any fork): the child joins the stack. */
	bool forkable;
	/* Frames queued but not yet on the device ring (stored with
	 * __atomic: fs_stk_progress reads it without the lock); a device that
	 * keeps a queue sets tx_full_at to its size (0: never full). */
	uint16_t tx_pending, tx_full_at;
	/* Counted drops and totals, owned by the thread holding the stack lock. */
	uint64_t rx_pkts, rx_bytes, tx_pkts, tx_bytes, tx_nobuf, tx_full;
};

struct fs_config;

/* Opens the process's device as configured: DPDK and FASTSOCK_DEV in the
 * library (dpdk.c), an in-memory device in the unit tests (memdev.c): the
 * two are linked alternatively. Returns the device, or NULL after logging
 * one line saying why (sockets then stay on the kernel). */
struct fs_dev *fs_dev_open(const struct fs_config *c);

#endif
