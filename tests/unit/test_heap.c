/* lwIP's heap as stack/netif.c provides it (mem_clib_malloc, lwipopts.h):
 * lwIP's mem_malloc, pbufs and pools come from it, blocks keep malloc's alignment and their size, calloc
 * zeroes and refuses an overflowing product, freed blocks are reused; and
 * shared with forked children once fs_shared_init has run. */
#include <check.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lwip/init.h>
#include <lwip/mem.h>
#include <lwip/memp.h>
#include <lwip/pbuf.h>
#include <lwip/sys.h>
#include <lwip/udp.h>

#include "../../stack/shared.h"
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
	ck_assert_ptr_eq((void *)p, m);
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
	ck_assert_ptr_eq((void *)p, m);
	memp_free(MEMP_TCP_SEG, p);
}
END_TEST

/* Every size lwIP may ask for, up to 64 MiB: usable whole, and a freed
 * block is the next one of its size (its class is found the same way
 * both times). Past 64 MiB: NULL. */
START_TEST(classes_cover_every_size)
{
	size_t s;
	void *m, *again;

	for (s = 1; s <= (64u << 20); s += s < 8192 ? 1 : s / 7) {
		m = mem_malloc((mem_size_t)s);
		ck_assert_msg(m != NULL, "size %zu", s);
		memset(m, 0x5a, s);
		mem_free(m);
		again = mem_malloc((mem_size_t)s);
		ck_assert_msg(again == m, "size %zu: a new block, not the freed one", s);
		mem_free(again);
	}
	ck_assert_ptr_null(fs_heap_alloc((64u << 20) + 1));
}
END_TEST

/* After fs_shared_init, lwIP's globals, the stack's heap and its objects
 * are the family's: a forked child's changes are the parent's. The child
 * writes into a block the parent allocated, frees it (the parent's next
 * allocation of that size is that block: the free lists are shared),
 * binds a UDP port in lwIP (the parent's bind of it fails: lwIP's pcb
 * list is shared) and allocates an object the parent then reads. */
START_TEST(shared_with_forked_children)
{
	struct udp_pcb *u;
	int st;
	char *m, **obj;
	pid_t pid;

	lwip_init();
	ck_assert_int_eq(fs_shared_init(), 0);
	ck_assert(fs_shared_on());
	m = mem_malloc(300);
	ck_assert_ptr_nonnull(m);
	memset(m, 0, 300);
	obj = fs_obj_calloc(sizeof(*obj));
	ck_assert_ptr_nonnull(obj);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct udp_pcb *c = udp_new();
		char *o;

		strcpy(m, "written by the child");
		mem_free(m);
		o = fs_obj_calloc(64);
		strcpy(o, "the child's object");
		*obj = o;
		_exit(c && udp_bind(c, IP4_ADDR_ANY, 5555) == ERR_OK ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ck_assert_str_eq(m, "written by the child");
	ck_assert_ptr_eq(mem_malloc(300), m);
	ck_assert_ptr_nonnull(*obj);
	ck_assert_str_eq(*obj, "the child's object");
	u = udp_new();
	ck_assert_ptr_nonnull(u);
	ck_assert_int_eq(udp_bind(u, IP4_ADDR_ANY, 5555), ERR_USE);
	ck_assert_int_eq(udp_bind(u, IP4_ADDR_ANY, 5556), ERR_OK);
}
END_TEST

/* Objects (fs_obj_calloc) are reused once freed, each from its own size's
 * list, and come back zeroed. Before, fs_obj_free read the class again
 * after linking the object over it: built by clang, every freed object
 * went to class 0's list (or past the array) and none was reused (the
 * fuzzing run grew by 10 KB a frame); gcc happened to keep the first
 * read. */
START_TEST(objects_are_reused)
{
	size_t sizes[] = {16, 64, 300, 9312, 70000};
	unsigned i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		unsigned char *a = fs_obj_calloc(sizes[i]), *b, *c;

		ck_assert_ptr_nonnull(a);
		memset(a, 0xab, sizes[i]);
		fs_obj_free(a);
		b = fs_obj_calloc(sizes[i]);
		ck_assert_ptr_eq(b, a);
		ck_assert_uint_eq(b[0], 0);
		ck_assert_uint_eq(b[sizes[i] - 1], 0);
		/* Another size does not take it. */
		fs_obj_free(b);
		c = fs_obj_calloc(sizes[i] <= 2048 ? 4096 : 16);
		ck_assert_ptr_ne(c, a);
		b = fs_obj_calloc(sizes[i]);
		ck_assert_ptr_eq(b, a);
		fs_obj_free(b);
		fs_obj_free(c);
	}
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
	tcase_add_test(c, classes_cover_every_size);
	tcase_add_test(c, objects_are_reused);
	tcase_add_test(c, shared_with_forked_children);
	suite_add_tcase(s, c);
	return s;
}
