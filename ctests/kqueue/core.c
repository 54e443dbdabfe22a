/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * core.c: kqueue() and kevent() basics: the descriptor, event fields, udata,
 * registration and modification, several changes and events per call,
 * EV_RECEIPT, the EVFILT_LIBKQUEUE control filter and the exported test hook.
 */
#define _GNU_SOURCE
#include "kq_test.h"

#include <sys/wait.h>

static int tag_a, tag_b, tag_c;

static void test_kqueue_returns_cloexec_descriptor(void) {
    int kq = kqueue();
    CHECK(kq >= 0);
    int fl = fcntl(kq, F_GETFD);
    CHECK(fl >= 0);
    CHECK(fl & FD_CLOEXEC);
    CHECK_EQ(close(kq), 0);
}

static void test_kqueues_are_distinct_descriptors(void) {
    int a = kqueue(), b = kqueue();
    CHECK(a >= 0);
    CHECK(b >= 0);
    CHECK(a != b);
    /* An event in one is not seen in the other. */
    CHECK_EQ(kq_change(a, 1, EVFILT_USER, EV_ADD | EV_CLEAR, NOTE_TRIGGER, 0, NULL), 0);
    CHECK_EQ(kq_pending(b), 0);
    CHECK_EQ(kq_pending(a), 1);
    close(a);
    close(b);
}

static void test_empty_kqueue_poll_returns_zero(void) {
    int kq = kqueue();
    struct kevent out[4];
    CHECK_EQ(kq_poll(kq, out, 4), 0);
    CHECK_EQ(kevent(kq, NULL, 0, NULL, 0, NULL), 0);
    close(kq);
}

static void test_read_event_fields(void) {
    int kq = kqueue(), p[2];
    CHECK(pipe(p) == 0);
    CHECK_EQ(kq_change(kq, p[0], EVFILT_READ, EV_ADD, 0, 0, &tag_a), 0);
    CHECK_EQ(kq_pending(kq), 0);
    CHECK_EQ(write(p[1], "abc", 3), 3);
    struct kevent ev;
    memset(&ev, 0x5a, sizeof ev);
    CHECK_EQ(kq_wait(kq, &ev, 1, 2000), 1);
    CHECK_EQ(ev.ident, p[0]);
    CHECK_EQ(ev.filter, EVFILT_READ);
    CHECK_EQ(ev.flags, EV_ADD);
    CHECK_EQ(ev.fflags, 0);
    CHECK_EQ(ev.data, 3);
    CHECK(ev.udata == &tag_a);
    close(p[0]);
    close(p[1]);
    close(kq);
}

static void test_user_event_fields_and_udata_roundtrip(void) {
    int kq = kqueue();
    void *cookie = (void *)(uintptr_t)0xdeadbeefcafeULL;
    CHECK_EQ(kq_change(kq, 42, EVFILT_USER, EV_ADD, 0, 0, cookie), 0);
    CHECK_EQ(kq_change(kq, 42, EVFILT_USER, 0, NOTE_TRIGGER, 0, cookie), 0);
    struct kevent ev;
    CHECK_EQ(kq_poll(kq, &ev, 1), 1);
    CHECK_EQ(ev.ident, 42);
    CHECK_EQ(ev.filter, EVFILT_USER);
    CHECK_EQ(ev.flags, EV_ADD);
    CHECK_EQ(ev.fflags, 0);
    CHECK(ev.udata == cookie);
    close(kq);
}

static void test_large_ident_roundtrips(void) {
    int kq = kqueue();
    uintptr_t ident = (uintptr_t)0xfedcba9876543210ULL;
    CHECK_EQ(kq_change(kq, ident, EVFILT_USER, EV_ADD | EV_ONESHOT, NOTE_TRIGGER, 0, NULL), 0);
    struct kevent ev;
    CHECK_EQ(kq_poll(kq, &ev, 1), 1);
    CHECK(ev.ident == ident);
    close(kq);
}

static void test_add_existing_knote_modifies_udata(void) {
    int kq = kqueue(), p[2];
    CHECK(pipe(p) == 0);
    CHECK_EQ(kq_change(kq, p[0], EVFILT_READ, EV_ADD, 0, 0, &tag_a), 0);
    CHECK_EQ(kq_change(kq, p[0], EVFILT_READ, EV_ADD, 0, 0, &tag_b), 0);
    CHECK_EQ(write(p[1], "x", 1), 1);
    struct kevent ev[2];
    CHECK_EQ(kq_wait(kq, ev, 2, 2000), 1); /* one knote, not two */
    CHECK(ev[0].udata == &tag_b);
    close(p[0]);
    close(p[1]);
    close(kq);
}

