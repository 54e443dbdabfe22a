/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * badinput_kevent.c: kevent() given what a buggy caller passes gets a clear
 * error and nothing else: huge and extreme counts, NULL lists, out-of-range
 * timeouts, impossible filter/flag combinations, and every kind of
 * descriptor that is not a kqueue. (errors.c covers unknown filters and
 * knotes, negative counts and NULL lists with small counts.) After each bad
 * call the kqueue still works.
 */
#define _GNU_SOURCE
#include <limits.h>
#include <signal.h>
#include <sys/event.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include <dev/dmover/dmover_io.h>
#include "harness.h"

static const struct timespec zero = {0, 0};

/* The kqueue still takes a change and reports it. */
static int still_works(int kq) {
    struct kevent ch, ev;
    EV_SET(&ch, 4242, EVFILT_USER, EV_ADD | EV_ONESHOT, NOTE_TRIGGER, 0, NULL);
    if (kevent(kq, &ch, 1, &ev, 1, &zero) != 1) return 0;
    return ev.ident == 4242 && ev.filter == EVFILT_USER;
}

static void test_extreme_counts(void) {
    int kq = kqueue();
    CHECK(kq >= 0);
    struct kevent ev[2];
    EV_SET(&ev[0], 1, EVFILT_USER, EV_ADD, 0, 0, NULL);
    CHECK_ERRNO(kevent(kq, ev, INT_MIN, NULL, 0, &zero), EINVAL);
    CHECK_ERRNO(kevent(kq, NULL, 0, ev, INT_MIN, &zero), EINVAL);
    CHECK_ERRNO(kevent(kq, NULL, INT_MAX, NULL, 0, &zero), EFAULT);
    CHECK_ERRNO(kevent(kq, NULL, 0, NULL, INT_MAX, &zero), EFAULT);
    CHECK(still_works(kq));
    close(kq);
}

/* A huge nevents is only an upper bound: nothing is allocated for it and
 * nothing is written past the events that are ready. */
static void test_huge_nevents_writes_only_ready_events(void) {
    int kq = kqueue();
    CHECK(kq >= 0);
    long pg = sysconf(_SC_PAGESIZE);
    unsigned char *map = mmap(NULL, 2 * (size_t)pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(map != MAP_FAILED);
    CHECK_EQ(mprotect(map + pg, (size_t)pg, PROT_NONE), 0);
    /* Room for exactly 3 events, right before an inaccessible page. */
    struct kevent *room = (struct kevent *)(map + pg) - 3;
    struct kevent ch[3];
    for (int i = 0; i < 3; i++) EV_SET(&ch[i], (uintptr_t)i, EVFILT_USER, EV_ADD | EV_CLEAR, NOTE_TRIGGER, 0, NULL);
    CHECK_EQ(kevent(kq, ch, 3, NULL, 0, NULL), 0);
    CHECK_EQ(kevent(kq, NULL, 0, room, INT_MAX, &zero), 3);
    CHECK_EQ(kevent(kq, NULL, 0, room, INT_MAX, &zero), 0);
    munmap(map, 2 * (size_t)pg);
    close(kq);
}

static void test_timeout_out_of_range_einval(void) {
    int kq = kqueue();
    CHECK(kq >= 0);
    struct kevent ev;
    struct timespec bad[] = {{0, -1}, {0, 1000000000}, {0, LONG_MAX}, {-1, 0}, {LONG_MIN, 0}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        errno = 0;
        int r = kevent(kq, NULL, 0, &ev, 1, &bad[i]);
        if (r != -1 || errno != EINVAL)
            fprintf(stderr, "timeout {%ld, %ld}: %d errno %d\n", (long)bad[i].tv_sec, bad[i].tv_nsec, r, errno);
        CHECK_ERRNO(kevent(kq, NULL, 0, &ev, 1, &bad[i]), EINVAL);
    }
    /* FreeBSD (kqueue_scan) and libkqueue look at the timeout only when
     * they come to wait, after the change list: with no room to collect
     * into, the changes are applied and the bad timeout goes unused. */
    EV_SET(&ev, 7, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, NULL);
    CHECK_EQ(kevent(kq, &ev, 1, NULL, 0, &bad[0]), 0);
    CHECK_EQ(kevent(kq, NULL, 0, NULL, 0, &bad[0]), 0);
    /* With room, the changes are applied, then the wait is refused. */
    struct kevent out;
    EV_SET(&ev, 9, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, NULL);
    CHECK_ERRNO(kevent(kq, &ev, 1, &out, 1, &bad[3]), EINVAL);
    /* A change reported in the list ends the call before any wait. */
    EV_SET(&ev, 12345, EVFILT_USER, EV_DELETE, 0, 0, NULL);
    CHECK_EQ(kevent(kq, &ev, 1, &out, 1, &bad[1]), 1);
    CHECK((out.flags & EV_ERROR) != 0);
    CHECK_EQ(out.data, ENOENT);
    /* Both knotes exist. */
    EV_SET(&ev, 7, EVFILT_USER, EV_DELETE, 0, 0, NULL);
    CHECK_EQ(kevent(kq, &ev, 1, NULL, 0, NULL), 0);
    EV_SET(&ev, 9, EVFILT_USER, EV_DELETE, 0, 0, NULL);
    CHECK_EQ(kevent(kq, &ev, 1, NULL, 0, NULL), 0);
    /* The largest valid timeout is accepted (returns at once: an event is ready). */
    struct timespec huge = {LONG_MAX, 999999999};
    EV_SET(&ev, 8, EVFILT_USER, EV_ADD | EV_ONESHOT, NOTE_TRIGGER, 0, NULL);
    CHECK_EQ(kevent(kq, &ev, 1, &ev, 1, &huge), 1);
    CHECK(still_works(kq));
    close(kq);
}

static void test_invalid_filter_flag_combinations(void) {
    int kq = kqueue();
    CHECK(kq >= 0);
    struct kevent ev;
    /* Timer units that contradict each other, and negative periods. */
    EV_SET(&ev, 1, EVFILT_TIMER, EV_ADD, NOTE_SECONDS | NOTE_NSECONDS, 5, NULL);
    CHECK_ERRNO(kevent(kq, &ev, 1, NULL, 0, NULL), EINVAL);
    EV_SET(&ev, 1, EVFILT_TIMER, EV_ADD, NOTE_USECONDS, INTPTR_MIN, NULL);
    CHECK_ERRNO(kevent(kq, &ev, 1, NULL, 0, NULL), EINVAL);
    /* Signals that do not exist. */
    int sigs[] = {0, -1, 65, 1000, INT_MAX};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        EV_SET(&ev, (uintptr_t)(intptr_t)sigs[i], EVFILT_SIGNAL, EV_ADD, 0, 0, NULL);
        CHECK_ERRNO(kevent(kq, &ev, 1, NULL, 0, NULL), EINVAL);
    }
    /* A process that does not exist. */
    EV_SET(&ev, (uintptr_t)INT_MAX, EVFILT_PROC, EV_ADD, NOTE_EXIT, 0, NULL);
    CHECK_ERRNO(kevent(kq, &ev, 1, NULL, 0, NULL), ESRCH);
    /* EV_ONESHOT with EV_DISPATCH on every filter kind that takes EV_ADD. */
    int p[2];
    CHECK(pipe(p) == 0);
    EV_SET(&ev, (uintptr_t)p[0], EVFILT_READ, EV_ADD | EV_ONESHOT | EV_DISPATCH, 0, 0, NULL);
    CHECK_ERRNO(kevent(kq, &ev, 1, NULL, 0, NULL), EINVAL);
    EV_SET(&ev, 3, EVFILT_TIMER, EV_ADD | EV_ONESHOT | EV_DISPATCH, 0, 10, NULL);
    CHECK_ERRNO(kevent(kq, &ev, 1, NULL, 0, NULL), EINVAL);
    /* No flag at all on a knote that does not exist, and flags without an action. */
    EV_SET(&ev, (uintptr_t)p[0], EVFILT_READ, EV_CLEAR, 0, 0, NULL);
    CHECK_ERRNO(kevent(kq, &ev, 1, NULL, 0, NULL), ENOENT);
    /* System flags the caller must not set are ignored, not obeyed. */
    EV_SET(&ev, 9, EVFILT_USER, EV_ADD | EV_ERROR | EV_EOF, 0, 0, NULL);
    int r = kevent(kq, &ev, 1, NULL, 0, NULL);
    CHECK(r == 0 || (r == -1 && errno == EINVAL));
    close(p[0]);
    close(p[1]);
    CHECK(still_works(kq));
    close(kq);
}

