/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * flags.c: EV_ONESHOT, EV_CLEAR, EV_DISPATCH, EV_DISABLE/EV_ENABLE, EV_DELETE
 * and EV_RECEIPT on descriptor knotes (pipes) and user events, and the flags
 * an event carries back.
 */
#define _GNU_SOURCE
#include "kq_test.h"

static int tag;

/* A kqueue and a non-blocking pipe. */
static int setup(int p[2]) {
    if (pipe2(p, O_NONBLOCK) != 0) return -1;
    return kqueue();
}

static void teardown(int kq, int p[2]) {
    close(p[0]);
    close(p[1]);
    close(kq);
}

static void test_level_triggered_repeats_until_drained(void) {
    int p[2], kq = setup(p);
    CHECK(kq >= 0);
    CHECK_EQ(kq_change(kq, p[0], EVFILT_READ, EV_ADD, 0, 0, NULL), 0);
    CHECK_EQ(write(p[1], "hello", 5), 5);
    struct kevent ev;
    CHECK_EQ(kq_wait(kq, &ev, 1, 2000), 1);
    CHECK_EQ(ev.data, 5);
    CHECK_EQ(kq_poll(kq, &ev, 1), 1);
    CHECK_EQ(ev.data, 5);
    CHECK_EQ(drain(p[0], 0), 5);
    CHECK_EQ(kq_poll(kq, &ev, 1), 0);
    teardown(kq, p);
}

static void test_oneshot_fires_once_then_is_deleted(void) {
    int p[2], kq = setup(p);
    CHECK_EQ(kq_change(kq, p[0], EVFILT_READ, EV_ADD | EV_ONESHOT, 0, 0, &tag), 0);
    CHECK_EQ(write(p[1], "x", 1), 1);
    struct kevent ev;
    CHECK_EQ(kq_wait(kq, &ev, 1, 2000), 1);
    CHECK_EQ(ev.flags, EV_ADD | EV_ONESHOT);
    CHECK(ev.udata == &tag);
    CHECK_EQ(kq_poll(kq, &ev, 1), 0);
    CHECK_EQ(write(p[1], "y", 1), 1);
    CHECK_EQ(kq_wait(kq, &ev, 1, 50), 0);
    CHECK_ERRNO(kq_change(kq, p[0], EVFILT_READ, EV_DELETE, 0, 0, NULL), ENOENT);
    teardown(kq, p);
}

static void test_user_oneshot_fires_once_then_is_deleted(void) {
    int kq = kqueue();
    CHECK_EQ(kq_change(kq, 3, EVFILT_USER, EV_ADD | EV_ONESHOT, 0, 0, NULL), 0);
    CHECK_EQ(kq_change(kq, 3, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL), 0);
    struct kevent ev;
    CHECK_EQ(kq_poll(kq, &ev, 1), 1);
    CHECK_EQ(ev.flags, EV_ADD | EV_ONESHOT);
    CHECK_EQ(kq_poll(kq, &ev, 1), 0);
    CHECK_ERRNO(kq_change(kq, 3, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL), ENOENT);
    CHECK_ERRNO(kq_change(kq, 3, EVFILT_USER, EV_DELETE, 0, 0, NULL), ENOENT);
    close(kq);
}

static void test_clear_is_edge_triggered(void) {
    int p[2], kq = setup(p);
    CHECK_EQ(kq_change(kq, p[0], EVFILT_READ, EV_ADD | EV_CLEAR, 0, 0, NULL), 0);
    CHECK_EQ(put_bytes(p[1], 10), 10);
    struct kevent ev;
    CHECK_EQ(kq_wait(kq, &ev, 1, 2000), 1);
    CHECK_EQ(ev.flags, EV_ADD | EV_CLEAR);
    CHECK_EQ(ev.data, 10);
    /* Not reported again while nothing new arrives, even after a partial read. */
    CHECK_EQ(kq_poll(kq, &ev, 1), 0);
    CHECK_EQ(drain(p[0], 4), 4);
    CHECK_EQ(kq_wait(kq, &ev, 1, 50), 0);
    /* New data: one new event with everything readable. */
    CHECK_EQ(put_bytes(p[1], 1), 1);
    CHECK_EQ(kq_wait(kq, &ev, 1, 2000), 1);
    CHECK_EQ(ev.data, 7);
    CHECK_EQ(kq_poll(kq, &ev, 1), 0);
    teardown(kq, p);
}

