/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * socket_error.c: EV_EOF on a socket with a pending error. BSD puts the
 * error (so_error) in fflags, and the program still learns it from
 * getsockopt(SO_ERROR), recv() or send() afterwards, once.
 *
 * Linux reads a socket's error only by clearing it, so linked without the
 * preload library fflags is 0 and the error stays with the socket. Under
 * the preload library (kqueue_socket_error_preload) fflags carries it and
 * the program's getsockopt/recv/send/connect still return it, once. Both
 * modes must leave the program seeing exactly the errors it would see
 * without kqueue.
 */
#define _GNU_SOURCE
#include "kq_test.h"
#include "kq_net.h"
#include "kq_preload.h"

/* fflags expected with EV_EOF for error `e`: e under the preload library, else 0. */
static unsigned expected_fflags(int e) { return kq_under_preload() ? (unsigned)e : 0u; }

static int so_error(int s) {
    int err = -1;
    socklen_t len = sizeof err;
    return getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len) == 0 ? err : -1;
}

/* A non-blocking socket whose connect() to a closed loopback port is refused. */
/* Registers `fd` for `filter` and waits (2 s) for its first event, in *ev;
 * 0 when both worked. */
static int first_event(int kq, int fd, short filter, struct kevent *ev) {
    if (kq_change(kq, fd, filter, EV_ADD, 0, 0, NULL) != 0) return -1;
    return kq_wait(kq, ev, 1, 2000) == 1 ? 0 : -1;
}

static int refused_socket(void) {
    uint16_t port;
    int l = tcp_listener(&port);
    if (l < 0) return -1;
    close(l);
    int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    if (s >= 0 && connect(s, (struct sockaddr *)&a, sizeof a) != 0 && errno != EINPROGRESS && errno != ECONNREFUSED) {
        close(s);
        return -1;
    }
    return s;
}

/* A connected pair whose c[1] was reset by its peer (c[0] closed with SO_LINGER 0). */
static int reset_pair(int c[2], const char *unread) {
    if (tcp_pair(c) != 0) return -1;
    if (unread && write(c[0], unread, strlen(unread)) != (ssize_t)strlen(unread)) return -1;
    ms_sleep(10);
    struct linger lg = {1, 0};
    if (setsockopt(c[0], SOL_SOCKET, SO_LINGER, &lg, sizeof lg) != 0) return -1;
    close(c[0]);
    return 0;
}

static void test_refused_connect_fflags_then_getsockopt_once(void) {
    int s = refused_socket();
    CHECK(s >= 0);
    int kq = kqueue();
    struct kevent ch[2], ev[4];
    EV_SET(&ch[0], s, EVFILT_READ, EV_ADD, 0, 0, NULL);
    EV_SET(&ch[1], s, EVFILT_WRITE, EV_ADD, 0, 0, NULL);
    CHECK_EQ(kevent(kq, ch, 2, NULL, 0, NULL), 0);
    ms_sleep(20);
    int n = kq_wait(kq, ev, 4, 2000);
    CHECK_EQ(n, 2);
    for (int i = 0; i < n; i++) {
        CHECK(ev[i].flags & EV_EOF);
        CHECK_EQ(ev[i].fflags, expected_fflags(ECONNREFUSED));
    }
    /* Level-triggered: reported again, with the error still pending. */
    CHECK_EQ(kq_wait(kq, ev, 4, 2000), 2);
    for (int i = 0; i < 2; i++) CHECK_EQ(ev[i].fflags, expected_fflags(ECONNREFUSED));
    /* The program still learns it, once. */
    CHECK_EQ(so_error(s), ECONNREFUSED);
    CHECK_EQ(so_error(s), 0);
    /* Taken by the program: later events carry no error (as on BSD). */
    CHECK_EQ(kq_wait(kq, ev, 4, 2000), 2);
    for (int i = 0; i < 2; i++) {
        CHECK(ev[i].flags & EV_EOF);
        CHECK_EQ(ev[i].fflags, 0);
    }
    close(s);
    close(kq);
}

static void test_reset_fflags_then_recv_econnreset_once(void) {
    int c[2];
    CHECK_EQ(reset_pair(c, NULL), 0);
    int kq = kqueue();
    struct kevent ev;
    CHECK_EQ(first_event(kq, c[1], EVFILT_READ, &ev), 0);
    CHECK(ev.flags & EV_EOF);
    CHECK_EQ(ev.fflags, expected_fflags(ECONNRESET));
    char b[8];
    errno = 0;
    CHECK_EQ(recv(c[1], b, sizeof b, 0), -1);
    CHECK_EQ(errno, ECONNRESET);
    CHECK_EQ(recv(c[1], b, sizeof b, 0), 0); /* then end of file */
    CHECK_EQ(so_error(c[1]), 0);
    close(c[1]);
    close(kq);
}

