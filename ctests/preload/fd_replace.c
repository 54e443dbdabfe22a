/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * fd_replace.c (run under LD_PRELOAD=libbsdshim-preload.so): dup2, dup3 and
 * close_range tell kqueue that the descriptor they replace or close is gone,
 * as close() does, so its knotes are deleted as on BSD even while a dup() of
 * the old file keeps it alive (epoll alone would go on reporting that file).
 */
#define _GNU_SOURCE
#include <sys/event.h>
#include <fcntl.h>
#include <unistd.h>
#include "harness.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC 4
#endif
int close_range(unsigned int first, unsigned int last, int flags);

/* Events ready now on kq. */
static int ready(int kq) {
    struct kevent ev[4];
    struct timespec zero = {0, 0};
    return kevent(kq, NULL, 0, ev, 4, &zero);
}

/* A kqueue watching the read end of a pipe (which has data); *keep is a dup of it. */
static int watched_pipe(int p[2], int *keep) {
    if (pipe(p) != 0) return -1;
    int kq = kqueue();
    struct kevent ch;
    EV_SET(&ch, p[0], EVFILT_READ, EV_ADD, 0, 0, NULL);
    if (kq < 0 || kevent(kq, &ch, 1, NULL, 0, NULL) != 0) return -1;
    *keep = dup(p[0]);
    if (write(p[1], "x", 1) != 1) return -1;
    return kq;
}

static void test_dup2_over_a_watched_descriptor_deletes_its_knote(void) {
    int p[2], keep, other[2];
    int kq = watched_pipe(p, &keep);
    CHECK(kq >= 0);
    CHECK_EQ(ready(kq), 1);
    CHECK_EQ(pipe(other), 0);
    CHECK_EQ(dup2(other[0], p[0]), p[0]);                     /* p[0] now names the other pipe */
    CHECK_EQ(ready(kq), 0);                                   /* the old file's knote is gone */
    close(kq); close(keep); close(p[0]); close(p[1]); close(other[0]); close(other[1]);
}

static void test_dup3_over_a_watched_descriptor_deletes_its_knote(void) {
    int p[2], keep, other[2];
    int kq = watched_pipe(p, &keep);
    CHECK(kq >= 0);
    CHECK_EQ(ready(kq), 1);
    CHECK_EQ(pipe(other), 0);
    CHECK_EQ(dup3(other[0], p[0], O_CLOEXEC), p[0]);
    CHECK_EQ(ready(kq), 0);
    close(kq); close(keep); close(p[0]); close(p[1]); close(other[0]); close(other[1]);
}

static void test_dup2_onto_itself_or_from_a_bad_descriptor_changes_nothing(void) {
    int p[2], keep;
    int kq = watched_pipe(p, &keep);
    CHECK(kq >= 0);
    CHECK_EQ(dup2(p[0], p[0]), p[0]);
    CHECK_ERRNO(dup2(-1, p[0]), EBADF);
    CHECK_EQ(ready(kq), 1);                                   /* still watched */
    close(kq); close(keep); close(p[0]); close(p[1]);
}

static void test_close_range_deletes_knotes_unless_cloexec_only(void) {
    int p[2], keep;
    int kq = watched_pipe(p, &keep);
    CHECK(kq >= 0);
    CHECK_EQ(close_range((unsigned)p[0], (unsigned)p[0], CLOSE_RANGE_CLOEXEC), 0);
    CHECK_EQ(ready(kq), 1);                                   /* only marked close-on-exec */
    CHECK_EQ(close_range((unsigned)p[0], (unsigned)p[0], 0), 0);
    CHECK_EQ(ready(kq), 0);
    CHECK_ERRNO(fcntl(p[0], F_GETFD), EBADF);
    close(kq); close(keep); close(p[1]);
}

int main(void) {
    RUN(test_dup2_over_a_watched_descriptor_deletes_its_knote);
    RUN(test_dup3_over_a_watched_descriptor_deletes_its_knote);
    RUN(test_dup2_onto_itself_or_from_a_bad_descriptor_changes_nothing);
    RUN(test_close_range_deletes_knotes_unless_cloexec_only);
    return harness_finish();
}
