/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * dmovervar.h: NetBSD's dmover(9) data-mover API in user space: sessions,
 * requests, pluggable backends and the function names of the software backend.
 *
 * Same names, fields and semantics as NetBSD's <dev/dmover/dmovervar.h>, so
 * kernel-style client and backend code ports by recompiling. Differences:
 *  - struct uio is the minimal user-space equivalent (uio_iov, uio_iovcnt,
 *    uio_resid); a UIO buffer is the first uio_resid bytes of its iovecs.
 *  - dmover_backend_register/unregister return an errno value (NetBSD: void,
 *    and unregister panics when the backend has sessions; here EBUSY).
 *  - dmover_session_destroy with requests still in flight does not panic: the
 *    session is released when its last request completes.
 *  - Callbacks run on a library-owned completion thread (NetBSD: a softint),
 *    never on the submitter's stack, one at a time, in completion order.
 *  - DMOVER_FUNC_COPY_CRC32C and DMOVER_FUNC_COMPARE are additions, and so
 *    are DMOVER_FUNC_XOR9..XOR16 as working functions: NetBSD declares the
 *    names but no backend of its implements them (ESRCH there).
 * Libraries functions are thread-safe.
 */
#ifndef BSDSHIM_DEV_DMOVER_DMOVERVAR_H
#define BSDSHIM_DEV_DMOVER_DMOVERVAR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/queue.h>

