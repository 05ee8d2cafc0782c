/* Acceleration rules (FASTSOCK_ACCEL, FASTSOCK_CONF): which sockets of the
 * accelerated interface the stack serves. */
#ifndef FS_RULES_H
#define FS_RULES_H

#include <stdint.h>

#include "config.h"

/* What a socket looks like when it is about to be claimed. Addresses in
 * network order; a port or address of 0 is not known yet. */
struct fs_sock_desc {
	enum fs_proto proto; /* FS_PROTO_UDP or FS_PROTO_TCP */
	enum fs_role role;   /* server: bind/listen/join; client: connect/send */
	uint32_t laddr, raddr;
	uint16_t lport, rport; /* host order */
};

/* The first rule of c that matches d: its index (and *accel its verdict),
 * or -1 when none does (the socket is accelerated). A rule field that names
 * a port or address the socket does not have yet does not match it. */
int fs_rules_match(const struct fs_config *c, const struct fs_sock_desc *d, bool *accel);

#endif
