/* Captures fastsock's log lines in a memfd so tests can assert on them. */
#ifndef FS_TEST_LOGCAP_H
#define FS_TEST_LOGCAP_H

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../stack/log.h"

static int logcap_fd = -1;

static inline void
logcap_start(void)
{
	if (logcap_fd >= 0)
		close(logcap_fd);
	logcap_fd = memfd_create("fslog", 0);
	fs_log_set_fd(logcap_fd);
}

/* Everything logged since logcap_start(), NUL-terminated (static buffer). */
static inline const char *
logcap_text(void)
{
	static char buf[8192];
	ssize_t n = pread(logcap_fd, buf, sizeof(buf) - 1, 0);

	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static inline int
logcap_lines(void)
{
	const char *p = logcap_text();
	int n = 0;

	for (; *p; p++)
		n += *p == '\n';
	return n;
}

#endif
