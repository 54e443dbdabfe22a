/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * fuzz_kevent.c: arbitrary change lists and event-list sizes against kqueues
 * holding real pipes, sockets, an eventfd, a file, timers, signals, process
 * and user events. The input is a little program: each step either calls
 * kevent() (changes built from the bytes, counts and lists sometimes invalid),
 * makes descriptors ready or not, raises a watched signal, or replaces the
 * kqueue. Every call uses a zero (or invalid) timeout, so nothing may block.
 * Checked: no crash or sanitizer report, results within the event list, and
 * every returned event names a filter that exists.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/event.h>
#include <unistd.h>
#include "fuzz_input.h"

enum { EVENTS = 4096, MAXCHANGES = 64 };

static int kq = -1, kq2 = -1;
static int pipefd[2], sock[2], udp, efd, file, devnull;
static struct kevent changes[MAXCHANGES];
static struct kevent events[EVENTS];

static void on_signal(int sig) { (void)sig; }

static void setup(void) {
    /* Signals the fuzzer raises or watches must never end the process. */
    signal(SIGUSR1, on_signal);
    signal(SIGUSR2, on_signal);
    signal(SIGPIPE, SIG_IGN);
    FUZZ_ASSERT(pipe2(pipefd, O_NONBLOCK | O_CLOEXEC) == 0);
    FUZZ_ASSERT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sock) == 0);
    /* Small buffers: filling the socket until it would block (a step below)
     * then costs a few kilobytes of copying, not a few hundred. */
    int small = 4096;
    for (int i = 0; i < 2; i++) {
        FUZZ_ASSERT(setsockopt(sock[i], SOL_SOCKET, SO_SNDBUF, &small, sizeof small) == 0);
        FUZZ_ASSERT(setsockopt(sock[i], SOL_SOCKET, SO_RCVBUF, &small, sizeof small) == 0);
    }
    udp = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    char path[] = "/tmp/bsdshim-fuzz-XXXXXX";
    file = mkstemp(path);
    FUZZ_ASSERT(file >= 0);
    unlink(path);
    devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
}

static uintptr_t pick_ident(fuzz_input *in, short filter) {
    uint8_t sel = fuzz_u8(in);
    if (filter == EVFILT_USER || filter == EVFILT_TIMER) return sel % 32;
    if (filter == EVFILT_SIGNAL) {
        static const int sigs[] = {SIGUSR1, SIGUSR2, SIGCHLD, SIGWINCH, SIGURG, 0, 65, -1, SIGKILL};
        return (uintptr_t)(intptr_t)sigs[sel % (sizeof sigs / sizeof sigs[0])];
    }
    if (filter == EVFILT_PROC) {
        const intptr_t pids[] = {getpid(), 1, 0, -1, INT_MAX, getppid()};
        return (uintptr_t)pids[sel % (sizeof pids / sizeof pids[0])];
    }
    const intptr_t fds[] = {pipefd[0], pipefd[1], sock[0], sock[1], udp, efd, file, devnull,
                            kq, kq2, -1, 4000, INT_MAX, (intptr_t)1 << 40, 0};
    return (uintptr_t)fds[sel % (sizeof fds / sizeof fds[0])];
}

static void build_change(fuzz_input *in, struct kevent *ch) {
    static const short filters[] = {EVFILT_READ, EVFILT_WRITE, EVFILT_VNODE, EVFILT_PROC, EVFILT_SIGNAL,
                                    EVFILT_FS, EVFILT_TIMER, EVFILT_USER, EVFILT_EXCEPT, EVFILT_LIBKQUEUE,
                                    0, -3, -8, -100, 1, SHRT_MIN};
    short filter = FUZZ_PICK(in, filters);
    uintptr_t ident = pick_ident(in, filter);
    unsigned short flags = fuzz_u16(in);
    uint32_t fflags = fuzz_u32(in);
    int64_t data = (int32_t)fuzz_u32(in);
    if (fuzz_u8(in) == 0xff) data = (int64_t)fuzz_u64(in);
    /* The control filter switches process-wide settings (debug output, fork
     * handling); only its read-only queries are fuzzed. */
    if (filter == EVFILT_LIBKQUEUE) fflags = (fflags & 1) ? NOTE_VERSION : NOTE_VERSION_STR;
    EV_SET(ch, ident, filter, flags, fflags, data, (void *)(uintptr_t)fuzz_u8(in));
}

