/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * exec.c: a /dev/dmover descriptor inherited across exec (opened without
 * O_CLOEXEC) names no session in the new program: read, write and
 * DMIO_SETFUNC fail with EBADF, never with data (the socket's queue holds
 * a copy of the parent's waiting response), and the parent's session and
 * response are untouched. Built twice like dup.c: plain calls under
 * LD_PRELOAD=libbsdshim-preload.so, and -DDMIO_LINKED (dmover_* calls).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/wait.h>
#include "dmio_calls.h"


static const char *self_path;

/* The exec'd program: every dmover call on the inherited number is EBADF. */
static void test_inherited_descriptor_fails_cleanly(void) {
    const char *arg = getenv("DMIO_EXEC_FD");
    CHECK(arg != NULL);
    int fd = atoi(arg);
    CHECK(fcntl(fd, F_GETFD) >= 0);                         /* still open: the socket */
    struct dmio_usrresp rs[4];
    memset(rs, 0x5a, sizeof rs);
    CHECK_ERRNO(dm_read(fd, rs, sizeof rs), EBADF);
    CHECK_EQ(rs[0].resp_id, 0x5a5a5a5a);                    /* nothing was written into the buffer */
    struct dmio_usrreq rq;
    memset(&rq, 0, sizeof rq);
    CHECK_ERRNO(dm_write(fd, &rq, sizeof rq), EBADF);
    struct dmio_setfunc sf;
    memset(&sf, 0, sizeof sf);
    strcpy(sf.dsf_name, "copy");
    CHECK_ERRNO(dm_ioctl(fd, DMIO_SETFUNC, &sf), EBADF);
    CHECK_EQ(close(fd), 0);
}

static void test_parent_session_survives_a_child_exec(void) {
    int fd = dm_open(O_NONBLOCK);                           /* no O_CLOEXEC: inherited */
    CHECK(fd >= 0);
    struct dmio_setfunc sf;
    memset(&sf, 0, sizeof sf);
    strcpy(sf.dsf_name, "zero");
    CHECK_EQ(dm_ioctl(fd, DMIO_SETFUNC, &sf), 0);
    unsigned char out[8];
    struct iovec iov = {out, sizeof out};
    struct dmio_usrreq rq;
    memset(&rq, 0, sizeof rq);
    rq.req_outbuf.dmbuf_iov = &iov;
    rq.req_outbuf.dmbuf_iovcnt = 1;
    rq.req_id = 77;
    CHECK_EQ(dm_write(fd, &rq, sizeof rq), (ssize_t)sizeof rq);      /* a response waits */
    char num[16];
    snprintf(num, sizeof num, "%d", fd);
    pid_t p = fork();
    CHECK(p >= 0);
    if (p == 0) {
        setenv("DMIO_EXEC_FD", num, 1);
        execl(self_path, self_path, "child", (char *)NULL);
        _exit(127);
    }
    int st = 0;
    CHECK_EQ(waitpid(p, &st, 0), p);
    CHECK(WIFEXITED(st));
    CHECK_EQ(WEXITSTATUS(st), 0);
    struct pollfd pf = {fd, POLLIN, 0};
    CHECK_EQ(poll(&pf, 1, 0), 1);                            /* the child took nothing */
    struct dmio_usrresp rs;
    CHECK_EQ(dm_read(fd, &rs, sizeof rs), (ssize_t)sizeof rs);
    CHECK_EQ(rs.resp_id, 77);
    CHECK_EQ(rs.resp_error, 0);
    CHECK_EQ(dm_close(fd), 0);
}

int main(int argc, char **argv) {
    self_path = "/proc/self/exe";
    (void)argv;
    if (argc > 1) RUN(test_inherited_descriptor_fails_cleanly);
    else RUN(test_parent_session_survives_a_child_exec);
    return harness_finish();
}
