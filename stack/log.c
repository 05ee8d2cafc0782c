#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"

enum fs_log_level fs_log_threshold = FS_LOG_WARN;
static int log_fd = -1;

static const char *const level_name[] = {"error", "warn", "info", "debug"};

void
fs_log_set_fd(int fd)
{
	log_fd = fd;
}

void
fs_log(enum fs_log_level lvl, const char *fmt, ...)
{
	char line[512];
	int saved = errno;
	int n, m;
	va_list ap;

	if (lvl > fs_log_threshold)
		return;
	n = snprintf(line, sizeof(line), "fastsock[%d]: %s: ", (int)getpid(),
		     level_name[lvl]);
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	n = (m < 0) ? n : n + m;
	if (n > (int)sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	/* The raw system call, not write(): write() is ours when preloaded. */
	syscall(SYS_write, log_fd >= 0 ? log_fd : 2, line, (size_t)n);
	errno = saved;
}
