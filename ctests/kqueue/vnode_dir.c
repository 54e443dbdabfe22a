/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * vnode_dir.c: EVFILT_VNODE, one check per note, on directories and on
 * regular files of the real file system (a mkdtemp directory), against BSD's
 * semantics: NOTE_DELETE on rmdir/unlink (once), NOTE_RENAME, NOTE_LINK on a
 * directory when a subdirectory is made, removed or moved in or out (not for
 * files, not for moves inside it), NOTE_WRITE for entries added, removed or
 * renamed, NOTE_EXTEND when an entry moves in from or out to another
 * directory (FreeBSD), NOTE_ATTRIB on chmod/chown/utimes, and the notes of
 * several changes accumulating under EV_CLEAR and EV_ONESHOT. Every wait has
 * a timeout and every test runs in a child with a time limit.
 */
#define _GNU_SOURCE
#include "kq_test.h"

#include <stdarg.h>
#include <sys/stat.h>
#include <sys/time.h>

static char root[64];

/* Formats a path under this test's directory. */
static const char *at(char *buf, const char *fmt, ...) {
    char rel[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rel, sizeof rel, fmt, ap);
    va_end(ap);
    snprintf(buf, 256, "%s/%s", root, rel);
    return buf;
}

static int open_dir(const char *path) { return open(path, O_RDONLY | O_DIRECTORY); }

/* A new kqueue watching fd for `notes`, EV_CLEAR unless flags say otherwise. */
static int watch(int fd, unsigned short flags, unsigned int notes) {
    int kq = kqueue();
    if (kq < 0 || kq_change(kq, fd, EVFILT_VNODE, EV_ADD | flags, notes, 0, NULL) != 0) return -1;
    return kq;
}

#define ALL_NOTES (NOTE_DELETE | NOTE_WRITE | NOTE_EXTEND | NOTE_ATTRIB | NOTE_LINK | NOTE_RENAME)

/* Waits for one vnode event and returns its fflags (0 if none came). */
static unsigned int next_notes(int kq, long ms) {
    struct kevent ev;
    int n = kq_wait(kq, &ev, 1, ms);
    if (n != 1 || ev.filter != EVFILT_VNODE) return 0;
    return ev.fflags;
}

/* Every note of the changes made so far, after they have all been queued. */
static unsigned int settled_notes(int kq) {
    ms_sleep(50);
    return next_notes(kq, 2000);
}

/* ---- directories -------------------------------------------------------- */

static void test_dir_rmdir_is_note_delete_once(void) {
    char d[256];
    CHECK_EQ(mkdir(at(d, "rm"), 0755), 0);
    int fd = open_dir(d), kq = watch(fd, EV_CLEAR, ALL_NOTES);
    CHECK(kq >= 0);
    CHECK_EQ(rmdir(d), 0);
    CHECK_EQ(next_notes(kq, 2000), (unsigned)NOTE_DELETE);
    /* Reported once: closing the last descriptor (inotify's IN_DELETE_SELF)
     * adds nothing, nor does a change of its former parent. */
    char other[256];
    CHECK_EQ(mkdir(at(other, "rm-sibling"), 0755), 0);
    CHECK_EQ(rmdir(other), 0);
    CHECK_EQ(next_notes(kq, 200), 0u);
    close(fd);
    CHECK_EQ(next_notes(kq, 200), 0u);
    close(kq);
}

static void test_dir_rmdir_with_oneshot(void) {
    char d[256];
    CHECK_EQ(mkdir(at(d, "rm1"), 0755), 0);
    int fd = open_dir(d), kq = watch(fd, EV_ONESHOT, NOTE_DELETE);
    CHECK(kq >= 0);
    CHECK_EQ(rmdir(d), 0);
    struct kevent ev;
    CHECK_EQ(kq_wait(kq, &ev, 1, 2000), 1);
    CHECK_EQ(ev.fflags, NOTE_DELETE);
    CHECK_EQ(ev.flags, EV_ADD | EV_ONESHOT);
    CHECK_ERRNO(kq_change(kq, fd, EVFILT_VNODE, EV_DELETE, 0, 0, NULL), ENOENT);
    close(fd);
    close(kq);
}

