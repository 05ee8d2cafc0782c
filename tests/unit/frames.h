/* Building and reading Ethernet/ARP/IPv4/UDP/ICMP frames for the unit tests
 * that talk to the stack through the in-memory device. */
#ifndef FS_TEST_FRAMES_H
#define FS_TEST_FRAMES_H

#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>

static const uint8_t us_mac[6] = {0x02, 0, 0, 0, 0, 0x01};
static const uint8_t peer_mac[6] = {0x02, 0, 0, 0, 0, 0x02};
#define US_IP "10.77.0.1"
#define PEER_IP "10.77.0.2"

static inline uint32_t
ip_of(const char *s)
{
	return inet_addr(s);
}

static inline uint16_t
csum(const uint8_t *b, size_t len, uint32_t sum)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (len & 1)
		sum += (uint32_t)b[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static inline size_t
eth(uint8_t *f, const uint8_t *dst, const uint8_t *src, uint16_t type)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	f[12] = (uint8_t)(type >> 8);
	f[13] = (uint8_t)type;
	return 14;
}

/* ARP request from the peer asking for our address. */
static inline size_t
arp_request(uint8_t *f)
{
	static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	uint8_t *a = f + eth(f, bcast, peer_mac, 0x0806);
	uint32_t sip = ip_of(PEER_IP), tip = ip_of(US_IP);

	memcpy(a, "\x00\x01\x08\x00\x06\x04\x00\x01", 8);
	memcpy(a + 8, peer_mac, 6);
	memcpy(a + 14, &sip, 4);
	memset(a + 18, 0, 6);
	memcpy(a + 24, &tip, 4);
	return 14 + 28;
}

/* The IPv4 header's checksum made anew after a change. */
static inline void
ipv4_recsum(uint8_t *ip)
{
	uint16_t c;

	ip[10] = ip[11] = 0;
	c = csum(ip, 20, 0);
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
}

/* IPv4 header for len bytes of payload; returns its size (20). */
static inline size_t
ipv4(uint8_t *ip, uint8_t proto, uint32_t src, uint32_t dst, size_t len)
{
	memset(ip, 0, 20);
	ip[0] = 0x45;
	ip[2] = (uint8_t)((20 + len) >> 8);
	ip[3] = (uint8_t)(20 + len);
	ip[8] = 64;
	ip[9] = proto;
	memcpy(ip + 12, &src, 4);
	memcpy(ip + 16, &dst, 4);
	ipv4_recsum(ip);
	return 20;
}

/* A UDP datagram from the peer to dst:dport with a correct checksum. */
static inline size_t
udp_frame(uint8_t *f, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
	  const void *data, size_t len)
{
	uint8_t *ip = f + eth(f, us_mac, peer_mac, 0x0800), *u = ip + 20;
	uint32_t sum = 0;
	uint16_t c;

	ipv4(ip, 17, src, dst, 8 + len);
	u[0] = (uint8_t)(sport >> 8);
	u[1] = (uint8_t)sport;
	u[2] = (uint8_t)(dport >> 8);
	u[3] = (uint8_t)dport;
	u[4] = (uint8_t)((8 + len) >> 8);
	u[5] = (uint8_t)(8 + len);
	u[6] = u[7] = 0;
	memcpy(u + 8, data, len);
	sum += (uint32_t)(ip[12] << 8 | ip[13]) + (uint32_t)(ip[14] << 8 | ip[15]);
	sum += (uint32_t)(ip[16] << 8 | ip[17]) + (uint32_t)(ip[18] << 8 | ip[19]);
	sum += 17 + 8 + (uint32_t)len;
	c = csum(u, 8 + len, sum);
	if (c == 0)
		c = 0xffff;
	u[6] = (uint8_t)(c >> 8);
	u[7] = (uint8_t)c;
	return 14 + 20 + 8 + len;
}

/* ICMP message (type, code) from the peer carrying len bytes of body. */
static inline size_t
icmp_frame(uint8_t *f, uint8_t type, uint8_t code, const void *body, size_t len)
{
	uint8_t *ip = f + eth(f, us_mac, peer_mac, 0x0800), *ic = ip + 20;
	uint16_t c;

	ipv4(ip, 1, ip_of(PEER_IP), ip_of(US_IP), 4 + len);
	ic[0] = type;
	ic[1] = code;
	ic[2] = ic[3] = 0;
	memcpy(ic + 4, body, len);
	c = csum(ic, 4 + len, 0);
	ic[2] = (uint8_t)(c >> 8);
	ic[3] = (uint8_t)c;
	return 14 + 20 + 4 + len;
}

static inline void
put16(uint8_t *b, uint16_t v)
{
	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
}

static inline void
put32(uint8_t *b, uint32_t v)
{
	put16(b, (uint16_t)(v >> 16));
	put16(b + 2, (uint16_t)v);
}

/* A TCP segment from the peer to us with a correct checksum; opts is
 * optlen bytes of options (a multiple of 4). */
static inline size_t
tcp_frame(uint8_t *f, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags,
	  uint16_t win, const uint8_t *opts, size_t optlen, const void *data, size_t len)
{
	uint8_t *ip = f + eth(f, us_mac, peer_mac, 0x0800), *t = ip + 20;
	size_t hl = 20 + optlen;
	uint32_t sum;
	uint16_t c;

	ipv4(ip, 6, ip_of(PEER_IP), ip_of(US_IP), hl + len);
	put16(t, sport);
	put16(t + 2, dport);
	put32(t + 4, seq);
	put32(t + 8, ack);
	t[12] = (uint8_t)(hl / 4 << 4);
	t[13] = flags;
	put16(t + 14, win);
	memset(t + 16, 0, 4);
	if (optlen)
		memcpy(t + 20, opts, optlen);
	if (len)
		memcpy(t + hl, data, len);
	sum = (uint32_t)(ip[12] << 8 | ip[13]) + (uint32_t)(ip[14] << 8 | ip[15]) +
	      (uint32_t)(ip[16] << 8 | ip[17]) + (uint32_t)(ip[18] << 8 | ip[19]) + 6 +
	      (uint32_t)(hl + len);
	c = csum(t, hl + len, sum);
	put16(t + 16, c);
	return 14 + 20 + hl + len;
}

#endif
