/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * signal.c: EVFILT_SIGNAL with real signals. BSD semantics: data counts the
 * deliveries since the last retrieval; the program's disposition still
 * applies (its handler runs, ignored stays ignored, the default action still
 * happens); kill(), raise() and pthread_kill() are all seen; every kqueue
 * watching a signal sees it; EV_DELETE puts everything back.
 * Each test runs in its own process: signal state is process-wide.
 */
#define _GNU_SOURCE
#include "kq_test.h"

#include <signal.h>

static atomic_int handled;
static void count_handler(int sig) {
    (void)sig;
    atomic_fetch_add(&handled, 1);
}

/* Waits for the signal knote and returns its data (0 if none came). */
static intptr_t signal_data(int kq, int sig, long ms) {
    struct kevent ev;
    int n = kq_wait(kq, &ev, 1, ms);
    if (n != 1 || ev.filter != EVFILT_SIGNAL || (int)ev.ident != sig) return 0;
    return ev.data;
}

static void test_signal_counts_deliveries_with_ev_clear(void) {
    int kq = kqueue();
    signal(SIGUSR1, SIG_IGN);
    int tag;
    CHECK_EQ(kq_change(kq, SIGUSR1, EVFILT_SIGNAL, EV_ADD, 0, 0, &tag), 0);
    CHECK_EQ(kill(getpid(), SIGUSR1), 0);
    struct kevent ev;
    CHECK_EQ(kq_wait(kq, &ev, 1, 2000), 1);
    CHECK_EQ(ev.ident, SIGUSR1);
    CHECK_EQ(ev.filter, EVFILT_SIGNAL);
    CHECK_EQ(ev.flags, EV_ADD | EV_CLEAR);
    CHECK_EQ(ev.data, 1);
    CHECK(ev.udata == &tag);
    CHECK_EQ(kq_poll(kq, &ev, 1), 0);
    /* Each delivery is counted, and data is what came since the last retrieval. */
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(kill(getpid(), SIGUSR1), 0);
        CHECK_EQ(signal_data(kq, SIGUSR1, 2000), 1);
    }
    /* Linux merges a classic signal sent again while one is pending (no thread
     * took it yet): sent 3 times with nobody looking, it counts at least once. */
    for (int i = 0; i < 3; i++) CHECK_EQ(kill(getpid(), SIGUSR1), 0);
    intptr_t n = signal_data(kq, SIGUSR1, 2000);
    CHECK(n >= 1 && n <= 3);
}

static void test_signal_program_handler_still_runs(void) {
    int kq = kqueue();
    signal(SIGUSR2, count_handler);
    CHECK_EQ(kq_change(kq, SIGUSR2, EVFILT_SIGNAL, EV_ADD, 0, 0, NULL), 0);
    CHECK_EQ(raise(SIGUSR2), 0);
    CHECK_EQ(signal_data(kq, SIGUSR2, 2000), 1);
    CHECK_EQ(atomic_load(&handled), 1);
}

static void test_signal_ignored_after_registration_still_counted(void) {
    /* libevent's kqueue backend sets SIG_IGN right after EV_ADD. */
    int kq = kqueue();
    CHECK_EQ(kq_change(kq, SIGHUP, EVFILT_SIGNAL, EV_ADD, 0, 0, NULL), 0);
    signal(SIGHUP, SIG_IGN);
    CHECK_EQ(kill(getpid(), SIGHUP), 0);
    CHECK_EQ(signal_data(kq, SIGHUP, 2000), 1);
}

static void *signal_target(void *p) {
    (void)p;
    ms_sleep(500);
    return NULL;
}

static void test_signal_pthread_kill_to_another_thread_seen(void) {
    signal(SIGUSR1, count_handler);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, signal_target, NULL), 0);
    int kq = kqueue();
    CHECK_EQ(kq_change(kq, SIGUSR1, EVFILT_SIGNAL, EV_ADD, 0, 0, NULL), 0);
    ms_sleep(20);
    CHECK_EQ(pthread_kill(t, SIGUSR1), 0);
    CHECK_EQ(signal_data(kq, SIGUSR1, 2000), 1);
    /* Its handler ran, in that thread (the kqueue may hear of the signal
     * before the program's handler has finished there: join first). */
    pthread_join(t, NULL);
    CHECK_EQ(atomic_load(&handled), 1);
}

static void test_signal_two_kqueues_both_see_it(void) {
    signal(SIGUSR1, SIG_IGN);
    int a = kqueue(), b = kqueue();
    CHECK_EQ(kq_change(a, SIGUSR1, EVFILT_SIGNAL, EV_ADD, 0, 0, NULL), 0);
    CHECK_EQ(kq_change(b, SIGUSR1, EVFILT_SIGNAL, EV_ADD, 0, 0, NULL), 0);
    CHECK_EQ(kill(getpid(), SIGUSR1), 0);
    CHECK_EQ(signal_data(a, SIGUSR1, 2000), 1);
    CHECK_EQ(signal_data(b, SIGUSR1, 2000), 1);
}

