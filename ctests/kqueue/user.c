/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * user.c: EVFILT_USER: NOTE_TRIGGER, the NOTE_FF* fflags arithmetic, EV_CLEAR,
 * EV_ONESHOT, EV_DISPATCH, disable/enable, and wake-ups across threads.
 */
#define _GNU_SOURCE
#include "kq_test.h"

static int tag;

/* Adds user event `id` (EV_CLEAR unless extra says otherwise). */
static int add_user(int kq, uintptr_t id, unsigned short flags, unsigned int fflags) {
    return kq_change(kq, id, EVFILT_USER, EV_ADD | flags, fflags, 0, &tag);
}

static int trigger(int kq, uintptr_t id, unsigned int fflags) {
    return kq_change(kq, id, EVFILT_USER, 0, NOTE_TRIGGER | fflags, 0, &tag);
}

static void test_user_no_event_until_triggered(void) {
    int kq = kqueue();
    CHECK_EQ(add_user(kq, 1, EV_CLEAR, 0), 0);
    struct kevent ev;
    CHECK_EQ(kq_wait(kq, &ev, 1, 20), 0);
    CHECK_EQ(trigger(kq, 1, 0), 0);
    CHECK_EQ(kq_poll(kq, &ev, 1), 1);
    CHECK_EQ(ev.ident, 1);
    CHECK_EQ(ev.filter, EVFILT_USER);
    CHECK_EQ(ev.flags, EV_ADD | EV_CLEAR);
    CHECK_EQ(ev.fflags, 0);
    CHECK(ev.udata == &tag);
    close(kq);
}

static void test_user_add_and_delete_no_events(void) {
    int kq = kqueue();
    CHECK_EQ(add_user(kq, 1, 0, 0), 0);
    CHECK_EQ(kq_pending(kq), 0);
    CHECK_EQ(kq_change(kq, 1, EVFILT_USER, EV_DELETE, 0, 0, NULL), 0);
    CHECK_EQ(kq_pending(kq), 0);
    CHECK_ERRNO(trigger(kq, 1, 0), ENOENT);
    close(kq);
}

static void test_user_trigger_in_add(void) {
    int kq = kqueue();
    CHECK_EQ(add_user(kq, 1, EV_CLEAR, NOTE_TRIGGER), 0);
    struct kevent ev;
    CHECK_EQ(kq_poll(kq, &ev, 1), 1);
    CHECK_EQ(ev.ident, 1);
    CHECK_EQ(ev.fflags & NOTE_TRIGGER, 0);
    close(kq);
}

static void test_user_clear_resets_after_retrieval(void) {
    int kq = kqueue();
    CHECK_EQ(add_user(kq, 1, EV_CLEAR, 0), 0);
    CHECK_EQ(trigger(kq, 1, 0), 0);
    struct kevent ev;
    CHECK_EQ(kq_poll(kq, &ev, 1), 1);
    CHECK_EQ(kq_poll(kq, &ev, 1), 0);
    CHECK_EQ(trigger(kq, 1, 0), 0);
    CHECK_EQ(kq_poll(kq, &ev, 1), 1);
    CHECK_EQ(kq_poll(kq, &ev, 1), 0);
    close(kq);
}

static void test_user_without_clear_stays_triggered(void) {
    int kq = kqueue();
    CHECK_EQ(add_user(kq, 1, 0, 0), 0);
    CHECK_EQ(trigger(kq, 1, 0), 0);
    struct kevent ev[4];
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(kq_poll(kq, ev, 4), 1);
        CHECK_EQ(ev[0].flags, EV_ADD);
    }
    /* EV_CLEAR in a modification resets the trigger. */
    CHECK_EQ(kq_change(kq, 1, EVFILT_USER, EV_CLEAR, 0, 0, &tag), 0);
    CHECK_EQ(kq_poll(kq, ev, 4), 0);
    close(kq);
}

static void test_user_triggers_merge_into_one_event(void) {
    int kq = kqueue();
    CHECK_EQ(add_user(kq, 1, EV_CLEAR, 0), 0);
    for (int i = 0; i < 5; i++) CHECK_EQ(trigger(kq, 1, 0), 0);
    struct kevent ev[4];
    CHECK_EQ(kq_poll(kq, ev, 4), 1);
    CHECK_EQ(kq_poll(kq, ev, 4), 0);
    close(kq);
}

/* Sets fflags through two changes and returns the delivered fflags (or -1). */
static long fflags_after(unsigned int first, unsigned int second) {
    int kq = kqueue();
    if (add_user(kq, 1, EV_CLEAR, 0) != 0) return -1;
    if (kq_change(kq, 1, EVFILT_USER, 0, first, 0, &tag) != 0) return -1;
    if (kq_change(kq, 1, EVFILT_USER, 0, second | NOTE_TRIGGER, 0, &tag) != 0) return -1;
    struct kevent ev;
    long r = kq_poll(kq, &ev, 1) == 1 ? (long)ev.fflags : -1;
    close(kq);
    return r;
}

