/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * fuzz_dmio.c: arbitrary dmio_usrreq record streams written to /dev/dmover
 * descriptors: random iovcnts and lengths, valid, NULL, unmapped, read-only
 * and non-canonical addresses for data, iovec arrays and input arrays; odd
 * write sizes and unreadable record buffers; random ioctls; fresh sessions
 * with arbitrary function names (no NUL needed) closed with requests in
 * flight. Checked: no crash or sanitizer report, every request answered
 * exactly once in order with 0, EINVAL or EFAULT.
 *
 * Data addresses point only into `arena` (or at bad pages): the device
 * writes there, so the iovec and buffer arrays live apart in `meta`, where
 * no request can write and turn them into pointers at the fuzzer itself.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <dev/dmover/dmover_io.h>
#include "fuzz_input.h"

enum { ARENA = 256 * 1024, META_IOVS = 8192, META_BUFS = 1024, NFUNCS = 10 };

static const char *const funcs[NFUNCS] = {"copy", "zero", "fill8", "xor2", "xor3", "xor16",
                                          "iscsi-crc32c", "copy-crc32c", "compare", NULL};
static int fds[NFUNCS];                 /* one session per function; the last never gets one */
static unsigned char *arena, *guard, *ro;
static struct iovec *meta_iov, *ro_iov;
static dmio_buffer *meta_buf;
static size_t iov_used, buf_used;
static uint32_t next_id;

