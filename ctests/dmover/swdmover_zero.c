/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * swdmover_zero.c: "zero" and "fill8" against a scalar reference on seeded random shapes.
 */
#include "dmtest.h"

static void ref_zero(unsigned char *out, unsigned char *const *in, int nin, size_t len, uint8_t imm[8]) {
    (void)in; (void)nin; (void)imm;
    memset(out, 0, len);
}

static void ref_fill8(unsigned char *out, unsigned char *const *in, int nin, size_t len, uint8_t imm[8]) {
    (void)in; (void)nin;
    memset(out, imm[0], len);
}

static void test_zero_random_shapes(void) { CHECK(dmtest_check_function(DMOVER_FUNC_ZERO, 1, ref_zero, NULL, 200) == 0); }
static void test_fill8_random_shapes(void) { CHECK(dmtest_check_function(DMOVER_FUNC_FILL8, 1, ref_fill8, NULL, 200) == 0); }

static void test_zero_needs_output(void) {
    struct dmover_session *s;
    CHECK_EQ(dmover_session_create(DMOVER_FUNC_ZERO, &s), 0);
    CHECK_EQ(s->dses_ninputs, 0);
    struct dmover_request *r = dmover_request_alloc(s, NULL);
    CHECK(r != NULL);
    r->dreq_outbuf_type = DMOVER_BUF_NONE;
    CHECK_EQ(dmtest_run_wait(r), EINVAL);
    CHECK(r->dreq_flags & DMOVER_REQ_ERROR);
    dmover_request_free(r);
    dmover_session_destroy(s);
}

int main(void) {
    dmtest_seed();
    RUN(test_zero_random_shapes);
    RUN(test_fill8_random_shapes);
    RUN(test_zero_needs_output);
    return harness_finish();
}
