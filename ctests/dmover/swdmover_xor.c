/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * swdmover_xor.c: "xor2" … "xor16" against a scalar reference on seeded random shapes.
 */
#include "dmtest.h"

static void ref_xor(unsigned char *out, unsigned char *const *in, int nin, size_t len, uint8_t imm[8]) {
    (void)imm;
    for (size_t i = 0; i < len; i++) {
        unsigned char v = 0;
        for (int j = 0; j < nin; j++) v ^= in[j][i];
        out[i] = v;
    }
}

static void test_xor_all_counts(void) {
    for (int n = 2; n <= 16; n++) {
        char name[16];
        snprintf(name, sizeof name, "xor%d", n);
        struct dmover_session *s;
        CHECK_EQ(dmover_session_create(name, &s), 0);
        CHECK_EQ(s->dses_ninputs, n);
        dmover_session_destroy(s);
        CHECK(dmtest_check_function(name, 1, ref_xor, NULL, n <= 8 ? 60 : 25) == 0);
    }
}

static void test_xor_in_place(void) {
    /* RAID-style: out = in[0] ^ in[1] with out == in[0]. */
    struct dmover_session *s;
    CHECK_EQ(dmover_session_create(DMOVER_FUNC_XOR2, &s), 0);
    enum { N = 10007 };
    static unsigned char a[N], b[N], want[N];
    dmtest_fill_random(a, N);
    dmtest_fill_random(b, N);
    for (int i = 0; i < N; i++) want[i] = a[i] ^ b[i];
    struct dmover_request *r = dmover_request_alloc(s, NULL);
    r->dreq_outbuf_type = r->dreq_inbuf_type = DMOVER_BUF_LINEAR;
    r->dreq_outbuf.dmbuf_linear.l_addr = a;
    r->dreq_outbuf.dmbuf_linear.l_len = N;
    r->dreq_inbuf[0] = r->dreq_outbuf;
    r->dreq_inbuf[1].dmbuf_linear.l_addr = b;
    r->dreq_inbuf[1].dmbuf_linear.l_len = N;
    CHECK_EQ(dmtest_run_wait(r), 0);
    CHECK(memcmp(a, want, N) == 0);
    dmover_request_free(r);
    dmover_session_destroy(s);
}

/* xor16 in place with the output one of the later inputs, at odd lengths and
 * offsets: the grouped passes (9+ inputs) must not read an input they already
 * overwrote, so they fall back to one pass. */
static void test_xor16_in_place_later_input(void) {
    struct dmover_session *s;
    CHECK_EQ(dmover_session_create("xor16", &s), 0);
    enum { N = 3 * 4096 + 77, K = 16 };
    static unsigned char in[K][N + 64], want[N];
    for (int j = 0; j < K; j++) dmtest_fill_random(in[j], N + 64);
    const size_t lens[] = { 1, 63, 4096, 4097, N };
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        static const int outs[] = { 0, 9, K - 1 };
        for (size_t oi = 0; oi < sizeof outs / sizeof outs[0]; oi++) {
            int out = outs[oi];
            size_t len = lens[li];
            int off = (int)(li * 7 % 33);
            for (size_t i = 0; i < len; i++) {
                unsigned char v = 0;
                for (int j = 0; j < K; j++) v ^= in[j][off + i];
                want[i] = v;
            }
            struct dmover_request *r = dmover_request_alloc(s, NULL);
            r->dreq_outbuf_type = r->dreq_inbuf_type = DMOVER_BUF_LINEAR;
            r->dreq_outbuf.dmbuf_linear.l_addr = in[out] + off;
            r->dreq_outbuf.dmbuf_linear.l_len = len;
            for (int j = 0; j < K; j++) {
                r->dreq_inbuf[j].dmbuf_linear.l_addr = in[j] + off;
                r->dreq_inbuf[j].dmbuf_linear.l_len = len;
            }
            CHECK_EQ(dmtest_run_wait(r), 0);
            CHECK(memcmp(in[out] + off, want, len) == 0);
            dmover_request_free(r);
        }
    }
    dmover_session_destroy(s);
}

static void test_xor17_does_not_exist(void) {
    struct dmover_session *s;
    CHECK_EQ(dmover_session_create("xor17", &s), ESRCH);
    CHECK_EQ(dmover_session_create("xor1", &s), ESRCH);
}

int main(void) {
    dmtest_seed();
    RUN(test_xor_all_counts);
    RUN(test_xor_in_place);
    RUN(test_xor16_in_place_later_input);
    RUN(test_xor17_does_not_exist);
    return harness_finish();
}