static void test_dir_rmdir_not_asked_for_is_quiet(void) {
    char d[256];
    CHECK_EQ(mkdir(at(d, "rmq"), 0755), 0);
    int fd = open_dir(d), kq = watch(fd, EV_CLEAR, NOTE_ATTRIB | NOTE_WRITE);
    CHECK(kq >= 0);
    CHECK_EQ(rmdir(d), 0);
    CHECK_EQ(next_notes(kq, 200), 0u);
    close(fd);
    close(kq);
}

/* The parent watch follows the directory: removed after a move to another
 * parent, it still says NOTE_DELETE. */
static void test_dir_rename_then_rmdir_elsewhere(void) {
    char d[256], p2[256], moved[256];
    CHECK_EQ(mkdir(at(d, "mv"), 0755), 0);
    CHECK_EQ(mkdir(at(p2, "mv-parent"), 0755), 0);
    int fd = open_dir(d), kq = watch(fd, EV_CLEAR, ALL_NOTES);
    CHECK(kq >= 0);
    CHECK_EQ(rename(d, at(moved, "mv-parent/mv")), 0);
    CHECK_EQ(next_notes(kq, 2000), (unsigned)NOTE_RENAME);
    CHECK_EQ(rmdir(moved), 0);
    CHECK_EQ(next_notes(kq, 2000), (unsigned)NOTE_DELETE);
    close(fd);
    close(kq);
    CHECK_EQ(rmdir(p2), 0);
}

static void test_dir_renamed_over_is_note_delete(void) {
    char d[256], other[256];
    CHECK_EQ(mkdir(at(d, "over"), 0755), 0);
    CHECK_EQ(mkdir(at(other, "over-src"), 0755), 0);
    int fd = open_dir(d), kq = watch(fd, EV_CLEAR, ALL_NOTES);
    CHECK(kq >= 0);
    CHECK_EQ(rename(other, d), 0);
    CHECK_EQ(next_notes(kq, 2000), (unsigned)NOTE_DELETE);
    CHECK_EQ(next_notes(kq, 200), 0u);
    close(fd);
    close(kq);
    CHECK_EQ(rmdir(d), 0);
}

static void test_dir_subdirectory_made_and_removed_is_note_link(void) {
    char d[256], sub[256];
    CHECK_EQ(mkdir(at(d, "lk"), 0755), 0);
    int fd = open_dir(d), kq = watch(fd, EV_CLEAR, NOTE_LINK);
    CHECK(kq >= 0);
    CHECK_EQ(mkdir(at(sub, "lk/sub"), 0755), 0);
    CHECK_EQ(next_notes(kq, 2000), (unsigned)(NOTE_WRITE | NOTE_LINK));
    CHECK_EQ(rmdir(sub), 0);
    CHECK_EQ(next_notes(kq, 2000), (unsigned)(NOTE_WRITE | NOTE_LINK));
    close(fd);
    close(kq);
    CHECK_EQ(rmdir(d), 0);
}

static void test_dir_files_made_and_removed_are_note_write(void) {
    char d[256], f[256];
    CHECK_EQ(mkdir(at(d, "wr"), 0755), 0);
    int fd = open_dir(d), kq = watch(fd, EV_CLEAR, ALL_NOTES);
    CHECK(kq >= 0);
    int f1 = open(at(f, "wr/file"), O_CREAT | O_WRONLY, 0644);
    CHECK(f1 >= 0);
    close(f1);
    CHECK_EQ(next_notes(kq, 2000), (unsigned)NOTE_WRITE);   /* no NOTE_LINK */
    CHECK_EQ(unlink(f), 0);
    CHECK_EQ(next_notes(kq, 2000), (unsigned)NOTE_WRITE);
    close(fd);
    close(kq);
    CHECK_EQ(rmdir(d), 0);
}

