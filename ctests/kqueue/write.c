/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * write.c: EVFILT_WRITE on pipes, socketpairs, TCP, regular files, ttys and
 * eventfds: data = space writable (pipe: capacity - contents), no event when
 * full, EV_EOF when the reader goes away, NOTE_LOWAT, and read and write
 * knotes on one descriptor with different modes.
 */
#define _GNU_SOURCE
#include "kq_test.h"
#include "kq_net.h"

#include <sys/eventfd.h>

static int tag_r, tag_w;

static int wait1(int kq, struct kevent *ev) { return kq_wait(kq, ev, 1, 3000); }

static void test_pipe_data_is_capacity_minus_contents(void) {
    int kq = kqueue(), p[2];
    CHECK(pipe2(p, O_NONBLOCK) == 0);
    int cap = fcntl(p[1], F_GETPIPE_SZ);
    CHECK(cap > 0);
    CHECK_EQ(kq_change(kq, p[1], EVFILT_WRITE, EV_ADD, 0, 0, &tag_w), 0);
    struct kevent ev;
    CHECK_EQ(wait1(kq, &ev), 1);
    CHECK_EQ(ev.ident, p[1]);
    CHECK_EQ(ev.filter, EVFILT_WRITE);
    CHECK_EQ(ev.flags, EV_ADD);
    CHECK(ev.udata == &tag_w);
    CHECK_EQ(ev.data, cap);
    CHECK_EQ(put_bytes(p[1], 100), 100);
    CHECK_EQ(kq_poll(kq, &ev, 1), 1);
    CHECK_EQ(ev.data, cap - 100);
    close(p[0]);
    close(p[1]);
    close(kq);
}

static void test_pipe_full_no_event_until_drained(void) {
    int kq = kqueue(), p[2];
    CHECK(pipe2(p, O_NONBLOCK) == 0);
    int cap = fcntl(p[1], F_GETPIPE_SZ);
    size_t filled = fill_until_full(p[1]);
    CHECK_EQ(filled, cap);
    CHECK_EQ(kq_change(kq, p[1], EVFILT_WRITE, EV_ADD, 0, 0, NULL), 0);
    struct kevent ev;
    CHECK_EQ(kq_wait(kq, &ev, 1, 50), 0);
    CHECK_EQ(drain(p[0], 0), filled);
    CHECK_EQ(wait1(kq, &ev), 1);
    CHECK_EQ(ev.data, cap);
    close(p[0]);
    close(p[1]);
    close(kq);
}

static void test_pipe_reader_closed_eof(void) {
    int kq = kqueue(), p[2];
    CHECK(pipe2(p, O_NONBLOCK) == 0);
    CHECK_EQ(kq_change(kq, p[1], EVFILT_WRITE, EV_ADD | EV_CLEAR, 0, 0, NULL), 0);
    struct kevent ev;
    CHECK_EQ(wait1(kq, &ev), 1);
    CHECK_EQ(ev.flags & EV_EOF, 0);
    close(p[0]);
    CHECK_EQ(wait1(kq, &ev), 1);
    CHECK_EQ(ev.flags, EV_ADD | EV_CLEAR | EV_EOF);
    close(p[1]);
    close(kq);
}

static void test_socketpair_stream_full_then_drained(void) {
    int kq = kqueue(), sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
    CHECK_EQ(kq_change(kq, sv[0], EVFILT_WRITE, EV_ADD, 0, 0, NULL), 0);
    struct kevent ev;
    CHECK_EQ(wait1(kq, &ev), 1);
    CHECK(ev.data > 0);
    intptr_t empty_space = ev.data;
    size_t filled = fill_until_full(sv[0]);
    CHECK(filled > 0);
    CHECK_EQ(kq_wait(kq, &ev, 1, 50), 0);
    CHECK_EQ(drain(sv[1], 0), filled);
    CHECK_EQ(wait1(kq, &ev), 1);
    CHECK(ev.data > 0);
    CHECK(ev.data <= empty_space);
    close(sv[0]);
    close(sv[1]);
    close(kq);
}

