/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * readiness.c: poll, ppoll, select, pselect, epoll and bsdshim's kevent all
 * say what NetBSD's dmio_poll says about a /dev/dmover descriptor: readable
 * while completed responses wait, writable while fewer than DMIO_NREQS_MAX
 * (64) requests are in flight (written and not read). Sleepers in each wake
 * when the state changes in another thread. Built linked (linked_compat.h)
 * and run unmodified under the preload library.
 */
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/event.h>
#include <sys/select.h>
#include "dmio_test.h"

/* Bit 0 readable, bit 1 writable, as each interface reports it now. */
static int by_poll(int fd) {
    struct pollfd p = {fd, POLLIN | POLLOUT, 0};
    if (poll(&p, 1, 0) < 0) return -1;
    return (p.revents & POLLIN ? 1 : 0) | (p.revents & POLLOUT ? 2 : 0);
}
static int by_ppoll(int fd) {
    struct pollfd p = {fd, POLLIN | POLLOUT, 0};
    struct timespec zero = {0, 0};
    if (ppoll(&p, 1, &zero, NULL) < 0) return -1;
    return (p.revents & POLLIN ? 1 : 0) | (p.revents & POLLOUT ? 2 : 0);
}
static int by_select(int fd) {
    fd_set r, w;
    FD_ZERO(&r);
    FD_ZERO(&w);
    FD_SET(fd, &r);
    FD_SET(fd, &w);
    struct timeval zero = {0, 0};
    if (select(fd + 1, &r, &w, NULL, &zero) < 0) return -1;
    return (FD_ISSET(fd, &r) ? 1 : 0) | (FD_ISSET(fd, &w) ? 2 : 0);
}
static int by_pselect(int fd) {
    fd_set r, w;
    FD_ZERO(&r);
    FD_ZERO(&w);
    FD_SET(fd, &r);
    FD_SET(fd, &w);
    struct timespec zero = {0, 0};
    if (pselect(fd + 1, &r, &w, NULL, &zero, NULL) < 0) return -1;
    return (FD_ISSET(fd, &r) ? 1 : 0) | (FD_ISSET(fd, &w) ? 2 : 0);
}
static int ep = -1, kq = -1;
static int by_epoll(int fd) {
    (void)fd;
    struct epoll_event ev[2];
    int n = epoll_wait(ep, ev, 2, 0), s = 0;
    for (int i = 0; i < n; i++) s |= (ev[i].events & EPOLLIN ? 1 : 0) | (ev[i].events & EPOLLOUT ? 2 : 0);
    return n < 0 ? -1 : s;
}
static int by_kevent(int fd) {
    (void)fd;
    struct kevent ev[2];
    struct timespec zero = {0, 0};
    int n = kevent(kq, NULL, 0, ev, 2, &zero), s = 0;
    for (int i = 0; i < n; i++) s |= ev[i].filter == EVFILT_READ ? 1 : ev[i].filter == EVFILT_WRITE ? 2 : 4;
    return n < 0 ? -1 : s;
}

static const struct { const char *name; int (*fn)(int); } ways[] = {
    {"poll", by_poll}, {"ppoll", by_ppoll}, {"select", by_select}, {"pselect", by_pselect},
    {"epoll", by_epoll}, {"kevent", by_kevent},
};

static int all_say(int fd, int want) {
    for (size_t i = 0; i < sizeof ways / sizeof ways[0]; i++) {
        int got = ways[i].fn(fd);
        if (got != want) {
            fprintf(stderr, "%s says %d, want %d\n", ways[i].name, got, want);
            return 0;
        }
    }
    return 1;
}

static unsigned char out[64][8];
static struct dmio_usrreq req[64];
static dmio_shape shape[64];

static int open_watched(int flags) {
    int fd = dmio_open_func("zero", flags);
    if (fd < 0) return -1;
    ep = epoll_create1(0);
    struct epoll_event e = {.events = EPOLLIN | EPOLLOUT, .data.fd = fd};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) != 0) return -1;
    kq = kqueue();
    struct kevent ch[2];
    EV_SET(&ch[0], fd, EVFILT_READ, EV_ADD, 0, 0, NULL);
    EV_SET(&ch[1], fd, EVFILT_WRITE, EV_ADD, 0, 0, NULL);
    if (kevent(kq, ch, 2, NULL, 0, NULL) != 0) return -1;
    for (int i = 0; i < 64; i++) dmio_req_linear(&req[i], &shape[i], (uint32_t)i, out[i], NULL, 0, 8);
    return fd;
}

