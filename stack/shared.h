/* The family's memory: what the processes forked from one another share.
 * lwIP's globals and the stack's own (everything in the .data and .bss of
 * stack/lwip, the engine and the DPDK glue: stack/shared.ld gathers them
 * into one page-aligned section) are remapped shared at start, and the
 * stack's heap (netif.c's fs_heap_*) takes its blocks from one shared
 * arena reserved then. Both are mapped before any fork and so sit at the
 * same address in every descendant: pointers between them stay valid.
 * Variables that must stay per process are marked FS_PRIVATE. */
#ifndef FS_SHARED_H
#define FS_SHARED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Keeps a variable of a shared file in the process's own memory (the
 * section name is one shared.ld does not gather). */
#define FS_PRIVATE __attribute__((section(".data.fs_private")))

/* Remaps the shared section and reserves the arena, once per process
 * tree. Returns 0 or -errno (logged); the stack then runs unshared. */
int fs_shared_init(void);

/* Whether fs_shared_init remapped the section (false in a program linked
 * without shared.ld, e.g. a unit test that does not ask for it). */
bool fs_shared_on(void);

/* size bytes (a multiple of 16) from the arena, never given back; NULL
 * when the arena is used up or was not reserved. */
void *fs_shared_take(size_t size);

/* Zeroed objects (sockets, the stack's own struct) from the arena, from
 * any thread; fs_obj_free keeps them for reuse. */
void *fs_obj_calloc(size_t size);
void fs_obj_free(void *p);

/* The family: up to FS_FAMILY_MAX processes (the one that started the
 * stack and those forked from it) share the stack, each in a slot; this
 * process's slot as a bit. */
#define FS_FAMILY_MAX 64
extern uint64_t fs_family_bit;

/* Which members hold an object (a socket: a member holds it while one of
 * its fds names it). fs_obj_calloc makes this process the holder;
 * fs_obj_own makes it the only one (a connection it accepted);
 * fs_obj_add_holder adds a member (a fork); fs_obj_drop removes this
 * process and tells whether nobody holds the object any more (then the
 * caller closes it, as the kernel on a file's last close). */
void fs_obj_own(void *p);
void fs_obj_add_holder(void *p, uint64_t bit);
bool fs_obj_drop(void *p);
uint64_t fs_obj_holders(void *p);

/* The stack's heap (netif.c, lwIP's too): blocks from the arena, kept
 * for reuse when freed. Under fs_stk->lock. */
void *fs_heap_alloc(size_t size);
void *fs_heap_calloc(size_t count, size_t size);
void fs_heap_free(void *mem);

#endif
