/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * fuzz_dmover.c: arbitrary dmover_request fields through dmover_process():
 * buffer types (valid and not), linear and uio buffers with random iovcnts
 * (negative, above IOV_MAX), lengths and uio_resid (short, long, matching or
 * not), NULL addresses and input arrays, immediates, completion by waiting,
 * by callback, by polling, or both waiting and callback (an error), and a
 * NULL session. The in-process API trusts its addresses (as in the kernel),
 * so every non-NULL address is a heap block of exactly the size the fuzzer
 * says: AddressSanitizer reports any byte the library touches beyond it.
 * Checked: completion exactly once; copy/zero/fill8/xor outputs, the CRC and
 * compare immediates and copy-crc32c's output and CRC against a plain
 * reference (buffers flattened once, so checking costs little beside the
 * library's own work and the fuzzer spends its time on the library).
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <dev/dmover/dmovervar.h>
#include "fuzz_input.h"

enum { MAXSEG = 32, MAXIN = 16, MAXLEN = 8192 };

static const char *const funcs[] = {"copy", "zero", "fill8", "xor2", "xor5", "xor16",
                                    "iscsi-crc32c", "copy-crc32c", "compare"};
enum { F_COPY, F_ZERO, F_FILL8, F_XOR2, F_XOR5, F_XOR16, F_CRC, F_COPYCRC, F_COMPARE, NFUNCS };
static const int xor_inputs[NFUNCS] = {[F_XOR2] = 2, [F_XOR5] = 5, [F_XOR16] = 16};
static struct dmover_session *sessions[NFUNCS];

/* A buffer and every block it owns (freed after the request). */
typedef struct {
    dmover_buffer_type type;
    dmover_buffer buf;
    struct uio uio;
    struct iovec *iov;           /* exactly iov_alloc entries */
    void *blocks[MAXSEG + 1];
    int nblocks;
    size_t len;                  /* logical length when the shape is valid */
} fbuf;

static int callbacks;
static unsigned char pattern[MAXLEN];            /* initial contents of every block */
static unsigned char want[MAXLEN + 256], got[MAXLEN + 256], flat[MAXLEN + 256];
static uint32_t crc_table[256];

static void on_done(struct dmover_request *dreq) {
    __atomic_add_fetch((int *)dreq->dreq_cookie, 1, __ATOMIC_RELEASE);
}

static void setup(void) {
    for (int i = 0; i < NFUNCS; i++) FUZZ_ASSERT(dmover_session_create(funcs[i], &sessions[i]) == 0);
    for (size_t i = 0; i < MAXLEN; i++) pattern[i] = (unsigned char)(i * 31 + 7);
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1)));
        crc_table[i] = c;
    }
}

/* CRC-32C in NetBSD dmover's convention: continue from `prev` (0 to start). */
static uint32_t crc32c_ref(uint32_t prev, const unsigned char *p, size_t n) {
    uint32_t c = ~prev;
    for (size_t i = 0; i < n; i++) c = crc_table[(c ^ p[i]) & 0xff] ^ (c >> 8);
    return ~c;
}

static void *block(fbuf *b, size_t len, fuzz_input *in) {
    unsigned char *p = malloc(len ? len : 1);
    FUZZ_ASSERT(p);
    memcpy(p, pattern, len);
    if (len) p[0] = fuzz_u8(in);
    b->blocks[b->nblocks++] = p;
    return p;
}

