/* Calls on the fd itself: close, dup, fcntl, ioctl, and process creation.
 * The kernel fd always exists (every socket is a kernel socket first), so
 * these keep the kernel's fd numbers and only mirror them in the table. */
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "claim.h"
#include "init.h"

FS_EXPORT int
close(int fd)
{
	struct fs_fd *f;

	if (fs_fdt_get(fd) && (f = fs_fdt_unmark(fd)))
		fs_fdt_free(f);
	fs_epoll_forget(fd);
	if (fs_unlikely(fs_accel_on)) {
		fs_claim_forget(fd);
		fs_epoll_fd_closed(fd);
	}
	return FS_REAL(close, fd);
}

/* After the kernel made newfd a copy of oldfd (whose entry was f), mirror
 * it: newfd's previous socket, if any, loses a reference. */
static int
mirror_dup(int newfd, struct fs_fd *f)
{
	struct fs_fd *old;

	if (newfd < 0)
		return newfd;
	if ((old = fs_fdt_unmark(newfd)))
		fs_fdt_free(old);
	if (f && fs_fdt_share(newfd, f) < 0) {
		/* Beyond the table: the copy cannot be served; refuse it. */
		FS_REAL(close, newfd);
		errno = EMFILE;
		return -1;
	}
	return newfd;
}

/* The dup family's end: mirror the kernel's copy newfd (r: the kernel's
 * answer) of the old fd, whose entry f the caller holds, and let f go. */
static int
dup_done(int r, int newfd, struct fs_fd *f)
{
	r = (f || fs_fdt_get(newfd)) ? mirror_dup(r, f) : r;
	if (f)
		fs_fdt_release(f);
	return r;
}

FS_EXPORT int
dup(int fd)
{
	struct fs_fd *f = fs_lookup(fd);
	int r = FS_REAL(dup, fd);

	return dup_done(r, r, f);
}

FS_EXPORT int
dup3(int oldfd, int newfd, int flags)
{
	struct fs_fd *f = fs_lookup(oldfd);
	int r = FS_REAL(dup3, oldfd, newfd, flags);

	if (r >= 0)
		fs_epoll_forget(newfd); /* an epoll set there was closed */

	return dup_done(r, newfd, f);
}

FS_EXPORT int
dup2(int oldfd, int newfd)
{
	struct fs_fd *f = fs_lookup(oldfd);
	int r = FS_REAL(dup2, oldfd, newfd);

	if (oldfd == newfd) {
		if (f)
			fs_fdt_release(f);
		return r;
	}
	if (r >= 0)
		fs_epoll_forget(newfd); /* an epoll set there was closed */
	return dup_done(r, newfd, f);
}

/* What fcntl and fcntl64 do after the kernel answered r: keep the table in
 * step for an accelerated fd f. */
static int
after_fcntl(struct fs_fd *f, int r, int cmd, void *arg)
{
	if (r < 0)
		return r;
	switch (cmd) {
	case F_DUPFD:
	case F_DUPFD_CLOEXEC:
		return mirror_dup(r, f);
	case F_SETFL: {
		int on = ((long)arg & O_NONBLOCK) != 0;
		int e = f->ops->ioctl(f->sock, FIONBIO, &on);

		return e < 0 ? (int)fs_ret(e) : r;
	}
	}
	return r;
}

FS_EXPORT int
fcntl(int fd, int cmd, ...)
{
	struct fs_fd *f;
	va_list ap;
	void *arg;
	int r;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	f = fs_lookup(fd);
	/* Commands taking an int and those taking a pointer both arrive as
	 * one machine word. */
	r = FS_REAL(fcntl, fd, cmd, arg);
	return f ? FS_HELD(f, after_fcntl(f, r, cmd, arg)) : r;
}

FS_EXPORT int
fcntl64(int fd, int cmd, ...)
{
	struct fs_fd *f;
	va_list ap;
	void *arg;
	int r;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	f = fs_lookup(fd);
	r = FS_REAL(fcntl64, fd, cmd, arg);
	return f ? FS_HELD(f, after_fcntl(f, r, cmd, arg)) : r;
}

FS_EXPORT int
ioctl(int fd, unsigned long req, ...)
{
	struct fs_fd *f;
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	f = fs_lookup(fd);
	if (f) {
		/* FIONBIO also goes to the kernel fd so F_GETFL stays true. */
		if (req == FIONBIO && FS_REAL(ioctl, fd, req, arg) < 0) {
			fs_fdt_release(f);
			return -1;
		}
		return FS_HELD(f, (int)fs_ret(f->ops->ioctl(f->sock, req, arg)));
	}
	return FS_REAL(ioctl, fd, req, arg);
}

