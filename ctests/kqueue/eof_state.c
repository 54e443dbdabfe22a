/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * eof_state.c: what EV_EOF says, as BSD's filt_soread/filt_sowrite and
 * pipe filters say it: end-of-file ends when the other end comes back (a
 * FIFO's new writer), a socket's error with the connection standing is no
 * end-of-file, and a pipe end watched for the direction it cannot go
 * never fires, whatever the other end does.
 */
#include "kq_test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

/* A FIFO in a fresh directory; `path` gets its name. */
static int make_fifo(char *path, size_t size, char *dir) {
    strcpy(dir, "/tmp/bsdshim-eof-XXXXXX");
    if (mkdtemp(dir) == NULL) return -1;
    snprintf(path, size, "%s/fifo", dir);
    return mkfifo(path, 0600);
}

static void remove_fifo(const char *path, const char *dir) {
    unlink(path);
    rmdir(dir);
}

/* FreeBSD's tests/sys/fifo read_eof_state_when_reconnecting: after the
 * writer goes, EV_EOF; after a new writer writes, the event has data and
 * no EV_EOF (edge-triggered and level-triggered knotes alike). */
static void test_fifo_eof_ends_when_a_writer_returns(void) {
    char dir[64], path[96];
    CHECK_EQ(make_fifo(path, sizeof path, dir), 0);
    int rd = open(path, O_RDONLY | O_NONBLOCK);
    CHECK(rd >= 0);
    int wr = open(path, O_WRONLY | O_NONBLOCK);
    CHECK(wr >= 0);
    for (int clear = 0; clear <= 1; clear++) {
        int kq = kqueue();
        CHECK(kq >= 0);
        CHECK_EQ(kq_change(kq, (uintptr_t)rd, EVFILT_READ, EV_ADD | (clear ? EV_CLEAR : 0), 0, 0, NULL), 0);
        struct kevent ev;
        CHECK_EQ(kq_poll(kq, &ev, 1), 0);
        close(wr);
        CHECK_EQ(kq_wait(kq, &ev, 1, 2000), 1);
        CHECK((ev.flags & EV_EOF) != 0);
        CHECK_EQ(ev.data, 0);
        wr = open(path, O_WRONLY | O_NONBLOCK);
        CHECK(wr >= 0);
        /* Writer back, nothing written: nothing to report. */
        CHECK_EQ(kq_poll(kq, &ev, 1), 0);
        CHECK_EQ(write(wr, "x", 1), 1);
        CHECK_EQ(kq_wait(kq, &ev, 1, 2000), 1);
        CHECK_EQ(ev.flags & EV_EOF, 0);
        CHECK_EQ(ev.data, 1);
        char c;
        CHECK_EQ(read(rd, &c, 1), 1);
        close(kq);
    }
    close(wr);
    close(rd);
    remove_fifo(path, dir);
}

/* The write side: EVFILT_WRITE on a FIFO's write end reports EV_EOF while
 * no reader is there, and a reader opening the FIFO again is reported
 * without it (FreeBSD's fifo test connecting_reader, with EV_CLEAR; Linux
 * wakes no writer's epoll registration for that open). */
static void test_fifo_write_eof_ends_when_a_reader_returns(void) {
    char dir[64], path[96];
    CHECK_EQ(make_fifo(path, sizeof path, dir), 0);
    for (int clear = 0; clear <= 1; clear++) {
        int rd = open(path, O_RDONLY | O_NONBLOCK);
        CHECK(rd >= 0);
        int wr = open(path, O_WRONLY | O_NONBLOCK);
        CHECK(wr >= 0);
        int kq = kqueue();
        CHECK_EQ(kq_change(kq, (uintptr_t)wr, EVFILT_WRITE, EV_ADD | (clear ? EV_CLEAR : 0), 0, 0, NULL), 0);
        struct kevent ev;
        CHECK_EQ(kq_wait(kq, &ev, 1, 2000), 1);
        CHECK_EQ(ev.flags & EV_EOF, 0);
        close(rd);
        CHECK_EQ(kq_wait(kq, &ev, 1, 2000), 1);
        CHECK((ev.flags & EV_EOF) != 0);
        if (clear) CHECK_EQ(kq_poll(kq, &ev, 1), 0);
        /* Another writer opening it is no reader. */
        int wr2 = open(path, O_WRONLY | O_NONBLOCK);
        CHECK_EQ(wr2, -1);
        rd = open(path, O_RDONLY | O_NONBLOCK);
        CHECK(rd >= 0);
        CHECK_EQ(kq_wait(kq, &ev, 1, 2000), 1);
        CHECK_EQ(ev.flags & EV_EOF, 0);
        CHECK(ev.data > 0);
        if (clear) CHECK_EQ(kq_poll(kq, &ev, 1), 0);
        close(kq);
        close(wr);
        close(rd);
    }
    remove_fifo(path, dir);
}

/* A loopback UDP socket bound to an ephemeral port; *port gets it. */
static int udp_socket(uint16_t port, uint16_t *bound) {
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) return -1;
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    socklen_t len = sizeof a;
    if (bind(s, (struct sockaddr *)&a, sizeof a) != 0 || getsockname(s, (struct sockaddr *)&a, &len) != 0) {
        close(s);
        return -1;
    }
    *bound = ntohs(a.sin_port);
    return s;
}