static void test_signal_realtime_instances_all_counted(void) {
    int sig = SIGRTMIN + 2;
    signal(sig, SIG_IGN);
    int kq = kqueue();
    CHECK_EQ(kq_change(kq, sig, EVFILT_SIGNAL, EV_ADD, 0, 0, NULL), 0);
    union sigval v = {0};
    for (int i = 0; i < 5; i++) CHECK_EQ(sigqueue(getpid(), sig, v), 0);
    ms_sleep(50);
    CHECK_EQ(signal_data(kq, sig, 2000), 5);
}

static void test_signal_counted_while_disabled_reported_on_enable(void) {
    signal(SIGUSR1, SIG_IGN);
    int kq = kqueue();
    CHECK_EQ(kq_change(kq, SIGUSR1, EVFILT_SIGNAL, EV_ADD | EV_DISPATCH, 0, 0, NULL), 0);
    CHECK_EQ(kill(getpid(), SIGUSR1), 0);
    CHECK_EQ(signal_data(kq, SIGUSR1, 2000), 1);
    CHECK_EQ(kill(getpid(), SIGUSR1), 0); /* while dispatched (disabled) */
    struct kevent ev;
    CHECK_EQ(kq_wait(kq, &ev, 1, 100), 0);
    CHECK_EQ(kq_change(kq, SIGUSR1, EVFILT_SIGNAL, EV_ENABLE, 0, 0, NULL), 0);
    CHECK_EQ(kq_wait(kq, &ev, 1, 2000), 1);
    CHECK_EQ(ev.flags, EV_ADD | EV_CLEAR | EV_DISPATCH);
    CHECK_EQ(ev.data, 1);
}

static void test_signal_delete_restores_disposition_and_mask(void) {
    signal(SIGUSR2, count_handler);
    sigset_t before, after;
    pthread_sigmask(SIG_SETMASK, NULL, &before);
    int kq = kqueue();
    CHECK_EQ(kq_change(kq, SIGUSR2, EVFILT_SIGNAL, EV_ADD, 0, 0, NULL), 0);
    CHECK_EQ(kq_change(kq, SIGUSR2, EVFILT_SIGNAL, EV_DELETE, 0, 0, NULL), 0);
    struct sigaction now;
    CHECK_EQ(sigaction(SIGUSR2, NULL, &now), 0);
    CHECK(now.sa_handler == count_handler);
    pthread_sigmask(SIG_SETMASK, NULL, &after);
    CHECK_EQ(sigismember(&after, SIGUSR2), sigismember(&before, SIGUSR2));
    CHECK_EQ(raise(SIGUSR2), 0);
    CHECK_EQ(atomic_load(&handled), 1);
    struct kevent ev;
    CHECK_EQ(kq_poll(kq, &ev, 1), 0);
}

static void test_signal_default_action_still_happens(void) {
    /* SIGTERM with SIG_DFL watched: counted, then the process terminates, as on BSD. */
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        signal(SIGTERM, SIG_DFL);
        int kq = kqueue();
        if (kq_change(kq, SIGTERM, EVFILT_SIGNAL, EV_ADD, 0, 0, NULL) != 0) _exit(2);
        kill(getpid(), SIGTERM);
        struct kevent ev;
        kq_wait(kq, &ev, 1, 2000);
        _exit(3); /* not reached if the default action happened */
    }
    int st = 0;
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    CHECK(WIFSIGNALED(st));
    CHECK_EQ(WTERMSIG(st), SIGTERM);
}

/* The libkqueue idiom: the program blocks the signal and learns of it only
 * through the kqueue. It is counted and never delivered: with the default
 * action (terminate) and a real-time signal, the process survives. */
