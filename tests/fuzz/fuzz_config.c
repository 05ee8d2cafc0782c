/* Hostile configuration: what a user's environment, FASTSOCK_CONF file or
 * FASTSOCK_ACCEL rule list may hold. The first byte picks the way in:
 *   0: "NAME=value" lines as the environment (fs_cfg_parse);
 *   1: the bytes as a FASTSOCK_CONF file (a memfd), then fs_cfg_parse;
 *   2: the bytes as one rule list (fs_cfg_parse_rules).
 * Whatever comes, the parser must neither crash nor read or write past
 * what it owns (ASan and UBSan watch); a configuration it accepts is then
 * described and its rules matched against a few sockets. The variables
 * that open files by name (FASTSOCK_LOG_FILE, and FASTSOCK_CONF on the
 * environment way) are left out. Seeds: tests/fuzz/seeds_config.py. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../stack/config.h"
#include "../../stack/log.h"
#include "../../stack/rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define LINES_MAX 32

static bool
opens_files(const char *line)
{
	return strncmp(line, "FASTSOCK_LOG_FILE=", 18) == 0 ||
	       strncmp(line, "FASTSOCK_CONF=", 14) == 0;
}

/* Splits text (writable, NUL-terminated) into env entries at newlines. */
static void
parse_env(struct fs_config *c, char *text, const char *conf)
{
	char *env[LINES_MAX + 2], *line, *save = NULL;
	int n = 0;

	for (line = strtok_r(text, "\n", &save); line && n < LINES_MAX;
	     line = strtok_r(NULL, "\n", &save))
		if (!opens_files(line))
			env[n++] = line;
	if (conf)
		env[n++] = (char *)conf;
	env[n] = NULL;
	fs_cfg_parse(c, env);
}

/* A FASTSOCK_CONF file of these bytes: a memfd named by its /proc path. */
static void
parse_file(struct fs_config *c, const uint8_t *data, size_t size)
{
	char conf[64], none[1] = "";
	int fd = memfd_create("fuzz-conf", MFD_CLOEXEC);

	if (fd < 0)
		abort();
	if (write(fd, data, size) != (ssize_t)size)
		abort();
	snprintf(conf, sizeof(conf), "FASTSOCK_CONF=/proc/self/fd/%d", fd);
	parse_env(c, none, conf);
	close(fd);
}

static void
use(const struct fs_config *c)
{
	static const struct fs_sock_desc socks[] = {
		{FS_PROTO_UDP, FS_ROLE_SERVER, 0x01004d0a, 0, 5000, 0},
		{FS_PROTO_TCP, FS_ROLE_CLIENT, 0x01004d0a, 0x02004d0a, 40000, 80},
		{FS_PROTO_TCP, FS_ROLE_SERVER, 0, 0, 0, 0},
	};
	char out[4096];
	bool accel;
	size_t i;

	fs_cfg_describe(c, out, sizeof(out));
	for (i = 0; i < sizeof(socks) / sizeof(socks[0]); i++)
		fs_rules_match(c, &socks[i], &accel);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fs_config c;
	static int null_fd = -1;
	char *text;

	if (size < 1 || size > 8192)
		return 0;
	/* Quiet: the parser reports every bad value, thousands a second, and
	 * an input may lower the threshold (FASTSOCK_LOG_LEVEL): its lines are
	 * formatted and go nowhere. */
	if (null_fd < 0 && (null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC)) >= 0)
		fs_log_set_fd(null_fd);
	fs_log_threshold = (enum fs_log_level)-1;
	memset(&c, 0, sizeof(c));
	text = malloc(size);
	if (!text)
		abort();
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	switch (data[0] % 3) {
	case 0:
		parse_env(&c, text, NULL);
		break;
	case 1:
		parse_file(&c, data + 1, size - 1);
		break;
	default:
		fs_cfg_parse_rules(&c, "fuzz", text);
		break;
	}
	use(&c);
	free(text);
	return 0;
}
