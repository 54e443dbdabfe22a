/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * generic.c: what a session descriptor takes as every file does on NetBSD
 * and Linux: the generic ioctls FIOCLEX and FIONCLEX change its
 * close-on-exec (a copy's flag is its own), and a read or write count
 * above SSIZE_MAX is EINVAL (NetBSD's sys_read/sys_write), never 0.
 * Built linked (linked_compat.h) and run under the preload library.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <limits.h>
#include "dmio_test.h"

static void test_fioclex_and_fionclex_set_close_on_exec(void) {
    int fd = dmio_open_func("zero", 0);
    CHECK(fd >= 0);
    CHECK_EQ(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
    CHECK_EQ(ioctl(fd, FIOCLEX, NULL), 0);
    CHECK_EQ(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    CHECK_EQ(ioctl(fd, FIONCLEX, NULL), 0);
    CHECK_EQ(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
    CHECK_EQ(ioctl(fd, FIOCLEX, NULL), 0);
    CHECK_EQ(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    int v = 0;
    CHECK_ERRNO(ioctl(fd, FIONREAD, &v), ENOTTY);                 /* dmio_ioctl's answer still */
    CHECK_EQ(close(fd), 0);
}

/* Read at run time, so the compiler does not refuse the calls below. */
static volatile size_t above_ssize_max = (size_t)SSIZE_MAX + 1;

static void test_counts_above_ssize_max_are_einval(void) {
    int fd = dmio_open_func("zero", O_NONBLOCK);
    CHECK(fd >= 0);
    unsigned char out[8];
    struct iovec iov = {out, sizeof out};
    struct dmio_usrreq rq;
    memset(&rq, 0, sizeof rq);
    rq.req_outbuf.dmbuf_iov = &iov;
    rq.req_outbuf.dmbuf_iovcnt = 1;
    rq.req_id = 5;
    CHECK_EQ(write(fd, &rq, sizeof rq), (ssize_t)sizeof rq);
    struct dmio_usrresp rs;
    size_t big = above_ssize_max;
    size_t read_big = big + (sizeof rs - big % sizeof rs) % sizeof rs;   /* whole records, above SSIZE_MAX */
    CHECK_ERRNO(read(fd, &rs, read_big), EINVAL);
    size_t write_big = big + (sizeof rq - big % sizeof rq) % sizeof rq;
    CHECK_ERRNO(write(fd, &rq, write_big), EINVAL);
    CHECK_EQ(read(fd, &rs, sizeof rs), (ssize_t)sizeof rs);             /* the response is still there, once */
    CHECK_EQ(rs.resp_id, 5);
    CHECK_ERRNO(read(fd, &rs, sizeof rs), EWOULDBLOCK);
    CHECK_EQ(close(fd), 0);
}

int main(void) {
    RUN(test_fioclex_and_fionclex_set_close_on_exec);
    RUN(test_counts_above_ssize_max_are_einval);
    return harness_finish();
}