static void test_dispatch_delivers_once_until_enabled(void) {
    int p[2], kq = setup(p);
    CHECK_EQ(kq_change(kq, p[0], EVFILT_READ, EV_ADD | EV_DISPATCH, 0, 0, &tag), 0);
    CHECK_EQ(write(p[1], "ab", 2), 2);
    struct kevent ev;
    CHECK_EQ(kq_wait(kq, &ev, 1, 2000), 1);
    CHECK_EQ(ev.flags, EV_ADD | EV_DISPATCH);
    CHECK_EQ(ev.data, 2);
    /* Disabled now: the data still pending is not reported. */
    CHECK_EQ(kq_poll(kq, &ev, 1), 0);
    CHECK_EQ(write(p[1], "c", 1), 1);
    CHECK_EQ(kq_wait(kq, &ev, 1, 50), 0);
    /* Re-enabled: reported again (the data is still there), once. */
    CHECK_EQ(kq_change(kq, p[0], EVFILT_READ, EV_ENABLE, 0, 0, NULL), 0);
    CHECK_EQ(kq_wait(kq, &ev, 1, 2000), 1);
    CHECK_EQ(ev.flags, EV_ADD | EV_DISPATCH);
    CHECK_EQ(ev.data, 3);
    CHECK(ev.udata == &tag);
    CHECK_EQ(kq_poll(kq, &ev, 1), 0);
    /* Still registered (dispatch does not delete). */
    CHECK_EQ(kq_change(kq, p[0], EVFILT_READ, EV_DELETE, 0, 0, NULL), 0);
    teardown(kq, p);
}

static void test_user_dispatch_delivers_once_until_enabled(void) {
    int kq = kqueue();
    CHECK_EQ(kq_change(kq, 1, EVFILT_USER, EV_ADD | EV_CLEAR | EV_DISPATCH, 0, 0, NULL), 0);
    CHECK_EQ(kq_change(kq, 1, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL), 0);
    struct kevent ev;
    CHECK_EQ(kq_poll(kq, &ev, 1), 1);
    CHECK_EQ(ev.flags, EV_ADD | EV_CLEAR | EV_DISPATCH);
    CHECK_EQ(kq_poll(kq, &ev, 1), 0);
    CHECK_EQ(kq_change(kq, 1, EVFILT_USER, EV_ENABLE, 0, 0, NULL), 0);
    CHECK_EQ(kq_poll(kq, &ev, 1), 0); /* EV_CLEAR: the old trigger was consumed */
    CHECK_EQ(kq_change(kq, 1, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL), 0);
    CHECK_EQ(kq_poll(kq, &ev, 1), 1);
    CHECK_EQ(kq_poll(kq, &ev, 1), 0);
    close(kq);
}

static void test_add_disabled_never_delivers(void) {
    int p[2], kq = setup(p);
    CHECK_EQ(write(p[1], "x", 1), 1);
    CHECK_EQ(kq_change(kq, p[0], EVFILT_READ, EV_ADD | EV_DISABLE, 0, 0, NULL), 0);
    struct kevent ev;
    CHECK_EQ(kq_wait(kq, &ev, 1, 50), 0);
    CHECK_EQ(write(p[1], "y", 1), 1);
    CHECK_EQ(kq_wait(kq, &ev, 1, 50), 0);
    CHECK_EQ(kq_change(kq, p[0], EVFILT_READ, EV_ENABLE, 0, 0, NULL), 0);
    CHECK_EQ(kq_wait(kq, &ev, 1, 2000), 1);
    CHECK_EQ(ev.flags, EV_ADD);
    CHECK_EQ(ev.data, 2);
    teardown(kq, p);
}

static void test_user_add_disabled_never_delivers(void) {
    int kq = kqueue();
    CHECK_EQ(kq_change(kq, 1, EVFILT_USER, EV_ADD | EV_DISABLE, NOTE_TRIGGER, 0, NULL), 0);
    CHECK_EQ(kq_pending(kq), 0);
    CHECK_EQ(kq_change(kq, 1, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL), 0);
    CHECK_EQ(kq_pending(kq), 0);
    close(kq);
}

static void test_disable_drops_pending_event(void) {
    int p[2], kq = setup(p);
    CHECK_EQ(kq_change(kq, p[0], EVFILT_READ, EV_ADD, 0, 0, NULL), 0);
    CHECK_EQ(write(p[1], "x", 1), 1);
    ms_sleep(20); /* let the readiness reach the kqueue */
    CHECK_EQ(kq_change(kq, p[0], EVFILT_READ, EV_DISABLE, 0, 0, NULL), 0);
    struct kevent ev;
    CHECK_EQ(kq_wait(kq, &ev, 1, 50), 0);
    teardown(kq, p);
}

static void test_user_disable_drops_pending_trigger(void) {
    int kq = kqueue();
    CHECK_EQ(kq_change(kq, 1, EVFILT_USER, EV_ADD | EV_CLEAR, NOTE_TRIGGER, 0, NULL), 0);
    CHECK_EQ(kq_change(kq, 1, EVFILT_USER, EV_DISABLE, 0, 0, NULL), 0);
    CHECK_EQ(kq_pending(kq), 0);
    close(kq);
}

