/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * sys/event.h: BSD kqueue/kevent for Linux, provided by bsdshim.
 *
 * Binary-compatible with libkqueue 2.x's installed <sys/event.h> on LP64
 * Linux: the same 32-byte struct kevent, the same constant values and the
 * same three exported functions, so a program built against libkqueue runs
 * on libbsdshim.so unchanged (LD_PRELOAD=libbsdshim.so, or relinking).
 *
 * Semantics follow FreeBSD/DragonFly kqueue(2). Where Linux forces a
 * difference it is written next to the constant concerned.
 */
#ifndef _SYS_EVENT_H_
#define _SYS_EVENT_H_

#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/* At file scope: in strict C89/C99, <time.h> need not define it, and a tag
 * first seen in kevent()'s parameter list would be a type of its own. */
struct timespec;

/** Defined as by libkqueue: programs test it to know they run on a Linux kqueue. */
#define LIBKQUEUE 1
/** Defined by bsdshim only: the major/minor/patch version, as 0xMMmmpp. */
#define BSDSHIM_VERSION 0x000100

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------- */
/* Filters (struct kevent.filter)                                            */
/* ------------------------------------------------------------------------- */

/** Descriptor is readable: data = bytes available (listening socket: pending
 *  connections; regular file: bytes from the offset to EOF). */
#define EVFILT_READ      (-1)
/** Descriptor is writable: data = space available in the write buffer. */
#define EVFILT_WRITE     (-2)
/** A file or directory changed; ident is a descriptor of it (anything else:
 *  EINVAL). Follows the open file, not its path (a renamed file keeps
 *  reporting). fflags: the NOTE_* asked for, of NOTE_DELETE, NOTE_WRITE,
 *  NOTE_EXTEND, NOTE_TRUNCATE, NOTE_ATTRIB, NOTE_LINK, NOTE_RENAME. A change
 *  with none of them is not reported; one with any of them is reported with
 *  all the notes it implies, as BSD does (an append watched for NOTE_WRITE
 *  gives NOTE_WRITE|NOTE_EXTEND), accumulated until delivered. On a
 *  directory: NOTE_WRITE when an entry is added, removed or renamed, with
 *  NOTE_LINK when the entry is a subdirectory made, removed, or moved in or
 *  out, and NOTE_EXTEND when it moved in from or out to another directory
 *  (as FreeBSD); NOTE_DELETE on rmdir. Uses one inotify descriptor per
 *  kqueue (ENOSPC when the user's inotify watch limit is reached). */
#define EVFILT_VNODE     (-4)
/** Process event; ident is a pid (one that does not exist: ESRCH).
 *  NOTE_EXIT: delivered once, with EV_EOF and EV_ONESHOT set, when the process
 *  exits; data = its wait(2) status if it is a child of the caller (the child
 *  is not reaped: the program's own wait still sees it), also when the
 *  program reaped it first or, for another process, once its parent has
 *  (Linux 6.15 keeps the status with the pidfd; older kernels: 0). NOTE_FORK / NOTE_EXEC: the process forked / called
 *  exec. NOTE_TRACK: each new child gets a knote of its own (same fflags and
 *  udata) whose first event has NOTE_CHILD and data = the parent's pid;
 *  NOTE_TRACKERR on the parent if a child could not be followed.
 *  NOTE_FORK, NOTE_EXEC and NOTE_TRACK use the kernel's process-events
 *  connector, which needs CAP_NET_ADMIN in the initial namespaces: without it
 *  they are refused with EOPNOTSUPP. EV_CLEAR is implied. */
#define EVFILT_PROC      (-5)
/** Signal sent to the process or any of its threads (kill, raise,
 *  pthread_kill); ident is the signal number (SIGKILL, SIGSTOP, 0 or
 *  >= 65: EINVAL); data = deliveries since the last retrieval; EV_CLEAR is
 *  implied. As on BSD the program's disposition still applies: its handler
 *  still runs, an ignored signal stays ignored (and is counted), the
 *  default action still happens; several kqueues watching one signal all
 *  see it; EV_DELETE of the last knote puts the disposition and the
 *  registering thread's signal mask back.
 *  What Linux forces: the registering thread blocks the signal (so that a
 *  signal the program ignores is kept for us, not discarded); a signal that
 *  no thread can take then waits for kevent(), which applies the program's
 *  disposition in the calling thread; and a classic (non-real-time) signal
 *  sent again while still pending is merged by the kernel, so it counts
 *  once. Real-time signals are all counted. */
#define EVFILT_SIGNAL    (-6)
/** File systems mounted (VQ_MOUNT) or unmounted (VQ_UNMOUNT) in the caller's
 *  mount namespace; ident is any number; EV_CLEAR is implied. (libkqueue
 *  leaves it undefined; the value is DragonFly's and FreeBSD's.) */
