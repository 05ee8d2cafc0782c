/* Connections found in O(1). lwIP's tcp_input finds a segment's pcb by
 * walking tcp_active_pcbs and moves it to the head: with 10,000
 * connections each busy in turn, every segment walked the whole list and
 * retransmission timeouts fired while segments waited (docs/benchmarks.md,
 * 2026-12-07 16:20). fs_pcb_front moves the pcb to the head first,
 * so that tcp_input (and tcp_fast_input) find it at once.
 *
 * Each connection's pcb has an entry (lwIP's ext arg 0): in a hash by its
 * addresses and ports, and a hint of the entry before it in lwIP's list.
 * lwIP changes the list behind our back (a connection added at the head,
 * one removed, its own move to the head), so a hint is only trusted when
 * it still holds: its entry has a live pcb whose next is ours (entries
 * are recycled among themselves, never freed to the heap, so reading one
 * is always safe; a recycled one serves another pcb, which comes before
 * ours only if its next says so). When it does not hold, one walk
 * of the list sets every hint again. Under the stack lock. */
#include <stdint.h>
#include <string.h>

#include "lwip/priv/tcp_priv.h"
#include "lwip/tcp.h"

#include "lwip_pin.h"
#include "pcbmap.h"
#include "shared.h"

#define PCB_HASH_SIZE 16384 /* a power of two */

struct pcb_ent {
	struct tcp_pcb *pcb;
	struct pcb_ent *hnext; /* hash chain; the free list */
	struct pcb_ent *prev;  /* hint: the entry before ours in the list */
	uint32_t laddr, raddr; /* network order */
	uint16_t lport, rport; /* host order */
};

static struct pcb_ent *hash[PCB_HASH_SIZE];
static struct pcb_ent *spare;
uint64_t fs_pcb_walks; /* hints set again by a walk of the list */

static uint32_t
bucket(uint32_t raddr, uint16_t rport, uint16_t lport)
{
	uint32_t h = raddr ^ ((uint32_t)rport << 16 | lport);

	h *= 0x9e3779b1u;
	return h >> (32 - 14);
}

_Static_assert(PCB_HASH_SIZE == 1u << 14, "bucket() takes 14 bits");

static void
on_destroy(u8_t id, void *data)
{
	struct pcb_ent *e = data, **pp;

	(void)id;
	fs_tcp_pcb_freed(e->pcb);
	for (pp = &hash[bucket(e->raddr, e->rport, e->lport)]; *pp; pp = &(*pp)->hnext)
		if (*pp == e) {
			*pp = e->hnext;
			break;
		}
	e->pcb = NULL;
	e->hnext = spare;
	spare = e;
}

/* An untracked connection (no memory for its entry): data is its pcb. */
static void
on_destroy_bare(u8_t id, void *data)
{
	(void)id;
	fs_tcp_pcb_freed(data);
}

static err_t on_passive_open(u8_t id, struct tcp_pcb_listen *lpcb, struct tcp_pcb *cpcb);

static const struct tcp_ext_arg_callbacks listener_cbs = {NULL, on_passive_open};
static const struct tcp_ext_arg_callbacks conn_cbs = {on_destroy, NULL};
static const struct tcp_ext_arg_callbacks bare_cbs = {on_destroy_bare, NULL};

static struct pcb_ent *
ent_of(const struct tcp_pcb *pcb)
{
	return pcb->ext_args[0].callbacks == &conn_cbs ? pcb->ext_args[0].data : NULL;
}

/* A pcb just put at the head of tcp_active_pcbs (tcp_connect, a SYN on a
 * listener): into the hash, and the old head's hint is us. Without
 * memory the connection is only not found fast. Either way its free is
 * reported (fs_tcp_pcb_freed). */
void
fs_pcb_track(struct tcp_pcb *pcb)
{
	struct pcb_ent *e, *next;
	uint32_t b;

	if (pcb->ext_args[0].callbacks) /* tracked already */
		return;
	if ((e = spare)) {
		spare = e->hnext;
	} else if (!(e = fs_heap_calloc(1, sizeof(*e)))) {
		tcp_ext_arg_set_callbacks(pcb, 0, &bare_cbs);
		tcp_ext_arg_set(pcb, 0, pcb);
		return;
	}
	e->pcb = pcb;
	e->laddr = ip4_addr_get_u32(ip_2_ip4(&pcb->local_ip));
	e->raddr = ip4_addr_get_u32(ip_2_ip4(&pcb->remote_ip));
	e->lport = pcb->local_port;
	e->rport = pcb->remote_port;
	e->prev = NULL;
	b = bucket(e->raddr, e->rport, e->lport);
	e->hnext = hash[b];
	hash[b] = e;
	tcp_ext_arg_set_callbacks(pcb, 0, &conn_cbs);
	tcp_ext_arg_set(pcb, 0, e);
	if (tcp_active_pcbs == pcb && pcb->next && (next = ent_of(pcb->next)))
		next->prev = e;
}

static err_t
on_passive_open(u8_t id, struct tcp_pcb_listen *lpcb, struct tcp_pcb *cpcb)
{
	(void)id;
	(void)lpcb;
	fs_pcb_track(cpcb);
	return ERR_OK;
}

void
fs_pcb_listening(struct tcp_pcb *lpcb)
{
	tcp_ext_arg_set_callbacks(lpcb, 0, &listener_cbs);
	tcp_ext_arg_set(lpcb, 0, NULL);
}

/* Every entry's hint, from one walk of the list. */
static void
walk(void)
{
	struct pcb_ent *before = NULL, *e;
	struct tcp_pcb *p;

	fs_pcb_walks++;
	for (p = tcp_active_pcbs; p; p = p->next) {
		if ((e = ent_of(p)))
			e->prev = before;
		before = e; /* NULL for an untracked pcb: its follower walks again */
	}
}

static bool
hint_holds(const struct pcb_ent *e)
{
	const struct pcb_ent *a = e->prev;

	return a && a->pcb && a->pcb->next == e->pcb;
}

void
fs_pcb_front(uint32_t raddr, uint16_t rport, uint32_t laddr, uint16_t lport)
{
	struct tcp_pcb *p = tcp_active_pcbs, *a, *s;
	struct pcb_ent *e, *next;

	if (!p || (p->remote_port == rport && p->local_port == lport &&
		   ip4_addr_get_u32(ip_2_ip4(&p->remote_ip)) == raddr &&
		   ip4_addr_get_u32(ip_2_ip4(&p->local_ip)) == laddr))
		return;
	for (e = hash[bucket(raddr, rport, lport)]; e; e = e->hnext)
		if (e->raddr == raddr && e->rport == rport && e->lport == lport && e->laddr == laddr)
			break;
	/* In tcp_active_pcbs only in these states (TIME_WAIT has its own
	 * list); tcp_input finds the others. */
	if (!e || e->pcb->state < SYN_SENT || e->pcb->state == TIME_WAIT)
		return;
	if (!hint_holds(e)) {
		walk();
		if (!hint_holds(e))
			return;
	}
	a = e->prev->pcb;
	s = e->pcb->next;
	a->next = s;
	if (s && (next = ent_of(s)))
		next->prev = e->prev;
	if ((next = ent_of(tcp_active_pcbs)))
		next->prev = e;
	e->pcb->next = tcp_active_pcbs;
	tcp_active_pcbs = e->pcb;
	e->prev = NULL;
}

void
fs_pcb_restart(void)
{
	/* lwIP's pcbs are forgotten (netif.c fs_nif_restart): their entries too. */
	memset(hash, 0, sizeof(hash));
	spare = NULL;
}
