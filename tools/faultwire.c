/* faultwire: a user-space wire between two interfaces that loses,
 * duplicates, reorders, delays and corrupts frames, for the lab's fault
 * runs on kernels without tc netem (CONFIG_NET_SCH_NETEM unset here).
 *
 *   faultwire IFACE_A IFACE_B [loss=P] [dup=P] [reorder=P] [corrupt=P]
 *             [delay=US] [seed=N]
 *
 * Every frame read on one interface is written to the other, after the
 * faults, drawn independently per frame (P in percent, may be fractional):
 * loss drops it; corrupt flips one bit past the Ethernet header (the
 * frame still arrives, and its checksums no longer match); dup sends it
 * twice; reorder holds it back until the next frame of the same direction
 * has gone (or 1 ms, if none comes); delay holds every frame for US
 * microseconds. Runs until SIGINT or SIGTERM, then prints what it did to
 * stdout, one line per direction. Needs CAP_NET_RAW. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define FRAME_MAX 2048
#define SLOTS 8192 /* frames held (delayed or reordered) per direction */
#define REORDER_MAX_NS 1000000ull

struct frame {
	uint64_t due_ns;
	uint16_t len;
	unsigned char data[FRAME_MAX];
};

struct dir {
	const char *name;
	int in, out;
	/* Delayed frames, a FIFO (one delay for all keeps it in order). */
	struct frame *q;
	unsigned head, tail;
	/* The frame held back to be reordered, if any. */
	struct frame held;
	bool has_held;
	uint64_t frames, lost, dups, reordered, corrupted, overflow, too_big, send_err;
};

static struct {
	double loss, dup, reorder, corrupt; /* probabilities, 0..1 */
	uint64_t delay_ns;
	uint64_t rng;
} cfg = {.rng = 0x9e3779b97f4a7c15ull};

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t
now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* xorshift64*: enough for fault draws, and repeatable from a seed. */
static uint64_t
rnd(void)
{
	cfg.rng ^= cfg.rng >> 12;
	cfg.rng ^= cfg.rng << 25;
	cfg.rng ^= cfg.rng >> 27;
	return cfg.rng * 0x2545f4914f6cdd1dull;
}

static bool
chance(double p)
{
	return p > 0 && (double)(rnd() >> 11) / (double)(1ull << 53) < p;
}

