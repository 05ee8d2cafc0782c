/* The checksum (stack/csum.h) against RFC 1071 written out the slow way,
 * one big-endian word at a time: every length up to 2 KiB at every
 * alignment, the largest lengths, all-ones data (the carries), and lwIP's
 * own checksums, which sum with ours. */
#include <arpa/inet.h>
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lwip/inet_chksum.h>
#include <lwip/init.h>
#include <lwip/ip.h>
#include <lwip/pbuf.h>

#include "../../stack/csum.h"
#include "check_main.h"

/* The folded big-endian sum, as RFC 1071 defines it. */
static uint16_t
ref_sum(const uint8_t *b, size_t len)
{
	uint64_t s = 0;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		s += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (len & 1)
		s += (uint32_t)b[len - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static uint8_t buf[70000 + 8];

static void
fill(uint8_t v, unsigned seed)
{
	size_t i;

	srandom(seed);
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = v ? v : (uint8_t)random();
}

START_TEST(every_length_and_alignment)
{
	size_t len, off;

	fill(0, 1);
	for (off = 0; off < 8; off++)
		for (len = 0; len <= 2048; len++) {
			uint16_t want = ref_sum(buf + off, len);

			ck_assert_msg(ntohs(fs_csum_raw(buf + off, len)) == want,
				      "raw len %zu off %zu", len, off);
			ck_assert_msg(fs_csum_fold(fs_csum_add(0, buf + off, len)) == want,
				      "add len %zu off %zu", len, off);
		}
}
END_TEST

START_TEST(carries)
{
	size_t lens[] = {65535, 65536, 70000};
	unsigned i;

	fill(0xff, 0);
	for (i = 0; i < 3; i++)
		ck_assert_uint_eq(ntohs(fs_csum_raw(buf + 1, lens[i])), ref_sum(buf + 1, lens[i]));
	fill(0, 2);
	for (i = 0; i < 3; i++)
		ck_assert_uint_eq(ntohs(fs_csum_raw(buf + 3, lens[i])), ref_sum(buf + 3, lens[i]));
	/* A sum that folds to 0xffff stays 0xffff (never 0). */
	buf[0] = 0xff;
	buf[1] = 0xff;
	ck_assert_uint_eq(fs_csum_raw(buf, 2), 0xffff);
}
END_TEST

/* lwIP's own checksums, which sum with ours (LWIP_CHKSUM, lwipopts.h):
 * inet_chksum of every short length at every alignment, and the
 * pseudo-header sums of a two-pbuf chain, whole and partial (a TCP
 * header's, say), against RFC 1071 over the pseudo-header and the bytes. */
static uint16_t
ref_pseudo(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len, const uint8_t *b, size_t n)
{
	static uint8_t t[12 + 1600];

	memcpy(t, &src, 4);
	memcpy(t + 4, &dst, 4);
	t[8] = 0;
	t[9] = proto;
	t[10] = (uint8_t)(len >> 8);
	t[11] = (uint8_t)len;
	memcpy(t + 12, b, n);
	return (uint16_t)~ref_sum(t, 12 + n);
}

START_TEST(lwip_uses_it)
{
	ip4_addr_t src, dst;
	struct pbuf *a, *b;
	size_t len, off;

	fill(0, 4);
	for (off = 0; off < 4; off++)
		for (len = 1; len < 1600; len += 7)
			ck_assert_msg(ntohs((uint16_t)~inet_chksum(buf + off, (u16_t)len)) ==
					      ref_sum(buf + off, len),
				      "inet_chksum len %zu off %zu", len, off);
	IP4_ADDR(&src, 10, 77, 0, 2);
	IP4_ADDR(&dst, 10, 77, 0, 1);
	for (len = 21; len < 1500; len += 97) {
		a = pbuf_alloc(PBUF_RAW, (u16_t)(len / 2), PBUF_RAM);
		b = pbuf_alloc(PBUF_RAW, (u16_t)(len - len / 2), PBUF_RAM);
		ck_assert(a && b);
		memcpy(a->payload, buf + 1, a->len);
		memcpy(b->payload, buf + 1 + a->len, b->len);
		pbuf_cat(a, b);
		ck_assert_uint_eq(ntohs(inet_chksum_pseudo(a, IP_PROTO_TCP, (u16_t)len, &src, &dst)),
				  ref_pseudo(src.addr, dst.addr, IP_PROTO_TCP, (uint16_t)len, buf + 1,
					     len));
		for (off = 1; off <= len; off += off < 64 ? 1 : 61)
			ck_assert_uint_eq(ntohs(inet_chksum_pseudo_partial(a, IP_PROTO_UDP, (u16_t)len,
									   (u16_t)off, &src,
									   &dst)),
					  ref_pseudo(src.addr, dst.addr, IP_PROTO_UDP,
						     (uint16_t)len, buf + 1, off));
		pbuf_free(a);
	}
}
END_TEST

static Suite *
make_suite(void)
{
	Suite *s = suite_create("csum");
	TCase *c = tcase_create("csum");

	tcase_add_test(c, every_length_and_alignment);
	tcase_add_test(c, carries);
	tcase_add_test(c, lwip_uses_it);
	suite_add_tcase(s, c);
	return s;
}
