/* Logging: one line per message, "fastsock[pid]: level: text", to stderr or
 * FASTSOCK_LOG_FILE. Writes with the raw write system call so that a log line
 * never re-enters the interposer, and keeps errno as it found it. */
#ifndef FS_LOG_H
#define FS_LOG_H

enum fs_log_level { FS_LOG_ERROR, FS_LOG_WARN, FS_LOG_INFO, FS_LOG_DEBUG };

/* Current threshold; messages above it are dropped. Default FS_LOG_WARN. */
extern enum fs_log_level fs_log_threshold;

/* Sends log lines to fd (-1: stderr). */
void fs_log_set_fd(int fd);

void fs_log(enum fs_log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define FS_ERR(...) fs_log(FS_LOG_ERROR, __VA_ARGS__)
#define FS_WARN(...) fs_log(FS_LOG_WARN, __VA_ARGS__)
#define FS_INFO(...) fs_log(FS_LOG_INFO, __VA_ARGS__)
#define FS_DBG(...) \
	do { \
		if (fs_log_threshold >= FS_LOG_DEBUG) \
			fs_log(FS_LOG_DEBUG, __VA_ARGS__); \
	} while (0)

#endif
