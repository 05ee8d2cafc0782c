/* Connections found in O(1) (pcbmap.c). Under the stack lock. */
#ifndef FS_PCBMAP_H
#define FS_PCBMAP_H

#include <stdint.h>

struct tcp_pcb;

/* A connection's pcb just put at the head of lwIP's tcp_active_pcbs
 * (after tcp_connect; a listener's are tracked by themselves). */
void fs_pcb_track(struct tcp_pcb *pcb);
/* A listening pcb: the connections it spawns are tracked. */
void fs_pcb_listening(struct tcp_pcb *lpcb);
/* Moves the connection of a segment (addresses network order, ports host
 * order) to the head of tcp_active_pcbs, if it is there. */
void fs_pcb_front(uint32_t raddr, uint16_t rport, uint32_t laddr, uint16_t lport);
/* tcp_sock.c: lwIP is about to free a tracked connection's pcb. */
void fs_tcp_pcb_freed(struct tcp_pcb *pcb);
/* lwIP started again: every entry forgotten. */
void fs_pcb_restart(void);
/* How many times a connection's place was looked for along the list. */
extern uint64_t fs_pcb_walks;

#endif
