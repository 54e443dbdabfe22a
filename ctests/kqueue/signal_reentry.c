/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * signal_reentry.c: kevent() called from a signal handler on a kqueue the
 * interrupted thread is using. On BSD kevent() is a system call, so a
 * handler may trigger an EVFILT_USER event to wake the event loop; here a
 * kqueue's state is behind a lock, and a handler that interrupts its own
 * thread inside that lock must neither wait for it (a hang) nor lose or
 * reorder its changes.
 *
 * Fast interval timers interrupt a thread that spends most of its time
 * inside kevent(). Each handler call uses an event of its own, registered
 * beforehand (EV_ONESHOT, disabled) so that the handler allocates nothing,
 * and sends two changes whose order matters: EV_DISABLE, then EV_ENABLE
 * with NOTE_TRIGGER. In that order the event fires once; reversed, or lost,
 * it never does. Every call that returned 0 must be seen exactly once, and
 * a shared event carrying each call's number must never see it go down.
 * A watchdog thread fails the test instead of letting a hang run into
 * ctest's timeout.
 */
#define _GNU_SOURCE
#include "kq_test.h"

#include <signal.h>
#include <sys/time.h>

enum { IDS = 1 << 15, BASE = 1000, ORDER = 999 };

/* One kqueue's share of the handler calls: its events, calls made, and which succeeded. */
struct target {
    int kq;
    atomic_int next;
    atomic_char ok[IDS];
    char seen[IDS];
    /* The last call number read from the ORDER event (calls in order: it only grows). */
    long last_order;
    int disorder;
};

static struct target alrm_target, prof_target;
static atomic_int progress;

static void fire(struct target *t) {
    int saved = errno;
    int id = atomic_fetch_add(&t->next, 1);
    if (id < IDS) {
        /* The ORDER event carries the call's number (+1): calls applied out
         * of order would show a number going down. */
        struct kevent ch[3];
        EV_SET(&ch[0], BASE + id, EVFILT_USER, EV_DISABLE, 0, 0, NULL);
        EV_SET(&ch[1], BASE + id, EVFILT_USER, EV_ENABLE, NOTE_TRIGGER, 0, NULL);
        EV_SET(&ch[2], ORDER, EVFILT_USER, 0, NOTE_TRIGGER | NOTE_FFCOPY | (unsigned)(id + 1), 0, NULL);
        if (kevent(t->kq, ch, 3, NULL, 0, NULL) == 0) atomic_store(&t->ok[id], 1);
    }
    errno = saved;
}
static void on_alrm(int sig) { (void)sig; fire(&alrm_target); }
static void on_prof(int sig) { (void)sig; fire(&prof_target); }

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

/* A kqueue with IDS disabled one-shot user events, and the target's counts reset. */
static int prepare(struct target *t) {
    t->kq = kqueue();
    if (t->kq < 0) return -1;
    atomic_store(&t->next, 0);
    t->last_order = 0;
    t->disorder = 0;
    if (kq_change(t->kq, ORDER, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, NULL) != 0) return -1;
    for (int i = 0; i < IDS; i++) {
        atomic_store(&t->ok[i], 0);
        t->seen[i] = 0;
        if (kq_change(t->kq, BASE + i, EVFILT_USER, EV_ADD | EV_ONESHOT | EV_DISABLE, 0, 0, NULL) != 0) return -1;
    }
    return 0;
}

static void start_timer(int which, int sig, void (*handler)(int), long usec) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);  /* the other timer's handler may interrupt this one */
    sigaction(sig, &sa, NULL);
    struct itimerval it = {{0, usec}, {0, usec}};
    setitimer(which, &it, NULL);
}

static void stop_timer(int which, int sig) {
    struct itimerval it = {{0, 0}, {0, 0}};
    setitimer(which, &it, NULL);
    signal(sig, SIG_IGN);
}

/* A second fast timer: a POSIX timer sending SIGPROF (ITIMER_PROF ticks
 * with the scheduler, far slower than asked). */
static timer_t prof_timer;
static int start_prof_timer(long usec) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_prof;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGPROF, &sa, NULL);
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = SIGPROF;
    if (timer_create(CLOCK_MONOTONIC, &sev, &prof_timer) != 0) return -1;
    struct itimerspec its = {{0, usec * 1000}, {0, usec * 1000}};
    return timer_settime(prof_timer, 0, &its, NULL);
}
static void stop_prof_timer(void) {
    timer_delete(prof_timer);
    signal(SIGPROF, SIG_IGN);
}

/* Counts the user events in `out`; returns -1 on an unexpected one. */
static int record(struct target *t, const struct kevent *out, int n) {
    for (int i = 0; i < n; i++) {
        if (out[i].filter == EVFILT_USER && out[i].ident == ORDER) {
            long k = (long)(out[i].fflags & NOTE_FFLAGSMASK);
            if (k <= t->last_order) {
                fprintf(stderr, "  call %ld applied after call %ld\n", k - 1, t->last_order - 1);
                t->disorder++;
            }
            t->last_order = k;
            continue;
        }
        if (out[i].filter != EVFILT_USER || out[i].ident < BASE || out[i].ident >= BASE + IDS) return -1;
        t->seen[out[i].ident - BASE]++;
    }
    return 0;
}

