/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * badinput_dmover.c: the dmover entry points given bad input get a clear
 * error and nothing else: NULL and unreadable record buffers, unwritable
 * response buffers (the responses are not lost), ioctl arguments that run
 * into an unmapped page, wrong ioctl sizes and commands, names without a NUL,
 * non-dmover descriptors, lengths above SSIZE_MAX in the in-process API, and
 * a descriptor closed while another thread is blocked reading it.
 * (protocol.c covers per-request bad shapes and addresses.)
 */
#define _GNU_SOURCE
#include <limits.h>
#include <pthread.h>
#include <sys/event.h>
#include <sys/mman.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include <dev/dmover/dmover_io.h>
#include <dev/dmover/dmovervar.h>
#include "harness.h"

static long pg;
static unsigned char *map;   /* page 0 read-write, page 1 inaccessible, page 2 read-only */

static void map_pages(void) {
    pg = sysconf(_SC_PAGESIZE);
    map = mmap(NULL, 3 * (size_t)pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED) abort();
    mprotect(map + pg, (size_t)pg, PROT_NONE);
    mprotect(map + 2 * pg, (size_t)pg, PROT_READ);
}

static int open_func(const char *name) {
    int fd = dmover_open(0);
    if (fd < 0) return -1;
    struct dmio_setfunc sf;
    memset(&sf, 0, sizeof sf);
    strcpy(sf.dsf_name, name);
    if (dmover_ioctl(fd, DMIO_SETFUNC, &sf) != 0) {
        dmover_close(fd);
        return -1;
    }
    return fd;
}

/* One good copy request of 16 bytes; returns 0 if it came back without error. */
static int round_trip(int fd) {
    static unsigned char src[16] = "0123456789abcde", dst[16];
    static struct iovec out = {dst, 16}, in = {src, 16};
    static dmio_buffer inbuf = {&in, 1};
    struct dmio_usrreq req;
    memset(&req, 0, sizeof req);
    req.req_outbuf.dmbuf_iov = &out;
    req.req_outbuf.dmbuf_iovcnt = 1;
    req.req_inbuf = &inbuf;
    req.req_id = 99;
    if (dmover_write(fd, &req, sizeof req) != (ssize_t)sizeof req) return -1;
    struct dmio_usrresp resp;
    if (dmover_read(fd, &resp, sizeof resp) != (ssize_t)sizeof resp) return -1;
    return resp.resp_id == 99 && resp.resp_error == 0 && memcmp(src, dst, 16) == 0 ? 0 : -1;
}

static void test_bad_record_buffers_efault(void) {
    int fd = open_func("copy");
    CHECK(fd >= 0);
    struct dmio_usrreq req;
    memset(&req, 0, sizeof req);
    CHECK_ERRNO(dmover_write(fd, NULL, sizeof req), EFAULT);
    CHECK_ERRNO(dmover_write(fd, map + pg, sizeof req), EFAULT);
    CHECK_ERRNO(dmover_write(fd, (void *)16, 2 * sizeof req), EFAULT);
    /* A record that starts readable and runs into the unmapped page: not sent at all. */
    CHECK_ERRNO(dmover_write(fd, map + pg - 8, sizeof req), EFAULT);
    CHECK_EQ(dmover_writable(fd), 1);
    struct dmio_usrresp resp;
    CHECK_ERRNO(dmover_read(fd, NULL, sizeof resp), EFAULT);
    CHECK_EQ(dmover_write(fd, NULL, 0), 0);
    CHECK_EQ(dmover_read(fd, NULL, 0), 0);
    /* Sizes that are not whole records, with bad pointers too: EINVAL first. */
    CHECK_ERRNO(dmover_write(fd, NULL, 1), EINVAL);
    CHECK_ERRNO(dmover_write(fd, &req, SIZE_MAX), EINVAL);
    CHECK_ERRNO(dmover_read(fd, NULL, sizeof resp + 1), EINVAL);
    CHECK_EQ(round_trip(fd), 0);
    CHECK_EQ(dmover_close(fd), 0);
}

/* An iovec of SSIZE_MAX / 2 bytes at a real address: EFAULT for that request,
 * not a trap in the serving thread (whose signals are blocked, so a trap
 * there killed the whole process). */
static void test_half_address_space_iovec_efault(void) {
    int fd = open_func("copy");
    CHECK(fd >= 0);
    static char src[64], dst[64];
    struct iovec out = {dst, SIZE_MAX / 2}, in = {src, SIZE_MAX / 2};
    dmio_buffer inbuf = {&in, 1};
    struct dmio_usrreq req;
    memset(&req, 0, sizeof req);
    req.req_outbuf.dmbuf_iov = &out;
    req.req_outbuf.dmbuf_iovcnt = 1;
    req.req_inbuf = &inbuf;
    req.req_id = 11;
    CHECK_EQ(dmover_write(fd, &req, sizeof req), (ssize_t)sizeof req);
    struct dmio_usrresp resp;
    CHECK_EQ(dmover_read(fd, &resp, sizeof resp), (ssize_t)sizeof resp);
    CHECK_EQ(resp.resp_id, 11);
    CHECK_EQ(resp.resp_error, EFAULT);
    CHECK_EQ(round_trip(fd), 0);
    CHECK_EQ(dmover_close(fd), 0);
}

