/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * dmtest.h: shared helpers of the dmover C tests: a seeded RNG (the seed is
 * printed; DMTEST_SEED=n repeats a run), scalar reference implementations,
 * test buffers as linear regions or scattered iovecs of random alignment and
 * segmentation, and a one-call "run this request and wait" helper.
 */
#ifndef BSDSHIM_CTEST_DMTEST_H
#define BSDSHIM_CTEST_DMTEST_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "dev/dmover/dmovervar.h"
#include "harness.h"

/* --- RNG ------------------------------------------------------------------ */

/* Per thread: the concurrent tests draw from it on several threads at once. */
static _Thread_local uint64_t dmtest_state;

static inline uint64_t dmtest_rand(void) {
    uint64_t z = (dmtest_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline size_t dmtest_below(size_t n) { return n ? (size_t)(dmtest_rand() % n) : 0; }

/* Seeds the RNG from DMTEST_SEED or the clock, and prints the seed. */
/* A forced kernel strategy or CRC this CPU cannot run is clamped down by the
 * library, so testing it would test something else: such runs are skipped
 * (exit 77, which CMake reports as skipped), saying why. */
static inline void dmtest_skip_unrunnable_strategy(void) {
    const char *st = getenv("BSDSHIM_DMOVER_STRATEGY"), *crc = getenv("BSDSHIM_DMOVER_CRC");
    const char *why = NULL;
#if defined(__x86_64__)
    int avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                 __builtin_cpu_supports("avx512vl");
    if (st && strncmp(st, "avx512", 6) == 0 && !avx512) why = "the CPU has no AVX-512";
    if (st && strncmp(st, "avx2", 4) == 0 && !__builtin_cpu_supports("avx2")) why = "the CPU has no AVX2";
    if (crc && strcmp(crc, "vpclmulqdq") == 0 && !(avx512 && __builtin_cpu_supports("vpclmulqdq")))
        why = "the CPU has no AVX-512 VPCLMULQDQ";
    if (crc && (strcmp(crc, "pclmul") == 0 || strcmp(crc, "crc32x3") == 0) &&
        !(__builtin_cpu_supports("sse4.2") && __builtin_cpu_supports("pclmul")))
        why = "the CPU has no SSE4.2 + PCLMUL";
#else
    if ((st && strcmp(st, "baseline") != 0) || (crc && strcmp(crc, "table") != 0)) why = "not an x86-64 CPU";
#endif
    if (why) {
        printf("skipped: strategy %s, crc %s: %s\n", st ? st : "-", crc ? crc : "-", why);
        exit(77);
    }
}

static inline void dmtest_seed(void) {
    dmtest_skip_unrunnable_strategy();
    const char *s = getenv("DMTEST_SEED");
    uint64_t seed = s ? strtoull(s, NULL, 0) : (uint64_t)time(NULL) ^ ((uint64_t)clock() << 32);
    dmtest_state = seed;
    printf("seed %llu (repeat with DMTEST_SEED=%llu)\n", (unsigned long long)seed, (unsigned long long)seed);
}

static inline void dmtest_fill_random(unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++) p[i] = (unsigned char)dmtest_rand();
}

/* Lengths worth testing: empty, tiny, around vector and block sizes, large, random. */
static inline size_t dmtest_length(void) {
    static const size_t fixed[] = {0, 1, 3, 7, 8, 9, 15, 16, 17, 63, 64, 65, 127, 128, 255, 256, 257,
                                   511, 1023, 4096, 4099, 16384 + 5, 65536 + 63, 262144 + 1};
    if (dmtest_rand() & 1) return fixed[dmtest_below(sizeof fixed / sizeof fixed[0])];
    return dmtest_below(dmtest_rand() & 1 ? 2048 : 200000);
}

/* --- scalar references ---------------------------------------------------- */

/* NetBSD's iscsi_crc32c: bytewise, reflected 0x82F63B78; `last` is the previous CRC. */
static inline uint32_t dmtest_crc32c(const unsigned char *p, size_t n, uint32_t last) {
    uint32_t c = 0xFFFFFFFFu ^ last;
    while (n--) {
        c ^= *p++;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    }
    return c ^ 0xFFFFFFFFu;
}

/* --- test buffers ----------------------------------------------------------- */

#define DMTEST_MAXSEG 16

/* A buffer of `len` logical bytes: one misaligned region, or up to 16 scattered iovecs (some empty). */
typedef struct {
    dmover_buffer_type type;
    size_t len;
    size_t cap;
    unsigned char *alloc;
    unsigned char *linear;
    struct iovec iov[DMTEST_MAXSEG];
    struct uio uio;
} tbuf;

static inline void tbuf_make(tbuf *b, dmover_buffer_type type, size_t len) {
    memset(b, 0, sizeof *b);
    b->type = type;
    b->len = len;
    size_t cap = len + 64 + DMTEST_MAXSEG * 96;
    b->cap = cap;
    b->alloc = (unsigned char *)malloc(cap);
    dmtest_fill_random(b->alloc, cap);
    if (type == DMOVER_BUF_LINEAR) {
        b->linear = b->alloc + dmtest_below(64);
        return;
    }
    /* Random cut points; segments placed with random gaps and alignment. */
    int nseg = 1 + (int)dmtest_below(DMTEST_MAXSEG);
    size_t left = len, at = dmtest_below(64);
    for (int i = 0; i < nseg; i++) {
        size_t n = i == nseg - 1 ? left : (dmtest_rand() & 3) == 0 ? 0 : dmtest_below(left + 1);
        b->iov[i].iov_base = b->alloc + at;
        b->iov[i].iov_len = n;
        at += n + dmtest_below(96);
        left -= n;
    }
    /* Sometimes the iovecs hold more than uio_resid: the extra must be untouched. */
    if (nseg < DMTEST_MAXSEG && (dmtest_rand() & 3) == 0) {
        b->iov[nseg].iov_base = b->alloc + at;
        b->iov[nseg].iov_len = 1 + dmtest_below(16);
        if (at + b->iov[nseg].iov_len <= cap) nseg++;
    }
    b->uio.uio_iov = b->iov;
    b->uio.uio_iovcnt = nseg;
    b->uio.uio_resid = len;
}

static inline dmover_buffer tbuf_dmbuf(tbuf *b) {
    dmover_buffer d;
    memset(&d, 0, sizeof d);
    if (b->type == DMOVER_BUF_LINEAR) {
        d.dmbuf_linear.l_addr = b->linear;
        d.dmbuf_linear.l_len = b->len;
    } else {
        d.dmbuf_uio = &b->uio;
    }
    return d;
}

/* Gathers the logical bytes into out[len]. */
static inline void tbuf_read(const tbuf *b, unsigned char *out) {
    if (b->type == DMOVER_BUF_LINEAR) { memcpy(out, b->linear, b->len); return; }
    size_t at = 0;
    for (int i = 0; i < b->uio.uio_iovcnt && at < b->len; i++) {
        size_t n = b->iov[i].iov_len < b->len - at ? b->iov[i].iov_len : b->len - at;
        memcpy(out + at, b->iov[i].iov_base, n);
        at += n;
    }
}

/* Scatters in[len] into the buffer. */
static inline void tbuf_write(tbuf *b, const unsigned char *in) {
    if (b->type == DMOVER_BUF_LINEAR) { memcpy(b->linear, in, b->len); return; }
    size_t at = 0;
    for (int i = 0; i < b->uio.uio_iovcnt && at < b->len; i++) {
        size_t n = b->iov[i].iov_len < b->len - at ? b->iov[i].iov_len : b->len - at;
        memcpy(b->iov[i].iov_base, in + at, n);
        at += n;
    }
}

static inline void tbuf_free(tbuf *b) { free(b->alloc); }

static inline dmover_buffer_type dmtest_type(void) {
    return (dmtest_rand() & 1) ? DMOVER_BUF_LINEAR : DMOVER_BUF_UIO;
}

/* Submits with DMOVER_REQ_WAIT; returns dreq_error (0 on success). */
static inline int dmtest_run_wait(struct dmover_request *r) {
    r->dreq_flags |= DMOVER_REQ_WAIT;
    dmover_process(r);
    if (!(r->dreq_flags & DMOVER_REQ_DONE)) return -1;
    return (r->dreq_flags & DMOVER_REQ_ERROR) ? r->dreq_error : 0;
}

static inline uint64_t dmtest_imm64(const struct dmover_request *r) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | r->dreq_immediate[i];
    return v;
}