/* Bytes that arrived before the reset are read first, then the error (read(), as the kernel does). */
static void test_reset_with_unread_data_data_first(void) {
    int c[2];
    CHECK_EQ(reset_pair(c, "abc"), 0);
    int kq = kqueue();
    struct kevent ev;
    CHECK_EQ(first_event(kq, c[1], EVFILT_READ, &ev), 0);
    CHECK(ev.flags & EV_EOF);
    CHECK_EQ(ev.fflags, expected_fflags(ECONNRESET));
    char b[8];
    CHECK_EQ(read(c[1], b, sizeof b), 3);
    CHECK_EQ(memcmp(b, "abc", 3), 0);
    errno = 0;
    CHECK_EQ(read(c[1], b, sizeof b), -1);
    CHECK_EQ(errno, ECONNRESET);
    close(c[1]);
    close(kq);
}

/* The program's own recv flags still apply while an error is kept:
 * MSG_PEEK leaves the data for the next read. */
static void test_reset_with_unread_data_peek_keeps_data(void) {
    int c[2];
    CHECK_EQ(reset_pair(c, "abc"), 0);
    int kq = kqueue();
    struct kevent ev;
    CHECK_EQ(first_event(kq, c[1], EVFILT_READ, &ev), 0);
    CHECK_EQ(ev.fflags, expected_fflags(ECONNRESET));
    char b[8];
    CHECK_EQ(recv(c[1], b, sizeof b, MSG_PEEK), 3);
    CHECK_EQ(memcmp(b, "abc", 3), 0);
    memset(b, 0, sizeof b);
    CHECK_EQ(recv(c[1], b, sizeof b, 0), 3);
    CHECK_EQ(memcmp(b, "abc", 3), 0);
    errno = 0;
    CHECK_EQ(recv(c[1], b, sizeof b, 0), -1);
    CHECK_EQ(errno, ECONNRESET);
    close(c[1]);
    close(kq);
}

/* send() on the reset socket says ECONNRESET, not EPIPE (nor SIGPIPE). */
static void test_reset_send_says_econnreset(void) {
    signal(SIGPIPE, SIG_DFL); /* a SIGPIPE would kill the test */
    int c[2];
    CHECK_EQ(reset_pair(c, NULL), 0);
    int kq = kqueue();
    struct kevent ev;
    CHECK_EQ(first_event(kq, c[1], EVFILT_WRITE, &ev), 0);
    CHECK(ev.flags & EV_EOF);
    CHECK_EQ(ev.fflags, expected_fflags(ECONNRESET));
    errno = 0;
    CHECK_EQ(send(c[1], "x", 1, 0), -1);
    CHECK_EQ(errno, ECONNRESET);
    close(c[1]);
    close(kq);
}

/* connect() again on the refused socket says ECONNREFUSED (not ECONNABORTED). */
static void test_refused_connect_again_says_econnrefused(void) {
    int s = refused_socket();
    CHECK(s >= 0);
    int kq = kqueue();
    struct kevent ev;
    CHECK_EQ(first_event(kq, s, EVFILT_WRITE, &ev), 0);
    CHECK_EQ(ev.fflags, expected_fflags(ECONNREFUSED));
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(1);
    errno = 0;
    CHECK_EQ(connect(s, (struct sockaddr *)&a, sizeof a), -1);
    CHECK_EQ(errno, ECONNREFUSED);
    close(s);
    close(kq);
}

/* A kept error goes with its socket: the number reused by a new socket has none. */
static void test_error_forgotten_on_close(void) {
    int s = refused_socket();
    CHECK(s >= 0);
    int kq = kqueue();
    struct kevent ev;
    CHECK_EQ(first_event(kq, s, EVFILT_READ, &ev), 0);
    CHECK_EQ(ev.fflags, expected_fflags(ECONNREFUSED));
    close(s);
    int t = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK_EQ(t, s);
    CHECK_EQ(so_error(t), 0);
    char b;
    errno = 0;
    CHECK_EQ(recv(t, &b, 1, MSG_DONTWAIT), -1);
    CHECK_EQ(errno, ENOTCONN);
    close(t);
    close(kq);
}

/* A clean end of file (FIN) carries no error. */
static void test_clean_eof_fflags_zero(void) {
    int c[2];
    CHECK_EQ(tcp_pair(c), 0);
    int kq = kqueue();
    CHECK_EQ(kq_change(kq, c[1], EVFILT_READ, EV_ADD, 0, 0, NULL), 0);
    close(c[0]);
    struct kevent ev;
    CHECK_EQ(kq_wait(kq, &ev, 1, 2000), 1);
    CHECK(ev.flags & EV_EOF);
    CHECK_EQ(ev.fflags, 0);
    char b;
    CHECK_EQ(recv(c[1], &b, 1, 0), 0);
    close(c[1]);
    close(kq);
}

int main(void) {
    RUN_FORKED(test_refused_connect_fflags_then_getsockopt_once, 10);
    RUN_FORKED(test_reset_fflags_then_recv_econnreset_once, 10);
    RUN_FORKED(test_reset_with_unread_data_data_first, 10);
    RUN_FORKED(test_reset_with_unread_data_peek_keeps_data, 10);
    RUN_FORKED(test_reset_send_says_econnreset, 10);
    RUN_FORKED(test_refused_connect_again_says_econnrefused, 10);
    RUN_FORKED(test_error_forgotten_on_close, 10);
    RUN_FORKED(test_clean_eof_fflags_zero, 10);
    return harness_finish();
}
