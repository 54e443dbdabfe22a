/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * timer.c: EVFILT_TIMER: units (ms default, NOTE_SECONDS/USECONDS/NSECONDS),
 * NOTE_ABSOLUTE, returned flags (EV_CLEAR forced), data = expirations since
 * the last delivery, EV_ONESHOT, EV_DISPATCH, re-adding, deleting, and
 * 100,000 timers in O(1) descriptors. Bounds on wall-clock time are generous.
 */
#define _GNU_SOURCE
#include "kq_test.h"

static int tag;

static int64_t realtime_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Adds a timer and returns how long (ms) until its first event, or -1. */
static int64_t first_fire_ms(unsigned short flags, unsigned int fflags, intptr_t data, struct kevent *ev) {
    int kq = kqueue();
    uint64_t t0 = harness_now_ns();
    if (kq_change(kq, 1, EVFILT_TIMER, EV_ADD | flags, fflags, data, &tag) != 0) {
        close(kq);
        return -1;
    }
    int n = kq_wait(kq, ev, 1, 10000);
    int64_t ms = ms_since(t0);
    close(kq);
    return n == 1 ? ms : -1;
}

static void test_timer_milliseconds_by_default(void) {
    struct kevent ev;
    int64_t ms = first_fire_ms(EV_ONESHOT, 0, 100, &ev);
    CHECK(ms >= 90);
    CHECK(ms < 5000);
    CHECK_EQ(ev.ident, 1);
    CHECK_EQ(ev.filter, EVFILT_TIMER);
    CHECK_EQ(ev.data, 1);
    CHECK(ev.udata == &tag);
}

static void test_timer_seconds(void) {
    struct kevent ev;
    int64_t ms = first_fire_ms(EV_ONESHOT, NOTE_SECONDS, 1, &ev);
    CHECK(ms >= 950);
    CHECK(ms < 6000);
    CHECK_EQ(ev.data, 1);
}

static void test_timer_microseconds(void) {
    struct kevent ev;
    int64_t ms = first_fire_ms(EV_ONESHOT, NOTE_USECONDS, 100000, &ev);
    CHECK(ms >= 90);
    CHECK(ms < 5000);
}

static void test_timer_nanoseconds(void) {
    struct kevent ev;
    int64_t ms = first_fire_ms(EV_ONESHOT, NOTE_NSECONDS, 100000000, &ev);
    CHECK(ms >= 90);
    CHECK(ms < 5000);
}

static void test_timer_returned_flags_force_clear(void) {
    int kq = kqueue();
    CHECK_EQ(kq_change(kq, 1, EVFILT_TIMER, EV_ADD, 0, 20, &tag), 0);
    struct kevent ev;
    CHECK_EQ(kq_wait(kq, &ev, 1, 5000), 1);
    CHECK_EQ(ev.flags, EV_ADD | EV_CLEAR);
    CHECK_EQ(ev.fflags, 0);
    CHECK(ev.data >= 1);
    /* Cleared on retrieval: not reported again at once. */
    CHECK_EQ(kq_poll(kq, &ev, 1), 0);
    close(kq);
}

static void test_timer_oneshot_fires_once(void) {
    int kq = kqueue();
    CHECK_EQ(kq_change(kq, 1, EVFILT_TIMER, EV_ADD | EV_ONESHOT, 0, 20, NULL), 0);
    struct kevent ev;
    CHECK_EQ(kq_wait(kq, &ev, 1, 5000), 1);
    CHECK_EQ(ev.flags, EV_ADD | EV_ONESHOT | EV_CLEAR);
    CHECK_EQ(ev.data, 1);
    CHECK_EQ(kq_wait(kq, &ev, 1, 100), 0);
    CHECK_ERRNO(kq_change(kq, 1, EVFILT_TIMER, EV_DELETE, 0, 0, NULL), ENOENT);
    close(kq);
}

static void test_timer_periodic_fires_repeatedly(void) {
    int kq = kqueue();
    CHECK_EQ(kq_change(kq, 1, EVFILT_TIMER, EV_ADD, 0, 20, NULL), 0);
    struct kevent ev;
    for (int i = 0; i < 5; i++) {
        CHECK_EQ(kq_wait(kq, &ev, 1, 5000), 1);
        CHECK_EQ(ev.ident, 1);
        CHECK(ev.data >= 1);
    }
    close(kq);
}

