/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * vnode.c: EVFILT_VNODE on real files and directories: each note, only the
 * notes asked for, following the open file across a rename, and refusing
 * descriptors that are not files.
 */
#define _GNU_SOURCE
#include "kq_test.h"

#include <sys/socket.h>
#include <sys/stat.h>

static char dir[64];

static void make_dir(void) {
    if (dir[0]) return;
    strcpy(dir, "/tmp/bsdshim-vnode-XXXXXX");
    if (!mkdtemp(dir)) abort();
}

/* Creates dir/name with `len` bytes and returns an O_RDWR descriptor. */
static int make_file(const char *name, int len, char *path, size_t pathlen) {
    make_dir();
    snprintf(path, pathlen, "%s/%s", dir, name);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    for (int i = 0; i < len; i++) (void)!write(fd, "x", 1);
    return fd;
}

/* Waits for one vnode event and returns its fflags (0 if none came). */
static unsigned int next_notes(int kq, long ms) {
    struct kevent ev;
    int n = kq_wait(kq, &ev, 1, ms);
    if (n != 1 || ev.filter != EVFILT_VNODE) return 0;
    return ev.fflags;
}

static void test_vnode_write_and_extend(void) {
    char path[128];
    int fd = make_file("w", 4, path, sizeof path), kq = kqueue();
    int tag;
    CHECK_EQ(kq_change(kq, fd, EVFILT_VNODE, EV_ADD | EV_CLEAR, NOTE_WRITE | NOTE_EXTEND, 0, &tag), 0);
    CHECK_EQ(pwrite(fd, "ab", 2, 100), 2);
    struct kevent ev;
    CHECK_EQ(kq_wait(kq, &ev, 1, 2000), 1);
    CHECK_EQ(ev.ident, fd);
    CHECK_EQ(ev.flags, EV_ADD | EV_CLEAR);
    CHECK_EQ(ev.fflags, NOTE_WRITE | NOTE_EXTEND);
    CHECK_EQ(ev.data, 0);
    CHECK(ev.udata == &tag);
    /* An in-place write does not extend. */
    CHECK_EQ(pwrite(fd, "z", 1, 0), 1);
    CHECK_EQ(next_notes(kq, 2000), NOTE_WRITE);
    CHECK_EQ(kq_poll(kq, &ev, 1), 0);
    close(fd);
    close(kq);
}

/* BSD's filt_vnode reports a change's whole hint when any of its notes is
 * subscribed: an append watched for NOTE_EXTEND alone also says NOTE_WRITE
 * (libkqueue's vnode tests expect the same); a change with no subscribed
 * note is not reported. */
static void test_vnode_whole_hint_reported_when_any_note_subscribed(void) {
    char path[128];
    int fd = make_file("sub", 0, path, sizeof path), kq = kqueue();
    CHECK_EQ(kq_change(kq, fd, EVFILT_VNODE, EV_ADD | EV_CLEAR, NOTE_EXTEND, 0, NULL), 0);
    CHECK_EQ(write(fd, "abc", 3), 3);
    CHECK_EQ(next_notes(kq, 2000), NOTE_WRITE | NOTE_EXTEND);
    CHECK_EQ(fchmod(fd, 0600), 0);                 /* NOTE_ATTRIB: not asked for */
    struct kevent ev;
    CHECK_EQ(kq_wait(kq, &ev, 1, 100), 0);
    close(fd);
    close(kq);
}

/* A size change is reported even when an attribute change of the file was
 * queued first (libkqueue's fflag accumulation test). */
static void test_vnode_growth_seen_after_an_attribute_change(void) {
    char path[128];
    int fd = make_file("acc", 0, path, sizeof path), kq = kqueue();
    CHECK_EQ(kq_change(kq, fd, EVFILT_VNODE, EV_ADD | EV_ONESHOT, NOTE_ATTRIB | NOTE_EXTEND, 0, NULL), 0);
    CHECK_EQ(futimens(fd, NULL), 0);
    CHECK_EQ(ftruncate(fd, 4096), 0);
    ms_sleep(20);
    CHECK_EQ(next_notes(kq, 2000) & (NOTE_ATTRIB | NOTE_EXTEND), NOTE_ATTRIB | NOTE_EXTEND);
    close(fd);
    close(kq);
}

static void test_vnode_truncate_and_attrib(void) {
    char path[128];
    int fd = make_file("t", 10, path, sizeof path), kq = kqueue();
    CHECK_EQ(kq_change(kq, fd, EVFILT_VNODE, EV_ADD | EV_CLEAR, NOTE_TRUNCATE | NOTE_ATTRIB, 0, NULL), 0);
    CHECK_EQ(ftruncate(fd, 3), 0);
    CHECK_EQ(next_notes(kq, 2000) & NOTE_TRUNCATE, NOTE_TRUNCATE);
    CHECK_EQ(fchmod(fd, 0600), 0);
    CHECK_EQ(next_notes(kq, 2000), NOTE_ATTRIB);
    close(fd);
    close(kq);
}