static void close_watched(int fd) {
    close(ep);
    close(kq);
    close(fd);
}

static void test_every_interface_agrees(void) {
    int fd = open_watched(O_NONBLOCK);
    CHECK(fd >= 0);
    CHECK(all_say(fd, 2));                                    /* nothing in flight: writable only */
    CHECK_EQ(write(fd, req, 3 * sizeof req[0]), (ssize_t)(3 * sizeof req[0]));
    CHECK(all_say(fd, 3));                                    /* responses wait, room left */
    CHECK_EQ(write(fd, req + 3, 61 * sizeof req[0]), (ssize_t)(61 * sizeof req[0]));
    CHECK(all_say(fd, 1));                                    /* 64 in flight: readable, not writable */
    CHECK_ERRNO(write(fd, req, sizeof req[0]), EWOULDBLOCK);
    struct dmio_usrresp resp[64];
    CHECK_EQ(read(fd, resp, sizeof resp[0]), (ssize_t)sizeof resp[0]);
    CHECK(all_say(fd, 3));                                    /* 63: room again */
    CHECK_EQ(read(fd, resp, sizeof resp), (ssize_t)(63 * sizeof resp[0]));
    CHECK(all_say(fd, 2));                                    /* all read */
    CHECK_ERRNO(read(fd, resp, sizeof resp[0]), EWOULDBLOCK);
    close_watched(fd);
}

/* Sleepers wake when another thread changes the state. */
static int wake_fd;
static void *read_one_later(void *arg) {
    (void)arg;
    struct timespec t = {0, 20 * 1000 * 1000};
    nanosleep(&t, NULL);
    struct dmio_usrresp resp;
    return (void *)(intptr_t)read(wake_fd, &resp, sizeof resp);
}
static void *write_one_later(void *arg) {
    (void)arg;
    struct timespec t = {0, 20 * 1000 * 1000};
    nanosleep(&t, NULL);
    return (void *)(intptr_t)write(wake_fd, req, sizeof req[0]);
}

