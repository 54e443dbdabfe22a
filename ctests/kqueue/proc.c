/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * proc.c: EVFILT_PROC with real child processes: NOTE_EXIT with the wait
 * status, no reaping behind the program's back, ESRCH, arming by re-adding,
 * and the notes Linux cannot give (refused, never silently accepted).
 */
#define _GNU_SOURCE
#include "kq_test.h"

#include <sched.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
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

/* 1 if the kernel keeps a reaped process's exit status with its pidfd
 * (PIDFD_GET_INFO with PIDFD_INFO_EXIT, Linux 6.15). */
static int kernel_keeps_exit_status(void) {
    pid_t pid = fork();
    if (pid == 0) _exit(5);
    int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
    waitpid(pid, NULL, 0);
    struct { uint64_t mask, cgroupid; uint32_t ids[11]; int32_t exit_code; } info;
    memset(&info, 0, sizeof info);
    info.mask = 1u << 3;
    int ok = pfd >= 0 && ioctl(pfd, _IOWR(0xFF, 11, info), &info) == 0 && (info.mask & (1u << 3)) &&
             info.exit_code == 5 << 8;
    if (pfd >= 0) close(pfd);
    return ok;
}

/* The program reaps the child before it looks at the kqueue (a SIGCHLD
 * handler, a wait loop): BSD still reports the status, captured at exit. */