#define EVFILT_FS        (-9)
/** Timer; ident is any number chosen by the caller, data = period
 *  (milliseconds unless NOTE_SECONDS/NOTE_USECONDS/NOTE_NSECONDS), or with
 *  NOTE_ABSOLUTE (NOTE_ABSTIME) the time since the Epoch, in that unit, at
 *  which it fires once. On delivery data = expirations since the last
 *  delivery. */
#define EVFILT_TIMER     (-7)
/** User-triggered event; ident is any number chosen by the caller. */
#define EVFILT_USER      (-11)
/** bsdshim (value as on macOS; libkqueue has none): exceptional conditions
 *  on a descriptor; fflags NOTE_OOB: out-of-band data on a TCP socket
 *  (data 1 while the urgent byte is unread). Other fflags, or a descriptor
 *  that is not pollable: EINVAL. */
#define EVFILT_EXCEPT    (-15)
/** libkqueue's control filter (NOTE_VERSION, NOTE_VERSION_STR, ...). */
#define EVFILT_LIBKQUEUE (-12)
/** Number of filters, as libkqueue defines it. */
#define EVFILT_SYSCOUNT  12

/* ------------------------------------------------------------------------- */
/* Actions and flags (struct kevent.flags)                                   */
/* ------------------------------------------------------------------------- */

/** Add the event; if it exists already, modify it (new udata, fflags, data). */
#define EV_ADD       0x0001
/** Delete the event. */
#define EV_DELETE    0x0002
/** Enable the event (deliver it when it triggers). */
#define EV_ENABLE    0x0004
/** Disable the event: it is kept but not delivered until EV_ENABLE. */
#define EV_DISABLE   0x0008
/** Deliver the event once, then delete it. */
#define EV_ONESHOT   0x0010
/** Reset the event's state after it is retrieved (edge-triggered). */
#define EV_CLEAR     0x0020
/** Report the change itself in the event list (EV_ERROR set, data 0 on
 *  success) instead of processing pending events. */
#define EV_RECEIPT   0x0040
/** Disable the event after it is delivered (re-enable with EV_ENABLE). */
#define EV_DISPATCH  0x0080
/** With EV_ADD (or EV_ENABLE/EV_DISABLE) on an existing event: keep its
 *  udata instead of replacing it. (libkqueue has none; FreeBSD's value.) */
#define EV_KEEPUDATA 0x0200
/** Filter-specific flag. */
#define EV_FLAG1     0x2000
/** Flags reserved for the implementation; ignored on input. */
#define EV_SYSFLAGS  0xF000
/** Output: the change failed (data = errno), or EV_RECEIPT acknowledgement. */
#define EV_ERROR     0x4000
/** Output: end of file / peer closed (fflags 0: a socket error stays for getsockopt(SO_ERROR)). */
#define EV_EOF       0x8000

/* ------------------------------------------------------------------------- */
/* EVFILT_USER fflags                                                        */
/* ------------------------------------------------------------------------- */

/** Ignore the input fflags. */
#define NOTE_FFNOP       0x00000000
/** AND the input fflags into the event's fflags. */
#define NOTE_FFAND       0x40000000
/** OR the input fflags into the event's fflags. */
#define NOTE_FFOR        0x80000000
/** Copy the input fflags into the event's fflags. */
#define NOTE_FFCOPY      0xc0000000
/** Mask of the control bits above. */
#define NOTE_FFCTRLMASK  0xc0000000
/** Mask of the user-defined fflags bits. */
#define NOTE_FFLAGSMASK  0x00ffffff
/** Trigger the event (wakes any thread waiting in kevent()). */
#define NOTE_TRIGGER     0x01000000

/* ------------------------------------------------------------------------- */
/* EVFILT_READ / EVFILT_WRITE fflags                                         */
/* ------------------------------------------------------------------------- */

/** data holds a low-water mark: report only when at least that many bytes
 *  are readable (or writable); per knote, as on BSD. */
#define NOTE_LOWAT       0x0001

/* EVFILT_EXCEPT fflags */
/** Out-of-band data arrived (value as on macOS). */
#define NOTE_OOB         0x0002

/* ------------------------------------------------------------------------- */
/* EVFILT_VNODE fflags                                                       */
/* ------------------------------------------------------------------------- */

/** The file's last name was removed (unlink, rmdir, or another file renamed
 *  over it); reported once. */
#define NOTE_DELETE      0x0001
/** The file was written to. */
#define NOTE_WRITE       0x0002
/** The file grew. */
#define NOTE_EXTEND      0x0004
/** The file's attributes changed. */
#define NOTE_ATTRIB      0x0008
/** The file's link count changed (link(), unlink() of one of its names; a
 *  directory: a subdirectory made, removed, moved in or out). */
