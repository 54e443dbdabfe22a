/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * read.c: EVFILT_READ on pipes, FIFOs, stream and datagram socketpairs, TCP
 * listening and connected sockets, regular files, ttys and eventfds: data =
 * bytes readable (pending connections for a listener, bytes to EOF for a
 * file), EV_EOF when the writer goes away (also with data left), the socket
 * error in fflags after a reset, per-knote NOTE_LOWAT, several kqueues on one
 * descriptor.
 */
#define _GNU_SOURCE
#include "kq_test.h"
#include "kq_net.h"
#include "kq_preload.h"

#include <sys/eventfd.h>
#include <sys/stat.h>
#include <termios.h>

static int tag;

/* Waits for one event on kq (generous bound). */
static int wait1(int kq, struct kevent *ev) { return kq_wait(kq, ev, 1, 3000); }

static void test_pipe_data_is_bytes_readable(void) {
    int kq = kqueue(), p[2];
    CHECK(pipe2(p, O_NONBLOCK) == 0);
    CHECK_EQ(kq_change(kq, p[0], EVFILT_READ, EV_ADD, 0, 0, &tag), 0);
    CHECK_EQ(kq_wait(kq, (struct kevent[1]){0}, 1, 20), 0);
    CHECK_EQ(put_bytes(p[1], 10), 10);
    struct kevent ev;
    CHECK_EQ(wait1(kq, &ev), 1);
    CHECK_EQ(ev.ident, p[0]);
    CHECK_EQ(ev.data, 10);
    CHECK_EQ(ev.flags, EV_ADD);
    CHECK(ev.udata == &tag);
    CHECK_EQ(drain(p[0], 3), 3);
    CHECK_EQ(kq_poll(kq, &ev, 1), 1);
    CHECK_EQ(ev.data, 7);
    CHECK_EQ(put_bytes(p[1], 5000), 5000);
    CHECK_EQ(kq_poll(kq, &ev, 1), 1);
    CHECK_EQ(ev.data, 5007);
    close(p[0]);
    close(p[1]);
    close(kq);
}

static void test_pipe_eof_when_writer_closes(void) {
    int kq = kqueue(), p[2];
    CHECK(pipe2(p, O_NONBLOCK) == 0);
    CHECK_EQ(kq_change(kq, p[0], EVFILT_READ, EV_ADD, 0, 0, NULL), 0);
    close(p[1]);
    struct kevent ev;
    CHECK_EQ(wait1(kq, &ev), 1);
    CHECK_EQ(ev.flags, EV_ADD | EV_EOF);
    CHECK_EQ(ev.data, 0);
    close(p[0]);
    close(kq);
}

static void test_pipe_eof_with_data_left(void) {
    int kq = kqueue(), p[2];
    CHECK(pipe2(p, O_NONBLOCK) == 0);
    CHECK_EQ(kq_change(kq, p[0], EVFILT_READ, EV_ADD, 0, 0, NULL), 0);
    CHECK_EQ(put_bytes(p[1], 5), 5);
    close(p[1]);
    struct kevent ev;
    CHECK_EQ(wait1(kq, &ev), 1);
    CHECK(ev.flags & EV_EOF);
    CHECK_EQ(ev.data, 5);
    CHECK_EQ(drain(p[0], 2), 2);
    CHECK_EQ(kq_poll(kq, &ev, 1), 1);
    CHECK(ev.flags & EV_EOF);
    CHECK_EQ(ev.data, 3);
    close(p[0]);
    close(kq);
}

static void test_pipe_eof_with_clear_reported_once(void) {
    int kq = kqueue(), p[2];
    CHECK(pipe2(p, O_NONBLOCK) == 0);
    CHECK_EQ(kq_change(kq, p[0], EVFILT_READ, EV_ADD | EV_CLEAR, 0, 0, NULL), 0);
    close(p[1]);
    struct kevent ev;
    CHECK_EQ(wait1(kq, &ev), 1);
    CHECK_EQ(ev.flags, EV_ADD | EV_CLEAR | EV_EOF);
    CHECK_EQ(kq_wait(kq, &ev, 1, 50), 0);
    close(p[0]);
    close(kq);
}

