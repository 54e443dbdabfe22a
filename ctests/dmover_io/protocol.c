/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * protocol.c: the /dev/dmover protocol as an unmodified NetBSD program uses
 * it (open, ioctl, write, poll, read, close). Built twice: linked (with
 * linked_compat.h force-included) and plain, run under LD_PRELOAD with
 * libbsdshim-preload.so. Covers every error, back-pressure at exactly 64,
 * blocking reads and writes, poll readiness, bad requests answered per
 * req_id, and close with requests in flight.
 */
#define _GNU_SOURCE /* ppoll */
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include "dmio_test.h"

static void test_errors_before_and_around_setfunc(void) {
    int fd = open("/dev/dmover", O_RDWR);
    CHECK(fd >= 0);
    struct dmio_usrreq req, two[2];
    struct dmio_usrresp resp;
    memset(&req, 0, sizeof req);
    memset(two, 0, sizeof two);
    CHECK_ERRNO(write(fd, &req, sizeof req), ENXIO);
    CHECK_ERRNO(read(fd, &resp, sizeof resp), ENXIO);
    CHECK_ERRNO(ioctl(fd, _IOW('D', 1, int), &fd), ENOTTY);
    struct dmio_setfunc sf;
    memset(&sf, 'x', sizeof sf);                       /* no NUL: dsf_name[63] is forced */
    CHECK_ERRNO(ioctl(fd, DMIO_SETFUNC, &sf), ESRCH);
    CHECK_ERRNO(ioctl(fd, DMIO_SETFUNC, NULL), EFAULT);
    CHECK_ERRNO(ioctl(fd, DMIO_SETFUNC, (void *)8), EFAULT);
    strcpy(sf.dsf_name, "copy");
    CHECK_EQ(ioctl(fd, DMIO_SETFUNC, &sf), 0);
    CHECK_ERRNO(ioctl(fd, DMIO_SETFUNC, &sf), EBUSY);
    CHECK_ERRNO(ioctl(fd, 0x80404400UL, &sf), EBUSY);  /* NetBSD's encoding reaches SETFUNC too */
    int on = 1, off = 0;
    CHECK_EQ(ioctl(fd, FIONBIO, &on), 0);
    CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK);
    CHECK_ERRNO(read(fd, &resp, sizeof resp), EWOULDBLOCK);
    CHECK_EQ(ioctl(fd, FIONBIO, &off), 0);
    CHECK(!(fcntl(fd, F_GETFL) & O_NONBLOCK));
    CHECK_EQ(ioctl(fd, FIOASYNC, &off), 0);
    CHECK_ERRNO(write(fd, &req, sizeof req - 1), EINVAL);
    CHECK_ERRNO(write(fd, two, sizeof req + 1), EINVAL);
    CHECK_ERRNO(read(fd, &resp, sizeof resp - 1), EINVAL);
    CHECK_EQ(write(fd, &req, 0), 0);
    CHECK_EQ(read(fd, &resp, 0), 0);
    CHECK_EQ(close(fd), 0);
    /* A second open gets its own session: the function must be set again. */
    fd = open("/dev/dmoverio", O_RDWR | O_CLOEXEC);
    CHECK(fd >= 0);
    CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    CHECK_ERRNO(write(fd, &req, sizeof req), ENXIO);
    CHECK_EQ(close(fd), 0);
    fd = openat(AT_FDCWD, "/dev/dmover", O_RDWR);
    CHECK(fd >= 0);
    CHECK(!(fcntl(fd, F_GETFD) & FD_CLOEXEC));
    CHECK_ERRNO(read(fd, &resp, sizeof resp), ENXIO);           /* a dmover descriptor too */
    CHECK_EQ(close(fd), 0);
    /* Other paths pass through untouched. */
    CHECK_ERRNO(open("/dev/dmover-not-this", O_RDWR), ENOENT);
    fd = open("/dev/null", O_RDWR);
    CHECK(fd >= 0);
    CHECK_EQ(write(fd, &req, sizeof req - 1), (ssize_t)sizeof req - 1);
    CHECK_ERRNO(ioctl(fd, DMIO_SETFUNC, &sf), ENOTTY);
    CHECK_EQ(close(fd), 0);
}

