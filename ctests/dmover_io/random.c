/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * random.c: 100,000 random requests (DMIO_RANDOM_REQUESTS=n for more) over
 * every function, in random batches of 1..64 written at once, with linear
 * and scattered buffers of random length and alignment, and a few malformed
 * ones; every output byte and immediate is checked against a scalar
 * reference, bytes around outputs must be untouched, and every req_id must be
 * answered exactly once. The seed is printed (DMTEST_SEED=n repeats a run).
 */
#include "../dmover/dmtest.h"
#include "dmio_test.h"

#define MAXLEN 6144
#define SLOT (MAXLEN + 256)

static const char *const funcs[] = {"zero", "fill8", "copy", "iscsi-crc32c", "copy-crc32c", "compare",
                                    "xor2", "xor3", "xor4", "xor5", "xor6", "xor7", "xor8", "xor9", "xor10",
                                    "xor11", "xor12", "xor13", "xor14", "xor15", "xor16"};
#define NFUNCS (int)(sizeof funcs / sizeof funcs[0])
static const int ninputs[NFUNCS] = {0, 0, 1, 1, 1, 2, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static const int has_out[NFUNCS] = {1, 1, 1, 0, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};

/* One request's buffers: regions (out = 0, inputs 1..16), their iovecs, logical bytes. */
typedef struct {
    unsigned char region[17][SLOT];
    struct iovec iov[17][4];
    dmio_buffer inbuf[16];
    unsigned char logical[17][MAXLEN];
    unsigned char before_out[SLOT];
    uint8_t imm[8];
    size_t len;
    int expect_error;
} rq;

static rq *slots;
static unsigned char *answered;

/* Places len logical bytes in region r as 1..4 segments with random gaps; returns iovcnt. */
static unsigned place(rq *q, int r, size_t len) {
    unsigned n = (dmtest_rand() & 1) ? 1 : 1 + (unsigned)dmtest_below(4);
    size_t at = dmtest_below(32), left = len;
    for (unsigned k = 0; k < n; k++) {
        size_t seg = k == n - 1 ? left : dmtest_below(left + 1);
        q->iov[r][k].iov_base = q->region[r] + at;
        q->iov[r][k].iov_len = seg;
        at += seg + dmtest_below(48);
        left -= seg;
    }
    return n;
}

static void gather(const rq *q, int r, unsigned n, unsigned char *out) {
    size_t at = 0;
    for (unsigned k = 0; k < n; k++) {
        memcpy(out + at, q->iov[r][k].iov_base, q->iov[r][k].iov_len);
        at += q->iov[r][k].iov_len;
    }
}

static void scatter(rq *q, int r, unsigned n, const unsigned char *in) {
    size_t at = 0;
    for (unsigned k = 0; k < n; k++) {
        memcpy(q->iov[r][k].iov_base, in + at, q->iov[r][k].iov_len);
        at += q->iov[r][k].iov_len;
    }
}

/* Expected output (logical[0]) and immediate for function f. */
static void reference(int f, rq *q, unsigned char *out, uint8_t imm[8]) {
    size_t len = q->len;
    const char *name = funcs[f];
    memcpy(imm, q->imm, 8);
    if (!strcmp(name, "zero")) memset(out, 0, len);
    else if (!strcmp(name, "fill8")) memset(out, imm[0], len);
    else if (!strcmp(name, "copy")) memcpy(out, q->logical[1], len);
    else if (!strcmp(name, "iscsi-crc32c") || !strcmp(name, "copy-crc32c")) {
        uint32_t last = (uint32_t)imm[0] | (uint32_t)imm[1] << 8 | (uint32_t)imm[2] << 16 | (uint32_t)imm[3] << 24;
        uint32_t c = dmtest_crc32c(q->logical[1], len, last);
        for (int i = 0; i < 4; i++) imm[i] = (uint8_t)(c >> (8 * i));
        if (has_out[f]) memcpy(out, q->logical[1], len);
    } else if (!strcmp(name, "compare")) {
        uint64_t v = 0;
        for (size_t i = 0; i < len; i++)
            if (q->logical[1][i] != q->logical[2][i]) { v = 1 + i; break; }
        for (int i = 0; i < 8; i++) imm[i] = (uint8_t)(v >> (8 * i));
    } else {
        for (size_t i = 0; i < len; i++) {
            unsigned char x = 0;
            for (int j = 1; j <= ninputs[f]; j++) x ^= q->logical[j][i];
            out[i] = x;
        }
    }
}

/* Builds request i of a batch for function f; some are malformed on purpose. */
static void build(int f, rq *q, struct dmio_usrreq *r, uint32_t id, unsigned *outcnt) {
    memset(r, 0, sizeof *r);
    int nin = ninputs[f];
    q->len = (dmtest_rand() & 7) == 0 ? dmtest_below(MAXLEN + 1) : dmtest_below(1025);
    q->expect_error = 0;
    for (int i = 0; i < 8; i++) q->imm[i] = (uint8_t)dmtest_rand();
    memcpy(r->req_immediate, q->imm, 8);
    r->req_id = id;
    for (int j = 1; j <= nin; j++) {
        dmtest_fill_random(q->region[j], SLOT);
        unsigned n = place(q, j, q->len);
        if (f == 5 && j == 2 && (dmtest_rand() & 1)) {        /* compare: often equal, or one byte apart */
            memcpy(q->logical[2], q->logical[1], q->len);
            if (q->len && (dmtest_rand() & 1)) q->logical[2][dmtest_below(q->len)] ^= 0x10;
        } else {
            dmtest_fill_random(q->logical[j], q->len);
        }
        scatter(q, j, n, q->logical[j]);
        q->inbuf[j - 1].dmbuf_iov = q->iov[j];
        q->inbuf[j - 1].dmbuf_iovcnt = n;
    }
    r->req_inbuf = nin ? q->inbuf : NULL;
    *outcnt = 0;
    if (has_out[f]) {
        dmtest_fill_random(q->region[0], SLOT);
        *outcnt = place(q, 0, q->len);
        r->req_outbuf.dmbuf_iov = q->iov[0];
        r->req_outbuf.dmbuf_iovcnt = *outcnt;
        memcpy(q->before_out, q->region[0], SLOT);
    }
    /* About 2% malformed: each kind answered with its error, nothing written. */
    if (dmtest_below(50) == 0) {
        switch (dmtest_below(4)) {
        case 0: if (nin) { r->req_inbuf = NULL; q->expect_error = EFAULT; } break;
        case 1: if (nin) { q->inbuf[nin - 1].dmbuf_iovcnt = 0; q->expect_error = EINVAL; } break;
        case 2: if (nin && has_out[f]) { q->iov[1][0].iov_len += 1; q->expect_error = EINVAL; } break;
        case 3: if (has_out[f] && q->len) { q->iov[0][0].iov_base = NULL; q->iov[0][0].iov_len = q->len;
                    for (unsigned k = 1; k < *outcnt; k++) q->iov[0][k].iov_len = 0;
                    q->expect_error = EFAULT; } break;
        }
    }
}

static void test_random_requests_match_reference(void) {
    const char *env = getenv("DMIO_RANDOM_REQUESTS");
    long total = env ? atol(env) : 100000;
    slots = malloc(64 * sizeof *slots);
    answered = calloc((size_t)total, 1);
    CHECK(slots && answered);
    int fds[NFUNCS];
    for (int f = 0; f < NFUNCS; f++) {
        fds[f] = dmio_open_func(funcs[f], 0);
        CHECK(fds[f] >= 0);
    }
    static struct dmio_usrreq req[64];
    static struct dmio_usrresp resp[64];
    static unsigned outcnt[64];
    static unsigned char expect[MAXLEN], got[MAXLEN];
    long next = 0, bad = 0;
    while (next < total) {
        int f = (int)dmtest_below(NFUNCS);
        int n = 1 + (int)dmtest_below(64);
        if (n > total - next) n = (int)(total - next);
        for (int i = 0; i < n; i++) build(f, &slots[i], &req[i], (uint32_t)(next + i), &outcnt[i]);
        CHECK_EQ(write(fds[f], req, (size_t)n * sizeof req[0]), (ssize_t)n * (ssize_t)sizeof req[0]);
        CHECK_EQ(read(fds[f], resp, (size_t)n * sizeof resp[0]), (ssize_t)n * (ssize_t)sizeof resp[0]);
        for (int i = 0; i < n; i++) {
            uint32_t id = resp[i].resp_id;
            CHECK(id >= (uint32_t)next && id < (uint32_t)(next + n));
            CHECK_EQ(answered[id], 0);
            answered[id] = 1;
            rq *q = &slots[id - (uint32_t)next];
            if (q->expect_error) {
                bad++;
                CHECK_EQ(resp[i].resp_error, q->expect_error);
                if (has_out[f]) CHECK(memcmp(q->region[0], q->before_out, SLOT) == 0);
                continue;
            }
            if (resp[i].resp_error)
                fprintf(stderr, "%s len %zu: error %d\n", funcs[f], q->len, resp[i].resp_error);
            CHECK_EQ(resp[i].resp_error, 0);
            uint8_t imm[8];
            reference(f, q, expect, imm);
            CHECK(memcmp(resp[i].resp_immediate, imm, 8) == 0);
            if (has_out[f]) {
                unsigned cnt = outcnt[id - (uint32_t)next];
                gather(q, 0, cnt, got);
                CHECK(memcmp(got, expect, q->len) == 0);
                /* Nothing outside the output's segments changed: the region is before_out with expect scattered in. */
                static unsigned char region[SLOT];
                memcpy(region, q->before_out, SLOT);
                size_t at = 0;
                for (unsigned k = 0; k < cnt; k++) {
                    size_t off = (size_t)((unsigned char *)q->iov[0][k].iov_base - q->region[0]);
                    memcpy(region + off, expect + at, q->iov[0][k].iov_len);
                    at += q->iov[0][k].iov_len;
                }
                CHECK(memcmp(region, q->region[0], SLOT) == 0);
            }
        }
        next += n;
    }
    for (long i = 0; i < total; i++) CHECK_EQ(answered[i], 1);
    printf("%ld requests, %ld malformed, all answered once\n", total, bad);
    for (int f = 0; f < NFUNCS; f++) CHECK_EQ(close(fds[f]), 0);
    free(slots);
    free(answered);
}

int main(void) {
    dmtest_seed();
    RUN(test_random_requests_match_reference);
    return harness_finish();
}