static void test_fifo_read_and_eof(void) {
    char dir[] = "/tmp/bsdshim-fifo-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[64];
    snprintf(path, sizeof path, "%s/f", dir);
    CHECK_EQ(mkfifo(path, 0600), 0);
    int r = open(path, O_RDONLY | O_NONBLOCK);
    CHECK(r >= 0);
    int w = open(path, O_WRONLY | O_NONBLOCK);
    CHECK(w >= 0);
    unlink(path);
    rmdir(dir);
    int kq = kqueue();
    CHECK_EQ(kq_change(kq, r, EVFILT_READ, EV_ADD, 0, 0, NULL), 0);
    CHECK_EQ(kq_wait(kq, (struct kevent[1]){0}, 1, 20), 0);
    CHECK_EQ(put_bytes(w, 12), 12);
    struct kevent ev;
    CHECK_EQ(wait1(kq, &ev), 1);
    CHECK_EQ(ev.ident, r);
    CHECK_EQ(ev.data, 12);
    CHECK_EQ(ev.flags & EV_EOF, 0);
    CHECK_EQ(drain(r, 12), 12);
    close(w);
    CHECK_EQ(wait1(kq, &ev), 1);
    CHECK(ev.flags & EV_EOF);
    CHECK_EQ(ev.data, 0);
    close(r);
    close(kq);
}

static void test_socketpair_stream_data_and_shutdown_eof(void) {
    int kq = kqueue(), sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
    CHECK_EQ(kq_change(kq, sv[0], EVFILT_READ, EV_ADD, 0, 0, NULL), 0);
    CHECK_EQ(kq_wait(kq, (struct kevent[1]){0}, 1, 20), 0);
    CHECK_EQ(put_bytes(sv[1], 100), 100);
    struct kevent ev;
    CHECK_EQ(wait1(kq, &ev), 1);
    CHECK_EQ(ev.data, 100);
    CHECK_EQ(ev.flags, EV_ADD);
    /* The peer shuts down writing with 100 bytes still buffered. */
    CHECK_EQ(shutdown(sv[1], SHUT_WR), 0);
    CHECK_EQ(wait1(kq, &ev), 1);
    CHECK_EQ(ev.flags, EV_ADD | EV_EOF);
    CHECK_EQ(ev.data, 100);
    CHECK_EQ(drain(sv[0], 0), 100);
    CHECK_EQ(kq_poll(kq, &ev, 1), 1);
    CHECK(ev.flags & EV_EOF);
    CHECK_EQ(ev.data, 0);
    close(sv[0]);
    close(sv[1]);
    close(kq);
}

static void test_socketpair_stream_peer_close_eof(void) {
    int kq = kqueue(), sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
    CHECK_EQ(kq_change(kq, sv[0], EVFILT_READ, EV_ADD, 0, 0, NULL), 0);
    close(sv[1]);
    struct kevent ev;
    CHECK_EQ(wait1(kq, &ev), 1);
    CHECK(ev.flags & EV_EOF);
    CHECK_EQ(ev.data, 0);
    close(sv[0]);
    close(kq);
}

