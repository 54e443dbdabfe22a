/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * errors.c: kevent() error reporting: EV_ERROR entries (data = errno,
 * counted in the return value), failing calls when no room is left, bad
 * kqueue descriptors, bad counts and pointers, unknown filters and knotes.
 */
#define _GNU_SOURCE
#include "kq_test.h"

#include <sys/epoll.h>

static int tag;

/* Applies one change with room for one entry; returns kevent()'s result and
 * the entry in *out. */
static int change_with_room(int kq, uintptr_t ident, short filter, unsigned short flags,
                            unsigned int fflags, intptr_t data, void *udata, struct kevent *out) {
    struct kevent ch;
    EV_SET(&ch, ident, filter, flags, fflags, data, udata);
    memset(out, 0, sizeof *out);
    struct timespec zero = {0, 0};
    return kevent(kq, &ch, 1, out, 1, &zero);
}

static void test_unknown_filter_einval(void) {
    int kq = kqueue();
    CHECK_ERRNO(kq_change(kq, 1, 5, EV_ADD, 0, 0, NULL), EINVAL);
    CHECK_ERRNO(kq_change(kq, 1, -100, EV_ADD, 0, 0, NULL), EINVAL);
    CHECK_ERRNO(kq_change(kq, 1, 0, EV_ADD, 0, 0, NULL), EINVAL);
    close(kq);
}

static void test_unknown_filter_error_entry(void) {
    int kq = kqueue();
    struct kevent out;
    CHECK_EQ(change_with_room(kq, 77, -100, EV_ADD, 0x12, 34, &tag, &out), 1);
    CHECK_EQ(out.ident, 77);
    CHECK_EQ(out.filter, -100);
    CHECK_EQ(out.flags, EV_ADD | EV_ERROR);
    CHECK_EQ(out.fflags, 0x12);
    CHECK_EQ(out.data, EINVAL);
    CHECK(out.udata == &tag);
    CHECK_EQ(change_with_room(kq, 77, 5, EV_ADD, 0, 0, NULL, &out), 1);
    CHECK_EQ(out.flags, EV_ADD | EV_ERROR);
    CHECK_EQ(out.data, EINVAL);
    close(kq);
}

static void test_unknown_knote_enoent(void) {
    int kq = kqueue(), p[2];
    CHECK(pipe(p) == 0);
    CHECK_ERRNO(kq_change(kq, p[0], EVFILT_READ, EV_DELETE, 0, 0, NULL), ENOENT);
    CHECK_ERRNO(kq_change(kq, p[0], EVFILT_READ, EV_ENABLE, 0, 0, NULL), ENOENT);
    CHECK_ERRNO(kq_change(kq, p[0], EVFILT_READ, EV_DISABLE, 0, 0, NULL), ENOENT);
    CHECK_ERRNO(kq_change(kq, p[0], EVFILT_READ, 0, 0, 0, NULL), ENOENT);
    CHECK_ERRNO(kq_change(kq, 9, EVFILT_USER, EV_DELETE, 0, 0, NULL), ENOENT);
    CHECK_ERRNO(kq_change(kq, 9, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL), ENOENT);
    CHECK_ERRNO(kq_change(kq, 9, EVFILT_TIMER, EV_DELETE, 0, 0, NULL), ENOENT);
    /* A knote on another filter of the same ident does not count. */
    CHECK_EQ(kq_change(kq, p[0], EVFILT_READ, EV_ADD, 0, 0, NULL), 0);
    CHECK_ERRNO(kq_change(kq, p[0], EVFILT_WRITE, EV_DELETE, 0, 0, NULL), ENOENT);
    close(p[0]);
    close(p[1]);
    close(kq);
}