static void setup(void) {
    /* Split requests from 64 KiB (the library's floor) rather than 4 MiB, so
     * that the worker path is reached by inputs that stay cheap to run. */
    setenv("BSDSHIM_DMOVER_SPLIT_MIN", "65536", 0);
    long pg = sysconf(_SC_PAGESIZE);
    /* arena | guard | ro | guard: a range starting at any data address ends
     * at a PROT_NONE page, however long it claims to be. Without the last
     * guard, `ro` with a length of 2^40 ran on into whatever mapping the
     * kernel had placed next (thread stacks, the sanitizer's reserved
     * regions), and the device, like the kernel, reads all of a buffer that
     * is mapped: minutes of page faults and gigabytes of page tables. */
    unsigned char *map = mmap(NULL, ARENA + 3 * (size_t)pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    FUZZ_ASSERT(map != MAP_FAILED);
    arena = map;
    guard = map + ARENA;
    ro = guard + pg;
    FUZZ_ASSERT(mprotect(guard, (size_t)pg, PROT_NONE) == 0);
    FUZZ_ASSERT(mprotect(ro + pg, (size_t)pg, PROT_NONE) == 0);
    /* A read-only page of iovecs pointing into the arena: readable arrays, unwritable data. */
    ro_iov = (struct iovec *)ro;
    for (size_t i = 0; i < (size_t)pg / sizeof *ro_iov; i++) {
        ro_iov[i].iov_base = arena + i * 64;
        ro_iov[i].iov_len = 64;
    }
    FUZZ_ASSERT(mprotect(ro, (size_t)pg, PROT_READ) == 0);
    meta_iov = calloc(META_IOVS, sizeof *meta_iov);
    meta_buf = calloc(META_BUFS, sizeof *meta_buf);
    for (int i = 0; i < NFUNCS; i++) {
        fds[i] = dmover_open(O_CLOEXEC);
        FUZZ_ASSERT(fds[i] >= 0);
        if (!funcs[i]) continue;
        struct dmio_setfunc sf = {{0}};
        strcpy(sf.dsf_name, funcs[i]);
        FUZZ_ASSERT(dmover_ioctl(fds[i], DMIO_SETFUNC, &sf) == 0);
    }
}

static void *bad_pointer(fuzz_input *in) {
    void *const bad[] = {NULL, guard, guard + 100, ro, (void *)1, (void *)(uintptr_t)0xffff800000000000ull,
                         (void *)(uintptr_t)-4096, guard - 8};
    return FUZZ_PICK(in, bad);
}

/* A bad input-array address: bad_pointer's without `ro`. Read as an input
 * array, ro's iovecs become iovec-array pointers into the arena, which the
 * device writes: the data pointers read there would be whatever earlier
 * outputs left (readable memory of the fuzzer, such as the sanitizer's
 * shadow, which instrumented code may not load from). */
static void *bad_array_pointer(fuzz_input *in) {
    void *const bad[] = {NULL, guard, guard + 100, (void *)1, (void *)(uintptr_t)0xffff800000000000ull,
                         (void *)(uintptr_t)-4096, guard - 8};
    return FUZZ_PICK(in, bad);
}

/* A data address: mostly inside the arena, sometimes bad. */
static void *data_pointer(fuzz_input *in) {
    uint8_t k = fuzz_u8(in);
    if (k < 224) return arena + fuzz_u32(in) % ARENA;
    return bad_pointer(in);
}

static size_t data_length(fuzz_input *in) {
    uint8_t k = fuzz_u8(in);
    if (k < 200) return fuzz_u16(in) % 4097;
    if (k < 240) return fuzz_u32(in) % ARENA;
    const size_t odd[] = {0, SIZE_MAX, SIZE_MAX / 2, (size_t)1 << 40, ARENA + 1};
    return FUZZ_PICK(in, odd);
}

static unsigned int pick_iovcnt(fuzz_input *in) {
    const unsigned int counts[] = {0, 1, 1, 1, 2, 3, 16, 17, 1024, 1025, 0x80000000u, 0xffffffffu};
    return FUZZ_PICK(in, counts);
}

/* Fills one dmio_buffer; when `total` is nonzero the segments add up to it
 * (shapes that pass the length check and actually move data). */
static void fill_buffer(fuzz_input *in, dmio_buffer *b, size_t total) {
    unsigned int n = pick_iovcnt(in);
    b->dmbuf_iovcnt = n;
    uint8_t where = fuzz_u8(in);
    if (where >= 240) { b->dmbuf_iov = bad_pointer(in); return; }
    if (where >= 230) { b->dmbuf_iov = ro_iov; return; }
    if (n > 1024 || iov_used + n > META_IOVS) { b->dmbuf_iov = n ? ro_iov : NULL; return; }
    struct iovec *v = meta_iov + iov_used;
    iov_used += n;
    b->dmbuf_iov = v;
    size_t left = total;
    for (unsigned int i = 0; i < n; i++) {
        /* Long vectors repeat a few fuzzed segments, so inputs stay short.
         * Repeats of a data-sized segment are cut to at most 256 bytes (1,024 of them
         * already pass the split size); the huge lengths that test the sum's
         * overflow check repeat whole. */
        if (i >= 4) {
            v[i] = v[i % 4];
            if (total) v[i].iov_len = 0;
            else if (v[i].iov_len <= ARENA) v[i].iov_len %= 257;
            continue;
        }
        v[i].iov_base = data_pointer(in);
        if (total) {
            size_t len = (i + 1 == n || i == 3) ? left : fuzz_u16(in) % (left + 1);
            left -= len;
            v[i].iov_len = len;
            if ((uintptr_t)v[i].iov_base >= (uintptr_t)arena && (uintptr_t)v[i].iov_base < (uintptr_t)guard &&
                (size_t)((unsigned char *)v[i].iov_base - arena) + len > ARENA)
                v[i].iov_base = arena + ARENA - len;   /* keep the region inside the arena */
        } else {
            v[i].iov_len = data_length(in);
        }
    }
}

static void build_request(fuzz_input *in, struct dmio_usrreq *r) {
    memset(r, 0, sizeof *r);
    r->req_id = next_id++;
    uint64_t imm = fuzz_u64(in);
    memcpy(r->req_immediate, &imm, sizeof imm);
    uint8_t mode = fuzz_u8(in);
    size_t total = (mode & 1) ? 1 + fuzz_u16(in) % 8192 : 0;
    fill_buffer(in, &r->req_outbuf, total);
    if (mode & 2) r->req_outbuf.dmbuf_iovcnt = 0;       /* no output (CRC, compare) */
    uint8_t where = fuzz_u8(in);
    if (where >= 240) { r->req_inbuf = bad_array_pointer(in); return; }
    if (buf_used + 16 > META_BUFS) { r->req_inbuf = NULL; return; }
    dmio_buffer *ins = meta_buf + buf_used;
    buf_used += 16;
    int nin = 1 + fuzz_u8(in) % 16;
    for (int i = 0; i < nin; i++) fill_buffer(in, &ins[i], total);
    for (int i = nin; i < 16; i++) ins[i] = ins[i % nin];
    r->req_inbuf = ins;
}

/* Writes n records and reads back n answers: each once, in order, 0/EINVAL/EFAULT. */
static void run_batch(fuzz_input *in, int fd) {
    struct dmio_usrreq reqs[DMIO_NREQS_MAX];
    struct dmio_usrresp resp[DMIO_NREQS_MAX];
    int n = 1 + fuzz_u8(in) % DMIO_NREQS_MAX;
    iov_used = buf_used = 0;
    for (int i = 0; i < n; i++) build_request(in, &reqs[i]);
    ssize_t w = dmover_write(fd, reqs, (size_t)n * sizeof reqs[0]);
    if (w < 0) {
        FUZZ_ASSERT(errno == ENXIO);           /* only the session without a function refuses */
        return;
    }
    FUZZ_ASSERT(w == (ssize_t)(n * sizeof reqs[0]));
    /* A blocking read returns early (EINTR or whole records so far) when a
     * signal arrives: libFuzzer's timeout alarm does, every second. */
    size_t got = 0;
    while (got < n * sizeof resp[0]) {
        ssize_t r = dmover_read(fd, (char *)resp + got, n * sizeof resp[0] - got);
        if (r < 0 && errno == EINTR) continue;
        FUZZ_ASSERT(r > 0 && r % (ssize_t)sizeof resp[0] == 0);
        got += (size_t)r;
    }
    for (int i = 0; i < n; i++) {
        FUZZ_ASSERT(resp[i].resp_id == reqs[i].req_id);
        int e = resp[i].resp_error;
        FUZZ_ASSERT(e == 0 || e == EINVAL || e == EFAULT);
    }
}

/* Record streams that are wrong as a whole: partial records, unreadable buffers. */
static void bad_write(fuzz_input *in, int fd) {
    struct dmio_usrreq reqs[2];
    memset(reqs, 0, sizeof reqs);
    uint8_t k = fuzz_u8(in);
    if (k & 1) {
        size_t len = 1 + fuzz_u8(in) % (2 * sizeof reqs[0] - 1);
        if (len == sizeof reqs[0]) len++;
        errno = 0;
        FUZZ_ASSERT(dmover_write(fd, reqs, len) == -1 && (errno == EINVAL || errno == ENXIO));
    } else {
        void *const unreadable[] = {NULL, guard, guard + 100, (void *)1, (void *)(uintptr_t)0xffff800000000000ull,
                                    (void *)(uintptr_t)-4096, guard - 8};
        errno = 0;
        FUZZ_ASSERT(dmover_write(fd, FUZZ_PICK(in, unreadable), sizeof reqs[0]) == -1 &&
                    (errno == EFAULT || errno == ENXIO));
    }
    struct dmio_usrresp r;
    errno = 0;
    FUZZ_ASSERT(dmover_read(fd, &r, sizeof r - 1) == -1 && (errno == EINVAL || errno == ENXIO));
}

static void random_ioctl(fuzz_input *in, int fd) {
    const unsigned long cmds[] = {DMIO_SETFUNC, DMIO_SETFUNC_NETBSD, FIONBIO, FIOASYNC, FIONREAD,
                                  _IOW('D', 0, int), _IOR('D', 0, struct dmio_setfunc), 0, ~0ul};
    unsigned long cmd = (fuzz_u8(in) & 1) ? FUZZ_PICK(in, cmds) : fuzz_u32(in);
    void *arg = (fuzz_u8(in) & 1) ? (void *)arena : bad_pointer(in);
    if (arg == arena) memcpy(arena, &cmd, sizeof cmd);
    int r = dmover_ioctl(fd, cmd, arg);
    FUZZ_ASSERT(r == 0 || r == -1);
    int off = 0;
    FUZZ_ASSERT(dmover_ioctl(fd, FIONBIO, &off) == 0);   /* back to blocking for the batches */
}

/* A session of its own: any 64-byte name, maybe some requests, closed either way. */
static void fresh_session(fuzz_input *in) {
    int fd = dmover_open((fuzz_u8(in) & 1) ? O_NONBLOCK : 0);
    FUZZ_ASSERT(fd >= 0);
    struct dmio_setfunc sf;
    uint8_t k = fuzz_u8(in);
    if (k < 128) {
        for (size_t i = 0; i < sizeof sf.dsf_name; i++) sf.dsf_name[i] = (char)fuzz_u8(in);
    } else {
        memset(&sf, 0, sizeof sf);
        strcpy(sf.dsf_name, funcs[k % (NFUNCS - 1)]);
    }
    int set = dmover_ioctl(fd, DMIO_SETFUNC, &sf) == 0;
    if (set && (k & 2)) {
        /* Requests left in flight: close must finish or abandon them and free everything. */
        struct dmio_usrreq reqs[8];
        iov_used = buf_used = 0;
        for (int i = 0; i < 8; i++) build_request(in, &reqs[i]);
        (void)!dmover_write(fd, reqs, sizeof reqs);
    }
    if (k & 4) FUZZ_ASSERT(dmover_close(fd) == 0);
    else FUZZ_ASSERT(close(fd) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int ready;
    if (!ready) { setup(); ready = 1; }
    fuzz_input in = {data, size};
    for (int steps = 0; fuzz_more(&in) && steps < 16; steps++) {
        uint8_t op = fuzz_u8(&in);
        int fd = fds[fuzz_u8(&in) % NFUNCS];
        switch (op % 8) {
        case 0: case 1: case 2: case 3: run_batch(&in, fd); break;
        case 4: bad_write(&in, fd); break;
        case 5: random_ioctl(&in, fd); break;
        case 6: if ((op & 0xf0) == 0) fresh_session(&in); break;   /* costs a thread: rarer */
        case 7: FUZZ_ASSERT(dmover_writable(fd) == 1); break;
        }
    }
    return 0;
}
