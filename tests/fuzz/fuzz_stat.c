/* Hostile snapshot: what fastsock-stat reads is written by the process it
 * inspects, which may be anyone's program (root's fastsock-stat reads every
 * user's). The bytes become a copied snapshot (zero-padded; when the first
 * byte is even, with the magic, version and pid that let it through, so
 * that the rest is explored), checked as fastsock-stat checks it and, if
 * accepted, shown as text and as JSON into memory. Whatever the bytes:
 * no crash and no read past the snapshot (ASan and UBSan watch), no
 * control character in the text but its newlines (a terminal escape from
 * a hostile device string), and JSON that parses: strings closed and
 * escaped as JSON allows, brackets balanced. */
#define main fastsock_stat_main
#include "../../tools/fastsock-stat.c"
#undef main

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The checks below are the harness's, not the code under test: left out
 * of the coverage that steers the fuzzer (their byte loops took half of
 * its time and taught it nothing). */
#define NO_COVERAGE __attribute__((no_sanitize("coverage"), noinline))

NO_COVERAGE static void
text_ok(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (((unsigned char)s[i] < 0x20 && s[i] != '\n') || (unsigned char)s[i] >= 0x7f) {
			fprintf(stderr, "fuzz_stat: byte 0x%02x at %zu of the text: %.*s\n",
				(unsigned char)s[i], i, (int)n, s);
			abort();
		}
}

/* Just enough of a JSON reader to find what a hostile string would break. */
NO_COVERAGE static void
json_ok(const char *s, size_t n)
{
	char open[16];
	unsigned depth = 0;
	bool in_str = false;
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (in_str) {
			if (c < 0x20)
				goto bad;
			if (c == '\\' && (++i == n || !strchr("\"\\/bfnrtu", s[i])))
				goto bad;
			else if (c == '"')
				in_str = false;
		} else if (c == '"') {
			in_str = true;
		} else if (c == '{' || c == '[') {
			if (depth == sizeof(open))
				goto bad;
			open[depth++] = (char)c;
		} else if (c == '}' || c == ']') {
			if (depth == 0 || open[--depth] != (c == '}' ? '{' : '['))
				goto bad;
		}
	}
	if (!in_str && depth == 0)
		return;
bad:
	fprintf(stderr, "fuzz_stat: JSON broken at %zu of %zu: %.*s\n", i, n, (int)n, s);
	abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fs_pub p;
	char *buf = NULL;
	size_t len = 0;
	int pid = getpid();

	memset(&p, 0, sizeof(p));
	memcpy(&p, data, size < sizeof(p) ? size : sizeof(p));
	if (size && (data[0] & 1) == 0) {
		p.magic = FS_PUB_MAGIC;
		p.version = FS_PUB_VERSION;
		p.pid = pid;
	}
	if (!pub_check(&p, pid))
		return 0;
	out = open_memstream(&buf, &len);
	if (!out)
		return 0;
	show_text(&p);
	fflush(out);
	text_ok(buf, len);
	fclose(out);
	free(buf);
	buf = NULL;
	out = open_memstream(&buf, &len);
	if (!out)
		return 0;
	fputc('[', out);
	show_json(&p, 1);
	fputc(']', out);
	fflush(out);
	json_ok(buf, len);
	fclose(out);
	free(buf);
	return 0;
}
