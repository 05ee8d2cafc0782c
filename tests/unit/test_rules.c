/* Rule matching, table-driven: each row is a rule list, a socket, and the
 * verdict and rule index the first match must give. */
#include <arpa/inet.h>
#include <stdio.h>

#include "../../stack/rules.h"
#include "check_main.h"
#include "logcap.h"

struct row {
	const char *rules;
	enum fs_proto proto;
	enum fs_role role;
	const char *laddr, *raddr;
	uint16_t lport, rport;
	bool accel;
	int index;
};

#define U FS_PROTO_UDP
#define T FS_PROTO_TCP
#define S FS_ROLE_SERVER
#define C FS_ROLE_CLIENT

static const struct row rows[] = {
	/* No rules: everything of the interface is accelerated. */
	{"", U, S, "10.77.0.1", "0.0.0.0", 5000, 0, true, -1},
	{"kernel", U, C, "10.77.0.1", "10.77.0.9", 0, 53, false, 0},
	{"kernel proto=tcp", U, C, "10.77.0.1", "10.77.0.9", 0, 53, true, -1},
	{"kernel proto=tcp", T, C, "10.77.0.1", "10.77.0.9", 0, 53, false, 0},
	{"kernel role=server", U, C, "10.77.0.1", "10.77.0.9", 0, 53, true, -1},
	{"kernel role=server", U, S, "10.77.0.1", "0.0.0.0", 5000, 0, false, 0},
	/* First match wins. */
	{"accel local=*:5000; kernel", U, S, "10.77.0.1", "0.0.0.0", 5000, 0, true, 0},
	{"accel local=*:5000; kernel", U, S, "10.77.0.1", "0.0.0.0", 5001, 0, false, 1},
	{"kernel remote=*:22; accel proto=udp", U, C, "10.77.0.1", "10.77.0.5", 0, 22, false, 0},
	{"kernel remote=*:22; accel proto=udp", U, C, "10.77.0.1", "10.77.0.5", 0, 23, true, 1},
	/* Port ranges, inclusive at both ends. */
	{"kernel local=*:5000-5999", U, S, "10.77.0.1", "0.0.0.0", 4999, 0, true, -1},
	{"kernel local=*:5000-5999", U, S, "10.77.0.1", "0.0.0.0", 5000, 0, false, 0},
	{"kernel local=*:5000-5999", U, S, "10.77.0.1", "0.0.0.0", 5999, 0, false, 0},
	{"kernel local=*:5000-5999", U, S, "10.77.0.1", "0.0.0.0", 6000, 0, true, -1},
	/* Prefixes. */
	{"kernel remote=10.77.0.0/28", U, C, "10.77.0.1", "10.77.0.15", 0, 9, false, 0},
	{"kernel remote=10.77.0.0/28", U, C, "10.77.0.1", "10.77.0.16", 0, 9, true, -1},
	{"kernel remote=10.77.0.9", U, C, "10.77.0.1", "10.77.0.9", 0, 9, false, 0},
	{"kernel remote=10.77.0.9", U, C, "10.77.0.1", "10.77.0.8", 0, 9, true, -1},
	{"kernel local=10.77.0.1/32:80", T, S, "10.77.0.1", "0.0.0.0", 80, 0, false, 0},
	/* A field the socket cannot answer yet does not match. */
	{"kernel remote=10.77.0.9", U, S, "10.77.0.1", "0.0.0.0", 5000, 0, true, -1},
	{"kernel local=*:5000", U, C, "10.77.0.1", "10.77.0.9", 0, 9, true, -1},
	{"kernel remote=*", U, S, "10.77.0.1", "0.0.0.0", 5000, 0, false, 0},
};

START_TEST(table)
{
	const struct row *r = &rows[_i];
	struct fs_config c = {0};
	struct fs_sock_desc d = {r->proto, r->role, inet_addr(r->laddr), inet_addr(r->raddr),
				 r->lport, r->rport};
	bool accel = !r->accel;
	int idx;

	logcap_start();
	ck_assert_int_eq(fs_cfg_parse_rules(&c, "test", r->rules), 0);
	idx = fs_rules_match(&c, &d, &accel);
	ck_assert_msg(idx == r->index && accel == r->accel,
		      "rules \"%s\": got rule %d accel %d, want rule %d accel %d", r->rules, idx,
		      accel, r->index, r->accel);
}
END_TEST

static Suite *
make_suite(void)
{
	Suite *s = suite_create("rules");
	TCase *t = tcase_create("match");

	tcase_add_loop_test(t, table, 0, sizeof(rows) / sizeof(rows[0]));
	suite_add_tcase(s, t);
	return s;
}
