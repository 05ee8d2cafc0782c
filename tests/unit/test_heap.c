/* lwIP's heap as stack/netif.c provides it (mem_clib_malloc, lwipopts.h):
 * lwIP's mem_malloc, pbufs and pools come from it, blocks keep malloc's alignment and their size, calloc
 * zeroes and refuses an overflowing product, freed blocks are reused, and
 * what is kept for reuse stays bounded. */
#include <check.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lwip/init.h>
#include <lwip/mem.h>
#include <lwip/memp.h>
#include <lwip/pbuf.h>
#include <lwip/sys.h>
#include <valgrind/valgrind.h>

#include "check_main.h"

START_TEST(sizes_and_alignment)
{
	size_t sizes[] = {0, 1, 15, 16, 63, 64, 65, 1500, 2047, 2048, 2049, 70000, 1u << 20};
	unsigned i, round;

	for (round = 0; round < 3; round++) /* fresh blocks, then reused ones */
		for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			unsigned char *m = mem_malloc(sizes[i]);

			ck_assert_msg(m != NULL, "size %zu", sizes[i]);
			ck_assert_msg(((uintptr_t)m & 15) == 0, "size %zu at %p", sizes[i], (void *)m);
			memset(m, 0x5a, sizes[i]);
			mem_free(m);
		}
	fs_heap_free(NULL); /* lwIP's mem_free asserts instead */
	ck_assert_ptr_null(mem_malloc(SIZE_MAX));
	ck_assert_ptr_null(mem_malloc(SIZE_MAX - 8));
}
END_TEST

START_TEST(calloc_zeroes_and_checks)
{
	unsigned char *m = mem_malloc(100), *z;
	unsigned i;

	memset(m, 0xaa, 100);
	mem_free(m);
	z = mem_calloc(10, 10); /* likely the block just dirtied */
	ck_assert_ptr_nonnull(z);
	for (i = 0; i < 100; i++)
		ck_assert_uint_eq(z[i], 0);
	mem_free(z);
	ck_assert_ptr_null(mem_calloc(SIZE_MAX / 2, 3));
	ck_assert_ptr_null(mem_calloc(3, SIZE_MAX / 2));
	z = mem_calloc(0, 5);
	ck_assert_ptr_nonnull(z);
	mem_free(z);
}
END_TEST

START_TEST(pbufs_come_from_it)
{
	struct pbuf *p;
	void *m;

	lwip_init();
	/* A PBUF_RAM pbuf is one block, the struct then the payload: 80 bytes
	 * of payload fall in the same 64-byte class as a 100-byte block. */
	m = mem_malloc(100);
	mem_free(m);
	p = pbuf_alloc(PBUF_RAW, 80, PBUF_RAM);
	ck_assert_ptr_nonnull(p);
#if !defined(__SANITIZE_ADDRESS__) /* which keeps nothing for reuse */
	ck_assert_ptr_eq((void *)p, m);
#endif
	memset(p->payload, 1, 80);
	pbuf_free(p);
	/* Pools too (MEMP_MEM_MALLOC): a segment takes the block a pbuf
	 * of its class just gave back. */
	p = pbuf_alloc(PBUF_RAW, 1, PBUF_RAM);
	ck_assert_ptr_nonnull(p);
	m = p;
	pbuf_free(p);
	p = memp_malloc(MEMP_TCP_SEG);
	ck_assert_ptr_nonnull(p);
#if !defined(__SANITIZE_ADDRESS__)
	ck_assert_ptr_eq((void *)p, m);
#endif
	memp_free(MEMP_TCP_SEG, p);
}
END_TEST

START_TEST(kept_blocks_are_bounded)
{
	enum { N = 20000 };
	static void *m[N];
	size_t before, after;
	unsigned i;

	/* mallinfo2 counts glibc's heap, which these two replace. */
#if defined(__SANITIZE_ADDRESS__)
	return;
#endif
	if (RUNNING_ON_VALGRIND)
		return;
	before = mallinfo2().uordblks;
	for (i = 0; i < N; i++) {
		m[i] = mem_malloc(40);
		ck_assert_ptr_nonnull(m[i]);
	}
	ck_assert_uint_ge(mallinfo2().uordblks, before + (size_t)N * 64);
	for (i = 0; i < N; i++)
		mem_free(m[i]);
	after = mallinfo2().uordblks;
	/* At most 128 KiB of 64-byte blocks are kept (and their headers and
	 * malloc's own); the other 1.1 MiB went back to malloc. */
	ck_assert_msg(after <= before + 256 * 1024, "kept %zu bytes", after - before);
}
END_TEST

static Suite *
make_suite(void)
{
	Suite *s = suite_create("heap");
	TCase *c = tcase_create("heap");

	tcase_add_test(c, sizes_and_alignment);
	tcase_add_test(c, calloc_zeroes_and_checks);
	tcase_add_test(c, pbufs_come_from_it);
	tcase_add_test(c, kept_blocks_are_bounded);
	suite_add_tcase(s, c);
	return s;
}
