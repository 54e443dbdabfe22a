/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * fuzz_input.h: reads typed values off a libFuzzer input. Past the end every
 * read gives 0, so any byte string is a valid (if short) program.
 */
#ifndef BSDSHIM_FUZZ_INPUT_H
#define BSDSHIM_FUZZ_INPUT_H

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    const uint8_t *p;
    size_t left;
} fuzz_input;

static inline int fuzz_more(const fuzz_input *in) { return in->left > 0; }

static inline uint64_t fuzz_bytes(fuzz_input *in, size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n && in->left; i++, in->left--) v |= (uint64_t)*in->p++ << (8 * i);
    return v;
}

static inline uint8_t fuzz_u8(fuzz_input *in) { return (uint8_t)fuzz_bytes(in, 1); }
static inline uint16_t fuzz_u16(fuzz_input *in) { return (uint16_t)fuzz_bytes(in, 2); }
static inline uint32_t fuzz_u32(fuzz_input *in) { return (uint32_t)fuzz_bytes(in, 4); }
static inline uint64_t fuzz_u64(fuzz_input *in) { return fuzz_bytes(in, 8); }

/* One entry of a table, chosen by the next byte. */
#define FUZZ_PICK(in, table) ((table)[fuzz_u8(in) % (sizeof(table) / sizeof((table)[0]))])

/* Stops the fuzzer with a crash report: an invariant of the API was broken. */
#define FUZZ_ASSERT(cond)                                                              \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "%s:%d: FUZZ_ASSERT(%s) failed (errno %d)\n", __FILE__,     \
                    __LINE__, #cond, errno);                                           \
            abort();                                                                   \
        }                                                                              \
    } while (0)

#endif
