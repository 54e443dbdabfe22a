/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * headers_c11.c: every public header compiles on its own as strict C11
 * (-std=c11 -pedantic -Wall -Wextra -Werror) and links.
 */
#include <sys/event.h>
#include <sys/event.h> /* include guard */

#include "harness.h"

static void test_event_h_compiles_as_c11_and_links(void) {
    int (*kq)(void) = kqueue;
    int (*ke)(int, const struct kevent *, int, struct kevent *, int, const struct timespec *) = kevent;
    void (*drain)(void) = libkqueue_drain_pending_close;
    CHECK(kq != NULL && ke != NULL && drain != NULL);
}

int main(void) {
    RUN(test_event_h_compiles_as_c11_and_links);
    return harness_finish();
}
