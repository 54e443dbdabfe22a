/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * fdreuse.c: a knote must never deliver events for a different file that got
 * the same descriptor number after the watched one was closed without
 * EV_DELETE; registering the new file works and reports the new udata.
 */
#define _GNU_SOURCE
#include "kq_test.h"

#include <sys/socket.h>
#include <dirent.h>
#include <stdio.h>

#include "kq_preload.h"

static int old_tag, new_tag;

static void test_closed_fd_reused_by_pipe_gives_no_stale_event(void) {
    int kq = kqueue(), p[2];
    CHECK(pipe2(p, O_NONBLOCK) == 0);
    int num = p[0];
    CHECK_EQ(kq_change(kq, p[0], EVFILT_READ, EV_ADD, 0, 0, &old_tag), 0);
    close(p[0]);
    close(p[1]);
    int q[2];
    CHECK(pipe2(q, O_NONBLOCK) == 0);
    CHECK_EQ(q[0], num); /* the same number, a different pipe */
    CHECK_EQ(write(q[1], "new", 3), 3);
    struct kevent ev[4];
    int n = kq_wait(kq, ev, 4, 100);
    for (int i = 0; i < n; i++) CHECK(ev[i].udata != &old_tag);
    CHECK_EQ(n, 0);
    /* Registering the new pipe under the same number works. */
    CHECK_EQ(kq_change(kq, q[0], EVFILT_READ, EV_ADD, 0, 0, &new_tag), 0);
    CHECK_EQ(kq_wait(kq, ev, 4, 3000), 1);
    CHECK_EQ(ev[0].ident, num);
    CHECK(ev[0].udata == &new_tag);
    CHECK_EQ(ev[0].data, 3);
    CHECK_EQ(ev[0].flags & EV_EOF, 0);
    close(q[0]);
    close(q[1]);
    close(kq);
}

static void test_closed_fd_with_pending_data_reused(void) {
    int kq = kqueue(), p[2];
    CHECK(pipe2(p, O_NONBLOCK) == 0);
    int num = p[0];
    CHECK_EQ(kq_change(kq, p[0], EVFILT_READ, EV_ADD, 0, 0, &old_tag), 0);
    CHECK_EQ(write(p[1], "old", 3), 3);
    ms_sleep(10);
    close(p[0]);
    close(p[1]);
    int q[2];
    CHECK(pipe2(q, O_NONBLOCK) == 0);
    CHECK_EQ(q[0], num);
    CHECK_EQ(write(q[1], "newer", 5), 5);
    struct kevent ev[4];
    int n = kq_wait(kq, ev, 4, 100);
    for (int i = 0; i < n; i++) CHECK(ev[i].udata != &old_tag);
    CHECK_EQ(kq_change(kq, q[0], EVFILT_READ, EV_ADD, 0, 0, &new_tag), 0);
    n = kq_wait(kq, ev, 4, 3000);
    CHECK_EQ(n, 1);
    CHECK(ev[0].udata == &new_tag);
    CHECK_EQ(ev[0].data, 5);
    close(q[0]);
    close(q[1]);
    close(kq);
}

static void test_closed_fd_reused_by_socket_write_filter(void) {
    int kq = kqueue(), p[2];
    CHECK(pipe2(p, O_NONBLOCK) == 0);
    /* Write knote on a full pipe: silent. */
    fill_until_full(p[1]);
    CHECK_EQ(kq_change(kq, p[1], EVFILT_WRITE, EV_ADD, 0, 0, &old_tag), 0);
    struct kevent ev[4];
    CHECK_EQ(kq_wait(kq, ev, 4, 20), 0);
    int num = p[1];
    close(p[1]);
    close(p[0]);
    /* The numbers come back as a socketpair, which is writable at once. */
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
    CHECK(sv[0] == num || sv[1] == num);
    int n = kq_wait(kq, ev, 4, 100);
    for (int i = 0; i < n; i++) CHECK(ev[i].udata != &old_tag);
    CHECK_EQ(n, 0);
    CHECK_EQ(kq_change(kq, (uintptr_t)num, EVFILT_WRITE, EV_ADD, 0, 0, &new_tag), 0);
    CHECK_EQ(kq_wait(kq, ev, 4, 3000), 1);
    CHECK(ev[0].udata == &new_tag);
    CHECK(ev[0].data > 0);
    close(sv[0]);
    close(sv[1]);
    close(kq);
}

