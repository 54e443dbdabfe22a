/* SPDX-License-Identifier: BSD-2-Clause */
/* tool_ref: independent references for the bsdshim tool test (no bsdshim code).
 *   tool_ref gen SEED SIZE FILE    deterministic pseudo-random bytes (xorshift64*)
 *   tool_ref crc FILE              CRC32C, bit by bit, as 8 hex digits
 *   tool_ref xor OUT IN...         OUT = byte-wise XOR of the inputs (equal sizes)
 *   tool_ref run CMD ARG...        exec CMD with SIGHUP/SIGINT/SIGTERM at their default
 *                                  action and unblocked (sh starts background jobs
 *                                  with SIGINT ignored)
 *   tool_ref jsonl FILE            checks that every line is one JSON object and
 *                                  prints its top-level scalar fields as
 *                                  "LINE KEY VALUE" (strings unescaped for
 *                                  \" and \\ only), status 1 on bad JSON */
#include <ctype.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int gen(uint64_t seed, long size, const char *path)
{
	FILE *f = fopen(path, "wb");
	uint64_t x = seed * 2654435761u + 1;
	if (!f)
		return 1;
	for (long i = 0; i < size; i++) {
		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		fputc((int)((x * 0x2545F4914F6CDD1DULL) >> 56), f);
	}
	return fclose(f) != 0;
}

static int crc(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint32_t c = 0xFFFFFFFFu;
	int ch;
	if (!f)
		return 1;
	while ((ch = fgetc(f)) != EOF) {
		c ^= (uint32_t)ch;
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1)));
	}
	fclose(f);
	printf("%08x\n", c ^ 0xFFFFFFFFu);
	return 0;
}

static int xor_files(const char *out, int n, char **in)
{
	FILE *o = fopen(out, "wb");
	FILE **f = calloc((size_t)n, sizeof *f);
	if (!o || !f)
		return 1;
	for (int i = 0; i < n; i++)
		if (!(f[i] = fopen(in[i], "rb")))
			return 1;
	for (;;) {
		int acc = 0, ch = 0;
		for (int i = 0; i < n; i++) {
			ch = fgetc(f[i]);
			if (ch == EOF)
				break;
			acc ^= ch;
		}
		if (ch == EOF)
			break;
		fputc(acc, o);
	}
	for (int i = 0; i < n; i++)
		fclose(f[i]);
	free(f);
	return fclose(o) != 0;
}

static int run(char **argv)
{
	sigset_t none;
	int sigs[] = { SIGHUP, SIGINT, SIGTERM };
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		signal(sigs[i], SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execvp(argv[0], argv);
	perror(argv[0]);
	return 127;
}

/* A strict little JSON reader: p walks one line; each parser returns 0 on error. */
static const char *p;

static void ws(void)
{
	while (*p == ' ' || *p == '\t')
		p++;
}

static int value(char *out, size_t cap, int top);

/* A string literal; its text (\" and \\ unescaped, other escapes kept) into out. */
static int string(char *out, size_t cap)
{
	size_t n = 0;
	if (*p++ != '"')
		return 0;
	while (*p != '"') {
		char c = *p++;
		if ((unsigned char)c < 0x20 || c == 0)
			return 0;
		if (c == '\\') {
			c = *p++;
			if (!strchr("\"\\/bfnrtu", c) || c == 0)
				return 0;
			if (c != '"' && c != '\\' && n + 1 < cap)
				out[n++] = '\\';
		}
		if (n + 1 < cap)
			out[n++] = c;
	}
	p++;
	out[n] = 0;
	return 1;
}

static int number(char *out, size_t cap)
{
	const char *start = p;
	if (*p == '-')
		p++;
	if (!isdigit((unsigned char)*p))
		return 0;
	while (isdigit((unsigned char)*p) || *p == '.' || *p == 'e' || *p == 'E' || *p == '+' || *p == '-')
		p++;
	snprintf(out, cap, "%.*s", (int)(p - start), start);
	return 1;
}

static int members(char close, int object, int top)
{
	char key[512], val[4096];
	ws();
	if (*p == close) {
		p++;
		return 1;
	}
	for (;;) {
		ws();
		if (object) {
			if (!string(key, sizeof key))
				return 0;
			ws();
			if (*p++ != ':')
				return 0;
			ws();
		}
		val[0] = 0;
		if (!value(val, sizeof val, 0))
			return 0;
		if (top && object && val[0])
			printf("%d %s %s\n", top, key, val);
		ws();
		if (*p == ',') {
			p++;
			continue;
		}
		return *p++ == close;
	}
}

/* Scalars leave their text in out; arrays and objects leave it empty. */
static int value(char *out, size_t cap, int top)
{
	if (*p == '"')
		return string(out, cap);
	if (*p == '{') {
		p++;
		return members('}', 1, top);
	}
	if (*p == '[') {
		p++;
		return members(']', 0, 0);
	}
	for (const char *w = "true\0false\0null\0"; *w; w += strlen(w) + 1)
		if (strncmp(p, w, strlen(w)) == 0) {
			snprintf(out, cap, "%s", w);
			p += strlen(w);
			return 1;
		}
	return number(out, cap);
}

static int jsonl(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[65536], scratch[8];
	int n = 0;
	if (!f)
		return 2;
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = 0;
		p = line;
		n++;
		if (*p != '{' || !value(scratch, sizeof scratch, n) || (ws(), *p != 0)) {
			printf("bad JSON on line %d: %s\n", n, line);
			fclose(f);
			return 1;
		}
	}
	fclose(f);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], "run") == 0)
		return run(argv + 2);
	if (argc == 3 && strcmp(argv[1], "jsonl") == 0)
		return jsonl(argv[2]);
	if (argc == 5 && strcmp(argv[1], "gen") == 0)
		return gen(strtoull(argv[2], NULL, 10), atol(argv[3]), argv[4]);
	if (argc == 3 && strcmp(argv[1], "crc") == 0)
		return crc(argv[2]);
	if (argc >= 4 && strcmp(argv[1], "xor") == 0)
		return xor_files(argv[2], argc - 3, argv + 3);
	fprintf(stderr, "usage: tool_ref gen SEED SIZE FILE | crc FILE | xor OUT IN... | run CMD... | jsonl FILE\n");
	return 2;
}
