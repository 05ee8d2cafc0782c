#include <arpa/inet.h>

#include "rules.h"

static bool
endpoint_matches(const struct fs_endpoint *e, uint32_t addr, uint16_t port)
{
	uint32_t mask = fs_prefix_mask(e->prefix);
	bool any_port = e->port_lo == 0 && e->port_hi == 65535;

	if (e->prefix && (addr == 0 || ((addr ^ e->addr) & mask) != 0))
		return false;
	if (!any_port && (port == 0 || port < e->port_lo || port > e->port_hi))
		return false;
	return true;
}

int
fs_rules_match(const struct fs_config *c, const struct fs_sock_desc *d, bool *accel)
{
	int i;

	for (i = 0; i < c->nrules; i++) {
		const struct fs_rule *r = &c->rules[i];

		if (r->proto != FS_PROTO_ANY && r->proto != d->proto)
			continue;
		if (r->role != FS_ROLE_ANY && r->role != d->role)
			continue;
		if (!endpoint_matches(&r->local, d->laddr, d->lport) ||
		    !endpoint_matches(&r->remote, d->raddr, d->rport))
			continue;
		*accel = r->accel;
		return i;
	}
	*accel = true;
	return -1;
}
