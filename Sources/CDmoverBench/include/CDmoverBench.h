/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * CDmoverBench.h: the references dmover-bench measures against (ISA-L's
 * xor_gen/crc32_iscsi, glibc's memcpy/memset/memcmp), as plain C calls.
 */
#ifndef CDMOVERBENCH_H
#define CDMOVERBENCH_H

#include <stddef.h>
#include <stdint.h>

/** ISA-L xor_gen over n sources into dst (32-byte aligned buffers, len < 2 GiB). */
int cdmbench_isal_xor(void **srcs, int n, void *dst, size_t len);
/** ISA-L crc32_iscsi in NetBSD's convention: ~crc32_iscsi(buf, len, ~last). */
uint32_t cdmbench_isal_crc32c(const void *buf, size_t len, uint32_t last);
/** glibc memset/memcpy/memcmp through a call the compiler cannot elide. */
void cdmbench_memset(void *dst, int c, size_t len);
void cdmbench_memcpy(void *dst, const void *src, size_t len);
int cdmbench_memcmp(const void *a, const void *b, size_t len);
/** Monotonic time in nanoseconds. */
uint64_t cdmbench_now_ns(void);

#endif