static void test_delete_after_close_is_harmless(void) {
    int kq = kqueue(), p[2];
    CHECK(pipe2(p, O_NONBLOCK) == 0);
    int num = p[0];
    CHECK_EQ(kq_change(kq, p[0], EVFILT_READ, EV_ADD, 0, 0, &old_tag), 0);
    close(p[0]);
    close(p[1]);
    int q[2];
    CHECK(pipe2(q, O_NONBLOCK) == 0);
    CHECK_EQ(q[0], num);
    /* The old registration went with close(), as on BSD: deleting it is
     * ENOENT, and a registration of the new file made afterwards works. */
    CHECK_ERRNO(kq_change(kq, (uintptr_t)num, EVFILT_READ, EV_DELETE, 0, 0, NULL), ENOENT);
    CHECK_EQ(kq_change(kq, q[0], EVFILT_READ, EV_ADD, 0, 0, &new_tag), 0);
    CHECK_EQ(write(q[1], "x", 1), 1);
    struct kevent ev;
    CHECK_EQ(kq_wait(kq, &ev, 1, 3000), 1);
    CHECK(ev.udata == &new_tag);
    close(q[0]);
    close(q[1]);
    close(kq);
}

static void test_reuse_many_times(void) {
    int kq = kqueue();
    for (int round = 0; round < 200; round++) {
        int p[2];
        CHECK(pipe2(p, O_NONBLOCK) == 0);
        CHECK_EQ(kq_change(kq, p[0], EVFILT_READ, EV_ADD, 0, 0, (void *)(intptr_t)(round + 1)), 0);
        CHECK_EQ(write(p[1], "r", 1), 1);
        struct kevent ev[4];
        int n = kq_wait(kq, ev, 4, 3000);
        CHECK_EQ(n, 1);
        CHECK_EQ((intptr_t)ev[0].udata, round + 1);
        close(p[0]);
        close(p[1]);
    }
    /* None of the closed registrations reports anything afterwards. */
    struct kevent ev[4];
    CHECK_EQ(kq_wait(kq, ev, 4, 50), 0);
    close(kq);
}

static void test_kqueue_fd_reuse_in_other_kqueue(void) {
    /* A watched kqueue descriptor closed and its number reused by a pipe. */
    int outer = kqueue(), inner = kqueue();
    CHECK_EQ(kq_change(outer, inner, EVFILT_READ, EV_ADD, 0, 0, &old_tag), 0);
    int num = inner;
    close(inner);
    int p[2];
    CHECK(pipe2(p, O_NONBLOCK) == 0);
    CHECK(p[0] == num || p[1] == num);
    CHECK_EQ(write(p[1], "x", 1), 1);
    struct kevent ev[4];
    int n = kq_wait(outer, ev, 4, 100);
    for (int i = 0; i < n; i++) CHECK(ev[i].udata != &old_tag);
    close(p[0]);
    close(p[1]);
    close(outer);
}

static void test_close_hook_drops_knotes_even_with_a_dup_open(void) {
    /* What libbsdshim-preload.so's close() does: tell bsdshim first. */
    int kq = kqueue(), p[2];
    CHECK(pipe(p) == 0);
    CHECK_EQ(kq_change(kq, p[0], EVFILT_READ, EV_ADD, 0, 0, NULL), 0);
    int keep = dup(p[0]); /* the file stays open through this dup */
    CHECK(keep >= 0);
    bsdshim_fd_closing(p[0]);
    close(p[0]);
    CHECK_EQ(write(p[1], "x", 1), 1);
    struct kevent ev;
    CHECK_EQ(kq_wait(kq, &ev, 1, 100), 0); /* no event for the closed descriptor */
    /* Not open any more: EBADF, as BSD checks the descriptor first. */
    CHECK_ERRNO(kq_change(kq, p[0], EVFILT_READ, EV_DELETE, 0, 0, NULL), EBADF);
    /* The same number, reused for a new file, starts clean and works. */
    int q = dup(keep);
    CHECK_EQ(q, p[0]);
    CHECK_EQ(kq_change(kq, q, EVFILT_READ, EV_ADD, 0, 0, NULL), 0);
    CHECK_EQ(kq_wait(kq, &ev, 1, 1000), 1);
    CHECK_EQ(ev.ident, q);
    close(q); close(keep); close(p[1]); close(kq);
}

/* Under the preload library, fclose() and closedir() are closes kqueue
 * hears of, though glibc closes their descriptors past close(): with a dup
 * keeping the file open, the knotes still go (BSD's knote_fdclose). */