static int
open_iface(const char *name)
{
	struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL)};
	struct packet_mreq mr = {.mr_type = PACKET_MR_PROMISC};
	int one = 1, fd;

	sll.sll_ifindex = (int)if_nametoindex(name);
	if (sll.sll_ifindex == 0) {
		fprintf(stderr, "faultwire: no interface %s\n", name);
		return -1;
	}
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ALL));
	if (fd < 0 || bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		fprintf(stderr, "faultwire: %s: %s\n", name, strerror(errno));
		return -1;
	}
	mr.mr_ifindex = sll.sll_ifindex;
	/* Our own transmissions on this interface are not frames to forward. */
	if (setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0) {
		fprintf(stderr, "faultwire: %s: %s\n", name, strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
	return fd;
}

static void
emit(struct dir *d, const struct frame *f)
{
	if (send(d->out, f->data, f->len, 0) < 0)
		d->send_err++;
}

/* Sends f now, or queues it for later when frames are delayed. */
static void
forward(struct dir *d, const struct frame *f, uint64_t now)
{
	struct frame *slot;

	if (cfg.delay_ns == 0) {
		emit(d, f);
		return;
	}
	if (d->tail - d->head == SLOTS) {
		d->overflow++; /* a full queue drops, as netem's limit does */
		return;
	}
	slot = &d->q[d->tail++ % SLOTS];
	memcpy(slot, f, offsetof(struct frame, data) + f->len);
	slot->due_ns = now + cfg.delay_ns;
}

static void
take(struct dir *d, struct frame *f, uint64_t now)
{
	d->frames++;
	if (chance(cfg.loss)) {
		d->lost++;
		return;
	}
	if (f->len > ETH_HLEN && chance(cfg.corrupt)) {
		unsigned at = ETH_HLEN + (unsigned)(rnd() % (f->len - ETH_HLEN));

		f->data[at] ^= (unsigned char)(1u << (rnd() % 8));
		d->corrupted++;
	}
	if (!d->has_held && chance(cfg.reorder)) {
		memcpy(&d->held, f, offsetof(struct frame, data) + f->len);
		d->held.due_ns = now + REORDER_MAX_NS;
		d->has_held = true;
		d->reordered++;
		return;
	}
	forward(d, f, now);
	if (chance(cfg.dup)) {
		forward(d, f, now);
		d->dups++;
	}
	if (d->has_held) { /* it goes after the frame that overtook it */
		d->has_held = false;
		forward(d, &d->held, now);
	}
}

/* Releases what is due; returns the nanoseconds until the next is. */
static uint64_t
release(struct dir *d, uint64_t now)
{
	uint64_t next = UINT64_MAX;

	if (d->has_held && d->held.due_ns <= now) {
		d->has_held = false;
		forward(d, &d->held, now);
	}
	if (d->has_held)
		next = d->held.due_ns - now;
	while (d->head != d->tail) {
		struct frame *f = &d->q[d->head % SLOTS];

		if (f->due_ns > now) {
			if (f->due_ns - now < next)
				next = f->due_ns - now;
			break;
		}
		emit(d, f);
		d->head++;
	}
	return next;
}

static void
receive(struct dir *d, struct frame *f)
{
	for (int i = 0; i < 64; i++) {
		struct sockaddr_ll from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(d->in, f->data, FRAME_MAX, MSG_TRUNC, (struct sockaddr *)&from, &fl);

		if (n < 0)
			return;
		if (n > FRAME_MAX) {
			d->too_big++;
			continue;
		}
		f->len = (uint16_t)n;
		take(d, f, now_ns());
	}
}

static int
parse(const char *arg)
{
	const char *eq = strchr(arg, '=');
	char *end;
	double v;

	if (!eq)
		return -1;
	v = strtod(eq + 1, &end);
	if (end == eq + 1 || *end != '\0' || v < 0)
		return -1;
	if (!strncmp(arg, "loss=", 5) && v <= 100)
		cfg.loss = v / 100;
	else if (!strncmp(arg, "dup=", 4) && v <= 100)
		cfg.dup = v / 100;
	else if (!strncmp(arg, "reorder=", 8) && v <= 100)
		cfg.reorder = v / 100;
	else if (!strncmp(arg, "corrupt=", 8) && v <= 100)
		cfg.corrupt = v / 100;
	else if (!strncmp(arg, "delay=", 6) && v <= 10e6)
		cfg.delay_ns = (uint64_t)(v * 1000);
	else if (!strncmp(arg, "seed=", 5) && v >= 1)
		cfg.rng = (uint64_t)v;
	else
		return -1;
	return 0;
}

int
main(int argc, char **argv)
{
	static struct frame scratch;
	struct dir d[2] = {{.name = argv[1]}, {.name = argc > 2 ? argv[2] : ""}};
	struct sigaction sa = {.sa_handler = on_signal};
	int i;

	if (argc < 3) {
		fprintf(stderr, "usage: faultwire IFACE_A IFACE_B [loss=P] [dup=P] [reorder=P] "
				"[corrupt=P] [delay=US] [seed=N]\n");
		return 2;
	}
	for (i = 3; i < argc; i++)
		if (parse(argv[i]) < 0) {
			fprintf(stderr, "faultwire: bad argument %s\n", argv[i]);
			return 2;
		}
	d[0].in = d[1].out = open_iface(argv[1]);
	d[1].in = d[0].out = open_iface(argv[2]);
	if (d[0].in < 0 || d[1].in < 0)
		return 1;
	for (i = 0; i < 2; i++) {
		d[i].q = cfg.delay_ns ? calloc(SLOTS, sizeof(struct frame)) : NULL;
		if (cfg.delay_ns && !d[i].q) {
			fprintf(stderr, "faultwire: out of memory\n");
			return 1;
		}
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	printf("faultwire: %s <-> %s up\n", argv[1], argv[2]);
	fflush(stdout);
	while (!stop) {
		struct pollfd p[2] = {{d[0].in, POLLIN, 0}, {d[1].in, POLLIN, 0}};
		uint64_t now = now_ns(), next = UINT64_MAX, n;
		struct timespec ts, *tsp = NULL;

		for (i = 0; i < 2; i++)
			if ((n = release(&d[i], now)) < next)
				next = n;
		if (next != UINT64_MAX) {
			ts.tv_sec = (time_t)(next / 1000000000u);
			ts.tv_nsec = (long)(next % 1000000000u);
			tsp = &ts;
		}
		if (ppoll(p, 2, tsp, NULL) < 0 && errno != EINTR)
			break;
		for (i = 0; i < 2; i++)
			if (p[i].revents & POLLIN)
				receive(&d[i], &scratch);
	}
	for (i = 0; i < 2; i++)
		printf("faultwire: %s -> %s: frames %llu, lost %llu, duplicated %llu, reordered %llu, "
		       "corrupted %llu, queue overflow %llu, too big %llu, send errors %llu\n",
		       d[i].name, d[1 - i].name, (unsigned long long)d[i].frames,
		       (unsigned long long)d[i].lost, (unsigned long long)d[i].dups,
		       (unsigned long long)d[i].reordered, (unsigned long long)d[i].corrupted,
		       (unsigned long long)d[i].overflow, (unsigned long long)d[i].too_big,
		       (unsigned long long)d[i].send_err);
	return 0;
}
