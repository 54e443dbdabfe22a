/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * reuse.c (run under LD_PRELOAD=libbsdshim-preload.so): a /dev/dmover number
 * closed by a libc call whose close the program does not make itself
 * (closefrom, which glibc makes of its own close_range) and then reused by a
 * regular file is that file again: its write() and read() reach the file,
 * never the old session (the preload library's read/write trust its own
 * record of which numbers are dmover sessions).
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <sys/stat.h>
#include "dmio_test.h"

/* A temporary file opened read-write at the lowest free number. */
static int temp_file(void) {
    char path[] = "/tmp/dmio-reuse-XXXXXX";
    int fd = mkstemp(path);
    if (fd >= 0) unlink(path);
    return fd;
}

static void test_a_number_closed_by_closefrom_and_reused_by_a_file_is_the_file(void) {
    int fd = dmio_open_func("zero", 0);
    CHECK(fd >= 0);
    closefrom(fd);
    int file = temp_file();
    CHECK_EQ(file, fd);                                  /* the lowest free number: the old session's */
    struct dmio_usrreq rec[2];                           /* bytes a dmover session would take as records */
    memset(rec, 0, sizeof rec);
    rec[0].req_id = 7;
    rec[1].req_id = 8;
    CHECK_EQ(write(file, rec, sizeof rec), (ssize_t)sizeof rec);
    struct stat st;
    CHECK_EQ(fstat(file, &st), 0);
    CHECK_EQ(st.st_size, (long long)sizeof rec);         /* the file got them */
    CHECK_EQ(lseek(file, 0, SEEK_SET), 0);
    struct dmio_usrreq back[2];
    CHECK_EQ(read(file, back, sizeof back), (ssize_t)sizeof back);
    CHECK_EQ(memcmp(back, rec, sizeof rec), 0);
    CHECK_EQ(close(file), 0);
    /* A session opened afterwards at the same number works. */
    fd = dmio_open_func("zero", 0);
    CHECK_EQ(fd, file);
    unsigned char out[64];
    memset(out, 0xa5, sizeof out);
    dmio_shape shape;
    dmio_req_linear(&rec[0], &shape, 9, out, NULL, 0, sizeof out);
    CHECK_EQ(write(fd, rec, sizeof rec[0]), (ssize_t)sizeof rec[0]);
    struct dmio_usrresp resp;
    CHECK_EQ(dmio_read_n(fd, &resp, 1), 1);
    CHECK_EQ(resp.resp_id, 9);
    CHECK_EQ(resp.resp_error, 0);
    CHECK_EQ(out[0] | out[63], 0);
    CHECK_EQ(close(fd), 0);
}

int main(void) {
    RUN(test_a_number_closed_by_closefrom_and_reused_by_a_file_is_the_file);
    return harness_finish();
}
