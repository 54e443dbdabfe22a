/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * paths.c (run under LD_PRELOAD=libbsdshim-preload.so): /dev/dmover and
 * /dev/dmoverio open however the path is spelt, as the kernel would
 * resolve it on NetBSD: repeated slashes, "/./", "dir/../", a symbolic
 * link to /dev, a path relative to /dev as working directory, openat with
 * a descriptor of /dev. Names that are not those files are left alone.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/stat.h>
#include "dmio_test.h"

/* The descriptor is a working session: DMIO_SETFUNC takes "zero". */
static int is_session(int fd) {
    struct dmio_setfunc sf;
    memset(&sf, 0, sizeof sf);
    strcpy(sf.dsf_name, "zero");
    return fd >= 0 && ioctl(fd, DMIO_SETFUNC, &sf) == 0;
}

static void test_spellings_of_dev_dmover_open_a_session(void) {
    static const char *const paths[] = {
        "//dev/dmover", "/dev//dmover", "/dev/./dmover", "/./dev/dmoverio", "/dev/../dev/dmover",
        "///dev///.//dmoverio", "/../dev/dmover",
    };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        int fd = open(paths[i], O_RDWR);
        int ok = is_session(fd);
        if (!ok) fprintf(stderr, "not a session: %s\n", paths[i]);
        CHECK(ok);
        CHECK_EQ(close(fd), 0);
    }
}

static void test_relative_and_at_paths_open_a_session(void) {
    char cwd[4096];
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    CHECK_EQ(chdir("/dev"), 0);
    int fd = open("dmover", O_RDWR);
    int fd2 = open("./dmoverio", O_RDWR);
    CHECK_EQ(chdir(cwd), 0);
    CHECK(is_session(fd));
    CHECK(is_session(fd2));
    CHECK_EQ(close(fd), 0);
    CHECK_EQ(close(fd2), 0);
    int dev = open("/dev", O_RDONLY | O_DIRECTORY);
    CHECK(dev >= 0);
    fd = openat(dev, "dmover", O_RDWR);
    CHECK(is_session(fd));
    CHECK_EQ(close(fd), 0);
    CHECK_EQ(close(dev), 0);
}

static void test_a_symbolic_link_to_dev_opens_a_session(void) {
    char dir[] = "/tmp/dmio-paths-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char link[64], path[96];
    snprintf(link, sizeof link, "%s/devlink", dir);
    snprintf(path, sizeof path, "%s/dmover", link);
    CHECK_EQ(symlink("/dev", link), 0);
    int fd = open(path, O_RDWR);
    unlink(link);
    rmdir(dir);
    CHECK(is_session(fd));
    CHECK_EQ(close(fd), 0);
}

static void test_other_names_are_left_alone(void) {
    CHECK_ERRNO(open("/dev/dmoverx", O_RDWR), ENOENT);
    CHECK_ERRNO(open("/tmp/dmover-does-not-exist/dmover", O_RDWR), ENOENT);
    CHECK(open("/dev/dmover/", O_RDWR) < 0);             /* a trailing slash wants a directory */
    char dir[] = "/tmp/dmio-paths-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[64];
    snprintf(path, sizeof path, "%s/dmover", dir);
    int fd = open(path, O_RDWR | O_CREAT, 0600);         /* a regular file named dmover elsewhere */
    CHECK(fd >= 0);
    CHECK_EQ(write(fd, "abc", 3), 3);
    struct stat st;
    CHECK_EQ(fstat(fd, &st), 0);
    CHECK(S_ISREG(st.st_mode));
    CHECK_EQ(close(fd), 0);
    unlink(path);
    rmdir(dir);
}

int main(void) {
    RUN(test_spellings_of_dev_dmover_open_a_session);
    RUN(test_relative_and_at_paths_open_a_session);
    RUN(test_a_symbolic_link_to_dev_opens_a_session);
    RUN(test_other_names_are_left_alone);
    return harness_finish();
}
