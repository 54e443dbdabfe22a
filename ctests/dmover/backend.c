/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * backend.c: a C program registers its own backends: selection by speed and
 * session count, later faster backends win for new sessions, EBUSY on
 * unregister with sessions, NetBSD-style dmb_process with TAILQ_FIRST +
 * dmover_backend_remque, a backend thread using dmover_backend_dequeue, and
 * dmover_algdesc_lookup.
 */
#include <pthread.h>
#include <unistd.h>
#include "dmtest.h"

/* A NetBSD-style "hardware" copy backend: completes inside dmb_process. */
static int inline_calls;
static void inline_process(struct dmover_backend *dmb) {
    struct dmover_request *r;
    while ((r = TAILQ_FIRST(&dmb->dmb_pendreqs)) != NULL) {
        dmover_backend_remque(dmb, r);
        r->dreq_flags |= DMOVER_REQ_RUNNING;
        inline_calls++;
        if (r->dreq_outbuf_type != DMOVER_BUF_LINEAR || r->dreq_inbuf_type != DMOVER_BUF_LINEAR ||
            r->dreq_outbuf.dmbuf_linear.l_len != r->dreq_inbuf[0].dmbuf_linear.l_len) {
            r->dreq_flags |= DMOVER_REQ_ERROR;
            r->dreq_error = EINVAL;
        } else {
            memcpy(r->dreq_outbuf.dmbuf_linear.l_addr, r->dreq_inbuf[0].dmbuf_linear.l_addr,
                   r->dreq_outbuf.dmbuf_linear.l_len);
            r->dreq_immediate[0] = 0xAB;      /* marks who did it */
        }
        dmover_done(r);
    }
}

static const struct dmover_algdesc hw_algs[] = {
    {DMOVER_FUNC_COPY, NULL, 1},
    {"hwonly", NULL, 1},
};

static struct dmover_backend hw_a, hw_b;

static void init_backend(struct dmover_backend *b, const char *name, unsigned speed) {
    memset(b, 0, sizeof *b);
    b->dmb_name = name;
    b->dmb_speed = speed;
    b->dmb_algdescs = hw_algs;
    b->dmb_nalgdescs = 2;
    b->dmb_process = inline_process;
}

static int run_copy(struct dmover_session *s, uint8_t *who) {
    char a[100], b[100];
    memset(a, 'x', sizeof a);
    struct dmover_request *r = dmover_request_alloc(s, NULL);
    r->dreq_outbuf_type = r->dreq_inbuf_type = DMOVER_BUF_LINEAR;
    r->dreq_outbuf.dmbuf_linear.l_addr = b;
    r->dreq_outbuf.dmbuf_linear.l_len = sizeof b;
    r->dreq_inbuf[0].dmbuf_linear.l_addr = a;
    r->dreq_inbuf[0].dmbuf_linear.l_len = sizeof a;
    int e = dmtest_run_wait(r);
    *who = r->dreq_immediate[0];
    if (e == 0 && memcmp(a, b, sizeof a) != 0) e = -2;
    dmover_request_free(r);
    return e;
}

static void test_register_errors(void) {
    struct dmover_backend b;
    init_backend(&b, "bad", 1);
    b.dmb_name = NULL;
    CHECK_EQ(dmover_backend_register(&b), EINVAL);
    init_backend(&b, "bad", 1);
    b.dmb_process = NULL;
    CHECK_EQ(dmover_backend_register(&b), EINVAL);
    init_backend(&b, "bad", 1);
    b.dmb_nalgdescs = -1;
    CHECK_EQ(dmover_backend_register(&b), EINVAL);
    static const struct dmover_algdesc too_many[] = {{"xor99", NULL, 99}};
    init_backend(&b, "bad", 1);
    b.dmb_algdescs = too_many;
    b.dmb_nalgdescs = 1;
    CHECK_EQ(dmover_backend_register(&b), EINVAL);
    CHECK_EQ(dmover_backend_register(NULL), EINVAL);
    CHECK_EQ(dmover_backend_unregister(NULL), EINVAL);
    init_backend(&b, "never", 1);
    CHECK_EQ(dmover_backend_unregister(&b), ENOENT);
}