static void test_delete_drops_pending_event(void) {
    int p[2], kq = setup(p);
    CHECK_EQ(kq_change(kq, p[0], EVFILT_READ, EV_ADD, 0, 0, NULL), 0);
    CHECK_EQ(kq_change(kq, 5, EVFILT_USER, EV_ADD, NOTE_TRIGGER, 0, NULL), 0);
    CHECK_EQ(write(p[1], "x", 1), 1);
    ms_sleep(20);
    CHECK_EQ(kq_change(kq, p[0], EVFILT_READ, EV_DELETE, 0, 0, NULL), 0);
    CHECK_EQ(kq_change(kq, 5, EVFILT_USER, EV_DELETE, 0, 0, NULL), 0);
    struct kevent ev;
    CHECK_EQ(kq_wait(kq, &ev, 1, 50), 0);
    teardown(kq, p);
}

static void test_enable_disable_never_in_returned_flags(void) {
    int kq = kqueue();
    CHECK_EQ(kq_change(kq, 1, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, NULL), 0);
    CHECK_EQ(kq_change(kq, 1, EVFILT_USER, EV_DISABLE, 0, 0, NULL), 0);
    CHECK_EQ(kq_change(kq, 1, EVFILT_USER, EV_ENABLE, NOTE_TRIGGER, 0, NULL), 0);
    struct kevent ev;
    CHECK_EQ(kq_poll(kq, &ev, 1), 1);
    CHECK_EQ(ev.flags, EV_ADD | EV_CLEAR);
    close(kq);
}

static void test_add_enable_disable_together_in_first_add(void) {
    /* EV_ADD|EV_ENABLE is the common spelling of a plain add. */
    int p[2], kq = setup(p);
    CHECK_EQ(kq_change(kq, p[0], EVFILT_READ, EV_ADD | EV_ENABLE, 0, 0, NULL), 0);
    CHECK_EQ(write(p[1], "x", 1), 1);
    struct kevent ev;
    CHECK_EQ(kq_wait(kq, &ev, 1, 2000), 1);
    CHECK_EQ(ev.flags, EV_ADD);
    teardown(kq, p);
}

static void test_oneshot_and_dispatch_together_einval(void) {
    int p[2], kq = setup(p);
    CHECK_ERRNO(kq_change(kq, p[0], EVFILT_READ, EV_ADD | EV_ONESHOT | EV_DISPATCH, 0, 0, NULL), EINVAL);
    CHECK_ERRNO(kq_change(kq, 1, EVFILT_USER, EV_ADD | EV_ONESHOT | EV_DISPATCH, 0, 0, NULL), EINVAL);
    /* Nothing was registered. */
    CHECK_ERRNO(kq_change(kq, p[0], EVFILT_READ, EV_DELETE, 0, 0, NULL), ENOENT);
    CHECK_ERRNO(kq_change(kq, 1, EVFILT_USER, EV_DELETE, 0, 0, NULL), ENOENT);
    teardown(kq, p);
}

static void test_readd_keeps_flags_of_first_add(void) {
    int p[2], kq = setup(p);
    CHECK_EQ(kq_change(kq, p[0], EVFILT_READ, EV_ADD | EV_CLEAR, 0, 0, NULL), 0);
    CHECK_EQ(kq_change(kq, p[0], EVFILT_READ, EV_ADD, 0, 0, &tag), 0);
    CHECK_EQ(write(p[1], "x", 1), 1);
    struct kevent ev;
    CHECK_EQ(kq_wait(kq, &ev, 1, 2000), 1);
    CHECK_EQ(ev.flags, EV_ADD | EV_CLEAR);
    CHECK(ev.udata == &tag);
    /* Still edge-triggered. */
    CHECK_EQ(kq_poll(kq, &ev, 1), 0);
    teardown(kq, p);
}

static void test_sysflags_on_input_ignored(void) {
    int kq = kqueue();
    /* EV_EOF / EV_ERROR given in a change are not kept or echoed. */
    CHECK_EQ(kq_change(kq, 1, EVFILT_USER, EV_ADD | EV_CLEAR | EV_EOF, NOTE_TRIGGER, 0, NULL), 0);
    struct kevent ev;
    CHECK_EQ(kq_poll(kq, &ev, 1), 1);
    CHECK_EQ(ev.flags, EV_ADD | EV_CLEAR);
    close(kq);
}

static void test_eof_with_oneshot_reports_eof(void) {
    int p[2], kq = setup(p);
    CHECK_EQ(kq_change(kq, p[0], EVFILT_READ, EV_ADD | EV_ONESHOT, 0, 0, NULL), 0);
    close(p[1]);
    p[1] = -1;
    struct kevent ev;
    CHECK_EQ(kq_wait(kq, &ev, 1, 2000), 1);
    CHECK_EQ(ev.flags, EV_ADD | EV_ONESHOT | EV_EOF);
    CHECK_EQ(kq_poll(kq, &ev, 1), 0);
    close(p[0]);
    close(kq);
}