static int udp_connect(int s, uint16_t port) {
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    return connect(s, (struct sockaddr *)&a, sizeof a);
}

/* A connected UDP socket that sent to a closed port has a pending error
 * (ICMP port unreachable): BSD reports it readable without EV_EOF ("a
 * temporary udp error"), and the socket goes on working. */
static void test_udp_error_is_not_end_of_file(void) {
    uint16_t mine, gone;
    int s = udp_socket(0, &mine);
    CHECK(s >= 0);
    int peer = udp_socket(0, &gone);
    CHECK(peer >= 0);
    close(peer);
    CHECK_EQ(udp_connect(s, gone), 0);
    int kq = kqueue();
    CHECK_EQ(kq_change(kq, (uintptr_t)s, EVFILT_READ, EV_ADD, 0, 0, NULL), 0);
    CHECK_EQ(send(s, "ping", 4, 0), 4);
    struct kevent ev;
    CHECK_EQ(kq_wait(kq, &ev, 1, 2000), 1);
    CHECK_EQ(ev.flags & EV_EOF, 0);
    char buf[16];
    errno = 0;
    CHECK_EQ(recv(s, buf, sizeof buf, MSG_DONTWAIT), -1);
    CHECK_EQ(errno, ECONNREFUSED);
    /* The error taken, nothing is ready; a datagram from the peer's port is. */
    CHECK_EQ(kq_poll(kq, &ev, 1), 0);
    uint16_t again;
    peer = udp_socket(gone, &again);
    CHECK(peer >= 0);
    CHECK_EQ(udp_connect(peer, mine), 0);
    CHECK_EQ(send(peer, "pong!", 5, 0), 5);
    CHECK_EQ(kq_wait(kq, &ev, 1, 2000), 1);
    CHECK_EQ(ev.flags & EV_EOF, 0);
    CHECK_EQ(ev.data, 5);
    close(kq);
    close(peer);
    close(s);
}

/* FreeBSD's pipe_kqfilter accepts EVFILT_READ on a write end and
 * EVFILT_WRITE on a read end and never fires them (pipe_nfiltops), even
 * when the other end closes; the knotes watching the right way get EV_EOF.
 * The silent knotes must not make a wait spin either. */
static void test_pipe_knote_of_the_other_direction_never_fires(void) {
    int a[2], b[2];
    CHECK_EQ(pipe(a), 0);
    CHECK_EQ(pipe(b), 0);
    int kq = kqueue();
    CHECK_EQ(kq_change(kq, (uintptr_t)a[1], EVFILT_READ, EV_ADD, 0, 0, (void *)1), 0);
    CHECK_EQ(kq_change(kq, (uintptr_t)b[0], EVFILT_WRITE, EV_ADD, 0, 0, (void *)2), 0);
    struct kevent ev[4];
    CHECK_EQ(kq_poll(kq, ev, 4), 0);
    close(a[0]); /* a's readers gone: a[1] is at EOF for writing */
    close(b[1]); /* b's writers gone: b[0] is at EOF for reading */
    long cpu0 = thread_cpu_ms();
    CHECK_EQ(kq_wait(kq, ev, 4, 300), 0);
    CHECK(thread_cpu_ms() - cpu0 < 150);
    /* The right directions report the same closes. */
    CHECK_EQ(kq_change(kq, (uintptr_t)a[1], EVFILT_WRITE, EV_ADD, 0, 0, (void *)3), 0);
    CHECK_EQ(kq_change(kq, (uintptr_t)b[0], EVFILT_READ, EV_ADD, 0, 0, (void *)4), 0);
    int n = kq_wait(kq, ev, 4, 2000);
    CHECK_EQ(n, 2);
    for (int i = 0; i < n; i++) {
        CHECK(ev[i].udata == (void *)3 || ev[i].udata == (void *)4);
        CHECK((ev[i].flags & EV_EOF) != 0);
    }
    /* Re-adding and re-enabling the silent knotes keeps them silent. */
    CHECK_EQ(kq_change(kq, (uintptr_t)a[1], EVFILT_READ, EV_ADD, 0, 0, (void *)1), 0);
    CHECK_EQ(kq_change(kq, (uintptr_t)b[0], EVFILT_WRITE, EV_DISABLE, 0, 0, NULL), 0);
    CHECK_EQ(kq_change(kq, (uintptr_t)b[0], EVFILT_WRITE, EV_ENABLE, 0, 0, NULL), 0);
    CHECK_EQ(kq_change(kq, (uintptr_t)a[1], EVFILT_WRITE, EV_DELETE, 0, 0, NULL), 0);
    CHECK_EQ(kq_change(kq, (uintptr_t)b[0], EVFILT_READ, EV_DELETE, 0, 0, NULL), 0);
    CHECK_EQ(kq_wait(kq, ev, 4, 200), 0);
    close(kq);
    close(a[1]);
    close(b[0]);
}

int main(void) {
    RUN_FORKED(test_fifo_eof_ends_when_a_writer_returns, 20);
    RUN_FORKED(test_fifo_write_eof_ends_when_a_reader_returns, 20);
    RUN_FORKED(test_udp_error_is_not_end_of_file, 20);
    RUN_FORKED(test_pipe_knote_of_the_other_direction_never_fires, 20);
    return harness_finish();
}
