/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * dup.c: copies of a /dev/dmover descriptor (dup, dup2, dup3,
 * fcntl(F_DUPFD), fcntl(F_DUPFD_CLOEXEC)) are the same open file, as on
 * NetBSD: the same session (DMIO_SETFUNC on a copy is EBUSY), requests
 * written on one answered on another, each response delivered once, the
 * copy's readiness (poll, kevent) that of the session, and the session
 * ending only at the last close. Built twice: plain calls run under
 * LD_PRELOAD=libbsdshim-preload.so, and with -DDMIO_LINKED the dmover_*
 * calls of a linked program, given copies made by libc's dup family.
 */
#define _GNU_SOURCE
#include <sys/event.h>
#include <sys/wait.h>
#include "dmio_calls.h"


static int dm_setfunc(int fd, const char *name) {
    struct dmio_setfunc sf;
    memset(&sf, 0, sizeof sf);
    strncpy(sf.dsf_name, name, sizeof sf.dsf_name - 1);
    return dm_ioctl(fd, DMIO_SETFUNC, &sf);
}

/* A "zero" request over out[8] with id. */
static unsigned char out[8];
static struct iovec out_iov = {out, sizeof out};
static struct dmio_usrreq zero_req(uint32_t id) { return dmio_req_out(&out_iov, id); }

/* A copy of fd made the way `how` says (0 dup, 1 F_DUPFD, 2 F_DUPFD_CLOEXEC, 3 dup2, 4 dup3). */
static int copy_of(int fd, int how) {
    switch (how) {
    case 0: return dup(fd);
    case 1: return fcntl(fd, F_DUPFD, 40);
    case 2: return fcntl(fd, F_DUPFD_CLOEXEC, 50);
    case 3: return dup2(fd, 60);
    default: return dup3(fd, 70, O_CLOEXEC);
    }
}

static void test_every_copy_is_the_same_session_and_each_response_comes_once(void) {
    int fd = dm_open(O_NONBLOCK);
    CHECK(fd >= 0);
    CHECK_EQ(dm_setfunc(fd, "zero"), 0);
    for (int how = 0; how < 5; how++) {
        int c = copy_of(fd, how);
        CHECK(c >= 0 && c != fd);
        CHECK_ERRNO(dm_setfunc(c, "copy"), EBUSY);          /* the session already has its function */
        struct dmio_usrreq rq = zero_req(100 + (uint32_t)how);
        struct dmio_usrresp rs;
        memset(out, 0xff, sizeof out);
        CHECK_EQ(dm_write(c, &rq, sizeof rq), (ssize_t)sizeof rq);     /* written on the copy */
        CHECK_EQ(out[0] | out[7], 0);
        CHECK_EQ(dm_read(fd, &rs, sizeof rs), (ssize_t)sizeof rs);     /* answered on the original */
        CHECK_EQ(rs.resp_id, 100 + how);
        CHECK_EQ(rs.resp_error, 0);
        CHECK_ERRNO(dm_read(c, &rs, sizeof rs), EWOULDBLOCK);          /* once */
        rq = zero_req(200 + (uint32_t)how);
        CHECK_EQ(dm_write(fd, &rq, sizeof rq), (ssize_t)sizeof rq);
        struct pollfd p = {c, POLLIN, 0};
        CHECK_EQ(poll(&p, 1, 0), 1);                                   /* the copy's readiness is the session's */
        CHECK(p.revents & POLLIN);
        CHECK_EQ(dm_read(c, &rs, sizeof rs), (ssize_t)sizeof rs);      /* and the other way round */
        CHECK_EQ(rs.resp_id, 200 + how);
        CHECK_ERRNO(dm_read(fd, &rs, sizeof rs), EWOULDBLOCK);
        CHECK_ERRNO(dm_read(c, &rs, sizeof rs), EWOULDBLOCK);
        CHECK_EQ(dm_close(c), 0);
    }
    /* The original still works after every copy closed. */
    struct dmio_usrreq rq = zero_req(7);
    struct dmio_usrresp rs;
    CHECK_EQ(dm_write(fd, &rq, sizeof rq), (ssize_t)sizeof rq);
    CHECK_EQ(dm_read(fd, &rs, sizeof rs), (ssize_t)sizeof rs);
    CHECK_EQ(rs.resp_id, 7);
    CHECK_EQ(dm_close(fd), 0);
}

static void test_kevent_on_a_copy_counts_the_sessions_responses(void) {
    int fd = dm_open(O_NONBLOCK);
    CHECK(fd >= 0);
    CHECK_EQ(dm_setfunc(fd, "zero"), 0);
    int c = dup(fd);
    CHECK(c >= 0);
    struct dmio_usrreq rq[2] = {zero_req(1), zero_req(2)};
    CHECK_EQ(dm_write(fd, rq, sizeof rq), (ssize_t)sizeof rq);
    int kq = kqueue();
    CHECK(kq >= 0);
    struct kevent ch, ev;
    EV_SET(&ch, c, EVFILT_READ, EV_ADD, 0, 0, NULL);
    CHECK_EQ(kevent(kq, &ch, 1, NULL, 0, NULL), 0);
    struct timespec ts = {2, 0};
    CHECK_EQ(kevent(kq, NULL, 0, &ev, 1, &ts), 1);
    CHECK_EQ(ev.ident, c);
    CHECK_EQ(ev.data, 2 * (long)sizeof(struct dmio_usrresp));        /* bytes of responses ready */
    close(kq);
    struct dmio_usrresp rs[2];
    CHECK_EQ(dm_read(c, rs, sizeof rs), (ssize_t)sizeof rs);
    CHECK_EQ(dm_close(c), 0);
    CHECK_EQ(dm_close(fd), 0);
}