static void test_dir_rename_inside_is_note_write_only(void) {
    char d[256], a[256], b[256], sa[256], sb[256];
    CHECK_EQ(mkdir(at(d, "in"), 0755), 0);
    close(open(at(a, "in/a"), O_CREAT | O_WRONLY, 0644));
    CHECK_EQ(mkdir(at(sa, "in/sa"), 0755), 0);
    int fd = open_dir(d), kq = watch(fd, EV_CLEAR, ALL_NOTES);
    CHECK(kq >= 0);
    CHECK_EQ(rename(a, at(b, "in/b")), 0);
    CHECK_EQ(next_notes(kq, 2000), (unsigned)NOTE_WRITE);
    CHECK_EQ(rename(sa, at(sb, "in/sb")), 0);                /* a subdirectory: still no NOTE_LINK */
    CHECK_EQ(next_notes(kq, 2000), (unsigned)NOTE_WRITE);
    close(fd);
    close(kq);
    CHECK_EQ(unlink(b), 0);
    CHECK_EQ(rmdir(sb), 0);
    CHECK_EQ(rmdir(d), 0);
}

/* FreeBSD: an entry moving between directories is NOTE_WRITE|NOTE_EXTEND on
 * both, plus NOTE_LINK when it is a directory. */
static void test_dir_moves_across_directories(void) {
    char d[256], out[256], f[256], fin[256], s[256], sin[256];
    CHECK_EQ(mkdir(at(d, "x"), 0755), 0);
    CHECK_EQ(mkdir(at(out, "x-out"), 0755), 0);
    close(open(at(f, "x-out/f"), O_CREAT | O_WRONLY, 0644));
    CHECK_EQ(mkdir(at(s, "x-out/s"), 0755), 0);
    int fd = open_dir(d), kq = watch(fd, EV_CLEAR, ALL_NOTES);
    int ofd = open_dir(out), okq = watch(ofd, EV_CLEAR, ALL_NOTES);
    CHECK(kq >= 0 && okq >= 0);
    CHECK_EQ(rename(f, at(fin, "x/f")), 0);                  /* a file moved in */
    CHECK_EQ(next_notes(kq, 2000), (unsigned)(NOTE_WRITE | NOTE_EXTEND));
    CHECK_EQ(next_notes(okq, 2000), (unsigned)(NOTE_WRITE | NOTE_EXTEND));
    CHECK_EQ(rename(s, at(sin, "x/s")), 0);                  /* a directory moved in */
    CHECK_EQ(next_notes(kq, 2000), (unsigned)(NOTE_WRITE | NOTE_EXTEND | NOTE_LINK));
    CHECK_EQ(next_notes(okq, 2000), (unsigned)(NOTE_WRITE | NOTE_EXTEND | NOTE_LINK));
    CHECK_EQ(rename(sin, s), 0);                             /* and out again */
    CHECK_EQ(next_notes(kq, 2000), (unsigned)(NOTE_WRITE | NOTE_EXTEND | NOTE_LINK));
    CHECK_EQ(next_notes(okq, 2000), (unsigned)(NOTE_WRITE | NOTE_EXTEND | NOTE_LINK));
    /* To a directory nobody watches: still a move across. */
    CHECK_EQ(rename(fin, at(f, "f-elsewhere")), 0);
    CHECK_EQ(next_notes(kq, 2000), (unsigned)(NOTE_WRITE | NOTE_EXTEND));
    close(fd); close(kq); close(ofd); close(okq);
    CHECK_EQ(unlink(f), 0);
    CHECK_EQ(rmdir(s), 0);
    CHECK_EQ(rmdir(out), 0);
    CHECK_EQ(rmdir(d), 0);
}

