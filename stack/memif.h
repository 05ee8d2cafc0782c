/* fastsock's own memif driver (memif.c): a device every process of a
 * family can drive, whichever of them started it. */
#ifndef FS_MEMIF_H
#define FS_MEMIF_H

#include "dev.h"

struct fs_config;

/* Opens c->dev (net_memifN[,key=value]...: DPDK's keys). Returns the
 * device, or NULL after logging one line saying why. */
struct fs_dev *fs_memif_open(const struct fs_config *c);

#endif
