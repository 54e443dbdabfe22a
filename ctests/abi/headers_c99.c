/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * headers_c99.c: <sys/event.h> in strict C99 (-std=c99 -pedantic -Werror),
 * where <time.h> does not define struct timespec: the type the program
 * gets later (here from <pthread.h>) must be the one kevent() takes.
 */
#include <sys/event.h>

#include <pthread.h>
#include <unistd.h>

#include "harness.h"

static void test_event_h_compiles_as_c99_with_a_later_timespec(void) {
    struct timespec zero = {0, 0};
    int kq = kqueue();
    CHECK(kq >= 0);
    struct kevent ev;
    CHECK_EQ(kevent(kq, NULL, 0, &ev, 1, &zero), 0);
    close(kq);
}

int main(void) {
    RUN(test_event_h_compiles_as_c99_with_a_later_timespec);
    return harness_finish();
}