static void test_signal_blocked_by_program_counted_not_delivered(void) {
    int rt = SIGRTMIN + 4;
    signal(SIGUSR2, SIG_DFL);
    signal(rt, SIG_DFL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    sigaddset(&set, rt);
    CHECK_EQ(pthread_sigmask(SIG_BLOCK, &set, NULL), 0);
    int kq = kqueue();
    CHECK_EQ(kq_change(kq, SIGUSR2, EVFILT_SIGNAL, EV_ADD, 0, 0, NULL), 0);
    CHECK_EQ(kq_change(kq, rt, EVFILT_SIGNAL, EV_ADD, 0, 0, NULL), 0);
    CHECK_EQ(kill(getpid(), SIGUSR2), 0);
    CHECK_EQ(signal_data(kq, SIGUSR2, 2000), 1);
    union sigval v = {0};
    for (int i = 0; i < 3; i++) CHECK_EQ(sigqueue(getpid(), rt, v), 0);
    CHECK_EQ(signal_data(kq, rt, 2000), 3);
    /* Still blocked by the program after the knotes go. */
    CHECK_EQ(kq_change(kq, SIGUSR2, EVFILT_SIGNAL, EV_DELETE, 0, 0, NULL), 0);
    sigset_t now;
    pthread_sigmask(SIG_SETMASK, NULL, &now);
    CHECK_EQ(sigismember(&now, SIGUSR2), 1);
    close(kq);
}

static void test_signal_invalid_numbers_einval(void) {
    int kq = kqueue();
    CHECK_ERRNO(kq_change(kq, 0, EVFILT_SIGNAL, EV_ADD, 0, 0, NULL), EINVAL);
    CHECK_ERRNO(kq_change(kq, 9999, EVFILT_SIGNAL, EV_ADD, 0, 0, NULL), EINVAL);
    close(kq);
}

/* SIGKILL and SIGSTOP cannot be caught, but FreeBSD (and libkqueue) accept
 * their knotes: EV_ADD succeeds, the knote exists and never fires. */
static void test_signal_uncatchable_accepted(void) {
    int kq = kqueue();
    CHECK_EQ(kq_change(kq, SIGKILL, EVFILT_SIGNAL, EV_ADD, 0, 0, NULL), 0);
    CHECK_EQ(kq_change(kq, SIGSTOP, EVFILT_SIGNAL, EV_ADD, 0, 0, NULL), 0);
    struct kevent ev;
    struct timespec zero = {0, 0};
    CHECK_EQ(kevent(kq, NULL, 0, &ev, 1, &zero), 0);
    CHECK_EQ(kq_change(kq, SIGKILL, EVFILT_SIGNAL, EV_DELETE, 0, 0, NULL), 0);
    CHECK_EQ(kq_change(kq, SIGSTOP, EVFILT_SIGNAL, EV_DELETE, 0, 0, NULL), 0);
    CHECK_ERRNO(kq_change(kq, SIGKILL, EVFILT_SIGNAL, EV_DELETE, 0, 0, NULL), ENOENT);
    close(kq);
}

static void test_signal_sigchld_from_child_exit(void) {
    int kq = kqueue();
    CHECK_EQ(kq_change(kq, SIGCHLD, EVFILT_SIGNAL, EV_ADD, 0, 0, NULL), 0);
    pid_t pid = fork();
    if (pid == 0) _exit(0);
    CHECK_EQ(signal_data(kq, SIGCHLD, 2000), 1);
    CHECK_EQ(waitpid(pid, NULL, 0), pid); /* not reaped for us (SIGCHLD stays default) */
}

static void test_signal_sigchld_ignored_still_reaps_children(void) {
    /* SIGCHLD set to SIG_IGN means the kernel reaps children: still so while watched. */
    signal(SIGCHLD, SIG_IGN);
    int kq = kqueue();
    CHECK_EQ(kq_change(kq, SIGCHLD, EVFILT_SIGNAL, EV_ADD, 0, 0, NULL), 0);
    pid_t pid = fork();
    if (pid == 0) _exit(0);
    CHECK_EQ(signal_data(kq, SIGCHLD, 2000), 1);
    ms_sleep(50);
    CHECK_ERRNO(waitpid(pid, NULL, WNOHANG), ECHILD); /* already reaped: no zombie */
}

int main(void) {
    RUN_FORKED(test_signal_counts_deliveries_with_ev_clear, 10);
    RUN_FORKED(test_signal_sigchld_ignored_still_reaps_children, 10);
    RUN_FORKED(test_signal_program_handler_still_runs, 10);
    RUN_FORKED(test_signal_ignored_after_registration_still_counted, 10);
    RUN_FORKED(test_signal_pthread_kill_to_another_thread_seen, 10);
    RUN_FORKED(test_signal_two_kqueues_both_see_it, 10);
    RUN_FORKED(test_signal_realtime_instances_all_counted, 10);
    RUN_FORKED(test_signal_counted_while_disabled_reported_on_enable, 10);
    RUN_FORKED(test_signal_delete_restores_disposition_and_mask, 10);
    RUN_FORKED(test_signal_default_action_still_happens, 10);
    RUN_FORKED(test_signal_blocked_by_program_counted_not_delivered, 10);
    RUN_FORKED(test_signal_invalid_numbers_einval, 10);
    RUN_FORKED(test_signal_uncatchable_accepted, 10);
    RUN_FORKED(test_signal_sigchld_from_child_exit, 10);
    return harness_finish();
}