/* A response read into memory that cannot take it stays readable. */
static void test_unwritable_response_buffer_keeps_response(void) {
    int fd = open_func("zero");
    CHECK(fd >= 0);
    unsigned char dst[32];
    struct iovec out = {dst, sizeof dst};
    struct dmio_usrreq req;
    memset(&req, 0, sizeof req);
    req.req_outbuf.dmbuf_iov = &out;
    req.req_outbuf.dmbuf_iovcnt = 1;
    req.req_id = 5;
    CHECK_EQ(dmover_write(fd, &req, sizeof req), (ssize_t)sizeof req);
    struct dmio_usrresp resp;
    CHECK_ERRNO(dmover_read(fd, map + 2 * pg, sizeof resp), EFAULT);   /* read-only */
    CHECK_ERRNO(dmover_read(fd, map + pg, sizeof resp), EFAULT);       /* unmapped */
    CHECK_EQ(dmover_read(fd, &resp, sizeof resp), (ssize_t)sizeof resp);
    CHECK_EQ(resp.resp_id, 5);
    CHECK_EQ(resp.resp_error, 0);
    CHECK_EQ(dmover_close(fd), 0);
}

static void test_ioctl_bad_arguments_and_commands(void) {
    int fd = dmover_open(0);
    CHECK(fd >= 0);
    /* The name is 64 bytes: a short name right before an unmapped page is not enough. */
    unsigned char *edge = map + pg - 8;
    memcpy(edge, "copy", 5);
    CHECK_ERRNO(dmover_ioctl(fd, DMIO_SETFUNC, edge), EFAULT);
    CHECK_ERRNO(dmover_ioctl(fd, DMIO_SETFUNC, map + pg), EFAULT);
    CHECK_ERRNO(dmover_ioctl(fd, FIONBIO, NULL), EFAULT);
    CHECK_ERRNO(dmover_ioctl(fd, FIONBIO, map + pg), EFAULT);
    /* DMIO_SETFUNC's number with other sizes or directions, and unknown commands.
     * (Linux's _IOR('D', 0, struct dmio_setfunc) is NetBSD's DMIO_SETFUNC value,
     * which is accepted on purpose.) */
    struct dmio_setfunc sf;
    memset(&sf, 0, sizeof sf);
    strcpy(sf.dsf_name, "copy");
    unsigned long wrong[] = {_IOW('D', 0, int), _IOW('D', 0, char[63]), _IOW('D', 0, char[65]),
                             _IOWR('D', 0, struct dmio_setfunc),
                             _IO('D', 0), _IOW('D', 1, struct dmio_setfunc), 0, ~0ul, 0x80404401UL};
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) CHECK_ERRNO(dmover_ioctl(fd, wrong[i], &sf), ENOTTY);
    /* Names without a NUL: the 64th byte counts as one, so these are unknown names. */
    memset(sf.dsf_name, 'c', sizeof sf.dsf_name);
    CHECK_ERRNO(dmover_ioctl(fd, DMIO_SETFUNC, &sf), ESRCH);
    memcpy(sf.dsf_name, "copy", 4);                 /* "copy" then 59 more bytes, no NUL */
    CHECK_ERRNO(dmover_ioctl(fd, DMIO_SETFUNC, &sf), ESRCH);
    memset(&sf, 0, sizeof sf);
    memcpy(sf.dsf_name, "copy\0garbage after the NUL", 27);
    CHECK_EQ(dmover_ioctl(fd, DMIO_SETFUNC, &sf), 0);
    CHECK_EQ(round_trip(fd), 0);
    CHECK_EQ(dmover_close(fd), 0);
}

