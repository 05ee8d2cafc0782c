/* lwIP's options for fastsock's own build of it (stack/lwip/meson.build).
 * Every line says why; what lwIP's opt.h sets by default is left to it.
 * stack/lwip_pin.h checks, at compile time, the version and the options
 * that fastsock's code reaching into lwIP's internals was written for. */
#ifndef FS_LWIPOPTS_H
#define FS_LWIPOPTS_H

#include <stddef.h>
#include <stdint.h>

/* No OS layer: lwIP runs only under the stack lock (stack.h), driven by
 * our progress loop; no tcpip thread, no netconn or socket layer. */
#define NO_SYS 1
#define SYS_LIGHTWEIGHT_PROT 0
#define LWIP_NETCONN 0
#define LWIP_SOCKET 0

/* Modules: IPv4 only (fastsock accelerates AF_INET), ARP, ICMP echo,
 * IGMP for multicast groups, raw for ICMP errors, UDP and TCP. */
#define LWIP_IPV4 1
#define LWIP_IPV6 0
#define LWIP_ARP 1
#define LWIP_ETHERNET 1
#define LWIP_ICMP 1
#define LWIP_IGMP 1
#define LWIP_RAW 1
#define LWIP_UDP 1
#define LWIP_TCP 1
#define LWIP_DHCP 0
#define LWIP_AUTOIP 0
#define LWIP_DNS 0
#define IP_FORWARD 0
#define LWIP_STATS 0

/* Packets to our own address go round through the netif's loop queue,
 * which the progress loop empties (fs_nif_loop): TCP to ourselves works
 * as on the kernel. */
#define LWIP_NETIF_LOOPBACK 1

/* Fragments: a whole 64 KiB datagram both ways, as the kernel sends and
 * reassembles it (45 fragments at MTU 1500), several at a time. */
#define IP_FRAG 1
#define IP_REASSEMBLY 1
#define IP_REASS_MAX_PBUFS 256

/* Memory: the stack's size-class heap (netif.c) for pbufs, and for pools
 * as well, so that nothing is sized at build time (pools would be). */
#define MEM_LIBC_MALLOC 1
#define MEMP_MEM_MALLOC 1
#define MEM_ALIGNMENT 8
void *fs_heap_alloc(size_t size);
void *fs_heap_calloc(size_t count, size_t size);
void fs_heap_free(void *mem);
#define mem_clib_malloc fs_heap_alloc
#define mem_clib_calloc fs_heap_calloc
#define mem_clib_free fs_heap_free

/* Received frames stay in the device's buffers (zero-copy pbufs). */
#define LWIP_SUPPORT_CUSTOM_PBUF 1

/* Checksums: our sum (csum.h, 8 bytes a step); each check switched per
 * frame on the netif, off for what fs_nif_input verified already. */
uint16_t fs_lwip_chksum(const void *data, int len);
#define LWIP_CHKSUM fs_lwip_chksum
#define LWIP_CHECKSUM_CTRL_PER_NETIF 1
#define LWIP_CHECKSUM_ON_COPY 1
/* tcp_write's copy of the program's data: its sum only where frames carry
 * a TCP checksum (not memif). */
uint16_t fs_lwip_chksum_copy(void *dst, const void *src, uint16_t len);
#define LWIP_CHKSUM_COPY(dst, src, len) fs_lwip_chksum_copy(dst, src, len)

/* Ephemeral ports start at a random one, from a generator of our own
 * seeded per process (the program's rand() is neither used nor moved). */
uint32_t fs_nif_rand(void);
#define LWIP_RAND() fs_nif_rand()
#define LWIP_RANDOMIZE_INITIAL_LOCAL_PORTS 1

/* ARP holds datagrams to a neighbour being resolved, as many as the
 * kernel's neighbour queue (unres_qlen 101; udp_sock.c counts on it). */
#define ARP_QUEUEING 1
#define ARP_QUEUE_LEN 101

/* The socket options programs set: SO_REUSEADDR, keepalive, multicast. */
#define SO_REUSE 1
#define LWIP_TCP_KEEPALIVE 1
/* One word of our own in each pcb: its entry in pcbmap.c's hash. */
#define LWIP_TCP_PCB_NUM_EXT_ARGS 1
#define LWIP_MULTICAST_TX_OPTIONS 1

/* TCP: a segment is one pbuf, handed to the device whole. */
#define LWIP_NETIF_TX_SINGLE_PBUF 1
/* The largest MSS of the largest MTU we run (FS_MTU_MAX 9216 - 40): lwIP
 * offers and takes the smaller of it and the netif's MTU - 40, as the
 * kernel does. */
#define TCP_MSS 9176
/* Room for a full send buffer of 1460-byte segments (MTU 1500), 4 times
 * over (lwIP's default divides by TCP_MSS). */
#define TCP_SND_QUEUELEN ((4 * TCP_SND_BUF + 1459) / 1460)
/* Timestamps (RFC 7323) when the peer offers them: a kernel peer takes
 * its round trips from them, and without them every ACK of retransmitted
 * data leaves its timeout backed off (Karn). */
#define LWIP_TCP_TIMESTAMPS 1
/* SACK blocks in our ACKs (RFC 2018) when the peer permits: a kernel
 * sender then repairs several losses a round trip instead of one. */
#define LWIP_TCP_SACK_OUT 1
/* The receive window: 1 MiB (scale 5), a memif or veth round trip of
 * ~100 us at 10 Gbit/s and more. A window this size without SACK and
 * timestamps stalled a kernel sender at 1% loss (its timeout backed off
 * 13 times: with no timestamps no ACK of a retransmission resets it). */
#define LWIP_WND_SCALE 1
#define TCP_RCV_SCALE 5
#define TCP_WND (1024 * 1024)
/* Bytes queued and in flight per connection, the window's size (SO_SNDBUF
 * lowers it per socket). */
#define TCP_SND_BUF (1024 * 1024)
/* Read only by lwIP's socket layer, which we do not build; its sanity
 * check wants it 4 MSS below 64 KiB. */
#define TCP_SNDLOWAT 16384

#endif