static void test_user_ffcopy_replaces(void) {
    CHECK_EQ(fflags_after(NOTE_FFCOPY | 0xAA, NOTE_FFCOPY | 0xBB), 0xBB);
}

static void test_user_ffand(void) {
    CHECK_EQ(fflags_after(NOTE_FFCOPY | 0x0F, NOTE_FFAND | 0x0C), 0x0C);
    CHECK_EQ(fflags_after(NOTE_FFCOPY | 0x0F, NOTE_FFAND | 0x30), 0x00);
}

static void test_user_ffor(void) {
    CHECK_EQ(fflags_after(NOTE_FFCOPY | 0x01, NOTE_FFOR | 0x06), 0x07);
}

static void test_user_ffnop_keeps(void) {
    CHECK_EQ(fflags_after(NOTE_FFCOPY | 0x5A, NOTE_FFNOP | 0xFF), 0x5A);
}

static void test_user_ffcopy_masks_to_user_bits(void) {
    CHECK_EQ(fflags_after(NOTE_FFNOP, NOTE_FFCOPY | 0x01ffffff), 0x00ffffff);
    CHECK_EQ(fflags_after(NOTE_FFCOPY | NOTE_FFLAGSMASK, NOTE_FFNOP), NOTE_FFLAGSMASK);
}

static void test_user_returned_fflags_have_no_control_bits(void) {
    int kq = kqueue();
    CHECK_EQ(add_user(kq, 1, EV_CLEAR, 0), 0);
    CHECK_EQ(kq_change(kq, 1, EVFILT_USER, 0, NOTE_TRIGGER | NOTE_FFOR | 0x100, 0, &tag), 0);
    struct kevent ev;
    CHECK_EQ(kq_poll(kq, &ev, 1), 1);
    CHECK_EQ(ev.fflags, 0x100);
    CHECK_EQ(ev.fflags & (NOTE_FFCTRLMASK | NOTE_TRIGGER), 0);
    close(kq);
}

static void test_user_fflags_in_add(void) {
    int kq = kqueue();
    CHECK_EQ(add_user(kq, 1, EV_CLEAR, NOTE_FFCOPY | 0x33), 0);
    CHECK_EQ(trigger(kq, 1, 0), 0);
    struct kevent ev;
    CHECK_EQ(kq_poll(kq, &ev, 1), 1);
    CHECK_EQ(ev.fflags, 0x33);
    close(kq);
}

static void test_user_data_passed_through(void) {
    int kq = kqueue();
    CHECK_EQ(add_user(kq, 1, EV_CLEAR, 0), 0);
    CHECK_EQ(kq_change(kq, 1, EVFILT_USER, 0, NOTE_TRIGGER, 1234, &tag), 0);
    struct kevent ev;
    CHECK_EQ(kq_poll(kq, &ev, 1), 1);
    CHECK_EQ(ev.data, 1234);
    close(kq);
}

static void test_user_oneshot(void) {
    int kq = kqueue();
    CHECK_EQ(add_user(kq, 2, EV_ONESHOT, 0), 0);
    CHECK_EQ(trigger(kq, 2, 0), 0);
    struct kevent ev;
    CHECK_EQ(kq_poll(kq, &ev, 1), 1);
    CHECK_EQ(ev.flags, EV_ADD | EV_ONESHOT);
    CHECK_EQ(kq_poll(kq, &ev, 1), 0);
    CHECK_ERRNO(kq_change(kq, 2, EVFILT_USER, EV_DELETE, 0, 0, NULL), ENOENT);
    close(kq);
}

static void test_user_dispatch(void) {
    int kq = kqueue();
    CHECK_EQ(add_user(kq, 1, EV_CLEAR | EV_DISPATCH, 0), 0);
    CHECK_EQ(trigger(kq, 1, 0), 0);
    struct kevent ev;
    CHECK_EQ(kq_poll(kq, &ev, 1), 1);
    CHECK_EQ(ev.flags, EV_ADD | EV_CLEAR | EV_DISPATCH);
    /* Disabled automatically: a new trigger is held. */
    CHECK_EQ(trigger(kq, 1, 0), 0);
    CHECK_EQ(kq_poll(kq, &ev, 1), 0);
    /* ... and delivered once re-enabled. */
    CHECK_EQ(kq_change(kq, 1, EVFILT_USER, EV_ENABLE, 0, 0, NULL), 0);
    CHECK_EQ(kq_poll(kq, &ev, 1), 1);
    CHECK_EQ(kq_poll(kq, &ev, 1), 0);
    CHECK_EQ(kq_change(kq, 1, EVFILT_USER, EV_DELETE, 0, 0, NULL), 0);
    close(kq);
}

