/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * nesting.c: a kqueue descriptor is pollable: POLLIN through poll(), select()
 * and epoll while events are pending (user events, timers, descriptor
 * readiness), and EVFILT_READ on it in another kqueue (data >= 1).
 */
#define _GNU_SOURCE
#include "kq_test.h"

#include <poll.h>
#include <sys/epoll.h>
#include <sys/select.h>

static int tag;

static int poll_in(int fd, int ms) {
    struct pollfd pfd = {fd, POLLIN, 0};
    int r = poll(&pfd, 1, ms);
    return r == 1 && (pfd.revents & POLLIN) ? 1 : r < 0 ? -1 : 0;
}

static void test_poll_kqueue_pollin_when_pending(void) {
    int kq = kqueue();
    CHECK_EQ(kq_change(kq, 1, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, NULL), 0);
    CHECK_EQ(poll_in(kq, 0), 0);
    CHECK_EQ(kq_change(kq, 1, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL), 0);
    CHECK_EQ(poll_in(kq, 2000), 1);
    /* Still pending (poll does not consume). */
    CHECK_EQ(poll_in(kq, 0), 1);
    struct kevent ev;
    CHECK_EQ(kq_poll(kq, &ev, 1), 1);
    CHECK_EQ(poll_in(kq, 0), 0);
    close(kq);
}

static void test_poll_kqueue_for_descriptor_readiness(void) {
    int kq = kqueue(), p[2];
    CHECK(pipe2(p, O_NONBLOCK) == 0);
    CHECK_EQ(kq_change(kq, p[0], EVFILT_READ, EV_ADD, 0, 0, NULL), 0);
    CHECK_EQ(poll_in(kq, 0), 0);
    CHECK_EQ(write(p[1], "x", 1), 1);
    CHECK_EQ(poll_in(kq, 2000), 1);
    struct kevent ev;
    CHECK_EQ(kq_poll(kq, &ev, 1), 1);
    CHECK_EQ(drain(p[0], 0), 1);
    CHECK_EQ(kq_poll(kq, &ev, 1), 0);
    CHECK_EQ(poll_in(kq, 0), 0);
    close(p[0]);
    close(p[1]);
    close(kq);
}

static void test_poll_kqueue_for_timer(void) {
    int kq = kqueue();
    CHECK_EQ(kq_change(kq, 1, EVFILT_TIMER, EV_ADD | EV_ONESHOT, 0, 30, NULL), 0);
    uint64_t t0 = harness_now_ns();
    CHECK_EQ(poll_in(kq, 5000), 1);
    CHECK(ms_since(t0) < 4000);
    struct kevent ev;
    CHECK_EQ(kq_poll(kq, &ev, 1), 1);
    CHECK_EQ(ev.filter, EVFILT_TIMER);
    close(kq);
}

static void test_select_on_kqueue(void) {
    int kq = kqueue();
    CHECK(kq < FD_SETSIZE);
    CHECK_EQ(kq_change(kq, 1, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, NULL), 0);
    fd_set rs;
    FD_ZERO(&rs);
    FD_SET(kq, &rs);
    struct timeval tv = {0, 0};
    CHECK_EQ(select(kq + 1, &rs, NULL, NULL, &tv), 0);
    CHECK_EQ(kq_change(kq, 1, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL), 0);
    FD_ZERO(&rs);
    FD_SET(kq, &rs);
    struct timeval tv2 = {2, 0};
    CHECK_EQ(select(kq + 1, &rs, NULL, NULL, &tv2), 1);
    CHECK(FD_ISSET(kq, &rs));
    close(kq);
}

static void test_epoll_on_kqueue(void) {
    int kq = kqueue(), ep = epoll_create1(EPOLL_CLOEXEC);
    CHECK(ep >= 0);
    struct epoll_event ee = {.events = EPOLLIN, .data.u64 = 0x1234};
    CHECK_EQ(epoll_ctl(ep, EPOLL_CTL_ADD, kq, &ee), 0);
    CHECK_EQ(kq_change(kq, 1, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, NULL), 0);
    struct epoll_event out;
    CHECK_EQ(epoll_wait(ep, &out, 1, 0), 0);
    CHECK_EQ(kq_change(kq, 1, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL), 0);
    CHECK_EQ(epoll_wait(ep, &out, 1, 2000), 1);
    CHECK(out.events & EPOLLIN);
    CHECK_EQ(out.data.u64, 0x1234);
    struct kevent ev;
    CHECK_EQ(kq_poll(kq, &ev, 1), 1);
    CHECK_EQ(epoll_wait(ep, &out, 1, 0), 0);
    close(ep);
    close(kq);
}