static void test_copy_batch_blocking_read_fills_count(void) {
    enum { N = 64, LEN = 4096 + 13 };
    int fd = dmio_open_func("copy", 0);
    CHECK(fd >= 0);
    static unsigned char src[N][LEN], dst[N][LEN];
    static struct dmio_usrreq req[N];
    static dmio_shape shape[N];
    for (int i = 0; i < N; i++) {
        for (int k = 0; k < LEN; k++) src[i][k] = (unsigned char)(i * 31 + k * 7);
        memset(dst[i], 0, LEN);
        void *in[1] = {src[i]};
        dmio_req_linear(&req[i], &shape[i], 1000u + (uint32_t)i, dst[i], in, 1, LEN);
    }
    CHECK_EQ(write(fd, req, sizeof req), (ssize_t)sizeof req);
    struct pollfd p = {fd, POLLIN, 0};
    CHECK_EQ(poll(&p, 1, -1), 1);
    CHECK(p.revents & POLLIN);
    struct dmio_usrresp resp[N];
    CHECK_EQ(read(fd, resp, sizeof resp), (ssize_t)sizeof resp);   /* blocking: the whole count */
    for (int i = 0; i < N; i++) {
        CHECK_EQ(resp[i].resp_id, 1000 + i);                         /* one at a time: in order */
        CHECK_EQ(resp[i].resp_error, 0);
        CHECK(memcmp(src[i], dst[i], LEN) == 0);
    }
    p.revents = 0;
    CHECK_EQ(poll(&p, 1, 0), 0);                                     /* nothing left to read */
    CHECK_EQ(close(fd), 0);
}

static void test_nonblocking_backpressure_at_exactly_64(void) {
    enum { N = 70 };
    int fd = dmio_open_func("zero", O_NONBLOCK);
    CHECK(fd >= 0);
    static unsigned char out[N][64];
    static struct dmio_usrreq req[N];
    static dmio_shape shape[N];
    for (int i = 0; i < N; i++) dmio_req_linear(&req[i], &shape[i], (uint32_t)i, out[i], NULL, 0, 64);
    CHECK_EQ(write(fd, req, sizeof req), 64 * (ssize_t)sizeof req[0]);     /* short: whole records */
    CHECK_ERRNO(write(fd, &req[64], sizeof req[0]), EWOULDBLOCK);
    struct dmio_usrresp resp[N];
    CHECK_EQ(dmio_read_n(fd, resp, 1), 1);
    CHECK_EQ(resp[0].resp_id, 0);
    CHECK_EQ(write(fd, &req[64], 2 * sizeof req[0]), (ssize_t)sizeof req[0]);  /* room for exactly one */
    CHECK_ERRNO(write(fd, &req[65], sizeof req[0]), EWOULDBLOCK);
    CHECK_EQ(dmio_read_n(fd, resp + 1, 64), 64);
    for (int i = 1; i <= 64; i++) {
        CHECK_EQ(resp[i].resp_id, i);
        CHECK_EQ(resp[i].resp_error, 0);
    }
    CHECK_ERRNO(read(fd, resp, sizeof resp[0]), EWOULDBLOCK);
    CHECK_EQ(close(fd), 0);
}

struct writer_arg { int fd; struct dmio_usrreq *req; int n; ssize_t result; };

static void *blocking_writer(void *p) {
    struct writer_arg *a = p;
    a->result = write(a->fd, a->req, (size_t)a->n * sizeof *a->req);
    return NULL;
}

static void test_blocking_write_waits_for_a_read(void) {
    enum { N = 66 };
    int fd = dmio_open_func("fill8", 0);
    CHECK(fd >= 0);
    static unsigned char out[N][32];
    static struct dmio_usrreq req[N];
    static dmio_shape shape[N];
    for (int i = 0; i < N; i++) {
        dmio_req_linear(&req[i], &shape[i], (uint32_t)i, out[i], NULL, 0, 32);
        req[i].req_immediate[0] = (uint8_t)i;
    }
    struct writer_arg a = {fd, req, N, 0};
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, blocking_writer, &a), 0);
    /* The writer can only finish after two responses were read. */
    struct dmio_usrresp resp[N];
    CHECK_EQ(read(fd, resp, 2 * sizeof resp[0]), 2 * (ssize_t)sizeof resp[0]);
    CHECK_EQ(read(fd, resp + 2, (N - 2) * sizeof resp[0]), (N - 2) * (ssize_t)sizeof resp[0]);
    pthread_join(t, NULL);
    CHECK_EQ(a.result, N * (ssize_t)sizeof req[0]);
    for (int i = 0; i < N; i++) {
        CHECK_EQ(resp[i].resp_id, i);
        for (int k = 0; k < 32; k++) CHECK_EQ(out[i][k], i);
    }
    CHECK_EQ(close(fd), 0);
}

