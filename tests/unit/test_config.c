/* Every FASTSOCK_* variable with good and bad values: a good value is taken
 * exactly, a bad one gives one error line naming the variable and value and
 * leaves acceleration off. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <stdarg.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../stack/config.h"
#include "check_main.h"
#include "logcap.h"

static struct fs_config cfg;

/* Parses a NULL-terminated list of "NAME=value" strings. */
static int
parse(const char *first, ...)
{
	char *env[16];
	const char *s = first;
	int n = 0;
	va_list ap;

	va_start(ap, first);
	while (s && n < 15) {
		env[n++] = (char *)s;
		s = va_arg(ap, const char *);
	}
	va_end(ap);
	env[n] = NULL;
	logcap_start();
	return fs_cfg_parse(&cfg, env);
}

START_TEST(defaults)
{
	ck_assert_int_eq(parse(NULL), 0);
	ck_assert(cfg.ok);
	ck_assert_str_eq(cfg.dev, "");
	ck_assert_uint_eq(cfg.spin_us, FS_SPIN_US_DEFAULT);
	ck_assert_int_eq(cfg.log_level, FS_LOG_WARN);
	ck_assert_int_eq(cfg.nrules, 0);
	ck_assert_int_eq(cfg.eal_argc, 0);
	ck_assert_int_eq(cfg.progress_cpu, -1);
	ck_assert_uint_eq(cfg.rx_burst, FS_RX_BURST_DEFAULT);
	ck_assert_uint_eq(cfg.mbufs, FS_MBUFS_DEFAULT);
	ck_assert_uint_eq(cfg.mtu, FS_MTU_DEFAULT);
	ck_assert_uint_eq(cfg.tcp_exit_linger_ms, FS_TCP_EXIT_LINGER_MS_DEFAULT);
	ck_assert_int_eq(logcap_lines(), 0);
}
END_TEST

static const char *const good_env[][3] = {
	{"FASTSOCK_DEV=net_memif0,role=server,socket=/tmp/m.sock,socket-abstract=no",
	 "FASTSOCK_IP=10.77.0.1/24", NULL},
	{"FASTSOCK_DEV=net_memif0,role=server,socket=/run/fastsock/lab.sock",
	 "FASTSOCK_IP=10.77.0.2/24", NULL},
	{"FASTSOCK_DEV=net_af_xdp0,iface=veth0,busy_budget=0", "FASTSOCK_IP=192.168.7.1/30", NULL},
	{"FASTSOCK_DEV=0000:03:00.0", "FASTSOCK_IP=10.0.0.9/8", NULL},
	{"FASTSOCK_DEV=03:00.1", "FASTSOCK_IP=10.1.2.3/31", NULL},
	{"FASTSOCK_DEV=net_tap0", "FASTSOCK_IP=10.1.2.3/32", NULL},
	{"FASTSOCK_IP=10.77.0.2/24", "FASTSOCK_GW=10.77.0.1", NULL},
	{"FASTSOCK_MAC=02:00:00:00:00:01", NULL, NULL},
	{"FASTSOCK_MAC=aa:BB:cc:dd:ee:0F", NULL, NULL},
	{"FASTSOCK_EAL_ARGS=-l 1 --log-level=8", NULL, NULL},
	{"FASTSOCK_SPIN_US=0", NULL, NULL},
	{"FASTSOCK_SPIN_US=1000000", NULL, NULL},
	{"FASTSOCK_PROGRESS_CPU=0", "FASTSOCK_RX_BURST=1", "FASTSOCK_MBUFS=2047"},
	{"FASTSOCK_PROGRESS_CPU=1023", "FASTSOCK_RX_BURST=256", "FASTSOCK_MBUFS=262143"},
	{"FASTSOCK_MTU=576", NULL, NULL},
	{"FASTSOCK_MTU=9216", NULL, NULL},
	{"FASTSOCK_TCP_RTO_MIN_MS=1", NULL, NULL},
	{"FASTSOCK_TCP_RTO_MIN_MS=60000", NULL, NULL},
	{"FASTSOCK_TCP_EXIT_LINGER_MS=0", NULL, NULL},
	{"FASTSOCK_TCP_EXIT_LINGER_MS=60000", NULL, NULL},
	{"FASTSOCK_LOG=error", NULL, NULL},
	{"FASTSOCK_LOG=debug", NULL, NULL},
	{"FASTSOCK_ACCEL=accel", NULL, NULL},
	{"FASTSOCK_ACCEL=kernel proto=tcp remote=*:22; accel proto=udp local=*:5000-5999",
	 NULL, NULL},
	{"FASTSOCK_ACCEL=accel role=server local=10.77.0.0/24:80 remote=10.77.0.9;", NULL, NULL},
};

