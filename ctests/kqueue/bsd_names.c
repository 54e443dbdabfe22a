/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * bsd_names.c: the FreeBSD names <sys/event.h> gives meaning to, beside
 * libkqueue's: NOTE_MSECONDS (0, the default unit, since FreeBSD's 0x2 is
 * libkqueue's NOTE_USECONDS), NOTE_ABSTIME (NOTE_ABSOLUTE) in every unit,
 * and EV_KEEPUDATA; and names that have no meaning on Linux staying absent
 * rather than accepted and ignored.
 */
#define _GNU_SOURCE
#include "kq_test.h"

static int tag_a, tag_b;

static int64_t realtime_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void test_timer_unit_values_keep_libkqueue_abi(void) {
    CHECK_EQ(NOTE_MSECONDS, 0);
    CHECK_EQ(NOTE_SECONDS, 0x0001);
    CHECK_EQ(NOTE_USECONDS, 0x0002);
    CHECK_EQ(NOTE_NSECONDS, 0x0004);
    CHECK_EQ(NOTE_ABSTIME, NOTE_ABSOLUTE);
    CHECK_EQ(NOTE_ABSOLUTE, 0x0008);
    CHECK_EQ(EV_KEEPUDATA, 0x0200);
}

/* Waits for a timer's first event; returns the ms it took, or -1. */
static int64_t fire_ms(int kq, struct kevent *ev) {
    uint64_t t0 = harness_now_ns();
    if (kq_wait(kq, ev, 1, 5000) != 1) return -1;
    return ms_since(t0);
}

static void test_note_mseconds_is_milliseconds(void) {
    int kq = kqueue();
    struct kevent ev;
    CHECK_EQ(kq_change(kq, 1, EVFILT_TIMER, EV_ADD | EV_ONESHOT, NOTE_MSECONDS, 120, &tag_a), 0);
    int64_t ms = fire_ms(kq, &ev);
    CHECK(ms >= 100);
    CHECK(ms < 2000);
    CHECK_EQ(ev.data, 1);
    CHECK(ev.udata == &tag_a);
    /* Periodic: expirations are counted in milliseconds too. */
    CHECK_EQ(kq_change(kq, 2, EVFILT_TIMER, EV_ADD, NOTE_MSECONDS, 20, NULL), 0);
    ms_sleep(210);
    CHECK_EQ(kq_wait(kq, &ev, 1, 2000), 1);
    CHECK(ev.data >= 5);
    CHECK(ev.data <= 12);
    close(kq);
}

/* NOTE_ABSTIME: data is a time since the Epoch in the unit given; it fires
 * once, at that time. */
static void check_abstime(unsigned int unit, int64_t per_unit_ns) {
    int kq = kqueue();
    struct kevent ev;
    /* 300 ms from now, rounded up to the unit (a second for NOTE_SECONDS). */
    int64_t when = (realtime_ns() + 300000000 + per_unit_ns - 1) / per_unit_ns;
    int64_t expect_ms = (when * per_unit_ns - realtime_ns()) / 1000000;
    CHECK_EQ(kq_change(kq, 7, EVFILT_TIMER, EV_ADD, NOTE_ABSTIME | unit, (intptr_t)when, &tag_b), 0);
    int64_t ms = fire_ms(kq, &ev);
    CHECK(ms >= expect_ms - 30);
    CHECK(ms < expect_ms + 1000);
    CHECK(realtime_ns() >= when * per_unit_ns);
    CHECK_EQ(ev.ident, 7);
    CHECK_EQ(ev.data, 1);
    CHECK(ev.udata == &tag_b);
    CHECK_EQ(kq_wait(kq, &ev, 1, 300), 0);                 /* once */
    close(kq);
}

static void test_abstime_in_milliseconds(void) { check_abstime(NOTE_MSECONDS, 1000000); }
static void test_abstime_in_seconds(void) { check_abstime(NOTE_SECONDS, 1000000000); }
static void test_abstime_in_microseconds(void) { check_abstime(NOTE_USECONDS, 1000); }
static void test_abstime_in_nanoseconds(void) { check_abstime(NOTE_NSECONDS, 1); }

static void test_abstime_in_the_past_fires_at_once(void) {
    int kq = kqueue();
    struct kevent ev;
    intptr_t past_us = (intptr_t)(realtime_ns() / 1000 - 3000000);
    CHECK_EQ(kq_change(kq, 1, EVFILT_TIMER, EV_ADD, NOTE_ABSTIME | NOTE_USECONDS, past_us, NULL), 0);
    int64_t ms = fire_ms(kq, &ev);
    CHECK(ms >= 0);
    CHECK(ms < 500);
    CHECK_EQ(ev.data, 1);
    close(kq);
}