/* A forked child joins its parent's stack (stack/engine.c's fork handlers)
 * and keeps using every inherited socket. When it cannot (the family is
 * full, or the parent had not started the stack: DPDK cannot start twice
 * from one process image), inherited accelerated sockets are detached:
 * every call but close fails with EBADFD and poll reports them as errors;
 * sockets the child creates stay on the kernel. A program the child execs
 * starts clean. */
static int
dt_addr(void *s, const struct sockaddr *a, socklen_t n)
{
	(void)s, (void)a, (void)n;
	return -EBADFD;
}

static int
dt_int(void *s, int v)
{
	(void)s, (void)v;
	return -EBADFD;
}

static int
dt_accept(void *s, struct sockaddr *a, socklen_t *n, int fl, void **conn)
{
	(void)s, (void)a, (void)n, (void)fl;
	*conn = NULL;
	return -EBADFD;
}

static int
dt_name(void *s, struct sockaddr *a, socklen_t *n, int peer)
{
	(void)s, (void)a, (void)n, (void)peer;
	return -EBADFD;
}

static int
dt_getopt(void *s, int l, int o, void *v, socklen_t *n)
{
	(void)s, (void)l, (void)o, (void)v, (void)n;
	return -EBADFD;
}

static int
dt_setopt(void *s, int l, int o, const void *v, socklen_t n)
{
	(void)s, (void)l, (void)o, (void)v, (void)n;
	return -EBADFD;
}

static ssize_t
dt_send(void *s, const struct msghdr *m, int fl)
{
	(void)s, (void)m, (void)fl;
	return -EBADFD;
}

static ssize_t
dt_recv(void *s, struct msghdr *m, int fl)
{
	(void)s, (void)m, (void)fl;
	return -EBADFD;
}

static int
dt_ioctl(void *s, unsigned long r, void *a)
{
	(void)s, (void)r, (void)a;
	return -EBADFD;
}

static unsigned
dt_poll(void *s, uint32_t *gen)
{
	(void)s;
	if (gen)
		*gen = 0;
	return POLLERR | POLLNVAL;
}

static void
dt_close(void *s)
{
	(void)s; /* the parent's object: not ours to free */
}

static const struct fs_sock_ops detached_ops = {
	.bind = dt_addr,
	.connect = dt_addr,
	.listen = dt_int,
	.accept = dt_accept,
	.shutdown = dt_int,
	.name = dt_name,
	.getsockopt = dt_getopt,
	.setsockopt = dt_setopt,
	.sendmsg = dt_send,
	.recvmsg = dt_recv,
	.ioctl = dt_ioctl,
	.poll = dt_poll,
	.close = dt_close,
};

static void
detach_in_child(void)
{
	unsigned fd, left = fs_fdt_count();

	fs_accel_on = false;
	fs_stk_forget();
	for (fd = 0; fd < FS_FDT_MAX && left; fd++)
		if (fs_fdt[fd]) {
			fs_fdt[fd]->ops = &detached_ops;
			left--;
		}
}

/* The engine's fork handler detaches through this when the child cannot
 * join (fork from inside daemon() or system() does not come through our
 * fork() below). */
__attribute__((constructor)) static void
detach_hook(void)
{
	fs_family_detach = detach_in_child;
}

FS_EXPORT pid_t
fork(void)
{
	bool had_stack = fs_stk_running(); /* then the engine's handler did it */
	pid_t r = FS_REAL(fork);

	if (r == 0 && fs_unlikely(fs_fdt_count() || fs_accel_on) && !had_stack)
		detach_in_child();
	if (r < 0 && had_stack)
		fs_stk_fork_failed(); /* the room made for the child */
	return r;
}

/* _exit and _Exit skip atexit, where a process of a family stops its
 * progress thread (fs_stk_quiesce): a forked child that ends so (most
 * do) must not die with that thread in the family's lock. */
FS_EXPORT void
_exit(int status)
{
	fs_stk_quiesce();
	FS_REAL(_exit, status);
	__builtin_unreachable();
}

FS_EXPORT void
_Exit(int status)
{
	fs_stk_quiesce();
	FS_REAL(_Exit, status);
	__builtin_unreachable();
}

/* exec: the program that follows starts clean, as the stack's memory
 * stays with this image. A process that shares the stack with others (a
 * fork) gives up its share first, as at exit: the sockets only it held
 * close. Each accelerated fd the new program inherits (no FD_CLOEXEC) is
 * only the kernel socket underneath, which carries nothing: it is shut
 * down (where it serves no kernel path too) so that the new program reads
 * it as closed instead of waiting forever, and one line says so. Returns
 * whether the process left its family. */