static void test_unknown_knote_error_entry(void) {
    int kq = kqueue();
    struct kevent out;
    CHECK_EQ(change_with_room(kq, 9, EVFILT_USER, EV_DELETE, 0, 0, &tag, &out), 1);
    CHECK_EQ(out.ident, 9);
    CHECK_EQ(out.filter, EVFILT_USER);
    CHECK_EQ(out.flags, EV_DELETE | EV_ERROR);
    CHECK_EQ(out.data, ENOENT);
    CHECK(out.udata == &tag);
    CHECK_EQ(change_with_room(kq, 9, EVFILT_USER, EV_ENABLE, 0, 0, NULL, &out), 1);
    CHECK_EQ(out.flags, EV_ENABLE | EV_ERROR);
    CHECK_EQ(out.data, ENOENT);
    close(kq);
}

static void test_bad_descriptor_ebadf(void) {
    int kq = kqueue(), p[2];
    CHECK(pipe(p) == 0);
    int closed = p[0];
    close(p[0]);
    close(p[1]);
    CHECK_ERRNO(kq_change(kq, (uintptr_t)closed, EVFILT_READ, EV_ADD, 0, 0, NULL), EBADF);
    CHECK_ERRNO(kq_change(kq, 999999, EVFILT_READ, EV_ADD, 0, 0, NULL), EBADF);
    CHECK_ERRNO(kq_change(kq, 999999, EVFILT_WRITE, EV_ADD, 0, 0, NULL), EBADF);
    CHECK_ERRNO(kq_change(kq, (uintptr_t)-1, EVFILT_READ, EV_ADD, 0, 0, NULL), EBADF);
    struct kevent out;
    CHECK_EQ(change_with_room(kq, 999999, EVFILT_READ, EV_ADD, 0, 0, &tag, &out), 1);
    CHECK_EQ(out.flags, EV_ADD | EV_ERROR);
    CHECK_EQ(out.data, EBADF);
    CHECK(out.udata == &tag);
    /* Nothing was left registered. */
    CHECK_ERRNO(kq_change(kq, 999999, EVFILT_READ, EV_DELETE, 0, 0, NULL), EBADF);
    close(kq);
}

static void test_oneshot_dispatch_error_entry(void) {
    int kq = kqueue();
    struct kevent out;
    CHECK_EQ(change_with_room(kq, 1, EVFILT_USER, EV_ADD | EV_ONESHOT | EV_DISPATCH, 0, 0, NULL, &out), 1);
    CHECK_EQ(out.flags, EV_ADD | EV_ONESHOT | EV_DISPATCH | EV_ERROR);
    CHECK_EQ(out.data, EINVAL);
    close(kq);
}

static void test_error_entries_counted_and_no_events_collected(void) {
    int kq = kqueue();
    /* A pending event that a call without errors would return. */
    CHECK_EQ(kq_change(kq, 1, EVFILT_USER, EV_ADD | EV_CLEAR, NOTE_TRIGGER, 0, NULL), 0);
    struct kevent ch[3], out[8];
    EV_SET(&ch[0], 2, EVFILT_USER, EV_ADD, 0, 0, NULL);      /* fine */
    EV_SET(&ch[1], 3, EVFILT_USER, EV_DELETE, 0, 0, NULL);   /* ENOENT */
    EV_SET(&ch[2], 4, EVFILT_USER, EV_ADD, 0, 0, NULL);      /* fine */
    struct timespec zero = {0, 0};
    CHECK_EQ(kevent(kq, ch, 3, out, 8, &zero), 1);
    CHECK_EQ(out[0].ident, 3);
    CHECK_EQ(out[0].flags, EV_DELETE | EV_ERROR);
    CHECK_EQ(out[0].data, ENOENT);
    /* Both good changes were applied, after the failure too. */
    CHECK_EQ(kq_change(kq, 2, EVFILT_USER, EV_DELETE, 0, 0, NULL), 0);
    CHECK_EQ(kq_change(kq, 4, EVFILT_USER, EV_DELETE, 0, 0, NULL), 0);
    /* And the pending event is still pending. */
    CHECK_EQ(kq_poll(kq, out, 8), 1);
    CHECK_EQ(out[0].ident, 1);
    close(kq);
}

