/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * bsd_parity.c: BSD kqueue behaviour that libkqueue's Linux backend does not
 * give (its own test suite skips these cases on Linux) and that bsdshim
 * does, kept here so it stays that way:
 *  - EVFILT_READ on a regular file fires again after every append, for as
 *    long as the descriptor is open, also once the file was renamed or
 *    unlinked (BSD: data = size - offset, re-checked on each write);
 *  - EVFILT_WRITE with NOTE_LOWAT on a TCP socket: a mark above what the
 *    send buffer can ever hold never fires, a small one fires with data at
 *    or above it (BSD: sbspace() >= the mark; Linux has no settable
 *    SO_SNDLOWAT);
 *  - EVFILT_TIMER with an interval too large for the clock, in every unit
 *    and as an absolute time: refused with EINVAL or accepted and never
 *    firing early (BSD clamps), never wrapping around to fire at once.
 */
#define _GNU_SOURCE
#include "kq_test.h"
#include "kq_net.h"

#include <stdint.h>
#include <sys/socket.h>

static int tag;

/* Appends n bytes of 'x' to fd; returns what write() returned. */
static ssize_t append_bytes(int fd, size_t n) {
    char buf[64];
    memset(buf, 'x', sizeof buf);
    return write(fd, buf, n < sizeof buf ? n : sizeof buf);
}

static void test_regular_file_read_rearms_after_rename_and_unlink(void) {
    char dir[] = "/tmp/bsdshim-parity-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char first[64], second[64];
    snprintf(first, sizeof first, "%s/a", dir);
    snprintf(second, sizeof second, "%s/b", dir);
    int w = open(first, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    CHECK(w >= 0);
    int r = open(first, O_RDONLY | O_CLOEXEC);
    CHECK(r >= 0);
    int kq = kqueue();
    CHECK_EQ(kq_change(kq, r, EVFILT_READ, EV_ADD, 0, 0, &tag), 0);
    struct kevent ev;
    CHECK_EQ(kq_wait(kq, &ev, 1, 20), 0); /* empty file: reader at EOF */
    for (int cycle = 0; cycle < 3; cycle++) {
        /* Cycle 1 runs on the renamed file, cycle 2 on the unlinked one. */
        if (cycle == 1) CHECK_EQ(rename(first, second), 0);
        if (cycle == 2) CHECK_EQ(unlink(second), 0);
        size_t n = 5 + (size_t)cycle;
        CHECK_EQ(append_bytes(w, n), (ssize_t)n);
        CHECK_EQ(kq_wait(kq, &ev, 1, 2000), 1);
        CHECK_EQ(ev.ident, r);
        CHECK_EQ(ev.filter, EVFILT_READ);
        CHECK_EQ(ev.data, (intptr_t)n);
        CHECK(ev.udata == &tag);
        char buf[16];
        CHECK_EQ(read(r, buf, sizeof buf), (ssize_t)n);
        /* Back at EOF: level-triggered, yet nothing to report. */
        CHECK_EQ(kq_wait(kq, &ev, 1, 20), 0);
    }
    close(kq);
    close(r);
    close(w);
    CHECK_EQ(rmdir(dir), 0);
}

static void test_tcp_write_lowat_against_send_buffer(void) {
    int c[2];
    CHECK_EQ(tcp_pair(c), 0);
    int sndbuf = 0;
    socklen_t len = sizeof sndbuf;
    CHECK_EQ(getsockopt(c[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, &len), 0);
    CHECK(sndbuf > 0);
    int kq = kqueue();
    struct kevent ev;
    /* More free space than the buffer has: can never be reached. */
    CHECK_EQ(kq_change(kq, c[0], EVFILT_WRITE, EV_ADD, NOTE_LOWAT, (intptr_t)sndbuf + 4096, &tag), 0);
    CHECK_EQ(kq_wait(kq, &ev, 1, 100), 0);
    /* The same knote with a mark of 1 byte: an idle connection is writable. */
    CHECK_EQ(kq_change(kq, c[0], EVFILT_WRITE, EV_ADD, NOTE_LOWAT, 1, &tag), 0);
    CHECK_EQ(kq_wait(kq, &ev, 1, 2000), 1);
    CHECK_EQ(ev.ident, c[0]);
    CHECK_EQ(ev.filter, EVFILT_WRITE);
    CHECK(ev.data >= 1);
    CHECK(ev.udata == &tag);
    /* A mark at what is free now fires, and the space it reports meets it. */
    intptr_t free_now = ev.data;
    CHECK_EQ(kq_change(kq, c[0], EVFILT_WRITE, EV_ADD, NOTE_LOWAT, free_now, &tag), 0);
    CHECK_EQ(kq_wait(kq, &ev, 1, 2000), 1);
    CHECK(ev.data >= free_now);
    close(kq);
    close(c[0]);
    close(c[1]);
}

/* Adds a one-shot timer; 1 if refused with EINVAL, 0 if accepted and silent
 * for 30 ms, -1 if it fired early or failed otherwise. */
static int huge_timer_outcome(unsigned int fflags, intptr_t data) {
    int kq = kqueue();
    if (kq < 0) return -1;
    int result;
    if (kq_change(kq, 7, EVFILT_TIMER, EV_ADD | EV_ONESHOT, fflags, data, NULL) != 0) {
        result = errno == EINVAL ? 1 : -1;
    } else {
        struct kevent ev;
        result = kq_wait(kq, &ev, 1, 30) == 0 ? 0 : -1;
    }
    close(kq);
    return result;
}

static void test_timer_huge_interval_never_fires_at_once(void) {
    const unsigned int units[] = {0, NOTE_SECONDS, NOTE_USECONDS, NOTE_NSECONDS};
    const intptr_t sizes[] = {INTPTR_MAX, INTPTR_MAX / 2, INTPTR_MAX / 1000 + 1};
    for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            int outcome = huge_timer_outcome(units[u], sizes[s]);
            if (outcome < 0) fprintf(stderr, "unit 0x%x, data %jd: fired early or failed\n", units[u], (intmax_t)sizes[s]);
            CHECK(outcome >= 0);
            /* An absolute time that far in the future is no nearer (the
             * smallest size is in the past as nanoseconds: skipped). */
            if (s == 2) continue;
            outcome = huge_timer_outcome(units[u] | NOTE_ABSOLUTE, sizes[s]);
            if (outcome < 0) fprintf(stderr, "absolute, unit 0x%x, data %jd: fired early or failed\n", units[u], (intmax_t)sizes[s]);
            CHECK(outcome >= 0);
        }
    }
}

int main(void) {
    RUN(test_regular_file_read_rearms_after_rename_and_unlink);
    RUN(test_tcp_write_lowat_against_send_buffer);
    RUN(test_timer_huge_interval_never_fires_at_once);
    return harness_finish();
}