static void test_enable_disable_keep_udata_and_stay_out_of_output(void) {
    int kq = kqueue(), p[2];
    CHECK(pipe(p) == 0);
    CHECK_EQ(kq_change(kq, p[0], EVFILT_READ, EV_ADD, 0, 0, &tag_a), 0);
    CHECK_EQ(kq_change(kq, p[0], EVFILT_READ, EV_DISABLE, 0, 0, &tag_b), 0);
    CHECK_EQ(write(p[1], "x", 1), 1);
    CHECK_EQ(kq_pending(kq), 0);
    CHECK_EQ(kq_change(kq, p[0], EVFILT_READ, EV_ENABLE, 0, 0, &tag_c), 0);
    struct kevent ev;
    CHECK_EQ(kq_wait(kq, &ev, 1, 2000), 1);
    CHECK(ev.udata == &tag_a);
    CHECK_EQ(ev.flags, EV_ADD);
    CHECK_EQ(ev.flags & (EV_ENABLE | EV_DISABLE), 0);
    close(p[0]);
    close(p[1]);
    close(kq);
}

static void test_delete_removes_knote(void) {
    int kq = kqueue(), p[2];
    CHECK(pipe(p) == 0);
    CHECK_EQ(kq_change(kq, p[0], EVFILT_READ, EV_ADD, 0, 0, NULL), 0);
    CHECK_EQ(kq_change(kq, p[0], EVFILT_READ, EV_DELETE, 0, 0, NULL), 0);
    CHECK_EQ(write(p[1], "x", 1), 1);
    CHECK_EQ(kq_pending(kq), 0);
    CHECK_ERRNO(kq_change(kq, p[0], EVFILT_READ, EV_DELETE, 0, 0, NULL), ENOENT);
    close(p[0]);
    close(p[1]);
    close(kq);
}

static void test_same_ident_different_filters_are_distinct(void) {
    int kq = kqueue(), sv[2];
    CHECK(pipe(sv) == 0);
    /* ident 7 as a user event and as a timer; fd as read. */
    CHECK_EQ(kq_change(kq, 7, EVFILT_USER, EV_ADD, 0, 0, &tag_a), 0);
    CHECK_EQ(kq_change(kq, 7, EVFILT_TIMER, EV_ADD | EV_ONESHOT, 0, 5000, &tag_b), 0);
    CHECK_EQ(kq_change(kq, 7, EVFILT_USER, EV_DELETE, 0, 0, NULL), 0);
    /* The timer is still there: deleting it works once. */
    CHECK_EQ(kq_change(kq, 7, EVFILT_TIMER, EV_DELETE, 0, 0, NULL), 0);
    CHECK_ERRNO(kq_change(kq, 7, EVFILT_TIMER, EV_DELETE, 0, 0, NULL), ENOENT);
    close(sv[0]);
    close(sv[1]);
    close(kq);
}

static void test_changes_applied_in_order(void) {
    int kq = kqueue();
    struct kevent ch[3];
    EV_SET(&ch[0], 1, EVFILT_USER, EV_ADD, 0, 0, NULL);
    EV_SET(&ch[1], 1, EVFILT_USER, EV_DELETE, 0, 0, NULL);
    EV_SET(&ch[2], 2, EVFILT_USER, EV_ADD, NOTE_TRIGGER, 0, &tag_c);
    CHECK_EQ(kevent(kq, ch, 3, NULL, 0, NULL), 0);
    CHECK_ERRNO(kq_change(kq, 1, EVFILT_USER, EV_DELETE, 0, 0, NULL), ENOENT);
    struct kevent ev;
    CHECK_EQ(kq_poll(kq, &ev, 1), 1);
    CHECK_EQ(ev.ident, 2);
    CHECK(ev.udata == &tag_c);
    close(kq);
}

static void test_nevents_zero_with_changes_applies_them(void) {
    int kq = kqueue();
    struct kevent ch;
    EV_SET(&ch, 5, EVFILT_USER, EV_ADD | EV_CLEAR, NOTE_TRIGGER, 0, NULL);
    struct timespec zero = {0, 0};
    CHECK_EQ(kevent(kq, &ch, 1, NULL, 0, &zero), 0);
    CHECK_EQ(kq_pending(kq), 1);
    close(kq);
}

