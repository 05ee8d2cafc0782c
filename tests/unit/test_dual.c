/* The watch on the kernel sides of sockets served on both paths (dual.c),
 * over real kernel UDP sockets on 127.0.0.1: a look costs no system call
 * until the kernel reports an arrival or the epoch moves, no report is
 * lost, and a report for a socket gone is ignored. The stack is a bare
 * struct here (dual.c needs its lock and whether a progress thread runs);
 * reports are collected by the test, standing in for that thread. */
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../stack/dual.h"
#include "../../stack/stack.h"
#include "check_main.h"

static struct fs_stack stk;

static void
setup(void)
{
	stk.lock = 0;
	fs_stk_test_progress(true); /* as if a progress thread ran */
	fs_stk = &stk;
}

/* A kernel UDP socket on 127.0.0.1 and an ephemeral port. */
static int
kudp(struct sockaddr_in *a)
{
	socklen_t n = sizeof(*a);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);

	ck_assert_int_ge(fd, 0);
	*a = (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	ck_assert_int_eq(bind(fd, (struct sockaddr *)a, sizeof(*a)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)a, &n), 0);
	return fd;
}

static void
send_to(const struct sockaddr_in *a)
{
	int s = socket(AF_INET, SOCK_DGRAM, 0);

	ck_assert_int_eq(sendto(s, "x", 1, 0, (const struct sockaddr *)a, sizeof(*a)), 1);
	close(s);
}

static void
watch(struct fs_dual *d, int kfd)
{
	fs_stk_lock();
	fs_dual_watch(d, kfd);
	fs_stk_unlock();
}

/* Waits (at most 1 s) for the watch set to report, and collects. */
static void
collect(void)
{
	struct pollfd p = {fs_dual_fd(), POLLIN, 0};

	ck_assert_int_ge(p.fd, 0);
	ck_assert_int_eq(poll(&p, 1, 1000), 1);
	fs_dual_collect();
}

START_TEST(reports_mark_and_looks_are_free)
{
	struct sockaddr_in a;
	struct fs_dual d;
	char b[4];
	int k = kudp(&a);

	watch(&d, k);
	ck_assert_int_ge(d.slot, 0);
	ck_assert(!fs_dual_readable(&d)); /* the first look asks: empty */
	send_to(&a);
	/* Queued in the kernel, not reported yet: a look does not ask. */
	ck_assert(!fs_dual_readable(&d));
	ck_assert(!fs_dual_readable(&d));
	collect();
	ck_assert(fs_dual_readable(&d));
	ck_assert(fs_dual_readable(&d)); /* still there: still readable */
	ck_assert_int_eq(recv(k, b, sizeof(b), 0), 1);
	ck_assert(!fs_dual_readable(&d)); /* asked once more: empty */
	/* Each arrival is reported, also after the first was taken. */
	send_to(&a);
	collect();
	ck_assert(fs_dual_readable(&d));
	close(k);
}
END_TEST

START_TEST(touch_makes_the_next_look_ask)
{
	struct sockaddr_in a;
	struct fs_dual d;
	int k = kudp(&a);

	watch(&d, k);
	ck_assert(!fs_dual_readable(&d));
	send_to(&a); /* the program's own send over loopback */
	fs_dual_touch();
	ck_assert(fs_dual_readable(&d));
	close(k);
}
END_TEST

START_TEST(reports_for_a_socket_gone_are_ignored)
{
	struct sockaddr_in a1, a2;
	struct fs_dual d1, d2;
	int k1 = kudp(&a1), k2 = kudp(&a2), copy = dup(k1);

	watch(&d1, k1);
	ck_assert_int_eq(d1.slot, 0);
	/* The program closed k1 but kept a copy: the kernel keeps the
	 * registration, which the unwatch can no longer name. */
	close(k1);
	fs_stk_lock();
	fs_dual_unwatch(&d1);
	fs_dual_watch(&d2, k2); /* takes the same slot */
	fs_stk_unlock();
	ck_assert_int_eq(d2.slot, 0);
	ck_assert(!fs_dual_readable(&d2));
	send_to(&a1); /* reported under the slot's old generation */
	collect();
	ck_assert(!fs_dual_readable(&d2));
	send_to(&a2);
	collect();
	ck_assert(fs_dual_readable(&d2));
	close(copy);
	close(k2);
}
END_TEST

START_TEST(without_a_progress_thread_every_look_asks)
{
	struct sockaddr_in a;
	struct fs_dual d;
	int k = kudp(&a);

	fs_stk_test_progress(false);
	watch(&d, k);
	ck_assert_int_eq(d.slot, -1);
	ck_assert_int_eq(fs_dual_fd(), -1);
	ck_assert(!fs_dual_readable(&d));
	send_to(&a);
	ck_assert(fs_dual_readable(&d));
	close(k);
}
END_TEST

static Suite *
make_suite(void)
{
	Suite *s = suite_create("dual");
	TCase *t = tcase_create("watch");

	tcase_add_checked_fixture(t, setup, NULL);
	tcase_add_test(t, reports_mark_and_looks_are_free);
	tcase_add_test(t, touch_makes_the_next_look_ask);
	tcase_add_test(t, reports_for_a_socket_gone_are_ignored);
	tcase_add_test(t, without_a_progress_thread_every_look_asks);
	suite_add_tcase(s, t);
	return s;
}
