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
 * program's disposition still applies, as on BSD. The program's disposition
 * is kept here while ours is installed; under the preload library the
 * program's sigaction() calls for a watched signal read and change this copy
 * (cbsdshim_signal_program_action), so ours stays in place and nothing the
 * program does can make the kernel discard a delivery.
 */
#define _GNU_SOURCE
#include "CBSDShim.h"

#include <sched.h>
#include <stdatomic.h>

#define HIDDEN __attribute__((visibility("hidden")))
#define NSIGNALS 65

/* Deliveries counted per signal, read by the kqueues. */
static _Atomic uint64_t counts[NSIGNALS];
/* The program's disposition per watched signal. Written with the signal's
 * sequence odd (writer_begin), by one writer at a time, with every signal
 * blocked in the writing thread; the handler copies it until it reads the
 * same even sequence before and after (read_program). */
static struct sigaction program[NSIGNALS];
static atomic_uint sequence[NSIGNALS];
static atomic_int installed[NSIGNALS];
static atomic_int hub_fd = -1;

/* The kernel's sigaction: libc's, past the preload library's interposer when
 * it is loaded (set once, before the first signal is watched). */
static int (*kernel_sigaction)(int, const struct sigaction *, struct sigaction *) = sigaction;
static atomic_int interposed;
static pthread_once_t link_once = PTHREAD_ONCE_INIT;

static int default_is_ignore(int sig) {
    return sig == SIGCHLD || sig == SIGURG || sig == SIGWINCH || sig == SIGCONT;
}

static void handler(int sig, siginfo_t *info, void *ctx);

/* Takes the writer's side of `sig`'s disposition; every signal stays blocked
 * in this thread until writer_end, so a handler never waits for a writer it
 * interrupted. */
static void writer_begin(int sig, sigset_t *saved) {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, saved);
    for (;;) {
        unsigned s = atomic_load_explicit(&sequence[sig], memory_order_relaxed);
        if (!(s & 1) && atomic_compare_exchange_weak_explicit(&sequence[sig], &s, s + 1, memory_order_acquire,
                                                              memory_order_relaxed))
            return;
        sched_yield();
    }
}

static void writer_end(int sig, const sigset_t *saved) {
    atomic_fetch_add_explicit(&sequence[sig], 1, memory_order_release);
    pthread_sigmask(SIG_SETMASK, saved, NULL);
}

/* A consistent copy of the program's disposition for `sig`. */
static void read_program(int sig, struct sigaction *out) {
    for (;;) {
        unsigned before = atomic_load_explicit(&sequence[sig], memory_order_acquire);
        if (before & 1) {
            sched_yield(); /* the writer may be a preempted thread on this CPU */
            continue;
        }
        memcpy(out, &program[sig], sizeof *out);
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&sequence[sig], memory_order_relaxed) == before) return;
    }
}

static int is_handler(void (*fn)(int)) { return fn != SIG_DFL && fn != SIG_IGN; }

/* Puts our handler in, with the mask and the flags of the program's `o`
 * (SA_RESTART decides whether the program's system calls restart). The
 * kernel tells SIG_IGN and SIG_DFL by the handler's value whatever
 * SA_SIGINFO says (sa_handler and sa_sigaction share storage), and so do we.
 * An ignored (or default-ignored) signal interrupts nothing without us, so
 * our handler restarts the calls it interrupts then. */
static int install(int sig, const struct sigaction *o) {
    struct sigaction ours;
    memset(&ours, 0, sizeof ours);
    ours.sa_sigaction = handler;
    ours.sa_mask = o->sa_mask;
    ours.sa_flags = SA_SIGINFO | (o->sa_flags & (SA_RESTART | SA_ONSTACK | SA_NOCLDSTOP | SA_NOCLDWAIT | SA_NODEFER));
    if (!is_handler(o->sa_handler)) ours.sa_flags |= SA_RESTART;
    /* SIGCHLD ignored means "reap my children for me": keep that with a handler. */
    if (sig == SIGCHLD && o->sa_handler == SIG_IGN) ours.sa_flags |= SA_NOCLDWAIT;
    return kernel_sigaction(sig, &ours, NULL);
}

/* The disposition to apply for one delivery. A handler the program set with
 * SA_RESETHAND runs once, then the default applies: done here, since ours
 * stays installed. */
static void take_program(int sig, struct sigaction *out) {
    read_program(sig, out);
    int one_shot = (out->sa_flags & SA_RESETHAND) && is_handler(out->sa_handler);
    if (!one_shot) return;
    sigset_t saved;
    writer_begin(sig, &saved);
    memcpy(out, &program[sig], sizeof *out);
    if (out->sa_flags & SA_RESETHAND) {
        program[sig].sa_handler = SIG_DFL;
        program[sig].sa_flags &= ~(SA_SIGINFO | SA_RESETHAND);
    }
    writer_end(sig, &saved);
}

/* Runs the disposition `o` for `sig`. */
static void apply(const struct sigaction *o, int sig, siginfo_t *info, void *ctx) {
    if (o->sa_handler == SIG_IGN) return;
    if (o->sa_handler == SIG_DFL) {
        if (default_is_ignore(sig)) return;
        /* The default action (terminate, core dump, stop): let the kernel do it. */
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        kernel_sigaction(sig, &dfl, NULL);
        sigset_t set, old;
        sigemptyset(&set);
        sigaddset(&set, sig);
        pthread_sigmask(SIG_UNBLOCK, &set, &old);
        raise(sig);
        /* Still here: a stop signal, and we were continued. */
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (atomic_load(&installed[sig])) {
            struct sigaction now;
            read_program(sig, &now);
            install(sig, &now);
        }
        return;
    }
    if (o->sa_flags & SA_SIGINFO)
        o->sa_sigaction(sig, info, ctx);
    else
        o->sa_handler(sig);
}

