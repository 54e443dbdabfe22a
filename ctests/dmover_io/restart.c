/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * restart.c: a blocking read or write that has moved some whole records and
 * is then interrupted by a signal whose handler has SA_RESTART returns the
 * short count, as NetBSD's (dmio_read/dmio_write sleep with PCATCH and give
 * ERESTART, which dofileread/dofilewrite turn into the count moved); with
 * nothing moved yet the wait goes on. A helper thread signals the waiting
 * thread every few milliseconds and, much later, makes the wait end by
 * itself (so a wrong implementation shows as a full count, not a hang).
 * Built linked (linked_compat.h) and run under the preload library.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <signal.h>
#include "dmio_test.h"

static volatile sig_atomic_t handled;
static void on_usr1(int s) { (void)s; handled++; }

static pthread_t waiter;
static volatile int stop_poking;
static int session;
static int rescue_by_write;          /* 1: write a request, 0: read responses */
static int pokes;                    /* signals sent before the rescue, 20 ms apart */

static unsigned char out[8];
static struct iovec out_iov = {out, sizeof out};
static struct dmio_usrreq zero_req(uint32_t id) { return dmio_req_out(&out_iov, id); }

/* Signals the waiter every 20 ms, `pokes` times; then ends its wait by itself. */
static void *poker(void *arg) {
    (void)arg;
    for (int i = 0; i < pokes && !stop_poking; i++) {
        pthread_kill(waiter, SIGUSR1);
        usleep(20000);
    }
    if (!stop_poking) {
        if (rescue_by_write) {
            struct dmio_usrreq rq = zero_req(999);
            if (write(session, &rq, sizeof rq) != (ssize_t)sizeof rq) abort();
        } else {
            struct dmio_usrresp rs[8];
            if (read(session, rs, sizeof rs) != (ssize_t)sizeof rs) abort();
        }
    }
    return NULL;
}

static void install(int flags) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
}

static pthread_t start_poking(int fd, int by_write, int count) {
    session = fd;
    pokes = count;
    rescue_by_write = by_write;
    stop_poking = 0;
    handled = 0;
    waiter = pthread_self();
    pthread_t t;
    pthread_create(&t, NULL, poker, NULL);
    return t;
}

static void test_restarting_signal_ends_a_read_that_has_responses(void) {
    install(SA_RESTART);
    int fd = dmio_open_func("zero", 0);
    CHECK(fd >= 0);
    struct dmio_usrreq rq = zero_req(1);
    CHECK_EQ(write(fd, &rq, sizeof rq), (ssize_t)sizeof rq);
    pthread_t t = start_poking(fd, 1, 100);
    struct dmio_usrresp rs[2];
    ssize_t n = read(fd, rs, sizeof rs);                     /* one ready, one never written */
    stop_poking = 1;
    pthread_join(t, NULL);
    CHECK(handled > 0);
    CHECK_EQ(n, (ssize_t)sizeof rs[0]);                      /* the short count, not a wait for the second */
    CHECK_EQ(rs[0].resp_id, 1);
    CHECK_EQ(close(fd), 0);
}

static void test_restarting_signal_does_not_end_a_read_with_nothing_yet(void) {
    install(SA_RESTART);
    int fd = dmio_open_func("zero", 0);
    CHECK(fd >= 0);
    pthread_t t = start_poking(fd, 1, 10);
    struct dmio_usrresp rs;
    ssize_t n = read(fd, &rs, sizeof rs);                    /* answered only by the helper's write */
    stop_poking = 1;
    pthread_join(t, NULL);
    CHECK(handled > 1);
    CHECK_EQ(n, (ssize_t)sizeof rs);
    CHECK_EQ(rs.resp_id, 999);
    CHECK_EQ(close(fd), 0);
}

static void test_restarting_signal_ends_a_write_that_has_written_records(void) {
    install(SA_RESTART);
    int fd = dmio_open_func("zero", 0);
    CHECK(fd >= 0);
    struct dmio_usrreq rq[DMIO_NREQS_MAX];
    for (int i = 0; i < DMIO_NREQS_MAX; i++) rq[i] = zero_req((uint32_t)i);
    CHECK_EQ(write(fd, rq, (DMIO_NREQS_MAX - 1) * sizeof rq[0]), (ssize_t)((DMIO_NREQS_MAX - 1) * sizeof rq[0]));
    pthread_t t = start_poking(fd, 0, 100);
    ssize_t n = write(fd, rq, 2 * sizeof rq[0]);             /* the first fits, the second must wait */
    stop_poking = 1;
    pthread_join(t, NULL);
    CHECK(handled > 0);
    CHECK_EQ(n, (ssize_t)sizeof rq[0]);
    CHECK_EQ(close(fd), 0);
}

static void test_plain_signal_still_gives_eintr_with_nothing_moved(void) {
    install(0);
    int fd = dmio_open_func("zero", 0);
    CHECK(fd >= 0);
    pthread_t t = start_poking(fd, 1, 100);
    struct dmio_usrresp rs;
    errno = 0;
    ssize_t n = read(fd, &rs, sizeof rs);
    int e = errno;
    stop_poking = 1;
    pthread_join(t, NULL);
    CHECK_EQ(n, -1);
    CHECK_EQ(e, EINTR);
    CHECK_EQ(close(fd), 0);
}

int main(void) {
    RUN(test_restarting_signal_ends_a_read_that_has_responses);
    RUN(test_restarting_signal_does_not_end_a_read_with_nothing_yet);
    RUN(test_restarting_signal_ends_a_write_that_has_written_records);
    RUN(test_plain_signal_still_gives_eintr_with_nothing_moved);
    return harness_finish();
}
