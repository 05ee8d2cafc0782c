/* Ethernet frames from a hostile peer into the stack (the in-memory
 * device): ARP, ICMP, IPv4 with options and fragments, UDP to a bound
 * socket, TCP to a listener. Whatever arrives, the stack must neither
 * crash nor touch memory it does not own (ASan and UBSan watch); each
 * input is received, the stack's answers taken, the sockets drained.
 * Seeds: tests/fuzz/seeds.py. */
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include "../../stack/config.h"
#include "../../stack/memdev.h"
#include "../../stack/stack.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int udp = -1, lst = -1;

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
	if (!fs_stk)
		abort(); /* the stack must be the one answering */
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[FS_MTU_MAX + 18];
	char buf[2048];
	int c;

	if (size < 14 || size > FS_MTU_MAX + 18 || fs_memdev_inject(data, (uint16_t)size) < 0)
		return 0;
	fs_stk_lock();
	while (fs_memdev_rx_pending())
		fs_stk_poll_locked();
	fs_stk_unlock();
	while (fs_memdev_take(out, sizeof(out)) > 0)
		;
	while (recv(udp, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
		;
	while ((c = accept4(lst, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
		struct linger l = {1, 0}; /* a reset: no state left behind */

		recv(c, buf, sizeof(buf), 0);
		setsockopt(c, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
		close(c);
	}
	return 0;
}