static void make_buffer(fuzz_input *in, fbuf *b, dmover_buffer_type type, size_t len) {
    memset(b, 0, sizeof *b);
    b->type = type;
    b->len = len;
    uint8_t k = fuzz_u8(in);
    if (type == DMOVER_BUF_LINEAR) {
        b->buf.dmbuf_linear.l_len = len;
        b->buf.dmbuf_linear.l_addr = (k == 255 && len) ? NULL : block(b, len, in);
        if (k == 254) b->buf.dmbuf_linear.l_len = (size_t)-1 - fuzz_u8(in);
        return;
    }
    if (type != DMOVER_BUF_UIO) return;
    if (k == 255) { b->buf.dmbuf_uio = NULL; return; }
    int n = 1 + fuzz_u8(in) % MAXSEG;
    b->iov = calloc((size_t)n, sizeof *b->iov);
    FUZZ_ASSERT(b->iov);
    size_t left = len;
    for (int i = 0; i < n; i++) {
        size_t seg = (i + 1 == n) ? left : fuzz_u16(in) % (left + 1);
        left -= seg;
        b->iov[i].iov_len = seg;
        b->iov[i].iov_base = (seg == 0 && (fuzz_u8(in) & 1)) ? NULL : block(b, seg, in);
    }
    b->uio.uio_iov = b->iov;
    b->uio.uio_iovcnt = n;
    b->uio.uio_resid = len;
    /* Shapes that must be refused (or read only as far as they claim). */
    switch (k % 16) {
    case 0: b->uio.uio_iovcnt = -1 - fuzz_u8(in); break;
    case 1: b->uio.uio_iovcnt = 1025; break;
    case 2: b->uio.uio_resid = len + 1 + fuzz_u8(in); break;     /* more than the iovecs hold */
    case 3: if (n > 1) b->uio.uio_iovcnt = n - 1; break;
    case 4: b->uio.uio_resid = len / 2; break;                    /* a prefix: valid */
    case 5: b->uio.uio_iov = NULL; break;
    case 6: b->uio.uio_resid = (size_t)-1; break;
    default: break;
    }
    b->len = b->uio.uio_resid;
    b->buf.dmbuf_uio = &b->uio;
}

static void free_buffer(fbuf *b) {
    for (int i = 0; i < b->nblocks; i++) free(b->blocks[i]);
    free(b->iov);
}

/* Copies the first n bytes of a valid buffer (the reference side of the check). */
static void flatten(const fbuf *b, unsigned char *dst, size_t n) {
    if (b->type == DMOVER_BUF_LINEAR) {
        memcpy(dst, b->buf.dmbuf_linear.l_addr, n);
        return;
    }
    for (int s = 0; n > 0; s++) {
        FUZZ_ASSERT(s < b->uio.uio_iovcnt);
        size_t k = b->iov[s].iov_len < n ? b->iov[s].iov_len : n;
        if (k) memcpy(dst, b->iov[s].iov_base, k);
        dst += k;
        n -= k;
    }
}

/* Checks a successful request's results against the reference. */
static void check_result(int func, const fbuf *out, const fbuf *ins, uint8_t imm0, uint64_t imm_before,
                         const struct dmover_request *dreq) {
    size_t n = out->len;
    uint64_t imm;
    memcpy(&imm, dreq->dreq_immediate, sizeof imm);
    /* Longer shapes must have been refused. */
    FUZZ_ASSERT(n <= MAXLEN && (sessions[func]->dses_ninputs == 0 || ins[0].len <= MAXLEN));
    switch (func) {
    case F_COPY: case F_COPYCRC: flatten(&ins[0], want, n); break;
    case F_ZERO: memset(want, 0, n); break;
    case F_FILL8: memset(want, imm0, n); break;
    case F_XOR2: case F_XOR5: case F_XOR16:
        flatten(&ins[0], want, n);
        for (int j = 1; j < xor_inputs[func]; j++) {
            flatten(&ins[j], flat, n);
            for (size_t i = 0; i < n; i += 8) {   /* the arrays have 256 bytes of slack */
                uint64_t a, b;
                memcpy(&a, want + i, 8);
                memcpy(&b, flat + i, 8);
                a ^= b;
                memcpy(want + i, &a, 8);
            }
        }
        break;
    case F_CRC:
        flatten(&ins[0], flat, ins[0].len);
        FUZZ_ASSERT((uint32_t)imm == crc32c_ref((uint32_t)imm_before, flat, ins[0].len));
        return;
    case F_COMPARE: {
        FUZZ_ASSERT(ins[0].len == ins[1].len);
        flatten(&ins[0], flat, ins[0].len);
        flatten(&ins[1], want, ins[1].len);
        uint64_t expect = 0;
        for (size_t i = 0; i < ins[0].len; i++)
            if (flat[i] != want[i]) { expect = i + 1; break; }
        FUZZ_ASSERT(imm == expect);
        return;
    }
    default: return;
    }
    if (func == F_COPYCRC) FUZZ_ASSERT((uint32_t)imm == crc32c_ref((uint32_t)imm_before, want, n));
    flatten(out, got, n);
    FUZZ_ASSERT(memcmp(want, got, n) == 0);
}