#define NOTE_LINK        0x0010
/** The file was renamed. */
#define NOTE_RENAME      0x0020
/** The file was truncated. */
#define NOTE_TRUNCATE    0x0080
/* NOTE_REVOKE (0x0040) is not defined on Linux, as in libkqueue: Linux has no
 * revoke(), and inotify reports an unmount (IN_UNMOUNT) only once no
 * descriptor holds the file system, which the watched descriptor does. */

/* ------------------------------------------------------------------------- */
/* EVFILT_PROC fflags                                                        */
/* ------------------------------------------------------------------------- */

/** The process exited (data = wait status). */
#define NOTE_EXIT        0x80000000
/** The process forked. */
#define NOTE_FORK        0x40000000
/** The process called exec(). */
#define NOTE_EXEC        0x20000000
/** Mask of the control bits. */
#define NOTE_PCTRLMASK   0xf0000000
/** Mask of the pid carried in data for NOTE_CHILD. */
#define NOTE_PDATAMASK   0x000fffff
/** Follow fork()s (attach to the children). */
#define NOTE_TRACK       0x00000001
/** Output: could not attach to a child. */
#define NOTE_TRACKERR    0x00000002
/** Output: this event is for a child of a tracked process. */
#define NOTE_CHILD       0x00000004

/* ------------------------------------------------------------------------- */
/* EVFILT_TIMER fflags                                                       */
/* ------------------------------------------------------------------------- */

/* The values are libkqueue's (and macOS's). FreeBSD numbers them otherwise
 * (NOTE_MSECONDS 0x2, NOTE_USECONDS 0x4, NOTE_NSECONDS 0x8, NOTE_ABSTIME
 * 0x10); a FreeBSD program compiled with this header gets these values. */
/** data is in seconds. */
#define NOTE_SECONDS     0x0001
/** data is in milliseconds: the default unit, hence 0 (FreeBSD's 0x0002 is
 *  NOTE_USECONDS here and in libkqueue, so it cannot be used). */
#define NOTE_MSECONDS    0x0000
/** data is in microseconds. */
#define NOTE_USECONDS    0x0002
/** data is in nanoseconds. */
#define NOTE_NSECONDS    0x0004
/** data is an absolute time since the Epoch (CLOCK_REALTIME), in the unit
 *  given; fires once (at once if already past). */
#define NOTE_ABSOLUTE    0x0008
/** FreeBSD's name for NOTE_ABSOLUTE (same meaning; libkqueue's value). */
#define NOTE_ABSTIME     NOTE_ABSOLUTE

/* ------------------------------------------------------------------------- */
/* EVFILT_LIBKQUEUE fflags (libkqueue's control interface)                   */
/* ------------------------------------------------------------------------- */

/** EV_ADD returns the version in data, in libkqueue's encoding 0xMMmmpprr (2.7.0: 0x02070000). */
#define NOTE_VERSION             0x0001
/** EV_ADD returns a pointer to a static version string in udata. */
#define NOTE_VERSION_STR         0x0002
/** Accepted; bsdshim is always thread-safe. */
#define NOTE_THREAD_SAFE         0x0003
/** Accepted; bsdshim always cleans up after fork(). */
#define NOTE_FORK_CLEANUP        0x0004
/** data != 0 enables debug tracing to stderr (also BSDSHIM_DEBUG=1). */
#define NOTE_DEBUG               0x0005
/** Accepted and ignored (bsdshim does not poll files). */
#define NOTE_DEBUG_PREFIX        0x0006
/** Accepted and ignored. */
#define NOTE_DEBUG_FUNC          0x0007
/** Fails with ENOSYS: files are watched with inotify, never polled (as libkqueue on Linux). */
#define NOTE_FILE_POLL_INTERVAL  0x0008

/* ------------------------------------------------------------------------- */
/* EVFILT_NETDEV fflags and EVFILT_FS VQ_* values (defined as in libkqueue)   */
/* ------------------------------------------------------------------------- */

#define NOTE_LINKUP      0x0001 /**< link is up */
#define NOTE_LINKDOWN    0x0002 /**< link is down */
#define NOTE_LINKINV     0x0004 /**< link state is invalid */

#define VQ_NOTRESP       0x0001 /**< server down */
#define VQ_NEEDAUTH      0x0002 /**< server bad auth */
#define VQ_LOWDISK       0x0004 /**< we're low on space */
#define VQ_MOUNT         0x0008 /**< new filesystem arrived */
#define VQ_UNMOUNT       0x0010 /**< filesystem has left */
#define VQ_DEAD          0x0020 /**< filesystem is dead, needs force unmount */
#define VQ_ASSIST        0x0040 /**< filesystem needs assistance from external program */
#define VQ_NOTRESPLOCK   0x0080 /**< server lockd down */