START_TEST(good_values)
{
	const char *const *e = good_env[_i];

	ck_assert_msg(parse(e[0], e[1], e[2], NULL) == 0, "%s: %s", e[0], logcap_text());
	ck_assert(cfg.ok);
	ck_assert_msg(logcap_lines() == 0, "%s logged: %s", e[0], logcap_text());
}
END_TEST

START_TEST(values_exact)
{
	ck_assert_int_eq(parse("FASTSOCK_DEV=net_memif0,role=client", "FASTSOCK_IP=10.77.0.2/24",
			       "FASTSOCK_GW=10.77.0.1", "FASTSOCK_MAC=02:00:00:00:00:0a",
			       "FASTSOCK_EAL_ARGS=-l 1  --log-level=8", "FASTSOCK_SPIN_US=250",
			       "FASTSOCK_LOG=info", "FASTSOCK_TCP_EXIT_LINGER_MS=0", NULL),
			 0);
	ck_assert_str_eq(cfg.dev, "net_memif0,role=client");
	ck_assert(!cfg.dev_is_pci);
	ck_assert_uint_eq(cfg.ip, inet_addr("10.77.0.2"));
	ck_assert_uint_eq(cfg.prefix, 24);
	ck_assert_uint_eq(cfg.gw, inet_addr("10.77.0.1"));
	ck_assert(cfg.mac_set);
	ck_assert_uint_eq(cfg.mac[5], 0x0a);
	ck_assert_int_eq(cfg.eal_argc, 3);
	ck_assert_str_eq(cfg.eal_argv[0], "-l");
	ck_assert_str_eq(cfg.eal_argv[2], "--log-level=8");
	ck_assert_uint_eq(cfg.spin_us, 250);
	ck_assert_uint_eq(cfg.tcp_exit_linger_ms, 0);
	ck_assert_int_eq(cfg.log_level, FS_LOG_INFO);
	fs_log_threshold = FS_LOG_WARN;

	ck_assert_int_eq(parse("FASTSOCK_DEV=0000:81:00.1", "FASTSOCK_IP=10.0.0.1/16", NULL), 0);
	ck_assert(cfg.dev_is_pci);
}
END_TEST

START_TEST(rules_exact)
{
	struct fs_rule *r;

	ck_assert_int_eq(parse("FASTSOCK_ACCEL=kernel proto=tcp remote=*:22; "
			       "accel proto=udp role=client local=10.77.0.0/16:5000-5999",
			       NULL),
			 0);
	ck_assert_int_eq(cfg.nrules, 2);
	r = &cfg.rules[0];
	ck_assert(!r->accel);
	ck_assert_int_eq(r->proto, FS_PROTO_TCP);
	ck_assert_int_eq(r->role, FS_ROLE_ANY);
	ck_assert_uint_eq(r->remote.prefix, 0);
	ck_assert_uint_eq(r->remote.port_lo, 22);
	ck_assert_uint_eq(r->remote.port_hi, 22);
	ck_assert_uint_eq(r->local.port_hi, 65535);
	r = &cfg.rules[1];
	ck_assert(r->accel);
	ck_assert_int_eq(r->proto, FS_PROTO_UDP);
	ck_assert_int_eq(r->role, FS_ROLE_CLIENT);
	ck_assert_uint_eq(r->local.addr, inet_addr("10.77.0.0"));
	ck_assert_uint_eq(r->local.prefix, 16);
	ck_assert_uint_eq(r->local.port_lo, 5000);
	ck_assert_uint_eq(r->local.port_hi, 5999);
}
END_TEST

