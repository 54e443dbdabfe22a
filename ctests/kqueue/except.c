/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * except.c: EVFILT_EXCEPT / NOTE_OOB on a loopback TCP connection: urgent
 * data is reported until read, independently of a read knote on the socket.
 */
#define _GNU_SOURCE
#include "kq_test.h"
#include "kq_net.h"

#include <sys/socket.h>

static void test_except_oob_reported_until_read(void) {
    int c[2];
    CHECK_EQ(tcp_pair(c), 0);
    int kq = kqueue(), tag;
    CHECK_EQ(kq_change(kq, c[1], EVFILT_EXCEPT, EV_ADD, NOTE_OOB, 0, &tag), 0);
    struct kevent ev;
    CHECK_EQ(kq_wait(kq, &ev, 1, 100), 0);
    CHECK_EQ(send(c[0], "!", 1, MSG_OOB), 1);
    CHECK_EQ(kq_wait(kq, &ev, 1, 2000), 1);
    CHECK_EQ(ev.ident, c[1]);
    CHECK_EQ(ev.filter, EVFILT_EXCEPT);
    CHECK_EQ(ev.flags, EV_ADD);
    CHECK_EQ(ev.fflags, NOTE_OOB);
    CHECK_EQ(ev.data, 1);
    CHECK(ev.udata == &tag);
    CHECK_EQ(kq_poll(kq, &ev, 1), 1); /* level: still unread */
    char b;
    CHECK_EQ(recv(c[1], &b, 1, MSG_OOB), 1);
    CHECK_EQ(b, '!');
    CHECK_EQ(kq_poll(kq, &ev, 1), 0);
    close(c[0]); close(c[1]); close(kq);
}

static void test_except_and_read_knotes_on_one_socket_are_independent(void) {
    int c[2];
    CHECK_EQ(tcp_pair(c), 0);
    int kq = kqueue();
    CHECK_EQ(kq_change(kq, c[1], EVFILT_EXCEPT, EV_ADD | EV_CLEAR, NOTE_OOB, 0, NULL), 0);
    CHECK_EQ(kq_change(kq, c[1], EVFILT_READ, EV_ADD, 0, 0, NULL), 0);
    CHECK_EQ(send(c[0], "ab", 2, 0), 2);
    ms_sleep(50);
    struct kevent ev[4];
    int n = kq_poll(kq, ev, 4);
    CHECK_EQ(n, 1);
    CHECK_EQ(ev[0].filter, EVFILT_READ);
    CHECK_EQ(send(c[0], "!", 1, MSG_OOB), 1);
    ms_sleep(50);
    n = kq_poll(kq, ev, 4);
    int except = 0;
    for (int i = 0; i < n; i++) except += ev[i].filter == EVFILT_EXCEPT;
    CHECK_EQ(except, 1);
    /* EV_CLEAR: reported once for that urgent byte. */
    n = kq_poll(kq, ev, 4);
    except = 0;
    for (int i = 0; i < n; i++) except += ev[i].filter == EVFILT_EXCEPT;
    CHECK_EQ(except, 0);
    close(c[0]); close(c[1]); close(kq);
}

static void test_except_rejects_unknown_notes_and_files(void) {
    int c[2];
    CHECK_EQ(tcp_pair(c), 0);
    int kq = kqueue();
    CHECK_ERRNO(kq_change(kq, c[1], EVFILT_EXCEPT, EV_ADD, NOTE_OOB | 0x100, 0, NULL), EINVAL);
    char path[] = "/tmp/bsdshim-except-XXXXXX";
    int f = mkstemp(path);
    unlink(path);
    CHECK_ERRNO(kq_change(kq, f, EVFILT_EXCEPT, EV_ADD, NOTE_OOB, 0, NULL), EINVAL);
    CHECK_ERRNO(kq_change(kq, 100000, EVFILT_EXCEPT, EV_ADD, NOTE_OOB, 0, NULL), EBADF);
    struct kevent ev;
    CHECK_EQ(kq_poll(kq, &ev, 1), 0);
    close(f); close(c[0]); close(c[1]); close(kq);
}

int main(void) {
    RUN(test_except_oob_reported_until_read);
    RUN(test_except_and_read_knotes_on_one_socket_are_independent);
    RUN(test_except_rejects_unknown_notes_and_files);
    return harness_finish();
}
