/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * CBSDShimPreload.h: libbsdshim-preload.so, loaded with LD_PRELOAD, gives an
 * unmodified program NetBSD's /dev/dmover.
 *
 * It interposes open, open64, openat, openat64, __open_2, __open64_2,
 * __openat_2, ioctl, read, write, readv, writev, close, dup, dup2, dup3,
 * fcntl, fcntl64 and close_range. open of "/dev/dmover" or
 * "/dev/dmoverio" (however spelt: any path whose last component is one of
 * those names in a directory that is /dev, by stat identity) returns
 * dmover_open(flags) of libbsdshim.so (loaded on
 * first use from the preload library's own directory, then the default
 * search path; ENXIO if it cannot be loaded); on that descriptor ioctl,
 * read, write and close go to dmover_ioctl, dmover_read, dmover_write and
 * dmover_close (NetBSD's exact semantics); readv and writev make one
 * dmover_read or dmover_write of the whole vector (a record may straddle
 * iovecs). poll, select and epoll need no help: the kernel reports the
 * descriptor as NetBSD's dmio_poll does. Every other path and descriptor,
 * and every call made while one of these functions is already running on
 * the thread (the loader, the Swift runtime), goes to the next definition
 * unchanged. Copies made with dup(), dup2(), dup3() or fcntl(F_DUPFD,
 * F_DUPFD_CLOEXEC) are the same session (bsdshim_dmover_duplicated), and a
 * session ends at the close of its last copy. Sessions inherited across
 * exec (found at start-up by their socket's name) give EBADF for read,
 * write and DMIO_SETFUNC. When libbsdshim is loaded, close() first
 * calls bsdshim_fd_closing(fd) (sys/event.h), so kqueue sees every close;
 * dup2()/dup3() call it for the descriptor they replace, close_range() for
 * every open descriptor below 65536 in its range (not with
 * CLOSE_RANGE_CLOEXEC). A /dev/dmover descriptor replaced by dup2/dup3 or
 * closed by close_range is forgotten as a copy of its session
 * (bsdshim_dmover_forget; not in a vfork child, whose memory is the parent's).
 *
 * For kqueue it also interposes sigaction, signal, bsd_signal, sysv_signal,
 * __sysv_signal, siginterrupt and sigignore: once libbsdshim watches a
 * signal (EVFILT_SIGNAL) it takes them through
 * bsdshim_preload_take_sigaction(hook), which returns the next sigaction;
 * for a watched signal they then read and change the disposition
 * libbsdshim's counting handler applies, so every delivery is counted. And
 * getsockopt, recv, recvfrom, recvmsg, send, sendto, sendmsg and connect
 * (with read, readv, write, writev above): when EVFILT_READ/EVFILT_WRITE read
 * a stream socket's pending error for EV_EOF's fflags
 * (bsdshim_preload_socket_error(fd, may_read)), the error is kept and the
 * program's next call that would have returned it returns it, once;
 * close/dup2/dup3/close_range forget it.
 * The library exports nothing else.
 */
#ifndef BSDSHIM_CBSDSHIMPRELOAD_H
#define BSDSHIM_CBSDSHIMPRELOAD_H
#endif
