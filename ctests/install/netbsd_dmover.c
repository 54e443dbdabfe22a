/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * netbsd_dmover.c: a NetBSD-style /dev/dmover program, compiled with the
 * installed headers only and not linked with bsdshim: it works when run with
 * LD_PRELOAD=<prefix>/lib/libbsdshim-preload.so (which finds libbsdshim.so.0
 * beside itself). Zeroes a buffer with one request and checks the response.
 */
#include <dev/dmover/dmover_io.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

int main(void) {
    int fd = open("/dev/dmover", O_RDWR);
    if (fd < 0) {
        perror("open /dev/dmover (is libbsdshim-preload.so preloaded?)");
        return 1;
    }
    struct dmio_setfunc sf;
    memset(&sf, 0, sizeof sf);
    strcpy(sf.dsf_name, "zero");
    if (ioctl(fd, DMIO_SETFUNC, &sf) != 0) {
        perror("DMIO_SETFUNC");
        return 1;
    }
    unsigned char buf[256];
    memset(buf, 0xa5, sizeof buf);
    struct iovec iov = {buf, sizeof buf};
    struct dmio_usrreq req;
    memset(&req, 0, sizeof req);
    req.req_outbuf.dmbuf_iov = &iov;
    req.req_outbuf.dmbuf_iovcnt = 1;
    req.req_id = 42;
    struct dmio_usrresp resp;
    if (write(fd, &req, sizeof req) != (ssize_t)sizeof req || read(fd, &resp, sizeof resp) != (ssize_t)sizeof resp) {
        perror("dmover write/read");
        return 1;
    }
    for (size_t i = 0; i < sizeof buf; i++) {
        if (buf[i] != 0) {
            fprintf(stderr, "byte %zu not zeroed\n", i);
            return 1;
        }
    }
    if (resp.resp_id != 42 || resp.resp_error != 0) {
        fprintf(stderr, "response id %u error %d\n", resp.resp_id, resp.resp_error);
        return 1;
    }
    close(fd);
    puts("netbsd dmover program: /dev/dmover works under the preload library");
    return 0;
}