static void test_sleepers_wake(void) {
    int fd = open_watched(O_NONBLOCK);
    CHECK(fd >= 0);
    wake_fd = fd;
    for (int way = 0; way < 3; way++) {
        /* Readable: a writer in another thread. */
        pthread_t th;
        CHECK_EQ(pthread_create(&th, NULL, write_one_later, NULL), 0);
        int ok = 0;
        if (way == 0) {
            struct pollfd p = {fd, POLLIN, 0};
            ok = poll(&p, 1, 10000) == 1 && (p.revents & POLLIN);
        } else if (way == 1) {
            struct epoll_event e = {.events = EPOLLIN, .data.fd = fd};
            CHECK_EQ(epoll_ctl(ep, EPOLL_CTL_MOD, fd, &e), 0);
            ok = epoll_wait(ep, &e, 1, 10000) == 1 && (e.events & EPOLLIN);
            e.events = EPOLLIN | EPOLLOUT;
            CHECK_EQ(epoll_ctl(ep, EPOLL_CTL_MOD, fd, &e), 0);
        } else {
            struct kevent e;
            struct kevent ch;
            EV_SET(&ch, fd, EVFILT_WRITE, EV_DISABLE, 0, 0, NULL);
            CHECK_EQ(kevent(kq, &ch, 1, NULL, 0, NULL), 0);
            ok = kevent(kq, NULL, 0, &e, 1, NULL) == 1 && e.filter == EVFILT_READ;
            EV_SET(&ch, fd, EVFILT_WRITE, EV_ENABLE, 0, 0, NULL);
            CHECK_EQ(kevent(kq, &ch, 1, NULL, 0, NULL), 0);
        }
        void *r;
        pthread_join(th, &r);
        CHECK_EQ((intptr_t)r, (intptr_t)sizeof req[0]);
        CHECK(ok);
        /* Fill to 64 (one is in flight), then writable again: a reader in another thread. */
        CHECK_EQ(write(fd, req, 63 * sizeof req[0]), (ssize_t)(63 * sizeof req[0]));
        CHECK(all_say(fd, 1));
        CHECK_EQ(pthread_create(&th, NULL, read_one_later, NULL), 0);
        if (way == 0) {
            struct pollfd p = {fd, POLLOUT, 0};
            ok = poll(&p, 1, 10000) == 1 && (p.revents & POLLOUT);
        } else if (way == 1) {
            struct epoll_event e = {.events = EPOLLOUT, .data.fd = fd};
            CHECK_EQ(epoll_ctl(ep, EPOLL_CTL_MOD, fd, &e), 0);
            ok = epoll_wait(ep, &e, 1, 10000) == 1 && (e.events & EPOLLOUT);
            e.events = EPOLLIN | EPOLLOUT;
            CHECK_EQ(epoll_ctl(ep, EPOLL_CTL_MOD, fd, &e), 0);
        } else {
            struct kevent e;
            struct kevent ch;
            EV_SET(&ch, fd, EVFILT_READ, EV_DISABLE, 0, 0, NULL);
            CHECK_EQ(kevent(kq, &ch, 1, NULL, 0, NULL), 0);
            ok = kevent(kq, NULL, 0, &e, 1, NULL) == 1 && e.filter == EVFILT_WRITE && e.data == 1;
            EV_SET(&ch, fd, EVFILT_READ, EV_ENABLE, 0, 0, NULL);
            CHECK_EQ(kevent(kq, &ch, 1, NULL, 0, NULL), 0);
        }
        pthread_join(th, &r);
        CHECK_EQ((intptr_t)r, (intptr_t)sizeof(struct dmio_usrresp));
        CHECK(ok);
        struct dmio_usrresp resp[64];
        CHECK_EQ(read(fd, resp, sizeof resp), (ssize_t)(63 * sizeof resp[0]));
        CHECK(all_say(fd, 2));
    }
    close_watched(fd);
}

/* Readable means a non-blocking read returns responses, also while a writer
 * in another thread is running its next batch. Large copies keep each batch
 * running long enough for the reader to come in the middle of one. */
enum { BIG_REQS = 32, BIG_LEN = 256 * 1024, BIG_ROUNDS = 12 };
static unsigned char *big_src, *big_dst;
static int big_fd;
static void *write_big_rounds(void *arg) {
    (void)arg;
    static struct dmio_usrreq r[BIG_REQS];
    static dmio_shape s[BIG_REQS];
    for (int round = 0; round < BIG_ROUNDS; round++) {
        for (int i = 0; i < BIG_REQS; i++) {
            void *in[1] = {big_src + (size_t)i * BIG_LEN};
            dmio_req_linear(&r[i], &s[i], (uint32_t)(round * BIG_REQS + i), big_dst + (size_t)i * BIG_LEN, in, 1, BIG_LEN);
        }
        int done = 0;
        while (done < BIG_REQS) {
            int n = dmio_write_all(big_fd, r + done, BIG_REQS - done);
            if (n < 0) return (void *)1;
            done += n;
            if (done < BIG_REQS) {
                struct pollfd p = {big_fd, POLLOUT, 0};
                if (poll(&p, 1, 10000) != 1) return (void *)1;     /* the reader gave up */
            }
        }
    }
    return NULL;
}

