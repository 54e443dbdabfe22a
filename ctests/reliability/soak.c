/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * soak.c: long runs that must end with every event delivered exactly once,
 * every request answered once and byte-exact, and descriptors and RSS flat.
 * Short by default (for CI); BSDSHIM_SOAK=1 runs the full counts:
 *  - 8 threads x 100,000 EVFILT_USER triggers with EV_DISPATCH on one kqueue;
 *  - 1,000,000 random requests through four /dev/dmover descriptors, each
 *    driven by its own thread with up to 64 in flight (non-blocking writes);
 *  - 10,000 kqueues, each with a timer, a signal and a user event that fire.
 * The seed is printed (SOAK_SEED=n repeats a run).
 */
#define _GNU_SOURCE
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/event.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>
#include <dev/dmover/dmover_io.h>
#include "harness.h"

static int soak;            /* BSDSHIM_SOAK=1: the full counts */
static uint64_t seed;

static uint64_t next_rand(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* --- EVFILT_USER with EV_DISPATCH from 8 threads ----------------------------- */

enum { UTHREADS = 8 };
static int ukq;
static long utriggers;
static atomic_long delivered[UTHREADS], duplicates, stray;

/* Handles what one wait returned: count it, then re-arm the dispatched knote. */
static void handle(const struct kevent *ev, int n) {
    for (int i = 0; i < n; i++) {
        uintptr_t id = ev[i].ident;
        if (ev[i].filter != EVFILT_USER || id >= UTHREADS || (ev[i].flags & EV_ERROR)) {
            atomic_fetch_add(&stray, 1);
            continue;
        }
        atomic_fetch_add(&delivered[id], 1);
        struct kevent en;
        EV_SET(&en, id, EVFILT_USER, EV_ENABLE, 0, 0, NULL);
        if (kevent(ukq, &en, 1, NULL, 0, NULL) != 0) atomic_fetch_add(&stray, 1);
    }
}

/* Thread i triggers its event, then serves everyone's events until its own
 * trigger was delivered; a second delivery of one trigger would run its
 * count past the number of triggers. */
static void *user_thread(void *arg) {
    uintptr_t me = (uintptr_t)arg;
    struct kevent trig, ev[8];
    EV_SET(&trig, me, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL);
    struct timespec tick = {0, 10 * 1000 * 1000};
    for (long k = 1; k <= utriggers; k++) {
        if (kevent(ukq, &trig, 1, NULL, 0, NULL) != 0) { atomic_fetch_add(&stray, 1); break; }
        while (atomic_load(&delivered[me]) < k) {
            int n = kevent(ukq, NULL, 0, ev, 8, &tick);
            if (n > 0) handle(ev, n);
        }
        if (atomic_load(&delivered[me]) > k) atomic_fetch_add(&duplicates, 1);
    }
    return NULL;
}

static void test_user_dispatch_exactly_once(void) {
    utriggers = soak ? 100000 : 10000;
    ukq = kqueue();
    CHECK(ukq >= 0);
    struct kevent add[UTHREADS];
    for (int i = 0; i < UTHREADS; i++) EV_SET(&add[i], (uintptr_t)i, EVFILT_USER, EV_ADD | EV_CLEAR | EV_DISPATCH, 0, 0, NULL);
    CHECK_EQ(kevent(ukq, add, UTHREADS, NULL, 0, NULL), 0);
    pthread_t t[UTHREADS];
    for (int i = 0; i < UTHREADS; i++) CHECK_EQ(pthread_create(&t[i], NULL, user_thread, (void *)(uintptr_t)i), 0);
    for (int i = 0; i < UTHREADS; i++) pthread_join(t[i], NULL);
    /* Drain what the last re-arms may still hold: nothing may be left. */
    struct kevent ev[8];
    struct timespec zero = {0, 0};
    int left = kevent(ukq, NULL, 0, ev, 8, &zero);
    long total = 0;
    for (int i = 0; i < UTHREADS; i++) total += atomic_load(&delivered[i]);
    printf("  %d threads x %ld triggers: %ld delivered, %ld duplicates, %ld stray, %d left\n", UTHREADS, utriggers,
           total, atomic_load(&duplicates), atomic_load(&stray), left);
    for (int i = 0; i < UTHREADS; i++) CHECK_EQ(atomic_load(&delivered[i]), utriggers);
    CHECK_EQ(atomic_load(&duplicates), 0);
    CHECK_EQ(atomic_load(&stray), 0);
    CHECK_EQ(left, 0);
    close(ukq);
}

/* --- random requests through /dev/dmover, four descriptors at once ---------- */

enum { DTHREADS = 4, SLOTS = DMIO_NREQS_MAX, MAXLEN = 6000 };
static long dper;
static const char *const dfuncs[] = {"copy", "xor2", "fill8", "zero"};

typedef struct {
    unsigned char src[2][MAXLEN], dst[MAXLEN];
    struct iovec out[3], in[2][3];
    dmio_buffer inbuf[2];
    size_t len;
    uint8_t fill;
    uint32_t id;
    int busy;
} dslot;

typedef struct {
    int func;
    uint64_t rng;
    long answered, errors;
    dslot *slots;
} dworker;

/* Splits len bytes of base over up to 3 iovecs at random points. */
static unsigned scatter(uint64_t *rng, struct iovec *v, unsigned char *base, size_t len) {
    unsigned n = 1 + (unsigned)(next_rand(rng) % 3);
    size_t at = 0;
    for (unsigned i = 0; i < n; i++) {
        size_t part = (i + 1 == n) ? len - at : (size_t)(next_rand(rng) % (len - at + 1));
        v[i].iov_base = base + at;
        v[i].iov_len = part;
        at += part;
    }
    return n;
}

static void build(dworker *w, dslot *s, struct dmio_usrreq *r, uint32_t id) {
    int nin = w->func == 0 ? 1 : w->func == 1 ? 2 : 0;
    s->len = (size_t)(next_rand(&w->rng) % (MAXLEN + 1));
    s->id = id;
    s->fill = (uint8_t)next_rand(&w->rng);
    memset(r, 0, sizeof *r);
    r->req_id = id;
    r->req_immediate[0] = s->fill;
    memset(s->dst, 0xEE, s->len);
    r->req_outbuf.dmbuf_iov = s->out;
    r->req_outbuf.dmbuf_iovcnt = scatter(&w->rng, s->out, s->dst, s->len);
    for (int j = 0; j < nin; j++) {
        for (size_t b = 0; b < s->len; b++) s->src[j][b] = (unsigned char)next_rand(&w->rng);
        s->inbuf[j].dmbuf_iov = s->in[j];
        s->inbuf[j].dmbuf_iovcnt = scatter(&w->rng, s->in[j], s->src[j], s->len);
    }
    r->req_inbuf = nin ? s->inbuf : NULL;
    s->busy = 1;
}

static int verify(dworker *w, dslot *s) {
    for (size_t b = 0; b < s->len; b++) {
        unsigned char want = w->func == 0 ? s->src[0][b] : w->func == 1 ? s->src[0][b] ^ s->src[1][b]
                           : w->func == 2 ? s->fill : 0;
        if (s->dst[b] != want) return 0;
    }
    return 1;
}

static void *dmover_thread(void *arg) {
    dworker *w = arg;
    int fd = dmover_open(O_NONBLOCK);
    if (fd < 0) { w->errors++; return NULL; }
    struct dmio_setfunc sf;
    memset(&sf, 0, sizeof sf);
    strcpy(sf.dsf_name, dfuncs[w->func]);
    if (dmover_ioctl(fd, DMIO_SETFUNC, &sf) != 0) { w->errors++; dmover_close(fd); return NULL; }
    /* Slot i carries ids i, i+64, i+128 ...: an answer names its slot. */
    long sent = 0;
    int inflight = 0;
    struct dmio_usrreq reqs[SLOTS];
    struct dmio_usrresp resp[SLOTS];
    while (w->answered < dper && !w->errors) {
        int n = 0;
        while (sent < dper && inflight + n < SLOTS) {
            dslot *s = &w->slots[sent % SLOTS];
            if (s->busy) break;
            build(w, s, &reqs[n++], (uint32_t)sent);
            sent++;
        }
        if (n) {
            ssize_t wr = dmover_write(fd, reqs, (size_t)n * sizeof reqs[0]);
            int took = wr < 0 ? 0 : (int)(wr / (ssize_t)sizeof reqs[0]);
            if (wr < 0 && errno != EWOULDBLOCK) { w->errors++; break; }
            /* Records not taken are rebuilt later with the same ids. */
            for (int i = took; i < n; i++) w->slots[reqs[i].req_id % SLOTS].busy = 0;
            sent -= n - took;
            inflight += took;
        }
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 1000) < 0) continue;
        ssize_t rd = dmover_read(fd, resp, sizeof resp);
        if (rd < 0) {
            if (errno != EWOULDBLOCK) w->errors++;
            continue;
        }
        for (int i = 0; i < (int)(rd / (ssize_t)sizeof resp[0]); i++) {
            dslot *s = &w->slots[resp[i].resp_id % SLOTS];
            if (!s->busy || s->id != resp[i].resp_id || resp[i].resp_error || !verify(w, s)) w->errors++;
            s->busy = 0;
            w->answered++;
            inflight--;
        }
    }
    if (dmover_close(fd) != 0) w->errors++;
    return NULL;
}

