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

/* memcpy for a range of global variables, the gaps between them
 * included (AddressSanitizer's redzones: a memcpy would trip over them). */
void fs_copy_globals(void *to, const void *from, size_t size);

/* Whether fs_shared_init remapped the section (false in a program linked
 * without shared.ld, e.g. a unit test that does not ask for it). */
bool fs_shared_on(void);

/* size bytes (a multiple of 16) from the arena, never given back; NULL
 * when the arena is used up or was not reserved. */
void *fs_shared_take(size_t size);

/* The size classes of both allocators below (the stack's heap, objects):
 * 64 bytes apart up to 2 KiB, then four between each power of two and the
 * next (at most 25% lost to rounding), up to FS_SIZE_LIMIT. */
#define FS_SIZE_STEP 64u
#define FS_SIZE_SMALL 2048u
#define FS_SIZE_SMALL_CLASSES (FS_SIZE_SMALL / FS_SIZE_STEP)
#define FS_SIZE_LIMIT (64u << 20)
/* 4 classes for each power of two from 2^11 (the sizes 2049..2^26). */
#define FS_SIZE_CLASSES (FS_SIZE_SMALL_CLASSES + 4 * (26 - 11))

/* The class of a block of size bytes (1..FS_SIZE_LIMIT). */
static inline uint32_t
fs_size_class(size_t size)
{
	unsigned b;

	if (size <= FS_SIZE_SMALL)
		return size ? (uint32_t)(size - 1) / FS_SIZE_STEP : 0;
	b = 63u - (unsigned)__builtin_clzll((unsigned long long)(size - 1)); /* 2^b < size <= 2^(b+1) */
	return FS_SIZE_SMALL_CLASSES + 4 * (b - 11) + (uint32_t)((size - 1) >> (b - 2) & 3);
}

/* The usable size of class c. */
static inline size_t
fs_class_size(uint32_t c)
{
	unsigned b;

	if (c < FS_SIZE_SMALL_CLASSES)
		return (c + 1) * FS_SIZE_STEP;
	c -= FS_SIZE_SMALL_CLASSES;
	b = 11 + c / 4;
	return ((size_t)4 + c % 4 + 1) << (b - 2);
}

/* A spin that found nothing tells the CPU so: a hyperthread sibling (the
 * peer's, when the host places both vCPUs on one core) gets the core's
 * resources meanwhile. */
static inline void
fs_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield");
#endif
}

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
 * caller closes it, as the kernel on a file's last close);
 * fs_obj_drop_member does so for the member of bit (one that ended). */
void fs_obj_own(void *p);
void fs_obj_add_holder(void *p, uint64_t bit);
bool fs_obj_drop(void *p);
bool fs_obj_drop_member(void *p, uint64_t bit);
uint64_t fs_obj_holders(void *p);

/* The stack's heap (netif.c, lwIP's too): blocks from the arena, kept
 * for reuse when freed. Under fs_stk->lock. */
void *fs_heap_alloc(size_t size);
void *fs_heap_calloc(size_t count, size_t size);
void fs_heap_free(void *mem);
/* Before a fork (AddressSanitizer builds): no free block stays poisoned
 * while the family shares the heap. */
void fs_heap_share(void);

#endif