static void one_request(fuzz_input *in) {
    int func = fuzz_u8(in) % NFUNCS;
    struct dmover_session *dses = sessions[func];
    int nin = dses->dses_ninputs;
    static dmover_buffer user_inbuf[MAXIN];
    uint8_t k = fuzz_u8(in);
    struct dmover_request *dreq = dmover_request_alloc(dses, (k & 1) ? user_inbuf : NULL);
    FUZZ_ASSERT(dreq);
    size_t len = fuzz_u16(in) % (MAXLEN + 1);
    static const int types[] = {DMOVER_BUF_LINEAR, DMOVER_BUF_UIO, DMOVER_BUF_LINEAR, DMOVER_BUF_UIO,
                                DMOVER_BUF_NONE, 3, -1};
    int outtype = FUZZ_PICK(in, types), intype = FUZZ_PICK(in, types);
    fbuf out, ins[MAXIN];
    size_t outlen = (fuzz_u8(in) < 240) ? len : fuzz_u16(in) % (MAXLEN + 1);   /* mostly matching */
    make_buffer(in, &out, (dmover_buffer_type)outtype, outlen);
    for (int j = 0; j < nin; j++) {
        make_buffer(in, &ins[j], (dmover_buffer_type)intype, len);
        dreq->dreq_inbuf[j] = ins[j].buf;
    }
    dreq->dreq_outbuf_type = (dmover_buffer_type)outtype;
    dreq->dreq_outbuf = out.buf;
    dreq->dreq_inbuf_type = (dmover_buffer_type)intype;
    uint64_t imm = fuzz_u64(in);
    memcpy(dreq->dreq_immediate, &imm, sizeof imm);
    uint8_t imm0 = dreq->dreq_immediate[0];
    dmover_buffer *inbuf = dreq->dreq_inbuf;
    if (k & 2) dreq->dreq_inbuf = NULL;
    int done = 0;
    uint8_t how = fuzz_u8(in) % 4;           /* 0 wait, 1 callback, 2 poll, 3 wait + callback */
    if (how == 1 || how == 3) { dreq->dreq_callback = on_done; dreq->dreq_cookie = &done; }
    if (how == 0 || how == 3) dreq->dreq_flags |= DMOVER_REQ_WAIT;
    struct dmover_session *saved = dreq->dreq_session;
    int no_session = fuzz_u8(in) == 0;
    if (no_session) dreq->dreq_session = NULL;
    dmover_process(dreq);
    if (no_session) {
        /* Ignored: nothing ran, nothing completes. */
        FUZZ_ASSERT(!(dreq->dreq_flags & DMOVER_REQ_DONE));
        dreq->dreq_session = saved;
    } else {
        while (!(__atomic_load_n(&dreq->dreq_flags, __ATOMIC_ACQUIRE) & DMOVER_REQ_DONE)) sched_yield();
        if (dreq->dreq_callback) {
            while (__atomic_load_n(&done, __ATOMIC_ACQUIRE) == 0) sched_yield();
            FUZZ_ASSERT(done == 1);
            callbacks++;
        }
        if (how == 3) FUZZ_ASSERT((dreq->dreq_flags & DMOVER_REQ_ERROR) && dreq->dreq_error == EINVAL);
        if (dreq->dreq_flags & DMOVER_REQ_ERROR) {
            FUZZ_ASSERT(dreq->dreq_error == EINVAL || dreq->dreq_error == EFAULT);
        } else {
            check_result(func, &out, ins, imm0, imm, dreq);
        }
    }
    dreq->dreq_inbuf = inbuf;            /* the library frees its own array through this */
    dmover_request_free(dreq);
    free_buffer(&out);
    for (int j = 0; j < nin; j++) free_buffer(&ins[j]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int ready;
    if (!ready) { setup(); ready = 1; }
    fuzz_input in = {data, size};
    for (int steps = 0; fuzz_more(&in) && steps < 8; steps++) one_request(&in);
    return 0;
}