static void test_dmover_random_requests(void) {
    dper = soak ? 250000 : 10000;
    dworker w[DTHREADS];
    pthread_t t[DTHREADS];
    for (int i = 0; i < DTHREADS; i++) {
        w[i] = (dworker){.func = i, .rng = seed + (uint64_t)i};
        w[i].slots = calloc(SLOTS, sizeof(dslot));
        CHECK(w[i].slots != NULL);
        CHECK_EQ(pthread_create(&t[i], NULL, dmover_thread, &w[i]), 0);
    }
    long answered = 0, errors = 0;
    for (int i = 0; i < DTHREADS; i++) {
        pthread_join(t[i], NULL);
        answered += w[i].answered;
        errors += w[i].errors;
        free(w[i].slots);
    }
    printf("  %d descriptors x %ld requests: %ld answered once and byte-exact, %ld errors\n", DTHREADS, dper,
           answered - errors, errors);
    CHECK_EQ(errors, 0);
    CHECK_EQ(answered, (long)DTHREADS * dper);
}

/* --- kqueues opened and closed with timers, signals and user events --------- */

static void test_kqueue_churn(void) {
    long count = soak ? 10000 : 2000;
    signal(SIGUSR2, SIG_IGN);
    for (long i = 0; i < count; i++) {
        int kq = kqueue();
        CHECK(kq >= 0);
        struct kevent ch[3], ev[3];
        EV_SET(&ch[0], 1, EVFILT_TIMER, EV_ADD | EV_ONESHOT, NOTE_USECONDS, 50, NULL);
        EV_SET(&ch[1], SIGUSR2, EVFILT_SIGNAL, EV_ADD | EV_ONESHOT, 0, 0, NULL);
        EV_SET(&ch[2], 3, EVFILT_USER, EV_ADD | EV_ONESHOT, NOTE_TRIGGER, 0, NULL);
        CHECK_EQ(kevent(kq, ch, 3, NULL, 0, NULL), 0);
        CHECK_EQ(raise(SIGUSR2), 0);
        int got = 0;
        struct timespec wait = {5, 0};
        while (got < 3) {
            int n = kevent(kq, NULL, 0, ev, 3, &wait);
            CHECK(n > 0);
            got += n;
        }
        CHECK_EQ(got, 3);
        /* Every other kqueue is closed with a live periodic timer and watch still in it. */
        if (i & 1) {
            EV_SET(&ch[0], 2, EVFILT_TIMER, EV_ADD, 0, 1, NULL);
            EV_SET(&ch[1], SIGUSR2, EVFILT_SIGNAL, EV_ADD, 0, 0, NULL);
            CHECK_EQ(kevent(kq, ch, 2, NULL, 0, NULL), 0);
        }
        CHECK_EQ(close(kq), 0);
    }
    printf("  %ld kqueues, each with a timer, a signal and a user event delivered\n", count);
}