static void test_several_errors_each_reported(void) {
    int kq = kqueue();
    struct kevent ch[3], out[3];
    EV_SET(&ch[0], 1, EVFILT_USER, EV_DELETE, 0, 0, NULL);
    EV_SET(&ch[1], 1, -100, EV_ADD, 0, 0, NULL);
    EV_SET(&ch[2], 999999, EVFILT_READ, EV_ADD, 0, 0, NULL);
    CHECK_EQ(kevent(kq, ch, 3, out, 3, NULL), 3);
    CHECK_EQ(out[0].data, ENOENT);
    CHECK_EQ(out[1].data, EINVAL);
    CHECK_EQ(out[2].data, EBADF);
    for (int i = 0; i < 3; i++) CHECK(out[i].flags & EV_ERROR);
    close(kq);
}

static void test_error_without_room_fails_call(void) {
    int kq = kqueue();
    struct kevent ch[3];
    EV_SET(&ch[0], 2, EVFILT_USER, EV_ADD, 0, 0, NULL);    /* applied */
    EV_SET(&ch[1], 3, EVFILT_USER, EV_DELETE, 0, 0, NULL); /* fails the call */
    EV_SET(&ch[2], 4, EVFILT_USER, EV_ADD, 0, 0, NULL);
    CHECK_ERRNO(kevent(kq, ch, 3, NULL, 0, NULL), ENOENT);
    CHECK_EQ(kq_change(kq, 2, EVFILT_USER, EV_DELETE, 0, 0, NULL), 0);
    close(kq);
}

static void test_error_when_room_runs_out_fails_call(void) {
    int kq = kqueue();
    struct kevent ch[2], out[1];
    EV_SET(&ch[0], 3, EVFILT_USER, EV_DELETE, 0, 0, NULL); /* reported in out[0] */
    EV_SET(&ch[1], 3, -100, EV_ADD, 0, 0, NULL);           /* no room: the call fails */
    CHECK_ERRNO(kevent(kq, ch, 2, out, 1, NULL), EINVAL);
    close(kq);
}

static void test_receipt_error_entry_carries_errno(void) {
    int kq = kqueue();
    struct kevent ch[2], out[2];
    EV_SET(&ch[0], 1, EVFILT_USER, EV_ADD | EV_RECEIPT, 0, 0, NULL);
    EV_SET(&ch[1], 2, EVFILT_USER, EV_DELETE | EV_RECEIPT, 0, 0, NULL);
    CHECK_EQ(kevent(kq, ch, 2, out, 2, NULL), 2);
    CHECK_EQ(out[0].flags & EV_ERROR, EV_ERROR);
    CHECK_EQ(out[0].data, 0);
    CHECK_EQ(out[1].flags & EV_ERROR, EV_ERROR);
    CHECK_EQ(out[1].data, ENOENT);
    close(kq);
}

static void test_kevent_on_non_kqueue_ebadf(void) {
    int p[2];
    CHECK(pipe(p) == 0);
    struct kevent ev;
    struct timespec zero = {0, 0};
    CHECK_ERRNO(kevent(p[0], NULL, 0, &ev, 1, &zero), EBADF);
    CHECK_ERRNO(kevent(p[1], NULL, 0, NULL, 0, NULL), EBADF);
    CHECK_ERRNO(kevent(-1, NULL, 0, &ev, 1, &zero), EBADF);
    CHECK_ERRNO(kevent(999999, NULL, 0, &ev, 1, &zero), EBADF);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    CHECK(ep >= 0);
    CHECK_ERRNO(kevent(ep, NULL, 0, &ev, 1, &zero), EBADF);
    EV_SET(&ev, 1, EVFILT_USER, EV_ADD, 0, 0, NULL);
    CHECK_ERRNO(kevent(ep, &ev, 1, NULL, 0, NULL), EBADF);
    close(ep);
    close(p[0]);
    close(p[1]);
}

