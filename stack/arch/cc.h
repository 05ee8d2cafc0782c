/* lwIP's platform header for fastsock's build of lwIP: Linux, glibc. */
#ifndef FS_ARCH_CC_H
#define FS_ARCH_CC_H

#include <errno.h>
#include <stdlib.h>
#include <sys/time.h>
#include <sys/types.h>

#define LWIP_ERRNO_STDINCLUDE 1
#define LWIP_TIMEVAL_PRIVATE 0

/* glibc's byte swaps, inline, instead of lwIP's out-of-line ones; and
 * glibc's htons and friends left as they are. */
#define LWIP_DONT_PROVIDE_BYTEORDER_FUNCTIONS
#define lwip_htons(x) ((u16_t)__builtin_bswap16(x))
#define lwip_htonl(x) ((u32_t)__builtin_bswap32(x))

/* A broken lwIP invariant is a bug of ours: say where, through our log,
 * and stop before it corrupts a connection. */
void fs_lwip_assert(const char *msg, const char *file, int line) __attribute__((noreturn));
#define LWIP_PLATFORM_ASSERT(x) fs_lwip_assert((x), __FILE__, __LINE__)
#define LWIP_PLATFORM_DIAG(x) do { } while (0)

#endif
