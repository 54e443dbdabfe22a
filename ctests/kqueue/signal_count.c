/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * signal_count.c: EVFILT_SIGNAL counts every delivery (BSD: data is the
 * number of deliveries since the last retrieval, whatever the disposition),
 * and the program's handler runs once per delivery. Three raise() calls
 * before kevent() give data 3.
 *
 * Under the preload library (kqueue_signal_count_preload) the counts are
 * exact in every case. Linked without it, the library blocks a watched
 * signal in the thread that registers it (the program could otherwise make
 * the kernel discard it with SIG_IGN behind the library's back), so
 * instances sent to that thread while one is pending merge, as kqueue.2
 * documents: those tests then check what linked mode promises (at least one
 * delivery counted, never more than were sent, the handler run once per
 * counted delivery). Deliveries to other threads are exact in both modes.
 * Each test runs in its own process: signal state is process-wide.
 */
#define _GNU_SOURCE
#include "kq_test.h"
#include "kq_preload.h"

#include <signal.h>

static atomic_int handled;
static void count_handler(int sig) {
    (void)sig;
    atomic_fetch_add(&handled, 1);
}

static atomic_int interrupted;
/* Deliveries collect() has seen so far (the sender paces itself on it). */
static atomic_int observed;

/* Sum of the data of `sig`'s events until `want` or `ms` without one. */
static intptr_t collect(int kq, int sig, intptr_t want, long ms) {
    intptr_t total = 0;
    struct kevent ev;
    while (total < want) {
        int n = kq_wait(kq, &ev, 1, ms);
        if (n < 0 && errno == EINTR) {
            atomic_fetch_add(&interrupted, 1);
            continue;
        }
        if (n != 1) break;
        if (ev.filter == EVFILT_SIGNAL && (int)ev.ident == sig) {
            total += ev.data;
            atomic_fetch_add(&observed, (int)ev.data);
        }
    }
    return total;
}

/* The data of one retrieval of `sig` (several signals may be queued). */
static intptr_t data_of(const struct kevent *ev, int n, int sig) {
    for (int i = 0; i < n; i++)
        if (ev[i].filter == EVFILT_SIGNAL && (int)ev[i].ident == sig) return ev[i].data;
    return 0;
}

/* Exact under the preload library; merged to 1..sent in the registering thread when linked. */
#define CHECK_COUNT(got, sent)                                     \
    do {                                                           \
        if (kq_under_preload()) CHECK_EQ((got), (sent));           \
        else CHECK((got) >= 1 && (got) <= (sent));                 \
    } while (0)

static void test_ignored_signal_raised_three_times_data_3(void) {
    signal(SIGUSR1, SIG_IGN);
    int kq = kqueue();
    CHECK_EQ(kq_change(kq, SIGUSR1, EVFILT_SIGNAL, EV_ADD, 0, 0, NULL), 0);
    for (int i = 0; i < 3; i++) CHECK_EQ(raise(SIGUSR1), 0);
    struct kevent ev;
    CHECK_EQ(kq_wait(kq, &ev, 1, 2000), 1);
    CHECK_EQ(ev.ident, SIGUSR1);
    CHECK_COUNT(ev.data, 3);
    CHECK_EQ(kq_poll(kq, &ev, 1), 0);
    /* Still ignored: the process is alive, and says SIG_IGN. */
    struct sigaction now;
    CHECK_EQ(sigaction(SIGUSR1, NULL, &now), 0);
    if (kq_under_preload()) CHECK(now.sa_handler == SIG_IGN);
}

static void test_handler_raised_three_times_data_3_handler_3(void) {
    signal(SIGUSR2, count_handler);
    int kq = kqueue();
    CHECK_EQ(kq_change(kq, SIGUSR2, EVFILT_SIGNAL, EV_ADD, 0, 0, NULL), 0);
    for (int i = 0; i < 3; i++) CHECK_EQ(raise(SIGUSR2), 0);
    struct kevent ev;
    CHECK_EQ(kq_wait(kq, &ev, 1, 2000), 1);
    CHECK_COUNT(ev.data, 3);
    /* One run of the program's handler per counted delivery. */
    CHECK_EQ(atomic_load(&handled), ev.data);
    /* The program sees its own handler, not the library's. */
    struct sigaction now;
    CHECK_EQ(sigaction(SIGUSR2, NULL, &now), 0);
    if (kq_under_preload()) CHECK(now.sa_handler == count_handler);
}

static void test_default_ignored_signal_counted(void) {
    /* SIGWINCH's default action is to ignore it. */
    signal(SIGWINCH, SIG_DFL);
    int kq = kqueue();
    CHECK_EQ(kq_change(kq, SIGWINCH, EVFILT_SIGNAL, EV_ADD, 0, 0, NULL), 0);
    for (int i = 0; i < 4; i++) CHECK_EQ(raise(SIGWINCH), 0);
    struct kevent ev;
    CHECK_EQ(kq_wait(kq, &ev, 1, 2000), 1);
    CHECK_COUNT(ev.data, 4);
}

static pthread_t main_thread;
static atomic_int thread_mode, registered;

/* Sends SIGUSR1 three times, once the main thread is (very likely) in
 * kevent(), each after the previous one was seen: a classic signal sent to
 * a thread before it could take the last one merges with it on Linux
 * (kevent.2), and the target thread may wait for a CPU a while. */
static void *sender(void *p) {
    (void)p;
    while (!atomic_load(&registered)) ms_sleep(1);
    ms_sleep(100);
    for (int i = 0; i < 3; i++) {
        switch (atomic_load(&thread_mode)) {
        case 0: raise(SIGUSR1); break;                    /* to this thread */
        case 1: kill(getpid(), SIGUSR1); break;           /* to the process */
        default: pthread_kill(main_thread, SIGUSR1); break; /* to the thread in kevent() */
        }
        wait_flag(&observed, i + 1, 2000);
    }
    return NULL;
}

/* The sender thread exists before the signal is watched, unless `late`. */
static void deliveries_while_main_waits(int mode, void (*disposition)(int), int late) {
    signal(SIGUSR1, disposition);
    main_thread = pthread_self();
    atomic_store(&thread_mode, mode);
    pthread_t t;
    if (!late) CHECK_EQ(pthread_create(&t, NULL, sender, NULL), 0);
    int kq = kqueue();
    CHECK_EQ(kq_change(kq, SIGUSR1, EVFILT_SIGNAL, EV_ADD, 0, 0, NULL), 0);
    if (late) CHECK_EQ(pthread_create(&t, NULL, sender, NULL), 0);
    atomic_store(&registered, 1);
    intptr_t total = collect(kq, SIGUSR1, 3, 3000);
    pthread_join(t, NULL);
    total += collect(kq, SIGUSR1, 1, 100); /* nothing more may come */
    if (mode == 2) CHECK_COUNT(total, 3); /* sent to the registering thread */
    else CHECK_EQ(total, 3);
    if (disposition == count_handler) CHECK_EQ(atomic_load(&handled), total);
    /* A watched signal wakes kevent() with its event, not EINTR (BSD). */
    CHECK_EQ(atomic_load(&interrupted), 0);
}

static void test_raise_in_another_thread_while_main_in_kevent(void) { deliveries_while_main_waits(0, SIG_IGN, 0); }
static void test_kill_process_while_main_in_kevent(void) { deliveries_while_main_waits(1, count_handler, 0); }
static void test_pthread_kill_thread_in_kevent_ignored(void) { deliveries_while_main_waits(2, SIG_IGN, 0); }
static void test_pthread_kill_thread_in_kevent_handler(void) { deliveries_while_main_waits(2, count_handler, 0); }

/* A thread created after EV_ADD: linked, it inherits the registering thread's
 * block, and what it raises waits for it to call kevent() (kevent.2); under
 * the preload library nothing is blocked and every delivery is counted. */
static void test_raise_in_thread_created_after_registration(void) {
    if (!kq_under_preload()) return;
    deliveries_while_main_waits(0, count_handler, 1);
}

static void test_interleaved_signals_each_counted(void) {
    signal(SIGUSR1, SIG_IGN);
    signal(SIGUSR2, count_handler);
    signal(SIGWINCH, SIG_DFL);
    int kq = kqueue();
    CHECK_EQ(kq_change(kq, SIGUSR1, EVFILT_SIGNAL, EV_ADD, 0, 0, NULL), 0);
    CHECK_EQ(kq_change(kq, SIGUSR2, EVFILT_SIGNAL, EV_ADD, 0, 0, NULL), 0);
    CHECK_EQ(kq_change(kq, SIGWINCH, EVFILT_SIGNAL, EV_ADD, 0, 0, NULL), 0);
    const int order[] = {SIGUSR1, SIGUSR2, SIGUSR1, SIGWINCH, SIGUSR2, SIGUSR1, SIGWINCH, SIGUSR2, SIGUSR2};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) CHECK_EQ(raise(order[i]), 0);
    ms_sleep(20);
    struct kevent ev[8];
    int n = kq_poll(kq, ev, 8);
    CHECK_EQ(n, 3);
    CHECK_COUNT(data_of(ev, n, SIGUSR1), 3);
    CHECK_COUNT(data_of(ev, n, SIGUSR2), 4);
    CHECK_COUNT(data_of(ev, n, SIGWINCH), 2);
    CHECK_EQ(atomic_load(&handled), data_of(ev, n, SIGUSR2));
    /* A second round is counted from zero. */
    CHECK_EQ(raise(SIGUSR2), 0);
    CHECK_EQ(raise(SIGUSR1), 0);
    n = kq_poll(kq, ev, 8);
    CHECK_EQ(n, 2);
    CHECK_EQ(data_of(ev, n, SIGUSR1), 1);
    CHECK_EQ(data_of(ev, n, SIGUSR2), 1);
}