static inline void dmtest_set_imm64(struct dmover_request *r, uint64_t v) {
    for (int i = 0; i < 8; i++) r->dreq_immediate[i] = (uint8_t)(v >> (8 * i));
}

/* 1 if b->alloc equals `before` with the logical bytes replaced by `logical` (nothing else touched). */
static inline int tbuf_matches(const tbuf *b, const unsigned char *before, const unsigned char *logical) {
    unsigned char *exp = (unsigned char *)malloc(b->cap);
    memcpy(exp, before, b->cap);
    tbuf t = *b;
    t.alloc = exp;
    if (b->type == DMOVER_BUF_LINEAR) t.linear = exp + (b->linear - b->alloc);
    for (int i = 0; i < b->uio.uio_iovcnt; i++)
        t.iov[i].iov_base = exp + ((unsigned char *)b->iov[i].iov_base - b->alloc);
    t.uio.uio_iov = t.iov;
    tbuf_write(&t, logical);
    int ok = memcmp(exp, b->alloc, b->cap) == 0;
    free(exp);
    return ok;
}

/* --- one function against its scalar reference ------------------------------- */

/* Computes the expected output (if any) and immediate from the inputs. */
typedef void (*dmtest_ref_fn)(unsigned char *out, unsigned char *const *in, int nin, size_t len, uint8_t imm[8]);
/* Optionally relates the inputs before the run (e.g. equal buffers for compare). */
typedef void (*dmtest_prep_fn)(unsigned char *const *in, int nin, size_t len);

