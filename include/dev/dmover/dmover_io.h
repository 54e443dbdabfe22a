/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * dmover_io.h: NetBSD's /dev/dmover user interface (dmoverio(4)) on Linux:
 * the record structs and ioctl, plus bsdshim's entry points for a descriptor.
 *
 * The structs have NetBSD's names, fields, order and LP64 sizes (dmio_usrreq
 * 40 bytes, dmio_usrresp 16), so NetBSD programs recompile unchanged.
 *
 * A descriptor from dmover_open() (or from open("/dev/dmover") under
 * LD_PRELOAD=libbsdshim-preload.so) is a real kernel descriptor (an AF_UNIX
 * datagram socket) whose readiness the kernel reports exactly as NetBSD's
 * dmio_poll: readable while completed responses wait, writable while fewer
 * than DMIO_NREQS_MAX requests are in flight (written and not read). poll,
 * ppoll, select, pselect, epoll and bsdshim's kevent all agree; kevent's
 * EVFILT_READ data is the bytes of responses ready, EVFILT_WRITE data the
 * number of requests that can be written now.
 * Protocol: DMIO_SETFUNC once, then write dmio_usrreq records and read
 * dmio_usrresp records (resp_id = req_id; resp_immediate is zeroed on error).
 *
 * Requests go in through dmover_write() (the preload library's write(),
 * writev() and the linked_compat pattern call it) and responses come out
 * through dmover_read() (read(), readv() under the preload). The behaviour
 * is NetBSD's: whole records only (else EINVAL), ENXIO before DMIO_SETFUNC,
 * at most DMIO_NREQS_MAX requests in flight (a blocking write waits, a
 * non-blocking one returns EWOULDBLOCK or a short count of whole records), a
 * blocking read fills the whole count. Each request is copied in and run
 * before dmover_write() returns: its record, input array and iovec arrays
 * may be reused or freed at once; only the data buffers are the library's
 * until then (NetBSD lets a request complete any time before its response
 * is read). Responses come in request order.
 *
 * A plain write() on a descriptor from dmover_open() in a program that is
 * not run under the preload library fails at once with EPIPE (no SIGPIPE):
 * nothing is accepted that could be read after the call returned. Such a
 * program calls dmover_write()/dmover_read() (or dmover_ioctl, dmover_close),
 * or runs under LD_PRELOAD=libbsdshim-preload.so, where plain calls work.
 * A plain read() there is not the interface either: it returns 0 and no
 * response. The same holds for plain calls on copies made with dup() and in
 * processes that received the descriptor over a socket.
 *
 * Copies (dup, dup2, dup3, fcntl F_DUPFD/F_DUPFD_CLOEXEC) are the same open
 * file, as on NetBSD: one session, each response read once, the session
 * ending at the last close. Under the preload library every such copy is
 * known; a linked program's copy joins at its first dmover_* call
 * (recognised by fstat identity), and the session ends when the last copy
 * the library knows of is closed. A descriptor inherited across exec names
 * no session in the new program: EBADF (see dmoverio(4)).
 *
 * Everywhere: a request with a bad shape or address is answered with
 * EINVAL/EFAULT for its req_id (the process never faults); a request written
 * by a fork child of the opener is answered with EPERM and never touches
 * memory; close() with requests in flight is safe (they have already run).
 */
#ifndef BSDSHIM_DEV_DMOVER_DMOVER_IO_H
#define BSDSHIM_DEV_DMOVER_DMOVER_IO_H

#include <stdint.h>
#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

/** One buffer: dmbuf_iovcnt iovecs (0 for the output = no output buffer). */
typedef struct {
	struct iovec	*dmbuf_iov;
	unsigned int	 dmbuf_iovcnt;
} dmio_buffer;

/** A request record, written to the descriptor. */
struct dmio_usrreq {
	dmio_buffer	 req_outbuf;		/* output buffer */
	uint8_t		 req_immediate[8];	/* immediate operand (in, out or both) */
	dmio_buffer	*req_inbuf;		/* array of dses_ninputs input buffers */
	uint32_t	 req_id;		/* returned in resp_id */
};

/** A response record, read from the descriptor. */
struct dmio_usrresp {
	uint32_t	 resp_id;		/* req_id of the request */
	int		 resp_error;		/* 0, or an errno value */
	uint8_t		 resp_immediate[8];	/* result immediate (zero on error) */
};

#define DMIO_MAX_FUNCNAME	64
/** DMIO_SETFUNC argument: the function name, e.g. "copy" (dsf_name[63] is forced to NUL). */
struct dmio_setfunc {
	char		 dsf_name[DMIO_MAX_FUNCNAME];
};