/* {variable=value, text the error line must contain} */
static const char *const bad_env[][2] = {
	{"FASTSOCK_DEV=eth0", "FASTSOCK_DEV=\"eth0\""},
	{"FASTSOCK_DEV=net_", "PCI address"},
	{"FASTSOCK_DEV=net_memif0,role", "net_memif0"},
	{"FASTSOCK_DEV=net_memif0,=x", "net_memif0"},
	{"FASTSOCK_DEV=net_memif0,role=a b", "vdev"},
	{"FASTSOCK_DEV=0000:03:40.0", "PCI address"},
	{"FASTSOCK_DEV=", "FASTSOCK_DEV=\"\""},
	{"FASTSOCK_IP=10.77.0.2", "ADDRESS/PREFIX"},
	{"FASTSOCK_IP=10.77.0.256/24", "ADDRESS/PREFIX"},
	{"FASTSOCK_IP=10.77.0.2/33", "ADDRESS/PREFIX"},
	{"FASTSOCK_IP=10.77.0.2/0", "ADDRESS/PREFIX"},
	{"FASTSOCK_IP=10.77.0.2/24x", "ADDRESS/PREFIX"},
	{"FASTSOCK_IP=010.77.0.2/24", "ADDRESS/PREFIX"},
	{"FASTSOCK_IP=10.77.0/24", "ADDRESS/PREFIX"},
	{"FASTSOCK_IP=10.77.0.0/24", "network or broadcast"},
	{"FASTSOCK_IP=10.77.0.255/24", "network or broadcast"},
	{"FASTSOCK_IP=224.0.0.1/24", "unicast"},
	{"FASTSOCK_IP=0.1.2.3/8", "unicast"},
	{"FASTSOCK_GW=10.77.0", "IPv4 address"},
	{"FASTSOCK_GW=0.0.0.0", "IPv4 address"},
	{"FASTSOCK_MAC=02:00:00:00:00", "unicast MAC"},
	{"FASTSOCK_MAC=01:00:5e:00:00:01", "unicast MAC"},
	{"FASTSOCK_MAC=00:00:00:00:00:00", "unicast MAC"},
	{"FASTSOCK_MAC=02-00-00-00-00-01", "unicast MAC"},
	{"FASTSOCK_MAC=02:00:00:00:00:0g", "unicast MAC"},
	{"FASTSOCK_EAL_ARGS=a b c d e f g h i j k l m n o p q r s t u v w x y z 1 2 3 4 5 6 7",
	 "at most 32"},
	{"FASTSOCK_SPIN_US=abc", "integer from 0 to 1000000"},
	{"FASTSOCK_SPIN_US=-1", "integer from 0 to 1000000"},
	{"FASTSOCK_SPIN_US=1000001", "integer from 0 to 1000000"},
	{"FASTSOCK_SPIN_US=10us", "integer from 0 to 1000000"},
	{"FASTSOCK_SPIN_US=", "integer from 0 to 1000000"},
	{"FASTSOCK_SPIN_US=99999999999", "integer from 0 to 1000000"},
	{"FASTSOCK_PROGRESS_CPU=-1", "CPU number"},
	{"FASTSOCK_PROGRESS_CPU=1024", "CPU number"},
	{"FASTSOCK_PROGRESS_CPU=one", "CPU number"},
	{"FASTSOCK_RX_BURST=0", "from 1 to 256"},
	{"FASTSOCK_RX_BURST=257", "from 1 to 256"},
	{"FASTSOCK_MBUFS=2046", "from 2047 to 262143"},
	{"FASTSOCK_MBUFS=1000000", "from 2047 to 262143"},
	{"FASTSOCK_MBUFS=8k", "from 2047 to 262143"},
	{"FASTSOCK_MTU=575", "from 576 to 9216"},
	{"FASTSOCK_MTU=9217", "from 576 to 9216"},
	{"FASTSOCK_MTU=9k", "from 576 to 9216"},
	{"FASTSOCK_TCP_RTO_MIN_MS=0", "from 1 to 60000"},
	{"FASTSOCK_TCP_RTO_MIN_MS=60001", "from 1 to 60000"},
	{"FASTSOCK_TCP_RTO_MIN_MS=10ms", "from 1 to 60000"},
	{"FASTSOCK_TCP_EXIT_LINGER_MS=60001", "from 0 to 60000"},
	{"FASTSOCK_TCP_EXIT_LINGER_MS=-1", "from 0 to 60000"},
	{"FASTSOCK_LOG=verbose", "error, warn, info or debug"},
	{"FASTSOCK_LOG=", "error, warn, info or debug"},
	{"FASTSOCK_LOG_FILE=", "file path"},
	{"FASTSOCK_LOG_FILE=/nonexistent-dir/x.log", "cannot open"},
	{"FASTSOCK_ACCEL=fast", "rule 1"},
	{"FASTSOCK_ACCEL=accel proto=sctp", "bad token \"proto=sctp\""},
	{"FASTSOCK_ACCEL=accel; kernel role=peer", "rule 2"},
	{"FASTSOCK_ACCEL=accel local=10.0.0.1/40", "local=10.0.0.1/40"},
	{"FASTSOCK_ACCEL=accel local=*:70000", "local=*:70000"},
	{"FASTSOCK_ACCEL=accel local=*:90-80", "local=*:90-80"},
	{"FASTSOCK_ACCEL=accel remote=10.1.1:80", "remote=10.1.1:80"},
	{"FASTSOCK_ACCEL=accel colour=red", "colour=red"},
	{"FASTSOCK_CONF=/nonexistent/fastsock.conf", "cannot open"},
	{"FASTSOCK_CONF=", "rules file path"},
};

