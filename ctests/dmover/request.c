/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * request.c: dmover_request_alloc/free and dmover_process: DMOVER_REQ_WAIT,
 * callbacks on a library thread, polling DMOVER_REQ_DONE, caller-owned input
 * arrays, reuse of a request, misuse that must fail cleanly.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "dmtest.h"

static pid_t gettid_(void) { return (pid_t)syscall(SYS_gettid); }

static void test_alloc_free(void) {
    struct dmover_session *s;
    CHECK_EQ(dmover_session_create(DMOVER_FUNC_XOR4, &s), 0);
    struct dmover_request *r = dmover_request_alloc(s, NULL);
    CHECK(r != NULL);
    CHECK(r->dreq_session == s);
    CHECK(r->dreq_inbuf != NULL);          /* library-owned array of 4 */
    CHECK_EQ(r->dreq_flags & (DMOVER_REQ_DONE | DMOVER_REQ_ERROR | DMOVER_REQ_RUNNING | DMOVER_REQ_WAIT), 0);
    CHECK(r->dreq_callback == NULL);
    dmover_request_free(r);
    dmover_request_free(NULL);
    errno = 0;
    CHECK(dmover_request_alloc(NULL, NULL) == NULL);
    CHECK_EQ(errno, EINVAL);
    /* The caller's array is used as is and never freed by the library. */
    dmover_buffer *mine = malloc(4 * sizeof *mine);
    r = dmover_request_alloc(s, mine);
    CHECK(r->dreq_inbuf == mine);
    dmover_request_free(r);
    free(mine);                            /* a double free would abort here */
    dmover_session_destroy(s);
}

static void setup_copy(struct dmover_request *r, void *dst, const void *src, size_t n) {
    r->dreq_outbuf_type = r->dreq_inbuf_type = DMOVER_BUF_LINEAR;
    r->dreq_outbuf.dmbuf_linear.l_addr = dst;
    r->dreq_outbuf.dmbuf_linear.l_len = n;
    r->dreq_inbuf[0].dmbuf_linear.l_addr = (void *)src;
    r->dreq_inbuf[0].dmbuf_linear.l_len = n;
}

static void test_wait(void) {
    struct dmover_session *s;
    CHECK_EQ(dmover_session_create(DMOVER_FUNC_COPY, &s), 0);
    static unsigned char a[1 << 20], b[1 << 20];
    dmtest_fill_random(a, sizeof a);
    struct dmover_request *r = dmover_request_alloc(s, NULL);
    setup_copy(r, b, a, sizeof a);
    r->dreq_flags |= DMOVER_REQ_WAIT;
    dmover_process(r);
    CHECK(r->dreq_flags & DMOVER_REQ_DONE);
    CHECK(!(r->dreq_flags & (DMOVER_REQ_ERROR | DMOVER_REQ_RUNNING)));
    CHECK(r->dreq_flags & DMOVER_REQ_WAIT);   /* preserved */
    CHECK(memcmp(a, b, sizeof a) == 0);
    /* The same request again, different data. */
    dmtest_fill_random(a, sizeof a);
    dmover_process(r);
    CHECK(r->dreq_flags & DMOVER_REQ_DONE);
    CHECK(memcmp(a, b, sizeof a) == 0);
    dmover_request_free(r);
    dmover_session_destroy(s);
}

static void test_poll_done(void) {
    struct dmover_session *s;
    CHECK_EQ(dmover_session_create(DMOVER_FUNC_COPY, &s), 0);
    size_t n = 8u << 20;                      /* large: runs on the backend's thread */
    unsigned char *a = malloc(n), *b = malloc(n);
    dmtest_fill_random(a, 4096);
    memset(a + 4096, 0x77, n - 4096);
    struct dmover_request *r = dmover_request_alloc(s, NULL);
    setup_copy(r, b, a, n);
    dmover_process(r);
    uint64_t t0 = harness_now_ns();
    while (!(__atomic_load_n(&r->dreq_flags, __ATOMIC_ACQUIRE) & DMOVER_REQ_DONE)) {
        CHECK(harness_now_ns() - t0 < 60ull * 1000000000ull);
        usleep(100);
    }
    CHECK(!(r->dreq_flags & DMOVER_REQ_ERROR));
    CHECK(memcmp(a, b, n) == 0);
    dmover_request_free(r);
    free(a);
    free(b);
    dmover_session_destroy(s);
}

/* --- callbacks ------------------------------------------------------------- */

enum { NCB = 200 };
static pthread_mutex_t cb_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cb_cond = PTHREAD_COND_INITIALIZER;
static int cb_count, cb_on_submitter, cb_bad;
static pid_t submitter_tid;
static atomic_int cb_inside;

