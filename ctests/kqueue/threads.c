/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * threads.c: several threads in kevent() on one kqueue: EV_ONESHOT and
 * EV_DISPATCH events go to exactly one waiter, no wake-up is lost, changes
 * from many threads at once, and closing a kqueue while threads wait in it
 * (they return -1/EBADF, nothing crashes or hangs). Each test runs in its own
 * process with a time limit.
 */
#define _GNU_SOURCE
#include "kq_test.h"

enum { NTHREADS = 8 };

/* --- EV_ONESHOT: each event to exactly one waiter ------------------------ */

enum { NONESHOT = 4000, STOP_IDENT = 1000000 };

struct oneshot_ctx {
    int kq;
    atomic_int counts[NONESHOT];
    atomic_int total;
    atomic_int exited;
    atomic_int bad;
};

static void *oneshot_waiter(void *p) {
    struct oneshot_ctx *c = p;
    for (;;) {
        struct kevent ev[4];
        int n = kevent(c->kq, NULL, 0, ev, 4, NULL);
        if (n < 0) {
            if (errno == EINTR) continue;
            atomic_fetch_add(&c->bad, 1);
            break;
        }
        int stop = 0;
        for (int i = 0; i < n; i++) {
            if (ev[i].ident == STOP_IDENT) {
                stop = 1;
                continue;
            }
            if (ev[i].ident >= NONESHOT || ev[i].filter != EVFILT_USER) {
                atomic_fetch_add(&c->bad, 1);
                continue;
            }
            atomic_fetch_add(&c->counts[ev[i].ident], 1);
            atomic_fetch_add(&c->total, 1);
        }
        if (stop) break;
    }
    atomic_fetch_add(&c->exited, 1);
    return NULL;
}

static void test_oneshot_events_each_go_to_exactly_one_waiter(void) {
    static struct oneshot_ctx c;
    memset(&c, 0, sizeof c);
    c.kq = kqueue();
    CHECK(c.kq >= 0);
    pthread_t t[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) CHECK_EQ(pthread_create(&t[i], NULL, oneshot_waiter, &c), 0);
    ms_sleep(50); /* let them block */
    for (int i = 0; i < NONESHOT; i++) {
        CHECK_EQ(kq_change(c.kq, (uintptr_t)i, EVFILT_USER, EV_ADD | EV_ONESHOT, NOTE_TRIGGER, 0, NULL), 0);
        if (i % 400 == 0) ms_sleep(2); /* let the waiters go back to sleep now and then */
    }
    CHECK(wait_flag(&c.total, NONESHOT, 10000));
    ms_sleep(50);
    CHECK_EQ(atomic_load(&c.total), NONESHOT);
    for (int i = 0; i < NONESHOT; i++) CHECK_EQ(atomic_load(&c.counts[i]), 1);
    /* A level-triggered event that stays pending stops every waiter. */
    CHECK_EQ(kq_change(c.kq, STOP_IDENT, EVFILT_USER, EV_ADD, NOTE_TRIGGER, 0, NULL), 0);
    CHECK(wait_flag(&c.exited, NTHREADS, 10000));
    for (int i = 0; i < NTHREADS; i++) pthread_join(t[i], NULL);
    CHECK_EQ(atomic_load(&c.bad), 0);
    close(c.kq);
}

/* --- EV_DISPATCH: one waiter at a time ----------------------------------- */

struct dispatch_ctx {
    int kq;
    atomic_int delivered;
    atomic_int inflight;
    atomic_int overlap;
    atomic_int stop;
    atomic_int exited;
};

static void *dispatch_waiter(void *p) {
    struct dispatch_ctx *c = p;
    while (!atomic_load(&c->stop)) {
        struct kevent ev;
        int n = kq_wait(c->kq, &ev, 1, 100);
        if (n <= 0) continue;
        if (ev.ident != 1) continue; /* the stop event */
        if (atomic_fetch_add(&c->inflight, 1) != 0) atomic_fetch_add(&c->overlap, 1);
        atomic_fetch_add(&c->delivered, 1);
        atomic_fetch_sub(&c->inflight, 1);
        kq_change(c->kq, 1, EVFILT_USER, EV_ENABLE, 0, 0, NULL);
    }
    atomic_fetch_add(&c->exited, 1);
    return NULL;
}

