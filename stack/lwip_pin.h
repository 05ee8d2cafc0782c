/* What fastsock's code inside lwIP's internals was written against. The TCP
 * fast paths (netif.c: tcp_fast_input, fs_nif_tcp_send) and the socket
 * layer (tcp_sock.c) write tcp_pcb fields, queue tcp_segs and rely on
 * tcp_input's behaviour (the pcb served moves to the head of
 * tcp_active_pcbs; its other lists are apart: pcbmap.c) and its zero-window
 * probe intervals (tcp_sock.c probe_uncount) as lwIP 2.1.3 has them. Another version, or an option
 * that changes a field they touch or a segment's form, must be looked at
 * before it builds: each check says why. */
#ifndef FS_LWIP_PIN_H
#define FS_LWIP_PIN_H

#include <lwip/init.h>
#include <lwip/opt.h>

#if LWIP_VERSION_MAJOR != 2 || LWIP_VERSION_MINOR != 1 || LWIP_VERSION_REVISION != 3 || \
	LWIP_VERSION_RC != LWIP_RC_RELEASE
#error "fastsock's TCP fast paths were written against lwIP 2.1.3 (stack/lwip/version)"
#endif
#if !NO_SYS || SYS_LIGHTWEIGHT_PROT
#error "lwIP must run without an OS layer and without protection: only under fs_stk->lock"
#endif
#if !LWIP_CALLBACK_API || !TCP_QUEUE_OOSEQ
#error "the fast paths call pcb->recv and pcb->sent and test pcb->ooseq"
#endif
#if !TCP_CHECKSUM_ON_COPY
#error "fs_nif_tcp_send queues segments with their payload's sum (TF_SEG_DATA_CHECKSUMMED)"
#endif
#if !LWIP_WND_SCALE
#error "tcp_sock.c and the fast paths scale windows with RCV_WND_SCALE and SND_WND_SCALE"
#endif
#if !LWIP_TCP_TIMESTAMPS
#error "the fast paths read and write the timestamp option (pcb->ts_recent, ts_lastacksent)"
#endif
#if !LWIP_TCP_SACK_OUT
#error "TCP_INFO reports TF_SACK; the fast paths leave SACK state to lwIP (segments with ooseq take its way)"
#endif
#if !LWIP_CHECKSUM_CTRL_PER_NETIF
#error "fs_nif_input switches lwIP's checksum checks per frame"
#endif
#if !MEM_LIBC_MALLOC || !MEMP_MEM_MALLOC
#error "lwIP's heap and pools are the stack's heap (netif.c fs_heap_alloc)"
#endif
#if LWIP_IPV6
#error "the fast paths and tcp_direct take IPv4 addresses as plain ip4_addr_t"
#endif
#if LWIP_TCP_PCB_NUM_EXT_ARGS != 1
#error "pcbmap.c keeps its entry in ext arg 0 and relies on lwIP's destroy and passive_open calls"
#endif

#endif
