/* corebounce: how long one cache line takes to go from one CPU to another
 * and back, the floor under every cross-core message (a memif frame needs
 * several such trips each way). On a shared VM it depends on where the host
 * puts the two vCPUs, and changes while we run: scripts/compare prints it
 * beside each round so that a slow round can be told from a slow build.
 *
 *   corebounce [CPU_A CPU_B [ROUND_TRIPS]]   (default 0 1 200000)
 *
 * Prints the median nanoseconds per round trip of 9 batches. Exit 1 when a
 * CPU cannot be used. Not installed: a lab tool. */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define BATCHES 9

/* The two lines apart, so that only the bouncing moves them. */
static struct {
	_Alignas(64) volatile uint64_t ping;
	_Alignas(64) volatile uint64_t pong;
} line;

static long trips;

static cpu_set_t
just(int cpu)
{
	cpu_set_t one;

	CPU_ZERO(&one);
	if (cpu >= 0 && cpu < CPU_SETSIZE)
		CPU_SET(cpu, &one);
	return one;
}

static uint64_t
now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* The far side (created on its CPU): answers each ping with its number. */
static void *
echo(void *unused)
{
	uint64_t i, n = (uint64_t)trips * BATCHES;

	(void)unused;
	for (i = 1; i <= n; i++) {
		while (line.ping != i)
			;
		line.pong = i;
	}
	return NULL;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int
main(int argc, char **argv)
{
	int a = argc > 2 ? atoi(argv[1]) : 0, b = argc > 2 ? atoi(argv[2]) : 1;
	double ns[BATCHES];
	cpu_set_t here = just(a), there = just(b);
	uint64_t i = 0, t0;
	pthread_attr_t attr;
	pthread_t far;
	int k;

	trips = argc > 3 ? atol(argv[3]) : 200000;
	/* Two spinners on one CPU would pass the line once per time slice. */
	if (trips < 1 || a == b) {
		fprintf(stderr, "usage: corebounce [CPU_A CPU_B [ROUND_TRIPS]], two different CPUs\n");
		return 1;
	}
	if (pthread_setaffinity_np(pthread_self(), sizeof(here), &here) != 0) {
		fprintf(stderr, "corebounce: cannot run on CPU %d\n", a);
		return 1;
	}
	pthread_attr_init(&attr);
	if (pthread_attr_setaffinity_np(&attr, sizeof(there), &there) != 0 ||
	    pthread_create(&far, &attr, echo, NULL) != 0) {
		fprintf(stderr, "corebounce: cannot run on CPU %d\n", b);
		return 1;
	}
	pthread_attr_destroy(&attr);
	for (k = 0; k < BATCHES; k++) {
		long j;

		t0 = now_ns();
		for (j = 0; j < trips; j++) {
			line.ping = ++i;
			while (line.pong != i)
				;
		}
		ns[k] = (double)(now_ns() - t0) / (double)trips;
	}
	pthread_join(far, NULL);
	qsort(ns, BATCHES, sizeof(ns[0]), cmp);
	printf("%.0f\n", ns[BATCHES / 2]);
	return 0;
}
