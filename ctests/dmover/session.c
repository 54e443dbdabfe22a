/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * session.c: dmover_session_create/destroy: function names, input counts,
 * errors, and destroying a session while a request is still in flight.
 */
#include <unistd.h>
#include "dmtest.h"

static void test_create_every_function(void) {
    static const struct { const char *name; int ninputs; } f[] = {
        {DMOVER_FUNC_ZERO, 0}, {DMOVER_FUNC_FILL8, 0}, {DMOVER_FUNC_COPY, 1},
        {DMOVER_FUNC_ISCSI_CRC32C, 1}, {DMOVER_FUNC_COPY_CRC32C, 1}, {DMOVER_FUNC_COMPARE, 2},
        {DMOVER_FUNC_XOR2, 2}, {DMOVER_FUNC_XOR8, 8}, {DMOVER_FUNC_XOR9, 9}, {DMOVER_FUNC_XOR16, 16},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        struct dmover_session *s = NULL;
        CHECK_EQ(dmover_session_create(f[i].name, &s), 0);
        CHECK(s != NULL);
        CHECK_EQ(s->dses_ninputs, f[i].ninputs);
        s->dses_cookie = (void *)&f[i];
        CHECK(s->dses_cookie == &f[i]);
        dmover_session_destroy(s);
    }
}

static void test_create_errors(void) {
    struct dmover_session *s = (struct dmover_session *)0x1;
    CHECK_EQ(dmover_session_create("no-such-function", &s), ESRCH);
    CHECK(s == (struct dmover_session *)0x1);   /* untouched on failure */
    CHECK_EQ(dmover_session_create("", &s), ESRCH);
    CHECK_EQ(dmover_session_create(NULL, &s), EINVAL);
    CHECK_EQ(dmover_session_create(DMOVER_FUNC_ZERO, NULL), EINVAL);
    dmover_session_destroy(NULL);               /* ignored */
}

static void test_many_sessions(void) {
    enum { N = 500 };
    static struct dmover_session *s[N];
    for (int i = 0; i < N; i++) CHECK_EQ(dmover_session_create(DMOVER_FUNC_COPY, &s[i]), 0);
    for (int i = 0; i < N; i++) dmover_session_destroy(s[i]);
}

/* A backend that holds requests until told to complete them. */
static struct dmover_backend slow;
static const struct dmover_algdesc slow_algs[] = {{"slowop", NULL, 0}};
static void slow_process(struct dmover_backend *dmb) { (void)dmb; }

static void test_destroy_with_request_in_flight(void) {
    memset(&slow, 0, sizeof slow);
    slow.dmb_name = "slow";
    slow.dmb_speed = 5;
    slow.dmb_algdescs = slow_algs;
    slow.dmb_nalgdescs = 1;
    slow.dmb_process = slow_process;
    CHECK_EQ(dmover_backend_register(&slow), 0);
    struct dmover_session *s;
    CHECK_EQ(dmover_session_create("slowop", &s), 0);
    CHECK_EQ(slow.dmb_nsessions, 1);
    struct dmover_request *r = dmover_request_alloc(s, NULL);
    dmover_process(r);
    CHECK(!(r->dreq_flags & DMOVER_REQ_DONE));
    dmover_session_destroy(s);            /* NetBSD panics; here it is deferred */
    CHECK_EQ(slow.dmb_nsessions, 1);
    CHECK_EQ(dmover_backend_unregister(&slow), EBUSY);
    struct dmover_request *q = dmover_backend_dequeue(&slow);
    CHECK(q == r);
    CHECK(q->dreq_flags & DMOVER_REQ_RUNNING);
    dmover_done(q);
    CHECK(r->dreq_flags & DMOVER_REQ_DONE);
    CHECK_EQ(slow.dmb_nsessions, 0);      /* released with its last request */
    dmover_request_free(r);
    CHECK_EQ(dmover_backend_unregister(&slow), 0);
}

int main(void) {
    dmtest_seed();
    RUN(test_create_every_function);
    RUN(test_create_errors);
    RUN(test_many_sessions);
    RUN(test_destroy_with_request_in_flight);
    return harness_finish();
}
