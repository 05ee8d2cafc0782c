/* The Internet checksum (RFC 1071) over byte strings, for the frame checks
 * and the direct send path. No lwIP or DPDK types. */
#ifndef FS_CSUM_H
#define FS_CSUM_H

#include <stddef.h>
#include <stdint.h>

/* Adds len bytes, read as big-endian 16-bit words, to sum (not folded). */
static inline uint32_t
fs_csum_add(uint32_t sum, const uint8_t *b, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (len & 1)
		sum += (uint32_t)b[len - 1] << 8;
	return sum;
}

/* The IPv4 pseudo-header's sum for a UDP or TCP checksum: source and
 * destination of the IPv4 header at ip, the protocol, the L4 length. */
static inline uint32_t
fs_csum_pseudo(const uint8_t *ip, uint8_t proto, unsigned l4len)
{
	return fs_csum_add(0, ip + 12, 8) + proto + l4len;
}

/* Folds a sum to 16 bits (not complemented). */
static inline uint16_t
fs_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

#endif
