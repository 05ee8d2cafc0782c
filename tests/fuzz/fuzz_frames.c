/* Ethernet frames from a hostile peer into the stack (the in-memory
 * device): ARP, ICMP, IPv4 with options and fragments, UDP to a bound
 * socket, TCP to a listener. Whatever arrives, the stack must neither
 * crash nor touch memory it does not own (ASan and UBSan watch); each
 * input is received, the stack's answers taken, the sockets drained.
 *
 * An input that starts with 'L' is a series of segments for a live
 * connection instead (made for the input, reset after it), so that the
 * mutations reach an established connection's code rather than the
 * listener's: flags, sequence and acknowledgement numbers as offsets
 * from what the stack expects and has sent, window, options and payload
 * (struct live_rec), checksums made right; after each, our end may send
 * (so that ACKs, windows and retransmissions have data to act on) and
 * read. Seeds: tests/fuzz/seeds.py. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include "../../stack/config.h"
#include "../../stack/memdev.h"
#include "../../stack/stack.h"
#include "../unit/frames.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int udp = -1, lst = -1, lst_live = -1;

#define LIVE_PORT 81

/* The live connection: our fd, the peer's port, the next sequence number
 * the stack expects of the peer (its last ACK) and the next it sends. */
static struct {
	int fd;
	uint16_t pport;
	uint32_t peer_next, our_next;
} live = {.fd = -1, .pport = 40000};

/* Lets the stack handle what was injected and what our end sent, then
 * takes its frames, following the live connection's numbers in those
 * sent to the peer's port. */
static void
settle(void)
{
	static uint8_t out[FS_MTU_MAX + 18];
	int n;

	fs_stk_lock();
	while (fs_memdev_rx_pending())
		fs_stk_poll_locked();
	fs_stk_poll_locked(); /* and what our end sent */
	fs_stk_unlock();
	while ((n = fs_memdev_take(out, sizeof(out))) > 0) {
		const uint8_t *ip = out + 14, *t;
		uint32_t seq, end;
		int ihl, len;

		if (n < 54 || out[12] != 0x08 || out[13] != 0x00 || ip[9] != 6)
			continue;
		ihl = (ip[0] & 15) * 4;
		t = ip + ihl;
		if (14 + ihl + 20 > n || (t[2] << 8 | t[3]) != live.pport)
			continue;
		len = (ip[2] << 8 | ip[3]) - ihl - (t[12] >> 4) * 4;
		seq = (uint32_t)t[4] << 24 | (uint32_t)t[5] << 16 | (uint32_t)t[6] << 8 | t[7];
		end = seq + (uint32_t)(len > 0 ? len : 0) + ((t[13] & 0x03) ? 1 : 0);
		if ((int32_t)(end - live.our_next) > 0)
			live.our_next = end;
		if (t[13] & 0x10)
			live.peer_next = (uint32_t)t[8] << 24 | (uint32_t)t[9] << 16 |
					 (uint32_t)t[10] << 8 | t[11];
	}
}

/* Closes a connection of ours with a reset: no state left behind. */
static void
reset_close(int fd)
{
	struct linger l = {1, 0};

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(fd);
}

static void
live_drop(void)
{
	if (live.fd >= 0)
		reset_close(live.fd);
	live.fd = -1;
	settle();
}

/* A new connection from a new peer port to LIVE_PORT, through the
 * handshake. */
static void
live_make(void)
{
	static const uint8_t opt[4] = {2, 4, 0x05, 0xb4};
	uint8_t f[128];
	int c;

	/* What mutated frames queued on the listener: reset. */
	while ((c = accept4(lst_live, NULL, NULL, SOCK_NONBLOCK)) >= 0)
		reset_close(c);
	live.pport = (uint16_t)(live.pport == 60000 ? 40000 : live.pport + 1);
	live.our_next = 0;
	/* The peer's address may have left lwIP's neighbours meanwhile. */
	fs_memdev_inject(f, (uint16_t)arp_request(f));
	settle();
	if (fs_memdev_inject(f, (uint16_t)tcp_frame(f, live.pport, LIVE_PORT, 1000, 0, 0x02, 65535,
						    opt, 4, NULL, 0)) < 0)
		return;
	settle(); /* the SYN-ACK: our_next, peer_next */
	if (!live.our_next)
		return;
	fs_memdev_inject(f, (uint16_t)tcp_frame(f, live.pport, LIVE_PORT, 1001, live.our_next,
						 0x10, 65535, NULL, 0, NULL, 0));
	settle();
	live.fd = accept4(lst_live, NULL, NULL, SOCK_NONBLOCK);
}