/*
 * Runs `rounds` random requests of function `name` (random length, buffer type,
 * alignment, segmentation, immediate) and checks output, immediate, that the
 * inputs are unchanged and that no byte outside the buffers was written.
 * Returns 0, or -1 after printing what differed.
 */
static inline int dmtest_check_function(const char *name, int has_out, dmtest_ref_fn ref, dmtest_prep_fn prep,
                                        int rounds) {
    struct dmover_session *s = NULL;
    int e = dmover_session_create(name, &s);
    if (e != 0) { fprintf(stderr, "%s: session_create: %d\n", name, e); return -1; }
    int nin = s->dses_ninputs;
    for (int round = 0; round < rounds; round++) {
        size_t len = dmtest_length();
        dmover_buffer_type type = dmtest_type();
        tbuf out, in[16];
        unsigned char *lin[16], *lout = (unsigned char *)malloc(len + 1), *got = (unsigned char *)malloc(len + 1);
        unsigned char *before_out = NULL, *before_in[16];
        for (int j = 0; j < nin; j++) {
            tbuf_make(&in[j], type, len);
            lin[j] = (unsigned char *)malloc(len + 1);
            dmtest_fill_random(lin[j], len);
        }
        if (prep) prep(lin, nin, len);
        for (int j = 0; j < nin; j++) {
            tbuf_write(&in[j], lin[j]);
            before_in[j] = (unsigned char *)malloc(in[j].cap);
            memcpy(before_in[j], in[j].alloc, in[j].cap);
        }
        if (has_out) {
            tbuf_make(&out, type, len);
            before_out = (unsigned char *)malloc(out.cap);
            memcpy(before_out, out.alloc, out.cap);
        }
        struct dmover_request *r = dmover_request_alloc(s, NULL);
        if (!r) { fprintf(stderr, "%s: request_alloc failed\n", name); return -1; }
        uint8_t imm[8];
        for (int i = 0; i < 8; i++) imm[i] = (uint8_t)dmtest_rand();
        memcpy(r->dreq_immediate, imm, 8);
        if (has_out) {
            r->dreq_outbuf_type = type;
            r->dreq_outbuf = tbuf_dmbuf(&out);
        } else {
            r->dreq_outbuf_type = DMOVER_BUF_NONE;
        }
        r->dreq_inbuf_type = nin ? type : DMOVER_BUF_NONE;
        for (int j = 0; j < nin; j++) r->dreq_inbuf[j] = tbuf_dmbuf(&in[j]);
        ref(lout, lin, nin, len, imm);
        int err = dmtest_run_wait(r);
        int bad = 0;
        if (err != 0) {
            fprintf(stderr, "%s: round %d len %zu type %d: error %d\n", name, round, len, type, err);
            bad = 1;
        } else if (memcmp(r->dreq_immediate, imm, 8) != 0) {
            fprintf(stderr, "%s: round %d len %zu type %d: immediate %016llx, want %016llx\n", name, round, len,
                    type, (unsigned long long)dmtest_imm64(r), 0ull);
            bad = 1;
        } else if (has_out && !tbuf_matches(&out, before_out, lout)) {
            tbuf_read(&out, got);
            size_t k = 0;
            while (k < len && got[k] == lout[k]) k++;
            fprintf(stderr, "%s: round %d len %zu type %d: output differs at %zu (or outside the buffer)\n",
                    name, round, len, type, k);
            bad = 1;
        }
        for (int j = 0; j < nin && !bad; j++) {
            if (memcmp(before_in[j], in[j].alloc, in[j].cap) != 0) {
                fprintf(stderr, "%s: round %d: input %d was modified\n", name, round, j);
                bad = 1;
            }
        }
        dmover_request_free(r);
        for (int j = 0; j < nin; j++) { tbuf_free(&in[j]); free(lin[j]); free(before_in[j]); }
        if (has_out) { tbuf_free(&out); free(before_out); }
        free(lout);
        free(got);
        if (bad) { dmover_session_destroy(s); return -1; }
    }
    dmover_session_destroy(s);
    return 0;
}

#endif
