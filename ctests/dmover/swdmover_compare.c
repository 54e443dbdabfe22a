/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * swdmover_compare.c: "compare": immediate 0 when equal, else 1 + offset of the first difference.
 */
#include "dmtest.h"

static void ref_compare(unsigned char *out, unsigned char *const *in, int nin, size_t len, uint8_t imm[8]) {
    (void)out; (void)nin;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (in[0][i] != in[1][i]) { v = i + 1; break; }
    }
    for (int i = 0; i < 8; i++) imm[i] = (uint8_t)(v >> (8 * i));
}

/* Mostly equal inputs, with zero to three differences at random places. */
static void prep_compare(unsigned char *const *in, int nin, size_t len) {
    (void)nin;
    memcpy(in[1], in[0], len);
    int k = (int)dmtest_below(4);
    for (int i = 0; i < k && len > 0; i++) in[1][dmtest_below(len)] ^= (unsigned char)(1 + dmtest_below(255));
}

static void test_compare_random_shapes(void) {
    CHECK(dmtest_check_function(DMOVER_FUNC_COMPARE, 0, ref_compare, prep_compare, 400) == 0);
}

static void test_compare_large_last_byte(void) {
    struct dmover_session *s;
    CHECK_EQ(dmover_session_create(DMOVER_FUNC_COMPARE, &s), 0);
    CHECK_EQ(s->dses_ninputs, 2);
    size_t n = (10u << 20) + 3;
    unsigned char *a = calloc(1, n), *b = calloc(1, n);
    struct dmover_request *r = dmover_request_alloc(s, NULL);
    r->dreq_outbuf_type = DMOVER_BUF_NONE;
    r->dreq_inbuf_type = DMOVER_BUF_LINEAR;
    r->dreq_inbuf[0].dmbuf_linear.l_addr = a;
    r->dreq_inbuf[0].dmbuf_linear.l_len = n;
    r->dreq_inbuf[1].dmbuf_linear.l_addr = b;
    r->dreq_inbuf[1].dmbuf_linear.l_len = n;
    CHECK_EQ(dmtest_run_wait(r), 0);
    CHECK_EQ(dmtest_imm64(r), 0);
    b[n - 1] = 1;
    CHECK_EQ(dmtest_run_wait(r), 0);
    CHECK_EQ(dmtest_imm64(r), n);
    b[n / 2 + 1] = 1;   /* a difference in a later part of a split must not hide an earlier one */
    b[3 * n / 4] = 1;
    CHECK_EQ(dmtest_run_wait(r), 0);
    CHECK_EQ(dmtest_imm64(r), n / 2 + 2);
    r->dreq_inbuf[1].dmbuf_linear.l_len = n - 1;
    CHECK_EQ(dmtest_run_wait(r), EINVAL);
    dmover_request_free(r);
    free(a);
    free(b);
    dmover_session_destroy(s);
}

int main(void) {
    dmtest_seed();
    RUN(test_compare_random_shapes);
    RUN(test_compare_large_last_byte);
    return harness_finish();
}
