/* The checksum (stack/csum.h) against RFC 1071 written out the slow way,
 * one big-endian word at a time: every length up to 2 KiB at every
 * alignment, the largest lengths, all-ones data (the carries), and lwIP's
 * inet_chksum, which calls the stack's lwip_standard_chksum. */
#include <arpa/inet.h>
#include <check.h>
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lwip/inet_chksum.h>
#include <lwip/init.h>
#include <lwip/ip.h>
#include <lwip/pbuf.h>

#include "../../stack/csum.h"
#include "check_main.h"

/* stack/netif.c's replacement of liblwip.so's routine. */
uint16_t lwip_standard_chksum(const void *data, int len);

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

START_TEST(lwip_uses_it)
{
	size_t len, off;
	Dl_info where;

	/* The global lookup that binds liblwip.so's PLT finds ours first. */
	ck_assert_ptr_eq(dlsym(RTLD_DEFAULT, "lwip_standard_chksum"), (void *)lwip_standard_chksum);
	ck_assert(dladdr((void *)lwip_standard_chksum, &where));
	ck_assert_msg(!strstr(where.dli_fname, "lwip"), "found in %s", where.dli_fname);

	fill(0, 3);
	for (off = 0; off < 4; off++)
		for (len = 1; len < 1600; len += 7)
			ck_assert_msg(ntohs((uint16_t)~inet_chksum(buf + off, (u16_t)len)) ==
					      ref_sum(buf + off, len),
				      "inet_chksum len %zu off %zu", len, off);
}
END_TEST

/* inet_chksum and ip_chksum_pseudo, which netif.c also replaces (to skip
 * lwIP's second look at a received frame), give lwIP's answers for every
 * other buffer: the complemented sum, and the pseudo-header sum of a pbuf
 * chain, as lwIP's inet_chksum_pseudo computes it; and its replacement of
 * ip_chksum_pseudo_partial gives lwIP's inet_chksum_pseudo_partial's. */
START_TEST(lwip_checksums_elsewhere)
{
	const char *names[] = {"inet_chksum", "ip_chksum_pseudo", "ip_chksum_pseudo_partial"};
	ip_addr_t src, dst;
	struct pbuf *a, *b;
	size_t len, off;
	unsigned i;
	Dl_info where;

	for (i = 0; i < 3; i++) {
		void *sym = dlsym(RTLD_DEFAULT, names[i]);

		ck_assert_ptr_nonnull(sym);
		ck_assert(dladdr(sym, &where));
		ck_assert_msg(!strstr(where.dli_fname, "liblwip"), "%s in %s", names[i], where.dli_fname);
	}
	fill(0, 4);
	for (off = 0; off < 4; off++)
		for (len = 1; len < 1600; len += 13)
			ck_assert_uint_eq(ntohs((uint16_t)~inet_chksum(buf + off, (u16_t)len)),
					  ref_sum(buf + off, len));
	IP_ADDR4(&src, 10, 77, 0, 2);
	IP_ADDR4(&dst, 10, 77, 0, 1);
	for (len = 21; len < 1500; len += 97) {
		a = pbuf_alloc(PBUF_RAW, (u16_t)(len / 2), PBUF_RAM);
		b = pbuf_alloc(PBUF_RAW, (u16_t)(len - len / 2), PBUF_RAM);
		ck_assert(a && b);
		memcpy(a->payload, buf + 1, a->len);
		memcpy(b->payload, buf + 1 + a->len, b->len);
		pbuf_cat(a, b);
		ck_assert_uint_eq(ip_chksum_pseudo(a, IP_PROTO_TCP, (u16_t)len, &src, &dst),
				  inet_chksum_pseudo(a, IP_PROTO_TCP, (u16_t)len, ip_2_ip4(&src),
						     ip_2_ip4(&dst)));
		ck_assert_uint_ne(ip_chksum_pseudo(a, IP_PROTO_UDP, (u16_t)len, &src, &dst), 0);
		/* The partial sum (a TCP header, say) of one pbuf or of the
		 * chain, every length to past the first pbuf. */
		for (off = 1; off <= len; off += off < 64 ? 1 : 61) {
			ck_assert_uint_eq(ip_chksum_pseudo_partial(a, IP_PROTO_TCP, (u16_t)len,
								   (u16_t)off, &src, &dst),
					  inet_chksum_pseudo_partial(a, IP_PROTO_TCP, (u16_t)len,
								     (u16_t)off, ip_2_ip4(&src),
								     ip_2_ip4(&dst)));
			ck_assert_uint_eq(ip_chksum_pseudo_partial(b, IP_PROTO_UDP, (u16_t)len,
								   (u16_t)LWIP_MIN(off, b->len),
								   &dst, &src),
					  inet_chksum_pseudo_partial(b, IP_PROTO_UDP, (u16_t)len,
								     (u16_t)LWIP_MIN(off, b->len),
								     ip_2_ip4(&dst),
								     ip_2_ip4(&src)));
		}
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
	tcase_add_test(c, lwip_checksums_elsewhere);
	suite_add_tcase(s, c);
	return s;
}
