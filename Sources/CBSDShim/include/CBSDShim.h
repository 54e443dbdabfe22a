/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * CBSDShim.h: what Swift's Glibc module lacks: epoll/eventfd/timerfd/
 * signalfd declarations, variadic calls (ioctl, fcntl, syscall) as fixed
 * signatures, and CPU feature tests as inline wrappers; the out-of-line
 * parts (shims.c, signals.c, proc_connector.c) are what Swift cannot express:
 * async-signal-safe handlers, the netlink process connector, fork hooks.
 * Never define _GNU_SOURCE here (it breaks the Glibc module's fd_set).
 */
#ifndef CBSDSHIM_H
#define CBSDSHIM_H

#include <stdint.h>
#include <errno.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <sys/signalfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/syscall.h>
#include <sys/resource.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <string.h>
#include <sys/wait.h>
#include <poll.h>

/* The packed 12-byte epoll_event imports fine; these give its constants plain types. */
static const uint32_t cbsdshim_EPOLLIN = EPOLLIN;
static const uint32_t cbsdshim_EPOLLOUT = EPOLLOUT;
static const uint32_t cbsdshim_EPOLLPRI = EPOLLPRI;
static const uint32_t cbsdshim_EPOLLERR = EPOLLERR;
static const uint32_t cbsdshim_EPOLLHUP = EPOLLHUP;
static const uint32_t cbsdshim_EPOLLRDHUP = EPOLLRDHUP;
static const uint32_t cbsdshim_EPOLLET = EPOLLET;
static const uint32_t cbsdshim_EPOLLONESHOT = EPOLLONESHOT;

/** epoll_pwait2 (Linux >= 5.11): nanosecond timeouts; -1/ENOSYS on older kernels. */
static inline int cbsdshim_epoll_pwait2(int epfd, struct epoll_event *events, int maxevents,
                                        const struct timespec *timeout) {
#ifdef SYS_epoll_pwait2
    return (int)syscall(SYS_epoll_pwait2, epfd, events, maxevents, timeout, NULL, (size_t)8);
#else
    errno = ENOSYS;
    return -1;
#endif
}

/** ioctl(fd, req, &int): FIONREAD, SIOCOUTQ, FIONBIO... */
static inline int cbsdshim_ioctl_int(int fd, unsigned long req, int *value) {
    return ioctl(fd, req, value);
}

/** ioctl(fd, req, ptr) with an arbitrary argument pointer. */
static inline int cbsdshim_ioctl_ptr(int fd, unsigned long req, void *arg) {
    return ioctl(fd, req, arg);
}

static inline int cbsdshim_fcntl_int(int fd, int cmd, int arg) { return fcntl(fd, cmd, arg); }
static inline int cbsdshim_fcntl(int fd, int cmd) { return fcntl(fd, cmd); }

static inline pid_t cbsdshim_gettid(void) { return (pid_t)syscall(SYS_gettid); }

/* close(2) as a system call, past any interposed close() (the preload library's). */
static inline int cbsdshim_close_syscall(int fd) { return (int)syscall(SYS_close, fd); }

static inline int cbsdshim_pidfd_open(pid_t pid, unsigned int flags) {
#ifdef SYS_pidfd_open
    return (int)syscall(SYS_pidfd_open, pid, flags);
#else
    errno = ENOSYS;
    return -1;
#endif
}

/* The first published layout of the kernel's struct pidfd_info (64 bytes):
 * PIDFD_GET_INFO fills what the caller's size covers. */
struct cbsdshim_pidfd_info {
    uint64_t mask, cgroupid;
    uint32_t pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid;
    int32_t exit_code;
};
#define CBSDSHIM_PIDFD_GET_INFO _IOWR(0xFF, 11, struct cbsdshim_pidfd_info)
#define CBSDSHIM_PIDFD_INFO_EXIT (1ull << 3)

/**
 * The wait(2)-style status of the exited process behind `pidfd`. A child not
 * yet reaped: waitid (P_PIDFD, WNOWAIT), so the program's own wait still sees
 * it. A process already reaped (by the program before it looked, or by its
 * own parent): the exit status the kernel keeps with the pidfd (Linux 6.15+).
 * Returns 0 and sets *status, or -1 with errno (ECHILD: not our child and the
 * status not available; EAGAIN: still running).
 */
static inline int cbsdshim_pidfd_exit_status(int pidfd, int *status) {
    siginfo_t info;
    memset(&info, 0, sizeof info);
    if (waitid((idtype_t)3 /* P_PIDFD */, (id_t)pidfd, &info, WEXITED | WNOWAIT | WNOHANG) != 0) {
        if (errno != ECHILD) return -1;
        struct cbsdshim_pidfd_info pi;
        memset(&pi, 0, sizeof pi);
        pi.mask = CBSDSHIM_PIDFD_INFO_EXIT;
        if (ioctl(pidfd, CBSDSHIM_PIDFD_GET_INFO, &pi) == 0 && (pi.mask & CBSDSHIM_PIDFD_INFO_EXIT)) {
            *status = pi.exit_code;
            return 0;
        }
        errno = ECHILD;
        return -1;
    }
    if (info.si_pid == 0) { errno = EAGAIN; return -1; }
    switch (info.si_code) {
    case CLD_EXITED: *status = (info.si_status & 0xff) << 8; break;
    case CLD_KILLED: *status = info.si_status & 0x7f; break;
    case CLD_DUMPED: *status = (info.si_status & 0x7f) | 0x80; break;
    default: *status = 0; break;
    }
    return 0;
}

/* --- EVFILT_SIGNAL (signals.c) -------------------------------------------
 * A counting handler is installed for each watched signal; it keeps the
 * program's disposition (read at install time, changed since through the
 * preload library's sigaction()) and pokes the hub eventfd. */
/** Installs the counting handler for `sig` (once) and sets the hub eventfd. */
int cbsdshim_signal_watch(int sig, int hub_fd);
/** 1 when the preload library hands the program's sigaction() calls to us:
 *  then nothing the program does can discard a watched signal. */
int cbsdshim_signal_interposed(void);
/** Restores the program's disposition for `sig` if our handler is still there. */
void cbsdshim_signal_unwatch(int sig);
/** Fork child: restores every watched signal's disposition. */
void cbsdshim_signal_unwatch_all_in_child(void);
/** Deliveries of `sig` counted so far (monotonic). */
uint64_t cbsdshim_signal_count(int sig);
/** Counts an instance read from a signalfd and, when `deliver` is non-zero,
 *  applies the program's disposition to it. */
void cbsdshim_signal_consumed(int sig, const struct signalfd_siginfo *ssi, int deliver);
/** Forgets the hub eventfd (fork child). */
void cbsdshim_signal_forget_hub(void);

/* --- The preload library's help (preload_link.c) -------------------------- */
/** A symbol of the process (the preload library's), or NULL. */
void *cbsdshim_preload_symbol(const char *name);
/** The pending error of socket `fd` as the program will still see it: under
 *  the preload library, read (SO_ERROR) when `may_read` and kept for the
 *  program's getsockopt/recv/send; linked, 0 (Linux cannot read it without
 *  clearing it). */
int cbsdshim_socket_error_peek(int fd, int may_read);

/* --- Process-events connector (proc_connector.c), for NOTE_FORK/EXEC/TRACK -- */
enum { CBSDSHIM_PROC_FORK = 1, CBSDSHIM_PROC_EXEC = 2 };
struct cbsdshim_proc_event {
    int kind;        /* CBSDSHIM_PROC_FORK or CBSDSHIM_PROC_EXEC */
    int pid;         /* the new thread/process (fork) or the one that exec'd */
    int tgid;        /* its process id (tgid); pid != tgid means a new thread */
    int parent_tgid; /* fork: the parent process */
};
/** A non-blocking connector socket subscribed to process events, or -1 with
 *  errno EOPNOTSUPP when the kernel does not permit it (CAP_NET_ADMIN). */
int cbsdshim_proc_connector_open(void);
/** Reads up to max pending fork/exec events; returns how many (0: none). */
int cbsdshim_proc_connector_read(int fd, struct cbsdshim_proc_event *out, int max);

/** Binds AF_UNIX socket fd to the abstract address `name` (a NUL, then
 *  name's bytes): 0, or -1 with errno (EADDRINUSE when taken). */
#include <sys/un.h>
#include <stddef.h>
static inline int cbsdshim_bind_abstract(int fd, const char *name) {
    struct sockaddr_un a;
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    size_t n = strlen(name);
    if (n + 1 > sizeof a.sun_path) { errno = ENAMETOOLONG; return -1; }
    memcpy(a.sun_path + 1, name, n);
    return bind(fd, (struct sockaddr *)&a, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n));
}

