/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * copyin.c: a request's record, input array and iovec arrays belong to the
 * caller again as soon as write() returns (NetBSD's dmio_write copies them
 * in); only the data buffers must stay valid until the response is read.
 * Requests are built in one reused stack slot, or in pages overwritten and
 * unmapped right after each write, for every function, on many descriptors
 * from several threads. An unmodified NetBSD-style program: built linked
 * (linked_compat.h force-included) and run plain under LD_PRELOAD.
 */
#include <pthread.h>
#include <stdio.h>
#include <sys/mman.h>
#include <time.h>
#include "dmio_test.h"

enum { LEN = 4096 };

/* The 32-request program of the issue: one stack iovec and record reused. */
static void test_requests_built_in_one_stack_slot(void) {
    int fd = dmio_open_func("fill8", 0);
    CHECK(fd >= 0);
    static unsigned char out[32][LEN];
    memset(out, 0, sizeof out);
    for (int i = 0; i < 32; i++) {
        struct iovec iov = {out[i], LEN};
        struct dmio_usrreq r;
        memset(&r, 0, sizeof r);
        r.req_outbuf.dmbuf_iov = &iov;
        r.req_outbuf.dmbuf_iovcnt = 1;
        r.req_id = (uint32_t)i;
        r.req_immediate[0] = (uint8_t)(i + 1);
        CHECK_EQ(write(fd, &r, sizeof r), (ssize_t)sizeof r);
    }
    struct dmio_usrresp resp[32];
    CHECK_EQ(dmio_read_n(fd, resp, 32), 32);
    int wrong = 0;
    for (int i = 0; i < 32; i++) {
        CHECK_EQ(resp[i].resp_id, i);
        CHECK_EQ(resp[i].resp_error, 0);
        for (int k = 0; k < LEN; k++) wrong += out[i][k] != (unsigned char)(i + 1);
    }
    CHECK_EQ(wrong, 0);
    CHECK_EQ(close(fd), 0);
}

/* A function's name, inputs and what it computes. */
struct func { const char *name; int nin; };
static const struct func funcs[] = {
    {"zero", 0}, {"fill8", 0}, {"copy", 1}, {"xor2", 2}, {"xor3", 3}, {"xor4", 4},
    {"xor5", 5}, {"xor8", 8}, {"xor16", 16},
};
enum { NFUNCS = sizeof funcs / sizeof funcs[0] };

static unsigned char expected_byte(const struct func *f, unsigned char *const *in, uint8_t imm, int k) {
    if (strcmp(f->name, "zero") == 0) return 0;
    if (strcmp(f->name, "fill8") == 0) return imm;
    unsigned char x = 0;
    for (int j = 0; j < f->nin; j++) x ^= in[j][k];
    return x;
}

/* Builds request `id` of f inside the page `page` (record, input array, iovec arrays). */
static struct dmio_usrreq *build_in_page(void *page, const struct func *f, uint32_t id, unsigned char *out,
                                         unsigned char *const *in, size_t len, uint8_t imm) {
    struct dmio_usrreq *r = page;
    dmio_buffer *inbuf = (dmio_buffer *)(r + 1);
    struct iovec *iov = (struct iovec *)(inbuf + 16);
    memset(r, 0, sizeof *r);
    r->req_id = id;
    r->req_immediate[0] = imm;
    /* The output in two iovecs, so the iovec array itself matters. */
    iov[0] = (struct iovec){out, len / 2};
    iov[1] = (struct iovec){out + len / 2, len - len / 2};
    r->req_outbuf.dmbuf_iov = iov;
    r->req_outbuf.dmbuf_iovcnt = 2;
    for (int j = 0; j < f->nin; j++) {
        iov[2 + j] = (struct iovec){in[j], len};
        inbuf[j].dmbuf_iov = &iov[2 + j];
        inbuf[j].dmbuf_iovcnt = 1;
    }
    r->req_inbuf = f->nin ? inbuf : NULL;
    return r;
}

enum { PER_FUNC = 8 };

