/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * harness.h: the tiny test harness every C test program uses.
 *
 *   static void test_something(void) { CHECK(x == 1); CHECK_EQ(a, b); }
 *   int main(void) { RUN(test_something); return harness_finish(); }
 *
 * A failed CHECK prints file:line and the expression, marks the current test
 * failed and returns from it. harness_finish() prints "N passed, N failed"
 * and returns the process exit status (0 only if nothing failed).
 */
#ifndef BSDSHIM_CTEST_HARNESS_H
#define BSDSHIM_CTEST_HARNESS_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

extern int harness_passed, harness_failed, harness_current_failed;
extern const char *harness_current;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: %s: CHECK(%s) failed (errno %d: %s)\n", __FILE__, \
                    __LINE__, harness_current, #cond, errno, strerror(errno));       \
            harness_current_failed = 1;                                              \
            return;                                                                  \
        }                                                                            \
    } while (0)

#define CHECK_EQ(a, b)                                                               \
    do {                                                                             \
        long long _a = (long long)(a), _b = (long long)(b);                          \
        if (_a != _b) {                                                              \
            fprintf(stderr, "%s:%d: %s: CHECK_EQ(%s, %s) failed: %lld != %lld\n",     \
                    __FILE__, __LINE__, harness_current, #a, #b, _a, _b);            \
            harness_current_failed = 1;                                              \
            return;                                                                  \
        }                                                                            \
    } while (0)

/* A call that must fail with a given errno. */
#define CHECK_ERRNO(call, err)                                                       \
    do {                                                                             \
        errno = 0;                                                                   \
        long long _r = (long long)(call);                                            \
        int _e = errno;                                                              \
        if (_r != -1 || _e != (err)) {                                               \
            fprintf(stderr, "%s:%d: %s: %s returned %lld errno %d (%s), want -1/%s\n", \
                    __FILE__, __LINE__, harness_current, #call, _r, _e, strerror(_e), #err); \
            harness_current_failed = 1;                                              \
            return;                                                                  \
        }                                                                            \
    } while (0)

#define RUN(fn) harness_run(#fn, fn)

void harness_run(const char *name, void (*fn)(void));
int harness_finish(void);

/* Monotonic time in nanoseconds. */
uint64_t harness_now_ns(void);

/* Number of open descriptors of this process (counted in /proc/self/fd). */
int harness_fd_count(void);

/* Resident set size of this process in KiB. */
long harness_rss_kib(void);

#endif
