/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kevent.c: the descriptor with bsdshim's kqueue (NetBSD's /dev/dmover had
 * none): EVFILT_READ fires when responses are ready (data = bytes ready),
 * EVFILT_WRITE exactly while fewer than 64 requests are in flight (data =
 * the room left), and dmover_writable() answers the same question directly.
 */
#include <sys/event.h>
#include "dmio_test.h"

static void test_evfilt_read_when_responses_ready(void) {
    int fd = dmover_open(O_RDWR | O_NONBLOCK);
    CHECK(fd >= 0);
    struct dmio_setfunc sf = {"zero"};
    CHECK_EQ(dmover_ioctl(fd, DMIO_SETFUNC, &sf), 0);
    int kq = kqueue();
    CHECK(kq >= 0);
    struct kevent ch[2], ev[2];
    EV_SET(&ch[0], fd, EVFILT_READ, EV_ADD, 0, 0, NULL);
    EV_SET(&ch[1], fd, EVFILT_WRITE, EV_ADD, 0, 0, NULL);
    CHECK_EQ(kevent(kq, ch, 2, NULL, 0, NULL), 0);
    struct timespec zero = {0, 0};
    CHECK_EQ(kevent(kq, NULL, 0, ev, 2, &zero), 1);
    CHECK_EQ(ev[0].filter, EVFILT_WRITE);
    CHECK_EQ(ev[0].ident, fd);
    /* Three requests: EVFILT_READ reports them, with the bytes ready. */
    unsigned char out[3][8];
    struct dmio_usrreq req[3];
    dmio_shape s[3];
    for (int i = 0; i < 3; i++) dmio_req_linear(&req[i], &s[i], 10u + (uint32_t)i, out[i], NULL, 0, 8);
    CHECK_EQ(dmover_write(fd, req, sizeof req), (ssize_t)sizeof req);
    EV_SET(&ch[0], fd, EVFILT_WRITE, EV_DELETE, 0, 0, NULL);
    CHECK_EQ(kevent(kq, ch, 1, NULL, 0, NULL), 0);
    int seen = 0;
    while (seen < 3) {
        CHECK_EQ(kevent(kq, NULL, 0, ev, 1, NULL), 1);           /* blocks until a response is ready */
        CHECK_EQ(ev[0].filter, EVFILT_READ);
        CHECK(ev[0].data >= (intptr_t)sizeof(struct dmio_usrresp));
        CHECK_EQ(ev[0].data % (intptr_t)sizeof(struct dmio_usrresp), 0);
        struct dmio_usrresp resp[3];
        ssize_t n = dmover_read(fd, resp, sizeof resp);
        CHECK(n > 0);
        for (int i = 0; i < n / (ssize_t)sizeof resp[0]; i++) CHECK_EQ(resp[i].resp_id, 10 + seen + i);
        seen += (int)(n / (ssize_t)sizeof resp[0]);
    }
    CHECK_EQ(kevent(kq, NULL, 0, ev, 1, &zero), 0);                 /* all read: not readable */
    close(kq);
    CHECK_EQ(dmover_close(fd), 0);
}

/* dmover_read of exactly n responses (the in-flight count follows dmover_read). */
static int read_n(int fd, struct dmio_usrresp *resp, int n) {
    int got = 0;
    while (got < n) {
        ssize_t r = dmover_read(fd, resp + got, (size_t)(n - got) * sizeof *resp);
        if (r < 0 && errno == EWOULDBLOCK) {
            struct pollfd p = {fd, POLLIN, 0};
            poll(&p, 1, -1);
            continue;
        }
        if (r <= 0) return -1;
        got += (int)(r / (ssize_t)sizeof *resp);
    }
    return got;
}

static void test_writable_is_exactly_fewer_than_64_in_flight(void) {
    int fd = dmover_open(O_RDWR | O_NONBLOCK);
    CHECK(fd >= 0);
    struct dmio_setfunc sf = {"zero"};
    CHECK_EQ(dmover_ioctl(fd, DMIO_SETFUNC, &sf), 0);
    static unsigned char out[64][8];
    static struct dmio_usrreq req[64];
    static dmio_shape s[64];
    for (int i = 0; i < 64; i++) dmio_req_linear(&req[i], &s[i], (uint32_t)i, out[i], NULL, 0, 8);
    for (int i = 0; i < 63; i++) {
        CHECK_EQ(dmover_writable(fd), 1);
        CHECK_EQ(dmover_write(fd, &req[i], sizeof req[i]), (ssize_t)sizeof req[i]);
    }
    CHECK_EQ(dmover_writable(fd), 1);
    CHECK_EQ(dmover_write(fd, &req[63], sizeof req[63]), (ssize_t)sizeof req[63]);
    CHECK_EQ(dmover_writable(fd), 0);                             /* 64 written, none read */
    CHECK_ERRNO(dmover_write(fd, &req[0], sizeof req[0]), EWOULDBLOCK);
    struct dmio_usrresp resp[64];
    CHECK_EQ(read_n(fd, resp, 1), 1);
    CHECK_EQ(dmover_writable(fd), 1);
    CHECK_EQ(read_n(fd, resp, 63), 63);
    CHECK_EQ(dmover_close(fd), 0);
}