static void test_dir_renamed_itself_is_note_rename(void) {
    char d[256], to[256];
    CHECK_EQ(mkdir(at(d, "rn"), 0755), 0);
    int fd = open_dir(d), kq = watch(fd, EV_CLEAR, NOTE_RENAME);
    CHECK(kq >= 0);
    CHECK_EQ(rename(d, at(to, "rn2")), 0);
    CHECK_EQ(next_notes(kq, 2000), (unsigned)NOTE_RENAME);
    close(fd);
    close(kq);
    CHECK_EQ(rmdir(to), 0);
}

static void test_dir_chmod_chown_utimes_are_note_attrib(void) {
    char d[256];
    CHECK_EQ(mkdir(at(d, "at"), 0755), 0);
    int fd = open_dir(d), kq = watch(fd, EV_CLEAR, ALL_NOTES);
    CHECK(kq >= 0);
    CHECK_EQ(chmod(d, 0700), 0);
    CHECK_EQ(next_notes(kq, 2000), (unsigned)NOTE_ATTRIB);
    CHECK_EQ(chown(d, getuid(), getgid()), 0);
    CHECK_EQ(next_notes(kq, 2000), (unsigned)NOTE_ATTRIB);
    CHECK_EQ(utimes(d, NULL), 0);
    CHECK_EQ(next_notes(kq, 2000), (unsigned)NOTE_ATTRIB);
    close(fd);
    close(kq);
    CHECK_EQ(rmdir(d), 0);
}

/* Several changes before retrieval: one event with all their notes, in
 * either order (the link count is read after both). */
static void test_dir_notes_accumulate(void) {
    char d[256], sub[256];
    CHECK_EQ(mkdir(at(d, "acc"), 0755), 0);
    int fd = open_dir(d), kq = watch(fd, EV_CLEAR, ALL_NOTES);
    CHECK(kq >= 0);
    CHECK_EQ(chmod(d, 0700), 0);
    CHECK_EQ(mkdir(at(sub, "acc/s"), 0755), 0);
    CHECK_EQ(settled_notes(kq), (unsigned)(NOTE_ATTRIB | NOTE_WRITE | NOTE_LINK));
    CHECK_EQ(rmdir(sub), 0);
    CHECK_EQ(chmod(d, 0755), 0);
    CHECK_EQ(settled_notes(kq), (unsigned)(NOTE_ATTRIB | NOTE_WRITE | NOTE_LINK));
    CHECK_EQ(next_notes(kq, 100), 0u);
    close(fd);
    close(kq);
    CHECK_EQ(rmdir(d), 0);
}

/* Changes read by kevent() after the directory is gone keep their notes:
 * BSD posts each change's notes when it happens, and they add up. */
static void test_dir_changes_read_after_its_rmdir_keep_their_notes(void) {
    char d[256], f[256];
    CHECK_EQ(mkdir(at(d, "late"), 0755), 0);
    int ffd = open(at(f, "late/f"), O_WRONLY | O_CREAT, 0600);
    CHECK(ffd >= 0);
    close(ffd);
    int fd = open_dir(d);
    int only_write = watch(fd, EV_CLEAR, NOTE_WRITE), every = watch(fd, EV_CLEAR, ALL_NOTES);
    CHECK(only_write >= 0 && every >= 0);
    CHECK_EQ(unlink(f), 0);
    ms_sleep(50);
    CHECK_EQ(rmdir(d), 0);
    ms_sleep(50);
    CHECK_EQ(next_notes(only_write, 2000), (unsigned)NOTE_WRITE);
    CHECK_EQ(next_notes(every, 2000), (unsigned)(NOTE_WRITE | NOTE_DELETE));
    close(fd);
    close(only_write);
    close(every);
}

/* ---- regular files ------------------------------------------------------ */

static int new_file(char *path, const char *name, int len) {
    int fd = open(at(path, "%s", name), O_RDWR | O_CREAT | O_TRUNC, 0644);
    for (int i = 0; i < len; i++) (void)!write(fd, "x", 1);
    return fd;
}