/* Signals during blocking reads and writes, as NetBSD's interruptible
 * sleeps: a handler with SA_RESTART lets the call go on; one without ends
 * it with EINTR, or with the whole records done so far. */
static volatile sig_atomic_t signalled;
static void on_usr1(int sig) { (void)sig; signalled++; }

struct kicker { pthread_t target; int fd; struct dmio_usrreq *req; };

static void *kick_then_write(void *p) {
    struct kicker *k = p;
    usleep(100000);
    pthread_kill(k->target, SIGUSR1);
    usleep(100000);
    if (k->req) (void)!write(k->fd, k->req, sizeof *k->req);
    return NULL;
}

static void *kick(void *p) {
    struct kicker *k = p;
    usleep(100000);
    pthread_kill(k->target, SIGUSR1);
    return NULL;
}

static void use_handler(int restart) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sa.sa_flags = restart ? SA_RESTART : 0;
    sigemptyset(&sa.sa_mask);
    CHECK_EQ(sigaction(SIGUSR1, &sa, NULL), 0);
}

static void test_signals_restart_or_interrupt_blocking_calls(void) {
    enum { N = 66 };
    int fd = dmio_open_func("zero", 0);
    CHECK(fd >= 0);
    static unsigned char out[N][16];
    static struct dmio_usrreq req[N];
    static dmio_shape shape[N];
    for (int i = 0; i < N; i++) dmio_req_linear(&req[i], &shape[i], (uint32_t)i, out[i], NULL, 0, 16);
    struct dmio_usrresp resp[N];
    pthread_t t;

    /* A read with SA_RESTART: the signal is handled, the read goes on. */
    use_handler(1);
    signalled = 0;
    struct kicker k = {pthread_self(), fd, &req[0]};
    CHECK_EQ(pthread_create(&t, NULL, kick_then_write, &k), 0);
    CHECK_EQ(read(fd, resp, sizeof resp[0]), (ssize_t)sizeof resp[0]);
    pthread_join(t, NULL);
    CHECK_EQ(signalled, 1);
    CHECK_EQ(resp[0].resp_id, 0);

    /* Without SA_RESTART: EINTR. */
    use_handler(0);
    k.req = NULL;
    CHECK_EQ(pthread_create(&t, NULL, kick, &k), 0);
    CHECK_ERRNO(read(fd, resp, sizeof resp[0]), EINTR);
    pthread_join(t, NULL);
    CHECK_EQ(signalled, 2);

    /* A write waiting at the limit: EINTR with nothing written ... */
    CHECK_EQ(write(fd, req, 64 * sizeof req[0]), 64 * (ssize_t)sizeof req[0]);
    CHECK_EQ(pthread_create(&t, NULL, kick, &k), 0);
    CHECK_ERRNO(write(fd, &req[64], 2 * sizeof req[0]), EINTR);
    pthread_join(t, NULL);
    /* ... and a short count after one record went in. */
    CHECK_EQ(read(fd, resp, sizeof resp[0]), (ssize_t)sizeof resp[0]);
    CHECK_EQ(pthread_create(&t, NULL, kick, &k), 0);
    CHECK_EQ(write(fd, &req[64], 2 * sizeof req[0]), (ssize_t)sizeof req[0]);
    pthread_join(t, NULL);
    CHECK_EQ(signalled, 4);
    CHECK_EQ(read(fd, resp + 1, 64 * sizeof resp[0]), 64 * (ssize_t)sizeof resp[0]);
    for (int i = 0; i <= 64; i++) CHECK_EQ(resp[i].resp_id, i);
    signal(SIGUSR1, SIG_DFL);
    CHECK_EQ(close(fd), 0);
}