/* Every function: the descriptor memory is overwritten and unmapped right after each write. */
static void test_descriptor_memory_unmapped_after_each_write(void) {
    unsigned seed = (unsigned)time(NULL);
    printf("seed %u\n", seed);
    srand(seed);
    static unsigned char in[16][LEN], out[PER_FUNC][LEN];
    for (int j = 0; j < 16; j++)
        for (int k = 0; k < LEN; k++) in[j][k] = (unsigned char)rand();
    unsigned char *inp[16];
    for (int j = 0; j < 16; j++) inp[j] = in[j];
    long page = sysconf(_SC_PAGESIZE);
    for (int f = 0; f < NFUNCS; f++) {
        int fd = dmio_open_func(funcs[f].name, 0);
        CHECK(fd >= 0);
        memset(out, 0x5a, sizeof out);
        size_t lens[PER_FUNC];
        for (int i = 0; i < PER_FUNC; i++) {
            void *p = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            CHECK(p != MAP_FAILED);
            size_t len = lens[i] = LEN - (size_t)(rand() % 64);      /* odd lengths too */
            struct dmio_usrreq *r = build_in_page(p, &funcs[f], (uint32_t)(100 + i), out[i], inp, len,
                                                  (uint8_t)(i * 7 + 3));
            CHECK_EQ(write(fd, r, sizeof *r), (ssize_t)sizeof *r);
            memset(p, 0xab, (size_t)page);                            /* garbage where the request was */
            CHECK_EQ(munmap(p, (size_t)page), 0);
        }
        struct dmio_usrresp resp[PER_FUNC];
        CHECK_EQ(dmio_read_n(fd, resp, PER_FUNC), PER_FUNC);
        for (int i = 0; i < PER_FUNC; i++) {
            size_t len = lens[i];
            CHECK_EQ(resp[i].resp_id, 100 + i);
            CHECK_EQ(resp[i].resp_error, 0);
            int wrong = 0;
            for (size_t k = 0; k < len; k++)
                wrong += out[i][k] != expected_byte(&funcs[f], inp, (uint8_t)(i * 7 + 3), (int)k);
            for (size_t k = len; k < LEN; k++) wrong += out[i][k] != 0x5a;   /* nothing past the end */
            if (wrong) fprintf(stderr, "%s request %d: %d wrong bytes\n", funcs[f].name, i, wrong);
            CHECK_EQ(wrong, 0);
        }
        CHECK_EQ(close(fd), 0);
    }
}

/* Many descriptors, several threads, one reused stack slot per thread. */
enum { THREADS = 4, DESCS = 8, ROUNDS = 40 };
static const struct func mixed[] = {{"zero", 0}, {"fill8", 0}, {"copy", 1}, {"xor2", 2}, {"xor5", 5}};
static int thread_wrong[THREADS];

static void *many_descriptors(void *arg) {
    int t = (int)(intptr_t)arg;
    unsigned seed = (unsigned)t * 7919u + 1;
    int fds[DESCS];
    for (int d = 0; d < DESCS; d++) {
        fds[d] = dmio_open_func(mixed[(t + d) % 5].name, 0);
        if (fds[d] < 0) { thread_wrong[t] = -1; return NULL; }
    }
    static __thread unsigned char in[5][LEN], out[DESCS][LEN];
    unsigned char *inp[5];
    for (int j = 0; j < 5; j++) inp[j] = in[j];
    for (int round = 0; round < ROUNDS; round++) {
        for (int j = 0; j < 5; j++)
            for (int k = 0; k < LEN; k++) in[j][k] = (unsigned char)rand_r(&seed);
        for (int d = 0; d < DESCS; d++) {
            char slot[1024];                                          /* reused for every request */
            const struct func *f = &mixed[(t + d) % 5];
            struct dmio_usrreq *r = build_in_page(slot, f, (uint32_t)(round * DESCS + d), out[d], inp, LEN,
                                                  (uint8_t)(d + round));
            if (write(fds[d], r, sizeof *r) != (ssize_t)sizeof *r) { thread_wrong[t] = -2; return NULL; }
            memset(slot, 0xcd, sizeof slot);
        }
        for (int d = 0; d < DESCS; d++) {
            struct dmio_usrresp resp;
            const struct func *f = &mixed[(t + d) % 5];
            if (dmio_read_n(fds[d], &resp, 1) != 1 || resp.resp_error != 0 ||
                resp.resp_id != (uint32_t)(round * DESCS + d)) { thread_wrong[t] = -3; return NULL; }
            for (int k = 0; k < LEN; k++)
                thread_wrong[t] += out[d][k] != expected_byte(f, inp, (uint8_t)(d + round), k);
        }
    }
    for (int d = 0; d < DESCS; d++) close(fds[d]);
    return NULL;
}

