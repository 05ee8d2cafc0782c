/* Claiming sockets for the stack. */
#ifndef FS_CLAIM_H
#define FS_CLAIM_H

#include <stdbool.h>
#include <sys/socket.h>

#include "fdtable.h"

enum fs_claim { FS_CLAIM_BIND, FS_CLAIM_CONNECT, FS_CLAIM_SENDTO, FS_CLAIM_JOIN, FS_CLAIM_LISTEN };

/* True once the configuration asks for acceleration and it is valid; false
 * again if the stack fails to start. Tested before every claim. */
extern bool fs_accel_on;

/* Hands fd to the stack when address a shows it belongs to the accelerated
 * interface (why says which call carries a). Starts the stack on first use.
 * Returns the new entry, held as fs_lookup's, or NULL: the fd stays on the
 * kernel. */
struct fs_fd *fs_claim(int fd, const struct sockaddr *a, socklen_t n, enum fs_claim why);

/* fd was just bound on the kernel to the wildcard address: a UDP socket
 * is then served on both paths (the stack takes the same port). */
void fs_claim_wildcard(int fd);

/* fd just started listening on the kernel: a TCP listener on the
 * wildcard address is then served on both paths (the stack listens on the
 * same port and accept returns connections from either). */
void fs_claim_listen(int fd, int backlog);

/* The fd was closed or is new: its "stays on the kernel" line may be
 * written again. */
void fs_claim_forget(int fd);

#endif
