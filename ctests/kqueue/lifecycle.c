/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * lifecycle.c: what closing a kqueue and forking do. Closing frees
 * everything the kqueue held (descriptors, memory, timers, signal
 * watches); a fork child gets no usable kqueue and nothing of the
 * parent's is disturbed.
 */
#define _GNU_SOURCE
#include "kq_test.h"
#include "kq_preload.h"

#include <dlfcn.h>
#include <signal.h>

static int populated_kqueue(void) {
    int kq = kqueue();
    if (kq < 0) return -1;
    struct kevent ch[4];
    EV_SET(&ch[0], 1, EVFILT_TIMER, EV_ADD, 0, 1000, NULL);
    EV_SET(&ch[1], 2, EVFILT_TIMER, EV_ADD | EV_ONESHOT, NOTE_USECONDS, 10, NULL);
    EV_SET(&ch[2], 3, EVFILT_USER, EV_ADD, NOTE_TRIGGER, 0, NULL);
    EV_SET(&ch[3], SIGUSR1, EVFILT_SIGNAL, EV_ADD, 0, 0, NULL);
    if (kevent(kq, ch, 4, NULL, 0, NULL) != 0) {
        close(kq);
        return -1;
    }
    return kq;
}

static void test_10000_kqueues_opened_and_closed_leak_nothing(void) {
    signal(SIGUSR1, SIG_IGN);
    /* Warm up (first-use allocations), then measure. */
    for (int i = 0; i < 200; i++) close(populated_kqueue());
    libkqueue_drain_pending_close();
    int fds = harness_fd_count();
    long rss = harness_rss_kib();
    for (int i = 0; i < 10000; i++) {
        int kq = populated_kqueue();
        CHECK(kq >= 0);
        if (i % 100 == 0) {
            struct kevent ev[4];
            CHECK(kq_wait(kq, ev, 4, 0) >= 1); /* the user event at least */
        }
        close(kq);
    }
    libkqueue_drain_pending_close();
    int fds_after = harness_fd_count();
    long rss_after = harness_rss_kib();
    printf("  fds %d -> %d, RSS %ld KiB -> %ld KiB\n", fds, fds_after, rss, rss_after);
    CHECK_EQ(fds_after, fds);
    CHECK(rss_after - rss < 4096); /* flat: well under 1 KiB per kqueue */
    /* Signal watches were dropped with their kqueues: the disposition is back. */
    struct sigaction sa;
    CHECK_EQ(sigaction(SIGUSR1, NULL, &sa), 0);
    CHECK(sa.sa_handler == SIG_IGN);
}

static void test_kevent_on_closed_kqueue_ebadf_and_reclaimed(void) {
    libkqueue_drain_pending_close();
    int before = harness_fd_count();
    int kq = populated_kqueue();
    CHECK(kq >= 0);
    CHECK(harness_fd_count() > before);
    close(kq);
    struct kevent ev;
    CHECK_ERRNO(kevent(kq, NULL, 0, &ev, 1, NULL), EBADF);
    libkqueue_drain_pending_close();
    CHECK_EQ(harness_fd_count(), before);
}

struct waiter {
    int kq;
    atomic_int done;
    int result, err;
};

static void *wait_forever(void *p) {
    struct waiter *w = p;
    struct kevent ev;
    w->result = kevent(w->kq, NULL, 0, &ev, 1, NULL);
    w->err = errno;
    atomic_store(&w->done, 1);
    return NULL;
}

static void test_close_wakes_waiters_with_ebadf(void) {
    static struct waiter w[3];
    pthread_t t[3];
    int kq = populated_kqueue();
    CHECK(kq >= 0);
    struct kevent drain[4];
    kq_poll(kq, drain, 4); /* the triggered user event is level: delete it */
    CHECK_EQ(kq_change(kq, 3, EVFILT_USER, EV_DELETE, 0, 0, NULL), 0);
    for (int i = 0; i < 3; i++) {
        w[i].kq = kq;
        atomic_store(&w[i].done, 0);
        CHECK_EQ(pthread_create(&t[i], NULL, wait_forever, &w[i]), 0);
    }
    ms_sleep(50);
    close(kq);
    for (int i = 0; i < 3; i++) CHECK(wait_flag(&w[i].done, 1, 5000));
    for (int i = 0; i < 3; i++) {
        pthread_join(t[i], NULL);
        CHECK_EQ(w[i].result, -1);
        CHECK_EQ(w[i].err, EBADF);
    }
}

