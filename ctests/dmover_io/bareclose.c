/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * bareclose.c: the bare descriptor closed with plain close() (no
 * dmover_close, no preload) while requests are in flight: they still run,
 * then the serving thread releases the session and exits, so the process's
 * descriptors and threads return to where they were. Waiting is by
 * condition (sched_yield), never by time.
 */
#include <sched.h>
#include "dmio_test.h"

enum { N = 8, LEN = 4096 };
static unsigned char src[N][LEN], dst[N][LEN];

static int all_copied(void) {
    for (int i = 0; i < N; i++)
        if (memcmp(src[i], dst[i], LEN) != 0) return 0;
    return 1;
}

static void test_plain_close_runs_requests_then_frees_everything(void) {
    /* No descriptor or thread of the library exists yet (small copies run in the serving thread). */
    int fds_before = dmio_count_dir("/proc/self/fd"), threads_before = dmio_count_dir("/proc/self/task");
    for (int round = 0; round < 20; round++) {
        int fd = dmover_open(O_RDWR);
        CHECK(fd >= 0);
        struct dmio_setfunc sf = {"copy"};
        CHECK_EQ(dmover_ioctl(fd, DMIO_SETFUNC, &sf), 0);
        struct dmio_usrreq req[N];
        dmio_shape shape[N];
        for (int i = 0; i < N; i++) {
            memset(src[i], round * N + i + 1, LEN);
            void *in[1] = {src[i]};
            dmio_req_linear(&req[i], &shape[i], (uint32_t)i, dst[i], in, 1, LEN);
        }
        CHECK_EQ(write(fd, req, sizeof req), (ssize_t)sizeof req);     /* plain write: the socket */
        CHECK_EQ(close(fd), 0);                                         /* plain close */
        long spins = 0;
        while ((!all_copied() || dmio_count_dir("/proc/self/fd") != fds_before ||
                dmio_count_dir("/proc/self/task") != threads_before) && spins < 2000000) {
            sched_yield();
            spins++;
        }
        CHECK(all_copied());
        CHECK_EQ(dmio_count_dir("/proc/self/fd"), fds_before);
        CHECK_EQ(dmio_count_dir("/proc/self/task"), threads_before);
    }
}

int main(void) {
    RUN(test_plain_close_runs_requests_then_frees_everything);
    return harness_finish();
}
