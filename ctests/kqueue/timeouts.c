/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * timeouts.c: kevent()'s timeout: NULL blocks, {0,0} polls, relative waits,
 * invalid timespecs, and interruption by signals (EINTR). Wall-clock bounds
 * are generous: only "did not return before the timeout" and "returned long
 * before a much larger bound" are asserted.
 */
#define _GNU_SOURCE
#include "kq_test.h"

#include <limits.h>
#include <signal.h>
#include <sys/time.h>

static void test_zero_timeout_polls_without_waiting(void) {
    int kq = kqueue();
    struct kevent ev;
    uint64_t t0 = harness_now_ns();
    for (int i = 0; i < 100; i++) CHECK_EQ(kq_poll(kq, &ev, 1), 0);
    CHECK(ms_since(t0) < 1000);
    close(kq);
}

static void test_relative_timeout_waits_then_returns_zero(void) {
    int kq = kqueue();
    struct kevent ev;
    struct timespec ts = {0, 150 * 1000000L};
    uint64_t t0 = harness_now_ns();
    CHECK_EQ(kevent(kq, NULL, 0, &ev, 1, &ts), 0);
    int64_t ms = ms_since(t0);
    CHECK(ms >= 140);
    CHECK(ms < 5000);
    close(kq);
}

static void test_timeout_with_seconds_field(void) {
    int kq = kqueue();
    struct kevent ev;
    struct timespec ts = {1, 0};
    uint64_t t0 = harness_now_ns();
    CHECK_EQ(kevent(kq, NULL, 0, &ev, 1, &ts), 0);
    int64_t ms = ms_since(t0);
    CHECK(ms >= 990);
    CHECK(ms < 6000);
    close(kq);
}

static void test_sub_millisecond_timeout_returns(void) {
    int kq = kqueue();
    struct kevent ev;
    struct timespec ts = {0, 500000};
    uint64_t t0 = harness_now_ns();
    CHECK_EQ(kevent(kq, NULL, 0, &ev, 1, &ts), 0);
    CHECK(harness_now_ns() - t0 >= 500000u);
    CHECK(ms_since(t0) < 2000);
    close(kq);
}

static void test_huge_timeout_accepted(void) {
    int kq = kqueue();
    CHECK_EQ(kq_change(kq, 1, EVFILT_USER, EV_ADD | EV_CLEAR, NOTE_TRIGGER, 0, NULL), 0);
    struct kevent ev;
    struct timespec ts = {LONG_MAX, 999999999};
    CHECK_EQ(kevent(kq, NULL, 0, &ev, 1, &ts), 1);
    CHECK_EQ(ev.ident, 1);
    close(kq);
}

static void test_invalid_timespec_einval(void) {
    int kq = kqueue();
    struct kevent ev;
    struct timespec neg_sec = {-1, 0}, neg_nsec = {0, -1}, big_nsec = {0, 1000000000L};
    CHECK_ERRNO(kevent(kq, NULL, 0, &ev, 1, &neg_sec), EINVAL);
    CHECK_ERRNO(kevent(kq, NULL, 0, &ev, 1, &neg_nsec), EINVAL);
    CHECK_ERRNO(kevent(kq, NULL, 0, &ev, 1, &big_nsec), EINVAL);
    close(kq);
}

static void test_nevents_zero_does_not_wait(void) {
    int kq = kqueue();
    struct timespec ts = {5, 0};
    uint64_t t0 = harness_now_ns();
    CHECK_EQ(kevent(kq, NULL, 0, NULL, 0, &ts), 0);
    CHECK(ms_since(t0) < 2000);
    close(kq);
}

struct trigger_arg {
    int kq;
    long delay_ms;
};

static void *trigger_later(void *p) {
    struct trigger_arg *a = p;
    ms_sleep(a->delay_ms);
    kq_change(a->kq, 1, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL);
    return NULL;
}

static void test_null_timeout_blocks_until_event(void) {
    int kq = kqueue();
    CHECK_EQ(kq_change(kq, 1, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, NULL), 0);
    struct trigger_arg a = {kq, 100};
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, trigger_later, &a), 0);
    struct kevent ev;
    uint64_t t0 = harness_now_ns();
    int n = kevent(kq, NULL, 0, &ev, 1, NULL);
    int64_t ms = ms_since(t0);
    pthread_join(t, NULL);
    CHECK_EQ(n, 1);
    CHECK_EQ(ev.ident, 1);
    CHECK(ms >= 50); /* it did block */
    close(kq);
}

static void test_long_timeout_returns_early_on_event(void) {
    int kq = kqueue();
    CHECK_EQ(kq_change(kq, 1, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, NULL), 0);
    struct trigger_arg a = {kq, 50};
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, trigger_later, &a), 0);
    struct kevent ev;
    struct timespec ts = {30, 0};
    uint64_t t0 = harness_now_ns();
    int n = kevent(kq, NULL, 0, &ev, 1, &ts);
    int64_t ms = ms_since(t0);
    pthread_join(t, NULL);
    CHECK_EQ(n, 1);
    CHECK(ms < 10000);
    close(kq);
}