static void test_socketpair_peer_closed_eof(void) {
    int kq = kqueue(), sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
    CHECK_EQ(kq_change(kq, sv[0], EVFILT_WRITE, EV_ADD | EV_CLEAR, 0, 0, NULL), 0);
    struct kevent ev;
    CHECK_EQ(wait1(kq, &ev), 1);
    close(sv[1]);
    CHECK_EQ(wait1(kq, &ev), 1);
    CHECK(ev.flags & EV_EOF);
    close(sv[0]);
    close(kq);
}

static void test_tcp_connected_writable(void) {
    int c[2];
    CHECK_EQ(tcp_pair(c), 0);
    int kq = kqueue();
    CHECK_EQ(kq_change(kq, c[0], EVFILT_WRITE, EV_ADD, 0, 0, NULL), 0);
    struct kevent ev;
    CHECK_EQ(wait1(kq, &ev), 1);
    CHECK_EQ(ev.ident, c[0]);
    CHECK(ev.data > 0);
    CHECK_EQ(ev.flags & EV_EOF, 0);
    close(c[0]);
    close(c[1]);
    close(kq);
}

static void test_regular_file_always_writable(void) {
    char path[] = "/tmp/bsdshim-write-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    unlink(path);
    int kq = kqueue();
    CHECK_EQ(kq_change(kq, fd, EVFILT_WRITE, EV_ADD, 0, 0, &tag_w), 0);
    struct kevent ev;
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(kq_poll(kq, &ev, 1), 1);
        CHECK_EQ(ev.ident, fd);
        CHECK_EQ(ev.filter, EVFILT_WRITE);
        CHECK_EQ(ev.data, 0);
        CHECK(ev.udata == &tag_w);
        CHECK_EQ(put_bytes(fd, 10), 10);
    }
    close(fd);
    close(kq);
}

static void test_tty_writable(void) {
    int m = posix_openpt(O_RDWR | O_NOCTTY);
    CHECK(m >= 0);
    CHECK_EQ(grantpt(m), 0);
    CHECK_EQ(unlockpt(m), 0);
    int s = open(ptsname(m), O_RDWR | O_NOCTTY | O_NONBLOCK);
    CHECK(s >= 0);
    int kq = kqueue();
    CHECK_EQ(kq_change(kq, s, EVFILT_WRITE, EV_ADD, 0, 0, NULL), 0);
    struct kevent ev;
    CHECK_EQ(wait1(kq, &ev), 1);
    CHECK_EQ(ev.ident, s);
    CHECK(ev.data >= 0);
    close(s);
    close(m);
    close(kq);
}

static void test_eventfd_writable(void) {
    int efd = eventfd(0, EFD_NONBLOCK);
    CHECK(efd >= 0);
    int kq = kqueue();
    CHECK_EQ(kq_change(kq, efd, EVFILT_WRITE, EV_ADD, 0, 0, NULL), 0);
    struct kevent ev;
    CHECK_EQ(wait1(kq, &ev), 1);
    CHECK_EQ(ev.ident, efd);
    /* Counter at its maximum: not writable. */
    uint64_t big = 0xfffffffffffffffeULL;
    CHECK_EQ(write(efd, &big, 8), 8);
    CHECK_EQ(kq_wait(kq, &ev, 1, 50), 0);
    close(efd);
    close(kq);
}

static void test_lowat_pipe(void) {
    int kq = kqueue(), p[2];
    CHECK(pipe2(p, O_NONBLOCK) == 0);
    int cap = fcntl(p[1], F_GETPIPE_SZ);
    /* Ready only while the whole capacity is free. */
    CHECK_EQ(kq_change(kq, p[1], EVFILT_WRITE, EV_ADD, NOTE_LOWAT, cap, NULL), 0);
    struct kevent ev;
    CHECK_EQ(wait1(kq, &ev), 1);
    CHECK_EQ(ev.data, cap);
    CHECK_EQ(put_bytes(p[1], 1), 1);
    CHECK_EQ(kq_wait(kq, &ev, 1, 50), 0);
    CHECK_EQ(drain(p[0], 1), 1);
    CHECK_EQ(wait1(kq, &ev), 1);
    CHECK_EQ(ev.data, cap);
    close(p[0]);
    close(p[1]);
    close(kq);
}

/* BSD's kevent fills the whole event list: 200 ready descriptors come back
 * in one call (each once), whether the list has room for all or for fewer;
 * level-triggered, they come back again; one-shot, once only. */