/* Number of EVFILT_WRITE events ready now (-1 if another filter fired); *room gets the data. */
static int write_events(int kq, intptr_t *room) {
    struct kevent ev[2];
    struct timespec zero = {0, 0};
    int n = kevent(kq, NULL, 0, ev, 2, &zero);
    for (int i = 0; i < n; i++) {
        if (ev[i].filter != EVFILT_WRITE) return -1;
        *room = ev[i].data;
    }
    return n;
}

static void test_evfilt_write_is_exactly_fewer_than_64_in_flight(void) {
    int fd = dmover_open(O_RDWR | O_NONBLOCK);
    CHECK(fd >= 0);
    struct dmio_setfunc sf = {"zero"};
    CHECK_EQ(dmover_ioctl(fd, DMIO_SETFUNC, &sf), 0);
    int kq = kqueue(), kq_clear = kqueue();
    CHECK(kq >= 0 && kq_clear >= 0);
    struct kevent ch;
    EV_SET(&ch, fd, EVFILT_WRITE, EV_ADD, 0, 0, NULL);
    CHECK_EQ(kevent(kq, &ch, 1, NULL, 0, NULL), 0);
    EV_SET(&ch, fd, EVFILT_WRITE, EV_ADD | EV_CLEAR, 0, 0, NULL);
    CHECK_EQ(kevent(kq_clear, &ch, 1, NULL, 0, NULL), 0);
    intptr_t room = -1;
    CHECK_EQ(write_events(kq, &room), 1);
    CHECK_EQ(room, 64);
    CHECK_EQ(write_events(kq_clear, &room), 1);                   /* edge: once */
    CHECK_EQ(write_events(kq_clear, &room), 0);
    static unsigned char out[64][8];
    static struct dmio_usrreq req[64];
    static dmio_shape s[64];
    for (int i = 0; i < 64; i++) dmio_req_linear(&req[i], &s[i], (uint32_t)i, out[i], NULL, 0, 8);
    CHECK_EQ(dmover_write(fd, req, 10 * sizeof req[0]), (ssize_t)(10 * sizeof req[0]));
    CHECK_EQ(write_events(kq, &room), 1);
    CHECK_EQ(room, 54);                                           /* responses not read yet: still in flight */
    CHECK_EQ(dmover_write(fd, req + 10, 54 * sizeof req[0]), (ssize_t)(54 * sizeof req[0]));
    CHECK_EQ(write_events(kq, &room), 0);                         /* 64 in flight: not writable */
    CHECK_EQ(write_events(kq_clear, &room), 0);
    struct dmio_usrresp resp[64];
    CHECK_EQ(read_n(fd, resp, 1), 1);
    CHECK_EQ(write_events(kq, &room), 1);
    CHECK_EQ(room, 1);
    CHECK_EQ(write_events(kq_clear, &room), 1);                   /* the edge back to writable */
    CHECK_EQ(read_n(fd, resp, 63), 63);
    CHECK_EQ(write_events(kq, &room), 1);
    CHECK_EQ(room, 64);
    /* Deleting the knote and closing the descriptor leave nothing behind. */
    EV_SET(&ch, fd, EVFILT_WRITE, EV_DELETE, 0, 0, NULL);
    CHECK_EQ(kevent(kq, &ch, 1, NULL, 0, NULL), 0);
    CHECK_EQ(write_events(kq, &room), 0);
    CHECK_EQ(dmover_close(fd), 0);
    close(kq);
    close(kq_clear);
}

int main(void) {
    RUN(test_evfilt_read_when_responses_ready);
    RUN(test_evfilt_write_is_exactly_fewer_than_64_in_flight);
    RUN(test_writable_is_exactly_fewer_than_64_in_flight);
    return harness_finish();
}
