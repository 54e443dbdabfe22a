/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * libkqueue_program.c: an ordinary libkqueue user, linked against libkqueue.so.0
 * (the stand-in), run with LD_PRELOAD=libbsdshim.so.
 */
#define _GNU_SOURCE
#include <sys/event.h>
#include <unistd.h>

#include "harness.h"

static void test_kqueue_comes_from_preloaded_bsdshim(void) {
    int kq = kqueue();
    CHECK(kq >= 0);
    close(kq);
}

static void test_user_event_round_trip(void) {
    int kq = kqueue();
    CHECK(kq >= 0);
    struct kevent kev, out;
    int tag;
    EV_SET(&kev, 9, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, &tag);
    CHECK_EQ(kevent(kq, &kev, 1, NULL, 0, NULL), 0);
    EV_SET(&kev, 9, EVFILT_USER, 0, NOTE_TRIGGER, 0, &tag);
    struct timespec ts = {1, 0};
    CHECK_EQ(kevent(kq, &kev, 1, &out, 1, &ts), 1);
    CHECK_EQ(out.ident, 9);
    CHECK_EQ(out.filter, EVFILT_USER);
    CHECK(out.udata == &tag);
    close(kq);
}

static void test_pipe_readable_with_byte_count(void) {
    int kq = kqueue(), p[2];
    CHECK(kq >= 0);
    CHECK(pipe(p) == 0);
    CHECK_EQ(write(p[1], "abc", 3), 3);
    struct kevent kev, out;
    EV_SET(&kev, p[0], EVFILT_READ, EV_ADD, 0, 0, NULL);
    struct timespec ts = {1, 0};
    CHECK_EQ(kevent(kq, &kev, 1, &out, 1, &ts), 1);
    CHECK_EQ(out.ident, p[0]);
    CHECK_EQ(out.data, 3);
    close(p[0]); close(p[1]); close(kq);
}

static void test_timer_fires(void) {
    int kq = kqueue();
    CHECK(kq >= 0);
    struct kevent kev, out;
    EV_SET(&kev, 1, EVFILT_TIMER, EV_ADD | EV_ONESHOT, 0, 10, NULL);
    struct timespec ts = {5, 0};
    CHECK_EQ(kevent(kq, &kev, 1, &out, 1, &ts), 1);
    CHECK_EQ(out.filter, EVFILT_TIMER);
    CHECK_EQ(out.data, 1);
    libkqueue_drain_pending_close();
    close(kq);
}

int main(void) {
    RUN(test_kqueue_comes_from_preloaded_bsdshim);
    RUN(test_user_event_round_trip);
    RUN(test_pipe_readable_with_byte_count);
    RUN(test_timer_fires);
    return harness_finish();
}