static bool
before_exec(void)
{
	unsigned fd, left = fs_fdt_count(), kept = 0;
	bool leave = fs_stk_family_size() > 1;
	struct fs_fd *f;

	for (fd = 0; fd < FS_FDT_MAX && left; fd++) {
		int fl;

		if (!(f = fs_fdt[fd]))
			continue;
		left--;
		fl = FS_REAL(fcntl, (int)fd, F_GETFD);
		if (fl >= 0 && !(fl & FD_CLOEXEC)) {
			kept++;
			if (f->ops == &detached_ops || !f->ops->kernel_fd ||
			    f->ops->kernel_fd(f->sock, NULL) < 0)
				FS_REAL(shutdown, (int)fd, SHUT_RDWR);
		}
		if (leave && f->ops != &detached_ops) {
			f->ops->close(f->sock); /* this process's share */
			f->ops = &detached_ops;
		}
	}
	if (kept)
		FS_WARN("exec: the new program inherits %u accelerated socket%s it cannot use "
			"(the stack stays with this program image): they read as closed or fail there",
			kept, kept == 1 ? "" : "s");
	if (leave) {
		fs_accel_on = false;
		fs_stk_leave();
	}
	return leave;
}

static int
after_exec_failed(bool left, int r)
{
	int e = errno;

	if (left)
		FS_WARN("exec failed (%s) after this process gave up its share of the stack: its "
			"accelerated sockets now fail with EBADFD, new ones stay on the kernel",
			strerror(e));
	errno = e;
	return r;
}

FS_EXPORT int
execve(const char *path, char *const argv[], char *const envp[])
{
	bool left = before_exec();

	return after_exec_failed(left, FS_REAL(execve, path, argv, envp));
}

FS_EXPORT int
execv(const char *path, char *const argv[])
{
	bool left = before_exec();

	return after_exec_failed(left, FS_REAL(execv, path, argv));
}

FS_EXPORT int
execvp(const char *file, char *const argv[])
{
	bool left = before_exec();

	return after_exec_failed(left, FS_REAL(execvp, file, argv));
}

FS_EXPORT int
execvpe(const char *file, char *const argv[], char *const envp[])
{
	bool left = before_exec();

	return after_exec_failed(left, FS_REAL(execvpe, file, argv, envp));
}

FS_EXPORT int
fexecve(int fd, char *const argv[], char *const envp[])
{
	bool left = before_exec();

	return after_exec_failed(left, FS_REAL(fexecve, fd, argv, envp));
}

/* The execl family: the arguments into argv, its NULL included, then
 * the execv one (glibc's own execl calls execve inside libc, past us).
 * False when they do not fit (E2BIG). */
#define EXECL_MAX 4096

static bool
execl_args(const char *first, va_list *ap, char **argv)
{
	int n;

	argv[0] = (char *)first;
	for (n = 1; argv[n - 1] && n < EXECL_MAX; n++)
		argv[n] = va_arg(*ap, char *);
	return argv[n - 1] == NULL;
}

FS_EXPORT int
execl(const char *path, const char *arg, ...)
{
	char *argv[EXECL_MAX];
	va_list ap;
	bool ok;

	va_start(ap, arg);
	ok = execl_args(arg, &ap, argv);
	va_end(ap);
	return ok ? execv(path, argv) : (errno = E2BIG, -1);
}

FS_EXPORT int
execlp(const char *file, const char *arg, ...)
{
	char *argv[EXECL_MAX];
	va_list ap;
	bool ok;

	va_start(ap, arg);
	ok = execl_args(arg, &ap, argv);
	va_end(ap);
	return ok ? execvp(file, argv) : (errno = E2BIG, -1);
}

FS_EXPORT int
execle(const char *path, const char *arg, ...)
{
	char *argv[EXECL_MAX], **envp = NULL;
	va_list ap;
	bool ok;

	va_start(ap, arg);
	if ((ok = execl_args(arg, &ap, argv)))
		envp = va_arg(ap, char **);
	va_end(ap);
	return ok ? execve(path, argv, envp) : (errno = E2BIG, -1);
}

/* vfork's child borrows the parent's stack until exec, so it must never
 * return through a wrapper's frame: it would corrupt the frame the parent
 * returns through. A real fork keeps vfork's contract for the program
 * (the child may exec or _exit) at the cost of copying page tables. */
FS_EXPORT pid_t
vfork(void)
{
	return FS_REAL(fork);
}
