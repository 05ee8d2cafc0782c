#include <pthread.h>
#include <unistd.h>

#include "claim.h"
#include "init.h"

extern char **environ;

struct fs_ctx fs_ctx;
__thread int fs_in_stack __attribute__((tls_model("initial-exec")));

/* Set while this thread resolves fs_real: a call that dlsym itself made
 * then must not start resolving again. */
static __thread int resolving __attribute__((tls_model("initial-exec")));

void
fs_init_early(void)
{
	if (resolving)
		return;
	resolving = 1;
	fs_real_init();
	resolving = 0;
}

__attribute__((constructor)) static void
init(void)
{
	fs_init_early();
}

static pthread_once_t sockets_once = PTHREAD_ONCE_INIT;

static void
init_sockets(void)
{
	fs_in_stack++;
	fs_cfg_parse(&fs_ctx.cfg, environ);
	/* The stack itself starts later, on the first socket that is ours. */
	fs_accel_on = fs_ctx.cfg.ok && fs_ctx.cfg.dev[0];
	if (fs_accel_on) /* every fork, daemon()'s and system()'s too */
		pthread_atfork(NULL, NULL, fs_fdt_forked);
	if (fs_log_threshold >= FS_LOG_INFO) {
		char buf[768];

		fs_cfg_describe(&fs_ctx.cfg, buf, sizeof(buf));
		FS_INFO("fastsock %s: %s; %s", FS_VERSION,
			fs_accel_on ? "acceleration on" : "every socket on the kernel",
			buf[0] ? buf : "all settings at their defaults");
	}
	fs_in_stack--;
}

bool
fs_init_sockets(void)
{
	if (fs_in_stack)
		return false;
	pthread_once(&sockets_once, init_sockets);
	return fs_ctx.cfg.ok && fs_ctx.cfg.dev[0];
}

/* Lets a program (or a test) ask whether it runs under fastsock, as
 * onload_is_present() does for Onload. */
FS_EXPORT const char *
fastsock_version(void)
{
	return FS_VERSION;
}
