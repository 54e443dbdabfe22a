/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * matrix.c: every filter with every flag of the core (EV_ONESHOT, EV_CLEAR,
 * EV_DISPATCH, EV_DISABLE, EV_RECEIPT), and each filter's single delivery to
 * one of several threads waiting. One source of events per filter, made to
 * fire on demand.
 */
#define _GNU_SOURCE
#include "kq_test.h"

#include <signal.h>
#include <sys/stat.h>

/* A source of events for one filter: registers, and makes it fire once. */
struct source {
    const char *name;
    short filter;
    unsigned int fflags;
    intptr_t data;
    int (*setup)(struct source *); /* returns the ident, -1 on failure */
    void (*fire)(struct source *);
    void (*drain)(struct source *); /* for level-triggered sources */
    void (*teardown)(struct source *);
    int fd[2];
    char path[64];
};

static int pipe_setup(struct source *s) { return pipe2(s->fd, O_NONBLOCK) == 0 ? s->fd[0] : -1; }
static void pipe_fire(struct source *s) { (void)!write(s->fd[1], "x", 1); }
static void pipe_drain(struct source *s) { char b[64]; while (read(s->fd[0], b, sizeof b) > 0) {} }
static void pipe_teardown(struct source *s) { close(s->fd[0]); close(s->fd[1]); }

static int wpipe_setup(struct source *s) {
    if (pipe2(s->fd, O_NONBLOCK) != 0) return -1;
    char b[4096] = {0};
    while (write(s->fd[1], b, sizeof b) > 0) {} /* full: not writable */
    return s->fd[1];
}
static void wpipe_fire(struct source *s) { char b[65536]; while (read(s->fd[0], b, sizeof b) > 0) {} }
static void wpipe_drain(struct source *s) { char b[4096] = {0}; while (write(s->fd[1], b, sizeof b) > 0) {} }

static int user_setup(struct source *s) { (void)s; return 42; }
static int g_kq;
static void user_fire(struct source *s) { (void)s; kq_change(g_kq, 42, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL); }

static int timer_setup(struct source *s) { (void)s; return 7; }
static void timer_fire(struct source *s) { (void)s; ms_sleep(30); } /* 10 ms period */

static int signal_setup(struct source *s) { (void)s; signal(SIGUSR1, SIG_IGN); return SIGUSR1; }
static void signal_fire(struct source *s) { (void)s; kill(getpid(), SIGUSR1); }

static int vnode_setup(struct source *s) {
    strcpy(s->path, "/tmp/bsdshim-matrix-XXXXXX");
    s->fd[0] = mkstemp(s->path);
    return s->fd[0];
}
static void vnode_fire(struct source *s) { (void)!write(s->fd[0], "x", 1); }
static void vnode_teardown(struct source *s) { close(s->fd[0]); unlink(s->path); }

static struct source sources[] = {
    {"read", EVFILT_READ, 0, 0, pipe_setup, pipe_fire, pipe_drain, pipe_teardown, {0, 0}, ""},
    {"write", EVFILT_WRITE, 0, 0, wpipe_setup, wpipe_fire, wpipe_drain, pipe_teardown, {0, 0}, ""},
    {"user", EVFILT_USER, 0, 0, user_setup, user_fire, NULL, NULL, {0, 0}, ""},
    {"timer", EVFILT_TIMER, 0, 10, timer_setup, timer_fire, NULL, NULL, {0, 0}, ""},
    {"signal", EVFILT_SIGNAL, 0, 0, signal_setup, signal_fire, NULL, NULL, {0, 0}, ""},
    {"vnode", EVFILT_VNODE, NOTE_WRITE, 0, vnode_setup, vnode_fire, NULL, vnode_teardown, {0, 0}, ""},
};
enum { NSOURCES = sizeof sources / sizeof sources[0] };

/* Events for `ident`/filter now pending (polls, drains nothing level-triggered). */
static int pending_for(int kq, struct source *s, uintptr_t ident) {
    struct kevent ev[16];
    int n = kq_wait(kq, ev, 16, 100), c = 0;
    for (int i = 0; i < n; i++) c += ev[i].ident == ident && ev[i].filter == s->filter;
    return c;
}

