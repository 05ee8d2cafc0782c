/* Configuration: every FASTSOCK_* environment variable, strictly validated.
 * See docs/configuration.md for the user's view. */
#ifndef FS_CONFIG_H
#define FS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log.h"

#define FS_CFG_STR_MAX 256
#define FS_EAL_ARGS_MAX 32
#define FS_RULES_MAX 64
#define FS_SPIN_US_MAX 1000000u
#define FS_SPIN_US_DEFAULT 50u
#define FS_RX_BURST_DEFAULT 32u
#define FS_RX_BURST_MAX 256u
#define FS_MBUFS_DEFAULT 8191u
#define FS_MBUFS_MIN 2047u
#define FS_MBUFS_MAX 262143u
#define FS_MTU_DEFAULT 1500u
#define FS_MTU_MIN 576u
#define FS_MTU_MAX 9216u
#define FS_TCP_RTO_MIN_MS_DEFAULT 200u /* Linux's TCP_RTO_MIN */
#define FS_TCP_RTO_MIN_MS_MAX 60000u
#define FS_TCP_EXIT_LINGER_MS_DEFAULT 1000u
#define FS_TCP_EXIT_LINGER_MS_MAX 60000u

enum fs_proto { FS_PROTO_ANY, FS_PROTO_UDP, FS_PROTO_TCP };
enum fs_role { FS_ROLE_ANY, FS_ROLE_CLIENT, FS_ROLE_SERVER };

/* An address/prefix and port range; prefix 0 matches every address. */
struct fs_endpoint {
	uint32_t addr; /* network byte order */
	uint8_t prefix;
	uint16_t port_lo, port_hi; /* host order; 0-65535 matches every port */
};

/* One acceleration rule: the first rule that matches a socket decides. */
struct fs_rule {
	bool accel; /* true: serve from the stack; false: leave on the kernel */
	enum fs_proto proto;
	enum fs_role role;
	struct fs_endpoint local, remote;
};

struct fs_config {
	/* False when any variable was invalid: nothing is accelerated. */
	bool ok;
	char dev[FS_CFG_STR_MAX]; /* FASTSOCK_DEV; "" when unset */
	bool dev_is_pci;
	uint32_t ip; /* FASTSOCK_IP, network byte order */
	uint8_t prefix;
	uint32_t gw; /* FASTSOCK_GW, network byte order; 0 when unset */
	uint8_t mac[6];
	bool mac_set;
	char eal_buf[FS_CFG_STR_MAX * 2]; /* FASTSOCK_EAL_ARGS, split in place */
	char *eal_argv[FS_EAL_ARGS_MAX];
	int eal_argc;
	unsigned spin_us;
	int progress_cpu; /* FASTSOCK_PROGRESS_CPU; -1: where the program may run */
	unsigned rx_burst;  /* FASTSOCK_RX_BURST: frames per receive burst */
	unsigned mbufs;	    /* FASTSOCK_MBUFS: packet buffers in the pool */
	unsigned mtu;	    /* FASTSOCK_MTU: the interface's IPv4 MTU */
	unsigned tcp_rto_min_ms; /* FASTSOCK_TCP_RTO_MIN_MS */
	unsigned tcp_exit_linger_ms; /* FASTSOCK_TCP_EXIT_LINGER_MS */
	bool memif_dpdk;	/* FASTSOCK_MEMIF=dpdk: DPDK's net_memif, not ours */
	enum fs_log_level log_level;
	char log_file[FS_CFG_STR_MAX];
	char conf[FS_CFG_STR_MAX];
	struct fs_rule rules[FS_RULES_MAX];
	int nrules;
};

/* The netmask of a prefix length 0..32, in network byte order. (Not htonl:
 * lwIP defines it as a macro in files that include this header.) */
static inline uint32_t
fs_prefix_mask(unsigned prefix)
{
	uint32_t host = prefix == 0 ? 0 : ~0u << (32 - prefix);

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return __builtin_bswap32(host);
#else
	return host;
#endif
}

/* Fills c from the FASTSOCK_* entries of envp (an environ-style array).
 * Each bad value is reported with one error line naming the variable, the
 * value and the accepted form; each unknown FASTSOCK_* name gets a warning
 * naming the nearest known one. Returns the number of errors; c->ok is true
 * when there were none. Never exits. */
int fs_cfg_parse(struct fs_config *c, char *const *envp);

/* Writes "NAME=value ..." for every setting of c that differs from its
 * default into buf (always terminated). */
void fs_cfg_describe(const struct fs_config *c, char *buf, size_t len);

/* The known variable names, NULL-terminated (docs and tests walk it). */
extern const char *const fs_cfg_names[];

/* Parses one rule list ("RULE; RULE ..."), appending to c->rules.
 * what names the source in error lines ("FASTSOCK_ACCEL", "file:3").
 * Returns 0 or -1 after reporting the error. */
int fs_cfg_parse_rules(struct fs_config *c, const char *what, const char *s);

#endif