static void test_the_session_ends_at_the_last_close_not_the_first(void) {
    int base = harness_fd_count();
    int fd = dm_open(0);
    CHECK(fd >= 0);
    CHECK_EQ(dm_setfunc(fd, "zero"), 0);
    int with_session = harness_fd_count();                   /* the descriptor and the library's end */
    int c = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    CHECK(c >= 0);
    /* Used once before the first close: a linked program's copy is known
     * to the library from its first dmover_* call (dmoverio.4). */
    struct dmio_usrreq rq = zero_req(8);
    struct dmio_usrresp rs;
    CHECK_EQ(dm_write(c, &rq, sizeof rq), (ssize_t)sizeof rq);
    CHECK_EQ(dm_read(c, &rs, sizeof rs), (ssize_t)sizeof rs);
    CHECK_EQ(dm_close(fd), 0);                               /* the first close: the copy keeps the file */
    CHECK_EQ(harness_fd_count(), with_session);
    rq = zero_req(9);
    memset(out, 0xff, sizeof out);
    CHECK_EQ(dm_write(c, &rq, sizeof rq), (ssize_t)sizeof rq);         /* blocking: the session is alive */
    CHECK_EQ(dm_read(c, &rs, sizeof rs), (ssize_t)sizeof rs);
    CHECK_EQ(rs.resp_id, 9);
    CHECK_EQ(out[3], 0);
    CHECK_EQ(dm_close(c), 0);                                /* the last: the session and its socket go */
    CHECK_EQ(harness_fd_count(), base);
    CHECK_ERRNO(dm_write(c, &rq, sizeof rq), EBADF);
}

static void test_dup2_over_a_copy_drops_only_that_copy(void) {
    int base = harness_fd_count();
    int fd = dm_open(O_NONBLOCK);
    CHECK(fd >= 0);
    CHECK_EQ(dm_setfunc(fd, "zero"), 0);
    int c = dup(fd);
    CHECK(c >= 0);
    int devnull = open("/dev/null", O_RDWR);
    CHECK(devnull >= 0);
    CHECK_EQ(dup2(devnull, c), c);                           /* the copy now is /dev/null */
    CHECK_EQ(write(c, "x", 1), 1);
    struct dmio_usrreq rq = zero_req(3);
    struct dmio_usrresp rs;
    CHECK_EQ(dm_write(fd, &rq, sizeof rq), (ssize_t)sizeof rq);
    CHECK_EQ(dm_read(fd, &rs, sizeof rs), (ssize_t)sizeof rs);
    CHECK_EQ(close(c), 0);
    CHECK_EQ(close(devnull), 0);
    CHECK_EQ(dm_close(fd), 0);
    CHECK_EQ(harness_fd_count(), base);
}

#ifndef DMIO_LINKED
/* A vfork child shares the parent's memory, so the preload library's
 * tables too: its dup2 onto another number and its close of the session
 * must change nothing the parent sees. */
static void test_a_vfork_childs_dup2_and_close_leave_the_parent_alone(void) {
    int fd = dm_open(O_NONBLOCK);
    CHECK(fd >= 0);
    CHECK_EQ(dm_setfunc(fd, "zero"), 0);
    int other = open("/dev/null", O_WRONLY);
    CHECK(other >= 0);
    pid_t p = vfork();
    if (p == 0) {
        dup2(fd, other);             /* the child's `other` is a copy of the session */
        close(fd);
        _exit(0);
    }
    CHECK(p > 0);
    int st = 0;
    CHECK_EQ(waitpid(p, &st, 0), p);
    CHECK_EQ(write(other, "abc", 3), 3);                    /* still /dev/null here, not a session */
    struct dmio_usrreq rq = zero_req(11);
    struct dmio_usrresp rs;
    CHECK_EQ(dm_write(fd, &rq, sizeof rq), (ssize_t)sizeof rq);     /* the session lives on */
    CHECK_EQ(dm_read(fd, &rs, sizeof rs), (ssize_t)sizeof rs);
    CHECK_EQ(rs.resp_id, 11);
    CHECK_EQ(close(other), 0);
    CHECK_EQ(dm_close(fd), 0);
}
#endif

int main(void) {
    RUN(test_every_copy_is_the_same_session_and_each_response_comes_once);
    RUN(test_kevent_on_a_copy_counts_the_sessions_responses);
    RUN(test_the_session_ends_at_the_last_close_not_the_first);
    RUN(test_dup2_over_a_copy_drops_only_that_copy);
#ifndef DMIO_LINKED
    RUN(test_a_vfork_childs_dup2_and_close_leave_the_parent_alone);
#endif
    return harness_finish();
}