static void test_kevent_on_closed_kqueue_ebadf(void) {
    int kq = kqueue();
    CHECK(kq >= 0);
    CHECK_EQ(kq_change(kq, 1, EVFILT_USER, EV_ADD, 0, 0, NULL), 0);
    close(kq);
    struct kevent ev;
    struct timespec zero = {0, 0};
    CHECK_ERRNO(kevent(kq, NULL, 0, &ev, 1, &zero), EBADF);
    CHECK_ERRNO(kevent(kq, NULL, 0, NULL, 0, NULL), EBADF);
    EV_SET(&ev, 1, EVFILT_USER, EV_ADD, 0, 0, NULL);
    CHECK_ERRNO(kevent(kq, &ev, 1, NULL, 0, NULL), EBADF);
}

static void test_closed_kqueue_number_reused_by_epoll_ebadf(void) {
    int kq = kqueue();
    CHECK(kq >= 0);
    CHECK_EQ(kq_change(kq, 1, EVFILT_USER, EV_ADD, NOTE_TRIGGER, 0, NULL), 0);
    close(kq);
    int ep = epoll_create1(0);
    CHECK_EQ(ep, kq); /* lowest free number */
    struct kevent ev;
    struct timespec zero = {0, 0};
    CHECK_ERRNO(kevent(ep, NULL, 0, &ev, 1, &zero), EBADF);
    EV_SET(&ev, 2, EVFILT_USER, EV_ADD, 0, 0, NULL);
    CHECK_ERRNO(kevent(ep, &ev, 1, NULL, 0, NULL), EBADF);
    close(ep);
}

static void test_closed_kqueue_number_reused_by_pipe_ebadf(void) {
    int kq = kqueue();
    CHECK(kq >= 0);
    close(kq);
    int p[2];
    CHECK(pipe(p) == 0);
    CHECK(p[0] == kq || p[1] == kq);
    struct kevent ev;
    struct timespec zero = {0, 0};
    CHECK_ERRNO(kevent(kq, NULL, 0, &ev, 1, &zero), EBADF);
    close(p[0]);
    close(p[1]);
}

static void test_negative_counts_einval(void) {
    int kq = kqueue();
    struct kevent ev;
    struct timespec zero = {0, 0};
    EV_SET(&ev, 1, EVFILT_USER, EV_ADD, 0, 0, NULL);
    CHECK_ERRNO(kevent(kq, &ev, -1, NULL, 0, &zero), EINVAL);
    CHECK_ERRNO(kevent(kq, NULL, 0, &ev, -1, &zero), EINVAL);
    CHECK_ERRNO(kevent(kq, &ev, 1, &ev, -5, &zero), EINVAL);
    close(kq);
}

static void test_null_lists_with_counts_efault(void) {
    int kq = kqueue();
    struct kevent ev;
    struct timespec zero = {0, 0};
    CHECK_ERRNO(kevent(kq, NULL, 1, NULL, 0, &zero), EFAULT);
    CHECK_ERRNO(kevent(kq, NULL, 0, NULL, 1, &zero), EFAULT);
    EV_SET(&ev, 1, EVFILT_USER, EV_ADD, NOTE_TRIGGER, 0, NULL);
    CHECK_ERRNO(kevent(kq, &ev, 1, NULL, 3, &zero), EFAULT);
    close(kq);
}

static void test_timer_negative_data_einval(void) {
    int kq = kqueue();
    CHECK_ERRNO(kq_change(kq, 1, EVFILT_TIMER, EV_ADD, 0, -1, NULL), EINVAL);
    CHECK_ERRNO(kq_change(kq, 1, EVFILT_TIMER, EV_DELETE, 0, 0, NULL), ENOENT);
    close(kq);
}