/* libevent's idiom: SIG_IGN right after EV_ADD; later the program installs a
 * handler, then deletes the knote: its handler is what stays. */
static void test_disposition_changed_while_watched(void) {
    int kq = kqueue();
    CHECK_EQ(kq_change(kq, SIGHUP, EVFILT_SIGNAL, EV_ADD, 0, 0, NULL), 0);
    signal(SIGHUP, SIG_IGN);
    for (int i = 0; i < 3; i++) CHECK_EQ(raise(SIGHUP), 0);
    struct kevent ev;
    CHECK_EQ(kq_wait(kq, &ev, 1, 2000), 1);
    CHECK_COUNT(ev.data, 3);
    struct sigaction act, old;
    memset(&act, 0, sizeof act);
    act.sa_handler = count_handler;
    CHECK_EQ(sigaction(SIGHUP, &act, &old), 0);
    CHECK(old.sa_handler == SIG_IGN);
    for (int i = 0; i < 2; i++) CHECK_EQ(raise(SIGHUP), 0);
    CHECK_EQ(kq_wait(kq, &ev, 1, 2000), 1);
    CHECK_COUNT(ev.data, 2);
    CHECK_EQ(atomic_load(&handled), ev.data);
    CHECK_EQ(kq_change(kq, SIGHUP, EVFILT_SIGNAL, EV_DELETE, 0, 0, NULL), 0);
    int before = atomic_load(&handled);
    CHECK_EQ(raise(SIGHUP), 0);
    CHECK_EQ(atomic_load(&handled), before + 1);
    CHECK_EQ(sigaction(SIGHUP, NULL, &old), 0);
    CHECK(old.sa_handler == count_handler);
}

