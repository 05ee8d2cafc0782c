/* Signals. A blocking call on an accelerated socket spends its first
 * microseconds spinning in user space; a signal handler that runs then
 * would leave the kernel none the wiser, and the call would go on to sleep
 * as if nothing happened (the kernel would have returned EINTR). So the
 * program's handlers are installed behind a trampoline that counts, per
 * thread, the handlers it ran; a waiting call compares the count. Handlers
 * the program reads back (oldact) are its own, never the trampoline. */
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "init.h"

struct app_handler {
	void *fn; /* sa_handler or sa_sigaction, as the program gave it */
	int flags;
};

static struct app_handler app[NSIG];

/* libc's sigaction. Resolved here rather than through FS_REAL: a sanitizer
 * runtime preloaded before us installs its handlers through this wrapper
 * while it starts, before anything else of ours may run (this file and
 * real.c are built without ThreadSanitizer's instrumentation, whose entry
 * hook crashes until that runtime is up: preload/meson.build). */
static int
real_sigaction(int sig, const struct sigaction *act, struct sigaction *oldact)
{
	if (fs_unlikely(!fs_real.sigaction)) {
		fs_real.sigaction = (int (*)(int, const struct sigaction *, struct sigaction *))
			fs_real_lookup("sigaction", (const void *)real_sigaction);
		if (!fs_real.sigaction) {
			errno = ENOSYS;
			return -1;
		}
	}
	return fs_real.sigaction(sig, act, oldact);
}

static bool
is_fn(void *h)
{
	return h != (void *)SIG_DFL && h != (void *)SIG_IGN;
}

static void
trampoline(int sig, siginfo_t *si, void *uc)
{
	struct app_handler h = app[sig];

	fs_sig_seen++;
	fs_sig_restart = (h.flags & SA_RESTART) != 0;
	if (h.flags & SA_RESETHAND)
		app[sig].fn = (void *)SIG_DFL;
	if (h.flags & SA_SIGINFO)
		((void (*)(int, siginfo_t *, void *))h.fn)(sig, si, uc);
	else if (is_fn(h.fn))
		((void (*)(int))h.fn)(sig);
}

FS_EXPORT int
sigaction(int sig, const struct sigaction *act, struct sigaction *oldact)
{
	struct sigaction mine, old;
	struct app_handler prev;
	void *fn;
	int r;

	if (sig <= 0 || sig >= NSIG || sig == SIGKILL || sig == SIGSTOP)
		return real_sigaction(sig, act, oldact);
	prev = app[sig];
	if (act) {
		fn = (act->sa_flags & SA_SIGINFO) ? (void *)act->sa_sigaction
						  : (void *)act->sa_handler;
		if (is_fn(fn)) {
			/* Store first: a signal that comes in between finds the
			 * new handler behind whichever entry is installed. */
			app[sig] = (struct app_handler){fn, act->sa_flags};
			mine = *act;
			mine.sa_sigaction = trampoline;
			mine.sa_flags |= SA_SIGINFO;
			act = &mine;
		}
	}
	r = real_sigaction(sig, act, &old);
	if (r < 0) {
		app[sig] = prev;
		return r;
	}
	if (oldact) {
		*oldact = old;
		if (old.sa_sigaction == trampoline) {
			oldact->sa_flags = prev.flags;
			if (prev.flags & SA_SIGINFO)
				oldact->sa_sigaction = (void (*)(int, siginfo_t *, void *))prev.fn;
			else
				oldact->sa_handler = (void (*)(int))prev.fn;
		}
	}
	return 0;
}

/* glibc's signal(): BSD semantics, SA_RESTART and the signal masked in its
 * own handler. It calls libc's internal sigaction, not ours, so it is
 * interposed too. */
FS_EXPORT sighandler_t
signal(int sig, sighandler_t h)
{
	struct sigaction act, old;

	memset(&act, 0, sizeof(act));
	act.sa_handler = h;
	act.sa_flags = SA_RESTART;
	sigemptyset(&act.sa_mask);
	if (sig > 0 && sig < NSIG)
		sigaddset(&act.sa_mask, sig);
	if (sigaction(sig, &act, &old) < 0)
		return SIG_ERR;
	return old.sa_handler;
}