/* writev and readv move records like write and read, a record straddling
 * iovecs included (only through the preload library: the linked build has
 * no readv of its own). */
static void test_vectored_io_moves_records(void) {
#ifdef BSDSHIM_CTEST_LINKED_COMPAT_H
    printf("  skipped: readv/writev are interposed by the preload library only\n");
    return;
#endif
    enum { N = 100 };
    int fd = dmio_open_func("zero", 0);
    CHECK(fd >= 0);
    static unsigned char out[N][8];
    static struct dmio_usrreq req[N];
    static dmio_shape shape[N];
    for (int i = 0; i < N; i++) dmio_req_linear(&req[i], &shape[i], (uint32_t)i, out[i], NULL, 0, 8);
    struct dmio_usrresp resp[N];
    /* More than 64 requests over the run: the in-flight count must drop. */
    for (int round = 0; round < 2; round++) {
        struct dmio_usrreq *r = req + round * 50;
        size_t half = 25 * sizeof *r + 7;                          /* split inside a record */
        struct iovec w[2] = {{r, half}, {(char *)r + half, 50 * sizeof *r - half}};
        CHECK_EQ(writev(fd, w, 2), 50 * (ssize_t)sizeof *r);
        struct dmio_usrresp *p = resp + round * 50;
        size_t cut = 10 * sizeof *p + 3;
        struct iovec v[3] = {{p, cut}, {(char *)p + cut, sizeof *p}, {(char *)p + cut + sizeof *p, 50 * sizeof *p - cut - sizeof *p}};
        CHECK_EQ(readv(fd, v, 3), 50 * (ssize_t)sizeof *p);
    }
    for (int i = 0; i < N; i++) {
        CHECK_EQ(resp[i].resp_id, i);
        CHECK_EQ(resp[i].resp_error, 0);
    }
    CHECK_EQ(close(fd), 0);
}

