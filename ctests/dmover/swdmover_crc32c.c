/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * swdmover_crc32c.c: "iscsi-crc32c" and "copy-crc32c": NetBSD's convention
 * (immediate = previous CRC in, result out), the check value, chaining, and a
 * bytewise reference on seeded random shapes.
 */
#include "dmtest.h"

static uint32_t imm32(const uint8_t imm[8]) {
    return (uint32_t)imm[0] | (uint32_t)imm[1] << 8 | (uint32_t)imm[2] << 16 | (uint32_t)imm[3] << 24;
}

static void ref_crc(unsigned char *out, unsigned char *const *in, int nin, size_t len, uint8_t imm[8]) {
    (void)out; (void)nin;
    uint32_t c = dmtest_crc32c(in[0], len, imm32(imm));
    for (int i = 0; i < 4; i++) imm[i] = (uint8_t)(c >> (8 * i));   /* bytes 4..7 untouched */
}

static void ref_copy_crc(unsigned char *out, unsigned char *const *in, int nin, size_t len, uint8_t imm[8]) {
    memcpy(out, in[0], len);
    ref_crc(out, in, nin, len, imm);
}

/* CRC of buf[len] through a session, starting from `last`. */
static int crc_request(struct dmover_session *s, const void *buf, size_t len, uint32_t last, uint32_t *crc) {
    struct dmover_request *r = dmover_request_alloc(s, NULL);
    if (!r) return ENOMEM;
    r->dreq_outbuf_type = DMOVER_BUF_NONE;
    r->dreq_inbuf_type = DMOVER_BUF_LINEAR;
    r->dreq_inbuf[0].dmbuf_linear.l_addr = (void *)buf;
    r->dreq_inbuf[0].dmbuf_linear.l_len = len;
    dmtest_set_imm64(r, last);
    int e = dmtest_run_wait(r);
    *crc = (uint32_t)dmtest_imm64(r);
    dmover_request_free(r);
    return e;
}

static void test_crc_check_value_and_chaining(void) {
    struct dmover_session *s;
    CHECK_EQ(dmover_session_create(DMOVER_FUNC_ISCSI_CRC32C, &s), 0);
    CHECK_EQ(s->dses_ninputs, 1);
    uint32_t c = 0;
    CHECK_EQ(crc_request(s, "123456789", 9, 0, &c), 0);
    CHECK_EQ(c, 0xE3069283u);
    uint32_t c1 = 0, c2 = 0;
    CHECK_EQ(crc_request(s, "1234", 4, 0, &c1), 0);
    CHECK_EQ(crc_request(s, "56789", 5, c1, &c2), 0);
    CHECK_EQ(c2, 0xE3069283u);
    CHECK_EQ(crc_request(s, "", 0, 0, &c), 0);
    CHECK_EQ(c, 0);
    /* chaining over random pieces of a large buffer, including the split and NT paths */
    size_t n = (9u << 20) + 12345;
    unsigned char *big = malloc(n);
    dmtest_fill_random(big, n);
    uint32_t want = dmtest_crc32c(big, n, 0), got = 0;
    size_t at = 0;
    while (at < n) {
        size_t k = dmtest_below(n - at + 1);
        if (dmtest_rand() & 1) k = k > 300 ? 300 : k;
        CHECK_EQ(crc_request(s, big + at, k, got, &got), 0);
        at += k;
    }
    CHECK_EQ(got, want);
    CHECK_EQ(crc_request(s, big, n, 0, &got), 0);
    CHECK_EQ(got, want);
    free(big);
    dmover_session_destroy(s);
}

static void test_crc_random_shapes(void) {
    CHECK(dmtest_check_function(DMOVER_FUNC_ISCSI_CRC32C, 0, ref_crc, NULL, 300) == 0);
}

static void test_copy_crc_random_shapes(void) {
    CHECK(dmtest_check_function(DMOVER_FUNC_COPY_CRC32C, 1, ref_copy_crc, NULL, 200) == 0);
}

static void test_crc_rejects_output(void) {
    struct dmover_session *s;
    CHECK_EQ(dmover_session_create(DMOVER_FUNC_ISCSI_CRC32C, &s), 0);
    char a[16] = "abc", b[16];
    struct dmover_request *r = dmover_request_alloc(s, NULL);
    r->dreq_outbuf_type = DMOVER_BUF_LINEAR;
    r->dreq_outbuf.dmbuf_linear.l_addr = b;
    r->dreq_outbuf.dmbuf_linear.l_len = 3;
    r->dreq_inbuf_type = DMOVER_BUF_LINEAR;
    r->dreq_inbuf[0].dmbuf_linear.l_addr = a;
    r->dreq_inbuf[0].dmbuf_linear.l_len = 3;
    dmtest_set_imm64(r, 0x1122334455667788ull);
    CHECK_EQ(dmtest_run_wait(r), EINVAL);
    CHECK_EQ(dmtest_imm64(r), 0x1122334455667788ull);   /* not updated on error */
    r->dreq_outbuf_type = DMOVER_BUF_NONE;
    r->dreq_inbuf_type = DMOVER_BUF_NONE;
    CHECK_EQ(dmtest_run_wait(r), EINVAL);
    dmover_request_free(r);
    dmover_session_destroy(s);
}

int main(void) {
    dmtest_seed();
    RUN(test_crc_check_value_and_chaining);
    RUN(test_crc_random_shapes);
    RUN(test_copy_crc_random_shapes);
    RUN(test_crc_rejects_output);
    return harness_finish();
}