static void test_failed_change_leaves_existing_knote_intact(void) {
    int kq = kqueue();
    CHECK_EQ(kq_change(kq, 1, EVFILT_TIMER, EV_ADD, 0, 20, &tag), 0);
    CHECK_ERRNO(kq_change(kq, 1, EVFILT_TIMER, EV_ADD, 0, -5, NULL), EINVAL);
    struct kevent ev;
    CHECK_EQ(kq_wait(kq, &ev, 1, 2000), 1);
    CHECK_EQ(ev.filter, EVFILT_TIMER);
    CHECK_EQ(ev.ident, 1);
    close(kq);
}

/* BSD checks a descriptor filter's ident before looking for the knote: a
 * change to a descriptor that is not open is EBADF, whatever the action, and
 * also for a knote whose descriptor was closed behind the library's back. */
static void test_changes_on_closed_descriptor_ebadf(void) {
    int kq = kqueue(), p[2];
    CHECK(pipe(p) == 0);
    CHECK_EQ(kq_change(kq, p[0], EVFILT_READ, EV_ADD, 0, 0, NULL), 0);
    CHECK_EQ(kq_change(kq, p[1], EVFILT_WRITE, EV_ADD, 0, 0, NULL), 0);
    int r = p[0], w = p[1];
    close(p[0]);
    close(p[1]);
    CHECK_ERRNO(kq_change(kq, (uintptr_t)r, EVFILT_READ, EV_DELETE, 0, 0, NULL), EBADF);
    CHECK_ERRNO(kq_change(kq, (uintptr_t)w, EVFILT_WRITE, EV_DELETE, 0, 0, NULL), EBADF);
    static const unsigned short actions[] = {EV_DELETE, EV_ENABLE, EV_DISABLE, 0};
    static const short filters[] = {EVFILT_READ, EVFILT_WRITE, EVFILT_VNODE, EVFILT_EXCEPT};
    for (size_t f = 0; f < sizeof filters / sizeof filters[0]; f++) {
        for (size_t a = 0; a < sizeof actions / sizeof actions[0]; a++) {
            CHECK_ERRNO(kq_change(kq, (uintptr_t)r, filters[f], actions[a], 0, 0, NULL), EBADF);
            CHECK_ERRNO(kq_change(kq, (uintptr_t)-1, filters[f], actions[a], 0, 0, NULL), EBADF);
        }
    }
    /* An open descriptor with no knote stays ENOENT; other filters too. */
    CHECK_ERRNO(kq_change(kq, 0, EVFILT_READ, EV_DELETE, 0, 0, NULL), ENOENT);
    CHECK_ERRNO(kq_change(kq, (uintptr_t)r, EVFILT_TIMER, EV_DELETE, 0, 0, NULL), ENOENT);
    CHECK_ERRNO(kq_change(kq, (uintptr_t)r, EVFILT_USER, EV_DELETE, 0, 0, NULL), ENOENT);
    close(kq);
}

/* EV_DELETE of a knote whose descriptor was closed is EBADF (BSD checks the
 * descriptor first), for the knotes no epoll registration stands behind
 * too: EVFILT_VNODE, and EVFILT_READ on a regular file. */
static void test_delete_after_close_of_a_file_ebadf(void) {
    char path[] = "/tmp/bsdshim-errors-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    int kq = kqueue();
    CHECK_EQ(kq_change(kq, (uintptr_t)fd, EVFILT_VNODE, EV_ADD | EV_CLEAR, NOTE_WRITE, 0, NULL), 0);
    close(fd);
    CHECK_ERRNO(kq_change(kq, (uintptr_t)fd, EVFILT_VNODE, EV_DELETE, 0, 0, NULL), EBADF);
    fd = open(path, O_RDONLY);
    CHECK(fd >= 0);
    CHECK_EQ(kq_change(kq, (uintptr_t)fd, EVFILT_READ, EV_ADD, 0, 0, NULL), 0);
    close(fd);
    CHECK_ERRNO(kq_change(kq, (uintptr_t)fd, EVFILT_READ, EV_DELETE, 0, 0, NULL), EBADF);
    /* Open, it deletes as ever. */
    fd = open(path, O_RDONLY);
    CHECK_EQ(kq_change(kq, (uintptr_t)fd, EVFILT_VNODE, EV_ADD, NOTE_WRITE, 0, NULL), 0);
    CHECK_EQ(kq_change(kq, (uintptr_t)fd, EVFILT_VNODE, EV_DELETE, 0, 0, NULL), 0);
    close(fd);
    unlink(path);
    close(kq);
}