static void test_many_ready_descriptors_in_one_call(void) {
    enum { N = 200 };
    static int fds[N];
    static struct kevent ch[N], ev[256];
    int kq = kqueue();
    CHECK(kq >= 0);
    for (int i = 0; i < N; i++) {
        fds[i] = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        CHECK(fds[i] >= 0);
        EV_SET(&ch[i], fds[i], EVFILT_WRITE, EV_ADD, 0, 0, (void *)(intptr_t)i);
    }
    CHECK_EQ(kevent(kq, ch, N, NULL, 0, NULL), 0);
    struct timespec zero = {0, 0}, one = {1, 0};
    for (int round = 0; round < 2; round++) {
        CHECK_EQ(kevent(kq, NULL, 0, ev, 256, round ? &one : &zero), N);
        static char seen[N];
        memset(seen, 0, sizeof seen);
        for (int i = 0; i < N; i++) {
            intptr_t k = (intptr_t)ev[i].udata;
            CHECK(k >= 0 && k < N && !seen[k]);
            seen[k] = 1;
        }
    }
    CHECK_EQ(kevent(kq, NULL, 0, ev, 150, &zero), 150);
    /* One-shot (new knotes): every descriptor once, then nothing. */
    for (int i = 0; i < N; i++) EV_SET(&ch[i], fds[i], EVFILT_WRITE, EV_DELETE, 0, 0, NULL);
    CHECK_EQ(kevent(kq, ch, N, NULL, 0, NULL), 0);
    for (int i = 0; i < N; i++) EV_SET(&ch[i], fds[i], EVFILT_WRITE, EV_ADD | EV_ONESHOT, 0, 0, NULL);
    CHECK_EQ(kevent(kq, ch, N, NULL, 0, NULL), 0);
    CHECK_EQ(kevent(kq, NULL, 0, ev, 256, &zero), N);
    CHECK_EQ(kevent(kq, NULL, 0, ev, 256, &zero), 0);
    for (int i = 0; i < N; i++) close(fds[i]);
    close(kq);
}

static void test_write_oneshot_and_dispatch(void) {
    int kq = kqueue(), p[2];
    CHECK(pipe2(p, O_NONBLOCK) == 0);
    CHECK_EQ(kq_change(kq, p[1], EVFILT_WRITE, EV_ADD | EV_ONESHOT, 0, 0, NULL), 0);
    struct kevent ev;
    CHECK_EQ(wait1(kq, &ev), 1);
    CHECK_EQ(ev.flags, EV_ADD | EV_ONESHOT);
    CHECK_EQ(kq_poll(kq, &ev, 1), 0);
    CHECK_ERRNO(kq_change(kq, p[1], EVFILT_WRITE, EV_DELETE, 0, 0, NULL), ENOENT);
    CHECK_EQ(kq_change(kq, p[1], EVFILT_WRITE, EV_ADD | EV_DISPATCH, 0, 0, NULL), 0);
    CHECK_EQ(wait1(kq, &ev), 1);
    CHECK_EQ(ev.flags, EV_ADD | EV_DISPATCH);
    CHECK_EQ(kq_poll(kq, &ev, 1), 0);
    CHECK_EQ(kq_change(kq, p[1], EVFILT_WRITE, EV_ENABLE, 0, 0, NULL), 0);
    CHECK_EQ(wait1(kq, &ev), 1);
    CHECK_EQ(kq_poll(kq, &ev, 1), 0);
    close(p[0]);
    close(p[1]);
    close(kq);
}