/** Request values Swift cannot import as macros with casts. */
static const unsigned long cbsdshim_FIONREAD = FIONREAD;
static const unsigned long cbsdshim_FIONBIO = FIONBIO;
static const unsigned long cbsdshim_FIOASYNC = FIOASYNC;
static const unsigned long cbsdshim_FIOCLEX = FIOCLEX;
static const unsigned long cbsdshim_FIONCLEX = FIONCLEX;
/** _IOW(type, nr, size) as this kernel encodes it (Swift cannot import the macro). */
static inline unsigned long cbsdshim_ioc_write(unsigned int type, unsigned int nr, unsigned long size) {
    return _IOC(_IOC_WRITE, type, nr, size);
}
/** The most iovecs one readv/writev (and one dmio_buffer) may have: UIO_MAXIOV, IOV_MAX. */
static const int cbsdshim_UIO_MAXIOV = UIO_MAXIOV;
static const unsigned long cbsdshim_SIOCOUTQ = 0x5411; /* TIOCOUTQ == SIOCOUTQ */
static const int cbsdshim_F_GETPIPE_SZ = 1032;          /* F_LINUX_SPECIFIC_BASE + 8 */

/*
 * A futex lock (0 free, 1 held, 2 held with waiters; Drepper's "mutex2").
 * Unlike Swift's Mutex it records no owner thread, so a fork child can reset
 * it to 0, and the uncontended path is one CAS to lock and one exchange to
 * unlock, inlined.
 */
