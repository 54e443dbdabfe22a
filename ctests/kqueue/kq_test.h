/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kq_test.h: small helpers shared by the kqueue C tests. Every helper is a
 * thin wrapper over the public C ABI (kqueue/kevent) so the tests read as a
 * C user would write them; assertions stay in the tests (CHECK returns from
 * the calling function).
 */
#ifndef BSDSHIM_KQ_TEST_H
#define BSDSHIM_KQ_TEST_H

#include <sys/event.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

/* One change, no event list: returns kevent()'s result (-1/errno on error). */
static inline int kq_change(int kq, uintptr_t ident, short filter, unsigned short flags,
                            unsigned int fflags, intptr_t data, void *udata) {
    struct kevent kev;
    EV_SET(&kev, ident, filter, flags, fflags, data, udata);
    return kevent(kq, &kev, 1, NULL, 0, NULL);
}

/* Poll: collect up to n events without waiting. */
static inline int kq_poll(int kq, struct kevent *out, int n) {
    struct timespec zero = {0, 0};
    return kevent(kq, NULL, 0, out, n, &zero);
}

/* Wait up to ms milliseconds for up to n events. */
static inline int kq_wait(int kq, struct kevent *out, int n, long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    return kevent(kq, NULL, 0, out, n, &ts);
}

/* Number of events pending right now (drains nothing that is level-triggered). */
static inline int kq_pending(int kq) {
    struct kevent out[64];
    return kq_poll(kq, out, 64);
}

static inline void ms_sleep(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
    }
}

/* Waits up to ms milliseconds for *flag to reach want; true if it did. */
static inline int wait_flag(atomic_int *flag, int want, long ms) {
    for (long i = 0; i < ms / 5 && atomic_load(flag) < want; i++) ms_sleep(5);
    return atomic_load(flag) >= want;
}

static inline int64_t ms_since(uint64_t start_ns) {
    return (int64_t)((harness_now_ns() - start_ns) / 1000000u);
}

/* CPU time of this thread, in ms (a wait that spins shows up here). */
static inline long thread_cpu_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Makes a descriptor non-blocking; returns 0 or -1. */
static inline int set_nonblock(int fd) {
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* Writes n bytes of 'x'; returns what write() returned. */
static inline ssize_t put_bytes(int fd, size_t n) {
    char buf[4096];
    memset(buf, 'x', sizeof buf);
    size_t done = 0;
    while (done < n) {
        size_t k = n - done < sizeof buf ? n - done : sizeof buf;
        ssize_t r = write(fd, buf, k);
        if (r <= 0) return done > 0 ? (ssize_t)done : r;
        done += (size_t)r;
    }
    return (ssize_t)done;
}

/* Fills a non-blocking descriptor until EAGAIN; returns bytes written. */
static inline size_t fill_until_full(int fd) {
    char buf[4096];
    memset(buf, 'f', sizeof buf);
    size_t total = 0;
    for (;;) {
        ssize_t r = write(fd, buf, sizeof buf);
        if (r > 0) {
            total += (size_t)r;
            continue;
        }
        if (r < 0 && errno == EINTR) continue;
        break;
    }
    /* Top up byte by byte: a page-granular pipe may still take a few. */
    for (;;) {
        ssize_t r = write(fd, buf, 1);
        if (r == 1) {
            total++;
            continue;
        }
        break;
    }
    return total;
}

/* Reads and discards up to n bytes (all available if n == 0) from a non-blocking fd. */
static inline size_t drain(int fd, size_t n) {
    char buf[4096];
    size_t total = 0;
    for (;;) {
        size_t want = sizeof buf;
        if (n && n - total < want) want = n - total;
        if (want == 0) break;
        ssize_t r = read(fd, buf, want);
        if (r <= 0) break;
        total += (size_t)r;
    }
    return total;
}

/*
 * RUN_FORKED(fn, seconds): runs a test in a child process killed by SIGALRM
 * after `seconds`, so that a kevent() that never returns (or spins) is
 * reported as that test's failure instead of hanging the whole program.
 */
static void (*kq_forked_fn)(void);
static unsigned kq_forked_limit;

static inline void kq_run_forked(void) {
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        alarm(kq_forked_limit);
        harness_current_failed = 0;
        kq_forked_fn();
        fflush(stdout);
        fflush(stderr);
        _exit(harness_current_failed ? 1 : 0);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (WIFSIGNALED(st))
        fprintf(stderr, "%s: killed by signal %d%s\n", harness_current, WTERMSIG(st),
                WTERMSIG(st) == 14 ? " (still running after the time limit: hang or spin)" : "");
    CHECK(WIFEXITED(st));
    CHECK_EQ(WEXITSTATUS(st), 0);
}

#define RUN_FORKED(fn, seconds)                  \
    do {                                         \
        kq_forked_fn = (fn);                     \
        kq_forked_limit = (seconds);             \
        harness_run(#fn, kq_run_forked);         \
    } while (0)

#endif
