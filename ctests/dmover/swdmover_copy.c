/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * swdmover_copy.c: "copy" against memcpy on seeded random shapes, and its shape errors.
 */
#include "dmtest.h"

static void ref_copy(unsigned char *out, unsigned char *const *in, int nin, size_t len, uint8_t imm[8]) {
    (void)nin; (void)imm;
    memcpy(out, in[0], len);
}

static void test_copy_random_shapes(void) { CHECK(dmtest_check_function(DMOVER_FUNC_COPY, 1, ref_copy, NULL, 300) == 0); }

static void test_copy_shape_errors(void) {
    struct dmover_session *s;
    CHECK_EQ(dmover_session_create(DMOVER_FUNC_COPY, &s), 0);
    CHECK_EQ(s->dses_ninputs, 1);
    char a[64], b[64];
    struct iovec iov = {b, 64};
    struct uio u = {&iov, 1, 64};
    struct dmover_request *r = dmover_request_alloc(s, NULL);
    CHECK(r != NULL);
    /* length mismatch */
    r->dreq_outbuf_type = DMOVER_BUF_LINEAR;
    r->dreq_outbuf.dmbuf_linear.l_addr = a;
    r->dreq_outbuf.dmbuf_linear.l_len = 64;
    r->dreq_inbuf_type = DMOVER_BUF_LINEAR;
    r->dreq_inbuf[0].dmbuf_linear.l_addr = b;
    r->dreq_inbuf[0].dmbuf_linear.l_len = 63;
    CHECK_EQ(dmtest_run_wait(r), EINVAL);
    /* mixed buffer types */
    r->dreq_inbuf_type = DMOVER_BUF_UIO;
    r->dreq_inbuf[0].dmbuf_uio = &u;
    CHECK_EQ(dmtest_run_wait(r), EINVAL);
    /* missing output */
    r->dreq_outbuf_type = DMOVER_BUF_NONE;
    CHECK_EQ(dmtest_run_wait(r), EINVAL);
    /* unknown type */
    r->dreq_outbuf_type = (dmover_buffer_type)7;
    CHECK_EQ(dmtest_run_wait(r), EINVAL);
    /* iovecs shorter than uio_resid */
    r->dreq_outbuf_type = DMOVER_BUF_UIO;
    struct iovec oiov = {a, 64};
    struct uio ou = {&oiov, 1, 64};
    r->dreq_outbuf.dmbuf_uio = &ou;
    u.uio_resid = 64;
    iov.iov_len = 32;
    CHECK_EQ(dmtest_run_wait(r), EINVAL);
    /* bad iovcnt, NULL uio */
    iov.iov_len = 64;
    u.uio_iovcnt = -1;
    CHECK_EQ(dmtest_run_wait(r), EINVAL);
    u.uio_iovcnt = 1;
    r->dreq_inbuf[0].dmbuf_uio = NULL;
    CHECK_EQ(dmtest_run_wait(r), EINVAL);
    /* NULL address with a length */
    r->dreq_inbuf[0].dmbuf_uio = &u;
    iov.iov_base = NULL;
    CHECK_EQ(dmtest_run_wait(r), EFAULT);
    /* and a good one afterwards on the same request */
    iov.iov_base = b;
    memset(b, 0x5a, sizeof b);
    CHECK_EQ(dmtest_run_wait(r), 0);
    CHECK(memcmp(a, b, 64) == 0);
    CHECK(!(r->dreq_flags & DMOVER_REQ_ERROR));
    dmover_request_free(r);
    dmover_session_destroy(s);
}

static void test_copy_in_place(void) {
    struct dmover_session *s;
    CHECK_EQ(dmover_session_create(DMOVER_FUNC_COPY, &s), 0);
    unsigned char buf[1000];
    dmtest_fill_random(buf, sizeof buf);
    unsigned char want[1000];
    memcpy(want, buf, sizeof buf);
    struct dmover_request *r = dmover_request_alloc(s, NULL);
    r->dreq_outbuf_type = r->dreq_inbuf_type = DMOVER_BUF_LINEAR;
    r->dreq_outbuf.dmbuf_linear.l_addr = buf;
    r->dreq_outbuf.dmbuf_linear.l_len = sizeof buf;
    r->dreq_inbuf[0] = r->dreq_outbuf;
    CHECK_EQ(dmtest_run_wait(r), 0);
    CHECK(memcmp(buf, want, sizeof buf) == 0);
    dmover_request_free(r);
    dmover_session_destroy(s);
}

/* Destinations 0 to 255 bytes after the source modulo 4 KiB (page-aligned
 * buffers) are copied from the end: odd lengths around the 256-byte step and
 * the non-temporal size, every head and tail. */
static void test_copy_page_aliased(void) {
    struct dmover_session *s;
    CHECK_EQ(dmover_session_create(DMOVER_FUNC_COPY, &s), 0);
    const size_t max = (size_t)3 << 20;
    unsigned char *src = NULL, *dst = NULL, *want = malloc(max);
    CHECK(posix_memalign((void **)&src, 4096, max + 4096) == 0);
    CHECK(posix_memalign((void **)&dst, 4096, max + 16384) == 0);
    CHECK(want != NULL);
    dmtest_fill_random(src, max + 4096);
    static const size_t lens[] = {511, 512, 513, 767, 4095, 4096, 70001, (size_t)3 << 20};
    static const size_t deltas[] = {0, 8, 200, 255, 4096 + 64};
    struct dmover_request *r = dmover_request_alloc(s, NULL);
    CHECK(r != NULL);
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        for (size_t di = 0; di < sizeof deltas / sizeof deltas[0]; di++) {
            size_t len = lens[li], so = (li * 24) & 4095, d = so + deltas[di];
            memset(dst, 0xEE, max + 16384);
            r->dreq_outbuf_type = r->dreq_inbuf_type = DMOVER_BUF_LINEAR;
            r->dreq_outbuf.dmbuf_linear.l_addr = dst + d;
            r->dreq_outbuf.dmbuf_linear.l_len = len;
            r->dreq_inbuf[0].dmbuf_linear.l_addr = src + so;
            r->dreq_inbuf[0].dmbuf_linear.l_len = len;
            CHECK_EQ(dmtest_run_wait(r), 0);
            memcpy(want, src + so, len);
            CHECK(memcmp(dst + d, want, len) == 0);
            CHECK(d == 0 || dst[d - 1] == 0xEE);
            CHECK(dst[d + len] == 0xEE);
        }
    }
    dmover_request_free(r);
    free(src);
    free(dst);
    free(want);
    dmover_session_destroy(s);
}

int main(void) {
    dmtest_seed();
    RUN(test_copy_random_shapes);
    RUN(test_copy_shape_errors);
    RUN(test_copy_in_place);
    RUN(test_copy_page_aliased);
    return harness_finish();
}