/* The kernel reads SIG_IGN and SIG_DFL from the handler field whatever
 * SA_SIGINFO says (a program that keeps its old flags): the library must
 * ignore, not call address 1, and let SIG_DFL terminate. */
static void test_siginfo_flag_with_ignore_ignores(void) {
    int kq = kqueue();
    CHECK_EQ(kq_change(kq, SIGUSR1, EVFILT_SIGNAL, EV_ADD, 0, 0, NULL), 0);
    struct sigaction act;
    memset(&act, 0, sizeof act);
    act.sa_flags = SA_SIGINFO;
    act.sa_handler = SIG_IGN;
    CHECK_EQ(sigaction(SIGUSR1, &act, NULL), 0);
    for (int i = 0; i < 2; i++) CHECK_EQ(raise(SIGUSR1), 0);
    struct kevent ev;
    CHECK_EQ(kq_wait(kq, &ev, 1, 2000), 1);
    CHECK_COUNT(ev.data, 2);
}

static void siginfo_default_terminates_child(void) {
    int kq = kqueue();
    CHECK_EQ(kq_change(kq, SIGTERM, EVFILT_SIGNAL, EV_ADD, 0, 0, NULL), 0);
    struct sigaction act;
    memset(&act, 0, sizeof act);
    act.sa_flags = SA_SIGINFO;
    act.sa_handler = SIG_DFL;
    CHECK_EQ(sigaction(SIGTERM, &act, NULL), 0);
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, SIGTERM);
    pthread_sigmask(SIG_UNBLOCK, &one, NULL);
    raise(SIGTERM);
    struct kevent ev;
    kq_wait(kq, &ev, 1, 500); /* linked: the pending signal's default applies in kevent() */
    _exit(0);                 /* still alive: the default action did not happen */
}

