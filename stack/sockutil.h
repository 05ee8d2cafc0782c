/* Helpers the UDP and TCP socket layers share: the kernel socket that
 * stands behind every accelerated one (raw system calls: the fd is the
 * program's own, and our wrappers would send it back to us), and IPv4
 * address checks and fills with the kernel's answers. No lwIP or DPDK. */
#ifndef FS_SOCKUTIL_H
#define FS_SOCKUTIL_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

/* getsockopt/setsockopt on the kernel socket: 0 or -errno. */
int fs_kopt_get(int kfd, int level, int opt, void *v, socklen_t *n);
int fs_kopt_set(int kfd, int level, int opt, const void *v, socklen_t n);
/* An int option's value, or dflt when the kernel will not say. */
int fs_kopt_int(int kfd, int level, int opt, int dflt);
/* SO_RCVTIMEO or SO_SNDTIMEO in ns; -1 when none is set. */
int64_t fs_kopt_timeo_ns(int kfd, int opt);
/* Whether the kernel socket has something to read now. */
bool fs_kernel_readable(int kfd);

/* An AF_INET address of the right length: 0, -EINVAL or -EAFNOSUPPORT. */
int fs_check_sin(const struct sockaddr *a, socklen_t n, const struct sockaddr_in **sin);
/* Writes addr:port to a, truncated to *n as the kernel does; *n becomes
 * the full length. */
void fs_fill_sin(struct sockaddr *a, socklen_t *n, uint32_t addr, uint16_t port);

#endif
