/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * dmio_test.h: helpers of the /dev/dmover tests: open a session for a
 * function, build request records over linear buffers, read exactly n
 * responses (polling), and count this process's descriptors and threads.
 * Only open/ioctl/read/write/poll/close are used, as a NetBSD program would.
 */
#ifndef BSDSHIM_CTEST_DMIO_TEST_H
#define BSDSHIM_CTEST_DMIO_TEST_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>
#include <dev/dmover/dmover_io.h>
#include "harness.h"

/* Opens /dev/dmover with flags and sets the function; -1 on failure. */
static inline int dmio_open_func(const char *func, int flags) {
    int fd = open("/dev/dmover", O_RDWR | flags);
    if (fd < 0) return -1;
    struct dmio_setfunc sf;
    memset(&sf, 0, sizeof sf);
    strncpy(sf.dsf_name, func, sizeof sf.dsf_name - 1);
    if (ioctl(fd, DMIO_SETFUNC, &sf) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* A request whose one output buffer is `out` and that has no input (a "zero"). */
static inline struct dmio_usrreq dmio_req_out(struct iovec *out, uint32_t id) {
    struct dmio_usrreq r;
    memset(&r, 0, sizeof r);
    r.req_outbuf.dmbuf_iov = out;
    r.req_outbuf.dmbuf_iovcnt = 1;
    r.req_id = id;
    return r;
}

/* A request over one iovec per buffer: out (may be NULL for none) and nin inputs. */
typedef struct {
    struct iovec out_iov;
    struct iovec in_iov[16];
    dmio_buffer inbuf[16];
} dmio_shape;

static inline void dmio_req_linear(struct dmio_usrreq *r, dmio_shape *s, uint32_t id, void *out, void *const *in,
                                   int nin, size_t len) {
    memset(r, 0, sizeof *r);
    r->req_id = id;
    if (out) {
        s->out_iov.iov_base = out;
        s->out_iov.iov_len = len;
        r->req_outbuf.dmbuf_iov = &s->out_iov;
        r->req_outbuf.dmbuf_iovcnt = 1;
    }
    for (int j = 0; j < nin; j++) {
        s->in_iov[j].iov_base = in[j];
        s->in_iov[j].iov_len = len;
        s->inbuf[j].dmbuf_iov = &s->in_iov[j];
        s->inbuf[j].dmbuf_iovcnt = 1;
    }
    r->req_inbuf = nin ? s->inbuf : NULL;
}

/* Reads exactly n responses, waiting with poll() when the descriptor is non-blocking. */
static inline int dmio_read_n(int fd, struct dmio_usrresp *resp, int n) {
    int got = 0;
    while (got < n) {
        ssize_t r = read(fd, resp + got, (size_t)(n - got) * sizeof *resp);
        if (r < 0 && errno == EWOULDBLOCK) {
            struct pollfd p = {fd, POLLIN, 0};
            poll(&p, 1, -1);
            continue;
        }
        if (r <= 0 || r % (ssize_t)sizeof *resp) return -1;
        got += (int)(r / (ssize_t)sizeof *resp);
    }
    return got;
}

/* Writes all records, waiting with poll() when the descriptor is non-blocking. */
static inline int dmio_write_all(int fd, const struct dmio_usrreq *req, int n) {
    int done = 0;
    while (done < n) {
        ssize_t r = write(fd, req + done, (size_t)(n - done) * sizeof *req);
        if (r < 0 && errno == EWOULDBLOCK) return done;
        if (r <= 0 || r % (ssize_t)sizeof *req) return -1;
        done += (int)(r / (ssize_t)sizeof *req);
    }
    return done;
}

static inline int dmio_count_dir(const char *path) {
    DIR *d = opendir(path);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

#endif