static void test_proc_exit_status_after_the_program_reaped_it(void) {
    int keeps = kernel_keeps_exit_status();
    int kq = kqueue();
    pid_t pid = spawn(9, 30);
    CHECK(pid > 0);
    CHECK_EQ(kq_change(kq, (uintptr_t)pid, EVFILT_PROC, EV_ADD, NOTE_EXIT, 0, NULL), 0);
    int st = -1;
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    CHECK_EQ(st, 9 << 8);
    struct kevent ev;
    CHECK_EQ(kq_wait(kq, &ev, 1, 5000), 1);
    CHECK_EQ(ev.fflags, NOTE_EXIT);
    if (keeps) CHECK_EQ(ev.data, 9 << 8);
    else printf("  (this kernel forgets a reaped status: data %ld)\n", (long)ev.data);
    close(kq);
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

/* A child that waits for a byte on `go`, then runs `what`: 'f' forks a
 * grandchild that exits at once (and reaps it), 'e' execs /bin/true. */
static pid_t spawn_waiting(int go, char what) {
    pid_t pid = fork();
    if (pid == 0) {
        char b;
        if (read(go, &b, 1) != 1) _exit(9);
        if (what == 'f') {
            pid_t g = fork();
            if (g == 0) {
                ms_sleep(50);
                _exit(0);
            }
            waitpid(g, NULL, 0);
            _exit(0);
        }
        execl("/bin/true", "true", (char *)NULL);
        _exit(8);
    }
    return pid;
}

/* 1 if the kernel lets us subscribe to process events (CAP_NET_ADMIN). */
static int connector_permitted(void) {
    int kq = kqueue();
    int r = kq_change(kq, (uintptr_t)getpid(), EVFILT_PROC, EV_ADD, NOTE_FORK, 0, NULL);
    int e = errno;
    close(kq);
    return r == 0 ? 1 : (e == EOPNOTSUPP ? 0 : -1);
}

static void test_proc_note_fork_and_exec(void) {
    int permitted = connector_permitted();
    CHECK(permitted >= 0);
    if (!permitted) {
        printf("  skipped: no permission for the process-events connector\n");
        return;
    }
    int go[2];
    CHECK(pipe(go) == 0);
    int kq = kqueue();
    pid_t a = spawn_waiting(go[0], 'f'), b = spawn_waiting(go[0], 'e');
    CHECK_EQ(kq_change(kq, (uintptr_t)a, EVFILT_PROC, EV_ADD, NOTE_FORK | NOTE_EXIT, 0, NULL), 0);
    CHECK_EQ(kq_change(kq, (uintptr_t)b, EVFILT_PROC, EV_ADD, NOTE_EXEC | NOTE_EXIT, 0, NULL), 0);
    CHECK_EQ(write(go[1], "ab", 2), 2);
    unsigned int seen_a = 0, seen_b = 0;
    for (int i = 0; i < 8 && !((seen_a & NOTE_EXIT) && (seen_b & NOTE_EXIT)); i++) {
        struct kevent ev;
        if (kq_wait(kq, &ev, 1, 3000) != 1) break;
        if (ev.ident == (uintptr_t)a) seen_a |= ev.fflags;
        if (ev.ident == (uintptr_t)b) seen_b |= ev.fflags;
    }
    CHECK_EQ(seen_a, NOTE_FORK | NOTE_EXIT);
    CHECK_EQ(seen_b, NOTE_EXEC | NOTE_EXIT);
    CHECK_EQ(waitpid(a, NULL, 0), a);
    CHECK_EQ(waitpid(b, NULL, 0), b);
    close(go[0]); close(go[1]); close(kq);
}

static void test_proc_note_track_follows_children(void) {
    int permitted = connector_permitted();
    CHECK(permitted >= 0);
    if (!permitted) {
        printf("  skipped: no permission for the process-events connector\n");
        return;
    }
    int go[2];
    CHECK(pipe(go) == 0);
    int kq = kqueue();
    pid_t a = spawn_waiting(go[0], 'f');
    int tag;
    CHECK_EQ(kq_change(kq, (uintptr_t)a, EVFILT_PROC, EV_ADD, NOTE_TRACK | NOTE_FORK | NOTE_EXIT, 0, &tag), 0);
    CHECK_EQ(write(go[1], "a", 1), 1);
    pid_t grandchild = 0;
    int child_exit = 0, parent_fork = 0, parent_exit = 0;
    for (int i = 0; i < 8 && !(parent_exit && child_exit); i++) {
        struct kevent ev;
        if (kq_wait(kq, &ev, 1, 3000) != 1) break;
        CHECK(ev.udata == &tag); /* the child knote copies the parent's udata */
        if (ev.ident == (uintptr_t)a) {
            if (ev.fflags & NOTE_FORK) parent_fork = 1;
            if (ev.fflags & NOTE_EXIT) parent_exit = 1;
        } else {
            if (ev.fflags & NOTE_CHILD) {
                CHECK_EQ(ev.data, a); /* NOTE_CHILD: data is the parent's pid */
                grandchild = (pid_t)ev.ident;
            }
            if (ev.fflags & NOTE_EXIT) child_exit = 1;
        }
    }
    CHECK(grandchild > 0);
    CHECK(parent_fork);
    CHECK(child_exit);
    CHECK(parent_exit);
    CHECK_EQ(waitpid(a, NULL, 0), a);
    close(go[0]); close(go[1]); close(kq);
}

static void test_proc_connector_refused_without_privilege(void) {
    /* In a new user namespace the kernel gives no process events: refused, not silent. */
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        if (unshare(CLONE_NEWUSER) != 0) _exit(77);
        int kq = kqueue();
        if (kq_change(kq, (uintptr_t)getppid(), EVFILT_PROC, EV_ADD, NOTE_FORK, 0, NULL) == -1 && errno == EOPNOTSUPP)
            _exit(0);
        _exit(1);
    }
    int st = 0;
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    CHECK(WIFEXITED(st));
    if (WEXITSTATUS(st) == 77) {
        printf("  skipped: cannot make a user namespace here\n");
        return;
    }
    CHECK_EQ(WEXITSTATUS(st), 0);
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
    RUN(test_proc_exit_status_after_the_program_reaped_it);
    RUN(test_proc_nonexistent_pid_esrch);
    RUN(test_proc_note_fork_and_exec);
    RUN(test_proc_note_track_follows_children);
    RUN(test_proc_connector_refused_without_privilege);
    RUN(test_proc_without_note_exit_arms_nothing_until_readded);
    RUN(test_proc_disable_then_enable_delivers);
    RUN(test_proc_two_kqueues_both_see_the_exit);
    RUN(test_proc_delete_before_exit_closes_its_descriptor);
    return harness_finish();
}