static void call_kevent(fuzz_input *in) {
    uint8_t shape = fuzz_u8(in);
    int nchanges = fuzz_u8(in) % (MAXCHANGES + 1);
    for (int i = 0; i < nchanges; i++) build_change(in, &changes[i]);
    int nevents = fuzz_u8(in) % 80;
    const struct kevent *cl = changes;
    struct kevent *el = events;
    switch (shape % 12) {
    case 0: nchanges = -1; break;
    case 1: nevents = -1; break;
    case 2: nevents = INT_MAX; break;   /* more room than events: must not be allocated up front */
    case 3: nevents = EVENTS; break;
    case 4: if (nchanges) cl = NULL; break;
    case 5: if (nevents) el = NULL; break;
    case 6: nchanges = INT_MIN; break;
    case 7: nchanges = INT_MAX; cl = NULL; break;
    default: break;
    }
    struct timespec ts = {0, 0};
    const struct timespec *tp = &ts;
    switch ((shape >> 4) % 4) {
    case 1: ts.tv_nsec = -1; break;
    case 2: ts.tv_nsec = 1000000000; break;
    case 3: ts.tv_sec = -1; break;
    default: break;
    }
    int target = (shape & 0x80) ? kq2 : kq;
    int r = kevent(target, cl, nchanges, el, nevents, tp);
    if (r < 0) return;
    FUZZ_ASSERT(r <= nevents && r <= EVENTS);
    for (int i = 0; i < r; i++) {
        short f = events[i].filter;
        FUZZ_ASSERT(f == EVFILT_READ || f == EVFILT_WRITE || f == EVFILT_VNODE || f == EVFILT_PROC ||
                    f == EVFILT_SIGNAL || f == EVFILT_FS || f == EVFILT_TIMER || f == EVFILT_USER ||
                    f == EVFILT_EXCEPT || f == EVFILT_LIBKQUEUE || (events[i].flags & EV_ERROR));
    }
}

static void drain(int fd) {
    char buf[4096];
    while (read(fd, buf, sizeof buf) > 0) {}
}

static int one_input(fuzz_input *in) {
    for (int steps = 0; fuzz_more(in) && steps < 64; steps++) {
        uint8_t op = fuzz_u8(in);
        switch (op % 10) {
        case 0: case 1: case 2: call_kevent(in); break;
        case 3: (void)!write(pipefd[1], "x", 1); (void)!write(sock[1], "y", 1); break;
        case 4: drain(pipefd[0]); drain(sock[0]); drain(sock[1]); break;
        case 5: { uint64_t one = 1; (void)!write(efd, &one, sizeof one); (void)!write(file, "z", 1); } break;
        case 6: drain(efd); (void)!ftruncate(file, 0); break;
        case 7: raise((op & 0x10) ? SIGUSR1 : SIGUSR2); break;
        case 8: close(kq); kq = kqueue(); FUZZ_ASSERT(kq >= 0); break;   /* also closes with knotes in it */
        case 9: { /* fill the socket until it would block, then read some back */
            static char big[16384];
            while (write(sock[0], big, sizeof big) > 0) {}
            (void)!read(sock[1], big, sizeof big);
        } break;
        }
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int ready;
    if (!ready) { setup(); ready = 1; }
    fuzz_input in = {data, size};
    /* Every input starts from the same state (fresh kqueues, nothing pending),
     * so that a crash or hang found reproduces from its input alone. */
    drain(pipefd[0]); drain(sock[0]); drain(sock[1]); drain(efd);
    FUZZ_ASSERT(ftruncate(file, 0) == 0);
    kq = kqueue();
    kq2 = kqueue();
    FUZZ_ASSERT(kq >= 0 && kq2 >= 0);
    one_input(&in);
    close(kq);
    close(kq2);
    return 0;
}
