#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "real.h"

struct fs_real fs_real;

static void
die(const char *name)
{
	static const char a[] = "fastsock: fatal: libc symbol '";
	static const char b[] = "' resolves to libfastsock itself (is it linked "
				"twice or preloaded before libc?)\n";

	syscall(SYS_write, 2, a, sizeof(a) - 1);
	syscall(SYS_write, 2, name, strlen(name));
	syscall(SYS_write, 2, b, sizeof(b) - 1);
	abort();
}

void *
fs_real_lookup(const char *name, const void *self)
{
	Dl_info mine, theirs;
	void *p = dlsym(RTLD_NEXT, name);

	if (p && dladdr(self, &mine) && dladdr(p, &theirs) &&
	    mine.dli_fbase == theirs.dli_fbase)
		die(name);
	return p;
}

void
fs_real_init(void)
{
	const void *self = (const void *)fs_real_init;

#define FS_REAL_RESOLVE(ret, name, args) \
	fs_real.name = (ret(*) args)fs_real_lookup(#name, self);
	FS_REAL_FUNCS(FS_REAL_RESOLVE)
#undef FS_REAL_RESOLVE
}
