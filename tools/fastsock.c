/* fastsock: run a program with libfastsock.so preloaded and a profile of
 * FASTSOCK_* settings, as `onload -p latency app` does for Onload.
 *
 *   fastsock [--profile latency|throughput|balanced] [--dev SPEC]
 *            [--ip ADDR/PREFIX] [--verbose] [--] program [args...]
 *
 * Precedence: --dev and --ip, then FASTSOCK_* variables already in the
 * environment, then the profile. The resulting configuration is validated
 * with the library's own parser before the program starts. */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../stack/config.h"

extern char **environ;

struct setting {
	const char *name, *value;
};

struct profile {
	const char *name, *what;
	struct setting set[4];
};

/* FASTSOCK_PROGRESS_CPU for the latency profile is chosen at run time. */
static const struct profile profiles[] = {
	{"balanced", "a short spin (50 us), then sleep: the default", {{0}}},
	{"latency", "spin up to 1 s before sleeping; progress thread on a core of its own",
	 {{"FASTSOCK_SPIN_US", "1000000"}}},
	{"throughput", "bigger receive bursts and pool; a 200 us spin",
	 {{"FASTSOCK_RX_BURST", "64"}, {"FASTSOCK_MBUFS", "32767"}, {"FASTSOCK_SPIN_US", "200"}}},
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: fastsock [--profile latency|throughput|balanced] [--dev SPEC] "
		   "[--ip ADDR/PREFIX] [--verbose] [--] program [args...]\n");
}

static void
help(void)
{
	size_t i;

	usage(stdout);
	printf("\nRuns program with libfastsock.so preloaded.\n\n"
	       "  -p, --profile NAME  a set of FASTSOCK_* settings (default balanced):\n");
	for (i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++)
		printf("        %-11s %s\n", profiles[i].name, profiles[i].what);
	printf("  -d, --dev SPEC      FASTSOCK_DEV: a DPDK vdev or PCI address\n"
	       "  -i, --ip ADDR/PREF  FASTSOCK_IP: the accelerated interface's address\n"
	       "  -v, --verbose       print the effective settings before starting\n"
	       "  -h, --help          this text\n\n"
	       "Variables already set in the environment win over the profile; --dev\n"
	       "and --ip win over both. See docs/fastsock.md and docs/configuration.md.\n");
}

/* libfastsock.so beside us, in the build tree, in the libdir of the prefix
 * we are installed in (found relative to us, so a moved or DESTDIR install
 * works), or in the configured prefix. */
static int
find_library(char *out, size_t len)
{
	static const char *const rel[] = {"libfastsock.so", "../preload/libfastsock.so",
					  FS_LIBDIR_REL "/libfastsock.so", "../lib/libfastsock.so"};
	char exe[PATH_MAX], *dir;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	size_t i;

	if (n > 0) {
		exe[n] = '\0';
		dir = dirname(exe);
		for (i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
			char p[PATH_MAX + 64];

			snprintf(p, sizeof(p), "%s/%s", dir, rel[i]);
			if (access(p, R_OK) == 0 && realpath(p, out))
				return 0;
		}
	}
	snprintf(out, len, "%s/libfastsock.so", FS_LIBDIR);
	return access(out, R_OK) == 0 ? 0 : -1;
}

/* A CPU for the progress thread other than the first one we may use. */
static int
second_cpu(void)
{
	cpu_set_t s;
	int i, seen = 0;

	if (sched_getaffinity(0, sizeof(s), &s) < 0)
		return -1;
	for (i = 0; i < CPU_SETSIZE; i++)
		if (CPU_ISSET(i, &s) && seen++ == 1)
			return i;
	return -1;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"profile", required_argument, 0, 'p'}, {"dev", required_argument, 0, 'd'},
		{"ip", required_argument, 0, 'i'},	{"verbose", no_argument, 0, 'v'},
		{"help", no_argument, 0, 'h'},		{0, 0, 0, 0},
	};
	const struct profile *prof = &profiles[0];
	const char *dev = NULL, *ip = NULL;
	char lib[PATH_MAX], preload[PATH_MAX * 2], cpu[16];
	struct fs_config cfg;
	int c, verbose = 0;
	size_t i;

	while ((c = getopt_long(argc, argv, "+p:d:i:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			for (i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++)
				if (strcmp(optarg, profiles[i].name) == 0)
					break;
			if (i == sizeof(profiles) / sizeof(profiles[0])) {
				fprintf(stderr, "fastsock: unknown profile \"%s\"\n", optarg);
				usage(stderr);
				return 2;
			}
			prof = &profiles[i];
			break;
		case 'd':
			dev = optarg;
			break;
		case 'i':
			ip = optarg;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'h':
			help();
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "fastsock: no program to run\n");
		usage(stderr);
		return 2;
	}
	if (find_library(lib, sizeof(lib)) < 0) {
		fprintf(stderr, "fastsock: cannot find libfastsock.so beside %s or in %s\n", argv[0],
			FS_LIBDIR);
		return 2;
	}
	if (dev)
		setenv("FASTSOCK_DEV", dev, 1);
	if (ip)
		setenv("FASTSOCK_IP", ip, 1);
	for (i = 0; i < sizeof(prof->set) / sizeof(prof->set[0]) && prof->set[i].name; i++)
		setenv(prof->set[i].name, prof->set[i].value, 0);
	if (strcmp(prof->name, "latency") == 0 && second_cpu() >= 0) {
		snprintf(cpu, sizeof(cpu), "%d", second_cpu());
		setenv("FASTSOCK_PROGRESS_CPU", cpu, 0);
	}
	/* The library's own parser judges the result; its lines say what is
	 * wrong. A launcher refuses to start instead of running on the kernel. */
	if (fs_cfg_parse(&cfg, environ) != 0) {
		fprintf(stderr, "fastsock: not starting %s with an invalid configuration\n",
			argv[optind]);
		usage(stderr);
		return 2;
	}
	if (getenv("LD_PRELOAD") && *getenv("LD_PRELOAD"))
		snprintf(preload, sizeof(preload), "%s:%s", lib, getenv("LD_PRELOAD"));
	else
		snprintf(preload, sizeof(preload), "%s", lib);
	setenv("LD_PRELOAD", preload, 1);
	if (verbose) {
		char **e, *list[256];
		size_t n = 0;

		fprintf(stderr, "fastsock: profile %s (%s)\n", prof->name, prof->what);
		fprintf(stderr, "fastsock: LD_PRELOAD=%s\n", preload);
		for (e = environ; *e && n < 256; e++)
			if (strncmp(*e, "FASTSOCK_", 9) == 0)
				list[n++] = *e;
		qsort(list, n, sizeof(list[0]), cmp_str);
		for (i = 0; i < n; i++)
			fprintf(stderr, "fastsock: %s\n", list[i]);
		if (!cfg.dev[0])
			fprintf(stderr, "fastsock: FASTSOCK_DEV unset: every socket stays on the kernel\n");
	}
	execvp(argv[optind], argv + optind);
	fprintf(stderr, "fastsock: cannot run %s: %s\n", argv[optind], strerror(errno));
	return 127;
}