int main(void) {
    soak = getenv("BSDSHIM_SOAK") && atoi(getenv("BSDSHIM_SOAK")) > 0;
    const char *s = getenv("SOAK_SEED");
    seed = s ? strtoull(s, NULL, 0) : (uint64_t)time(NULL);
    printf("soak %s, seed %llu (repeat with SOAK_SEED=%llu)\n", soak ? "full" : "short", (unsigned long long)seed,
           (unsigned long long)seed);
    /* Warm-up: the library's first-use threads and tables are not a leak. */
    int kq = kqueue();
    close(kq);
    dmover_close(dmover_open(0));         /* returns once its thread and socket are gone */
    libkqueue_drain_pending_close();
    int fds0 = harness_fd_count();
    long rss0 = harness_rss_kib();
    RUN(test_user_dispatch_exactly_once);
    RUN(test_dmover_random_requests);
    RUN(test_kqueue_churn);
    libkqueue_drain_pending_close();
    int fds1 = harness_fd_count();
    long rss1 = harness_rss_kib();
    printf("descriptors %d -> %d, RSS %ld KiB -> %ld KiB\n", fds0, fds1, rss0, rss1);
    if (fds1 != fds0) {
        fprintf(stderr, "descriptor count changed\n");
        harness_failed++;
    }
    return harness_finish();
}
