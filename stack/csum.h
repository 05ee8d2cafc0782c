/* The Internet checksum (RFC 1071) over byte strings, for the frame checks,
 * the direct send path and lwIP (netif.c gives it fs_csum_raw). No lwIP or
 * DPDK types. */
#ifndef FS_CSUM_H
#define FS_CSUM_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The one's complement sum of len bytes read as 16-bit words in memory
 * order (host byte order), folded to 16 bits, not complemented; an odd last
 * byte is padded with a zero after it. The sum does not depend on the word
 * order (RFC 1071 2(B)), so 32-bit loads into four 64-bit accumulators
 * give it at several bytes a cycle: no carry is lost below 2^32 loads. */
static inline uint16_t
fs_csum_raw(const void *buf, size_t len)
{
	const uint8_t *b = buf;
	uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
	uint32_t w[4];
	uint16_t h;

	for (; len >= 16; b += 16, len -= 16) {
		memcpy(w, b, 16);
		s0 += w[0];
		s1 += w[1];
		s2 += w[2];
		s3 += w[3];
	}
	for (; len >= 4; b += 4, len -= 4) {
		memcpy(w, b, 4);
		s0 += w[0];
	}
	if (len >= 2) {
		memcpy(&h, b, 2);
		s1 += h;
		b += 2;
		len -= 2;
	}
	if (len) {
		h = 0;
		memcpy(&h, b, 1);
		s2 += h;
	}
	s0 = (s0 & 0xffffffff) + (s0 >> 32) + (s1 & 0xffffffff) + (s1 >> 32) +
	     (s2 & 0xffffffff) + (s2 >> 32) + (s3 & 0xffffffff) + (s3 >> 32);
	s0 = (s0 & 0xffff) + (s0 >> 16 & 0xffff) + (s0 >> 32 & 0xffff) + (s0 >> 48);
	s0 = (s0 & 0xffff) + (s0 >> 16);
	return (uint16_t)((s0 & 0xffff) + (s0 >> 16));
}

/* Adds len bytes, read as big-endian 16-bit words, to sum (not folded). */
static inline uint32_t
fs_csum_add(uint32_t sum, const uint8_t *b, size_t len)
{
	uint16_t s = fs_csum_raw(b, len);

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	s = (uint16_t)(s << 8 | s >> 8);
#endif
	return sum + s;
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