/* A disabled knote whose descriptor is hung up (or whose process exited).
 * epoll reports EPOLLHUP/EPOLLERR whatever the interest: the knote must still
 * stay quiet, a timed wait must time out without spinning, and an untimed one
 * must sleep until something else fires. EV_ENABLE then delivers it. */
static void check_disabled_hung_up(int kq, uintptr_t ident, short filter, int add_disabled,
                                   unsigned int fflags, pid_t reap) {
    unsigned short add = EV_ADD | (add_disabled ? EV_DISABLE : 0);
    CHECK_EQ(kq_change(kq, ident, filter, add, fflags, 0, NULL), 0);
    if (!add_disabled) CHECK_EQ(kq_change(kq, ident, filter, EV_DISABLE, 0, 0, NULL), 0);
    if (reap > 0) CHECK_EQ(waitpid(reap, NULL, 0), reap); /* a reaped process hangs its pidfd up */
    struct kevent ev;
    long cpu = thread_cpu_ms();
    uint64_t t0 = harness_now_ns();
    CHECK_EQ(kq_wait(kq, &ev, 1, 200), 0);
    CHECK(ms_since(t0) < 5000);
    CHECK(thread_cpu_ms() - cpu < 100); /* slept, did not spin */
    /* An untimed wait sleeps until a timer fires. */
    CHECK_EQ(kq_change(kq, 99, EVFILT_TIMER, EV_ADD | EV_ONESHOT, 0, 200, NULL), 0);
    cpu = thread_cpu_ms();
    CHECK_EQ(kevent(kq, NULL, 0, &ev, 1, NULL), 1);
    CHECK_EQ(ev.filter, EVFILT_TIMER);
    CHECK(thread_cpu_ms() - cpu < 100);
    CHECK_EQ(kq_change(kq, ident, filter, EV_ENABLE, 0, 0, NULL), 0);
    CHECK_EQ(kq_wait(kq, &ev, 1, 2000), 1);
    CHECK_EQ(ev.ident, ident);
    CHECK_EQ(ev.filter, filter);
    CHECK(ev.flags & EV_EOF);
    if (filter == EVFILT_PROC) {
        /* The exit event is EV_ONESHOT, as on BSD: gone once delivered. */
        CHECK(ev.flags & EV_ONESHOT);
        CHECK_ERRNO(kq_change(kq, ident, filter, EV_DELETE, 0, 0, NULL), ENOENT);
    } else {
        CHECK_EQ(kq_change(kq, ident, filter, EV_DELETE, 0, 0, NULL), 0);
    }
}

static void test_disabled_knote_on_hung_up_descriptor_stays_quiet(void) {
    for (int add_disabled = 0; add_disabled < 2; add_disabled++) {
        int p[2], kq = setup(p);
        close(p[1]); /* the read end hangs up */
        check_disabled_hung_up(kq, (uintptr_t)p[0], EVFILT_READ, add_disabled, 0, 0);
        close(p[0]);
        CHECK(pipe2(p, O_NONBLOCK) == 0);
        close(p[0]); /* the write end gets EPOLLERR */
        check_disabled_hung_up(kq, (uintptr_t)p[1], EVFILT_WRITE, add_disabled, 0, 0);
        close(p[1]);
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) _exit(0);
        siginfo_t si;
        CHECK_EQ(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT), 0); /* exited, not reaped */
        check_disabled_hung_up(kq, (uintptr_t)pid, EVFILT_PROC, add_disabled, NOTE_EXIT, pid);
        close(kq);
    }
}

int main(void) {
    RUN(test_level_triggered_repeats_until_drained);
    RUN(test_oneshot_fires_once_then_is_deleted);
    RUN(test_user_oneshot_fires_once_then_is_deleted);
    RUN(test_clear_is_edge_triggered);
    RUN(test_dispatch_delivers_once_until_enabled);
    RUN(test_user_dispatch_delivers_once_until_enabled);
    RUN(test_add_disabled_never_delivers);
    RUN(test_user_add_disabled_never_delivers);
    RUN(test_disable_drops_pending_event);
    RUN(test_user_disable_drops_pending_trigger);
    RUN(test_delete_drops_pending_event);
    RUN(test_enable_disable_never_in_returned_flags);
    RUN(test_add_enable_disable_together_in_first_add);
    RUN(test_oneshot_and_dispatch_together_einval);
    RUN(test_readd_keeps_flags_of_first_add);
    RUN(test_sysflags_on_input_ignored);
    RUN(test_eof_with_oneshot_reports_eof);
    RUN_FORKED(test_disabled_knote_on_hung_up_descriptor_stays_quiet, 60);
    return harness_finish();
}
