/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * layout.c: struct kevent's layout and every constant equal libkqueue 2.7's
 * installed header (the table in shared design notes kqueue-abi.md).
 */
#include <stddef.h>
#include <sys/event.h>

#include "harness.h"

static void test_struct_kevent_layout_matches_libkqueue(void) {
    CHECK_EQ(sizeof(struct kevent), 32);
    CHECK_EQ(_Alignof(struct kevent), 8);
    CHECK_EQ(offsetof(struct kevent, ident), 0);
    CHECK_EQ(sizeof(((struct kevent *)0)->ident), 8);
    CHECK_EQ(offsetof(struct kevent, filter), 8);
    CHECK_EQ(sizeof(((struct kevent *)0)->filter), 2);
    CHECK_EQ(offsetof(struct kevent, flags), 10);
    CHECK_EQ(sizeof(((struct kevent *)0)->flags), 2);
    CHECK_EQ(offsetof(struct kevent, fflags), 12);
    CHECK_EQ(sizeof(((struct kevent *)0)->fflags), 4);
    CHECK_EQ(offsetof(struct kevent, data), 16);
    CHECK_EQ(sizeof(((struct kevent *)0)->data), 8);
    CHECK_EQ(offsetof(struct kevent, udata), 24);
    CHECK_EQ(sizeof(((struct kevent *)0)->udata), 8);
}

static void test_filter_values_match_libkqueue(void) {
    CHECK_EQ(EVFILT_READ, -1);
    CHECK_EQ(EVFILT_WRITE, -2);
    CHECK_EQ(EVFILT_VNODE, -4);
    CHECK_EQ(EVFILT_PROC, -5);
    CHECK_EQ(EVFILT_SIGNAL, -6);
    CHECK_EQ(EVFILT_TIMER, -7);
    CHECK_EQ(EVFILT_USER, -11);
    CHECK_EQ(EVFILT_LIBKQUEUE, -12);
    CHECK_EQ(EVFILT_SYSCOUNT, 12);
#ifdef EVFILT_AIO
    CHECK(!"EVFILT_AIO is not defined by libkqueue");
#endif
#ifdef EVFILT_NETDEV
    CHECK(!"EVFILT_NETDEV is not defined by libkqueue");
#endif
#ifdef EVFILT_LIO
    CHECK(!"EVFILT_LIO is not defined by libkqueue");
#endif
}

static void test_flag_values_match_libkqueue(void) {
    CHECK_EQ(EV_ADD, 0x0001);
    CHECK_EQ(EV_DELETE, 0x0002);
    CHECK_EQ(EV_ENABLE, 0x0004);
    CHECK_EQ(EV_DISABLE, 0x0008);
    CHECK_EQ(EV_ONESHOT, 0x0010);
    CHECK_EQ(EV_CLEAR, 0x0020);
    CHECK_EQ(EV_RECEIPT, 0x0040);
    CHECK_EQ(EV_DISPATCH, 0x0080);
    CHECK_EQ(EV_FLAG1, 0x2000);
    CHECK_EQ(EV_SYSFLAGS, 0xF000);
    CHECK_EQ(EV_ERROR, 0x4000);
    CHECK_EQ(EV_EOF, 0x8000);
}