static void count(int sig) {
    atomic_fetch_add_explicit(&counts[sig], 1, memory_order_relaxed);
    int fd = atomic_load(&hub_fd);
    uint64_t one = 1;
    if (fd >= 0) (void)!write(fd, &one, sizeof one);
}

static void handler(int sig, siginfo_t *info, void *ctx) {
    int saved = errno;
    if (sig > 0 && sig < NSIGNALS) {
        count(sig);
        struct sigaction o;
        take_program(sig, &o);
        apply(&o, sig, info, ctx);
    }
    errno = saved;
}

/* The program's sigaction() under the preload library: a watched signal's
 * disposition is the copy kept here (ours stays installed, with the new mask
 * and flags); any other goes to the kernel. */
static int program_action(int sig, const struct sigaction *act, struct sigaction *old) {
    if (sig <= 0 || sig >= NSIGNALS) return kernel_sigaction(sig, act, old);
    sigset_t saved;
    writer_begin(sig, &saved);
    int r = 0, e = errno;
    if (atomic_load(&installed[sig])) {
        struct sigaction next;
        if (act) next = *act; /* `act` and `old` may be one struct */
        if (old) *old = program[sig];
        if (act) {
            if (install(sig, &next) == 0) {
                program[sig] = next;
            } else {
                r = -1;
                e = errno;
            }
        }
    } else {
        r = kernel_sigaction(sig, act, old);
        e = errno;
    }
    writer_end(sig, &saved);
    errno = e;
    return r;
}

/* Once: when the preload library is loaded, it hands us the program's
 * sigaction() calls and gives us the kernel's. */
static void link_preload(void) {
    typedef int (*action_fn)(int, const struct sigaction *, struct sigaction *);
    action_fn (*take)(action_fn) = (action_fn (*)(action_fn))cbsdshim_preload_symbol("bsdshim_preload_take_sigaction");
    if (take == NULL) return;
    action_fn real = take(program_action);
    if (real != NULL) {
        kernel_sigaction = real;
        atomic_store(&interposed, 1);
    }
}

HIDDEN int cbsdshim_signal_interposed(void) {
    pthread_once(&link_once, link_preload);
    return atomic_load(&interposed);
}

HIDDEN int cbsdshim_signal_watch(int sig, int hub) {
    if (sig <= 0 || sig >= NSIGNALS) { errno = EINVAL; return -1; }
    pthread_once(&link_once, link_preload);
    atomic_store(&hub_fd, hub);
    sigset_t saved;
    writer_begin(sig, &saved);
    int r = 0, e = 0;
    if (!atomic_load(&installed[sig])) {
        if (kernel_sigaction(sig, NULL, &program[sig]) != 0) {
            r = -1;
            e = errno;
        } else if (install(sig, &program[sig]) == 0) {
            atomic_store(&installed[sig], 1);
        }
        /* Else SIGKILL or SIGSTOP, which no handler can take: watched (as on
         * BSD) but never counted, and the program's sigaction() for it still
         * reaches the kernel (EINVAL). */
    }
    writer_end(sig, &saved);
    if (r != 0) errno = e;
    return r;
}

/* Puts the program's disposition back in the kernel, unless (linked, no
 * preload) the program replaced ours meanwhile. Writer held. */
static void restore(int sig) {
    struct sigaction now;
    kernel_sigaction(sig, NULL, &now);
    if ((now.sa_flags & SA_SIGINFO) && now.sa_sigaction == handler) kernel_sigaction(sig, &program[sig], NULL);
    atomic_store(&installed[sig], 0);
}

HIDDEN void cbsdshim_signal_unwatch(int sig) {
    if (sig <= 0 || sig >= NSIGNALS || !atomic_load(&installed[sig])) return;
    sigset_t saved;
    writer_begin(sig, &saved);
    if (atomic_load(&installed[sig])) restore(sig);
    writer_end(sig, &saved);
}

HIDDEN void cbsdshim_signal_unwatch_all_in_child(void) {
    /* A parent thread that no longer exists may have been writing: nobody is now. */
    for (int sig = 1; sig < NSIGNALS; sig++) atomic_store(&sequence[sig], 0);
    for (int sig = 1; sig < NSIGNALS; sig++) cbsdshim_signal_unwatch(sig);
}

HIDDEN uint64_t cbsdshim_signal_count(int sig) {
    if (sig <= 0 || sig >= NSIGNALS) return 0;
    return atomic_load_explicit(&counts[sig], memory_order_relaxed);
}

HIDDEN void cbsdshim_signal_consumed(int sig, const struct signalfd_siginfo *ssi, int deliver) {
    if (sig <= 0 || sig >= NSIGNALS) return;
    count(sig);
    if (!deliver) return;
    /* It was taken off the pending set, so the program's disposition was not
     * applied: apply it now, in this thread. That is the one kept here while
     * ours is installed, else (linked: libevent sets SIG_IGN right after
     * registering) the program's current one. */
    struct sigaction now;
    if (kernel_sigaction(sig, NULL, &now) != 0) return;
    siginfo_t info;
    memset(&info, 0, sizeof info);
    info.si_signo = sig;
    info.si_code = ssi->ssi_code;
    info.si_pid = (pid_t)ssi->ssi_pid;
    info.si_uid = (uid_t)ssi->ssi_uid;
    info.si_status = ssi->ssi_status;
    if ((now.sa_flags & SA_SIGINFO) && now.sa_sigaction == handler) take_program(sig, &now);
    apply(&now, sig, &info, NULL);
}

HIDDEN void cbsdshim_signal_forget_hub(void) {
    atomic_store(&hub_fd, -1);
}
