/* Helpers the UDP and TCP socket layers share (sockutil.h). */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

#include "sockutil.h"

int
fs_kopt_get(int kfd, int level, int opt, void *v, socklen_t *n)
{
	return syscall(SYS_getsockopt, kfd, level, opt, v, n) < 0 ? -errno : 0;
}

int
fs_kopt_set(int kfd, int level, int opt, const void *v, socklen_t n)
{
	return syscall(SYS_setsockopt, kfd, level, opt, v, n) < 0 ? -errno : 0;
}

int
fs_kopt_int(int kfd, int level, int opt, int dflt)
{
	int v = dflt;
	socklen_t n = sizeof(v);

	fs_kopt_get(kfd, level, opt, &v, &n);
	return v;
}

int64_t
fs_kopt_timeo_ns(int kfd, int opt)
{
	struct timeval tv = {0, 0};
	socklen_t n = sizeof(tv);

	if (fs_kopt_get(kfd, SOL_SOCKET, opt, &tv, &n) < 0 || (tv.tv_sec == 0 && tv.tv_usec == 0))
		return -1;
	return (int64_t)tv.tv_sec * 1000000000 + (int64_t)tv.tv_usec * 1000;
}

bool
fs_kernel_readable(int kfd)
{
	struct pollfd p = {kfd, POLLIN, 0};

	return syscall(SYS_poll, &p, 1UL, 0) > 0 && (p.revents & POLLIN);
}

int
fs_check_sin(const struct sockaddr *a, socklen_t n, const struct sockaddr_in **sin)
{
	if (!a || n < sizeof(struct sockaddr_in))
		return -EINVAL;
	if (a->sa_family != AF_INET)
		return -EAFNOSUPPORT;
	*sin = (const struct sockaddr_in *)a;
	return 0;
}

void
fs_fill_sin(struct sockaddr *a, socklen_t *n, uint32_t addr, uint16_t port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};

	sin.sin_addr.s_addr = addr;
	if (a && n) {
		memcpy(a, &sin, *n < sizeof(sin) ? *n : sizeof(sin));
		*n = sizeof(sin);
	}
}