/* A kqueue cannot watch itself (FreeBSD kqueue_register: EINVAL), and no
 * kqueue is ever writable (FreeBSD EINVAL, DragonFly EOPNOTSUPP). */
static void test_kqueue_watching_itself_or_written_einval(void) {
    int kq = kqueue(), other = kqueue();
    CHECK(kq >= 0 && other >= 0);
    CHECK_ERRNO(kq_change(kq, (uintptr_t)kq, EVFILT_READ, EV_ADD, 0, 0, NULL), EINVAL);
    CHECK_ERRNO(kq_change(kq, (uintptr_t)kq, EVFILT_WRITE, EV_ADD, 0, 0, NULL), EINVAL);
    CHECK_ERRNO(kq_change(kq, (uintptr_t)other, EVFILT_WRITE, EV_ADD, 0, 0, NULL), EINVAL);
    /* Reading another kqueue is fine. */
    CHECK_EQ(kq_change(kq, (uintptr_t)other, EVFILT_READ, EV_ADD, 0, 0, NULL), 0);
    close(other);
    close(kq);
}

/* EV_ADD|EV_DELETE: a new knote is added (FreeBSD, libkqueue), an existing
 * one deleted. */
static void test_add_and_delete_in_one_change(void) {
    int kq = kqueue();
    CHECK_EQ(kq_change(kq, 5, EVFILT_USER, EV_ADD | EV_DELETE | EV_CLEAR, 0, 0, NULL), 0);
    CHECK_EQ(kq_change(kq, 5, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL), 0);
    struct kevent ev;
    CHECK_EQ(kq_poll(kq, &ev, 1), 1);
    CHECK_EQ(ev.ident, 5);
    CHECK_EQ(kq_change(kq, 5, EVFILT_USER, EV_ADD | EV_DELETE, 0, 0, NULL), 0);
    CHECK_ERRNO(kq_change(kq, 5, EVFILT_USER, EV_DELETE, 0, 0, NULL), ENOENT);
    close(kq);
}

int main(void) {
    RUN(test_unknown_filter_einval);
    RUN(test_unknown_filter_error_entry);
    RUN(test_unknown_knote_enoent);
    RUN(test_unknown_knote_error_entry);
    RUN(test_bad_descriptor_ebadf);
    RUN(test_oneshot_dispatch_error_entry);
    RUN(test_error_entries_counted_and_no_events_collected);
    RUN(test_several_errors_each_reported);
    RUN(test_error_without_room_fails_call);
    RUN(test_error_when_room_runs_out_fails_call);
    RUN(test_receipt_error_entry_carries_errno);
    RUN(test_kevent_on_non_kqueue_ebadf);
    RUN(test_kevent_on_closed_kqueue_ebadf);
    RUN(test_closed_kqueue_number_reused_by_epoll_ebadf);
    RUN(test_closed_kqueue_number_reused_by_pipe_ebadf);
    RUN(test_negative_counts_einval);
    RUN(test_null_lists_with_counts_efault);
    RUN(test_timer_negative_data_einval);
    RUN(test_failed_change_leaves_existing_knote_intact);
    RUN(test_changes_on_closed_descriptor_ebadf);
    RUN(test_delete_after_close_of_a_file_ebadf);
    RUN(test_kqueue_watching_itself_or_written_einval);
    RUN(test_add_and_delete_in_one_change);
    return harness_finish();
}