/* EV_KEEPUDATA: a modification keeps the udata the event has. */
static void test_ev_keepudata_keeps_udata_on_modify(void) {
    int kq = kqueue();
    struct kevent ev;
    CHECK_EQ(kq_change(kq, 1, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, &tag_a), 0);
    CHECK_EQ(kq_change(kq, 1, EVFILT_USER, EV_ADD | EV_KEEPUDATA, NOTE_TRIGGER, 0, &tag_b), 0);
    CHECK_EQ(kq_poll(kq, &ev, 1), 1);
    CHECK(ev.udata == &tag_a);
    CHECK_EQ(kq_change(kq, 1, EVFILT_USER, EV_KEEPUDATA, NOTE_TRIGGER, 0, &tag_b), 0);
    CHECK_EQ(kq_poll(kq, &ev, 1), 1);
    CHECK(ev.udata == &tag_a);
    /* Without it, the modification replaces udata, as before. */
    CHECK_EQ(kq_change(kq, 1, EVFILT_USER, EV_ADD, NOTE_TRIGGER, 0, &tag_b), 0);
    CHECK_EQ(kq_poll(kq, &ev, 1), 1);
    CHECK(ev.udata == &tag_b);
    /* A timer re-armed by EV_ADD|EV_KEEPUDATA keeps it too. */
    CHECK_EQ(kq_change(kq, 2, EVFILT_TIMER, EV_ADD | EV_ONESHOT, 0, 10000, &tag_a), 0);
    CHECK_EQ(kq_change(kq, 2, EVFILT_TIMER, EV_ADD | EV_ONESHOT | EV_KEEPUDATA, 0, 10, NULL), 0);
    CHECK_EQ(kq_wait(kq, &ev, 1, 2000), 1);
    CHECK_EQ(ev.filter, EVFILT_TIMER);
    CHECK(ev.udata == &tag_a);
    close(kq);
}

/* On a new event EV_KEEPUDATA has nothing to keep: udata is the one given. */
static void test_ev_keepudata_on_add_sets_udata(void) {
    int kq = kqueue();
    struct kevent ev;
    CHECK_EQ(kq_change(kq, 1, EVFILT_USER, EV_ADD | EV_KEEPUDATA, NOTE_TRIGGER, 0, &tag_b), 0);
    CHECK_EQ(kq_poll(kq, &ev, 1), 1);
    CHECK(ev.udata == &tag_b);
    close(kq);
}

/* Names with no Linux meaning are left undefined, so that a program's
 * #ifdef takes its fallback instead of asking for something ignored. */
static void test_names_without_meaning_are_absent(void) {
#ifdef NOTE_REVOKE
    CHECK(!"NOTE_REVOKE: no revoke(2), and inotify's IN_UNMOUNT waits for the last descriptor");
#endif
#ifdef EV_FORCEONESHOT
    CHECK(!"EV_FORCEONESHOT");
#endif
#ifdef EV_UDATA_SPECIFIC
    CHECK(!"EV_UDATA_SPECIFIC");
#endif
#ifdef NOTE_LEEWAY
    CHECK(!"NOTE_LEEWAY");
#endif
#ifdef NOTE_CRITICAL
    CHECK(!"NOTE_CRITICAL");
#endif
#ifdef NOTE_BACKGROUND
    CHECK(!"NOTE_BACKGROUND");
#endif
#ifdef NOTE_MACHTIME
    CHECK(!"NOTE_MACHTIME");
#endif
#ifdef NOTE_TIMER_PRECMASK
    CHECK(!"NOTE_TIMER_PRECMASK");
#endif
}

int main(void) {
    RUN_FORKED(test_timer_unit_values_keep_libkqueue_abi, 10);
    RUN_FORKED(test_note_mseconds_is_milliseconds, 20);
    RUN_FORKED(test_abstime_in_milliseconds, 20);
    RUN_FORKED(test_abstime_in_seconds, 20);
    RUN_FORKED(test_abstime_in_microseconds, 20);
    RUN_FORKED(test_abstime_in_nanoseconds, 20);
    RUN_FORKED(test_abstime_in_the_past_fires_at_once, 20);
    RUN_FORKED(test_ev_keepudata_keeps_udata_on_modify, 20);
    RUN_FORKED(test_ev_keepudata_on_add_sets_udata, 20);
    RUN_FORKED(test_names_without_meaning_are_absent, 10);
    return harness_finish();
}