static void test_dispatch_event_goes_to_one_waiter_per_trigger(void) {
    enum { N = 1000 };
    static struct dispatch_ctx c;
    memset(&c, 0, sizeof c);
    c.kq = kqueue();
    CHECK_EQ(kq_change(c.kq, 1, EVFILT_USER, EV_ADD | EV_CLEAR | EV_DISPATCH, 0, 0, NULL), 0);
    pthread_t t[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) CHECK_EQ(pthread_create(&t[i], NULL, dispatch_waiter, &c), 0);
    for (int i = 0; i < N; i++) {
        CHECK_EQ(kq_change(c.kq, 1, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL), 0);
        CHECK(wait_flag(&c.delivered, i + 1, 5000));
    }
    ms_sleep(50);
    CHECK_EQ(atomic_load(&c.delivered), N);
    CHECK_EQ(atomic_load(&c.overlap), 0);
    atomic_store(&c.stop, 1);
    CHECK(wait_flag(&c.exited, NTHREADS, 10000));
    for (int i = 0; i < NTHREADS; i++) pthread_join(t[i], NULL);
    close(c.kq);
}

/* --- No lost wake-ups: ping-pong between two threads --------------------- */

struct pingpong {
    int kq_a, kq_b;
    int rounds;
    atomic_int done_a, done_b, failed;
};

static void *pong(void *p) {
    struct pingpong *pp = p;
    for (int i = 0; i < pp->rounds; i++) {
        struct kevent ev;
        if (kq_wait(pp->kq_b, &ev, 1, 5000) != 1) {
            atomic_store(&pp->failed, 1);
            break;
        }
        kq_change(pp->kq_a, 1, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL);
    }
    atomic_store(&pp->done_b, 1);
    return NULL;
}

static void test_pingpong_loses_no_wakeups(void) {
    static struct pingpong pp;
    memset(&pp, 0, sizeof pp);
    pp.rounds = 20000;
    pp.kq_a = kqueue();
    pp.kq_b = kqueue();
    CHECK_EQ(kq_change(pp.kq_a, 1, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, NULL), 0);
    CHECK_EQ(kq_change(pp.kq_b, 1, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, NULL), 0);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, pong, &pp), 0);
    int lost = 0;
    for (int i = 0; i < pp.rounds; i++) {
        CHECK_EQ(kq_change(pp.kq_b, 1, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL), 0);
        struct kevent ev;
        if (kq_wait(pp.kq_a, &ev, 1, 5000) != 1) {
            lost = i + 1;
            break;
        }
    }
    CHECK_EQ(lost, 0);
    CHECK(wait_flag(&pp.done_b, 1, 10000));
    pthread_join(t, NULL);
    CHECK_EQ(atomic_load(&pp.failed), 0);
    close(pp.kq_a);
    close(pp.kq_b);
}

/* --- Pipe readiness with several waiters (EV_DISPATCH) ------------------- */

struct pipe_ctx {
    int kq, rfd;
    atomic_int bytes, stop, exited, overlap, inflight;
};

static void *pipe_waiter(void *p) {
    struct pipe_ctx *c = p;
    while (!atomic_load(&c->stop)) {
        struct kevent ev;
        if (kq_wait(c->kq, &ev, 1, 100) != 1) continue;
        if (atomic_fetch_add(&c->inflight, 1) != 0) atomic_fetch_add(&c->overlap, 1);
        char buf[64];
        ssize_t r = read(c->rfd, buf, sizeof buf);
        if (r > 0) atomic_fetch_add(&c->bytes, (int)r);
        atomic_fetch_sub(&c->inflight, 1);
        kq_change(c->kq, c->rfd, EVFILT_READ, EV_ENABLE, 0, 0, NULL);
    }
    atomic_fetch_add(&c->exited, 1);
    return NULL;
}

static void test_dispatch_pipe_read_shared_by_waiters(void) {
    enum { N = 2000 };
    static struct pipe_ctx c;
    memset(&c, 0, sizeof c);
    int p[2];
    CHECK(pipe2(p, O_NONBLOCK) == 0);
    c.kq = kqueue();
    c.rfd = p[0];
    CHECK_EQ(kq_change(c.kq, p[0], EVFILT_READ, EV_ADD | EV_DISPATCH, 0, 0, NULL), 0);
    pthread_t t[4];
    for (int i = 0; i < 4; i++) CHECK_EQ(pthread_create(&t[i], NULL, pipe_waiter, &c), 0);
    for (int i = 0; i < N; i++) {
        CHECK_EQ(write(p[1], "z", 1), 1);
        if (i % 100 == 0) ms_sleep(1);
    }
    CHECK(wait_flag(&c.bytes, N, 10000));
    CHECK_EQ(atomic_load(&c.overlap), 0);
    atomic_store(&c.stop, 1);
    CHECK(wait_flag(&c.exited, 4, 10000));
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    close(p[0]);
    close(p[1]);
    close(c.kq);
}

