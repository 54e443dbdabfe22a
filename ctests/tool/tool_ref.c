/* SPDX-License-Identifier: BSD-2-Clause */
/* tool_ref: independent references for the bsdshim tool test (no bsdshim code).
 *   tool_ref gen SEED SIZE FILE    deterministic pseudo-random bytes (xorshift64*)
 *   tool_ref crc FILE              CRC32C, bit by bit, as 8 hex digits
 *   tool_ref xor OUT IN...         OUT = byte-wise XOR of the inputs (equal sizes) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "gen") == 0)
		return gen(strtoull(argv[2], NULL, 10), atol(argv[3]), argv[4]);
	if (argc == 3 && strcmp(argv[1], "crc") == 0)
		return crc(argv[2]);
	if (argc >= 4 && strcmp(argv[1], "xor") == 0)
		return xor_files(argv[2], argc - 3, argv + 3);
	fprintf(stderr, "usage: tool_ref gen SEED SIZE FILE | crc FILE | xor OUT IN...\n");
	return 2;
}
