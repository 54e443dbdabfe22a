/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * linked_compat.h: force-included (-include) into the linked build of a
 * NetBSD-style test program: open/openat("/dev/dmover"), ioctl, read, write and
 * close reach bsdshim's dmover_* entry points without LD_PRELOAD; every other
 * path and descriptor goes to libc. The program's source is unchanged.
 */
#ifndef BSDSHIM_CTEST_LINKED_COMPAT_H
#define BSDSHIM_CTEST_LINKED_COMPAT_H

#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include "dev/dmover/dmover_io.h"

static unsigned char compat_dmover_fd[4096];

static inline int compat_is_dmover(int fd) { return fd >= 0 && fd < 4096 && compat_dmover_fd[fd]; }

static inline int compat_open(const char *path, int flags, ...) {
    if (strcmp(path, "/dev/dmover") == 0 || strcmp(path, "/dev/dmoverio") == 0) {
        int fd = dmover_open(flags);
        if (fd >= 0 && fd < 4096) compat_dmover_fd[fd] = 1;
        return fd;
    }
    va_list ap;
    va_start(ap, flags);
    int mode = (flags & O_CREAT) ? va_arg(ap, int) : 0;
    va_end(ap);
    return open(path, flags, mode);
}

static inline int compat_openat(int dirfd, const char *path, int flags, ...) {
    if (strcmp(path, "/dev/dmover") == 0 || strcmp(path, "/dev/dmoverio") == 0) return compat_open(path, flags);
    va_list ap;
    va_start(ap, flags);
    int mode = (flags & O_CREAT) ? va_arg(ap, int) : 0;
    va_end(ap);
    return openat(dirfd, path, flags, mode);
}

static inline int compat_ioctl(int fd, unsigned long cmd, void *arg) {
    return compat_is_dmover(fd) ? dmover_ioctl(fd, cmd, arg) : ioctl(fd, cmd, arg);
}

static inline ssize_t compat_read(int fd, void *buf, size_t n) {
    return compat_is_dmover(fd) ? dmover_read(fd, buf, n) : read(fd, buf, n);
}

static inline ssize_t compat_write(int fd, const void *buf, size_t n) {
    return compat_is_dmover(fd) ? dmover_write(fd, buf, n) : write(fd, buf, n);
}

static inline int compat_close(int fd) {
    if (compat_is_dmover(fd)) {
        compat_dmover_fd[fd] = 0;
        return dmover_close(fd);
    }
    return close(fd);
}

#define open compat_open
#define openat compat_openat
#define ioctl compat_ioctl
#define read compat_read
#define write compat_write
#define close compat_close

#endif