/* A live input after its 'L': records, each a header, then optlen words
 * of options, then len bytes of payload (cut to what is left). */
struct live_rec {
	uint8_t flags;
	uint8_t seq_off[2], ack_off[2]; /* signed, from peer_next and our_next */
	uint8_t win[2];
	uint8_t optlen;	/* in 4-byte words, at most 10 */
	uint8_t len[2]; /* payload, at most 1400 */
	uint8_t act;	/* 1: our end sends 300 bytes after it, 2: and reads */
};

/* Each live input on a connection of its own (made, then reset), so that
 * a crash file replays alone. */
static void
live_input(const uint8_t *data, size_t size)
{
	static uint8_t f[FS_MTU_MAX + 18];
	const uint8_t *p = data + 1, *end = data + size;
	char buf[4096];

	live_make();
	if (live.fd < 0)
		return;
	while ((size_t)(end - p) >= sizeof(struct live_rec)) {
		const struct live_rec *in = (const void *)p;
		size_t optlen = (size_t)(in->optlen % 11) * 4, len = (size_t)(in->len[0] << 8 | in->len[1]);
		ssize_t r;

		p += sizeof(*in);
		if (optlen > (size_t)(end - p))
			optlen = (size_t)(end - p) & ~(size_t)3;
		if (len > (size_t)(end - p) - optlen)
			len = (size_t)(end - p) - optlen;
		if (len > 1400)
			len = 1400;
		fs_memdev_inject(f, (uint16_t)tcp_frame(
					    f, live.pport, LIVE_PORT,
					    live.peer_next + (uint32_t)(int16_t)(in->seq_off[0] << 8 | in->seq_off[1]),
					    live.our_next + (uint32_t)(int16_t)(in->ack_off[0] << 8 | in->ack_off[1]),
					    in->flags, (uint16_t)(in->win[0] << 8 | in->win[1]), p, optlen,
					    p + optlen, len));
		p += optlen + len;
		settle();
		if (in->act & 1) {
			memset(buf, 'x', 300);
			send(live.fd, buf, 300, MSG_DONTWAIT | MSG_NOSIGNAL);
			settle();
		}
		if (in->act & 2) {
			while ((r = recv(live.fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
				;
			if (r == 0 || (r < 0 && errno != EAGAIN))
				break;
		}
	}
	live_drop();
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x0a4d0001)};

	(void)argc;
	(void)argv;
	setenv("FASTSOCK_DEV", "net_memif0", 1);
	setenv("FASTSOCK_IP", "10.77.0.1/24", 1);
	setenv("FASTSOCK_LOG", "error", 1);
	udp = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	a.sin_port = htons(7);
	if (udp < 0 || bind(udp, (struct sockaddr *)&a, sizeof(a)) < 0)
		abort();
	lst = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	a.sin_port = htons(80);
	if (lst < 0 || bind(lst, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lst, 64) < 0)
		abort();
	lst_live = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	a.sin_port = htons(LIVE_PORT);
	if (lst_live < 0 || bind(lst_live, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(lst_live, 4) < 0)
		abort();
	if (!fs_stk)
		abort(); /* the stack must be the one answering */
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char buf[2048];
	int c;

	if (size > 1 && data[0] == 'L') {
		live_input(data, size);
		return 0;
	}
	if (size < 14 || size > FS_MTU_MAX + 18 || fs_memdev_inject(data, (uint16_t)size) < 0)
		return 0;
	settle();
	while (recv(udp, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
		;
	while ((c = accept4(lst, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
		recv(c, buf, sizeof(buf), 0);
		reset_close(c);
	}
	return 0;
}