static void test_fork_child_gets_no_kqueue_parent_unaffected(void) {
    int kq = kqueue();
    CHECK(kq >= 0);
    CHECK_EQ(kq_change(kq, 7, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, NULL), 0);
    int p[2];
    CHECK(pipe(p) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        int status = 0;
        struct kevent ev;
        /* The parent's kqueue is not ours: kevent fails, close fails (not inherited). */
        if (!(kevent(kq, NULL, 0, &ev, 1, NULL) == -1 && errno == EBADF)) status |= 1;
        if (!(close(kq) == -1 && errno == EBADF)) status |= 2;
        /* A kqueue of its own works, timers included. */
        int mine = kqueue();
        if (mine < 0) status |= 4;
        EV_SET(&ev, 1, EVFILT_TIMER, EV_ADD | EV_ONESHOT, 0, 5, NULL);
        if (kevent(mine, &ev, 1, &ev, 1, NULL) != 1 || ev.filter != EVFILT_TIMER) status |= 8;
        /* Triggering here must not reach the parent. */
        EV_SET(&ev, 7, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL);
        (void)kevent(kq, &ev, 1, NULL, 0, NULL);
        close(mine);
        (void)!write(p[1], "x", 1);
        _exit(status);
    }
    int st = 0;
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    CHECK(WIFEXITED(st));
    CHECK_EQ(WEXITSTATUS(st), 0);
    struct kevent ev;
    CHECK_EQ(kq_poll(kq, &ev, 1), 0); /* the child's trigger did not arrive */
    CHECK_EQ(kq_change(kq, 7, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL), 0);
    CHECK_EQ(kq_poll(kq, &ev, 1), 1);
    CHECK_EQ(ev.ident, 7);
    close(p[0]); close(p[1]); close(kq);
}

/* Forks while another thread keeps adding and deleting knotes: each child
 * finds the kqueue's lists whole (its lock is taken across the fork), closes
 * what is behind them and sees EBADF; the parent's kqueue works after each
 * fork (the lock is given back). */
struct churn { int kq, fd; atomic_int stop; long rounds; };

static void *churn_knotes(void *arg) {
    struct churn *c = arg;
    while (!atomic_load(&c->stop)) {
        struct kevent ch[3];
        EV_SET(&ch[0], c->fd, EVFILT_READ, EV_ADD, 0, 0, NULL);
        EV_SET(&ch[1], 100 + (c->rounds & 63), EVFILT_TIMER, EV_ADD, 0, 1000, NULL);
        EV_SET(&ch[2], 200 + (c->rounds & 63), EVFILT_USER, EV_ADD, 0, 0, NULL);
        (void)kevent(c->kq, ch, 3, NULL, 0, NULL);
        EV_SET(&ch[0], c->fd, EVFILT_READ, EV_DELETE, 0, 0, NULL);
        EV_SET(&ch[1], 100 + ((c->rounds + 32) & 63), EVFILT_TIMER, EV_DELETE, 0, 0, NULL);
        EV_SET(&ch[2], 200 + ((c->rounds + 32) & 63), EVFILT_USER, EV_DELETE, 0, 0, NULL);
        (void)kevent(c->kq, ch, 3, NULL, 0, NULL);
        c->rounds++;
    }
    return NULL;
}

static void test_fork_while_another_thread_changes_the_kqueue(void) {
    int p[2];
    CHECK(pipe(p) == 0);
    struct churn c = { .kq = kqueue(), .fd = p[0] };
    CHECK(c.kq >= 0);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, churn_knotes, &c), 0);
    for (int i = 0; i < 200; i++) {
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
            struct kevent ev;
            _exit(kevent(c.kq, NULL, 0, &ev, 1, NULL) == -1 && errno == EBADF ? 0 : 1);
        }
        int st = 0;
        CHECK_EQ(waitpid(pid, &st, 0), pid);
        CHECK(WIFEXITED(st));
        CHECK_EQ(WEXITSTATUS(st), 0);
        CHECK_EQ(kq_change(c.kq, 7, EVFILT_USER, EV_ADD | EV_ONESHOT, NOTE_TRIGGER, 0, NULL), 0);
        struct kevent ev;
        CHECK_EQ(kq_poll(c.kq, &ev, 1), 1);
    }
    atomic_store(&c.stop, 1);
    pthread_join(t, NULL);
    CHECK(c.rounds > 0);
    close(c.kq); close(p[0]); close(p[1]);
}