/* A wait that may block fills the whole list, past one epoll batch, with
 * NULL, long (watched) and short timeouts, as BSD's scan does. */
static void test_blocking_wait_fills_list_past_one_batch(void) {
    enum { N = 150 };
    int kq = kqueue(), fds[N][2];
    for (int i = 0; i < N; i++) {
        CHECK_EQ(pipe(fds[i]), 0);
        CHECK_EQ(kq_change(kq, (uintptr_t)fds[i][0], EVFILT_READ, EV_ADD, 0, 0, NULL), 0);
        CHECK_EQ(write(fds[i][1], "x", 1), 1);
    }
    struct timespec longer = {5, 0}, shorter = {0, 100 * 1000000L};
    const struct timespec *timeouts[3] = {NULL, &longer, &shorter};
    for (int t = 0; t < 3; t++) {
        struct kevent ev[N + 10];
        int n = kevent(kq, NULL, 0, ev, N + 10, timeouts[t]);
        CHECK_EQ(n, N);
        unsigned char seen[N] = {0};
        for (int i = 0; i < n && i < N; i++) {
            int which = -1;
            for (int j = 0; j < N; j++)
                if ((int)ev[i].ident == fds[j][0]) which = j;
            CHECK(which >= 0);
            if (which >= 0) {
                CHECK_EQ(seen[which], 0);
                seen[which] = 1;
            }
            CHECK_EQ(ev[i].data, 1);
        }
    }
    for (int i = 0; i < N; i++) {
        close(fds[i][0]);
        close(fds[i][1]);
    }
    close(kq);
}

/* An event already queued in userspace (EVFILT_USER triggered before the
 * call) ends a wait that may block at once, with and without a timeout,
 * and together with a ready descriptor. */
static void test_blocking_wait_returns_queued_event(void) {
    int kq = kqueue(), p[2];
    CHECK_EQ(pipe(p), 0);
    CHECK_EQ(kq_change(kq, 7, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, NULL), 0);
    /* The short timeout stays below the watchdog's interval (250 ms): such
     * a wait is not watched, and takes another path than the long one. */
    struct timespec longer = {30, 0}, shorter = {0, 240 * 1000000L};
    const struct timespec *timeouts[3] = {NULL, &longer, &shorter};
    for (int t = 0; t < 3; t++) {
        CHECK_EQ(kq_change(kq, 7, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL), 0);
        struct kevent ev[4];
        uint64_t t0 = harness_now_ns();
        int n = kevent(kq, NULL, 0, ev, 4, timeouts[t]);
        CHECK_EQ(n, 1);
        CHECK_EQ(ev[0].ident, 7);
        CHECK_EQ(ev[0].filter, EVFILT_USER);
        /* Returned without waiting out its timeout. */
        CHECK(ms_since(t0) < (t == 2 ? 200 : 10000));
        /* EV_CLEAR: collected once; with a readable pipe both come. */
        CHECK_EQ(kq_poll(kq, ev, 4), 0);
        CHECK_EQ(kq_change(kq, (uintptr_t)p[0], EVFILT_READ, EV_ADD | EV_ONESHOT, 0, 0, NULL), 0);
        CHECK_EQ(write(p[1], "ab", 2), 2);
        CHECK_EQ(kq_change(kq, 7, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL), 0);
        n = kevent(kq, NULL, 0, ev, 4, timeouts[t]);
        CHECK_EQ(n, 2);
        char buf[2];
        CHECK_EQ(read(p[0], buf, 2), 2);
    }
    close(p[0]);
    close(p[1]);
    close(kq);
}

static volatile sig_atomic_t got_signal;

static void on_signal(int sig) {
    (void)sig;
    got_signal = 1;
}

static void install(int sig) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART */
    sigaction(sig, &sa, NULL);
}

struct killer_arg {
    pthread_t target;
    long delay_ms;
    int kq;            /* rescue: a user event 99 (EV_CLEAR) registered here */
    atomic_int done;   /* set by the waiter once kevent() returned */
};

/* Signals the target, then, if its kevent() has not returned within 3 s,
 * triggers the rescue event so that a library that swallows the signal makes
 * the test fail instead of hang. */
static void *signal_later(void *p) {
    struct killer_arg *a = p;
    ms_sleep(a->delay_ms);
    pthread_kill(a->target, SIGUSR1);
    for (int i = 0; i < 300 && !atomic_load(&a->done); i++) ms_sleep(10);
    if (!atomic_load(&a->done)) kq_change(a->kq, 99, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL);
    return NULL;
}

/* Knotes queued in userspace before a wait that may block end it at once:
 * an always-ready regular file left queued by a call with room for one
 * event (level-triggered, it comes back every call), and a timer that
 * expired before the call. */