static void test_user_trigger_while_disabled_delivered_on_enable(void) {
    int kq = kqueue();
    CHECK_EQ(add_user(kq, 1, EV_CLEAR, 0), 0);
    CHECK_EQ(kq_change(kq, 1, EVFILT_USER, EV_DISABLE, 0, 0, NULL), 0);
    CHECK_EQ(trigger(kq, 1, 0), 0);
    struct kevent ev;
    CHECK_EQ(kq_poll(kq, &ev, 1), 0);
    CHECK_EQ(kq_change(kq, 1, EVFILT_USER, EV_ENABLE, 0, 0, NULL), 0);
    CHECK_EQ(kq_poll(kq, &ev, 1), 1);
    CHECK_EQ(ev.ident, 1);
    CHECK_EQ(ev.flags, EV_ADD | EV_CLEAR);
    close(kq);
}

static void test_user_enable_and_trigger_in_one_change(void) {
    int kq = kqueue();
    CHECK_EQ(add_user(kq, 1, EV_CLEAR | EV_DISABLE, 0), 0);
    CHECK_EQ(kq_change(kq, 1, EVFILT_USER, EV_ENABLE, NOTE_TRIGGER, 0, NULL), 0);
    struct kevent ev;
    CHECK_EQ(kq_poll(kq, &ev, 1), 1);
    CHECK_EQ(ev.ident, 1);
    CHECK(ev.udata == &tag);
    close(kq);
}

static void test_user_many_idents(void) {
    enum { N = 1000 };
    int kq = kqueue();
    for (int i = 0; i < N; i++) CHECK_EQ(add_user(kq, (uintptr_t)i, EV_CLEAR, 0), 0);
    for (int i = 0; i < N; i += 2) CHECK_EQ(trigger(kq, (uintptr_t)i, 0), 0);
    static struct kevent ev[N];
    static char seen[N];
    memset(seen, 0, sizeof seen);
    int n = kq_poll(kq, ev, N);
    CHECK_EQ(n, N / 2);
    for (int i = 0; i < n; i++) {
        CHECK(ev[i].ident < N);
        CHECK_EQ(ev[i].ident % 2, 0);
        CHECK_EQ(seen[ev[i].ident], 0);
        seen[ev[i].ident] = 1;
    }
    close(kq);
}

struct waiter {
    int kq;
    atomic_int done;
    int result;
    struct kevent ev;
};

static void *wait_forever(void *p) {
    struct waiter *w = p;
    w->result = kevent(w->kq, NULL, 0, &w->ev, 1, NULL);
    atomic_store(&w->done, 1);
    return NULL;
}

static void test_user_trigger_from_thread_wakes_blocked_waiter(void) {
    int kq = kqueue();
    CHECK_EQ(add_user(kq, 7, EV_CLEAR, 0), 0);
    struct waiter w = {kq, 0, 0, {0}};
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, wait_forever, &w), 0);
    ms_sleep(100); /* let it block */
    CHECK_EQ(atomic_load(&w.done), 0);
    CHECK_EQ(trigger(kq, 7, NOTE_FFCOPY | 0x42), 0);
    for (int i = 0; i < 500 && !atomic_load(&w.done); i++) ms_sleep(10);
    CHECK_EQ(atomic_load(&w.done), 1);
    pthread_join(t, NULL);
    CHECK_EQ(w.result, 1);
    CHECK_EQ(w.ev.ident, 7);
    CHECK_EQ(w.ev.fflags, 0x42);
    close(kq);
}

int main(void) {
    RUN(test_user_no_event_until_triggered);
    RUN(test_user_add_and_delete_no_events);
    RUN(test_user_trigger_in_add);
    RUN(test_user_clear_resets_after_retrieval);
    RUN(test_user_without_clear_stays_triggered);
    RUN(test_user_triggers_merge_into_one_event);
    RUN(test_user_ffcopy_replaces);
    RUN(test_user_ffand);
    RUN(test_user_ffor);
    RUN(test_user_ffnop_keeps);
    RUN(test_user_ffcopy_masks_to_user_bits);
    RUN(test_user_returned_fflags_have_no_control_bits);
    RUN(test_user_fflags_in_add);
    RUN(test_user_data_passed_through);
    RUN(test_user_oneshot);
    RUN(test_user_dispatch);
    RUN(test_user_trigger_while_disabled_delivered_on_enable);
    RUN(test_user_enable_and_trigger_in_one_change);
    RUN(test_user_many_idents);
    RUN(test_user_trigger_from_thread_wakes_blocked_waiter);
    return harness_finish();
}
