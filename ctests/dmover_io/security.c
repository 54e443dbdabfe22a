/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * security.c: requests only run for the process that opened the descriptor.
 * A fork child (no exec) gets EPERM for every request; a process that
 * received the descriptor with SCM_RIGHTS has no library state for it, and
 * its plain write() fails at once with EPIPE (nothing reaches the library).
 * The opener's memory is never read or written for them. O_CLOEXEC reaches
 * the descriptor. A response waiting at fork stays the parent's.
 */
#include <sys/socket.h>
#include <sys/wait.h>
#include "dmio_test.h"

static unsigned char src[4096], dst[4096];

static void make_copy(struct dmio_usrreq *r, dmio_shape *s, uint32_t id) {
    void *in[1] = {src};
    dmio_req_linear(r, s, id, dst, in, 1, sizeof dst);
}

/* In a child: write one copy request (same addresses as the parent's), read the answer; exit status = resp_error. */
static int child_request(int fd) {
    struct dmio_usrreq r;
    dmio_shape s;
    memset(src, 0x77, sizeof src);                /* the child's own copy of the page */
    make_copy(&r, &s, 99);
    if (dmover_write(fd, &r, sizeof r) != (ssize_t)sizeof r) return 200;
    struct dmio_usrresp resp;
    if (dmover_read(fd, &resp, sizeof resp) != (ssize_t)sizeof resp) return 201;
    if (resp.resp_id != 99) return 202;
    for (int k = 0; k < 8; k++) if (resp.resp_immediate[k]) return 203;
    return resp.resp_error;
}

static void test_fork_child_requests_refused(void) {
    int fd = dmio_open_func("copy", 0);
    CHECK(fd >= 0);
    memset(src, 0x11, sizeof src);
    memset(dst, 0, sizeof dst);
    pid_t pid = fork();
    if (pid == 0) _exit(child_request(fd));
    int st;
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    CHECK(WIFEXITED(st));
    CHECK_EQ(WEXITSTATUS(st), EPERM);
    for (size_t k = 0; k < sizeof dst; k++) CHECK_EQ(dst[k], 0);        /* parent memory untouched */
    /* The parent still works. */
    struct dmio_usrreq r;
    dmio_shape s;
    make_copy(&r, &s, 5);
    CHECK_EQ(dmover_write(fd, &r, sizeof r), (ssize_t)sizeof r);
    struct dmio_usrresp resp;
    CHECK_EQ(dmover_read(fd, &resp, sizeof resp), (ssize_t)sizeof resp);
    CHECK_EQ(resp.resp_error, 0);
    CHECK(memcmp(dst, src, sizeof dst) == 0);
    CHECK_EQ(dmover_close(fd), 0);
}

/* A response waiting at fork is the parent's alone: the child's read does
 * not return it (the child's copy of the descriptor's state is its own), and
 * the parent reads it exactly once afterwards. */
static int child_reads_nothing(int fd) {
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0) return 220;
    struct dmio_usrresp resp;
    ssize_t n = dmover_read(fd, &resp, sizeof resp);
    if (n == (ssize_t)sizeof resp) return resp.resp_id == 7 ? 221 : 222;
    return n == -1 && errno == EWOULDBLOCK ? 0 : 223;
}

static void test_fork_child_leaves_waiting_responses_to_the_parent(void) {
    int fd = dmio_open_func("copy", 0);
    CHECK(fd >= 0);
    memset(src, 0x33, sizeof src);
    memset(dst, 0, sizeof dst);
    struct dmio_usrreq r;
    dmio_shape s;
    make_copy(&r, &s, 7);
    CHECK_EQ(dmover_write(fd, &r, sizeof r), (ssize_t)sizeof r);
    pid_t pid = fork();
    if (pid == 0) _exit(child_reads_nothing(fd));
    int st;
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    CHECK(WIFEXITED(st));
    CHECK_EQ(WEXITSTATUS(st), 0);
    int fl = fcntl(fd, F_GETFL);                 /* the child's O_NONBLOCK is the shared file's */
    CHECK_EQ(fcntl(fd, F_SETFL, fl & ~O_NONBLOCK), 0);
    struct dmio_usrresp resp;
    CHECK_EQ(dmover_read(fd, &resp, sizeof resp), (ssize_t)sizeof resp);
    CHECK_EQ(resp.resp_id, 7u);
    CHECK_EQ(resp.resp_error, 0);
    CHECK(memcmp(dst, src, sizeof dst) == 0);
    CHECK_EQ(fcntl(fd, F_SETFL, fl | O_NONBLOCK), 0);
    CHECK_EQ(dmover_read(fd, &resp, sizeof resp), -1);   /* answered once */
    CHECK_EQ(errno, EWOULDBLOCK);
    CHECK_EQ(dmover_close(fd), 0);
}