static void callback(struct dmover_request *r) {
    if (atomic_fetch_add(&cb_inside, 1) != 0) cb_bad++;     /* one at a time */
    int *expect = r->dreq_cookie;
    if (!(r->dreq_flags & DMOVER_REQ_DONE) || (r->dreq_flags & DMOVER_REQ_ERROR)) cb_bad++;
    unsigned char *out = r->dreq_outbuf.dmbuf_linear.l_addr;
    if (out[0] != (unsigned char)*expect) cb_bad++;
    if (gettid_() == submitter_tid) cb_on_submitter++;
    dmover_request_free(r);                                 /* allowed in the callback */
    atomic_fetch_sub(&cb_inside, 1);
    pthread_mutex_lock(&cb_lock);
    cb_count++;
    pthread_cond_signal(&cb_cond);
    pthread_mutex_unlock(&cb_lock);
}

static void test_callbacks_on_library_thread(void) {
    struct dmover_session *s;
    CHECK_EQ(dmover_session_create(DMOVER_FUNC_FILL8, &s), 0);
    static unsigned char out[NCB][5000];
    static int vals[NCB];
    submitter_tid = gettid_();
    for (int i = 0; i < NCB; i++) {
        struct dmover_request *r = dmover_request_alloc(s, NULL);
        CHECK(r != NULL);
        vals[i] = i;
        r->dreq_outbuf_type = DMOVER_BUF_LINEAR;
        r->dreq_outbuf.dmbuf_linear.l_addr = out[i];
        r->dreq_outbuf.dmbuf_linear.l_len = (i % 3 == 0) ? sizeof out[i] : 100;
        r->dreq_immediate[0] = (uint8_t)i;
        r->dreq_callback = callback;
        r->dreq_cookie = &vals[i];
        dmover_process(r);
    }
    pthread_mutex_lock(&cb_lock);
    while (cb_count < NCB) pthread_cond_wait(&cb_cond, &cb_lock);
    pthread_mutex_unlock(&cb_lock);
    CHECK_EQ(cb_bad, 0);
    CHECK_EQ(cb_on_submitter, 0);
    dmover_session_destroy(s);
}

static void test_wait_with_callback_is_einval(void) {
    struct dmover_session *s;
    CHECK_EQ(dmover_session_create(DMOVER_FUNC_ZERO, &s), 0);
    unsigned char buf[64];
    cb_count = 0;
    static int zero = 0;
    struct dmover_request *r = dmover_request_alloc(s, NULL);
    r->dreq_outbuf_type = DMOVER_BUF_LINEAR;
    r->dreq_outbuf.dmbuf_linear.l_addr = buf;
    r->dreq_outbuf.dmbuf_linear.l_len = sizeof buf;
    r->dreq_flags |= DMOVER_REQ_WAIT;
    r->dreq_callback = callback;
    r->dreq_cookie = &zero;
    buf[0] = 0;
    int bad_before = cb_bad;
    dmover_process(r);                    /* the callback reports the EINVAL, then frees r */
    pthread_mutex_lock(&cb_lock);
    while (cb_count < 1) pthread_cond_wait(&cb_cond, &cb_lock);
    pthread_mutex_unlock(&cb_lock);
    CHECK_EQ(cb_bad, bad_before + 1);     /* it saw DMOVER_REQ_ERROR */
    cb_bad = 0;
    dmover_session_destroy(s);
}

static void *submit_thread(void *arg) {
    struct dmover_session *s = arg;
    unsigned char a[3000], b[3000];
    for (int i = 0; i < 300; i++) {
        dmtest_fill_random(a, sizeof a);
        struct dmover_request *r = dmover_request_alloc(s, NULL);
        setup_copy(r, b, a, sizeof a);
        if (dmtest_run_wait(r) != 0 || memcmp(a, b, sizeof a) != 0) return (void *)1;
        dmover_request_free(r);
    }
    return NULL;
}

static void test_concurrent_submitters(void) {
    struct dmover_session *s;
    CHECK_EQ(dmover_session_create(DMOVER_FUNC_COPY, &s), 0);
    pthread_t t[4];
    for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, submit_thread, s);
    for (int i = 0; i < 4; i++) {
        void *rv;
        pthread_join(t[i], &rv);
        CHECK(rv == NULL);
    }
    dmover_session_destroy(s);
}

int main(void) {
    dmtest_seed();
    RUN(test_alloc_free);
    RUN(test_wait);
    RUN(test_poll_done);
    RUN(test_callbacks_on_library_thread);
    RUN(test_wait_with_callback_is_einval);
    RUN(test_concurrent_submitters);
    return harness_finish();
}