/* Every kind of descriptor that is not a kqueue. */
static void test_kevent_on_every_wrong_descriptor(void) {
    int fds[16], n = 0, p[2], s[2];
    CHECK(pipe(p) == 0);
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, s) == 0);
    fds[n++] = p[0];
    fds[n++] = p[1];
    fds[n++] = s[0];
    fds[n++] = socket(AF_INET, SOCK_DGRAM, 0);
    fds[n++] = eventfd(0, 0);
    fds[n++] = timerfd_create(CLOCK_MONOTONIC, 0);
    sigset_t none;
    sigemptyset(&none);
    fds[n++] = signalfd(-1, &none, 0);
    fds[n++] = open("/dev/null", O_RDWR);
    fds[n++] = open("/", O_RDONLY | O_DIRECTORY);
    fds[n++] = open("/proc/self/stat", O_RDONLY);
    fds[n++] = open("/", O_PATH);
    fds[n++] = dmover_open(0);
    for (int i = 0; i < n; i++) CHECK(fds[i] >= 0);
    struct kevent ev;
    EV_SET(&ev, 1, EVFILT_USER, EV_ADD, 0, 0, NULL);
    for (int i = 0; i < n; i++) {
        CHECK_ERRNO(kevent(fds[i], NULL, 0, &ev, 1, &zero), EBADF);
        CHECK_ERRNO(kevent(fds[i], &ev, 1, NULL, 0, &zero), EBADF);
    }
    /* Numbers that cannot be descriptors at all. */
    int nums[] = {-1, INT_MIN, INT_MAX, 1 << 20};
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) CHECK_ERRNO(kevent(nums[i], &ev, 1, NULL, 0, &zero), EBADF);
    for (int i = 0; i < n; i++) close(fds[i]);
    close(s[1]);
}

int main(void) {
    RUN(test_extreme_counts);
    RUN(test_huge_nevents_writes_only_ready_events);
    RUN(test_timeout_out_of_range_einval);
    RUN(test_invalid_filter_flag_combinations);
    RUN(test_kevent_on_every_wrong_descriptor);
    return harness_finish();
}