/* --- Changes from many threads at once ----------------------------------- */

struct churn_ctx {
    int kq;
    int id;
    atomic_int *errors;
};

static void *churn(void *p) {
    struct churn_ctx *c = p;
    for (int round = 0; round < 200; round++) {
        for (int i = 0; i < 20; i++) {
            uintptr_t ident = (uintptr_t)(c->id * 100000 + i);
            if (kq_change(c->kq, ident, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, NULL) != 0)
                atomic_fetch_add(c->errors, 1);
            if (kq_change(c->kq, ident, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL) != 0)
                atomic_fetch_add(c->errors, 1);
        }
        struct kevent ev[8];
        kq_poll(c->kq, ev, 8);
        for (int i = 0; i < 20; i++) {
            uintptr_t ident = (uintptr_t)(c->id * 100000 + i);
            if (kq_change(c->kq, ident, EVFILT_USER, EV_DELETE, 0, 0, NULL) != 0)
                atomic_fetch_add(c->errors, 1);
        }
    }
    return NULL;
}

static void test_concurrent_changes_from_many_threads(void) {
    int kq = kqueue();
    atomic_int errors = 0;
    struct churn_ctx c[NTHREADS];
    pthread_t t[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        c[i] = (struct churn_ctx){kq, i + 1, &errors};
        CHECK_EQ(pthread_create(&t[i], NULL, churn, &c[i]), 0);
    }
    for (int i = 0; i < NTHREADS; i++) pthread_join(t[i], NULL);
    CHECK_EQ(atomic_load(&errors), 0);
    /* Everything was deleted: nothing pending, nothing registered. */
    struct kevent ev[8];
    CHECK_EQ(kq_poll(kq, ev, 8), 0);
    CHECK_ERRNO(kq_change(kq, 100000, EVFILT_USER, EV_DELETE, 0, 0, NULL), ENOENT);
    close(kq);
}

static void *concurrent_kqueues(void *p) {
    atomic_int *errors = p;
    for (int i = 0; i < 200; i++) {
        int kq = kqueue();
        if (kq < 0) {
            atomic_fetch_add(errors, 1);
            continue;
        }
        struct kevent ev;
        if (kq_change(kq, 1, EVFILT_USER, EV_ADD | EV_CLEAR, NOTE_TRIGGER, 0, NULL) != 0 ||
            kq_poll(kq, &ev, 1) != 1 || ev.ident != 1)
            atomic_fetch_add(errors, 1);
        close(kq);
    }
    return NULL;
}

static void test_kqueues_created_and_closed_concurrently(void) {
    atomic_int errors = 0;
    pthread_t t[4];
    int before = harness_fd_count();
    for (int i = 0; i < 4; i++) CHECK_EQ(pthread_create(&t[i], NULL, concurrent_kqueues, &errors), 0);
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    CHECK_EQ(atomic_load(&errors), 0);
    libkqueue_drain_pending_close();
    CHECK_EQ(harness_fd_count(), before);
}

/* --- Closing a kqueue while threads wait in it --------------------------- */

struct closer_ctx {
    int kq;
    atomic_int returned;
    atomic_int ebadf;
    atomic_int other;
};

static void *blocked_waiter(void *p) {
    struct closer_ctx *c = p;
    struct kevent ev;
    errno = 0;
    int n = kevent(c->kq, NULL, 0, &ev, 1, NULL);
    if (n == -1 && errno == EBADF)
        atomic_fetch_add(&c->ebadf, 1);
    else
        atomic_fetch_add(&c->other, 1);
    atomic_fetch_add(&c->returned, 1);
    return NULL;
}