static void test_file_unlink_is_note_delete_once(void) {
    char f[256];
    int fd = new_file(f, "del", 1), kq = watch(fd, EV_CLEAR, ALL_NOTES);
    CHECK(kq >= 0);
    CHECK_EQ(unlink(f), 0);
    CHECK_EQ(next_notes(kq, 2000), (unsigned)NOTE_DELETE);
    close(fd);                                              /* IN_DELETE_SELF: nothing more */
    CHECK_EQ(next_notes(kq, 200), 0u);
    close(kq);
}

static void test_file_write_extend_truncate(void) {
    char f[256];
    int fd = new_file(f, "wet", 4), kq = watch(fd, EV_CLEAR, ALL_NOTES | NOTE_TRUNCATE);
    CHECK(kq >= 0);
    CHECK_EQ(pwrite(fd, "a", 1, 0), 1);
    CHECK_EQ(next_notes(kq, 2000), (unsigned)NOTE_WRITE);
    CHECK_EQ(pwrite(fd, "a", 1, 10), 1);
    CHECK_EQ(next_notes(kq, 2000), (unsigned)(NOTE_WRITE | NOTE_EXTEND));
    CHECK_EQ(ftruncate(fd, 2), 0);
    CHECK_EQ(next_notes(kq, 2000) & (NOTE_TRUNCATE | NOTE_EXTEND), (unsigned)NOTE_TRUNCATE);
    close(fd);
    close(kq);
    CHECK_EQ(unlink(f), 0);
}

static void test_file_chmod_chown_utimes_are_note_attrib(void) {
    char f[256];
    int fd = new_file(f, "attr", 0), kq = watch(fd, EV_CLEAR, ALL_NOTES);
    CHECK(kq >= 0);
    CHECK_EQ(fchmod(fd, 0600), 0);
    CHECK_EQ(next_notes(kq, 2000), (unsigned)NOTE_ATTRIB);
    CHECK_EQ(fchown(fd, getuid(), getgid()), 0);
    CHECK_EQ(next_notes(kq, 2000), (unsigned)NOTE_ATTRIB);
    CHECK_EQ(futimens(fd, NULL), 0);
    CHECK_EQ(next_notes(kq, 2000), (unsigned)NOTE_ATTRIB);
    close(fd);
    close(kq);
    CHECK_EQ(unlink(f), 0);
}

static void test_file_link_and_rename(void) {
    char f[256], l[256], m[256];
    int fd = new_file(f, "lnk", 0), kq = watch(fd, EV_CLEAR, ALL_NOTES);
    CHECK(kq >= 0);
    CHECK_EQ(link(f, at(l, "lnk2")), 0);
    CHECK_EQ(next_notes(kq, 2000), (unsigned)NOTE_LINK);
    CHECK_EQ(unlink(l), 0);                                 /* a name left: the count changed */
    CHECK_EQ(next_notes(kq, 2000), (unsigned)NOTE_LINK);
    CHECK_EQ(rename(f, at(m, "lnk-moved")), 0);
    CHECK_EQ(next_notes(kq, 2000), (unsigned)NOTE_RENAME);
    close(fd);
    close(kq);
    CHECK_EQ(unlink(m), 0);
}

static void test_file_renamed_over_is_note_delete(void) {
    char f[256], g[256];
    int fd = new_file(f, "target", 0), kq = watch(fd, EV_CLEAR, ALL_NOTES);
    CHECK(kq >= 0);
    close(new_file(g, "replacement", 0));
    CHECK_EQ(rename(g, f), 0);
    CHECK_EQ(next_notes(kq, 2000), (unsigned)NOTE_DELETE);
    close(fd);
    close(kq);
    CHECK_EQ(unlink(f), 0);
}

