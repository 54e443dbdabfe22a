/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * vectored.c (run under LD_PRELOAD=libbsdshim-preload.so): readv() and
 * writev() on a /dev/dmover descriptor with an iovec that points at no
 * memory fail with EFAULT, as the kernel's would, instead of crashing the
 * program; writev runs nothing then and readv takes no response.
 */
#define _GNU_SOURCE
#include <sys/mman.h>
#include "dmio_test.h"

static void test_readv_and_writev_with_a_bad_iovec_are_efault_and_lose_nothing(void) {
    int fd = dmio_open_func("zero", O_NONBLOCK);
    CHECK(fd >= 0);
    long page = sysconf(_SC_PAGESIZE);
    char *none = mmap(NULL, (size_t)page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(none != MAP_FAILED);
    unsigned char out[64];
    memset(out, 0xa5, sizeof out);
    struct dmio_usrreq req[2];
    dmio_shape shape[2];
    dmio_req_linear(&req[0], &shape[0], 1, out, NULL, 0, 32);
    dmio_req_linear(&req[1], &shape[1], 2, out + 32, NULL, 0, 32);
    /* writev: the second record's bytes are unreadable. */
    struct iovec wv[2] = {{&req[0], sizeof req[0]}, {none, sizeof req[1]}};
    CHECK_ERRNO(writev(fd, wv, 2), EFAULT);
    CHECK_EQ(out[0], 0xa5);                              /* nothing ran */
    struct dmio_usrresp resp[2];
    CHECK_ERRNO(read(fd, resp, sizeof resp[0]), EWOULDBLOCK);
    /* Both records, gathered from two iovecs. */
    wv[1].iov_base = &req[1];
    CHECK_EQ(writev(fd, wv, 2), (ssize_t)sizeof req);
    CHECK_EQ(out[0] | out[63], 0);
    /* readv: the second response's place is not writable. */
    struct iovec rv[2] = {{&resp[0], sizeof resp[0]}, {none, sizeof resp[1]}};
    CHECK_ERRNO(readv(fd, rv, 2), EFAULT);
    rv[1].iov_base = &resp[1];
    CHECK_EQ(readv(fd, rv, 2), (ssize_t)sizeof resp);    /* both still there */
    CHECK_EQ(resp[0].resp_id, 1);
    CHECK_EQ(resp[1].resp_id, 2);
    CHECK_EQ(resp[0].resp_error | resp[1].resp_error, 0);
    munmap(none, (size_t)page);
    CHECK_EQ(close(fd), 0);
}

int main(void) {
    RUN(test_readv_and_writev_with_a_bad_iovec_are_efault_and_lose_nothing);
    return harness_finish();
}