#ifdef __cplusplus
extern "C" {
#endif

/* --- buffers ----------------------------------------------------------- */

#ifndef BSDSHIM_STRUCT_UIO_DEFINED
#define BSDSHIM_STRUCT_UIO_DEFINED
/** Scatter/gather buffer (Linux has no struct uio): uio_resid bytes spread over uio_iov[0..uio_iovcnt). */
struct uio {
	struct iovec	*uio_iov;	/* segments */
	int		 uio_iovcnt;	/* number of segments, 0..IOV_MAX */
	size_t		 uio_resid;	/* bytes in the buffer (<= sum of iov_len) */
};
#endif

/** How a buffer is described. All inputs of one request share one type. */
typedef enum {
	DMOVER_BUF_NONE		= 0,	/* no buffer (e.g. CRC output) */
	DMOVER_BUF_LINEAR	= 1,	/* one contiguous region */
	DMOVER_BUF_UIO		= 2	/* a struct uio */
} dmover_buffer_type;

/** A contiguous buffer. */
typedef struct {
	void	*l_addr;
	size_t	 l_len;
} dmover_buf_linear;

/** A buffer of either shape; dreq_*buf_type says which member is valid. */
typedef union {
	dmover_buf_linear	 dmbuf_linear;
	struct uio		*dmbuf_uio;
} dmover_buffer;

/* --- algorithms -------------------------------------------------------- */

/** An algorithm (function) a backend implements. */
struct dmover_algdesc {
	const char	*dad_name;	/* function name, e.g. DMOVER_FUNC_COPY */
	void		*dad_data;	/* backend-private description */
	int		 dad_ninputs;	/* number of input buffers */
};

/** The backend and algorithm a session was assigned at creation. */
struct dmover_backend;
struct dmover_assignment {
	struct dmover_backend		*das_backend;
	const struct dmover_algdesc	*das_algdesc;
};

/* Function names (NetBSD: extern const char[]; here string literals). */
#define DMOVER_FUNC_ZERO		"zero"		/* 0 inputs */
#define DMOVER_FUNC_FILL8		"fill8"		/* 0 inputs, pattern in dreq_immediate[0] */
#define DMOVER_FUNC_COPY		"copy"		/* 1 input */
#define DMOVER_FUNC_ISCSI_CRC32C	"iscsi-crc32c"	/* 1 input, no output; CRC in/out in the immediate */
#define DMOVER_FUNC_COPY_CRC32C		"copy-crc32c"	/* 1 input; copy + CRC as iscsi-crc32c */
#define DMOVER_FUNC_COMPARE		"compare"	/* 2 inputs, no output; immediate = 0 or 1 + first difference */
#define DMOVER_FUNC_XOR2		"xor2"
#define DMOVER_FUNC_XOR3		"xor3"
#define DMOVER_FUNC_XOR4		"xor4"
#define DMOVER_FUNC_XOR5		"xor5"
#define DMOVER_FUNC_XOR6		"xor6"
#define DMOVER_FUNC_XOR7		"xor7"
#define DMOVER_FUNC_XOR8		"xor8"
#define DMOVER_FUNC_XOR9		"xor9"
#define DMOVER_FUNC_XOR10		"xor10"
#define DMOVER_FUNC_XOR11		"xor11"
#define DMOVER_FUNC_XOR12		"xor12"
#define DMOVER_FUNC_XOR13		"xor13"
#define DMOVER_FUNC_XOR14		"xor14"
#define DMOVER_FUNC_XOR15		"xor15"
#define DMOVER_FUNC_XOR16		"xor16"

/* --- sessions ---------------------------------------------------------- */

/** A client's handle on one function, bound to one backend for its life. */
struct dmover_session {
	/* public */
	void	*dses_cookie;		/* for the client */
	int	 dses_ninputs;		/* inputs of the function */
	/* private */
	struct dmover_assignment __dses_assignment;
	void	*__dses_impl;		/* library state */
};

/* --- requests ---------------------------------------------------------- */

/** One operation: outputs, inputs, immediate, completion. */
struct dmover_request {
	TAILQ_ENTRY(dmover_request) dreq_sesq;	/* private: session queue link */
	TAILQ_ENTRY(dmover_request) dreq_dmbq;	/* backend queue / completion queue link */
	struct dmover_session		*dreq_session;
	struct dmover_assignment	*dreq_assignment;	/* valid while queued or running */
	void	(*dreq_callback)(struct dmover_request *);
	void	*dreq_cookie;			/* for the client */
	volatile int	 dreq_flags;		/* DMOVER_REQ_* */
	int		 dreq_error;		/* errno, valid if DMOVER_REQ_ERROR */
	uint8_t		 dreq_immediate[8];	/* immediate in/out, least-significant byte first */
	dmover_buffer_type	 dreq_outbuf_type;
	dmover_buffer		 dreq_outbuf;
	dmover_buffer_type	 dreq_inbuf_type;	/* one type for all inputs */
	dmover_buffer		*dreq_inbuf;		/* array of dses_ninputs buffers */
};

#define DMOVER_REQ_DONE		0x0001	/* request is completed */
#define DMOVER_REQ_ERROR	0x0002	/* error occurred; see dreq_error */
#define DMOVER_REQ_RUNNING	0x0004	/* request is being executed */
#define DMOVER_REQ_WAIT		0x0008	/* dmover_process waits for completion */
#define __DMOVER_REQ_INBUF_FREE	0x01000000	/* private: inbuf array is the library's */
#define __DMOVER_REQ_QUEUED	0x02000000	/* private: submitted and not yet done */
#define __DMOVER_REQ_FLAGS_PRESERVE (DMOVER_REQ_WAIT | __DMOVER_REQ_INBUF_FREE)

/* --- backends ---------------------------------------------------------- */

/**
 * A data-mover implementation. The owner fills dmb_name, dmb_speed,
 * dmb_cookie, dmb_algdescs, dmb_nalgdescs and dmb_process, then calls
 * dmover_backend_register(); the library owns the rest.
 *
 * dmb_process(dmb) is called from dmover_process() after a request was
 * appended to dmb_pendreqs, with the backend's queue lock held (the user-space
 * splbio): inside it the backend may take requests with TAILQ_FIRST() and
 * dmover_backend_remque(), exactly as in NetBSD. From any other thread use
 * dmover_backend_dequeue(). The backend completes each request with
 * dmover_done(), from any thread, also from inside dmb_process.
 * (NetBSD's dmb_list and dmb_sessions lists are library-internal here.)
 */
struct dmover_backend {
	const char	*dmb_name;		/* name of the backend */
	unsigned int	 dmb_speed;		/* estimated KB/s; higher wins */
	void		*dmb_cookie;		/* for the backend */
	const struct dmover_algdesc *dmb_algdescs;
	int		 dmb_nalgdescs;
	void		(*dmb_process)(struct dmover_backend *);
	int		 dmb_nsessions;		/* sessions assigned (read-only) */
	TAILQ_HEAD(, dmover_request) dmb_pendreqs;	/* submitted, not yet taken */
	int		 dmb_npendreqs;
	void		*__dmb_impl;		/* library state */
};

/** Append/remove a request on the backend queue; only under the queue lock (inside dmb_process). */
#define dmover_backend_insque(dmb, dreq)					\
do {									\
	TAILQ_INSERT_TAIL(&(dmb)->dmb_pendreqs, (dreq), dreq_dmbq);	\
	(dmb)->dmb_npendreqs++;						\
} while (/*CONSTCOND*/0)
#define dmover_backend_remque(dmb, dreq)					\
do {									\
	TAILQ_REMOVE(&(dmb)->dmb_pendreqs, (dreq), dreq_dmbq);		\
	(dmb)->dmb_npendreqs--;						\
} while (/*CONSTCOND*/0)

/* --- backend interface ------------------------------------------------- */

/**
 * dmover_backend_register: make a backend available to new sessions.
 * A backend registered later that is faster than the current choice is
 * preferred for sessions created afterwards.
 * @param dmb  filled-in backend; must stay valid until unregistered.
 * @return 0, or EINVAL (NULL dmb, NULL dmb_name or dmb_process, negative
 *         dmb_nalgdescs, NULL dmb_algdescs with entries, an entry without a
 *         name or with dad_ninputs outside 0..16), EEXIST (already registered),
 *         ENOMEM.
 */
int	dmover_backend_register(struct dmover_backend *dmb);

/**
 * dmover_backend_unregister: withdraw a backend.
 * @param dmb  a registered backend.
 * @return 0, EBUSY if sessions are still assigned to it (nothing changes),
 *         ENOENT if it is not registered, EINVAL for NULL.
 */
int	dmover_backend_unregister(struct dmover_backend *dmb);

/**
 * dmover_backend_dequeue: take the oldest pending request of a backend and
 * mark it DMOVER_REQ_RUNNING (an addition for backends with their own
 * threads; takes the queue lock).
 * @return the request, or NULL if none is pending (or dmb is NULL).
 */
struct dmover_request *dmover_backend_dequeue(struct dmover_backend *dmb);

/**
 * dmover_done: [backend interface] complete a request. Set DMOVER_REQ_ERROR
 * and dreq_error before calling to report a failure. Wakes a DMOVER_REQ_WAIT
 * submitter, or queues the callback for the completion thread, or lets a
 * polling client see DMOVER_REQ_DONE. The backend must not touch the request
 * afterwards.
 */
void	dmover_done(struct dmover_request *dreq);

/**
 * dmover_algdesc_lookup: find an algorithm by name in an array.
 * @return the matching entry, or NULL (also for NULL arguments).
 */
const struct dmover_algdesc *dmover_algdesc_lookup(const struct dmover_algdesc *dad,
	    int ndad, const char *name);

/* --- client interface -------------------------------------------------- */

/**
 * dmover_session_create: open a session for a function, assigned to the
 * backend that implements it with the highest dmb_speed, then the fewest
 * sessions, then the earliest registration.
 * @param name   function name, e.g. DMOVER_FUNC_XOR4.
 * @param dsesp  receives the session.
 * @return 0, ESRCH (no backend implements name), ENXIO (no backend is
 *         registered at all), EINVAL (NULL argument), ENOMEM.
 */
int	dmover_session_create(const char *name, struct dmover_session **dsesp);

/**
 * dmover_session_destroy: close a session. If requests are still in flight
 * the session is released when the last one completes (NetBSD panics).
 * It must not race with a dmover_process call on one of the session's
 * requests in another thread (a request run on the caller's thread is in
 * flight only inside that call). NULL is ignored.
 */
void	dmover_session_destroy(struct dmover_session *dses);

/**
 * dmover_request_alloc: allocate a zeroed request for a session.
 * @param dses   the session.
 * @param inbuf  caller-owned array of dses_ninputs buffers, or NULL to use an
 *               array owned by the request. A caller's array is never freed
 *               by the library (NetBSD frees it by mistake).
 * @return the request, or NULL with errno EINVAL (NULL dses) or ENOMEM.
 */
struct dmover_request *dmover_request_alloc(struct dmover_session *dses, dmover_buffer *inbuf);

/**
 * dmover_request_free: free a request that is not in flight. NULL is ignored.
 */
void	dmover_request_free(struct dmover_request *dreq);

/**
 * dmover_process: submit a request. Fill dreq_outbuf_type/dreq_outbuf,
 * dreq_inbuf_type/dreq_inbuf[], dreq_immediate, and either dreq_callback
 * (called once on the library's completion thread) or DMOVER_REQ_WAIT in
 * dreq_flags (OR it in; this call then returns after completion), or neither
 * (poll dreq_flags for DMOVER_REQ_DONE). Errors are reported per request as
 * DMOVER_REQ_ERROR plus dreq_error: EINVAL for a bad shape (wrong or mixed
 * buffer type, missing or unexpected output, length mismatch, bad uio,
 * DMOVER_REQ_WAIT together with a callback). A request already in flight is
 * ignored. NULL is ignored.
 */
void	dmover_process(struct dmover_request *dreq);

#ifdef __cplusplus
}
#endif

#endif /* BSDSHIM_DEV_DMOVER_DMOVERVAR_H */