static void test_changelist_and_eventlist_same_array(void) {
    int kq = kqueue();
    struct kevent arr[3];
    EV_SET(&arr[0], 1, EVFILT_USER, EV_ADD, NOTE_TRIGGER, 0, &tag_a);
    EV_SET(&arr[1], 2, EVFILT_USER, EV_ADD, NOTE_TRIGGER, 0, &tag_b);
    EV_SET(&arr[2], 3, EVFILT_USER, EV_ADD, NOTE_TRIGGER, 0, &tag_c);
    struct timespec zero = {0, 0};
    CHECK_EQ(kevent(kq, arr, 3, arr, 3, &zero), 3);
    int seen = 0;
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(arr[i].filter, EVFILT_USER);
        CHECK(arr[i].ident >= 1 && arr[i].ident <= 3);
        void *want = arr[i].ident == 1 ? (void *)&tag_a : arr[i].ident == 2 ? (void *)&tag_b : (void *)&tag_c;
        CHECK(arr[i].udata == want);
        seen |= 1 << arr[i].ident;
    }
    CHECK_EQ(seen, 0xe);
    close(kq);
}

static void test_same_array_with_errors_reports_each_change(void) {
    /* Error entries are written over the changes already read. */
    int kq = kqueue();
    struct kevent arr[3];
    EV_SET(&arr[0], 11, EVFILT_USER, EV_DELETE, 0, 0, &tag_a);
    EV_SET(&arr[1], 12, EVFILT_USER, EV_DELETE, 0, 0, &tag_b);
    EV_SET(&arr[2], 13, EVFILT_USER, EV_DELETE, 0, 0, &tag_c);
    CHECK_EQ(kevent(kq, arr, 3, arr, 3, NULL), 3);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(arr[i].ident, 11 + i);
        CHECK_EQ(arr[i].flags, EV_DELETE | EV_ERROR);
        CHECK_EQ(arr[i].data, ENOENT);
    }
    close(kq);
}

static void test_many_events_returned_in_batches(void) {
    int kq = kqueue();
    for (int i = 0; i < 10; i++)
        CHECK_EQ(kq_change(kq, 100 + i, EVFILT_USER, EV_ADD | EV_ONESHOT, NOTE_TRIGGER, 0, NULL), 0);
    struct kevent ev[4];
    int seen[10] = {0}, total = 0;
    int sizes[3];
    for (int round = 0; round < 3; round++) {
        int n = kq_poll(kq, ev, 4);
        sizes[round] = n;
        CHECK(n >= 0);
        for (int i = 0; i < n; i++) {
            CHECK(ev[i].ident >= 100 && ev[i].ident < 110);
            seen[ev[i].ident - 100]++;
            total++;
        }
    }
    CHECK_EQ(sizes[0], 4);
    CHECK_EQ(sizes[1], 4);
    CHECK_EQ(sizes[2], 2);
    CHECK_EQ(total, 10);
    for (int i = 0; i < 10; i++) CHECK_EQ(seen[i], 1);
    CHECK_EQ(kq_pending(kq), 0);
    close(kq);
}

static void test_many_descriptors_in_one_call(void) {
    enum { N = 50 };
    int kq = kqueue(), p[N][2];
    for (int i = 0; i < N; i++) {
        CHECK(pipe(p[i]) == 0);
        CHECK_EQ(kq_change(kq, p[i][0], EVFILT_READ, EV_ADD | EV_ONESHOT, 0, 0, (void *)(intptr_t)i), 0);
        CHECK_EQ(write(p[i][1], "12345", (size_t)(i % 5) + 1), (i % 5) + 1);
    }
    struct kevent ev[N + 5];
    int total = 0, seen[N] = {0};
    uint64_t t0 = harness_now_ns();
    while (total < N && ms_since(t0) < 5000) {
        int n = kq_wait(kq, ev, N + 5, 100);
        CHECK(n >= 0);
        for (int i = 0; i < n; i++) {
            int k = (int)(intptr_t)ev[i].udata;
            CHECK(k >= 0 && k < N);
            CHECK_EQ(ev[i].ident, p[k][0]);
            CHECK_EQ(ev[i].data, (k % 5) + 1);
            seen[k]++;
            total++;
        }
    }
    CHECK_EQ(total, N);
    for (int i = 0; i < N; i++) CHECK_EQ(seen[i], 1);
    for (int i = 0; i < N; i++) {
        close(p[i][0]);
        close(p[i][1]);
    }
    close(kq);
}