void cbsdshim_lock_wait(uint32_t *word);
void cbsdshim_lock_wake(uint32_t *word);
static inline void cbsdshim_lock(uint32_t *word) {
    uint32_t expected = 0;
    if (!__atomic_compare_exchange_n(word, &expected, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
        cbsdshim_lock_wait(word);
}
static inline void cbsdshim_unlock(uint32_t *word) {
    if (__atomic_exchange_n(word, 0, __ATOMIC_RELEASE) == 2) cbsdshim_lock_wake(word);
}

/*
 * The kqueue locks the calling thread holds (or is about to take), innermost
 * last, so that a signal handler calling kevent() learns that the code it
 * interrupted holds its kqueue's lock and must not wait for it (it would
 * wait for itself). Handlers nest, and a handler may hold another kqueue's
 * lock when a second signal comes: every lock held is listed, not only the
 * last. Locks nest deeper than `cbsdshim_held_locks_max` only through
 * handlers interrupting handlers; those beyond it are counted, not listed.
 * Initial-exec TLS: %fs-relative accesses, no __tls_get_addr call. The
 * signal fences keep the compiler from moving the list's updates across the
 * lock's atomics; a handler runs on the same thread, so no CPU fence is needed.
 */
#define cbsdshim_held_locks_max 8
struct cbsdshim_held_locks {
    unsigned depth;
    uint32_t *words[cbsdshim_held_locks_max];
};
extern __thread struct cbsdshim_held_locks cbsdshim_held_kqueue_locks
    __attribute__((tls_model("initial-exec"), visibility("hidden")));
/** Nonzero if this thread holds, or is taking, the lock `word`. */
static inline int cbsdshim_kqueue_lock_held(uint32_t *word) {
    struct cbsdshim_held_locks *h = &cbsdshim_held_kqueue_locks;
    unsigned d = h->depth;
    if (d > cbsdshim_held_locks_max) d = cbsdshim_held_locks_max;
    for (unsigned i = 0; i < d; i++)
        if (h->words[i] == word) return 1;
    return 0;
}
/**
 * Lists `word` as held by this thread, then locks it; returns the depth to
 * give back to the unlock. The depth goes up before the entry is written: a
 * handler coming in between lists its own locks above it, never over it.
 */
static inline unsigned cbsdshim_kqueue_lock(uint32_t *word) {
    struct cbsdshim_held_locks *h = &cbsdshim_held_kqueue_locks;
    unsigned d = h->depth;
    h->depth = d + 1;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    if (d < cbsdshim_held_locks_max) h->words[d] = word;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    cbsdshim_lock(word);
    return d;
}
/**
 * Takes the entry at `depth` (what the lock returned) off the list. The
 * entry is cleared before the depth goes down: a stale entry would make a
 * later handler, coming in while the next lock is being listed, defer to a
 * thread that may already have looked for deferred work. Alone, for a fork
 * child, which resets the lock itself.
 */
static inline void cbsdshim_kqueue_unlist(unsigned depth) {
    struct cbsdshim_held_locks *h = &cbsdshim_held_kqueue_locks;
    if (depth < cbsdshim_held_locks_max) h->words[depth] = NULL;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    h->depth = depth;
}
/** Unlocks `word`, then takes it off the list. */
static inline void cbsdshim_kqueue_unlock(uint32_t *word, unsigned depth) {
    cbsdshim_unlock(word);
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    cbsdshim_kqueue_unlist(depth);
}
/*
 * The kqueue registry's directory (KqueueRegistry.swift): per 2^12 descriptor
 * numbers, the address of their leaf of entries, 0 until made; it covers
 * every non-negative int. A C array rather than a Swift global, which is
 * lazy and costs a once check on each of kevent()'s look-ups; in .bss, so
 * only the pages of numbers in use are ever touched.
 */
#define cbsdshim_kqueue_leaf_shift 12
#define cbsdshim_kqueue_leaf_count ((((uint32_t)INT32_MAX) >> cbsdshim_kqueue_leaf_shift) + 1)
extern uintptr_t cbsdshim_kqueue_directory[cbsdshim_kqueue_leaf_count] __attribute__((visibility("hidden")));
static inline uintptr_t cbsdshim_kqueue_leaf(uint32_t index) {
    return __atomic_load_n(&cbsdshim_kqueue_directory[index], __ATOMIC_ACQUIRE);
}
static inline void cbsdshim_kqueue_set_leaf(uint32_t index, uintptr_t leaf) {
    __atomic_store_n(&cbsdshim_kqueue_directory[index], leaf, __ATOMIC_RELEASE);
}

/**
 * True if the lock is free now, as taking and dropping it would tell, but
 * without ever showing it held: a compare-and-swap of 0 with 0 is a write in
 * the word's order (a plain load is not), so every later locker is ordered
 * after it.
 */
static inline int cbsdshim_lock_is_free(uint32_t *word) {
    uint32_t expected = 0;
    return __atomic_compare_exchange_n(word, &expected, 0, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
}

/** CPU feature tests for run-time kernel selection. */
int cbsdshim_cpu_has_avx2(void);
int cbsdshim_cpu_has_avx512bw(void);
int cbsdshim_cpu_has_sse42(void);
int cbsdshim_cpu_has_pclmul(void);
int cbsdshim_cpu_has_vpclmulqdq(void);
/** Whether this build may use rep movsb/stosb: 0 in sanitizer builds (they do not see inline assembly). */
int cbsdshim_build_allows_rep_strings(void);

/** Install fork handlers (prepare, parent, child) once; the callbacks are Swift @convention(c). */
int cbsdshim_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void));


/* --- dmover: atomics on C int fields (dreq_flags) and futex waits --------- */
#include <linux/futex.h>
static inline int cbsdshim_atomic_load_int(const int *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static inline int cbsdshim_atomic_fetch_or_int(int *p, int v) { return __atomic_fetch_or(p, v, __ATOMIC_ACQ_REL); }
static inline int cbsdshim_atomic_fetch_and_int(int *p, int v) { return __atomic_fetch_and(p, v, __ATOMIC_ACQ_REL); }
static inline int cbsdshim_atomic_fetch_add_int(int *p, int v) { return __atomic_fetch_add(p, v, __ATOMIC_ACQ_REL); }
/** Compare-and-swap; on failure *expected receives the current value. Returns 1 on success. */
static inline int cbsdshim_atomic_cas_int(int *p, int *expected, int desired) {
    return __atomic_compare_exchange_n(p, expected, desired, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}
/** Sleep while *p == expected (spurious returns allowed; callers re-check). */
static inline void cbsdshim_futex_wait(int *p, int expected) {
    (void)syscall(SYS_futex, p, FUTEX_WAIT_PRIVATE, expected, (void *)0, (void *)0, 0);
}
/** Sleeps while *p == expected, as a system call that honours SA_RESTART:
 *  returns 1 if a signal handler without SA_RESTART interrupted it, else 0. */
static inline int cbsdshim_futex_wait_signalled(int *p, int expected) {
    return syscall(SYS_futex, p, FUTEX_WAIT_PRIVATE, expected, (void *)0, (void *)0, 0) != 0 && errno == EINTR;
}
/** Sleeps while *p == expected, woken by any signal whose handler runs,
 *  SA_RESTART or not (a wait with a timeout is not restarted after a
 *  handler: the kernel's restart block gives EINTR). Returns 1 if a handler
 *  ran, else 0 (woken, spurious, or the day-long timeout passed). */
static inline int cbsdshim_futex_wait_any_signal(int *p, int expected) {
    struct timespec day = {86400, 0};
    return syscall(SYS_futex, p, FUTEX_WAIT_PRIVATE, expected, &day, (void *)0, 0) != 0 && errno == EINTR;
}
/** Wake every thread sleeping on p. */
static inline void cbsdshim_futex_wake_all(int *p) {
    (void)syscall(SYS_futex, p, FUTEX_WAKE_PRIVATE, 0x7fffffff, (void *)0, (void *)0, 0);
}
/** Names the calling thread (visible in ps/top/gdb; truncated to 15 bytes). */
#include <sys/prctl.h>
static inline void cbsdshim_set_thread_name(const char *name) { (void)prctl(PR_SET_NAME, name, 0, 0, 0); }
/** Number of online CPUs (at least 1). */
static inline int cbsdshim_ncpus(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)n;
}
/** CPUs this process may run on (its affinity mask: taskset, cgroup cpusets),
 *  at least 1; the online count if the mask cannot be read. The raw system
 *  call: glibc's CPU_COUNT needs _GNU_SOURCE. */
static inline int cbsdshim_cpus_allowed(void) {
    unsigned long mask[8192 / (8 * sizeof(unsigned long))];
    long bytes = syscall(SYS_sched_getaffinity, 0, sizeof mask, mask);
    if (bytes <= 0) return cbsdshim_ncpus();
    int n = 0;
    for (long i = 0; i < bytes / (long)sizeof(unsigned long); i++) n += __builtin_popcountl(mask[i]);
    return n > 0 ? n : 1;
}

/* --- dmover descriptor: client memory without faulting, open-flag names --- */
#include <sys/mman.h>
#include <sys/uio.h>
/** process_vm_readv/writev on our own process (glibc declares them only under
 *  _GNU_SOURCE): a bad address is -1/EFAULT, never a fault. */
static inline ssize_t cbsdshim_process_vm_readv(pid_t pid, const struct iovec *local, unsigned long nlocal,
                                                const struct iovec *remote, unsigned long nremote) {
    return (ssize_t)syscall(SYS_process_vm_readv, pid, local, nlocal, remote, nremote, 0UL);
}
static inline ssize_t cbsdshim_process_vm_writev(pid_t pid, const struct iovec *local, unsigned long nlocal,
                                                 const struct iovec *remote, unsigned long nremote) {
    return (ssize_t)syscall(SYS_process_vm_writev, pid, local, nlocal, remote, nremote, 0UL);
}
/** Probes for client memory, one cheap system call each (no page-table walk
 *  set-up as madvise has), that change nothing and keep errno. Each returns
 *  1 if the kernel could access the bytes, 0 if it got EFAULT, -1 if the
 *  call answered otherwise (then the probe is not usable here).
 *  Read: rt_sigprocmask copies the 8-byte new set in from p (EFAULT if any
 *  byte is unreadable; 8 bytes straddling a page boundary prove both pages)
 *  and only then rejects the invalid `how` with EINVAL, mask unchanged. */
static inline int cbsdshim_probe_read8(const void *p) {
    int saved = errno;
    long r = syscall(SYS_rt_sigprocmask, -1, p, (void *)0, 8UL);
    int e = errno;
    errno = saved;
    return r == -1 && e == EINVAL ? 1 : r == -1 && e == EFAULT ? 0 : -1;
}
/** Write: FUTEX_WAKE_OP adds 0 to the aligned int at p atomically in the
 *  kernel (a racing writer loses nothing; a copy-on-write page is broken as
 *  a write would; EFAULT if the page cannot be written). The waker's word is
 *  private to the probe; a waiter on p itself may see a spurious wake-up,
 *  which futex users must allow anyway (only if *p == 2047, the comparison). */
static inline int cbsdshim_probe_write4(void *p) {
    static int nobody_waits;
    int saved = errno;
    long r = syscall(SYS_futex, &nobody_waits, FUTEX_WAKE_OP_PRIVATE, 0, (void *)0, p,
                     FUTEX_OP(FUTEX_OP_ADD, 0, FUTEX_OP_CMP_EQ, 2047));
    int e = errno;
    errno = saved;
    return r >= 0 ? 1 : e == EFAULT ? 0 : -1;
}
/* Linux 5.14's prefault advice (older headers lack the names). */
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
static const int cbsdshim_MADV_POPULATE_READ = MADV_POPULATE_READ;
static const int cbsdshim_MADV_POPULATE_WRITE = MADV_POPULATE_WRITE;
/* O_PATH and O_TMPFILE need _GNU_SOURCE; glibc always defines their __ forms. */
static const int cbsdshim_O_PATH = __O_PATH;
static const int cbsdshim_O_TMPFILE = __O_TMPFILE;

#endif /* CBSDSHIM_H */