static void test_many_descriptors_and_threads(void) {
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++) CHECK_EQ(pthread_create(&th[t], NULL, many_descriptors, (void *)(intptr_t)t), 0);
    for (int t = 0; t < THREADS; t++) pthread_join(th[t], NULL);
    for (int t = 0; t < THREADS; t++) CHECK_EQ(thread_wrong[t], 0);
}

/* Bad descriptor memory is an error for that request only; a bad record buffer fails the write. */
static void test_bad_pointers_and_counts(void) {
    int fd = dmio_open_func("copy", 0);
    CHECK(fd >= 0);
    static unsigned char src[LEN], dst[3][LEN];
    memset(src, 0x42, sizeof src);
    void *in[1] = {src};
    struct dmio_usrreq req[3];
    dmio_shape s[3];
    for (int i = 0; i < 3; i++) dmio_req_linear(&req[i], &s[i], (uint32_t)i, dst[i], in, 1, LEN);
    req[0].req_outbuf.dmbuf_iov = (struct iovec *)16;                  /* unmapped */
    req[2].req_outbuf.dmbuf_iovcnt = 1025;                             /* above IOV_MAX */
    CHECK_EQ(write(fd, req, sizeof req), (ssize_t)sizeof req);
    struct dmio_usrresp resp[3];
    CHECK_EQ(dmio_read_n(fd, resp, 3), 3);
    CHECK_EQ(resp[0].resp_error, EFAULT);
    CHECK_EQ(resp[1].resp_error, 0);
    CHECK_EQ(resp[2].resp_error, EINVAL);
    CHECK(memcmp(dst[1], src, LEN) == 0);
    CHECK_EQ(dst[0][0], 0);
    CHECK_EQ(dst[2][0], 0);
    void *gone = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(gone != MAP_FAILED);
    CHECK_EQ(munmap(gone, 4096), 0);
    CHECK_ERRNO(write(fd, gone, sizeof req[0]), EFAULT);             /* the record itself unreadable */
    CHECK_EQ(write(fd, &req[1], sizeof req[1]), (ssize_t)sizeof req[1]);
    CHECK_ERRNO(read(fd, gone, sizeof resp[0]), EFAULT);             /* not writable: the response stays */
    CHECK_EQ(dmio_read_n(fd, resp, 1), 1);
    CHECK_EQ(resp[0].resp_id, 1);
    CHECK_EQ(close(fd), 0);
}

/* A full batch of the widest requests: 64 xor16 records, every buffer at
 * IOV_MAX iovecs, with records failing at each level of the checks (the
 * input arrays, iovcnt, the iovec arrays, lengths, input and output pages,
 * an address range that wraps), three times on fresh descriptors (whose
 * state objects are reused). Each record gets its own error, NetBSD's for
 * its first fault, and every other record the right xor. */