static void test_non_dmover_descriptors_ebadf(void) {
    int p[2];
    CHECK(pipe(p) == 0);
    int kq = kqueue();
    int closed = dmover_open(0);
    CHECK(kq >= 0 && closed >= 0);
    CHECK_EQ(dmover_close(closed), 0);
    int fds[] = {p[0], p[1], kq, closed, -1, INT_MAX, INT_MIN};
    struct dmio_setfunc sf = {"copy"};
    struct dmio_usrreq req;
    struct dmio_usrresp resp;
    memset(&req, 0, sizeof req);
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++) {
        CHECK_ERRNO(dmover_ioctl(fds[i], DMIO_SETFUNC, &sf), EBADF);
        CHECK_ERRNO(dmover_write(fds[i], &req, sizeof req), EBADF);
        CHECK_ERRNO(dmover_read(fds[i], &resp, sizeof resp), EBADF);
        CHECK_ERRNO(dmover_writable(fds[i]), EBADF);
    }
    CHECK_ERRNO(dmover_close(closed), EBADF);
    CHECK_ERRNO(dmover_close(-1), EBADF);
    /* dmover_close on a pipe is EBADF and leaves the pipe open. */
    CHECK_ERRNO(dmover_close(p[0]), EBADF);
    CHECK(fcntl(p[0], F_GETFD) >= 0);
    CHECK_ERRNO(dmover_open(O_DIRECTORY), EINVAL);
    CHECK_ERRNO(dmover_open(O_PATH), EINVAL);
    close(p[0]);
    close(p[1]);
    close(kq);
}

static int blocked_fd;
static void *blocked_reader(void *arg) {
    (void)arg;
    struct dmio_usrresp resp;
    errno = 0;
    ssize_t r = dmover_read(blocked_fd, &resp, sizeof resp);
    return (void *)(intptr_t)(r < 0 ? -errno : r);
}

/* Closing the descriptor under a blocked reader ends the read with a clear
 * result (end of stream or an error), never a hang or a crash. */
static void test_close_while_reading(void) {
    blocked_fd = open_func("copy");
    CHECK(blocked_fd >= 0);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, blocked_reader, NULL), 0);
    struct timespec pause = {0, 20 * 1000 * 1000};
    nanosleep(&pause, NULL);        /* most likely blocked by now; either order must be safe */
    CHECK_EQ(dmover_close(blocked_fd), 0);
    void *res;
    CHECK_EQ(pthread_join(t, &res), 0);
    intptr_t r = (intptr_t)res;
    printf("  read after close: %ld\n", (long)r);
    CHECK(r == 0 || r == -EBADF || r == -EINTR || r == -EPIPE || r == -ENXIO);
}

/* The in-process API: lengths above SSIZE_MAX (size_t wraps negative in Swift) are EINVAL. */
static void test_inprocess_lengths_above_ssize_max(void) {
    struct dmover_session *s;
    CHECK_EQ(dmover_session_create(DMOVER_FUNC_FILL8, &s), 0);
    struct dmover_request *r = dmover_request_alloc(s, NULL);
    CHECK(r != NULL);
    unsigned char buf[16];
    memset(buf, 0xAA, sizeof buf);
    struct iovec iov = {buf, sizeof buf};
    struct uio u = {&iov, 1, SIZE_MAX};
    size_t lens[] = {SIZE_MAX, (size_t)SSIZE_MAX + 1};
    for (size_t i = 0; i < 2; i++) {
        r->dreq_outbuf_type = DMOVER_BUF_UIO;
        r->dreq_outbuf.dmbuf_uio = &u;
        u.uio_resid = lens[i];
        r->dreq_flags = DMOVER_REQ_WAIT;
        dmover_process(r);
        CHECK(r->dreq_flags & DMOVER_REQ_ERROR);
        CHECK_EQ(r->dreq_error, EINVAL);
        u.uio_resid = 16;
        iov.iov_len = lens[i];
        r->dreq_flags = DMOVER_REQ_WAIT;
        dmover_process(r);
        CHECK(r->dreq_flags & DMOVER_REQ_ERROR);
        CHECK_EQ(r->dreq_error, EINVAL);
        iov.iov_len = 16;
        r->dreq_outbuf_type = DMOVER_BUF_LINEAR;
        r->dreq_outbuf.dmbuf_linear.l_addr = buf;
        r->dreq_outbuf.dmbuf_linear.l_len = lens[i];
        r->dreq_flags = DMOVER_REQ_WAIT;
        dmover_process(r);
        CHECK(r->dreq_flags & DMOVER_REQ_ERROR);
        CHECK_EQ(r->dreq_error, EINVAL);
    }
    for (size_t i = 0; i < sizeof buf; i++) CHECK_EQ(buf[i], 0xAA);
    dmover_process(NULL);                                   /* ignored */
    CHECK(dmover_request_alloc(NULL, NULL) == NULL);
    dmover_request_free(r);
    dmover_session_destroy(s);
}

int main(void) {
    map_pages();
    RUN(test_bad_record_buffers_efault);
    RUN(test_half_address_space_iovec_efault);
    RUN(test_unwritable_response_buffer_keeps_response);
    RUN(test_ioctl_bad_arguments_and_commands);
    RUN(test_non_dmover_descriptors_ebadf);
    RUN(test_close_while_reading);
    RUN(test_inprocess_lengths_above_ssize_max);
    return harness_finish();
}