static int send_fd(int sock, int fd) {
    char c = 'f';
    struct iovec iov = {&c, 1};
    union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } u;
    memset(&u, 0, sizeof u);                  /* the padding goes to the kernel too */
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = u.buf;
    m.msg_controllen = sizeof u.buf;
    struct cmsghdr *h = CMSG_FIRSTHDR(&m);
    h->cmsg_level = SOL_SOCKET;
    h->cmsg_type = SCM_RIGHTS;
    h->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(h), &fd, sizeof fd);
    return sendmsg(sock, &m, 0) == 1 ? 0 : -1;
}

static int recv_fd(int sock) {
    char c;
    struct iovec iov = {&c, 1};
    union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } u;
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = u.buf;
    m.msg_controllen = sizeof u.buf;
    if (recvmsg(sock, &m, 0) != 1) return -1;
    struct cmsghdr *h = CMSG_FIRSTHDR(&m);
    if (!h || h->cmsg_type != SCM_RIGHTS) return -1;
    int fd;
    memcpy(&fd, CMSG_DATA(h), sizeof fd);
    return fd;
}

/* A process that did not open the descriptor receives it over a socket: refused. */
static void test_scm_rights_receiver_refused(void) {
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[0]);
        int fd = recv_fd(sv[1]);
        if (fd < 0) _exit(210);
        /* This process has no bsdshim state for the descriptor: a plain write is refused at once. */
        struct dmio_usrreq r;
        dmio_shape s;
        make_copy(&r, &s, 123);
        if (write(fd, &r, sizeof r) != -1) _exit(211);
        _exit(errno == EPIPE ? EPERM : 212);
    }
    close(sv[1]);
    memset(dst, 0, sizeof dst);
    int fd = dmio_open_func("copy", 0);        /* opened after the fork: the child never had it */
    CHECK(fd >= 0);
    CHECK_EQ(send_fd(sv[0], fd), 0);
    int st;
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    CHECK(WIFEXITED(st));
    CHECK_EQ(WEXITSTATUS(st), EPERM);
    for (size_t k = 0; k < sizeof dst; k++) CHECK_EQ(dst[k], 0);
    CHECK_EQ(dmover_close(fd), 0);
    close(sv[0]);
}

/* Descriptors sent *to* the device are closed, not kept. */
static void test_descriptors_sent_to_the_device_are_refused(void) {
    int fd = dmio_open_func("zero", 0);
    CHECK(fd >= 0);
    int before = dmio_count_dir("/proc/self/fd");
    int p[2];
    CHECK_EQ(pipe(p), 0);
    CHECK_EQ(send_fd(fd, p[0]), -1);             /* the library's end accepts nothing */
    CHECK_EQ(errno, EPIPE);
    close(p[0]);
    close(p[1]);
    CHECK_EQ(dmio_count_dir("/proc/self/fd"), before);
    CHECK_EQ(dmover_writable(fd), 1);            /* nothing entered the device */
    CHECK_EQ(dmover_close(fd), 0);
}

static void test_cloexec(void) {
    int fd = dmover_open(O_RDWR | O_CLOEXEC);
    CHECK(fd >= 0);
    CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    CHECK_EQ(dmover_close(fd), 0);
    fd = dmover_open(O_RDWR | O_NONBLOCK);
    CHECK(fd >= 0);
    CHECK(!(fcntl(fd, F_GETFD) & FD_CLOEXEC));
    CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK);
    CHECK_EQ(dmover_close(fd), 0);
    CHECK_ERRNO(dmover_open(O_RDWR | O_DIRECTORY), EINVAL);
    CHECK_ERRNO(dmover_close(fd), EBADF);
    CHECK_ERRNO(dmover_ioctl(0, DMIO_SETFUNC, NULL), EBADF);
    CHECK_ERRNO(dmover_write(-1, NULL, 0), EBADF);
    CHECK_ERRNO(dmover_writable(1), EBADF);
}

int main(void) {
    RUN(test_fork_child_requests_refused);
    RUN(test_fork_child_leaves_waiting_responses_to_the_parent);
    RUN(test_scm_rights_receiver_refused);
    RUN(test_descriptors_sent_to_the_device_are_refused);
    RUN(test_cloexec);
    return harness_finish();
}
