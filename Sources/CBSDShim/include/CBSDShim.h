/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * CBSDShim.h: what Swift's Glibc module lacks: epoll/eventfd/timerfd/
 * signalfd declarations, variadic calls (ioctl, fcntl, syscall) as fixed
 * signatures, and CPU feature tests. Tiny inline wrappers only, no logic.
 * Never define _GNU_SOURCE here (it breaks the Glibc module's fd_set).
 */
#ifndef CBSDSHIM_H
#define CBSDSHIM_H

#include <stdint.h>
#include <errno.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <sys/signalfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/resource.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>

/* The packed 12-byte epoll_event imports fine; these give its constants plain types. */
static const uint32_t cbsdshim_EPOLLIN = EPOLLIN;
static const uint32_t cbsdshim_EPOLLOUT = EPOLLOUT;
static const uint32_t cbsdshim_EPOLLPRI = EPOLLPRI;
static const uint32_t cbsdshim_EPOLLERR = EPOLLERR;
static const uint32_t cbsdshim_EPOLLHUP = EPOLLHUP;
static const uint32_t cbsdshim_EPOLLRDHUP = EPOLLRDHUP;
static const uint32_t cbsdshim_EPOLLET = EPOLLET;
static const uint32_t cbsdshim_EPOLLONESHOT = EPOLLONESHOT;

/** epoll_pwait2 (Linux >= 5.11): nanosecond timeouts; -1/ENOSYS on older kernels. */
static inline int cbsdshim_epoll_pwait2(int epfd, struct epoll_event *events, int maxevents,
                                        const struct timespec *timeout) {
#ifdef SYS_epoll_pwait2
    return (int)syscall(SYS_epoll_pwait2, epfd, events, maxevents, timeout, NULL, (size_t)8);
#else
    errno = ENOSYS;
    return -1;
#endif
}

/** ioctl(fd, req, &int): FIONREAD, SIOCOUTQ, FIONBIO... */
static inline int cbsdshim_ioctl_int(int fd, unsigned long req, int *value) {
    return ioctl(fd, req, value);
}

/** ioctl(fd, req, ptr) with an arbitrary argument pointer. */
static inline int cbsdshim_ioctl_ptr(int fd, unsigned long req, void *arg) {
    return ioctl(fd, req, arg);
}

static inline int cbsdshim_fcntl_int(int fd, int cmd, int arg) { return fcntl(fd, cmd, arg); }
static inline int cbsdshim_fcntl(int fd, int cmd) { return fcntl(fd, cmd); }

static inline pid_t cbsdshim_gettid(void) { return (pid_t)syscall(SYS_gettid); }

static inline int cbsdshim_pidfd_open(pid_t pid, unsigned int flags) {
#ifdef SYS_pidfd_open
    return (int)syscall(SYS_pidfd_open, pid, flags);
#else
    errno = ENOSYS;
    return -1;
#endif
}

/** Request values Swift cannot import as macros with casts. */
static const unsigned long cbsdshim_FIONREAD = FIONREAD;
static const unsigned long cbsdshim_FIONBIO = FIONBIO;
static const unsigned long cbsdshim_SIOCOUTQ = 0x5411; /* TIOCOUTQ == SIOCOUTQ */
static const int cbsdshim_F_GETPIPE_SZ = 1032;          /* F_LINUX_SPECIFIC_BASE + 8 */

/** CPU feature tests for run-time kernel selection. */
int cbsdshim_cpu_has_avx2(void);
int cbsdshim_cpu_has_avx512bw(void);
int cbsdshim_cpu_has_sse42(void);
int cbsdshim_cpu_has_pclmul(void);
int cbsdshim_cpu_has_vpclmulqdq(void);

/** Install fork handlers (prepare, parent, child) once; the callbacks are Swift @convention(c). */
int cbsdshim_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void));

#endif /* CBSDSHIM_H */