static void test_blocking_wait_returns_requeued_and_expired_knotes(void) {
    int kq = kqueue();
    char path[] = "/tmp/bsdshim-timeouts-XXXXXX";
    int f = mkstemp(path);
    CHECK(f >= 0);
    unlink(path);
    CHECK_EQ(write(f, "abc", 3), 3);
    CHECK_EQ(lseek(f, 0, SEEK_SET), 0);
    CHECK_EQ(kq_change(kq, (uintptr_t)f, EVFILT_READ, EV_ADD, 0, 0, NULL), 0);
    struct timespec longer = {30, 0}, shorter = {0, 240 * 1000000L};
    const struct timespec *timeouts[3] = {NULL, &longer, &shorter};
    for (int round = 0; round < 2; round++) {
        for (int t = 0; t < 3; t++) {
            struct kevent ev[1];
            uint64_t t0 = harness_now_ns();
            CHECK_EQ(kevent(kq, NULL, 0, ev, 1, timeouts[t]), 1);
            CHECK_EQ(ev[0].ident, (uintptr_t)f);
            CHECK_EQ(ev[0].data, 3);
            CHECK(ms_since(t0) < (t == 2 ? 200 : 10000));
        }
    }
    CHECK_EQ(kq_change(kq, (uintptr_t)f, EVFILT_READ, EV_DELETE, 0, 0, NULL), 0);
    for (int t = 0; t < 3; t++) {
        CHECK_EQ(kq_change(kq, 9, EVFILT_TIMER, EV_ADD | EV_ONESHOT, 0, 1, NULL), 0);
        usleep(20 * 1000);
        struct kevent ev[2];
        uint64_t t0 = harness_now_ns();
        CHECK_EQ(kevent(kq, NULL, 0, ev, 2, timeouts[t]), 1);
        CHECK_EQ(ev[0].ident, 9);
        CHECK_EQ(ev[0].filter, EVFILT_TIMER);
        CHECK_EQ(ev[0].data, 1);
        CHECK(ms_since(t0) < (t == 2 ? 200 : 10000));
    }
    close(f);
    close(kq);
}

static void test_signal_from_thread_interrupts_null_timeout_eintr(void) {
    int kq = kqueue();
    install(SIGUSR1);
    got_signal = 0;
    CHECK_EQ(kq_change(kq, 99, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, NULL), 0);
    struct killer_arg a = {pthread_self(), 100, kq, 0};
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, signal_later, &a), 0);
    struct kevent ev;
    errno = 0;
    int n = kevent(kq, NULL, 0, &ev, 1, NULL);
    int e = errno;
    atomic_store(&a.done, 1);
    pthread_join(t, NULL);
    CHECK_EQ(got_signal, 1);
    CHECK_EQ(n, -1);
    CHECK_EQ(e, EINTR);
    signal(SIGUSR1, SIG_DFL);
    close(kq);
}

static void test_alarm_interrupts_timed_wait_eintr(void) {
    int kq = kqueue();
    install(SIGALRM);
    got_signal = 0;
    struct itimerval it = {{0, 0}, {0, 100000}};
    CHECK_EQ(setitimer(ITIMER_REAL, &it, NULL), 0);
    struct kevent ev;
    struct timespec ts = {20, 0};
    uint64_t t0 = harness_now_ns();
    errno = 0;
    int n = kevent(kq, NULL, 0, &ev, 1, &ts);
    int e = errno;
    int64_t ms = ms_since(t0);
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    signal(SIGALRM, SIG_DFL);
    CHECK_EQ(got_signal, 1);
    CHECK_EQ(n, -1);
    CHECK_EQ(e, EINTR);
    CHECK(ms < 10000);
    close(kq);
}

static void test_kqueue_usable_after_eintr(void) {
    int kq = kqueue();
    install(SIGUSR1);
    CHECK_EQ(kq_change(kq, 99, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, NULL), 0);
    struct killer_arg a = {pthread_self(), 50, kq, 0};
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, signal_later, &a), 0);
    struct kevent ev;
    int n = kevent(kq, NULL, 0, &ev, 1, NULL);
    atomic_store(&a.done, 1);
    pthread_join(t, NULL);
    CHECK_EQ(n, -1);
    signal(SIGUSR1, SIG_DFL);
    CHECK_EQ(kq_change(kq, 3, EVFILT_USER, EV_ADD | EV_CLEAR, NOTE_TRIGGER, 0, NULL), 0);
    CHECK_EQ(kq_wait(kq, &ev, 1, 2000), 1);
    CHECK_EQ(ev.ident, 3);
    close(kq);
}

int main(void) {
    RUN(test_zero_timeout_polls_without_waiting);
    RUN(test_relative_timeout_waits_then_returns_zero);
    RUN(test_timeout_with_seconds_field);
    RUN(test_sub_millisecond_timeout_returns);
    RUN(test_huge_timeout_accepted);
    RUN(test_invalid_timespec_einval);
    RUN(test_nevents_zero_does_not_wait);
    RUN(test_null_timeout_blocks_until_event);
    RUN(test_long_timeout_returns_early_on_event);
    RUN(test_blocking_wait_fills_list_past_one_batch);
    RUN(test_blocking_wait_returns_queued_event);
    RUN(test_blocking_wait_returns_requeued_and_expired_knotes);
    RUN(test_signal_from_thread_interrupts_null_timeout_eintr);
    RUN(test_alarm_interrupts_timed_wait_eintr);
    RUN(test_kqueue_usable_after_eintr);
    return harness_finish();
}
