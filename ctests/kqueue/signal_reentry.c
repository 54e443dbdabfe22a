/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * signal_reentry.c: kevent() called from a signal handler on the kqueue
 * the interrupted thread is using. On BSD kevent() is a system call, so a
 * handler may trigger an EVFILT_USER event to wake the event loop; here the
 * kqueue's state is behind a lock, and a handler that interrupts its own
 * thread inside that lock must neither wait for it (a hang) nor lose the
 * change: the change is applied before the interrupted call returns.
 *
 * A fast interval timer (SIGALRM every 50 µs) interrupts a thread that
 * spends most of its time inside kevent() on the kqueue. Without the
 * deferral the first signal that lands inside the lock hangs the process;
 * a watchdog thread fails the test instead of letting ctest time out.
 */
#define _GNU_SOURCE
#include "kq_test.h"

#include <signal.h>
#include <sys/time.h>

static int the_kq = -1;
static atomic_int handler_calls;
static atomic_int handler_failures;
static atomic_int progress;

static void trigger_handler(int sig) {
    (void)sig;
    int saved = errno;
    struct kevent ch[2];
    /* Two changes in one call, applied in order: re-add with new fflags, then trigger. */
    EV_SET(&ch[0], 1, EVFILT_USER, EV_ADD | EV_CLEAR, NOTE_FFCOPY | 7, 0, NULL);
    EV_SET(&ch[1], 1, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL);
    if (kevent(the_kq, ch, 2, NULL, 0, NULL) != 0) atomic_fetch_add(&handler_failures, 1);
    atomic_fetch_add(&handler_calls, 1);
    errno = saved;
}

static void *watchdog(void *arg) {
    (void)arg;
    int last = -1;
    for (;;) {
        ms_sleep(3000);
        int now = atomic_load(&progress);
        if (now == last) {
            fprintf(stderr, "signal_reentry: no progress for 3 s: kevent() in a signal handler hung\n");
            _exit(1);
        }
        last = now;
    }
    return NULL;
}

static void start_timer(long usec) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = trigger_handler;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {{0, usec}, {0, usec}};
    setitimer(ITIMER_REAL, &it, NULL);
}

static void stop_timer(void) {
    struct itimerval it = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &it, NULL);
    signal(SIGALRM, SIG_IGN);
}

/* Polls with a changelist (EV_ADD/EV_DELETE of a pipe) so that most of the
 * time is spent inside the kqueue's lock, while the handler triggers. */
static void test_handler_triggers_user_event_while_thread_polls(void) {
    the_kq = kqueue();
    CHECK(the_kq >= 0);
    CHECK_EQ(kq_change(the_kq, 1, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, NULL), 0);
    int p[2];
    CHECK(pipe(p) == 0);
    atomic_store(&handler_calls, 0);
    atomic_store(&handler_failures, 0);
    start_timer(50);
    struct timespec zero = {0, 0};
    long seen = 0;
    uint64_t end = harness_now_ns() + 400000000ull;
    while (harness_now_ns() < end) {
        struct kevent ch[2], out[4];
        EV_SET(&ch[0], p[0], EVFILT_READ, EV_ADD, 0, 0, NULL);
        EV_SET(&ch[1], p[0], EVFILT_READ, EV_DELETE, 0, 0, NULL);
        int n = kevent(the_kq, ch, 2, out, 4, &zero);
        if (n < 0) CHECK_EQ(errno, EINTR);
        for (int i = 0; i < n; i++) {
            CHECK_EQ(out[i].filter, EVFILT_USER);
            CHECK_EQ(out[i].ident, 1);
            CHECK_EQ(out[i].fflags, 7);
            seen++;
        }
        atomic_fetch_add(&progress, 1);
    }
    stop_timer();
    int calls = atomic_load(&handler_calls);
    fprintf(stderr, "  %d handler calls, %ld user events seen\n", calls, seen);
    CHECK(calls > 100);
    CHECK_EQ(atomic_load(&handler_failures), 0);
    CHECK(seen > 0);
    /* Every trigger was applied: the last one is still pending or was seen. */
    struct kevent ev;
    CHECK_EQ(kq_change(the_kq, 1, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL), 0);
    CHECK_EQ(kq_poll(the_kq, &ev, 1), 1);
    CHECK_EQ(ev.filter, EVFILT_USER);
    close(p[0]);
    close(p[1]);
    close(the_kq);
}

/* The thread blocks in kevent() for the user event, over and over: the
 * handler lands in the wait (no lock held) or in its locked steps, and
 * every wait is ended by a trigger, never by its long timeout. */
static void test_handler_wakes_thread_blocked_in_kevent(void) {
    the_kq = kqueue();
    CHECK(the_kq >= 0);
    CHECK_EQ(kq_change(the_kq, 1, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, NULL), 0);
    atomic_store(&handler_calls, 0);
    atomic_store(&handler_failures, 0);
    start_timer(50);
    int woken = 0;
    while (woken < 2000) {
        struct kevent ev;
        uint64_t t0 = harness_now_ns();
        int n = kq_wait(the_kq, &ev, 1, 2000);
        if (n < 0) {
            CHECK_EQ(errno, EINTR);
            continue;
        }
        CHECK_EQ(n, 1);
        CHECK(harness_now_ns() - t0 < 1000000000ull);
        CHECK_EQ(ev.filter, EVFILT_USER);
        woken++;
        atomic_fetch_add(&progress, 1);
    }
    stop_timer();
    CHECK_EQ(atomic_load(&handler_failures), 0);
    close(the_kq);
}

int main(void) {
    /* The watchdog blocks SIGALRM (it inherits the mask), so every timer
     * signal interrupts the thread that uses the kqueue. */
    sigset_t alrm, old;
    sigemptyset(&alrm);
    sigaddset(&alrm, SIGALRM);
    pthread_sigmask(SIG_BLOCK, &alrm, &old);
    pthread_t t;
    pthread_create(&t, NULL, watchdog, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    RUN(test_handler_triggers_user_event_while_thread_polls);
    RUN(test_handler_wakes_thread_blocked_in_kevent);
    return harness_finish();
}