static void test_fclose_and_closedir_drop_knotes_under_preload(void) {
    if (!kq_under_preload()) return; /* linked: only close() hooks are seen */
    int kq = kqueue(), p[2];
    CHECK(pipe(p) == 0);
    FILE *f = fdopen(p[0], "r");
    CHECK(f != NULL);
    CHECK_EQ(kq_change(kq, fileno(f), EVFILT_READ, EV_ADD, 0, 0, NULL), 0);
    int keep = dup(p[0]);
    CHECK(keep >= 0);
    CHECK_EQ(fclose(f), 0);
    CHECK_EQ(write(p[1], "x", 1), 1);
    struct kevent ev;
    CHECK_EQ(kq_wait(kq, &ev, 1, 100), 0);
    DIR *d = opendir("/");
    CHECK(d != NULL);
    int dfd = dirfd(d);
    CHECK_EQ(kq_change(kq, dfd, EVFILT_VNODE, EV_ADD | EV_CLEAR, NOTE_ATTRIB, 0, NULL), 0);
    CHECK_EQ(closedir(d), 0);
    CHECK_ERRNO(kq_change(kq, dfd, EVFILT_VNODE, EV_DELETE, 0, 0, NULL), EBADF);
    close(keep); close(p[1]); close(kq);
}

static atomic_int hook_waiter_done;
static int hook_waiter_err;
static void *hook_waiter(void *p) {
    int kq = *(int *)p;
    struct kevent ev;
    if (kevent(kq, NULL, 0, &ev, 1, NULL) == -1) hook_waiter_err = errno;
    atomic_store(&hook_waiter_done, 1);
    return NULL;
}

static void test_close_hook_on_a_kqueue_wakes_waiters_at_once(void) {
    static int kq;
    kq = kqueue();
    atomic_store(&hook_waiter_done, 0);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, hook_waiter, &kq), 0);
    ms_sleep(30);
    bsdshim_fd_closing(kq);
    close(kq);
    CHECK(wait_flag(&hook_waiter_done, 1, 200)); /* well before the 250 ms liveness check */
    pthread_join(t, NULL);
    CHECK_EQ(hook_waiter_err, EBADF);
}

/* A knote whose file was closed at EOF, re-added for whatever now has the
 * number: a regular file (epoll refuses it) and then a socket; the old
 * file's EV_EOF and data must not carry over, in either direction. */
static void test_reused_number_changes_kind_of_file(void) {
    int kq = kqueue(), p[2];
    CHECK(pipe(p) == 0);
    int num = p[0];
    CHECK_EQ(kq_change(kq, p[0], EVFILT_READ, EV_ADD, 0, 0, NULL), 0);
    close(p[1]);
    struct kevent ev[4];
    CHECK_EQ(kq_wait(kq, ev, 4, 2000), 1);
    CHECK(ev[0].flags & EV_EOF);
    close(p[0]);
    char path[] = "/tmp/bsdshim-fdreuse-XXXXXX";
    int fd = mkstemp(path);
    CHECK_EQ(fd, num);
    unlink(path);
    CHECK_EQ(write(fd, "12345", 5), 5);
    CHECK_EQ(lseek(fd, 0, SEEK_SET), 0);
    CHECK_EQ(kq_change(kq, fd, EVFILT_READ, EV_ADD, 0, 0, &new_tag), 0);
    CHECK_EQ(kq_wait(kq, ev, 4, 2000), 1);
    CHECK_EQ(ev[0].data, 5);
    CHECK(!(ev[0].flags & EV_EOF));
    CHECK(ev[0].udata == &new_tag);
    close(fd);
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    CHECK(sv[0] == num || sv[1] == num);
    int s = num, peer = sv[0] == num ? sv[1] : sv[0];
    CHECK_EQ(kq_change(kq, s, EVFILT_READ, EV_ADD, 0, 0, &old_tag), 0);
    CHECK_EQ(kq_wait(kq, ev, 4, 100), 0);           /* not "always ready" any more */
    CHECK_EQ(write(peer, "x", 1), 1);
    CHECK_EQ(kq_wait(kq, ev, 4, 2000), 1);
    CHECK_EQ(ev[0].data, 1);
    CHECK(!(ev[0].flags & EV_EOF));
    close(sv[0]); close(sv[1]);
    close(kq);
}

int main(void) {
    RUN(test_close_hook_drops_knotes_even_with_a_dup_open);
    RUN(test_fclose_and_closedir_drop_knotes_under_preload);
    RUN(test_close_hook_on_a_kqueue_wakes_waiters_at_once);
    RUN(test_closed_fd_reused_by_pipe_gives_no_stale_event);
    RUN(test_closed_fd_with_pending_data_reused);
    RUN(test_closed_fd_reused_by_socket_write_filter);
    RUN(test_delete_after_close_is_harmless);
    RUN(test_reuse_many_times);
    RUN(test_reused_number_changes_kind_of_file);
    RUN(test_kqueue_fd_reuse_in_other_kqueue);
    return harness_finish();
}