static void test_level_triggered_event_reported_once_per_call(void) {
    int kq = kqueue(), p[2];
    CHECK(pipe(p) == 0);
    CHECK_EQ(kq_change(kq, 1, EVFILT_USER, EV_ADD, NOTE_TRIGGER, 0, NULL), 0);
    CHECK_EQ(kq_change(kq, p[0], EVFILT_READ, EV_ADD, 0, 0, NULL), 0);
    CHECK_EQ(write(p[1], "x", 1), 1);
    ms_sleep(10);
    struct kevent ev[8];
    for (int round = 0; round < 3; round++) {
        /* Level-triggered: returned by every call, but once per call. */
        int n = kq_poll(kq, ev, 8);
        int user = 0, rd = 0;
        for (int i = 0; i < n; i++) {
            if (ev[i].filter == EVFILT_USER) user++;
            if (ev[i].filter == EVFILT_READ) rd++;
        }
        CHECK_EQ(user, 1);
        CHECK_EQ(rd, 1);
        CHECK_EQ(n, 2);
    }
    close(p[0]);
    close(p[1]);
    close(kq);
}

static void test_receipt_reports_each_change_and_collects_no_events(void) {
    int kq = kqueue();
    /* Something pending that a plain call would return. */
    CHECK_EQ(kq_change(kq, 1, EVFILT_USER, EV_ADD | EV_CLEAR, NOTE_TRIGGER, 0, NULL), 0);
    struct kevent ch[2], out[4];
    EV_SET(&ch[0], 2, EVFILT_USER, EV_ADD | EV_RECEIPT, 0, 0, &tag_a);
    EV_SET(&ch[1], 3, EVFILT_USER, EV_ADD | EV_RECEIPT, 0, 0, &tag_b);
    struct timespec zero = {0, 0};
    int n = kevent(kq, ch, 2, out, 4, &zero);
    CHECK_EQ(n, 2);
    for (int i = 0; i < 2; i++) {
        CHECK_EQ(out[i].ident, 2 + i);
        CHECK_EQ(out[i].filter, EVFILT_USER);
        CHECK(out[i].flags & EV_ERROR);
        CHECK_EQ(out[i].data, 0);
    }
    CHECK(out[0].udata == &tag_a);
    CHECK(out[1].udata == &tag_b);
    /* The pending event is still there. */
    CHECK_EQ(kq_poll(kq, out, 4), 1);
    CHECK_EQ(out[0].ident, 1);
    close(kq);
}

static void test_receipt_flag_returned_with_later_events(void) {
    int kq = kqueue();
    struct kevent ch, out;
    EV_SET(&ch, 9, EVFILT_USER, EV_ADD | EV_RECEIPT | EV_CLEAR, 0, 0, NULL);
    CHECK_EQ(kevent(kq, &ch, 1, &out, 1, NULL), 1);
    CHECK_EQ(out.flags & EV_ERROR, EV_ERROR);
    CHECK_EQ(out.data, 0);
    CHECK_EQ(kq_change(kq, 9, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL), 0);
    CHECK_EQ(kq_poll(kq, &out, 1), 1);
    CHECK_EQ(out.flags, EV_ADD | EV_RECEIPT | EV_CLEAR);
    close(kq);
}

static void test_receipt_without_room_still_applies(void) {
    int kq = kqueue();
    CHECK_EQ(kq_change(kq, 4, EVFILT_USER, EV_ADD | EV_RECEIPT, 0, 0, NULL), 0);
    CHECK_EQ(kq_change(kq, 4, EVFILT_USER, EV_DELETE, 0, 0, NULL), 0);
    close(kq);
}

static void test_libkqueue_note_version(void) {
    int kq = kqueue();
    struct kevent kev, out;
    memset(&out, 0, sizeof out);
    struct timespec zero = {0, 0};
    EV_SET(&kev, 0, EVFILT_LIBKQUEUE, EV_ADD, NOTE_VERSION, 0, NULL);
    CHECK_EQ(kevent(kq, &kev, 1, &out, 1, &zero), 1);
    CHECK(out.data != 0);
    CHECK_EQ(out.filter, EVFILT_LIBKQUEUE);
    close(kq);
}