/** Choose the session's function (Linux encoding; NetBSD's value is accepted too). */
#define DMIO_SETFUNC		_IOW('D', 0, struct dmio_setfunc)
/** NetBSD's encoding of DMIO_SETFUNC (IOC_IN | 64 << 16 | 'D' << 8 | 0). */
#define DMIO_SETFUNC_NETBSD	0x80404400UL
/** Requests written and not yet read, at most (NetBSD's DMIO_NREQS_MAX). */
#define DMIO_NREQS_MAX		64

/**
 * dmover_open: open a dmover session descriptor (what open("/dev/dmover")
 * gives on NetBSD). Close it with close() or dmover_close().
 * @param flags  open(2) flags: O_NONBLOCK and O_CLOEXEC are honoured;
 *               O_DIRECTORY, O_PATH and O_TMPFILE give EINVAL; the rest
 *               (access mode, O_NOCTTY, ...) is ignored.
 * @return a descriptor, or -1 with errno EINVAL, EMFILE, ENFILE or ENOMEM.
 */
int	dmover_open(int flags);

/**
 * dmover_ioctl: the descriptor's ioctl (non-variadic).
 * DMIO_SETFUNC (either encoding) sets the function once; FIONBIO sets or
 * clears O_NONBLOCK; FIOASYNC is accepted and does nothing (as on NetBSD);
 * FIOCLEX and FIONCLEX set and clear the descriptor's close-on-exec, as for
 * every file.
 * @return 0, or -1 with errno EBADF (not a dmover descriptor), EFAULT (bad
 *         arg), EBUSY (function already set), ESRCH (unknown function),
 *         ENXIO (no backend registered), ENOMEM, ENOTTY (other cmd).
 */
int	dmover_ioctl(int fd, unsigned long cmd, void *arg);

/**
 * dmover_write: write dmio_usrreq records with NetBSD's semantics; each is
 * copied in and run before the call returns (its response is then ready).
 * A blocking write waiting for room at the in-flight limit ends, as on
 * NetBSD (ERESTART from its sleep, turned into a short count by
 * dofilewrite), when a signal handler runs: having written some records it
 * returns their count whatever the handler's SA_RESTART; having written
 * none it fails with EINTR without SA_RESTART and goes on waiting with it.
 * @return bytes written (whole records; short when the in-flight limit was
 *         reached and the descriptor is non-blocking or a signal interrupted
 *         the wait), or -1 with errno EBADF, EINVAL (not whole records, or
 *         nbytes above SSIZE_MAX), ENXIO
 *         (no DMIO_SETFUNC yet), EFAULT (buf unreadable), EWOULDBLOCK
 *         (non-blocking and 64 in flight), EINTR (interrupted before any
 *         record was written).
 */
ssize_t	dmover_write(int fd, const void *buf, size_t nbytes);

/**
 * dmover_read: read dmio_usrresp records with NetBSD's semantics (a blocking
 * read waits until the whole count is filled). A signal handler that runs
 * during the wait ends it as for dmover_write: with the whole records read
 * so far if there are some (SA_RESTART or not), else with EINTR without
 * SA_RESTART; with SA_RESTART and nothing read the wait goes on.
 * @return bytes read (whole records), or -1 with errno EBADF, EINVAL (not
 *         whole records, or nbytes above SSIZE_MAX), ENXIO (no DMIO_SETFUNC yet), EFAULT (buf not
 *         writable), EWOULDBLOCK (non-blocking and none ready), EINTR.
 */
ssize_t	dmover_read(int fd, void *buf, size_t nbytes);

/**
 * dmover_writable: 1 if fewer than DMIO_NREQS_MAX requests are in flight on
 * the descriptor (a write would not block), 0 if not.
 * @return 1, 0, or -1 with errno EBADF.
 */
int	dmover_writable(int fd);

/**
 * dmover_close: close the descriptor; closing the session's last known
 * descriptor (see copies above) ends the session: a batch being run in
 * another thread finishes first; when this returns the session and the
 * library's socket end are released and the caller's memory is no longer
 * touched. In a fork child it closes the
 * child's descriptor only. (A plain close() works too: the requests written
 * have already run, and the library's end is released when the number is
 * next used by dmover_open() or any dmover_* call.)
 * @return 0, or -1 with errno EBADF.
 */
int	dmover_close(int fd);

#ifdef __cplusplus
}
#endif

#endif /* BSDSHIM_DEV_DMOVER_DMOVER_IO_H */
