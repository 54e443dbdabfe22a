/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * dmio_calls.h: the dmover calls of a test built twice: plain open, ioctl,
 * read, write and close (run under LD_PRELOAD=libbsdshim-preload.so), or,
 * with -DDMIO_LINKED, the dmover_* entry points of a linked program.
 */
#ifndef BSDSHIM_DMIO_CALLS_H
#define BSDSHIM_DMIO_CALLS_H

#include "dmio_test.h"

#ifdef DMIO_LINKED
static int dm_open(int flags) { return dmover_open(flags); }
#define dm_ioctl dmover_ioctl
#define dm_read dmover_read
#define dm_write dmover_write
#define dm_close dmover_close
#else
static int dm_open(int flags) { return open("/dev/dmover", O_RDWR | flags); }
static int dm_ioctl(int fd, unsigned long cmd, void *arg) { return ioctl(fd, cmd, arg); }
#define dm_read read
#define dm_write write
#define dm_close close
#endif

#endif