/* close() of a kqueue while another thread closes other descriptors (under
 * the preload library each close visits every kqueue under its lock): the
 * closed kqueue's own descriptors (its wake-up eventfd among them) are
 * released by the time both calls are done, not left for a later kqueue().
 * Linked, the library does not see close() and frees a closed kqueue at the
 * next kqueue() or kevent() (one kqueue's worth may stay open meanwhile). */
static int count_eventfds(void) {
    int n = 0;
    for (int fd = 0; fd < 1024; fd++) {
        char path[64], link[128];
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        ssize_t k = readlink(path, link, sizeof link - 1);
        if (k <= 0) continue;
        link[k] = 0;
        if (strstr(link, "eventfd")) n++;
    }
    return n;
}

struct closer { atomic_int stop; };

static void *dup_and_close(void *arg) {
    struct closer *c = arg;
    int fd = open("/dev/null", O_RDONLY);
    while (!atomic_load(&c->stop)) {
        int d = dup(fd);
        if (d >= 0) close(d);
    }
    close(fd);
    return NULL;
}

static void test_closed_kqueue_frees_its_descriptors_while_others_close(void) {
    int base = count_eventfds();
    for (int i = 0; i < 300; i++) {
        struct closer c = { 0 };
        int kq = kqueue();
        CHECK(kq >= 0);
        CHECK_EQ(kq_change(kq, 1, EVFILT_USER, EV_ADD, NOTE_TRIGGER, 0, NULL), 0);
        pthread_t t;
        CHECK_EQ(pthread_create(&t, NULL, dup_and_close, &c), 0);
        nanosleep(&(struct timespec){0, 200000}, NULL);
        CHECK_EQ(close(kq), 0);
        atomic_store(&c.stop, 1);
        pthread_join(t, NULL);
        CHECK(count_eventfds() <= base + (kq_under_preload() ? 0 : 1));
    }
}

/* fork() from a signal handler that interrupted kevent() in this thread:
 * fork's prepare step must not wait for the kqueue lock the interrupted
 * call holds (it would wait for itself). */
static volatile sig_atomic_t forks_done;

static void fork_in_handler(int sig) {
    (void)sig;
    int e = errno;
    pid_t p = fork();
    if (p == 0) _exit(0);
    if (p > 0 && waitpid(p, NULL, 0) == p) forks_done++;
    errno = e;
}

struct pelter { pthread_t target; atomic_int stop; };

static void *pelt_with_signals(void *arg) {
    struct pelter *p = arg;
    while (!atomic_load(&p->stop)) {
        pthread_kill(p->target, SIGUSR1);
        ms_sleep(1);
    }
    return NULL;
}

static void test_fork_from_a_signal_handler_inside_kevent(void) {
    int kq = kqueue();
    CHECK(kq >= 0);
    CHECK_EQ(kq_change(kq, 1, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, NULL), 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fork_in_handler;
    sa.sa_flags = SA_RESTART;
    CHECK_EQ(sigaction(SIGUSR1, &sa, NULL), 0);
    struct pelter p = { .target = pthread_self() };
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, pelt_with_signals, &p), 0);
    struct kevent ch, ev;
    EV_SET(&ch, 1, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL);
    struct timespec zero = { 0, 0 };
    while (forks_done < 100) CHECK(kevent(kq, &ch, 1, &ev, 1, &zero) >= 0);
    atomic_store(&p.stop, 1);
    pthread_join(t, NULL);
    signal(SIGUSR1, SIG_DFL);
    close(kq);
}

/* Linked without the preload library, the library does not see a kqueue's
 * close(): a fork must not close the number, which the program may have
 * given to another file since (BSD only leaves kqueues out of the child). */