static void test_selection_and_ebusy(void) {
    uint8_t who;
    /* Software backend (speed 1) serves copy at first. */
    struct dmover_session *s0;
    CHECK_EQ(dmover_session_create(DMOVER_FUNC_COPY, &s0), 0);
    CHECK_EQ(run_copy(s0, &who), 0);
    CHECK(who != 0xAB);
    /* A faster backend registered later wins for new sessions; the old session keeps its backend. */
    init_backend(&hw_a, "hw_a", 1000);
    CHECK_EQ(dmover_backend_register(&hw_a), 0);
    CHECK_EQ(dmover_backend_register(&hw_a), EEXIST);
    struct dmover_session *s1, *s2, *s3;
    CHECK_EQ(dmover_session_create(DMOVER_FUNC_COPY, &s1), 0);
    CHECK_EQ(s1->dses_ninputs, 1);
    CHECK_EQ(run_copy(s1, &who), 0);
    CHECK_EQ(who, 0xAB);
    CHECK_EQ(hw_a.dmb_nsessions, 1);
    CHECK_EQ(run_copy(s0, &who), 0);
    CHECK(who != 0xAB);
    /* Equal speed: the one with fewer sessions. */
    init_backend(&hw_b, "hw_b", 1000);
    CHECK_EQ(dmover_backend_register(&hw_b), 0);
    CHECK_EQ(dmover_session_create(DMOVER_FUNC_COPY, &s2), 0);
    CHECK_EQ(hw_b.dmb_nsessions, 1);
    CHECK_EQ(dmover_session_create(DMOVER_FUNC_COPY, &s3), 0);   /* tie 1:1 -> earlier registered */
    CHECK_EQ(hw_a.dmb_nsessions, 2);
    /* A function only the C backends have. */
    struct dmover_session *h;
    CHECK_EQ(dmover_session_create("hwonly", &h), 0);
    /* Unregister with sessions: EBUSY, nothing changes. */
    CHECK_EQ(dmover_backend_unregister(&hw_a), EBUSY);
    CHECK_EQ(run_copy(s1, &who), 0);
    CHECK_EQ(who, 0xAB);
    dmover_session_destroy(s1);
    dmover_session_destroy(s3);
    dmover_session_destroy(h);
    CHECK_EQ(hw_a.dmb_nsessions + hw_b.dmb_nsessions, 1);
    if (hw_a.dmb_nsessions == 0) CHECK_EQ(dmover_backend_unregister(&hw_a), 0);
    dmover_session_destroy(s2);
    CHECK_EQ(dmover_backend_unregister(&hw_b), 0);
    if (hw_a.__dmb_impl != NULL) CHECK_EQ(dmover_backend_unregister(&hw_a), 0);
    CHECK_EQ(dmover_session_create("hwonly", &h), ESRCH);
    CHECK_EQ(dmover_session_create(DMOVER_FUNC_COPY, &s1), 0);
    CHECK_EQ(run_copy(s1, &who), 0);
    CHECK(who != 0xAB);
    dmover_session_destroy(s1);
    dmover_session_destroy(s0);
    CHECK_EQ(inline_calls, 2);
}

/* A backend with its own thread, woken by dmb_process. */
static pthread_mutex_t th_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t th_cond = PTHREAD_COND_INITIALIZER;
static int th_kicks, th_stop;
static struct dmover_backend threaded;

static void threaded_process(struct dmover_backend *dmb) {
    (void)dmb;
    pthread_mutex_lock(&th_lock);
    th_kicks++;
    pthread_cond_signal(&th_cond);
    pthread_mutex_unlock(&th_lock);
}

static void *threaded_main(void *arg) {
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&th_lock);
        while (th_kicks == 0 && !th_stop) pthread_cond_wait(&th_cond, &th_lock);
        if (th_stop) { pthread_mutex_unlock(&th_lock); return NULL; }
        th_kicks = 0;
        pthread_mutex_unlock(&th_lock);
        struct dmover_request *r;
        while ((r = dmover_backend_dequeue(&threaded)) != NULL) {
            r->dreq_immediate[0] += 1;
            dmover_done(r);
        }
    }
}

static const struct dmover_algdesc inc_algs[] = {{"increment", NULL, 0}};

static void test_threaded_backend(void) {
    memset(&threaded, 0, sizeof threaded);
    threaded.dmb_name = "threaded";
    threaded.dmb_speed = 10;
    threaded.dmb_algdescs = inc_algs;
    threaded.dmb_nalgdescs = 1;
    threaded.dmb_process = threaded_process;
    CHECK_EQ(dmover_backend_register(&threaded), 0);
    pthread_t t;
    pthread_create(&t, NULL, threaded_main, NULL);
    struct dmover_session *s;
    CHECK_EQ(dmover_session_create("increment", &s), 0);
    CHECK_EQ(s->dses_ninputs, 0);
    CHECK(dmover_backend_dequeue(&threaded) == NULL);
    for (int i = 0; i < 1000; i++) {
        struct dmover_request *r = dmover_request_alloc(s, NULL);
        r->dreq_immediate[0] = (uint8_t)i;
        CHECK_EQ(dmtest_run_wait(r), 0);
        CHECK_EQ(r->dreq_immediate[0], (uint8_t)(i + 1));
        dmover_request_free(r);
    }
    dmover_session_destroy(s);
    pthread_mutex_lock(&th_lock);
    th_stop = 1;
    pthread_cond_signal(&th_cond);
    pthread_mutex_unlock(&th_lock);
    pthread_join(t, NULL);
    CHECK_EQ(dmover_backend_unregister(&threaded), 0);
}

static void test_algdesc_lookup(void) {
    CHECK(dmover_algdesc_lookup(hw_algs, 2, "hwonly") == &hw_algs[1]);
    CHECK(dmover_algdesc_lookup(hw_algs, 2, DMOVER_FUNC_COPY) == &hw_algs[0]);
    CHECK(dmover_algdesc_lookup(hw_algs, 1, "hwonly") == NULL);
    CHECK(dmover_algdesc_lookup(hw_algs, 2, "nope") == NULL);
    CHECK(dmover_algdesc_lookup(NULL, 2, "copy") == NULL);
    CHECK(dmover_algdesc_lookup(hw_algs, 2, NULL) == NULL);
}

int main(void) {
    dmtest_seed();
    RUN(test_register_errors);
    RUN(test_selection_and_ebusy);
    RUN(test_threaded_backend);
    RUN(test_algdesc_lookup);
    return harness_finish();
}