static void test_readable_means_responses(void) {
    big_fd = dmio_open_func("copy", O_NONBLOCK);
    CHECK(big_fd >= 0);
    big_src = malloc((size_t)BIG_REQS * BIG_LEN);
    big_dst = malloc((size_t)BIG_REQS * BIG_LEN);
    CHECK(big_src != NULL && big_dst != NULL);
    for (size_t i = 0; i < (size_t)BIG_REQS * BIG_LEN; i++) big_src[i] = (unsigned char)(i * 7 + 1);
    int q = kqueue();
    struct kevent ch;
    EV_SET(&ch, big_fd, EVFILT_READ, EV_ADD, 0, 0, NULL);
    CHECK_EQ(kevent(q, &ch, 1, NULL, 0, NULL), 0);
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, write_big_rounds, NULL), 0);
    int got = 0, bad = 0;
    uint32_t next = 0;
    while (got < BIG_REQS * BIG_ROUNDS && !bad) {
        struct pollfd p = {big_fd, POLLIN, 0};
        if (poll(&p, 1, 10000) != 1 || !(p.revents & POLLIN)) { bad = 1; break; }
        struct kevent e;
        struct timespec zero = {0, 0};
        /* kevent agrees, and counts what the read will get. */
        int kn = kevent(q, NULL, 0, &e, 1, &zero);
        if (kn != 1 || e.filter != EVFILT_READ || e.data < (intptr_t)sizeof(struct dmio_usrresp)) {
            fprintf(stderr, "kevent disagrees with poll after %d responses: %d events, data %ld\n", got, kn,
                    kn == 1 ? (long)e.data : 0L);
            bad = 1;
            break;
        }
        struct dmio_usrresp resp[64];
        ssize_t n = read(big_fd, resp, sizeof resp);
        if (n <= 0) {
            fprintf(stderr, "poll said readable, read gave %zd (errno %d) after %d responses\n", n, errno, got);
            bad = 1;
            break;
        }
        for (ssize_t i = 0; i < n / (ssize_t)sizeof resp[0]; i++) {
            if (resp[i].resp_id != next++ || resp[i].resp_error != 0) bad = 1;
        }
        got += (int)(n / (ssize_t)sizeof resp[0]);
    }
    void *r;
    pthread_join(th, &r);
    CHECK(r == NULL);
    CHECK(!bad);
    CHECK_EQ(got, BIG_REQS * BIG_ROUNDS);
    CHECK(memcmp(big_dst, big_src, (size_t)BIG_REQS * BIG_LEN) == 0);
    close(q);
    free(big_src);
    free(big_dst);
    close(big_fd);
}

/* A poller woken by POLLIN when a writer in another thread fills all 64
 * slots sees POLLOUT already hidden (the library hides it before it shows
 * POLLIN), and one woken by POLLOUT after the reader took them sees POLLIN
 * already hidden. */
enum { FILL_ROUNDS = 200 };
static int fill_fd;
static unsigned char fill_buf[64][64];
static void *write_full_rounds(void *arg) {
    (void)arg;
    static struct dmio_usrreq r[64];
    static dmio_shape s[64];
    for (int round = 0; round < FILL_ROUNDS; round++) {
        for (int i = 0; i < 64; i++) {
            void *in[1] = {fill_buf[(i + 1) % 64]};
            dmio_req_linear(&r[i], &s[i], (uint32_t)i, fill_buf[i], in, 1, sizeof fill_buf[i]);
        }
        if (dmio_write_all(fill_fd, r, 64) != 64) return (void *)1;
        struct pollfd p = {fill_fd, POLLOUT, 0};
        if (poll(&p, 1, 10000) != 1) return (void *)1;
        /* Woken by POLLOUT: the reader took all 64, so nothing is readable. */
        if (by_poll(fill_fd) != 2) return (void *)2;
    }
    return NULL;
}

static void test_flips_are_ordered(void) {
    fill_fd = dmio_open_func("copy", 0);
    CHECK(fill_fd >= 0);
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, write_full_rounds, NULL), 0);
    int stale = 0;
    for (int round = 0; round < FILL_ROUNDS; round++) {
        struct pollfd p = {fill_fd, POLLIN, 0};
        if (poll(&p, 1, 10000) != 1) { stale = -1; break; }
        /* 64 in flight and nobody reading: readable, not writable. */
        if (by_poll(fill_fd) != 1) stale++;
        struct dmio_usrresp resp[64];
        CHECK_EQ(read(fill_fd, resp, sizeof resp), (ssize_t)sizeof resp);
    }
    void *r;
    pthread_join(th, &r);
    if (stale) fprintf(stderr, "POLLOUT still shown after POLLIN woke the reader in %d of %d rounds\n", stale, FILL_ROUNDS);
    CHECK_EQ(stale, 0);
    CHECK(r == NULL);
    close(fill_fd);
}

int main(void) {
    RUN(test_every_interface_agrees);
    RUN(test_sleepers_wake);
    RUN(test_readable_means_responses);
    RUN(test_flips_are_ordered);
    return harness_finish();
}