static void test_fork_child_keeps_the_reused_number_of_a_closed_kqueue(void) {
    int keep = kqueue(), gone = kqueue();
    CHECK(keep >= 0 && gone >= 0);
    close(gone);
    int p[2];
    CHECK(pipe(p) == 0);
    CHECK_EQ(dup2(p[0], gone), gone); /* the number is now the pipe's read end */
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        char c;
        close(p[1]);
        _exit(read(gone, &c, 1) == 1 && c == 'x' ? 0 : 1);
    }
    CHECK_EQ(write(p[1], "x", 1), 1);
    int st = 0;
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    CHECK(WIFEXITED(st));
    CHECK_EQ(WEXITSTATUS(st), 0);
    /* In the parent the number is the pipe, not a kqueue. */
    struct kevent ev;
    CHECK_ERRNO(kq_poll(gone, &ev, 1), EBADF);
    close(gone); close(p[0]); close(p[1]); close(keep);
}

/* A fork child's first use of the library from several threads at once. The
 * Swift runtime initialises lazily under locks that record the owner's thread
 * id, which the runtime caches per thread: in a child, the only thread
 * inherits the forking thread's cache. Without the library's repair a lock
 * that thread held while a new thread waited could never be released, and
 * almost every such child hung. This process has not used the library yet
 * (each test runs in its own fork), so every grandchild starts from nothing.
 * The premise: the main thread's cache already holds an id, because the
 * runtime runs a one-time initialisation there when the library loads. */
static atomic_int first_use_go;

static void *first_use(void *arg) {
    (void)arg;
    while (!atomic_load(&first_use_go)) {
    }
    int kq = kqueue();
    if (kq < 0) return (void *)1;
    struct kevent ch;
    EV_SET(&ch, 1, EVFILT_USER, EV_ADD, NOTE_TRIGGER, 0, NULL);
    int ok = kevent(kq, &ch, 1, NULL, 0, NULL) == 0;
    close(kq);
    return ok ? NULL : (void *)1;
}

static void test_forked_children_first_use_the_library_from_four_threads(void) {
    /* The repair reaches the runtime only when it is linked into libbsdshim
     * (release builds); a build against the shared Swift runtime (debug and
     * sanitizer builds) keeps the runtime's own behaviour. */
    void *shared_runtime = dlopen("libswiftCore.so", RTLD_NOW | RTLD_NOLOAD);
    if (shared_runtime) {
        dlclose(shared_runtime);
        printf("  skipped: the Swift runtime is a shared library in this build\n");
        return;
    }
    int hung = 0, failed = 0;
    for (int round = 0; round < 24; round++) {
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
            alarm(4);
            pthread_t t[3];
            for (int i = 0; i < 3; i++)
                if (pthread_create(&t[i], NULL, first_use, NULL) != 0) _exit(2);
            atomic_store(&first_use_go, 1);
            int bad = first_use(NULL) != NULL;
            for (int i = 0; i < 3; i++) {
                void *r;
                pthread_join(t[i], &r);
                bad |= r != NULL;
            }
            _exit(bad);
        }
        int st = 0;
        CHECK_EQ(waitpid(pid, &st, 0), pid);
        if (WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM) hung++;
        else if (WIFSIGNALED(st)) {
            fprintf(stderr, "  child %d killed by signal %d\n", round, WTERMSIG(st));
            failed++;
        } else if (WEXITSTATUS(st) != 0) failed++;
    }
    if (hung || failed) fprintf(stderr, "  of 24 children: %d hung, %d failed or crashed\n", hung, failed);
    CHECK_EQ(hung, 0);
    CHECK_EQ(failed, 0);
}

int main(void) {
    RUN_FORKED(test_10000_kqueues_opened_and_closed_leak_nothing, 120);
    RUN_FORKED(test_kevent_on_closed_kqueue_ebadf_and_reclaimed, 20);
    RUN_FORKED(test_close_wakes_waiters_with_ebadf, 20);
    RUN_FORKED(test_fork_child_gets_no_kqueue_parent_unaffected, 20);
    RUN_FORKED(test_fork_child_keeps_the_reused_number_of_a_closed_kqueue, 20);
    RUN_FORKED(test_fork_while_another_thread_changes_the_kqueue, 60);
    RUN_FORKED(test_closed_kqueue_frees_its_descriptors_while_others_close, 60);
    RUN_FORKED(test_fork_from_a_signal_handler_inside_kevent, 60);
    RUN_FORKED(test_forked_children_first_use_the_library_from_four_threads, 120);
    return harness_finish();
}