static void test_vnode_link_delete_and_rename_follow_the_file(void) {
    char path[128], other[160], moved[160];
    int fd = make_file("l", 1, path, sizeof path), kq = kqueue();
    CHECK_EQ(kq_change(kq, fd, EVFILT_VNODE, EV_ADD | EV_CLEAR,
                       NOTE_LINK | NOTE_RENAME | NOTE_DELETE | NOTE_WRITE, 0, NULL), 0);
    snprintf(other, sizeof other, "%s.link", path);
    CHECK_EQ(link(path, other), 0);
    CHECK_EQ(next_notes(kq, 2000), NOTE_LINK);
    CHECK_EQ(unlink(other), 0);
    CHECK_EQ(next_notes(kq, 2000), NOTE_LINK);
    /* Renamed: reported, and the knote still follows the file. */
    snprintf(moved, sizeof moved, "%s.moved", path);
    CHECK_EQ(rename(path, moved), 0);
    CHECK_EQ(next_notes(kq, 2000), NOTE_RENAME);
    CHECK_EQ(write(fd, "y", 1), 1);
    CHECK_EQ(next_notes(kq, 2000), NOTE_WRITE | NOTE_EXTEND);   /* the whole hint */
    /* Last link removed while open: NOTE_DELETE. */
    CHECK_EQ(unlink(moved), 0);
    CHECK_EQ(next_notes(kq, 2000), NOTE_DELETE);
    close(fd);
    close(kq);
}

static void test_vnode_directory_entries_are_writes(void) {
    make_dir();
    char sub[96], file[128];
    snprintf(sub, sizeof sub, "%s/d", dir);
    CHECK_EQ(mkdir(sub, 0755), 0);
    int d = open(sub, O_RDONLY | O_DIRECTORY), kq = kqueue();
    CHECK(d >= 0);
    CHECK_EQ(kq_change(kq, d, EVFILT_VNODE, EV_ADD | EV_CLEAR, NOTE_WRITE, 0, NULL), 0);
    snprintf(file, sizeof file, "%s/f", sub);
    int f = open(file, O_CREAT | O_WRONLY, 0644);
    CHECK(f >= 0);
    CHECK_EQ(next_notes(kq, 2000), NOTE_WRITE);
    close(f);
    CHECK_EQ(unlink(file), 0);
    CHECK_EQ(next_notes(kq, 2000), NOTE_WRITE);
    close(d);
    CHECK_EQ(rmdir(sub), 0);
    close(kq);
}

static void test_vnode_directory_ignores_changes_inside_its_files(void) {
    make_dir();
    char sub[96], file[128];
    snprintf(sub, sizeof sub, "%s/quiet", dir);
    CHECK_EQ(mkdir(sub, 0755), 0);
    snprintf(file, sizeof file, "%s/f", sub);
    int f = open(file, O_CREAT | O_WRONLY, 0644);
    CHECK(f >= 0);
    int d = open(sub, O_RDONLY | O_DIRECTORY), kq = kqueue();
    CHECK(d >= 0);
    CHECK_EQ(kq_change(kq, d, EVFILT_VNODE, EV_ADD | EV_CLEAR, NOTE_WRITE | NOTE_ATTRIB | NOTE_EXTEND, 0, NULL), 0);
    /* Writing into and chmod'ing an entry changes the entry, not the directory. */
    CHECK_EQ(write(f, "abc", 3), 3);
    CHECK_EQ(fchmod(f, 0600), 0);
    CHECK_EQ(next_notes(kq, 200), 0u);
    /* The directory's own attributes still are its own. */
    CHECK_EQ(chmod(sub, 0700), 0);
    CHECK_EQ(next_notes(kq, 2000), (unsigned)NOTE_ATTRIB);
    close(f);
    CHECK_EQ(unlink(file), 0);
    CHECK_EQ(next_notes(kq, 2000), (unsigned)NOTE_WRITE);
    close(d);
    CHECK_EQ(rmdir(sub), 0);
    close(kq);
}

static void test_vnode_on_a_named_fifo(void) {
    make_dir();
    char path[96];
    snprintf(path, sizeof path, "%s/fifo", dir);
    CHECK_EQ(mkfifo(path, 0644), 0);
    int fd = open(path, O_RDONLY | O_NONBLOCK), kq = kqueue();
    CHECK(fd >= 0);
    CHECK_EQ(kq_change(kq, fd, EVFILT_VNODE, EV_ADD | EV_CLEAR, NOTE_ATTRIB | NOTE_DELETE, 0, NULL), 0);
    CHECK_EQ(chmod(path, 0600), 0);
    CHECK_EQ(next_notes(kq, 2000), (unsigned)NOTE_ATTRIB);
    CHECK_EQ(unlink(path), 0);
    CHECK_EQ(next_notes(kq, 2000), (unsigned)NOTE_DELETE);
    close(fd);
    close(kq);
}

