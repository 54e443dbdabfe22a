/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * bench.c: the reference implementations dmover-bench compares against (ISA-L, glibc).
 */
#include <string.h>
#include <time.h>
#include <isa-l.h>
#include "CDmoverBench.h"

int cdmbench_isal_xor(void **srcs, int n, void *dst, size_t len) {
    void *array[17];
    for (int i = 0; i < n; i++) array[i] = srcs[i];
    array[n] = dst;
    return xor_gen(n + 1, (int)len, array);
}

uint32_t cdmbench_isal_crc32c(const void *buf, size_t len, uint32_t last) {
    return ~crc32_iscsi((unsigned char *)buf, (int)len, ~last);
}

void cdmbench_memset(void *dst, int c, size_t len) { memset(dst, c, len); }
void cdmbench_memcpy(void *dst, const void *src, size_t len) { memcpy(dst, src, len); }
int cdmbench_memcmp(const void *a, const void *b, size_t len) { return memcmp(a, b, len); }

uint64_t cdmbench_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
