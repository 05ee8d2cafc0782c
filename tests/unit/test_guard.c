/* Start-up and re-entrancy: calls before initialisation go to libc, calls
 * fastsock makes itself (fs_in_stack) never start the socket layer, the
 * configuration is read once on the first socket, and logging keeps errno. */
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../preload/init.h"
#include "check_main.h"
#include "logcap.h"

START_TEST(call_before_init)
{
	int fds[2];
	char c = 0;

	/* As if another library's constructor called us before ours ran. */
	memset(&fs_real, 0, sizeof(fs_real));
	ck_assert_int_eq(pipe(fds), 0);
	ck_assert_int_eq(write(fds[1], "x", 1), 1);
	ck_assert_ptr_nonnull(fs_real.write);
	ck_assert_ptr_nonnull(fs_real.epoll_ctl); /* the whole table, at once */
	ck_assert_int_eq(read(fds[0], &c, 1), 1);
	ck_assert_int_eq(c, 'x');
	close(fds[0]);
	close(fds[1]);
}
END_TEST

START_TEST(guard_defers_configuration)
{
	int fd;

	logcap_start();
	setenv("FASTSOCK_SPIN_US", "bogus", 1);
	/* fastsock's own socket (DPDK opens several): no start-up, no log. */
	fs_in_stack++;
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	fs_in_stack--;
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(logcap_lines(), 0);
	logcap_start();
	/* The program's first socket reads the configuration, once. */
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	ck_assert_int_ge(fd, 0);
	close(fd);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	close(fd);
	ck_assert_msg(logcap_lines() == 1, "%s", logcap_text());
	ck_assert_ptr_nonnull(strstr(logcap_text(), "FASTSOCK_SPIN_US=\"bogus\""));
	ck_assert(!fs_ctx.cfg.ok);
}
END_TEST

START_TEST(log_keeps_errno)
{
	logcap_start();
	errno = EADDRINUSE;
	fs_log(FS_LOG_ERROR, "a line %d", 1);
	ck_assert_int_eq(errno, EADDRINUSE);
	errno = 0;
	FS_WARN("%s", "another");
	ck_assert_int_eq(errno, 0);
	ck_assert_int_eq(logcap_lines(), 2);
}
END_TEST

START_TEST(log_long_line_truncated)
{
	char big[2000];

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	logcap_start();
	FS_ERR("%s", big);
	ck_assert_int_eq(logcap_lines(), 1);
	ck_assert_int_le(strlen(logcap_text()), 512);
}
END_TEST

static Suite *
make_suite(void)
{
	Suite *s = suite_create("guard");
	TCase *t = tcase_create("init");

	/* No fork per test: the once-only configuration is process state. */
	tcase_add_test(t, call_before_init);
	tcase_add_test(t, guard_defers_configuration);
	tcase_add_test(t, log_keeps_errno);
	tcase_add_test(t, log_long_line_truncated);
	suite_add_tcase(s, t);
	return s;
}
