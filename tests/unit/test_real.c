/* The real-libc table: every name resolves into libc, never into the
 * interposer, and a name that would resolve to ourselves aborts loudly. */
#include <dlfcn.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../preload/real.h"
#include "check_main.h"

START_TEST(all_resolved_into_libc)
{
	Dl_info me, it;
	void **p = (void **)&fs_real;
	size_t i, n = sizeof(fs_real) / sizeof(void *);

	fs_real_init();
	ck_assert(dladdr((void *)fs_real_init, &me));
	for (i = 0; i < n; i++) {
		ck_assert_msg(p[i] != NULL, "entry %zu unresolved", i);
		ck_assert(dladdr(p[i], &it));
		ck_assert_msg(me.dli_fbase != it.dli_fbase, "entry %zu (%s) is ourselves", i,
			      it.dli_sname ? it.dli_sname : "?");
		/* libc, or the sanitizer runtime that interposes it first. */
		ck_assert_msg(strstr(it.dli_fname, "libc.so") || strstr(it.dli_fname, "libasan") ||
				      strstr(it.dli_fname, "libubsan"),
			      "entry %zu in %s", i, it.dli_fname);
	}
	/* Spot checks: the table holds the named function. */
	ck_assert_ptr_eq((void *)fs_real.recvfrom, dlsym(RTLD_NEXT, "recvfrom"));
	ck_assert_ptr_eq((void *)fs_real.epoll_pwait2, dlsym(RTLD_NEXT, "epoll_pwait2"));
	ck_assert_ptr_eq((void *)fs_real.__ppoll_chk, dlsym(RTLD_NEXT, "__ppoll_chk"));
	ck_assert_ptr_ne((void *)fs_real.read, (void *)fs_real.write);
}
END_TEST

START_TEST(self_resolution_aborts)
{
	int pfd[2], status;
	char msg[512] = {0};
	size_t len = 0;
	ssize_t n;
	pid_t pid;

	ck_assert_int_eq(pipe(pfd), 0);
	pid = fork();
	if (pid == 0) {
		dup2(pfd[1], 2);
		/* Pretend libc is "us": its socket() then resolves to ourselves. */
		fs_real_lookup("socket", (const void *)getpid);
		_exit(0);
	}
	close(pfd[1]);
	while ((n = read(pfd[0], msg + len, sizeof(msg) - 1 - len)) > 0) /* to EOF */
		len += (size_t)n;
	ck_assert_uint_gt(len, 0);
	close(pfd[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFSIGNALED(status));
	ck_assert_int_eq(WTERMSIG(status), SIGABRT);
	ck_assert_msg(strstr(msg, "'socket' resolves to libfastsock itself") != NULL, "%s", msg);
}
END_TEST

START_TEST(missing_name_is_null)
{
	ck_assert_ptr_null(fs_real_lookup("fastsock_no_such_function", (const void *)fs_real_init));
}
END_TEST

static Suite *
make_suite(void)
{
	Suite *s = suite_create("real");
	TCase *t = tcase_create("table");

	tcase_add_test(t, all_resolved_into_libc);
	tcase_add_test(t, self_resolution_aborts);
	tcase_add_test(t, missing_name_is_null);
	suite_add_tcase(s, t);
	return s;
}
