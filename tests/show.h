/* For the programs whose output the kernel-vs-fastsock comparisons diff:
 * SHOW(what, call) prints "what = value" or "what = -1 ENAME" and returns
 * the value. The call is evaluated before errno is read. */
#ifndef FS_TEST_SHOW_H
#define FS_TEST_SHOW_H

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define SHOW(what, expr) \
	({ \
		long r_ = (long)(expr); \
		show(what, r_, errno); \
	})

static inline long
show(const char *what, long r, int e)
{
	if (r < 0)
		printf("%s = -1 %s\n", what, strerrorname_np(e));
	else
		printf("%s = %ld\n", what, r);
	fflush(stdout);
	errno = 0;
	return r;
}

#endif