static void test_read_and_write_knotes_coexist_with_different_modes(void) {
    int kq = kqueue(), sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
    CHECK_EQ(kq_change(kq, sv[0], EVFILT_READ, EV_ADD, 0, 0, &tag_r), 0);
    CHECK_EQ(kq_change(kq, sv[0], EVFILT_WRITE, EV_ADD | EV_CLEAR, 0, 0, &tag_w), 0);
    struct kevent ev[4];
    /* Writable once (edge), not readable. */
    CHECK_EQ(kq_wait(kq, ev, 4, 3000), 1);
    CHECK_EQ(ev[0].filter, EVFILT_WRITE);
    CHECK(ev[0].udata == &tag_w);
    CHECK_EQ(ev[0].flags, EV_ADD | EV_CLEAR);
    CHECK_EQ(kq_wait(kq, ev, 4, 20), 0);
    /* Data arrives: the level read knote reports on every call. */
    CHECK_EQ(put_bytes(sv[1], 3), 3);
    for (int round = 0; round < 2; round++) {
        int n = kq_wait(kq, ev, 4, 3000);
        CHECK_EQ(n, 1);
        CHECK_EQ(ev[0].filter, EVFILT_READ);
        CHECK(ev[0].udata == &tag_r);
        CHECK_EQ(ev[0].data, 3);
        CHECK_EQ(ev[0].flags, EV_ADD);
    }
    /* Deleting the write knote leaves the read knote. */
    CHECK_EQ(kq_change(kq, sv[0], EVFILT_WRITE, EV_DELETE, 0, 0, NULL), 0);
    CHECK_EQ(kq_poll(kq, ev, 4), 1);
    CHECK_EQ(ev[0].filter, EVFILT_READ);
    CHECK_EQ(kq_change(kq, sv[0], EVFILT_READ, EV_DELETE, 0, 0, NULL), 0);
    CHECK_EQ(kq_poll(kq, ev, 4), 0);
    close(sv[0]);
    close(sv[1]);
    close(kq);
}

static void test_read_oneshot_write_level_same_fd(void) {
    int kq = kqueue(), sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
    CHECK_EQ(kq_change(kq, sv[0], EVFILT_READ, EV_ADD | EV_ONESHOT, 0, 0, &tag_r), 0);
    CHECK_EQ(kq_change(kq, sv[0], EVFILT_WRITE, EV_ADD, 0, 0, &tag_w), 0);
    CHECK_EQ(put_bytes(sv[1], 1), 1);
    ms_sleep(10);
    struct kevent ev[4];
    int n = kq_poll(kq, ev, 4);
    CHECK_EQ(n, 2);
    int r = 0, w = 0;
    for (int i = 0; i < n; i++) {
        if (ev[i].filter == EVFILT_READ) r++;
        if (ev[i].filter == EVFILT_WRITE) w++;
    }
    CHECK_EQ(r, 1);
    CHECK_EQ(w, 1);
    /* The read knote is gone, the write knote stays level-triggered. */
    n = kq_poll(kq, ev, 4);
    CHECK_EQ(n, 1);
    CHECK_EQ(ev[0].filter, EVFILT_WRITE);
    close(sv[0]);
    close(sv[1]);
    close(kq);
}

static void test_write_knotes_in_two_kqueues(void) {
    int kq1 = kqueue(), kq2 = kqueue(), p[2];
    CHECK(pipe2(p, O_NONBLOCK) == 0);
    CHECK_EQ(kq_change(kq1, p[1], EVFILT_WRITE, EV_ADD, 0, 0, NULL), 0);
    CHECK_EQ(kq_change(kq2, p[1], EVFILT_WRITE, EV_ADD | EV_CLEAR, 0, 0, NULL), 0);
    struct kevent ev;
    CHECK_EQ(wait1(kq1, &ev), 1);
    CHECK_EQ(wait1(kq2, &ev), 1);
    CHECK_EQ(kq_change(kq1, p[1], EVFILT_WRITE, EV_DELETE, 0, 0, NULL), 0);
    CHECK_EQ(kq_poll(kq1, &ev, 1), 0);
    close(p[0]); /* EOF still reaches the other kqueue */
    CHECK_EQ(wait1(kq2, &ev), 1);
    CHECK(ev.flags & EV_EOF);
    close(p[1]);
    close(kq1);
    close(kq2);
}

int main(void) {
    RUN(test_pipe_data_is_capacity_minus_contents);
    RUN(test_pipe_full_no_event_until_drained);
    RUN(test_pipe_reader_closed_eof);
    RUN(test_socketpair_stream_full_then_drained);
    RUN(test_socketpair_peer_closed_eof);
    RUN(test_tcp_connected_writable);
    RUN(test_regular_file_always_writable);
    RUN(test_tty_writable);
    RUN(test_eventfd_writable);
    RUN(test_lowat_pipe);
    RUN(test_many_ready_descriptors_in_one_call);
    RUN(test_write_oneshot_and_dispatch);
    RUN(test_read_and_write_knotes_coexist_with_different_modes);
    RUN(test_read_oneshot_write_level_same_fd);
    RUN(test_write_knotes_in_two_kqueues);
    return harness_finish();
}