static void test_libkqueue_note_version_str(void) {
    int kq = kqueue();
    struct kevent kev, out;
    memset(&out, 0, sizeof out);
    struct timespec zero = {0, 0};
    EV_SET(&kev, 0, EVFILT_LIBKQUEUE, EV_ADD, NOTE_VERSION_STR, 0, NULL);
    CHECK_EQ(kevent(kq, &kev, 1, &out, 1, &zero), 1);
    CHECK(out.udata != NULL);
    CHECK(strlen((const char *)out.udata) > 0);
    close(kq);
}

static void test_libkqueue_control_keeps_no_knote(void) {
    int kq = kqueue();
    struct kevent kev, out;
    struct timespec zero = {0, 0};
    EV_SET(&kev, 0, EVFILT_LIBKQUEUE, EV_ADD, NOTE_VERSION, 0, NULL);
    CHECK_EQ(kevent(kq, &kev, 1, &out, 1, &zero), 1);
    /* Nothing is left pending afterwards. */
    CHECK_EQ(kq_poll(kq, &out, 1), 0);
    close(kq);
}

static void test_drain_pending_close_links_and_returns(void) {
    int kq = kqueue();
    CHECK(kq >= 0);
    CHECK_EQ(kq_change(kq, 1, EVFILT_USER, EV_ADD, 0, 0, NULL), 0);
    close(kq);
    libkqueue_drain_pending_close();
    /* Still usable afterwards. */
    int kq2 = kqueue();
    CHECK(kq2 >= 0);
    CHECK_EQ(kq_change(kq2, 1, EVFILT_USER, EV_ADD | EV_CLEAR, NOTE_TRIGGER, 0, NULL), 0);
    CHECK_EQ(kq_pending(kq2), 1);
    libkqueue_drain_pending_close();
    close(kq2);
}

static void test_kqueue_unusable_in_fork_child(void) {
    int kq = kqueue();
    CHECK_EQ(kq_change(kq, 1, EVFILT_USER, EV_ADD | EV_CLEAR, NOTE_TRIGGER, 0, NULL), 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        struct kevent ev;
        struct timespec zero = {0, 0};
        errno = 0;
        int r = kevent(kq, NULL, 0, &ev, 1, &zero);
        int ok = r == -1 && errno == EBADF;
        /* A fresh kqueue works in the child. */
        int k2 = kqueue();
        ok = ok && k2 >= 0 && kq_change(k2, 1, EVFILT_USER, EV_ADD, NOTE_TRIGGER, 0, NULL) == 0 &&
             kq_poll(k2, &ev, 1) == 1;
        _exit(ok ? 0 : 1);
    }
    int st = 0;
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    CHECK(WIFEXITED(st));
    CHECK_EQ(WEXITSTATUS(st), 0);
    /* The parent's kqueue is unaffected. */
    CHECK_EQ(kq_pending(kq), 1);
    close(kq);
}

int main(void) {
    RUN(test_kqueue_returns_cloexec_descriptor);
    RUN(test_kqueues_are_distinct_descriptors);
    RUN(test_empty_kqueue_poll_returns_zero);
    RUN(test_read_event_fields);
    RUN(test_user_event_fields_and_udata_roundtrip);
    RUN(test_large_ident_roundtrips);
    RUN(test_add_existing_knote_modifies_udata);
    RUN(test_enable_disable_keep_udata_and_stay_out_of_output);
    RUN(test_delete_removes_knote);
    RUN(test_same_ident_different_filters_are_distinct);
    RUN(test_changes_applied_in_order);
    RUN(test_nevents_zero_with_changes_applies_them);
    RUN(test_changelist_and_eventlist_same_array);
    RUN(test_same_array_with_errors_reports_each_change);
    RUN(test_many_events_returned_in_batches);
    RUN(test_many_descriptors_in_one_call);
    RUN(test_level_triggered_event_reported_once_per_call);
    RUN(test_receipt_reports_each_change_and_collects_no_events);
    RUN(test_receipt_flag_returned_with_later_events);
    RUN(test_receipt_without_room_still_applies);
    RUN(test_libkqueue_note_version);
    RUN(test_libkqueue_note_version_str);
    RUN(test_libkqueue_control_keeps_no_knote);
    RUN(test_drain_pending_close_links_and_returns);
    RUN(test_kqueue_unusable_in_fork_child);
    return harness_finish();
}