/* Bad shapes and addresses are answered per req_id; the good ones in the same write still run. */
static void test_bad_requests_answered_others_proceed(void) {
    long pg = sysconf(_SC_PAGESIZE);
    unsigned char *map = mmap(NULL, (size_t)pg * 3, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(map != MAP_FAILED);
    CHECK_EQ(munmap(map + pg, (size_t)pg), 0);                  /* a hole */
    unsigned char *ro = map + 2 * pg;
    CHECK_EQ(mprotect(ro, (size_t)pg, PROT_READ), 0);
    int fd = dmio_open_func("copy", 0);
    CHECK(fd >= 0);
    enum { N = 12 };
    static unsigned char src[64], dst[N][64];
    memset(src, 0x5a, sizeof src);
    memset(dst, 0, sizeof dst);
    struct dmio_usrreq req[N];
    dmio_shape shape[N];
    void *in[1] = {src};
    for (int i = 0; i < N; i++) dmio_req_linear(&req[i], &shape[i], 7000u + (uint32_t)i, dst[i], in, 1, 64);
    int expect[N] = {0};
    req[1].req_inbuf = NULL;                                     expect[1] = EFAULT;
    req[2].req_inbuf = (dmio_buffer *)(map + pg);                expect[2] = EFAULT;
    shape[3].inbuf[0].dmbuf_iovcnt = 0;                          expect[3] = EINVAL;
    shape[4].inbuf[0].dmbuf_iovcnt = 1025;                       expect[4] = EINVAL;
    shape[5].in_iov[0].iov_len = 63;                             expect[5] = EINVAL;   /* length mismatch */
    shape[6].out_iov.iov_base = NULL;                            expect[6] = EFAULT;
    shape[7].in_iov[0].iov_base = map + pg + 8;                  expect[7] = EFAULT;   /* unmapped input */
    shape[8].out_iov.iov_base = ro;                              expect[8] = EFAULT;   /* read-only output */
    shape[9].in_iov[0].iov_base = map + pg - 32;                 expect[9] = EFAULT;   /* runs into the hole */
    req[10].req_outbuf.dmbuf_iov = (struct iovec *)(map + pg);   expect[10] = EFAULT;
    req[0].req_immediate[0] = 0xEE;                              /* echoed for copy */
    CHECK_EQ(write(fd, req, sizeof req), (ssize_t)sizeof req);
    struct dmio_usrresp resp[N];
    CHECK_EQ(read(fd, resp, sizeof resp), (ssize_t)sizeof resp);
    for (int i = 0; i < N; i++) {
        CHECK_EQ(resp[i].resp_id, 7000 + i);
        if (resp[i].resp_error != expect[i]) fprintf(stderr, "request %d: error %d, want %d\n", i, resp[i].resp_error, expect[i]);
        CHECK_EQ(resp[i].resp_error, expect[i]);
        if (expect[i]) {
            for (int k = 0; k < 8; k++) CHECK_EQ(resp[i].resp_immediate[k], 0);
            if (i != 6 && i != 8 && i != 10) for (int k = 0; k < 64; k++) CHECK_EQ(dst[i][k], 0);
        } else {
            CHECK(memcmp(dst[i], src, 64) == 0);
        }
    }
    CHECK_EQ(ro[0], 0);
    /* Slots were not leaked: 64 more requests fit without blocking. */
    static struct dmio_usrreq more[64];
    static dmio_shape ms[64];
    for (int i = 0; i < 64; i++) dmio_req_linear(&more[i], &ms[i], (uint32_t)i, dst[0], in, 1, 64);
    int on = 1;
    CHECK_EQ(ioctl(fd, FIONBIO, &on), 0);
    CHECK_EQ(write(fd, more, sizeof more), (ssize_t)sizeof more);
    struct dmio_usrresp r2[64];
    CHECK_EQ(dmio_read_n(fd, r2, 64), 64);
    CHECK_EQ(close(fd), 0);
    munmap(map, (size_t)pg);
    munmap(ro, (size_t)pg);
}

/* One request per write (write_one: its error, -errno if the write fails,
 * -1000 if the response is missing), so each check stands alone (no merging with other
 * requests' pages): every piece placed across a page edge, where one side is
 * unmapped-like (PROT_NONE) or read-only. A failed request writes nothing;
 * a good one in a copy-on-write page lands in this process only; a
 * successful write leaves errno as it was. */
static int write_one(int fd, struct dmio_usrreq *r, struct dmio_usrresp *resp) {
    if (write(fd, r, sizeof *r) != (ssize_t)sizeof *r) return -errno;
    if (read(fd, resp, sizeof *resp) != (ssize_t)sizeof *resp || resp->resp_id != r->req_id) return -1000;
    return resp->resp_error;
}

static void test_single_requests_at_page_edges(void) {
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    /* A read-write, B PROT_NONE, C read-only, D read-write, E untouched (zero page). */
    unsigned char *m = mmap(NULL, pg * 5, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(m != MAP_FAILED);
    unsigned char *A = m, *B = m + pg, *C = m + 2 * pg, *D = m + 3 * pg, *E = m + 4 * pg;
    memset(A, 0x11, pg);
    memset(C, 0x33, pg);
    memset(D, 0x44, pg);
    CHECK_EQ(mprotect(B, pg, PROT_NONE), 0);
    CHECK_EQ(mprotect(C, pg, PROT_READ), 0);
    int fd = dmio_open_func("copy", 0);
    CHECK(fd >= 0);
    static unsigned char src[64], dst[64];
    memset(src, 0x5a, sizeof src);
    struct dmio_usrreq r;
    struct dmio_usrresp resp;
    dmio_shape s;
    struct { unsigned char *out, *in; int want; } cases[] = {
        {dst, A + pg - 32, EFAULT},      /* input runs from A into B */
        {dst, C - 32, EFAULT},           /* input starts in B, ends in C */
        {dst, D - 32, 0},                /* input across read-only C and D: readable */
        {dst, E - 32, 0},                /* input across D and the untouched E */
        {C + 64, src, EFAULT},           /* output inside read-only C */
        {D - 32, src, EFAULT},           /* output from read-only C into D */
        {A + pg - 32, src, EFAULT},      /* output from A into B */
        {D + pg - 32, src, 0},           /* output across D and the untouched E */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memset(dst, 0, sizeof dst);
        void *in[1] = {cases[i].in};
        dmio_req_linear(&r, &s, 100u + (uint32_t)i, cases[i].out, in, 1, 64);
        errno = ENOSPC;
        int e = write_one(fd, &r, &resp);
        if (e != cases[i].want) fprintf(stderr, "case %zu: error %d, want %d\n", i, e, cases[i].want);
        CHECK_EQ(e, cases[i].want);
        if (e == 0) {
            CHECK_EQ(errno, ENOSPC);
            CHECK(memcmp(cases[i].out, cases[i].in, 64) == 0);
        }
    }
    for (size_t k = 0; k < 64; k++) {                            /* failed outputs wrote nothing */
        CHECK_EQ(A[pg - 64 + k], 0x11);
        CHECK_EQ(C[64 + k], 0x33);
        CHECK_EQ(C[pg - 64 + k], 0x33);
    }
    for (size_t k = 0; k < 32; k++) {
        CHECK_EQ(D[k], 0x44);
        CHECK_EQ(E[k], 0x5a);                                    /* the good output across D|E... */
    }
    CHECK_EQ(E[32], 0);                                          /* ...and not a byte more */

    /* Descriptors across the A|B edge: the record, the input array, an iovec array. */
    struct dmio_usrreq *edge_rec = (struct dmio_usrreq *)(B - sizeof r / 2);
    void *in[1] = {src};
    dmio_req_linear(&r, &s, 200, dst, in, 1, 64);
    memcpy(A + pg - sizeof r / 2, &r, sizeof r / 2);
    CHECK_ERRNO(write(fd, edge_rec, sizeof r), EFAULT);
    dmio_buffer *edge_buf = (dmio_buffer *)(B - sizeof(dmio_buffer) / 2);
    r.req_inbuf = edge_buf;
    CHECK_EQ(write_one(fd, &r, &resp), EFAULT);
    dmio_req_linear(&r, &s, 201, dst, in, 1, 64);
    r.req_outbuf.dmbuf_iov = (struct iovec *)(B - sizeof(struct iovec) / 2);
    CHECK_EQ(write_one(fd, &r, &resp), EFAULT);

    /* Copy-on-write: after fork the output page is shared; the result lands here only. */
    int pipefd[2];
    CHECK_EQ(pipe(pipefd), 0);
    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) {
        char c;
        (void)!read(pipefd[0], &c, 1);
        _exit(D[100] == 0x44 ? 0 : 1);
    }
    dmio_req_linear(&r, &s, 300, D + 64, in, 1, 64);
    CHECK_EQ(write_one(fd, &r, &resp), 0);
    CHECK_EQ(D[100], 0x5a);
    CHECK_EQ(write(pipefd[1], "x", 1), 1);
    int status;
    CHECK_EQ(waitpid(child, &status, 0), child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(pipefd[0]);
    close(pipefd[1]);
    CHECK_EQ(close(fd), 0);
    munmap(m, pg * 5);
}

static void test_poll_readiness(void) {
    int fd = dmio_open_func("zero", 0);
    CHECK(fd >= 0);
    struct pollfd p = {fd, POLLIN | POLLOUT, 0};
    CHECK_EQ(poll(&p, 1, 0), 1);
    CHECK_EQ(p.revents, POLLOUT);                                /* writable, nothing to read */
    unsigned char out[16];
    struct dmio_usrreq req;
    dmio_shape s;
    dmio_req_linear(&req, &s, 42, out, NULL, 0, sizeof out);
    CHECK_EQ(write(fd, &req, sizeof req), (ssize_t)sizeof req);
    p.events = POLLIN;
    CHECK_EQ(poll(&p, 1, -1), 1);
    CHECK(p.revents & POLLIN);
    struct dmio_usrresp resp;
    CHECK_EQ(read(fd, &resp, sizeof resp), (ssize_t)sizeof resp);
    CHECK_EQ(resp.resp_id, 42);
    CHECK_EQ(poll(&p, 1, 0), 0);
    CHECK_EQ(close(fd), 0);
}

/* POLLOUT as NetBSD's dmio_poll: only while fewer than 64 requests are in
 * flight (the preload library's poll; the linked build has no poll of its own). */
struct reader_arg { int fd; int n; };

static __attribute__((unused)) void *read_later(void *p) {
    struct reader_arg *a = p;
    usleep(100000);
    struct dmio_usrresp r[64];
    (void)!read(a->fd, r, (size_t)a->n * sizeof r[0]);
    return NULL;
}

static void test_pollout_means_room_for_requests(void) {
#ifdef BSDSHIM_CTEST_LINKED_COMPAT_H
    printf("  skipped: poll is interposed by the preload library only\n");
#else
    enum { N = 64 };
    int fd = dmio_open_func("zero", 0);
    CHECK(fd >= 0);
    static unsigned char out[N][16];
    static struct dmio_usrreq req[N];
    static dmio_shape shape[N];
    for (int i = 0; i < N; i++) dmio_req_linear(&req[i], &shape[i], (uint32_t)i, out[i], NULL, 0, 16);
    CHECK_EQ(write(fd, req, sizeof req), (ssize_t)sizeof req);
    struct pollfd p = {fd, POLLOUT, 0};
    CHECK_EQ(poll(&p, 1, 50), 0);                        /* 64 in flight: no room */
    CHECK_EQ(p.revents, 0);
    CHECK_EQ(p.events, POLLOUT);                         /* the caller's array is left as it was */
    p.events = POLLIN | POLLOUT;
    CHECK_EQ(poll(&p, 1, 2000), 1);                      /* responses ready, still no room */
    CHECK_EQ(p.revents, POLLIN);
    struct timespec ts = {0, 50000000};
    p.events = POLLOUT;
    CHECK_EQ(ppoll(&p, 1, &ts, NULL), 0);
    /* Another thread reads one response: a POLLOUT waiter wakes. */
    struct reader_arg a = {fd, 1};
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, read_later, &a), 0);
    CHECK_EQ(poll(&p, 1, 5000), 1);
    CHECK_EQ(p.revents, POLLOUT);
    pthread_join(t, NULL);
    struct dmio_usrresp r[N];
    CHECK_EQ(read(fd, r, (N - 1) * sizeof r[0]), (N - 1) * (ssize_t)sizeof r[0]);
    CHECK_EQ(close(fd), 0);
#endif
}

