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
 * LD_PRELOAD=libbsdshim-preload.so) is a real kernel socket served by a
 * library thread: it works with poll, select, epoll and bsdshim's kevent.
 * Protocol: DMIO_SETFUNC once, then write() dmio_usrreq records and read()
 * dmio_usrresp records (resp_id = req_id; resp_immediate is zeroed on error).
 *
 * Through dmover_read/dmover_write (and through the preload library) the
 * behaviour is NetBSD's: whole records only (else EINVAL), ENXIO before
 * DMIO_SETFUNC, at most DMIO_NREQS_MAX requests written and not yet read
 * (a blocking write waits, a non-blocking one returns EWOULDBLOCK or a short
 * count of whole records), a blocking read fills the whole count. Under the
 * preload library poll() and ppoll() also report POLLOUT as NetBSD's
 * dmio_poll does: only while fewer than DMIO_NREQS_MAX requests are in flight
 * (select and epoll see the socket: "accepts bytes").
 *
 * On the bare descriptor (plain read/write, e.g. after dup()):
 *  - read() returns at least one whole record when asked for whole records
 *    (it does not wait to fill the whole count); POLLIN/EVFILT_READ mean
 *    "a response is ready".
 *  - write() is a byte stream: a partial record waits for its remaining
 *    bytes; a request written before DMIO_SETFUNC is answered with ENXIO.
 *  - The in-flight limit is not applied to plain writes: back-pressure comes
 *    from the socket buffers (a writer that never reads eventually blocks or
 *    gets EWOULDBLOCK, possibly after part of a record), and plain writes and
 *    reads are not counted as in flight. POLLOUT/EPOLLOUT mean "the socket
 *    accepts bytes"; dmover_writable() is the exact test.
 * bsdshim's kevent() reports EVFILT_WRITE on the descriptor exactly while
 * fewer than DMIO_NREQS_MAX requests are in flight (counted through
 * dmover_write/dmover_read or the preload library), with data = the number
 * of requests that can be written now; EV_CLEAR fires on each return to room.
 *  - Responses come in request order (requests run one after another).
 * Everywhere: a request with a bad shape or address is answered with
 * EINVAL/EFAULT for its req_id (the process never faults); a request written
 * by any process other than the opener (fork without exec, SCM_RIGHTS) is
 * answered with EPERM and never touches memory; close() with requests in
 * flight finishes them and frees everything.
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
 * @return a descriptor, or -1 with errno EINVAL, EMFILE, ENFILE, ENOMEM or
 *         EAGAIN (no thread could be started).
 */
int	dmover_open(int flags);

/**
 * dmover_ioctl: the descriptor's ioctl (non-variadic).
 * DMIO_SETFUNC (either encoding) sets the function once; FIONBIO sets or
 * clears O_NONBLOCK; FIOASYNC is accepted and does nothing (as on NetBSD).
 * @return 0, or -1 with errno EBADF (not a dmover descriptor), EFAULT (bad
 *         arg), EBUSY (function already set), ESRCH (unknown function),
 *         ENXIO (no backend registered), ENOMEM, ENOTTY (other cmd).
 */
int	dmover_ioctl(int fd, unsigned long cmd, void *arg);

/**
 * dmover_write: write dmio_usrreq records with NetBSD's semantics.
 * A blocking write waiting for room at the in-flight limit is interrupted,
 * as on NetBSD, by a signal whose handler lacks SA_RESTART (with one, it
 * goes on waiting).
 * @return bytes written (whole records; short when the in-flight limit was
 *         reached and the descriptor is non-blocking or a signal interrupted
 *         the wait), or -1 with errno EBADF, EINVAL (not whole records), ENXIO
 *         (no DMIO_SETFUNC yet), EFAULT (buf unreadable), EWOULDBLOCK
 *         (non-blocking and 64 in flight), EINTR (interrupted before any
 *         record was written), EPIPE.
 */
ssize_t	dmover_write(int fd, const void *buf, size_t nbytes);

/**
 * dmover_read: read dmio_usrresp records with NetBSD's semantics (a blocking
 * read waits until the whole count is filled; a signal whose handler lacks
 * SA_RESTART ends the wait with the whole records read so far, or EINTR if
 * none; with SA_RESTART the wait goes on).
 * @return bytes read (whole records), or -1 with errno EBADF, EINVAL (not
 *         whole records), ENXIO (no DMIO_SETFUNC yet), EFAULT (buf not
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
 * dmover_close: close the descriptor and end its session (copies made with
 * dup() included). A batch being run finishes, requests not yet started are
 * abandoned, and when this returns the session, the serving thread's socket
 * and buffers are released and the caller's memory is no longer touched. In
 * a fork child it closes the child's descriptor only. (A plain close() works
 * too: the requests already written still run, and everything is released
 * once no process holds the descriptor.)
 * @return 0, or -1 with errno EBADF.
 */
int	dmover_close(int fd);

#ifdef __cplusplus
}
#endif

#endif /* BSDSHIM_DEV_DMOVER_DMOVER_IO_H */