static void close_while_waiting(int nwaiters, int with_knotes) {
    static struct closer_ctx c;
    memset(&c, 0, sizeof c);
    c.kq = kqueue();
    CHECK(c.kq >= 0);
    if (with_knotes) {
        int p[2];
        CHECK(pipe(p) == 0);
        CHECK_EQ(kq_change(c.kq, p[0], EVFILT_READ, EV_ADD, 0, 0, NULL), 0);
        CHECK_EQ(kq_change(c.kq, 1, EVFILT_TIMER, EV_ADD, 0, 60000, NULL), 0);
        CHECK_EQ(kq_change(c.kq, 2, EVFILT_USER, EV_ADD, 0, 0, NULL), 0);
    }
    pthread_t t[NTHREADS];
    for (int i = 0; i < nwaiters; i++) CHECK_EQ(pthread_create(&t[i], NULL, blocked_waiter, &c), 0);
    ms_sleep(100);
    CHECK_EQ(atomic_load(&c.returned), 0);
    CHECK_EQ(close(c.kq), 0);
    CHECK(wait_flag(&c.returned, nwaiters, 10000));
    for (int i = 0; i < nwaiters; i++) pthread_join(t[i], NULL);
    CHECK_EQ(atomic_load(&c.ebadf), nwaiters);
    CHECK_EQ(atomic_load(&c.other), 0);
    /* The library still works afterwards. */
    int kq = kqueue();
    CHECK(kq >= 0);
    CHECK_EQ(kq_change(kq, 1, EVFILT_USER, EV_ADD | EV_CLEAR, NOTE_TRIGGER, 0, NULL), 0);
    struct kevent ev;
    CHECK_EQ(kq_poll(kq, &ev, 1), 1);
    close(kq);
}

static void test_close_while_one_thread_waits_returns_ebadf(void) { close_while_waiting(1, 0); }

static void test_close_while_many_threads_wait_returns_ebadf(void) { close_while_waiting(NTHREADS, 1); }

static void test_close_and_reuse_number_while_thread_waits(void) {
    static struct closer_ctx c;
    memset(&c, 0, sizeof c);
    c.kq = kqueue();
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, blocked_waiter, &c), 0);
    ms_sleep(100);
    CHECK_EQ(close(c.kq), 0);
    /* The number goes to a new kqueue at once: the old waiter must not
     * start waiting on (or stealing events from) the new one. */
    int kq2 = kqueue();
    CHECK_EQ(kq2, c.kq);
    CHECK_EQ(kq_change(kq2, 5, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, NULL), 0);
    CHECK(wait_flag(&c.returned, 1, 10000));
    pthread_join(t, NULL);
    CHECK_EQ(atomic_load(&c.ebadf), 1);
    CHECK_EQ(kq_change(kq2, 5, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL), 0);
    struct kevent ev;
    CHECK_EQ(kq_poll(kq2, &ev, 1), 1);
    CHECK_EQ(ev.ident, 5);
    close(kq2);
}

static void *timed_waiter(void *p) {
    struct closer_ctx *c = p;
    struct kevent ev;
    struct timespec ts = {60, 0};
    errno = 0;
    int n = kevent(c->kq, NULL, 0, &ev, 1, &ts);
    if (n == -1 && errno == EBADF)
        atomic_fetch_add(&c->ebadf, 1);
    else
        atomic_fetch_add(&c->other, 1);
    atomic_fetch_add(&c->returned, 1);
    return NULL;
}

/* A wait with a long timeout is woken by the close too (EBADF, not a
 * timeout a minute later), and so is one made after a pause in which no
 * thread waited (the library's watch over waits stops and starts again). */
static void test_close_while_thread_waits_with_timeout_returns_ebadf(void) {
    for (int round = 0; round < 2; round++) {
        static struct closer_ctx c;
        memset(&c, 0, sizeof c);
        c.kq = kqueue();
        CHECK(c.kq >= 0);
        pthread_t t;
        CHECK_EQ(pthread_create(&t, NULL, timed_waiter, &c), 0);
        ms_sleep(100);
        CHECK_EQ(atomic_load(&c.returned), 0);
        CHECK_EQ(close(c.kq), 0);
        CHECK(wait_flag(&c.returned, 1, 10000));
        pthread_join(t, NULL);
        CHECK_EQ(atomic_load(&c.ebadf), 1);
        CHECK_EQ(atomic_load(&c.other), 0);
        ms_sleep(800);
    }
}

int main(void) {
    RUN_FORKED(test_oneshot_events_each_go_to_exactly_one_waiter, 30);
    RUN_FORKED(test_dispatch_event_goes_to_one_waiter_per_trigger, 30);
    RUN_FORKED(test_pingpong_loses_no_wakeups, 30);
    RUN_FORKED(test_dispatch_pipe_read_shared_by_waiters, 30);
    RUN_FORKED(test_concurrent_changes_from_many_threads, 30);
    RUN_FORKED(test_kqueues_created_and_closed_concurrently, 30);
    RUN_FORKED(test_close_while_one_thread_waits_returns_ebadf, 20);
    RUN_FORKED(test_close_while_many_threads_wait_returns_ebadf, 20);
    RUN_FORKED(test_close_and_reuse_number_while_thread_waits, 20);
    RUN_FORKED(test_close_while_thread_waits_with_timeout_returns_ebadf, 30);
    return harness_finish();
}
