/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * fork.c (run under LD_PRELOAD=libbsdshim-preload.so): fork() returns in the
 * child of a process with kqueues, watched signals and a /dev/dmover
 * descriptor. The library's fork-child handlers close its descriptors; under
 * the preload library close() is interposed and tells kqueue, whose locks
 * those handlers hold, so they must close past it. Each case runs in a fresh
 * process (RUN_FORKED), so the handlers are installed in the order it says.
 */
#define _GNU_SOURCE
#include <signal.h>
#include "../kqueue/kq_test.h"

/* The child's exit status, or -1 if it did not exit within 10 s (killed). */
static int reap_within_10s(pid_t pid) {
    int st = 0;
    for (int i = 0; i < 1000; i++) {
        if (waitpid(pid, &st, WNOHANG) == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
        ms_sleep(10);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return -1;
}

/* In the child: the parent's kqueue is not inherited, a new one works. */
static int child_checks(int parent_kq) {
    int status = 0;
    struct kevent ev;
    struct timespec zero = {0, 0};
    if (!(kevent(parent_kq, NULL, 0, &ev, 1, &zero) == -1 && errno == EBADF)) status |= 1;
    int mine = kqueue();
    if (mine < 0) return status | 2;
    EV_SET(&ev, 1, EVFILT_TIMER, EV_ADD | EV_ONESHOT, 0, 5, NULL);
    if (kevent(mine, &ev, 1, &ev, 1, NULL) != 1 || ev.filter != EVFILT_TIMER) status |= 4;
    if (close(mine) != 0) status |= 8;
    return status;
}

/* A kqueue watching a signal, a timer and a pipe. */
static int busy_kqueue(int p[2]) {
    int kq = kqueue();
    if (kq < 0 || pipe(p) != 0) return -1;
    signal(SIGUSR1, SIG_IGN);
    struct kevent ch[3];
    EV_SET(&ch[0], SIGUSR1, EVFILT_SIGNAL, EV_ADD, 0, 0, NULL);
    EV_SET(&ch[1], 1, EVFILT_TIMER, EV_ADD, 0, 60000, NULL);
    EV_SET(&ch[2], p[0], EVFILT_READ, EV_ADD, 0, 0, NULL);
    return kevent(kq, ch, 3, NULL, 0, NULL) == 0 ? kq : -1;
}

static void fork_and_check(int kq) {
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) _exit(child_checks(kq));
    CHECK_EQ(reap_within_10s(pid), 0);
    /* The parent's kqueue is untouched. */
    struct kevent ev;
    EV_SET(&ev, 7, EVFILT_USER, EV_ADD | EV_ONESHOT, NOTE_TRIGGER, 0, NULL);
    CHECK_EQ(kevent(kq, &ev, 1, &ev, 1, NULL), 1);
    CHECK_EQ(ev.ident, 7);
}

static void test_fork_with_a_busy_kqueue(void) {
    int p[2], kq = busy_kqueue(p);
    CHECK(kq >= 0);
    fork_and_check(kq);
    close(p[0]); close(p[1]); close(kq);
}

static void test_fork_with_dmover_opened_before_the_kqueue(void) {
    int dm = open("/dev/dmover", O_RDWR);
    CHECK(dm >= 0);
    int p[2], kq = busy_kqueue(p);
    CHECK(kq >= 0);
    fork_and_check(kq);
    close(p[0]); close(p[1]); close(kq); close(dm);
}

static void test_fork_with_dmover_opened_after_the_kqueue(void) {
    int p[2], kq = busy_kqueue(p);
    CHECK(kq >= 0);
    int dm = open("/dev/dmover", O_RDWR);
    CHECK(dm >= 0);
    fork_and_check(kq);
    close(p[0]); close(p[1]); close(kq); close(dm);
}

int main(void) {
    RUN_FORKED(test_fork_with_a_busy_kqueue, 30);
    RUN_FORKED(test_fork_with_dmover_opened_before_the_kqueue, 30);
    RUN_FORKED(test_fork_with_dmover_opened_after_the_kqueue, 30);
    return harness_finish();
}