static void test_timer_data_counts_expirations(void) {
    int kq = kqueue();
    CHECK_EQ(kq_change(kq, 1, EVFILT_TIMER, EV_ADD, 0, 50, NULL), 0);
    ms_sleep(500);
    struct kevent ev;
    CHECK_EQ(kq_poll(kq, &ev, 1), 1);
    CHECK(ev.data >= 8);
    CHECK(ev.data <= 20);
    /* Counted since the last delivery: starts over. */
    CHECK_EQ(kq_poll(kq, &ev, 1), 0);
    CHECK_EQ(kq_wait(kq, &ev, 1, 5000), 1);
    CHECK(ev.data >= 1);
    CHECK(ev.data <= 3);
    close(kq);
}

static void test_timer_absolute_fires_at_deadline(void) {
    int kq = kqueue();
    uint64_t t0 = harness_now_ns();
    CHECK_EQ(kq_change(kq, 1, EVFILT_TIMER, EV_ADD, NOTE_ABSOLUTE, (intptr_t)(realtime_ms() + 150), &tag), 0);
    struct kevent ev;
    CHECK_EQ(kq_wait(kq, &ev, 1, 5000), 1);
    int64_t ms = ms_since(t0);
    CHECK(ms >= 100);
    CHECK(ms < 5000);
    CHECK_EQ(ev.ident, 1);
    CHECK_EQ(ev.data, 1);
    CHECK(ev.udata == &tag);
    /* Fires once. */
    CHECK_EQ(kq_wait(kq, &ev, 1, 200), 0);
    close(kq);
}

static void test_timer_absolute_past_fires_at_once(void) {
    int kq = kqueue();
    CHECK_EQ(kq_change(kq, 1, EVFILT_TIMER, EV_ADD, NOTE_ABSOLUTE, (intptr_t)(realtime_ms() - 5000), NULL), 0);
    struct kevent ev;
    uint64_t t0 = harness_now_ns();
    CHECK_EQ(kq_wait(kq, &ev, 1, 5000), 1);
    CHECK(ms_since(t0) < 1000);
    CHECK_EQ(ev.data, 1);
    close(kq);
}

static void test_timer_absolute_seconds_past(void) {
    int kq = kqueue();
    CHECK_EQ(kq_change(kq, 1, EVFILT_TIMER, EV_ADD, NOTE_ABSOLUTE | NOTE_SECONDS,
                       (intptr_t)(time(NULL) - 10), NULL), 0);
    struct kevent ev;
    uint64_t t0 = harness_now_ns();
    CHECK_EQ(kq_wait(kq, &ev, 1, 5000), 1);
    CHECK(ms_since(t0) < 1000);
    close(kq);
}

static void test_timer_zero_oneshot_fires_immediately(void) {
    int kq = kqueue();
    CHECK_EQ(kq_change(kq, 1, EVFILT_TIMER, EV_ADD | EV_ONESHOT, 0, 0, NULL), 0);
    struct kevent ev;
    uint64_t t0 = harness_now_ns();
    CHECK_EQ(kq_wait(kq, &ev, 1, 5000), 1);
    CHECK(ms_since(t0) < 1000);
    close(kq);
}

static void test_timer_readd_changes_period(void) {
    int kq = kqueue();
    CHECK_EQ(kq_change(kq, 1, EVFILT_TIMER, EV_ADD, 0, 60000, NULL), 0);
    struct kevent ev;
    CHECK_EQ(kq_wait(kq, &ev, 1, 50), 0);
    uint64_t t0 = harness_now_ns();
    CHECK_EQ(kq_change(kq, 1, EVFILT_TIMER, EV_ADD, 0, 50, &tag), 0);
    CHECK_EQ(kq_wait(kq, &ev, 1, 5000), 1);
    CHECK(ms_since(t0) < 4000);
    CHECK(ev.udata == &tag);
    /* And the other way: a long period stops the short one. */
    CHECK_EQ(kq_change(kq, 1, EVFILT_TIMER, EV_ADD, 0, 60000, NULL), 0);
    CHECK_EQ(kq_wait(kq, &ev, 1, 200), 0);
    close(kq);
}

/* A change with no action flags modifies the timer (FreeBSD filt_timertouch,
 * libkqueue kn_modify): new period and udata; EV_ENABLE alone keeps both. */
