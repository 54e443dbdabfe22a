/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * proc_connector.c: the kernel's process-events connector (netlink), for
 * EVFILT_PROC's NOTE_FORK / NOTE_EXEC / NOTE_TRACK. Only the netlink framing
 * is here; what the events mean for knotes is decided in Swift.
 */
#define _GNU_SOURCE
#include "CBSDShim.h"

#include <stddef.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <poll.h>

#define HIDDEN __attribute__((visibility("hidden")))

/* Copies the proc_event of a message into *ev: the kernel places it 4 bytes
 * off an 8-byte boundary (after a 16-byte nlmsghdr and a 20-byte cn_msg), so
 * reading it in place would be a misaligned access. Short events are
 * zero-filled; one without even the event header gives -1. */
static int event_of(const struct nlmsghdr *nh, struct proc_event *ev) {
    memset(ev, 0, sizeof *ev);
    size_t payload = NLMSG_PAYLOAD(nh, 0);
    if (payload < sizeof(struct cn_msg)) return -1;
    const struct cn_msg *cm = NLMSG_DATA(nh);
    size_t n = payload - sizeof(struct cn_msg);
    if (n > cm->len) n = cm->len;
    if (n < offsetof(struct proc_event, event_data)) return -1;
    memcpy(ev, cm->data, n < sizeof *ev ? n : sizeof *ev);
    return 0;
}

static int send_op(int fd, int op, unsigned seq, unsigned ack) {
    char buf[NLMSG_SPACE(sizeof(struct cn_msg) + sizeof(int))];
    memset(buf, 0, sizeof buf);
    struct nlmsghdr *nh = (struct nlmsghdr *)buf;
    nh->nlmsg_len = sizeof buf;
    nh->nlmsg_type = NLMSG_DONE;
    nh->nlmsg_pid = 0;
    struct cn_msg *cm = NLMSG_DATA(nh);
    cm->id.idx = CN_IDX_PROC;
    cm->id.val = CN_VAL_PROC;
    cm->seq = seq;
    cm->ack = ack;
    cm->len = sizeof(int);
    memcpy(cm->data, &op, sizeof op);
    return send(fd, buf, sizeof buf, 0) == (ssize_t)sizeof buf ? 0 : -1;
}

HIDDEN int cbsdshim_proc_connector_open(void) {
    int fd = socket(PF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_CONNECTOR);
    if (fd < 0) return -1;
    struct sockaddr_nl addr;
    memset(&addr, 0, sizeof addr);
    addr.nl_family = AF_NETLINK;
    addr.nl_groups = CN_IDX_PROC;
    /* The kernel multicasts its acknowledgement to every listener of the
     * group, so another process subscribing at the same moment would be
     * acknowledged to us too: ours carries our ack + 1. (Not our seq: the
     * kernel's send path overwrites every message's seq with a per-CPU
     * counter, so matching on it missed every acknowledgement.) */
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    unsigned seq = (unsigned)getpid(), ack = (unsigned)now.tv_nsec ^ ((unsigned)fd << 20);
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || send_op(fd, PROC_CN_MCAST_LISTEN, seq, ack) != 0) {
        cbsdshim_close_syscall(fd);
        errno = EOPNOTSUPP;
        return -1;
    }
    /* The kernel acknowledges a permitted subscription; without the privilege
     * (CAP_NET_ADMIN in the initial namespaces) it refuses or stays silent. */
    for (int tries = 0; tries < 50; tries++) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 250) <= 0) break;
        char buf[4096] __attribute__((aligned(8)));
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        for (struct nlmsghdr *nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, (size_t)n); nh = NLMSG_NEXT(nh, n)) {
            struct proc_event e, *ev = &e;
            if (event_of(nh, ev) != 0) continue;
            const struct cn_msg *cm = NLMSG_DATA(nh);
            if (ev->what == PROC_EVENT_NONE && cm->ack == ack + 1) {
                if (ev->event_data.ack.err == 0) return fd;
                cbsdshim_close_syscall(fd);
                errno = EOPNOTSUPP;
                return -1;
            }
        }
    }
    cbsdshim_close_syscall(fd);
    errno = EOPNOTSUPP;
    return -1;
}

HIDDEN int cbsdshim_proc_connector_read(int fd, struct cbsdshim_proc_event *out, int max) {
    int count = 0;
    char buf[8192] __attribute__((aligned(8)));
    while (count < max) {
        ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n <= 0) break;
        for (struct nlmsghdr *nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, (size_t)n) && count < max;
             nh = NLMSG_NEXT(nh, n)) {
            struct proc_event e, *ev = &e;
            if (event_of(nh, ev) != 0) continue;
            struct cbsdshim_proc_event *o = &out[count];
            memset(o, 0, sizeof *o);
            if (ev->what == PROC_EVENT_FORK) {
                o->kind = CBSDSHIM_PROC_FORK;
                o->pid = ev->event_data.fork.child_pid;
                o->tgid = ev->event_data.fork.child_tgid;
                o->parent_tgid = ev->event_data.fork.parent_tgid;
                count++;
            } else if (ev->what == PROC_EVENT_EXEC) {
                o->kind = CBSDSHIM_PROC_EXEC;
                o->pid = ev->event_data.exec.process_pid;
                o->tgid = ev->event_data.exec.process_tgid;
                count++;
            }
        }
    }
    return count;
}