static void test_vnode_oneshot_and_notes_accumulate(void) {
    char path[128];
    int fd = make_file("acc", 0, path, sizeof path), kq = kqueue();
    CHECK_EQ(kq_change(kq, fd, EVFILT_VNODE, EV_ADD | EV_ONESHOT, NOTE_WRITE | NOTE_ATTRIB | NOTE_EXTEND, 0, NULL), 0);
    CHECK_EQ(write(fd, "a", 1), 1);
    CHECK_EQ(fchmod(fd, 0600), 0);
    ms_sleep(50);
    struct kevent ev;
    CHECK_EQ(kq_poll(kq, &ev, 1), 1);
    CHECK_EQ(ev.flags, EV_ADD | EV_ONESHOT);
    CHECK_EQ(ev.fflags, NOTE_WRITE | NOTE_ATTRIB | NOTE_EXTEND);
    CHECK_ERRNO(kq_change(kq, fd, EVFILT_VNODE, EV_DELETE, 0, 0, NULL), ENOENT);
    close(fd);
    close(kq);
}

static void test_vnode_enable_keeps_subscription(void) {
    char path[128];
    int fd = make_file("en", 0, path, sizeof path), kq = kqueue();
    CHECK_EQ(kq_change(kq, fd, EVFILT_VNODE, EV_ADD | EV_DISPATCH, NOTE_ATTRIB, 0, NULL), 0);
    CHECK_EQ(fchmod(fd, 0600), 0);
    CHECK_EQ(next_notes(kq, 2000), NOTE_ATTRIB);
    CHECK_EQ(fchmod(fd, 0640), 0); /* while dispatched (disabled): kept */
    struct kevent ev;
    CHECK_EQ(kq_wait(kq, &ev, 1, 100), 0);
    CHECK_EQ(kq_change(kq, fd, EVFILT_VNODE, EV_ENABLE | EV_DISPATCH, 0, 0, NULL), 0);
    CHECK_EQ(kq_wait(kq, &ev, 1, 2000), 1);
    CHECK_EQ(ev.flags, EV_ADD | EV_DISPATCH);
    CHECK_EQ(ev.fflags, NOTE_ATTRIB);
    close(fd);
    close(kq);
}

static void test_vnode_rejects_non_files(void) {
    int kq = kqueue(), p[2], sv[2];
    CHECK(pipe(p) == 0);
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    CHECK_ERRNO(kq_change(kq, p[0], EVFILT_VNODE, EV_ADD, NOTE_WRITE, 0, NULL), EINVAL);
    CHECK_ERRNO(kq_change(kq, sv[0], EVFILT_VNODE, EV_ADD, NOTE_WRITE, 0, NULL), EINVAL);
    CHECK_ERRNO(kq_change(kq, 100000, EVFILT_VNODE, EV_ADD, NOTE_WRITE, 0, NULL), EBADF);
    close(p[0]); close(p[1]); close(sv[0]); close(sv[1]);
    close(kq);
}

static void test_vnode_two_kqueues_and_read_knote_share_the_file(void) {
    char path[128];
    int fd = make_file("share", 0, path, sizeof path), a = kqueue(), b = kqueue();
    int r = open(path, O_RDONLY);
    CHECK_EQ(kq_change(a, fd, EVFILT_VNODE, EV_ADD | EV_CLEAR, NOTE_WRITE, 0, NULL), 0);
    CHECK_EQ(kq_change(a, r, EVFILT_READ, EV_ADD, 0, 0, NULL), 0);
    CHECK_EQ(kq_change(b, fd, EVFILT_VNODE, EV_ADD | EV_CLEAR, NOTE_WRITE, 0, NULL), 0);
    CHECK_EQ(write(fd, "hello", 5), 5);
    ms_sleep(50);
    struct kevent ev[4];
    int n = kq_poll(a, ev, 4);
    CHECK_EQ(n, 2);
    int vnode = 0, read = 0;
    for (int i = 0; i < n; i++) {
        if (ev[i].filter == EVFILT_VNODE && ev[i].fflags == (NOTE_WRITE | NOTE_EXTEND)) vnode++;
        if (ev[i].filter == EVFILT_READ && ev[i].data == 5) read++;
    }
    CHECK_EQ(vnode, 1);
    CHECK_EQ(read, 1);
    CHECK_EQ(next_notes(b, 2000), NOTE_WRITE | NOTE_EXTEND);
    close(r); close(fd); close(a); close(b);
}

int main(void) {
    RUN(test_vnode_write_and_extend);
    RUN(test_vnode_whole_hint_reported_when_any_note_subscribed);
    RUN(test_vnode_growth_seen_after_an_attribute_change);
    RUN(test_vnode_truncate_and_attrib);
    RUN(test_vnode_link_delete_and_rename_follow_the_file);
    RUN(test_vnode_directory_entries_are_writes);
    RUN(test_vnode_directory_ignores_changes_inside_its_files);
    RUN(test_vnode_on_a_named_fifo);
    RUN(test_vnode_oneshot_and_notes_accumulate);
    RUN(test_vnode_enable_keeps_subscription);
    RUN(test_vnode_rejects_non_files);
    RUN(test_vnode_two_kqueues_and_read_knote_share_the_file);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (dir[0]) (void)!system(cmd);
    return harness_finish();
}