static void test_note_values_match_libkqueue(void) {
    CHECK_EQ(NOTE_FFNOP, 0x00000000u);
    CHECK_EQ(NOTE_FFAND, 0x40000000u);
    CHECK_EQ(NOTE_FFOR, 0x80000000u);
    CHECK_EQ(NOTE_FFCOPY, 0xc0000000u);
    CHECK_EQ(NOTE_FFCTRLMASK, 0xc0000000u);
    CHECK_EQ(NOTE_FFLAGSMASK, 0x00ffffffu);
    CHECK_EQ(NOTE_TRIGGER, 0x01000000u);
    CHECK_EQ(NOTE_LOWAT, 0x0001);
    CHECK_EQ(NOTE_DELETE, 0x0001);
    CHECK_EQ(NOTE_WRITE, 0x0002);
    CHECK_EQ(NOTE_EXTEND, 0x0004);
    CHECK_EQ(NOTE_ATTRIB, 0x0008);
    CHECK_EQ(NOTE_LINK, 0x0010);
    CHECK_EQ(NOTE_RENAME, 0x0020);
    CHECK_EQ(NOTE_TRUNCATE, 0x0080);
#ifdef NOTE_REVOKE
    CHECK(!"NOTE_REVOKE is #undef'd on Linux by libkqueue");
#endif
    CHECK_EQ(NOTE_EXIT, 0x80000000u);
    CHECK_EQ(NOTE_FORK, 0x40000000u);
    CHECK_EQ(NOTE_EXEC, 0x20000000u);
    CHECK_EQ(NOTE_PCTRLMASK, 0xf0000000u);
    CHECK_EQ(NOTE_PDATAMASK, 0x000fffffu);
    CHECK_EQ(NOTE_TRACK, 0x00000001u);
    CHECK_EQ(NOTE_TRACKERR, 0x00000002u);
    CHECK_EQ(NOTE_CHILD, 0x00000004u);
    CHECK_EQ(NOTE_SECONDS, 0x0001);
    CHECK_EQ(NOTE_USECONDS, 0x0002);
    CHECK_EQ(NOTE_NSECONDS, 0x0004);
    CHECK_EQ(NOTE_ABSOLUTE, 0x0008);
    CHECK_EQ(NOTE_VERSION, 0x0001);
    CHECK_EQ(NOTE_VERSION_STR, 0x0002);
    CHECK_EQ(NOTE_THREAD_SAFE, 0x0003);
    CHECK_EQ(NOTE_FORK_CLEANUP, 0x0004);
    CHECK_EQ(NOTE_DEBUG, 0x0005);
    CHECK_EQ(NOTE_DEBUG_PREFIX, 0x0006);
    CHECK_EQ(NOTE_DEBUG_FUNC, 0x0007);
    CHECK_EQ(NOTE_FILE_POLL_INTERVAL, 0x0008);
    CHECK_EQ(NOTE_LINKUP, 0x0001);
    CHECK_EQ(NOTE_LINKDOWN, 0x0002);
    CHECK_EQ(NOTE_LINKINV, 0x0004);
}

static void test_vq_values_match_libkqueue(void) {
    CHECK_EQ(VQ_NOTRESP, 0x01);
    CHECK_EQ(VQ_NEEDAUTH, 0x02);
    CHECK_EQ(VQ_LOWDISK, 0x04);
    CHECK_EQ(VQ_MOUNT, 0x08);
    CHECK_EQ(VQ_UNMOUNT, 0x10);
    CHECK_EQ(VQ_DEAD, 0x20);
    CHECK_EQ(VQ_ASSIST, 0x40);
    CHECK_EQ(VQ_NOTRESPLOCK, 0x80);
    CHECK_EQ(LIBKQUEUE, 1);
}

static void test_extensions_use_macos_values(void) {
    /* What libkqueue lacks, bsdshim defines with the value macOS uses. */
    CHECK_EQ(EVFILT_EXCEPT, -15);
    CHECK_EQ(EVFILT_FS, -9); /* the value libkqueue's table lists, left undefined there */
    CHECK_EQ(NOTE_OOB, 0x0002);
}

static void test_ev_set_fills_every_field(void) {
    struct kevent kev;
    memset(&kev, 0xff, sizeof kev);
    int x;
    EV_SET(&kev, 42, EVFILT_USER, EV_ADD | EV_CLEAR, NOTE_FFCOPY | 7, -3, &x);
    CHECK_EQ(kev.ident, 42);
    CHECK_EQ(kev.filter, EVFILT_USER);
    CHECK_EQ(kev.flags, EV_ADD | EV_CLEAR);
    CHECK_EQ(kev.fflags, NOTE_FFCOPY | 7);
    CHECK_EQ(kev.data, -3);
    CHECK(kev.udata == &x);
    /* EV_SET evaluates its first argument once. */
    struct kevent arr[2];
    struct kevent *p = arr;
    EV_SET(p++, 1, EVFILT_READ, EV_ADD, 0, 0, NULL);
    CHECK(p == arr + 1);
}

int main(void) {
    RUN(test_struct_kevent_layout_matches_libkqueue);
    RUN(test_filter_values_match_libkqueue);
    RUN(test_flag_values_match_libkqueue);
    RUN(test_note_values_match_libkqueue);
    RUN(test_vq_values_match_libkqueue);
    RUN(test_extensions_use_macos_values);
    RUN(test_ev_set_fills_every_field);
    return harness_finish();
}