static void test_siginfo_flag_with_default_terminates(void) {
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) siginfo_default_terminates_child();
    int status = 0;
    CHECK_EQ(waitpid(pid, &status, 0), pid);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
}

/* An ignored signal interrupts nothing: watched, it must not turn the
 * program's blocking read() into EINTR (the library's handler restarts). */
static int pipe_fds[2];
static void *signal_then_write(void *p) {
    (void)p;
    ms_sleep(50);
    pthread_kill(main_thread, SIGUSR1);
    ms_sleep(50);
    (void)!write(pipe_fds[1], "x", 1);
    return NULL;
}

static void test_ignored_watched_signal_does_not_interrupt_read(void) {
    int kq = kqueue();
    CHECK_EQ(kq_change(kq, SIGUSR1, EVFILT_SIGNAL, EV_ADD, 0, 0, NULL), 0);
    struct sigaction act;
    memset(&act, 0, sizeof act);
    act.sa_handler = SIG_IGN; /* no SA_RESTART: ignoring needs none */
    CHECK_EQ(sigaction(SIGUSR1, &act, NULL), 0);
    if (kq_under_preload()) {
        /* Linked, the library keeps it blocked here (counted, never interrupting). */
        sigset_t one;
        sigemptyset(&one);
        sigaddset(&one, SIGUSR1);
        pthread_sigmask(SIG_UNBLOCK, &one, NULL);
    }
    CHECK_EQ(pipe(pipe_fds), 0);
    main_thread = pthread_self();
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, signal_then_write, NULL), 0);
    char c = 0;
    CHECK_EQ(read(pipe_fds[0], &c, 1), 1);
    CHECK_EQ(c, 'x');
    pthread_join(t, NULL);
    struct kevent ev;
    CHECK_EQ(kq_wait(kq, &ev, 1, 2000), 1);
    CHECK_EQ(ev.data, 1);
}

/* SA_RESETHAND: the handler runs for one delivery, then the default action
 * (terminate, for SIGUSR1) applies, while the signal is still counted. */