START_TEST(bad_values)
{
	const char *e = bad_env[_i][0], *want = bad_env[_i][1];
	char name[64];

	snprintf(name, sizeof(name), "%.*s", (int)(strchr(e, '=') - e), e);
	ck_assert_int_eq(parse(e, NULL), 1);
	ck_assert(!cfg.ok);
	ck_assert_msg(logcap_lines() == 1, "%s: want one line, got: %s", e, logcap_text());
	ck_assert_msg(strstr(logcap_text(), name) != NULL, "%s: line lacks the name: %s", e,
		      logcap_text());
	ck_assert_msg(strstr(logcap_text(), want) != NULL, "%s: line lacks \"%s\": %s", e, want,
		      logcap_text());
	ck_assert_msg(strstr(logcap_text(), "runs on the kernel") != NULL, "%s", logcap_text());
	ck_assert_msg(strncmp(logcap_text(), "fastsock[", 9) == 0, "%s", logcap_text());
}
END_TEST

START_TEST(dev_needs_ip)
{
	ck_assert_int_eq(parse("FASTSOCK_DEV=net_memif0", NULL), 1);
	ck_assert(!cfg.ok);
	ck_assert_ptr_nonnull(strstr(logcap_text(), "FASTSOCK_IP is not"));
}
END_TEST

START_TEST(gw_outside_subnet)
{
	ck_assert_int_eq(parse("FASTSOCK_IP=10.77.0.2/24", "FASTSOCK_GW=10.78.0.1", NULL), 1);
	ck_assert(!cfg.ok);
	ck_assert_ptr_nonnull(strstr(logcap_text(), "outside"));
}
END_TEST

START_TEST(unknown_names)
{
	static const char *const cases[][2] = {
		{"FASTSOCK_LGO=info", "FASTSOCK_LOG"},
		{"FASTSOCK_SPIN_USEC=5", "FASTSOCK_SPIN_US"},
		{"FASTSOCK_DEVICE=x", "FASTSOCK_DEV"},
		{"FASTSOCK_EAL_ARG=-l1", "FASTSOCK_EAL_ARGS"},
		{"FASTSOCK_LOGFILE=/tmp/x", "FASTSOCK_LOG_FILE"},
	};
	unsigned i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char want[80];

		ck_assert_int_eq(parse(cases[i][0], NULL), 0);
		ck_assert(cfg.ok); /* a warning, not an error */
		snprintf(want, sizeof(want), "did you mean %s?", cases[i][1]);
		ck_assert_msg(strstr(logcap_text(), want) != NULL, "%s: %s", cases[i][0],
			      logcap_text());
		ck_assert_int_eq(logcap_lines(), 1);
	}
	/* FASTSOCK_LOG=error silences the warning. */
	ck_assert_int_eq(parse("FASTSOCK_LGO=1", "FASTSOCK_LOG=error", NULL), 0);
	ck_assert_int_eq(logcap_lines(), 0);
	fs_log_threshold = FS_LOG_WARN;
	/* Other prefixes are not ours. */
	ck_assert_int_eq(parse("FASTSOCKET=1", "PATH=/bin", NULL), 0);
	ck_assert_int_eq(logcap_lines(), 0);
}
END_TEST