static void test_full_batch_of_widest_records_failing_at_every_level(void) {
    enum { NR = 64, NI = 16, IOVN = 1024, SEG = 8 };
    const size_t per = (size_t)IOVN * SEG;
    struct dmio_usrreq *reqs = calloc(NR, sizeof *reqs);
    dmio_buffer *inb = calloc((size_t)NR * NI, sizeof *inb);
    struct iovec *oiov = calloc((size_t)NR * IOVN, sizeof *oiov);
    struct iovec *iiov = calloc((size_t)NR * NI * IOVN, sizeof *iiov);
    unsigned char *out = malloc(NR * per), *in = malloc((size_t)NR * NI * per);
    unsigned char *none = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    unsigned char *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(reqs && inb && oiov && iiov && out && in && none != MAP_FAILED && ro != MAP_FAILED);
    for (size_t i = 0; i < (size_t)NR * NI * per; i++) in[i] = (unsigned char)(i * 7 + i / 251);
    for (int round = 0; round < 3; round++) {
        int fd = dmio_open_func("xor16", 0);
        CHECK(fd >= 0);
        memset(out, 0, NR * per);
        int expect[NR];
        for (int r = 0; r < NR; r++) {
            struct iovec *ov = oiov + (size_t)r * IOVN;
            memset(&reqs[r], 0, sizeof reqs[r]);
            reqs[r].req_id = (uint32_t)r;
            reqs[r].req_outbuf.dmbuf_iov = ov;
            reqs[r].req_outbuf.dmbuf_iovcnt = IOVN;
            reqs[r].req_inbuf = inb + (size_t)r * NI;
            for (int k = 0; k < IOVN; k++) ov[k] = (struct iovec){out + r * per + (size_t)k * SEG, SEG};
            for (int j = 0; j < NI; j++) {
                struct iovec *iv = iiov + ((size_t)r * NI + j) * IOVN;
                inb[(size_t)r * NI + j].dmbuf_iov = iv;
                inb[(size_t)r * NI + j].dmbuf_iovcnt = IOVN;
                for (int k = 0; k < IOVN; k++)
                    iv[k] = (struct iovec){in + ((size_t)r * NI + j) * per + (size_t)k * SEG, SEG};
            }
            struct iovec *last = iiov + ((size_t)r * NI + NI - 1) * IOVN;
            expect[r] = 0;
            switch ((r + round) % 9) {
            case 1: last[IOVN - 1].iov_base = none; expect[r] = EFAULT; break;           /* an input page unreadable */
            case 2: ov[IOVN / 2].iov_base = ro; expect[r] = EFAULT; break;               /* an output page read-only */
            case 3: inb[(size_t)r * NI + 3].dmbuf_iovcnt = IOVN + 1; expect[r] = EINVAL; break;  /* above IOV_MAX */
            case 4: iiov[((size_t)r * NI + 5) * IOVN + 7].iov_len = SEG + 1; expect[r] = EINVAL; break; /* lengths differ */
            case 5:                                                                       /* above SSIZE_MAX */
                iiov[((size_t)r * NI + 2) * IOVN + 3].iov_len = (size_t)-1 / 2 + 1;
                iiov[((size_t)r * NI + 2) * IOVN + 3].iov_base = none;
                expect[r] = EINVAL;
                break;
            case 6: ov[IOVN - 1].iov_base = (void *)(uintptr_t)-16; expect[r] = EFAULT; break;  /* wraps around */
            case 7: inb[(size_t)r * NI + 9].dmbuf_iov = (struct iovec *)none; expect[r] = EFAULT; break; /* iovec array */
            case 8: reqs[r].req_inbuf = (dmio_buffer *)none; expect[r] = EFAULT; break;  /* the input array */
            }
        }
        CHECK_EQ(write(fd, reqs, NR * sizeof *reqs), (ssize_t)(NR * sizeof *reqs));
        struct dmio_usrresp resp[NR];
        CHECK_EQ(dmio_read_n(fd, resp, NR), NR);
        int wrong = 0;
        for (int i = 0; i < NR; i++) {
            int r = (int)resp[i].resp_id;
            CHECK(r >= 0 && r < NR);
            if (r < 0 || r >= NR) continue;
            if (resp[i].resp_error != expect[r]) {
                printf("round %d record %d: error %d, want %d\n", round, r, resp[i].resp_error, expect[r]);
                wrong++;
            }
            for (size_t b = 0; b < per; b++) {
                unsigned char x = 0;
                for (int j = 0; j < NI; j++) x ^= in[((size_t)r * NI + j) * per + b];
                /* A failed record writes nothing. */
                if (out[r * per + b] != (expect[r] == 0 ? x : 0)) {
                    wrong++;
                    break;
                }
            }
        }
        CHECK_EQ(wrong, 0);
        CHECK_EQ(close(fd), 0);
    }
    munmap(none, 4096);
    munmap(ro, 4096);
    free(reqs); free(inb); free(oiov); free(iiov); free(out); free(in);
}

int main(void) {
    RUN(test_requests_built_in_one_stack_slot);
    RUN(test_descriptor_memory_unmapped_after_each_write);
    RUN(test_many_descriptors_and_threads);
    RUN(test_bad_pointers_and_counts);
    RUN(test_full_batch_of_widest_records_failing_at_every_level);
    return harness_finish();
}