/* ------------------------------------------------------------------------- */
/* struct kevent                                                             */
/* ------------------------------------------------------------------------- */

/**
 * One change (input) or one event (output). 32 bytes, 8-byte aligned on
 * LP64, the classic FreeBSD-11 / macOS / libkqueue layout.
 */
struct kevent {
    uintptr_t      ident;   /**< identifier: fd, pid, signal number, or caller's number */
    short          filter;  /**< EVFILT_* */
    unsigned short flags;   /**< EV_* actions and flags */
    unsigned int   fflags;  /**< filter-specific flags (NOTE_*) */
    intptr_t       data;    /**< filter-specific data */
    void          *udata;   /**< opaque user data, returned unchanged */
};

/** Fill in a struct kevent. */
#define EV_SET(kevp, a, b, c, d, e, f) do {  \
    struct kevent *__kevp = (kevp);          \
    __kevp->ident  = (a);                    \
    __kevp->filter = (b);                    \
    __kevp->flags  = (c);                    \
    __kevp->fflags = (d);                    \
    __kevp->data   = (e);                    \
    __kevp->udata  = (f);                    \
} while (0)

/* ------------------------------------------------------------------------- */
/* Functions                                                                 */
/* ------------------------------------------------------------------------- */

/**
 * Create a new kernel event queue.
 *
 * The descriptor is a real, close-on-exec file descriptor that is readable
 * (poll POLLIN, select, epoll EPOLLIN, EVFILT_READ in another kqueue) while
 * events are pending. It is not inherited usefully across fork(): in the
 * child, kevent() on it fails with EBADF, as on BSD.
 *
 * Returns the descriptor, or -1 with errno set:
 *  - EMFILE / ENFILE: descriptor limit reached;
 *  - ENOMEM: out of memory.
 */
int kqueue(void);

/**
 * Register changes and/or retrieve pending events.
 *
 * @param kq          descriptor returned by kqueue().
 * @param changelist  nchanges changes applied in order (may be NULL if
 *                    nchanges is 0). EV_EOF/EV_ERROR/EV_SYSFLAGS bits in
 *                    their flags are ignored.
 * @param nchanges    number of changes (>= 0).
 * @param eventlist   room for nevents events (may be NULL if nevents is 0;
 *                    may be the same array as changelist).
 * @param nevents     size of eventlist (>= 0).
 * @param timeout     NULL waits indefinitely; {0,0} polls; otherwise the
 *                    maximum relative wait.
 *
 * A change that fails is reported as an EV_ERROR entry in eventlist
 * (data = errno) while room remains, and counted in the return value;
 * when no room remains the call fails with that errno. EV_RECEIPT reports
 * each change with EV_ERROR set and data 0 on success. When any change was
 * reported this way, no pending events are returned by that call.
 *
 * Returns the number of entries placed in eventlist (0 on timeout), or -1
 * with errno set:
 *  - EBADF:  kq is not a kqueue descriptor (or a change names a bad fd);
 *  - EINVAL: nchanges/nevents negative, unknown filter, bad flags, or a
 *            negative / out-of-range timeout;
 *  - ENOENT: EV_DELETE/EV_ENABLE/EV_DISABLE/modify of an unknown event;
 *  - EFAULT: changelist or eventlist NULL with a non-zero count;
 *  - ESRCH:  EVFILT_PROC on a process that does not exist;
 *  - ENOMEM: out of memory;
 *  - EINTR:  a signal arrived before any event or the timeout.
 */
int kevent(int kq, const struct kevent *changelist, int nchanges,
           struct kevent *eventlist, int nevents,
           const struct timespec *timeout);

/**
 * bsdshim extension: tells bsdshim that the program is about to close `fd`
 * (or replace it with dup2/dup3). Every knote on `fd` is deleted and its
 * kernel registration removed, as BSD does on close() — which Linux cannot
 * see by itself when a dup() of the descriptor stays open elsewhere (epoll
 * would keep reporting the file). If `fd` is a kqueue, it is reclaimed and
 * its waiters return EBADF at once. Call it before the real close().
 * libbsdshim-preload.so's close()/dup2()/dup3()/close_range() call it for
 * you; a program linked with libbsdshim can call it from its own close
 * wrapper. Never fails.
 */
void bsdshim_fd_closing(int fd);

/**
 * Exported for compatibility with libkqueue's test hook of the same name.
 * Reclaims every kqueue whose descriptor has been closed and returns when
 * that is done. bsdshim detects closed kqueues itself; programs never need
 * to call this.
 */
void libkqueue_drain_pending_close(void);

#ifdef __cplusplus
}
#endif

#endif /* !_SYS_EVENT_H_ */