START_TEST(conf_file)
{
	char path[] = "/tmp/fs-test-conf-XXXXXX";
	int fd = mkstemp(path);
	char env[64];
	const char text[] = "# comment\n\nkernel proto=tcp remote=*:22   # ssh\n"
			    "accel proto=udp\n";

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, sizeof(text) - 1), (int)sizeof(text) - 1);
	close(fd);
	snprintf(env, sizeof(env), "FASTSOCK_CONF=%s", path);
	ck_assert_int_eq(parse(env, "FASTSOCK_ACCEL=accel proto=tcp local=*:80", NULL), 0);
	ck_assert_int_eq(cfg.nrules, 3); /* inline first, then the file */
	ck_assert_int_eq(cfg.rules[0].local.port_lo, 80);
	ck_assert(!cfg.rules[1].accel);

	fd = open(path, O_WRONLY | O_APPEND);
	ck_assert_int_eq(write(fd, "accel proto=xyz\n", 16), 16);
	close(fd);
	ck_assert_int_eq(parse(env, NULL), 1);
	ck_assert_msg(strstr(logcap_text(), ":5: rule 1") != NULL, "%s", logcap_text());
	unlink(path);
}
END_TEST

START_TEST(log_file)
{
	char path[] = "/tmp/fs-test-log-XXXXXX";
	int fd = mkstemp(path);
	char env[64], buf[256] = {0};

	close(fd);
	snprintf(env, sizeof(env), "FASTSOCK_LOG_FILE=%s", path);
	ck_assert_int_eq(parse(env, "FASTSOCK_SPIN_US=x", NULL), 1);
	ck_assert_str_eq(cfg.log_file, path);
	fd = open(path, O_RDONLY);
	ck_assert_int_gt(read(fd, buf, sizeof(buf) - 1), 0);
	close(fd);
	ck_assert_ptr_nonnull(strstr(buf, "FASTSOCK_SPIN_US=\"x\""));
	ck_assert_int_eq(logcap_lines(), 0); /* went to the file instead */
	unlink(path);
}
END_TEST

START_TEST(describe_lists_what_differs)
{
	char buf[512];

	ck_assert_int_eq(parse(NULL), 0);
	fs_cfg_describe(&cfg, buf, sizeof(buf));
	ck_assert_str_eq(buf, "");
	ck_assert_int_eq(parse("FASTSOCK_DEV=net_memif0", "FASTSOCK_IP=10.77.0.2/24",
			       "FASTSOCK_SPIN_US=50", "FASTSOCK_LOG=info", "FASTSOCK_EAL_ARGS=-l 1",
			       "FASTSOCK_ACCEL=kernel proto=tcp", NULL),
			 0);
	fs_log_threshold = FS_LOG_WARN;
	fs_cfg_describe(&cfg, buf, sizeof(buf));
	/* SPIN_US=50 is the default: not listed. */
	ck_assert_str_eq(buf, "FASTSOCK_DEV=net_memif0 FASTSOCK_IP=10.77.0.2/24 FASTSOCK_LOG=info "
			      "FASTSOCK_EAL_ARGS=\"-l 1\" rules=1");
	fs_cfg_describe(&cfg, buf, 10); /* truncated, still terminated */
	ck_assert_uint_eq(strlen(buf), 9);
}
END_TEST

START_TEST(every_name_documented)
{
	/* docs/configuration.md must list every variable the parser knows. */
	FILE *f = fopen(SOURCE_ROOT "/docs/configuration.md", "r");
	static char doc[65536];
	size_t n;
	int i;

	ck_assert_ptr_nonnull(f);
	n = fread(doc, 1, sizeof(doc) - 1, f);
	doc[n] = '\0';
	fclose(f);
	for (i = 0; fs_cfg_names[i]; i++) {
		char head[80];

		snprintf(head, sizeof(head), "`%s`", fs_cfg_names[i]);
		ck_assert_msg(strstr(doc, head) != NULL, "%s undocumented", fs_cfg_names[i]);
	}
}
END_TEST

static Suite *
make_suite(void)
{
	Suite *s = suite_create("config");
	TCase *t = tcase_create("parse");

	tcase_add_test(t, defaults);
	tcase_add_loop_test(t, good_values, 0, sizeof(good_env) / sizeof(good_env[0]));
	tcase_add_test(t, values_exact);
	tcase_add_test(t, rules_exact);
	tcase_add_loop_test(t, bad_values, 0, sizeof(bad_env) / sizeof(bad_env[0]));
	tcase_add_test(t, dev_needs_ip);
	tcase_add_test(t, gw_outside_subnet);
	tcase_add_test(t, unknown_names);
	tcase_add_test(t, conf_file);
	tcase_add_test(t, log_file);
	tcase_add_test(t, describe_lists_what_differs);
	tcase_add_test(t, every_name_documented);
	suite_add_tcase(s, t);
	return s;
}
