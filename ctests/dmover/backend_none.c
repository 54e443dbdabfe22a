/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * backend_none.c: with the software backend disabled (BSDSHIM_DMOVER_SWDMOVER=0)
 * there are no backends: ENXIO, then ESRCH once a backend exists.
 */
#include <stdlib.h>
#include "dmtest.h"

static void nop_process(struct dmover_backend *dmb) {
    struct dmover_request *r;
    while ((r = TAILQ_FIRST(&dmb->dmb_pendreqs)) != NULL) {
        dmover_backend_remque(dmb, r);
        dmover_done(r);
    }
}

static void test_no_backend(void) {
    struct dmover_session *s;
    CHECK_EQ(dmover_session_create(DMOVER_FUNC_ZERO, &s), ENXIO);
    static const struct dmover_algdesc algs[] = {{"nop", NULL, 0}};
    static struct dmover_backend b;
    b.dmb_name = "nop";
    b.dmb_speed = 1;
    b.dmb_algdescs = algs;
    b.dmb_nalgdescs = 1;
    b.dmb_process = nop_process;
    CHECK_EQ(dmover_backend_register(&b), 0);
    CHECK_EQ(dmover_session_create(DMOVER_FUNC_ZERO, &s), ESRCH);
    CHECK_EQ(dmover_session_create("nop", &s), 0);
    struct dmover_request *r = dmover_request_alloc(s, NULL);
    CHECK_EQ(dmtest_run_wait(r), 0);
    dmover_request_free(r);
    dmover_session_destroy(s);
    CHECK_EQ(dmover_backend_unregister(&b), 0);
    CHECK_EQ(dmover_session_create("nop", &s), ENXIO);
}

int main(void) {
    setenv("BSDSHIM_DMOVER_SWDMOVER", "0", 1);   /* before the first dmover call */
    dmtest_seed();
    RUN(test_no_backend);
    return harness_finish();
}