/* One poll with a changelist (EV_ADD and EV_DELETE of `fd`), so that most of
 * the call runs inside the kqueue's lock; 0, or -1 on an unexpected result. */
static int poll_with_changes(struct target *t, int fd) {
    struct timespec zero = {0, 0};
    struct kevent ch[2], out[8];
    EV_SET(&ch[0], fd, EVFILT_READ, EV_ADD, 0, 0, NULL);
    EV_SET(&ch[1], fd, EVFILT_READ, EV_DELETE, 0, 0, NULL);
    int n = kevent(t->kq, ch, 2, out, 8, &zero);
    if (n < 0) return errno == EINTR ? 0 : -1;
    return record(t, out, n);
}

/* Collects what is still pending, then checks every call: seen once if it
 * returned 0, never otherwise. Returns the number of successful calls, or -1. */
static int settle(struct target *t) {
    struct kevent out[64];
    int n;
    while ((n = kq_poll(t->kq, out, 64)) > 0)
        if (record(t, out, n) != 0) return -1;
    if (t->disorder) return -1;
    int calls = atomic_load(&t->next), ok = 0;
    if (calls > IDS) calls = IDS;
    for (int i = 0; i < IDS; i++) {
        int want = i < calls && atomic_load(&t->ok[i]);
        if (t->seen[i] != want) {
            fprintf(stderr, "  event %d: seen %d times, handler's call %s\n", BASE + i, t->seen[i],
                    i >= calls ? "never made" : want ? "succeeded" : "failed");
            return -1;
        }
        ok += want;
    }
    fprintf(stderr, "  kqueue %d: %d handler calls, %d succeeded, each seen once\n", t->kq, calls, ok);
    return ok;
}

/* The thread polls with a changelist (EV_ADD/EV_DELETE of a pipe), so most
 * of its time is inside the kqueue's lock, while the handler triggers. */
static void test_handler_changes_kqueue_its_thread_is_polling(void) {
    CHECK(prepare(&alrm_target) == 0);
    int p[2];
    CHECK(pipe(p) == 0);
    start_timer(ITIMER_REAL, SIGALRM, on_alrm, 50);
    while (atomic_load(&alrm_target.next) < 4000) {
        CHECK(poll_with_changes(&alrm_target, p[0]) == 0);
        atomic_fetch_add(&progress, 1);
    }
    stop_timer(ITIMER_REAL, SIGALRM);
    CHECK(settle(&alrm_target) > 1000);
    close(p[0]);
    close(p[1]);
    close(alrm_target.kq);
}

/* The thread blocks in kevent() for the events: the handler lands in the
 * wait (no lock held) or in its locked steps; every wait ends with events. */
static void test_handler_wakes_thread_blocked_in_kevent(void) {
    CHECK(prepare(&alrm_target) == 0);
    start_timer(ITIMER_REAL, SIGALRM, on_alrm, 50);
    while (atomic_load(&alrm_target.next) < 4000) {
        struct kevent out[8];
        int n = kq_wait(alrm_target.kq, out, 8, 5000);
        if (n < 0) {
            CHECK_EQ(errno, EINTR);
            continue;
        }
        CHECK(n > 0);
        CHECK(record(&alrm_target, out, n) == 0);
        atomic_fetch_add(&progress, 1);
    }
    stop_timer(ITIMER_REAL, SIGALRM);
    CHECK(settle(&alrm_target) > 1000);
    close(alrm_target.kq);
}

/* Two kqueues, two timers whose handlers interrupt each other: a handler
 * may hold one kqueue's lock when the other signal comes for the kqueue
 * the thread was polling. */
static void test_nested_handlers_on_two_kqueues(void) {
    CHECK(prepare(&alrm_target) == 0);
    CHECK(prepare(&prof_target) == 0);
    int p[2];
    CHECK(pipe(p) == 0);
    start_timer(ITIMER_REAL, SIGALRM, on_alrm, 37);
    CHECK(start_prof_timer(53) == 0);
    while (atomic_load(&alrm_target.next) < 4000 || atomic_load(&prof_target.next) < 3000) {
        CHECK(poll_with_changes(&prof_target, p[0]) == 0);
        CHECK(poll_with_changes(&alrm_target, p[0]) == 0);
        atomic_fetch_add(&progress, 1);
    }
    stop_timer(ITIMER_REAL, SIGALRM);
    stop_prof_timer();
    CHECK(settle(&alrm_target) > 1000);
    CHECK(settle(&prof_target) > 1000);
    close(p[0]);
    close(p[1]);
    close(alrm_target.kq);
    close(prof_target.kq);
}

int main(void) {
    /* The watchdog blocks the timers' signals (it inherits the mask), so
     * every one interrupts the thread that uses the kqueues. */
    sigset_t timers, old;
    sigemptyset(&timers);
    sigaddset(&timers, SIGALRM);
    sigaddset(&timers, SIGPROF);
    pthread_sigmask(SIG_BLOCK, &timers, &old);
    pthread_t t;
    pthread_create(&t, NULL, watchdog, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    RUN(test_handler_changes_kqueue_its_thread_is_polling);
    RUN(test_handler_wakes_thread_blocked_in_kevent);
    RUN(test_nested_handlers_on_two_kqueues);
    return harness_finish();
}