/* close() with requests in flight frees everything: descriptors come back, buffers are not touched after close. */
static void test_close_with_requests_in_flight(void) {
    enum { N = 64, LEN = 65536 };
    int fds_before = dmio_count_dir("/proc/self/fd");
    for (int round = 0; round < 40; round++) {
        int fd = dmio_open_func("copy", 0);
        CHECK(fd >= 0);
        unsigned char *src = malloc(LEN), *dst = malloc((size_t)N * LEN);
        CHECK(src && dst);
        memset(src, round, LEN);
        struct dmio_usrreq req[N];
        dmio_shape shape[N];
        void *in[1] = {src};
        for (int i = 0; i < N; i++) dmio_req_linear(&req[i], &shape[i], (uint32_t)i, dst + (size_t)i * LEN, in, 1, LEN);
        CHECK_EQ(write(fd, req, sizeof req), (ssize_t)sizeof req);
        CHECK_EQ(close(fd), 0);
        /* Reuse the memory at once: nothing may write into it any more. */
        memset(dst, 0xAB, (size_t)N * LEN);
        free(src);
        for (size_t k = 0; k < (size_t)N * LEN; k += 4093) CHECK_EQ(dst[k], 0xAB);
        free(dst);
    }
    CHECK_EQ(dmio_count_dir("/proc/self/fd"), fds_before);
}

int main(void) {
    RUN(test_errors_before_and_around_setfunc);
    RUN(test_copy_batch_blocking_read_fills_count);
    RUN(test_nonblocking_backpressure_at_exactly_64);
    RUN(test_blocking_write_waits_for_a_read);
    RUN(test_signals_restart_or_interrupt_blocking_calls);
    RUN(test_vectored_io_moves_records);
    RUN(test_bad_requests_answered_others_proceed);
    RUN(test_single_requests_at_page_edges);
    RUN(test_poll_readiness);
    RUN(test_pollout_means_room_for_requests);
    RUN(test_close_with_requests_in_flight);
    return harness_finish();
}
