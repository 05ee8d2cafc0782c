/* The fd table: marking, sharing through dup, the last reference closing
 * the socket, and fds outside the table. */
#include <errno.h>

#include "../../preload/fdtable.h"
#include "check_main.h"

static int closed;
static void *closed_sock;

static void
fake_close(void *s)
{
	closed++;
	closed_sock = s;
}

static const struct fs_sock_ops ops = {.close = fake_close};

static void
reset(void)
{
	closed = 0;
	closed_sock = NULL;
}

START_TEST(empty_lookup)
{
	ck_assert_ptr_null(fs_fdt_get(0));
	ck_assert_ptr_null(fs_fdt_get(12345));
	ck_assert_ptr_null(fs_fdt_get(-1));
	ck_assert_ptr_null(fs_fdt_get((int)FS_FDT_MAX));
	ck_assert_ptr_null(fs_fdt_get(0x7fffffff));
	ck_assert_uint_eq(fs_fdt_count(), 0);
}
END_TEST

START_TEST(mark_share_unmark)
{
	int sock = 42;
	struct fs_fd *f, *g;

	reset();
	ck_assert_int_eq(fs_fdt_mark(7, &ops, &sock), 0);
	f = fs_fdt_get(7);
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_eq(f->sock, &sock);
	ck_assert_uint_eq(f->refs, 1);
	ck_assert_uint_eq(fs_fdt_count(), 1);

	ck_assert_int_eq(fs_fdt_share(900000, f), 0);
	ck_assert_ptr_eq(fs_fdt_get(900000), f);
	ck_assert_uint_eq(f->refs, 2);
	ck_assert_uint_eq(fs_fdt_count(), 2);

	ck_assert_ptr_null(fs_fdt_unmark(7)); /* another fd still names it */
	ck_assert_ptr_null(fs_fdt_get(7));
	ck_assert_int_eq(closed, 0);
	g = fs_fdt_unmark(900000);
	ck_assert_ptr_eq(g, f);
	fs_fdt_free(g);
	ck_assert_int_eq(closed, 1);
	ck_assert_ptr_eq(closed_sock, &sock);
	ck_assert_uint_eq(fs_fdt_count(), 0);
	ck_assert_ptr_null(fs_fdt_unmark(900000)); /* already gone */
}
END_TEST

START_TEST(out_of_range)
{
	int sock;
	struct fs_fd *f;

	ck_assert_int_eq(fs_fdt_mark(-1, &ops, &sock), -EBADF);
	ck_assert_int_eq(fs_fdt_mark((int)FS_FDT_MAX, &ops, &sock), -EBADF);
	ck_assert_int_eq(fs_fdt_mark(3, &ops, &sock), 0);
	f = fs_fdt_get(3);
	ck_assert_int_eq(fs_fdt_share((int)FS_FDT_MAX + 5, f), -EBADF);
	ck_assert_uint_eq(f->refs, 1);
	ck_assert_ptr_null(fs_fdt_unmark(-3));
	fs_fdt_free(fs_fdt_unmark(3));
	ck_assert_uint_eq(fs_fdt_count(), 0);
}
END_TEST

START_TEST(remark_replaces)
{
	int a, b;

	reset();
	ck_assert_int_eq(fs_fdt_mark(5, &ops, &a), 0);
	ck_assert_int_eq(fs_fdt_mark(6, &ops, &b), 0);
	/* fd 6 now names 5's socket: 6's own socket loses its only fd. */
	fs_fdt_free(fs_fdt_unmark(6));
	ck_assert_int_eq(fs_fdt_share(6, fs_fdt_get(5)), 0);
	ck_assert_ptr_eq(closed_sock, &b);
	ck_assert_ptr_eq(fs_fdt_get(6)->sock, &a);
	ck_assert_uint_eq(fs_fdt_count(), 2);
	ck_assert_ptr_null(fs_fdt_unmark(5));
	fs_fdt_free(fs_fdt_unmark(6));
	ck_assert_ptr_eq(closed_sock, &a);
	ck_assert_int_eq(closed, 2);
}
END_TEST

static Suite *
make_suite(void)
{
	Suite *s = suite_create("fdtable");
	TCase *t = tcase_create("table");

	tcase_add_test(t, empty_lookup);
	tcase_add_test(t, mark_share_unmark);
	tcase_add_test(t, out_of_range);
	tcase_add_test(t, remark_replaces);
	suite_add_tcase(s, t);
	return s;
}