static void test_socketpair_datagram(void) {
    int kq = kqueue(), sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, sv) == 0);
    CHECK_EQ(kq_change(kq, sv[0], EVFILT_READ, EV_ADD, 0, 0, NULL), 0);
    CHECK_EQ(kq_wait(kq, (struct kevent[1]){0}, 1, 20), 0);
    char buf[32];
    memset(buf, 'd', sizeof buf);
    CHECK_EQ(send(sv[1], buf, 10, 0), 10);
    CHECK_EQ(send(sv[1], buf, 20, 0), 20);
    struct kevent ev;
    CHECK_EQ(wait1(kq, &ev), 1);
    CHECK_EQ(ev.ident, sv[0]);
    /* At least the next datagram; at most everything queued. */
    CHECK(ev.data >= 10);
    CHECK(ev.data <= 30);
    CHECK_EQ(recv(sv[0], buf, sizeof buf, 0), 10);
    CHECK_EQ(kq_poll(kq, &ev, 1), 1);
    CHECK_EQ(ev.data, 20);
    CHECK_EQ(recv(sv[0], buf, sizeof buf, 0), 20);
    CHECK_EQ(kq_poll(kq, &ev, 1), 0);
    close(sv[0]);
    close(sv[1]);
    close(kq);
}

static void test_tcp_listener_data_is_pending_connections(void) {
    uint16_t port;
    int l = tcp_listener(&port);
    CHECK(l >= 0);
    int kq = kqueue();
    CHECK_EQ(kq_change(kq, l, EVFILT_READ, EV_ADD, 0, 0, &tag), 0);
    CHECK_EQ(kq_wait(kq, (struct kevent[1]){0}, 1, 20), 0);
    int c1 = tcp_connect(port), c2 = tcp_connect(port);
    CHECK(c1 >= 0 && c2 >= 0);
    struct kevent ev;
    CHECK_EQ(wait1(kq, &ev), 1);
    CHECK_EQ(ev.ident, l);
    CHECK(ev.udata == &tag);
    CHECK(ev.data >= 1);
    /* Both handshakes complete quickly on loopback: data reaches 2. */
    uint64_t t0 = harness_now_ns();
    while (ev.data != 2 && ms_since(t0) < 3000) {
        ms_sleep(5);
        CHECK_EQ(kq_poll(kq, &ev, 1), 1);
    }
    CHECK_EQ(ev.data, 2);
    int a1 = accept(l, NULL, NULL);
    CHECK(a1 >= 0);
    CHECK_EQ(kq_poll(kq, &ev, 1), 1);
    CHECK_EQ(ev.data, 1);
    int a2 = accept(l, NULL, NULL);
    CHECK(a2 >= 0);
    CHECK_EQ(kq_poll(kq, &ev, 1), 0);
    close(a1);
    close(a2);
    close(c1);
    close(c2);
    close(l);
    close(kq);
}

static void test_tcp_connected_data_and_close_eof(void) {
    int c[2];
    CHECK_EQ(tcp_pair(c), 0);
    int kq = kqueue();
    CHECK_EQ(kq_change(kq, c[1], EVFILT_READ, EV_ADD, 0, 0, NULL), 0);
    CHECK_EQ(kq_wait(kq, (struct kevent[1]){0}, 1, 20), 0);
    CHECK_EQ(write(c[0], "seven!!", 7), 7);
    struct kevent ev;
    CHECK_EQ(wait1(kq, &ev), 1);
    CHECK_EQ(ev.ident, c[1]);
    CHECK_EQ(ev.data, 7);
    CHECK_EQ(ev.flags, EV_ADD);
    close(c[0]);
    /* EV_EOF arrives with the 7 bytes still unread. */
    uint64_t t0 = harness_now_ns();
    do {
        CHECK_EQ(wait1(kq, &ev), 1);
    } while (!(ev.flags & EV_EOF) && ms_since(t0) < 3000);
    CHECK(ev.flags & EV_EOF);
    CHECK_EQ(ev.data, 7);
    CHECK_EQ(ev.fflags, 0);
    close(c[1]);
    close(kq);
}

/* A reset: EV_EOF, and the error stays for the program (Linux can read it
 * only by clearing it, so linked it is not copied into fflags as BSD does;
 * under the preload library it is, and kept for the program's recv()). */