static void test_kqueue_in_kqueue(void) {
    int outer = kqueue(), inner = kqueue();
    CHECK_EQ(kq_change(inner, 1, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, NULL), 0);
    CHECK_EQ(kq_change(outer, inner, EVFILT_READ, EV_ADD, 0, 0, &tag), 0);
    struct kevent ev;
    CHECK_EQ(kq_wait(outer, &ev, 1, 20), 0);
    CHECK_EQ(kq_change(inner, 1, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL), 0);
    CHECK_EQ(kq_wait(outer, &ev, 1, 2000), 1);
    CHECK_EQ(ev.ident, inner);
    CHECK_EQ(ev.filter, EVFILT_READ);
    CHECK(ev.data >= 1);
    CHECK(ev.udata == &tag);
    /* Draining the inner kqueue quiets the outer one. */
    CHECK_EQ(kq_poll(inner, &ev, 1), 1);
    CHECK_EQ(ev.ident, 1);
    CHECK_EQ(kq_wait(outer, &ev, 1, 50), 0);
    close(inner);
    close(outer);
}

static void test_kqueue_in_kqueue_with_descriptor_events(void) {
    int outer = kqueue(), inner = kqueue(), p[2];
    CHECK(pipe2(p, O_NONBLOCK) == 0);
    CHECK_EQ(kq_change(inner, p[0], EVFILT_READ, EV_ADD, 0, 0, NULL), 0);
    CHECK_EQ(kq_change(outer, inner, EVFILT_READ, EV_ADD | EV_CLEAR, 0, 0, NULL), 0);
    struct kevent ev;
    CHECK_EQ(kq_wait(outer, &ev, 1, 20), 0);
    CHECK_EQ(write(p[1], "x", 1), 1);
    CHECK_EQ(kq_wait(outer, &ev, 1, 2000), 1);
    CHECK_EQ(ev.ident, inner);
    CHECK(ev.data >= 1);
    CHECK_EQ(kq_poll(inner, &ev, 1), 1);
    CHECK_EQ(ev.ident, p[0]);
    close(p[0]);
    close(p[1]);
    close(inner);
    close(outer);
}

static void test_three_level_nesting(void) {
    int a = kqueue(), b = kqueue(), c = kqueue();
    CHECK_EQ(kq_change(c, 1, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, NULL), 0);
    CHECK_EQ(kq_change(b, c, EVFILT_READ, EV_ADD, 0, 0, NULL), 0);
    CHECK_EQ(kq_change(a, b, EVFILT_READ, EV_ADD, 0, 0, NULL), 0);
    struct kevent ev;
    CHECK_EQ(kq_wait(a, &ev, 1, 20), 0);
    CHECK_EQ(kq_change(c, 1, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL), 0);
    CHECK_EQ(kq_wait(a, &ev, 1, 2000), 1);
    CHECK_EQ(ev.ident, b);
    close(a);
    close(b);
    close(c);
}

struct poller {
    int kq;
    atomic_int done;
    int result;
};

static void *poll_forever(void *p) {
    struct poller *pl = p;
    pl->result = poll_in(pl->kq, -1);
    atomic_store(&pl->done, 1);
    return NULL;
}

static void test_poll_blocked_on_kqueue_woken_by_trigger(void) {
    int kq = kqueue();
    CHECK_EQ(kq_change(kq, 1, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, NULL), 0);
    struct poller pl = {kq, 0, 0};
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, poll_forever, &pl), 0);
    ms_sleep(50);
    CHECK_EQ(atomic_load(&pl.done), 0);
    CHECK_EQ(kq_change(kq, 1, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL), 0);
    for (int i = 0; i < 500 && !atomic_load(&pl.done); i++) ms_sleep(10);
    CHECK_EQ(atomic_load(&pl.done), 1);
    pthread_join(t, NULL);
    CHECK_EQ(pl.result, 1);
    close(kq);
}

int main(void) {
    RUN(test_poll_kqueue_pollin_when_pending);
    RUN(test_poll_kqueue_for_descriptor_readiness);
    RUN(test_poll_kqueue_for_timer);
    RUN(test_select_on_kqueue);
    RUN(test_epoll_on_kqueue);
    RUN(test_kqueue_in_kqueue);
    RUN(test_kqueue_in_kqueue_with_descriptor_events);
    RUN(test_three_level_nesting);
    RUN(test_poll_blocked_on_kqueue_woken_by_trigger);
    return harness_finish();
}