static void run_flag(struct source *s, unsigned short flag) {
    int kq = kqueue();
    g_kq = kq;
    int id = s->setup(s);
    if (id < 0) { harness_current_failed = 1; return; }
    struct kevent ch, out;
    EV_SET(&ch, id, s->filter, EV_ADD | flag, s->fflags, s->data, NULL);
    int r = flag == EV_RECEIPT ? kevent(kq, &ch, 1, &out, 1, NULL) : kevent(kq, &ch, 1, NULL, 0, NULL);
    if (flag == EV_RECEIPT) {
        CHECK_EQ(r, 1);
        CHECK(out.flags & EV_ERROR);
        CHECK_EQ(out.data, 0);
    } else {
        CHECK_EQ(r, 0);
    }
    s->fire(s);
    int first = pending_for(kq, s, id);
    if (flag == EV_DISABLE) {
        CHECK_EQ(first, 0);
        CHECK_EQ(kq_change(kq, id, s->filter, EV_ENABLE, 0, 0, NULL), 0);
        s->fire(s);
        CHECK_EQ(pending_for(kq, s, id), 1);
    } else {
        CHECK_EQ(first, 1);
    }
    if (s->drain) s->drain(s);
    if (flag == EV_ONESHOT) {
        s->fire(s);
        CHECK_EQ(pending_for(kq, s, id), 0);
        CHECK_ERRNO(kq_change(kq, id, s->filter, EV_DELETE, 0, 0, NULL), ENOENT);
    } else if (flag == EV_DISPATCH) {
        s->fire(s);
        CHECK_EQ(pending_for(kq, s, id), 0);
        CHECK_EQ(kq_change(kq, id, s->filter, EV_ENABLE, 0, 0, NULL), 0);
        s->fire(s);
        CHECK_EQ(pending_for(kq, s, id), 1);
    } else if (flag == EV_CLEAR && s->filter != EVFILT_TIMER) { /* a periodic timer fires by itself */
        /* Retrieved: nothing more until it fires again. */
        CHECK_EQ(pending_for(kq, s, id), 0);
        s->fire(s);
        CHECK_EQ(pending_for(kq, s, id), 1);
    }
    if (s->teardown) s->teardown(s);
    close(kq);
}

static void test_every_filter_with_every_flag(void) {
    unsigned short flags[] = {EV_ONESHOT, EV_CLEAR, EV_DISPATCH, EV_DISABLE, EV_RECEIPT};
    const char *names[] = {"EV_ONESHOT", "EV_CLEAR", "EV_DISPATCH", "EV_DISABLE", "EV_RECEIPT"};
    for (int i = 0; i < NSOURCES; i++) {
        for (int f = 0; f < 5; f++) {
            harness_current_failed = 0;
            run_flag(&sources[i], flags[f]);
            if (harness_current_failed) {
                fprintf(stderr, "  failed for %s with %s\n", sources[i].name, names[f]);
                return;
            }
        }
    }
}

/* --- single delivery to one of several waiting threads --------------------- */

struct race {
    int kq;
    uintptr_t ident;
    short filter;
    atomic_int got, stop;
};

static void *race_waiter(void *p) {
    struct race *r = p;
    while (!atomic_load(&r->stop)) {
        struct kevent ev;
        struct timespec ts = {0, 20 * 1000000};
        int n = kevent(r->kq, NULL, 0, &ev, 1, &ts);
        if (n == 1 && ev.ident == r->ident && ev.filter == r->filter) atomic_fetch_add(&r->got, 1);
    }
    return NULL;
}

static void test_every_filter_delivers_a_oneshot_to_one_thread(void) {
    for (int i = 0; i < NSOURCES; i++) {
        struct source *s = &sources[i];
        static struct race r;
        memset(&r, 0, sizeof r);
        r.kq = g_kq = kqueue();
        int id = s->setup(s);
        CHECK(id >= 0);
        r.ident = (uintptr_t)id;
        r.filter = s->filter;
        CHECK_EQ(kq_change(r.kq, id, s->filter, EV_ADD | EV_ONESHOT, s->fflags, s->data, NULL), 0);
        pthread_t t[4];
        for (int k = 0; k < 4; k++) CHECK_EQ(pthread_create(&t[k], NULL, race_waiter, &r), 0);
        ms_sleep(20);
        s->fire(s);
        ms_sleep(150);
        atomic_store(&r.stop, 1);
        for (int k = 0; k < 4; k++) pthread_join(t[k], NULL);
        if (atomic_load(&r.got) != 1) fprintf(stderr, "  %s: delivered %d times\n", s->name, atomic_load(&r.got));
        CHECK_EQ(atomic_load(&r.got), 1);
        if (s->teardown) s->teardown(s);
        close(r.kq);
    }
}

int main(void) {
    RUN_FORKED(test_every_filter_with_every_flag, 60);
    RUN_FORKED(test_every_filter_delivers_a_oneshot_to_one_thread, 60);
    return harness_finish();
}