static void test_reset_handler_runs_once_then_default(void) {
    struct sigaction act;
    memset(&act, 0, sizeof act);
    act.sa_handler = count_handler;
    act.sa_flags = SA_RESETHAND;
    CHECK_EQ(sigaction(SIGUSR1, &act, NULL), 0);
    int kq = kqueue();
    CHECK_EQ(kq_change(kq, SIGUSR1, EVFILT_SIGNAL, EV_ADD, 0, 0, NULL), 0);
    CHECK_EQ(raise(SIGUSR1), 0);
    struct kevent ev;
    CHECK_EQ(kq_wait(kq, &ev, 1, 2000), 1);
    CHECK_EQ(ev.data, 1);
    CHECK_EQ(atomic_load(&handled), 1);
    fflush(stderr);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        /* The fork child has no kqueue: SIGUSR1's default now applies directly. */
        raise(SIGUSR1);
        _exit(3);
    }
    int st = 0;
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGUSR1);
    /* Here too the process dies of it (linked, once kevent() takes it off
     * the registering thread's pending set). */
    raise(SIGUSR1);
    kq_wait(kq, &ev, 1, 2000);
    CHECK(0);
}

static void test_reset_handler(void) {
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        harness_current_failed = 0;
        test_reset_handler_runs_once_then_default();
        _exit(harness_current_failed ? 1 : 0);
    }
    int st = 0;
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    CHECK(WIFSIGNALED(st));
    CHECK_EQ(WTERMSIG(st), SIGUSR1);
}

/* A fork child has no kqueue: the program's disposition and signal mask are
 * its own again (the handler runs directly, nothing is left blocked). */
static void test_fork_child_gets_program_disposition_and_mask(void) {
    signal(SIGUSR1, count_handler);
    sigset_t before;
    pthread_sigmask(SIG_SETMASK, NULL, &before);
    int kq = kqueue();
    CHECK_EQ(kq_change(kq, SIGUSR1, EVFILT_SIGNAL, EV_ADD, 0, 0, NULL), 0);
    fflush(stderr);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        sigset_t now;
        pthread_sigmask(SIG_SETMASK, NULL, &now);
        if (sigismember(&now, SIGUSR1) != sigismember(&before, SIGUSR1)) _exit(2);
        struct sigaction act;
        sigaction(SIGUSR1, NULL, &act);
        if (act.sa_handler != count_handler) _exit(3);
        raise(SIGUSR1);
        _exit(atomic_load(&handled) == 1 ? 0 : 4);
    }
    int st = 0;
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    CHECK(WIFEXITED(st));
    CHECK_EQ(WEXITSTATUS(st), 0);
    /* The parent still counts. */
    CHECK_EQ(raise(SIGUSR1), 0);
    struct kevent ev;
    CHECK_EQ(kq_wait(kq, &ev, 1, 2000), 1);
    CHECK_EQ(ev.data, 1);
}

int main(void) {
    RUN_FORKED(test_ignored_signal_raised_three_times_data_3, 10);
    RUN_FORKED(test_handler_raised_three_times_data_3_handler_3, 10);
    RUN_FORKED(test_default_ignored_signal_counted, 10);
    RUN_FORKED(test_raise_in_another_thread_while_main_in_kevent, 10);
    RUN_FORKED(test_kill_process_while_main_in_kevent, 10);
    RUN_FORKED(test_pthread_kill_thread_in_kevent_ignored, 10);
    RUN_FORKED(test_pthread_kill_thread_in_kevent_handler, 10);
    RUN_FORKED(test_raise_in_thread_created_after_registration, 10);
    RUN_FORKED(test_interleaved_signals_each_counted, 10);
    RUN_FORKED(test_disposition_changed_while_watched, 10);
    RUN_FORKED(test_reset_handler, 10);
    RUN_FORKED(test_fork_child_gets_program_disposition_and_mask, 10);
    RUN_FORKED(test_siginfo_flag_with_ignore_ignores, 10);
    RUN_FORKED(test_siginfo_flag_with_default_terminates, 10);
    RUN_FORKED(test_ignored_watched_signal_does_not_interrupt_read, 10);
    return harness_finish();
}