static void test_tcp_reset_eof_leaves_error_to_the_program(void) {
    int c[2];
    CHECK_EQ(tcp_pair(c), 0);
    int kq = kqueue();
    CHECK_EQ(kq_change(kq, c[1], EVFILT_READ, EV_ADD, 0, 0, NULL), 0);
    struct linger lg = {1, 0};
    CHECK_EQ(setsockopt(c[0], SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    close(c[0]); /* sends RST */
    struct kevent ev;
    CHECK_EQ(wait1(kq, &ev), 1);
    CHECK(ev.flags & EV_EOF);
    CHECK_EQ(ev.fflags, kq_under_preload() ? ECONNRESET : 0);
    CHECK_EQ(wait1(kq, &ev), 1);     /* still there (level-triggered) */
    char b;
    errno = 0;
    CHECK_EQ(recv(c[1], &b, 1, 0), -1);
    CHECK_EQ(errno, ECONNRESET);
    close(c[1]);
    close(kq);
}

/* A refused non-blocking connect watched for reading and writing (libevent's
 * bufferevents): both events come, and getsockopt(SO_ERROR) afterwards still
 * says ECONNREFUSED. */
static void test_refused_connect_error_kept_for_getsockopt(void) {
    uint16_t port;
    int l = tcp_listener(&port);
    CHECK(l >= 0);
    close(l);                        /* nothing listens on the port now */
    int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    CHECK(s >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    int r = connect(s, (struct sockaddr *)&a, sizeof a);
    CHECK(r == 0 || errno == EINPROGRESS || errno == ECONNREFUSED);
    int kq = kqueue();
    struct kevent ch[2], ev[4];
    EV_SET(&ch[0], s, EVFILT_READ, EV_ADD, 0, 0, NULL);
    EV_SET(&ch[1], s, EVFILT_WRITE, EV_ADD, 0, 0, NULL);
    CHECK_EQ(kevent(kq, ch, 2, NULL, 0, NULL), 0);
    struct timespec ts = {5, 0};
    int n = kevent(kq, NULL, 0, ev, 4, &ts);
    CHECK(n >= 1);
    for (int i = 0; i < n; i++) CHECK(ev[i].flags & EV_EOF);
    int err = -1;
    socklen_t len = sizeof err;
    CHECK_EQ(getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len), 0);
    CHECK_EQ(err, ECONNREFUSED);
    close(s);
    close(kq);
}

static void test_regular_file_data_is_bytes_to_eof(void) {
    char path[] = "/tmp/bsdshim-read-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    unlink(path);
    CHECK_EQ(put_bytes(fd, 100), 100);
    CHECK_EQ(lseek(fd, 0, SEEK_SET), 0);
    int kq = kqueue();
    CHECK_EQ(kq_change(kq, fd, EVFILT_READ, EV_ADD, 0, 0, &tag), 0);
    struct kevent ev;
    CHECK_EQ(wait1(kq, &ev), 1);
    CHECK_EQ(ev.ident, fd);
    CHECK_EQ(ev.filter, EVFILT_READ);
    CHECK_EQ(ev.data, 100);
    CHECK(ev.udata == &tag);
    CHECK_EQ(lseek(fd, 40, SEEK_SET), 40);
    CHECK_EQ(kq_poll(kq, &ev, 1), 1);
    CHECK_EQ(ev.data, 60);
    close(fd);
    close(kq);
}

static void test_regular_file_no_event_at_eof(void) {
    char path[] = "/tmp/bsdshim-read-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    unlink(path);
    CHECK_EQ(put_bytes(fd, 50), 50); /* offset now at EOF */
    int kq = kqueue();
    CHECK_EQ(kq_change(kq, fd, EVFILT_READ, EV_ADD, 0, 0, NULL), 0);
    struct kevent ev;
    CHECK_EQ(kq_wait(kq, &ev, 1, 20), 0);
    /* An empty file too. */
    char path2[] = "/tmp/bsdshim-read-XXXXXX";
    int fd2 = mkstemp(path2);
    CHECK(fd2 >= 0);
    unlink(path2);
    CHECK_EQ(kq_change(kq, fd2, EVFILT_READ, EV_ADD, 0, 0, NULL), 0);
    CHECK_EQ(kq_wait(kq, &ev, 1, 20), 0);
    close(fd);
    close(fd2);
    close(kq);
}

static void test_regular_file_event_after_append(void) {
    /* BSD: a write to the file wakes the read knote of a reader at EOF. */
    char path[] = "/tmp/bsdshim-read-XXXXXX";
    int w = mkstemp(path);
    CHECK(w >= 0);
    int r = open(path, O_RDONLY);
    unlink(path);
    CHECK(r >= 0);
    int kq = kqueue();
    CHECK_EQ(kq_change(kq, r, EVFILT_READ, EV_ADD, 0, 0, NULL), 0);
    struct kevent ev;
    CHECK_EQ(kq_wait(kq, &ev, 1, 20), 0);
    CHECK_EQ(put_bytes(w, 30), 30);
    CHECK_EQ(kq_wait(kq, &ev, 1, 2000), 1);
    CHECK_EQ(ev.data, 30);
    close(r);
    close(w);
    close(kq);
}

static void test_tty_master_and_slave(void) {
    int m = posix_openpt(O_RDWR | O_NOCTTY);
    CHECK(m >= 0);
    CHECK_EQ(grantpt(m), 0);
    CHECK_EQ(unlockpt(m), 0);
    const char *name = ptsname(m);
    CHECK(name != NULL);
    int s = open(name, O_RDWR | O_NOCTTY | O_NONBLOCK);
    CHECK(s >= 0);
    struct termios t;
    CHECK_EQ(tcgetattr(s, &t), 0);
    cfmakeraw(&t);
    CHECK_EQ(tcsetattr(s, TCSANOW, &t), 0);
    int kq = kqueue();
    CHECK_EQ(kq_change(kq, s, EVFILT_READ, EV_ADD, 0, 0, NULL), 0);
    CHECK_EQ(kq_change(kq, m, EVFILT_READ, EV_ADD, 0, 0, NULL), 0);
    struct kevent ev[2];
    CHECK_EQ(kq_wait(kq, ev, 2, 20), 0);
    CHECK_EQ(write(m, "hello", 5), 5);
    CHECK_EQ(wait1(kq, ev), 1);
    CHECK_EQ(ev[0].ident, s);
    CHECK_EQ(ev[0].data, 5);
    CHECK_EQ(drain(s, 5), 5);
    CHECK_EQ(kq_wait(kq, ev, 2, 20), 0);
    CHECK_EQ(write(s, "abc", 3), 3);
    CHECK_EQ(wait1(kq, ev), 1);
    CHECK_EQ(ev[0].ident, m);
    CHECK_EQ(ev[0].data, 3);
    /* Hang-up: closing the slave gives EV_EOF on the master. */
    char buf[8];
    CHECK_EQ(read(m, buf, sizeof buf), 3);
    close(s);
    CHECK_EQ(wait1(kq, ev), 1);
    CHECK_EQ(ev[0].ident, m);
    CHECK(ev[0].flags & EV_EOF);
    close(m);
    close(kq);
}

static void test_eventfd_readable_when_counter_nonzero(void) {
    int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    CHECK(efd >= 0);
    int kq = kqueue();
    CHECK_EQ(kq_change(kq, efd, EVFILT_READ, EV_ADD, 0, 0, NULL), 0);
    struct kevent ev;
    CHECK_EQ(kq_wait(kq, &ev, 1, 20), 0);
    uint64_t one = 1;
    CHECK_EQ(write(efd, &one, 8), 8);
    CHECK_EQ(wait1(kq, &ev), 1);
    CHECK_EQ(ev.ident, efd);
    CHECK(ev.data >= 1);
    uint64_t v;
    CHECK_EQ(read(efd, &v, 8), 8);
    CHECK_EQ(kq_poll(kq, &ev, 1), 0);
    close(efd);
    close(kq);
}

static void test_lowat_socketpair(void) {
    int kq = kqueue(), sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
    CHECK_EQ(kq_change(kq, sv[0], EVFILT_READ, EV_ADD, NOTE_LOWAT, 16, NULL), 0);
    CHECK_EQ(put_bytes(sv[1], 8), 8);
    struct kevent ev;
    CHECK_EQ(kq_wait(kq, &ev, 1, 50), 0);
    CHECK_EQ(put_bytes(sv[1], 16), 16);
    CHECK_EQ(wait1(kq, &ev), 1);
    CHECK(ev.data >= 16);
    CHECK_EQ(ev.data, 24);
    /* Level-triggered: still reported while at or above the mark. */
    CHECK_EQ(kq_poll(kq, &ev, 1), 1);
    /* Below the mark again: silent. */
    CHECK_EQ(drain(sv[0], 20), 20);
    CHECK_EQ(kq_wait(kq, &ev, 1, 50), 0);
    close(sv[0]);
    close(sv[1]);
    close(kq);
}

static void test_lowat_oneshot_below_the_mark_sleeps(void) {
    /* A one-shot knote below its mark must sleep until the mark is reached,
     * not re-arm and spin (a 400 ms wait costs next to no CPU), then fire once. */
    int kq = kqueue(), sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
    CHECK_EQ(kq_change(kq, sv[0], EVFILT_READ, EV_ADD | EV_ONESHOT, NOTE_LOWAT, 16, NULL), 0);
    int wbuf = 0;
    socklen_t len = sizeof wbuf;
    CHECK_EQ(getsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &wbuf, &len), 0);
    CHECK_EQ(kq_change(kq, sv[1], EVFILT_WRITE, EV_ADD | EV_DISPATCH, NOTE_LOWAT, (intptr_t)wbuf * 4, NULL), 0);
    CHECK_EQ(put_bytes(sv[1], 8), 8);
    struct kevent ev;
    long cpu = thread_cpu_ms();
    CHECK_EQ(kq_wait(kq, &ev, 1, 400), 0);
    CHECK(thread_cpu_ms() - cpu < 200);
    CHECK_EQ(kq_poll(kq, &ev, 1), 0);
    CHECK_EQ(put_bytes(sv[1], 8), 8);
    CHECK_EQ(wait1(kq, &ev), 1);
    CHECK_EQ(ev.filter, EVFILT_READ);
    CHECK_EQ(ev.data, 16);
    CHECK_EQ(kq_poll(kq, &ev, 1), 0);                              /* one shot: gone */
    CHECK_ERRNO(kq_change(kq, sv[0], EVFILT_READ, EV_DELETE, 0, 0, NULL), ENOENT);
    close(sv[0]);
    close(sv[1]);
    close(kq);
}

static void test_lowat_pipe_and_eof_overrides(void) {
    int kq = kqueue(), p[2];
    CHECK(pipe2(p, O_NONBLOCK) == 0);
    CHECK_EQ(kq_change(kq, p[0], EVFILT_READ, EV_ADD, NOTE_LOWAT, 16, NULL), 0);
    CHECK_EQ(put_bytes(p[1], 8), 8);
    struct kevent ev;
    CHECK_EQ(kq_wait(kq, &ev, 1, 50), 0);
    /* EOF is reported even below the low-water mark. */
    close(p[1]);
    CHECK_EQ(wait1(kq, &ev), 1);
    CHECK(ev.flags & EV_EOF);
    CHECK_EQ(ev.data, 8);
    close(p[0]);
    close(kq);
}

static void test_lowat_is_per_knote(void) {
    int kq1 = kqueue(), kq2 = kqueue(), sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
    CHECK_EQ(kq_change(kq1, sv[0], EVFILT_READ, EV_ADD, NOTE_LOWAT, 16, NULL), 0);
    CHECK_EQ(kq_change(kq2, sv[0], EVFILT_READ, EV_ADD, 0, 0, NULL), 0);
    CHECK_EQ(put_bytes(sv[1], 8), 8);
    struct kevent ev;
    CHECK_EQ(wait1(kq2, &ev), 1);
    CHECK_EQ(ev.data, 8);
    CHECK_EQ(kq_wait(kq1, &ev, 1, 50), 0);
    close(sv[0]);
    close(sv[1]);
    close(kq1);
    close(kq2);
}

static void test_several_kqueues_on_one_fd(void) {
    int p[2];
    CHECK(pipe2(p, O_NONBLOCK) == 0);
    int kq[3];
    static int tags[3];
    for (int i = 0; i < 3; i++) {
        kq[i] = kqueue();
        CHECK(kq[i] >= 0);
        CHECK_EQ(kq_change(kq[i], p[0], EVFILT_READ, EV_ADD | (i == 1 ? EV_CLEAR : 0), 0, 0, &tags[i]), 0);
    }
    CHECK_EQ(put_bytes(p[1], 4), 4);
    struct kevent ev;
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(wait1(kq[i], &ev), 1);
        CHECK_EQ(ev.ident, p[0]);
        CHECK_EQ(ev.data, 4);
        CHECK(ev.udata == &tags[i]);
    }
    /* Deleting in one leaves the others. */
    CHECK_EQ(kq_change(kq[0], p[0], EVFILT_READ, EV_DELETE, 0, 0, NULL), 0);
    CHECK_EQ(kq_poll(kq[0], &ev, 1), 0);
    CHECK_EQ(kq_poll(kq[2], &ev, 1), 1);
    CHECK_EQ(put_bytes(p[1], 1), 1);
    CHECK_EQ(wait1(kq[1], &ev), 1);
    CHECK_EQ(ev.data, 5);
    for (int i = 0; i < 3; i++) close(kq[i]);
    close(p[0]);
    close(p[1]);
}

