/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * bareclose.c: the bare descriptor from dmover_open() (no preload). A plain
 * write() on it is refused at once with EPIPE and runs nothing; requests
 * written with dmover_write() have run when it returns, so a plain close()
 * right after loses none of them. The library's own end of a descriptor
 * closed with plain close() is released when the number is next used (by
 * dmover_open() or any dmover_* call), so repeated open/close cycles leave
 * the process's descriptors and threads where they were.
 */
#include "dmio_test.h"

enum { N = 8, LEN = 4096 };
static unsigned char src[N][LEN], dst[N][LEN];

static int all_copied(void) {
    for (int i = 0; i < N; i++)
        if (memcmp(src[i], dst[i], LEN) != 0) return 0;
    return 1;
}

static void test_plain_write_refused_plain_close_frees_everything(void) {
    int fds_before = dmio_count_dir("/proc/self/fd"), threads_before = dmio_count_dir("/proc/self/task");
    for (int round = 0; round < 20; round++) {
        int fd = dmover_open(O_RDWR);
        CHECK(fd >= 0);
        struct dmio_setfunc sf = {"copy"};
        CHECK_EQ(dmover_ioctl(fd, DMIO_SETFUNC, &sf), 0);
        struct dmio_usrreq req[N];
        dmio_shape shape[N];
        memset(dst, 0, sizeof dst);
        for (int i = 0; i < N; i++) {
            memset(src[i], round * N + i + 1, LEN);
            void *in[1] = {src[i]};
            dmio_req_linear(&req[i], &shape[i], (uint32_t)i, dst[i], in, 1, LEN);
        }
        CHECK_ERRNO(write(fd, req, sizeof req), EPIPE);                 /* plain write: refused */
        for (int i = 0; i < N; i++) CHECK_EQ(dst[i][0], 0);            /* ... and nothing ran */
        CHECK_EQ(dmover_write(fd, req, sizeof req), (ssize_t)sizeof req);
        CHECK(all_copied());                                            /* done when the call returns */
        CHECK_EQ(close(fd), 0);                                         /* plain close */
        CHECK(dmio_count_dir("/proc/self/fd") <= fds_before + 1);       /* at most the last library end */
    }
    /* The next open reuses the number and releases the stale end. */
    int fd = dmover_open(O_RDWR);
    CHECK(fd >= 0);
    CHECK_EQ(dmover_close(fd), 0);
    CHECK_EQ(dmio_count_dir("/proc/self/fd"), fds_before);
    CHECK_EQ(dmio_count_dir("/proc/self/task"), threads_before);
    /* A dmover_* call on a number closed with plain close() is EBADF and releases it too. */
    fd = dmover_open(O_RDWR);
    CHECK(fd >= 0);
    CHECK_EQ(close(fd), 0);
    CHECK_ERRNO(dmover_writable(fd), EBADF);
    CHECK_EQ(dmio_count_dir("/proc/self/fd"), fds_before);
}

int main(void) {
    RUN(test_plain_write_refused_plain_close_frees_everything);
    return harness_finish();
}
