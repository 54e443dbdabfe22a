/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * signals.c: the signal handler behind EVFILT_SIGNAL. It must be C: a signal
 * handler may run in the middle of anything, and Swift code (reference
 * counting, exclusivity checks, allocation) is not async-signal-safe.
 *
 * The handler counts each delivery, pokes the hub eventfd so every kqueue
 * watching signals looks at the counts, then does what the program asked
 * for that signal (its handler, ignore, or the default action): the
 * program's disposition still applies, as on BSD.
 */
#define _GNU_SOURCE
#include "CBSDShim.h"

#include <stdatomic.h>

#define HIDDEN __attribute__((visibility("hidden")))
#define NSIGNALS 65

/* Deliveries counted per signal, read by the kqueues. */
static _Atomic uint64_t counts[NSIGNALS];
/* The program's disposition, saved when our handler went in. */
static struct sigaction original[NSIGNALS];
static atomic_int installed[NSIGNALS];
static atomic_int hub_fd = -1;

static int default_is_ignore(int sig) {
    return sig == SIGCHLD || sig == SIGURG || sig == SIGWINCH || sig == SIGCONT;
}

static void handler(int sig, siginfo_t *info, void *ctx);

static void install(int sig) {
    struct sigaction ours;
    memset(&ours, 0, sizeof ours);
    ours.sa_sigaction = handler;
    ours.sa_mask = original[sig].sa_mask;
    ours.sa_flags = SA_SIGINFO | (original[sig].sa_flags & (SA_RESTART | SA_ONSTACK | SA_NOCLDSTOP | SA_NOCLDWAIT));
    /* SIGCHLD ignored means "reap my children for me": keep that with a handler. */
    if (sig == SIGCHLD && !(original[sig].sa_flags & SA_SIGINFO) && original[sig].sa_handler == SIG_IGN)
        ours.sa_flags |= SA_NOCLDWAIT;
    sigaction(sig, &ours, NULL);
}

/* Runs the disposition `o` for `sig`. */
static void apply(const struct sigaction *o, int sig, siginfo_t *info, void *ctx) {
    if (o->sa_flags & SA_SIGINFO) {
        if (o->sa_sigaction) o->sa_sigaction(sig, info, ctx);
        return;
    }
    if (o->sa_handler == SIG_IGN) return;
    if (o->sa_handler == SIG_DFL) {
        if (default_is_ignore(sig)) return;
        /* The default action (terminate, core dump, stop): let the kernel do it. */
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        sigaction(sig, &dfl, NULL);
        sigset_t set, old;
        sigemptyset(&set);
        sigaddset(&set, sig);
        pthread_sigmask(SIG_UNBLOCK, &set, &old);
        raise(sig);
        /* Still here: a stop signal, and we were continued. */
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (atomic_load(&installed[sig])) install(sig);
        return;
    }
    o->sa_handler(sig);
}

/* Runs the program's disposition for `sig`, saved when our handler went in. */
static void chain(int sig, siginfo_t *info, void *ctx) {
    apply(&original[sig], sig, info, ctx);
}

static void handler(int sig, siginfo_t *info, void *ctx) {
    int saved = errno;
    if (sig > 0 && sig < NSIGNALS) {
        atomic_fetch_add_explicit(&counts[sig], 1, memory_order_relaxed);
        int fd = atomic_load(&hub_fd);
        uint64_t one = 1;
        if (fd >= 0) (void)!write(fd, &one, sizeof one);
        chain(sig, info, ctx);
    }
    errno = saved;
}

HIDDEN int cbsdshim_signal_watch(int sig, int hub) {
    if (sig <= 0 || sig >= NSIGNALS) { errno = EINVAL; return -1; }
    atomic_store(&hub_fd, hub);
    if (atomic_load(&installed[sig])) return 0;
    if (sigaction(sig, NULL, &original[sig]) != 0) return -1;
    atomic_store(&installed[sig], 1);
    install(sig);
    return 0;
}

HIDDEN void cbsdshim_signal_unwatch(int sig) {
    if (sig <= 0 || sig >= NSIGNALS || !atomic_load(&installed[sig])) return;
    struct sigaction now;
    sigaction(sig, NULL, &now);
    /* Put the program's disposition back, unless it replaced ours meanwhile. */
    if ((now.sa_flags & SA_SIGINFO) && now.sa_sigaction == handler) sigaction(sig, &original[sig], NULL);
    atomic_store(&installed[sig], 0);
}

HIDDEN uint64_t cbsdshim_signal_count(int sig) {
    if (sig <= 0 || sig >= NSIGNALS) return 0;
    return atomic_load_explicit(&counts[sig], memory_order_relaxed);
}

HIDDEN void cbsdshim_signal_consumed(int sig, const struct signalfd_siginfo *ssi, int deliver) {
    if (sig <= 0 || sig >= NSIGNALS) return;
    atomic_fetch_add_explicit(&counts[sig], 1, memory_order_relaxed);
    int fd = atomic_load(&hub_fd);
    uint64_t one = 1;
    if (fd >= 0) (void)!write(fd, &one, sizeof one);
    if (!deliver) return;
    /* It was taken off the pending set, so the program's disposition was not
     * applied: apply it now, in this thread. That is ours (chaining to the one
     * saved) unless the program installed another since (libevent sets
     * SIG_IGN right after registering): then the program's current one. */
    struct sigaction now;
    if (sigaction(sig, NULL, &now) != 0) return;
    siginfo_t info;
    memset(&info, 0, sizeof info);
    info.si_signo = sig;
    info.si_code = ssi->ssi_code;
    info.si_pid = (pid_t)ssi->ssi_pid;
    info.si_uid = (uid_t)ssi->ssi_uid;
    info.si_status = ssi->ssi_status;
    if ((now.sa_flags & SA_SIGINFO) && now.sa_sigaction == handler)
        chain(sig, &info, NULL);
    else
        apply(&now, sig, &info, NULL);
}

HIDDEN void cbsdshim_signal_forget_hub(void) {
    atomic_store(&hub_fd, -1);
}
