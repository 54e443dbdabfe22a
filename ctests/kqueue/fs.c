/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * fs.c: EVFILT_FS with real mounts, in a private mount namespace (a child
 * process that unshares it), so the machine's mount table is not touched.
 * Needs CAP_SYS_ADMIN: without it the mount tests report themselves skipped.
 */
#define _GNU_SOURCE
#include "kq_test.h"

#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>

/* 0: ran and passed; 1: failed; 77: cannot mount here. */
static int mount_and_watch(void) {
    if (unshare(CLONE_NEWNS) != 0) return 77;
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) return 77;
    char dir[] = "/tmp/bsdshim-fs-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    int kq = kqueue();
    int tag;
    if (kq_change(kq, 0, EVFILT_FS, EV_ADD, 0, 0, &tag) != 0) return 1;
    struct kevent ev;
    if (kq_poll(kq, &ev, 1) != 0) return 1;
    if (mount("bsdshim", dir, "tmpfs", 0, "size=64k") != 0) { rmdir(dir); return 77; }
    int rc = 0;
    if (kq_wait(kq, &ev, 1, 2000) != 1 || ev.filter != EVFILT_FS || ev.fflags != VQ_MOUNT ||
        ev.flags != (EV_ADD | EV_CLEAR) || ev.udata != &tag) rc = 1;
    if (kq_poll(kq, &ev, 1) != 0) rc = 1; /* EV_CLEAR: once */
    if (umount(dir) != 0) rc = 1;
    if (kq_wait(kq, &ev, 1, 2000) != 1 || ev.fflags != VQ_UNMOUNT) rc = 1;
    rmdir(dir);
    close(kq);
    return rc;
}

static void test_fs_mount_and_unmount_reported(void) {
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) _exit(mount_and_watch());
    int st = 0;
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    CHECK(WIFEXITED(st));
    if (WEXITSTATUS(st) == 77) {
        printf("  skipped: no permission to mount in a new mount namespace\n");
        return;
    }
    CHECK_EQ(WEXITSTATUS(st), 0);
}

static void test_fs_knotes_hold_one_descriptor_released_on_delete(void) {
    libkqueue_drain_pending_close();
    int kq = kqueue();
    int before = harness_fd_count();
    CHECK_EQ(kq_change(kq, 0, EVFILT_FS, EV_ADD, 0, 0, NULL), 0);
    CHECK_EQ(kq_change(kq, 1, EVFILT_FS, EV_ADD, 0, 0, NULL), 0);
    CHECK_EQ(harness_fd_count(), before + 1);
    CHECK_EQ(kq_change(kq, 0, EVFILT_FS, EV_DELETE, 0, 0, NULL), 0);
    CHECK_EQ(kq_change(kq, 1, EVFILT_FS, EV_DELETE, 0, 0, NULL), 0);
    CHECK_EQ(harness_fd_count(), before);
    struct kevent ev;
    CHECK_EQ(kq_poll(kq, &ev, 1), 0);
    close(kq);
}

int main(void) {
    RUN(test_fs_mount_and_unmount_reported);
    RUN(test_fs_knotes_hold_one_descriptor_released_on_delete);
    return harness_finish();
}