static void test_timer_modify_without_add_changes_period(void) {
    int kq = kqueue();
    CHECK_EQ(kq_change(kq, 1, EVFILT_TIMER, EV_ADD, 0, 60000, NULL), 0);
    struct kevent ev;
    CHECK_EQ(kq_wait(kq, &ev, 1, 50), 0);
    uint64_t t0 = harness_now_ns();
    CHECK_EQ(kq_change(kq, 1, EVFILT_TIMER, 0, 0, 50, &tag), 0);
    CHECK_EQ(kq_wait(kq, &ev, 1, 5000), 1);
    CHECK(ms_since(t0) < 4000);
    CHECK(ev.udata == &tag);
    CHECK_EQ(kq_change(kq, 1, EVFILT_TIMER, EV_ENABLE, 0, 60000, NULL), 0);
    CHECK_EQ(kq_wait(kq, &ev, 1, 5000), 1);      /* still the 50 ms period */
    CHECK(ev.udata == &tag);
    CHECK_ERRNO(kq_change(kq, 1, EVFILT_TIMER, 0, 0, -5, NULL), EINVAL);
    CHECK_EQ(kq_wait(kq, &ev, 1, 5000), 1);      /* a refused modify leaves it running */
    close(kq);
}

static void test_timer_delete_stops_it(void) {
    int kq = kqueue();
    CHECK_EQ(kq_change(kq, 1, EVFILT_TIMER, EV_ADD, 0, 20, NULL), 0);
    struct kevent ev;
    CHECK_EQ(kq_wait(kq, &ev, 1, 5000), 1);
    CHECK_EQ(kq_change(kq, 1, EVFILT_TIMER, EV_DELETE, 0, 0, NULL), 0);
    CHECK_EQ(kq_wait(kq, &ev, 1, 150), 0);
    CHECK_ERRNO(kq_change(kq, 1, EVFILT_TIMER, EV_DELETE, 0, 0, NULL), ENOENT);
    close(kq);
}

static void test_timer_delete_drops_pending_expiry(void) {
    int kq = kqueue();
    CHECK_EQ(kq_change(kq, 1, EVFILT_TIMER, EV_ADD, 0, 10, NULL), 0);
    ms_sleep(50);
    CHECK_EQ(kq_change(kq, 1, EVFILT_TIMER, EV_DELETE, 0, 0, NULL), 0);
    struct kevent ev;
    CHECK_EQ(kq_wait(kq, &ev, 1, 50), 0);
    close(kq);
}

static void test_timer_negative_data_einval(void) {
    int kq = kqueue();
    CHECK_ERRNO(kq_change(kq, 1, EVFILT_TIMER, EV_ADD, 0, -1, NULL), EINVAL);
    CHECK_ERRNO(kq_change(kq, 2, EVFILT_TIMER, EV_ADD, NOTE_SECONDS, -100, NULL), EINVAL);
    close(kq);
}

static void test_timer_dispatch(void) {
    int kq = kqueue();
    CHECK_EQ(kq_change(kq, 1, EVFILT_TIMER, EV_ADD | EV_DISPATCH, 0, 20, NULL), 0);
    struct kevent ev;
    CHECK_EQ(kq_wait(kq, &ev, 1, 5000), 1);
    CHECK_EQ(ev.flags, EV_ADD | EV_CLEAR | EV_DISPATCH);
    CHECK_EQ(kq_wait(kq, &ev, 1, 150), 0);
    CHECK_EQ(kq_change(kq, 1, EVFILT_TIMER, EV_ENABLE, 0, 0, NULL), 0);
    CHECK_EQ(kq_wait(kq, &ev, 1, 5000), 1);
    CHECK_EQ(ev.ident, 1);
    CHECK(ev.data >= 1);
    close(kq);
}

static void test_timer_disable_then_enable(void) {
    int kq = kqueue();
    CHECK_EQ(kq_change(kq, 1, EVFILT_TIMER, EV_ADD | EV_DISABLE, 0, 20, NULL), 0);
    struct kevent ev;
    CHECK_EQ(kq_wait(kq, &ev, 1, 100), 0);
    CHECK_EQ(kq_change(kq, 1, EVFILT_TIMER, EV_ENABLE, 0, 0, NULL), 0);
    CHECK_EQ(kq_wait(kq, &ev, 1, 5000), 1);
    CHECK_EQ(ev.flags, EV_ADD | EV_CLEAR);
    CHECK_EQ(kq_change(kq, 1, EVFILT_TIMER, EV_DISABLE, 0, 0, NULL), 0);
    CHECK_EQ(kq_wait(kq, &ev, 1, 100), 0);
    close(kq);
}

static void test_timers_in_several_kqueues_independent(void) {
    int a = kqueue(), b = kqueue();
    CHECK_EQ(kq_change(a, 1, EVFILT_TIMER, EV_ADD | EV_ONESHOT, 0, 20, NULL), 0);
    CHECK_EQ(kq_change(b, 1, EVFILT_TIMER, EV_ADD | EV_ONESHOT, 0, 60000, NULL), 0);
    struct kevent ev;
    CHECK_EQ(kq_wait(a, &ev, 1, 5000), 1);
    CHECK_EQ(kq_poll(b, &ev, 1), 0);
    close(a);
    close(b);
}

