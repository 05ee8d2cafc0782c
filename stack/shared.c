/* The family's memory (shared.h). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#else
#define RUNNING_ON_VALGRIND 0
#endif

#include "log.h"
#include "shared.h"

/* Bounds of the gathered section (stack/shared.ld); absent (NULL) in a
 * program linked without it. */
extern char fs_shared_start[] __attribute__((weak));
extern char fs_shared_end[] __attribute__((weak));

/* The arena: reserved, not committed (MAP_NORESERVE; a page costs memory
 * when first touched). The largest reservation the system grants, from
 * ARENA_MAX down to ARENA_MIN. Its cursor is shared (this file's data is
 * in the section): every process of the family takes from the same one. */
#define ARENA_MAX (64ull << 30)
#define ARENA_MIN (1ull << 30)
/* Under valgrind: its memcheck shadows and leak-scans every mapping, and
 * 64 GiB took the unit tests past their time limit. */
#define ARENA_VALGRIND (256ull << 20)

static char *arena, *arena_end;
static uintptr_t arena_next;
static bool section_shared;

/* Word by word through volatile, so that no memcpy call is made of it:
 * AddressSanitizer poisons the gaps between globals. */
__attribute__((no_sanitize("address"))) void
fs_copy_globals(void *to, const void *from, size_t size)
{
	const volatile uint8_t *f = from;
	uint8_t *t = to;
	size_t i;

	for (i = 0; i + 8 <= size; i += 8)
		*(uint64_t *)(t + i) = *(const volatile uint64_t *)(f + i);
	for (; i < size; i++)
		t[i] = f[i];
}

int
fs_shared_init(void)
{
	size_t size;
	void *p;

	if (section_shared || !fs_shared_start || !fs_shared_end)
		return 0;
	/* A copy of the section's current contents in shared memory, moved
	 * over the section: the same bytes at the same address, now shared
	 * with every process forked from here on. Nothing else runs in the
	 * stack while it starts. */
	size = (size_t)(fs_shared_end - fs_shared_start);
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		FS_ERR("shared memory for the stack (%zu bytes): %s", size, strerror(errno));
		return -errno;
	}
	fs_copy_globals(p, fs_shared_start, size);
	if (mremap(p, size, size, MREMAP_MAYMOVE | MREMAP_FIXED, fs_shared_start) == MAP_FAILED) {
		int e = errno;

		munmap(p, size);
		FS_ERR("shared memory for the stack: remap: %s", strerror(e));
		return -e;
	}
	/* From here on this file's variables are in the shared copy. */
	section_shared = true;
	for (size_t a = RUNNING_ON_VALGRIND ? ARENA_VALGRIND : ARENA_MAX;
	     a >= (RUNNING_ON_VALGRIND ? ARENA_VALGRIND : ARENA_MIN); a /= 2) {
		p = mmap(NULL, a, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (p != MAP_FAILED) {
			arena = p;
			arena_end = arena + a;
			arena_next = (uintptr_t)arena;
			return 0;
		}
	}
	FS_ERR("shared memory for the stack: no arena of %llu MiB or more: %s",
	       (unsigned long long)(ARENA_MIN >> 20), strerror(errno));
	return -ENOMEM;
}

bool
fs_shared_on(void)
{
	return arena != NULL;
}

void *
fs_shared_take(size_t size)
{
	uintptr_t at;

	if (!arena)
		return NULL;
	size = (size + 15) & ~(size_t)15;
	at = __atomic_fetch_add(&arena_next, size, __ATOMIC_RELAXED);
	if (at + size > (uintptr_t)arena_end || at + size < at)
		return NULL;
	return (void *)at;
}

/* Objects: the heap's size classes (shared.h); a freed object waits on
 * its class's list. A spin lock of its own (shared like everything here):
 * sockets come and go outside the stack lock. */
struct obj_hdr {
	uint32_t cls;
	uint32_t pad;
	uint64_t holders; /* fs_obj_hold: a bit per family member */
};

uint64_t fs_family_bit FS_PRIVATE = 1;

static void *obj_free_list[FS_SIZE_CLASSES];
static int obj_lock;

void *
fs_obj_calloc(size_t size)
{
	struct obj_hdr *h;
	size_t n;
	uint32_t c;

	if (size > FS_SIZE_LIMIT)
		return NULL;
	c = fs_size_class(size);
	n = fs_class_size(c);
	while (__atomic_exchange_n(&obj_lock, 1, __ATOMIC_ACQUIRE))
		fs_cpu_relax();
	h = obj_free_list[c];
	if (h)
		obj_free_list[c] = *(void **)h;
	__atomic_store_n(&obj_lock, 0, __ATOMIC_RELEASE);
	if (!h && !(h = fs_shared_take(sizeof(*h) + n)) && (arena || !(h = malloc(sizeof(*h) + n))))
		return NULL;
	memset(h, 0, sizeof(*h) + n);
	h->cls = c;
	h->holders = fs_family_bit;
	return h + 1;
}

void
fs_obj_free(void *p)
{
	struct obj_hdr *h = (struct obj_hdr *)p - 1;
	uint32_t c;

	if (!p)
		return;
	/* Read before the link overwrites it (it did: every freed object went
	 * to class 0's list, or past the array, and was never used again). */
	c = h->cls;
	while (__atomic_exchange_n(&obj_lock, 1, __ATOMIC_ACQUIRE))
		fs_cpu_relax();
	*(void **)h = obj_free_list[c];
	obj_free_list[c] = h;
	__atomic_store_n(&obj_lock, 0, __ATOMIC_RELEASE);
}

static struct obj_hdr *
hdr(void *p)
{
	return (struct obj_hdr *)p - 1;
}

void
fs_obj_add_holder(void *p, uint64_t bit)
{
	__atomic_or_fetch(&hdr(p)->holders, bit, __ATOMIC_RELAXED);
}

void
fs_obj_own(void *p)
{
	__atomic_store_n(&hdr(p)->holders, fs_family_bit, __ATOMIC_RELAXED);
}

bool
fs_obj_drop_member(void *p, uint64_t bit)
{
	return __atomic_and_fetch(&hdr(p)->holders, ~bit, __ATOMIC_ACQ_REL) == 0;
}

bool
fs_obj_drop(void *p)
{
	return fs_obj_drop_member(p, fs_family_bit);
}

uint64_t
fs_obj_holders(void *p)
{
	return __atomic_load_n(&hdr(p)->holders, __ATOMIC_RELAXED);
}
