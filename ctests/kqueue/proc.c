/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * proc.c: EVFILT_PROC with real child processes: NOTE_EXIT with the wait
 * status, no reaping behind the program's back, ESRCH, arming by re-adding,
 * and the notes Linux cannot give (refused, never silently accepted).
 */
#define _GNU_SOURCE
#include "kq_test.h"

#include <signal.h>

/* A child that exits with `code` after `ms` milliseconds (or kills itself with SIGKILL if code < 0). */
static pid_t spawn(int code, long ms) {
    pid_t pid = fork();
    if (pid == 0) {
        ms_sleep(ms);
        if (code < 0) raise(SIGKILL);
        _exit(code);
    }
    return pid;
}

static void test_proc_exit_status_of_children(void) {
    int codes[] = {0, 64, -1};
    int want[] = {0, 64 << 8, SIGKILL};
    for (int i = 0; i < 3; i++) {
        int kq = kqueue();
        pid_t pid = spawn(codes[i], 30);
        CHECK(pid > 0);
        int tag;
        CHECK_EQ(kq_change(kq, (uintptr_t)pid, EVFILT_PROC, EV_ADD, NOTE_EXIT, 0, &tag), 0);
        struct kevent ev[2];
        CHECK_EQ(kq_wait(kq, ev, 2, 5000), 1);
        CHECK_EQ(ev[0].ident, (uintptr_t)pid);
        CHECK_EQ(ev[0].filter, EVFILT_PROC);
        CHECK_EQ(ev[0].flags, EV_ADD | EV_ONESHOT | EV_CLEAR | EV_EOF);
        CHECK_EQ(ev[0].fflags, NOTE_EXIT);
        CHECK_EQ(ev[0].data, want[i]);
        CHECK(ev[0].udata == &tag);
        /* Delivered once, then gone. */
        CHECK_EQ(kq_poll(kq, ev, 2), 0);
        CHECK_ERRNO(kq_change(kq, (uintptr_t)pid, EVFILT_PROC, EV_DELETE, 0, 0, NULL), ENOENT);
        /* The child was not reaped behind our back: waitpid still gets it. */
        int st = -1;
        CHECK_EQ(waitpid(pid, &st, 0), pid);
        CHECK_EQ(st, want[i]);
        close(kq);
    }
}

static void test_proc_already_exited_zombie_fires_at_once(void) {
    int kq = kqueue();
    pid_t pid = spawn(7, 0);
    CHECK(pid > 0);
    siginfo_t si;
    CHECK_EQ(waitid(P_PID, pid, &si, WEXITED | WNOWAIT), 0); /* now a zombie */
    CHECK_EQ(kq_change(kq, (uintptr_t)pid, EVFILT_PROC, EV_ADD, NOTE_EXIT, 0, NULL), 0);
    struct kevent ev;
    CHECK_EQ(kq_wait(kq, &ev, 1, 2000), 1);
    CHECK_EQ(ev.data, 7 << 8);
    CHECK_EQ(waitpid(pid, NULL, 0), pid);
    close(kq);
}

static void test_proc_nonexistent_pid_esrch(void) {
    int kq = kqueue();
    CHECK_ERRNO(kq_change(kq, 0x7ffffff0, EVFILT_PROC, EV_ADD, NOTE_EXIT, 0, NULL), ESRCH);
    pid_t pid = spawn(0, 0);
    CHECK_EQ(waitpid(pid, NULL, 0), pid); /* reaped: gone */
    CHECK_ERRNO(kq_change(kq, (uintptr_t)pid, EVFILT_PROC, EV_ADD, NOTE_EXIT, 0, NULL), ESRCH);
    close(kq);
}

static void test_proc_fork_exec_track_refused(void) {
    int kq = kqueue();
    pid_t pid = spawn(0, 200);
    CHECK_ERRNO(kq_change(kq, (uintptr_t)pid, EVFILT_PROC, EV_ADD, NOTE_EXIT | NOTE_FORK, 0, NULL), EOPNOTSUPP);
    CHECK_ERRNO(kq_change(kq, (uintptr_t)pid, EVFILT_PROC, EV_ADD, NOTE_EXEC, 0, NULL), EOPNOTSUPP);
    CHECK_ERRNO(kq_change(kq, (uintptr_t)pid, EVFILT_PROC, EV_ADD, NOTE_EXIT | NOTE_TRACK, 0, NULL), EOPNOTSUPP);
    /* Nothing half-registered was left behind. */
    CHECK_ERRNO(kq_change(kq, (uintptr_t)pid, EVFILT_PROC, EV_DELETE, 0, 0, NULL), ENOENT);
    CHECK_EQ(waitpid(pid, NULL, 0), pid);
    close(kq);
}