static void test_100k_timers_use_constant_descriptors(void) {
    enum { N = 100000, BATCH = 1000 };
    int before = harness_fd_count();
    CHECK(before > 0);
    int kq = kqueue();
    CHECK(kq >= 0);
    static struct kevent ch[BATCH];
    for (int base = 0; base < N; base += BATCH) {
        for (int i = 0; i < BATCH; i++)
            EV_SET(&ch[i], (uintptr_t)(base + i), EVFILT_TIMER, EV_ADD | EV_ONESHOT, 0,
                   50 + (base + i) % 200, (void *)(intptr_t)(base + i));
        CHECK_EQ(kevent(kq, ch, BATCH, NULL, 0, NULL), 0);
    }
    int after = harness_fd_count();
    CHECK(after - before <= 4);
    /* All of them fire, each once. */
    static unsigned char seen[N];
    memset(seen, 0, sizeof seen);
    static struct kevent ev[4096];
    int total = 0;
    uint64_t t0 = harness_now_ns();
    while (total < N && ms_since(t0) < 30000) {
        int n = kq_wait(kq, ev, 4096, 500);
        CHECK(n >= 0);
        for (int i = 0; i < n; i++) {
            CHECK(ev[i].ident < N);
            CHECK_EQ((intptr_t)ev[i].udata, (intptr_t)ev[i].ident);
            CHECK_EQ(seen[ev[i].ident], 0);
            seen[ev[i].ident] = 1;
            total++;
        }
    }
    CHECK_EQ(total, N);
    CHECK(harness_fd_count() - before <= 4);
    close(kq);
    /* Once reclaimed, the kqueue's descriptors are all gone. */
    libkqueue_drain_pending_close();
    CHECK_EQ(harness_fd_count(), before);
}

static void test_100k_periodic_timers_deleted(void) {
    enum { N = 100000, BATCH = 1000 };
    int before = harness_fd_count();
    int kq = kqueue();
    static struct kevent ch[BATCH];
    for (int base = 0; base < N; base += BATCH) {
        for (int i = 0; i < BATCH; i++)
            EV_SET(&ch[i], (uintptr_t)(base + i), EVFILT_TIMER, EV_ADD, 0, 1000 + (base + i) % 1000, NULL);
        CHECK_EQ(kevent(kq, ch, BATCH, NULL, 0, NULL), 0);
    }
    CHECK(harness_fd_count() - before <= 4);
    for (int base = 0; base < N; base += BATCH) {
        for (int i = 0; i < BATCH; i++)
            EV_SET(&ch[i], (uintptr_t)(base + i), EVFILT_TIMER, EV_DELETE, 0, 0, NULL);
        CHECK_EQ(kevent(kq, ch, BATCH, NULL, 0, NULL), 0);
    }
    struct kevent ev;
    CHECK_EQ(kq_wait(kq, &ev, 1, 1200), 0);
    close(kq);
}

int main(void) {
    RUN_FORKED(test_timer_milliseconds_by_default, 4);
    RUN_FORKED(test_timer_seconds, 4);
    RUN_FORKED(test_timer_microseconds, 4);
    RUN_FORKED(test_timer_nanoseconds, 4);
    RUN_FORKED(test_timer_returned_flags_force_clear, 4);
    RUN_FORKED(test_timer_oneshot_fires_once, 4);
    RUN_FORKED(test_timer_periodic_fires_repeatedly, 4);
    RUN_FORKED(test_timer_data_counts_expirations, 4);
    RUN_FORKED(test_timer_absolute_fires_at_deadline, 4);
    RUN_FORKED(test_timer_absolute_past_fires_at_once, 4);
    RUN_FORKED(test_timer_absolute_seconds_past, 4);
    RUN_FORKED(test_timer_zero_oneshot_fires_immediately, 4);
    RUN_FORKED(test_timer_readd_changes_period, 4);
    RUN_FORKED(test_timer_modify_without_add_changes_period, 4);
    RUN_FORKED(test_timer_delete_stops_it, 4);
    RUN_FORKED(test_timer_delete_drops_pending_expiry, 4);
    RUN_FORKED(test_timer_negative_data_einval, 4);
    RUN_FORKED(test_timer_dispatch, 4);
    RUN_FORKED(test_timer_disable_then_enable, 4);
    RUN_FORKED(test_timers_in_several_kqueues_independent, 4);
    RUN_FORKED(test_100k_timers_use_constant_descriptors, 40);
    RUN_FORKED(test_100k_periodic_timers_deleted, 15);
    return harness_finish();
}
