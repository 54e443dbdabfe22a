/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * fake_libkqueue.c: a stand-in libkqueue.so.0 whose functions only fail.
 * A program linked against it works only if libbsdshim.so is preloaded,
 * which proves the drop-in: same symbols, same ABI.
 */
#include <errno.h>
#include <sys/event.h>

__attribute__((visibility("default"))) int kqueue(void) { errno = ENOSYS; return -1; }

__attribute__((visibility("default"))) int kevent(int kq, const struct kevent *changelist, int nchanges,
                                                  struct kevent *eventlist, int nevents,
                                                  const struct timespec *timeout) {
    (void)kq; (void)changelist; (void)nchanges; (void)eventlist; (void)nevents; (void)timeout;
    errno = ENOSYS;
    return -1;
}

__attribute__((visibility("default"))) void libkqueue_drain_pending_close(void) {}