static void test_proc_without_note_exit_arms_nothing_until_readded(void) {
    int kq = kqueue();
    pid_t pid = spawn(3, 0);
    CHECK_EQ(kq_change(kq, (uintptr_t)pid, EVFILT_PROC, EV_ADD, 0, 0, NULL), 0);
    ms_sleep(100); /* exited by now */
    struct kevent ev;
    CHECK_EQ(kq_poll(kq, &ev, 1), 0);
    CHECK_EQ(kq_change(kq, (uintptr_t)pid, EVFILT_PROC, EV_ADD, NOTE_EXIT, 0, NULL), 0);
    CHECK_EQ(kq_wait(kq, &ev, 1, 2000), 1);
    CHECK_EQ(ev.fflags, NOTE_EXIT);
    CHECK_EQ(ev.data, 3 << 8);
    CHECK_EQ(waitpid(pid, NULL, 0), pid);
    close(kq);
}

static void test_proc_disable_then_enable_delivers(void) {
    int kq = kqueue();
    pid_t pid = spawn(5, 0);
    CHECK_EQ(kq_change(kq, (uintptr_t)pid, EVFILT_PROC, EV_ADD | EV_DISABLE, NOTE_EXIT, 0, NULL), 0);
    ms_sleep(100);
    struct kevent ev;
    CHECK_EQ(kq_poll(kq, &ev, 1), 0);
    CHECK_EQ(kq_change(kq, (uintptr_t)pid, EVFILT_PROC, EV_ENABLE, 0, 0, NULL), 0);
    CHECK_EQ(kq_wait(kq, &ev, 1, 2000), 1);
    CHECK_EQ(ev.data, 5 << 8);
    CHECK_EQ(waitpid(pid, NULL, 0), pid);
    close(kq);
}

static void test_proc_two_kqueues_both_see_the_exit(void) {
    int a = kqueue(), b = kqueue();
    pid_t pid = spawn(0, 30);
    CHECK_EQ(kq_change(a, (uintptr_t)pid, EVFILT_PROC, EV_ADD, NOTE_EXIT, 0, NULL), 0);
    CHECK_EQ(kq_change(b, (uintptr_t)pid, EVFILT_PROC, EV_ADD, NOTE_EXIT, 0, NULL), 0);
    struct kevent ev;
    CHECK_EQ(kq_wait(a, &ev, 1, 5000), 1);
    CHECK_EQ(kq_wait(b, &ev, 1, 5000), 1);
    CHECK_EQ(waitpid(pid, NULL, 0), pid);
    close(a);
    close(b);
}

static void test_proc_delete_before_exit_closes_its_descriptor(void) {
    libkqueue_drain_pending_close(); /* reclaim earlier tests' closed kqueues first */
    int before = harness_fd_count();
    int kq = kqueue();
    pid_t pid = spawn(0, 50);
    CHECK_EQ(kq_change(kq, (uintptr_t)pid, EVFILT_PROC, EV_ADD, NOTE_EXIT, 0, NULL), 0);
    CHECK_EQ(kq_change(kq, (uintptr_t)pid, EVFILT_PROC, EV_DELETE, 0, 0, NULL), 0);
    struct kevent ev;
    CHECK_EQ(kq_wait(kq, &ev, 1, 200), 0);
    CHECK_EQ(waitpid(pid, NULL, 0), pid);
    close(kq);
    libkqueue_drain_pending_close();
    CHECK_EQ(harness_fd_count(), before);
}

int main(void) {
    RUN(test_proc_exit_status_of_children);
    RUN(test_proc_already_exited_zombie_fires_at_once);
    RUN(test_proc_nonexistent_pid_esrch);
    RUN(test_proc_fork_exec_track_refused);
    RUN(test_proc_without_note_exit_arms_nothing_until_readded);
    RUN(test_proc_disable_then_enable_delivers);
    RUN(test_proc_two_kqueues_both_see_the_exit);
    RUN(test_proc_delete_before_exit_closes_its_descriptor);
    return harness_finish();
}