static void test_readd_changes_lowat(void) {
    int kq = kqueue(), sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
    CHECK_EQ(kq_change(kq, sv[0], EVFILT_READ, EV_ADD, NOTE_LOWAT, 16, NULL), 0);
    CHECK_EQ(put_bytes(sv[1], 8), 8);
    struct kevent ev;
    CHECK_EQ(kq_wait(kq, &ev, 1, 50), 0);
    /* Lower the mark by re-adding: the 8 bytes now qualify. */
    CHECK_EQ(kq_change(kq, sv[0], EVFILT_READ, EV_ADD, NOTE_LOWAT, 4, NULL), 0);
    CHECK_EQ(wait1(kq, &ev), 1);
    CHECK_EQ(ev.data, 8);
    close(sv[0]);
    close(sv[1]);
    close(kq);
}

int main(void) {
    RUN(test_pipe_data_is_bytes_readable);
    RUN(test_pipe_eof_when_writer_closes);
    RUN(test_pipe_eof_with_data_left);
    RUN(test_pipe_eof_with_clear_reported_once);
    RUN(test_fifo_read_and_eof);
    RUN(test_socketpair_stream_data_and_shutdown_eof);
    RUN(test_socketpair_stream_peer_close_eof);
    RUN(test_socketpair_datagram);
    RUN(test_tcp_listener_data_is_pending_connections);
    RUN(test_tcp_connected_data_and_close_eof);
    RUN(test_tcp_reset_eof_leaves_error_to_the_program);
    RUN(test_refused_connect_error_kept_for_getsockopt);
    RUN(test_regular_file_data_is_bytes_to_eof);
    RUN(test_regular_file_no_event_at_eof);
    RUN(test_regular_file_event_after_append);
    RUN(test_tty_master_and_slave);
    RUN(test_eventfd_readable_when_counter_nonzero);
    RUN(test_lowat_socketpair);
    RUN(test_lowat_oneshot_below_the_mark_sleeps);
    RUN(test_lowat_pipe_and_eof_overrides);
    RUN(test_lowat_is_per_knote);
    RUN(test_several_kqueues_on_one_fd);
    RUN(test_readd_changes_lowat);
    return harness_finish();
}