/* A write queued before a link change does not take the change for its own
 * (and leave the IN_ATTRIB looking like an attribute change). Two unlinks
 * in a row (inotify merges their IN_ATTRIBs) are a link change and the
 * deletion. */
static void test_file_notes_accumulate_without_false_attrib(void) {
    char f[256], l[256];
    int fd = new_file(f, "mix", 0), kq = watch(fd, EV_CLEAR, ALL_NOTES);
    CHECK(kq >= 0);
    CHECK_EQ(write(fd, "ab", 2), 2);
    CHECK_EQ(link(f, at(l, "mix2")), 0);
    CHECK_EQ(settled_notes(kq), (unsigned)(NOTE_WRITE | NOTE_EXTEND | NOTE_LINK));
    CHECK_EQ(write(fd, "c", 1), 1);
    CHECK_EQ(unlink(l), 0);
    CHECK_EQ(unlink(f), 0);
    CHECK_EQ(settled_notes(kq), (unsigned)(NOTE_WRITE | NOTE_EXTEND | NOTE_LINK | NOTE_DELETE));
    close(fd);
    close(kq);
}

/* link(), a write, then the unlinks of both names, all read by one kevent():
 * BSD's notes are NOTE_LINK, NOTE_WRITE, NOTE_EXTEND and NOTE_DELETE, and no
 * NOTE_ATTRIB (no attribute changed). */
static void test_file_link_write_and_both_unlinks_read_together(void) {
    char f[256], l[256];
    int fd = new_file(f, "both", 0), kq = watch(fd, EV_CLEAR, ALL_NOTES);
    CHECK(kq >= 0);
    CHECK_EQ(link(f, at(l, "both2")), 0);
    CHECK_EQ(write(fd, "abc", 3), 3);
    CHECK_EQ(unlink(l), 0);
    CHECK_EQ(unlink(f), 0);
    CHECK_EQ(settled_notes(kq), (unsigned)(NOTE_LINK | NOTE_WRITE | NOTE_EXTEND | NOTE_DELETE));
    close(fd);
    close(kq);
}

int main(void) {
    strcpy(root, "/tmp/bsdshim-vnode-dir-XXXXXX");
    if (!mkdtemp(root)) return 1;
    RUN_FORKED(test_dir_rmdir_is_note_delete_once, 20);
    RUN_FORKED(test_dir_rmdir_with_oneshot, 20);
    RUN_FORKED(test_dir_rmdir_not_asked_for_is_quiet, 20);
    RUN_FORKED(test_dir_rename_then_rmdir_elsewhere, 20);
    RUN_FORKED(test_dir_renamed_over_is_note_delete, 20);
    RUN_FORKED(test_dir_subdirectory_made_and_removed_is_note_link, 20);
    RUN_FORKED(test_dir_files_made_and_removed_are_note_write, 20);
    RUN_FORKED(test_dir_rename_inside_is_note_write_only, 20);
    RUN_FORKED(test_dir_moves_across_directories, 20);
    RUN_FORKED(test_dir_renamed_itself_is_note_rename, 20);
    RUN_FORKED(test_dir_chmod_chown_utimes_are_note_attrib, 20);
    RUN_FORKED(test_dir_notes_accumulate, 20);
    RUN_FORKED(test_dir_changes_read_after_its_rmdir_keep_their_notes, 20);
    RUN_FORKED(test_file_unlink_is_note_delete_once, 20);
    RUN_FORKED(test_file_write_extend_truncate, 20);
    RUN_FORKED(test_file_chmod_chown_utimes_are_note_attrib, 20);
    RUN_FORKED(test_file_link_and_rename, 20);
    RUN_FORKED(test_file_renamed_over_is_note_delete, 20);
    RUN_FORKED(test_file_notes_accumulate_without_false_attrib, 20);
    RUN_FORKED(test_file_link_write_and_both_unlinks_read_together, 20);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    (void)!system(cmd);
    return harness_finish();
}
