/* The in-memory device of the unit tests: frames the test injects are
 * received by the stack, frames the stack sends wait for the test to take
 * them. Never starts DPDK. */
#ifndef FS_MEMDEV_H
#define FS_MEMDEV_H

#include <stdint.h>

#define FS_MEMDEV_MAC {0x02, 0x00, 0x00, 0x00, 0x00, 0x01}

/* Queues a frame for the stack to receive. Returns 0, or -1 when full. */
int fs_memdev_inject(const void *frame, uint16_t len);

/* Takes the oldest frame the stack sent into buf. Returns its length, or
 * -1 when none is waiting. */
int fs_memdev_take(void *buf, uint16_t cap);

/* Receive buffers still held by the stack (zero-copy frames in queues). */
unsigned fs_memdev_held(void);

/* Frames injected that the stack has not taken yet. */
unsigned fs_memdev_rx_pending(void);

/* Makes the next n transmit buffer allocations fail, as a pool run dry. */
void fs_memdev_fail_tx(unsigned n);

#endif
