/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * fork.c: dmover keeps working in a child forked without exec: after the
 * parent has started every library thread (completion, swdmover, split
 * helpers), and while another parent thread keeps submitting, the child runs
 * asynchronous, callback, polled and WAIT requests (its threads start again);
 * the parent is unaffected. A child that hangs is killed by alarm().
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>
#include "dmtest.h"

#define BIG (1u << 20)          /* above the inline limit: runs on the swdmover thread */
#define SPLIT (4u << 20)        /* split across helpers (BSDSHIM_DMOVER_SPLIT_MIN below) */

static atomic_int callbacks;

static void count_callback(struct dmover_request *r) {
    (void)r;
    atomic_fetch_add(&callbacks, 1);
}

static void setup_copy(struct dmover_request *r, void *dst, const void *src, size_t n) {
    r->dreq_outbuf_type = r->dreq_inbuf_type = DMOVER_BUF_LINEAR;
    r->dreq_outbuf.dmbuf_linear.l_addr = dst;
    r->dreq_outbuf.dmbuf_linear.l_len = n;
    r->dreq_inbuf[0].dmbuf_linear.l_addr = (void *)src;
    r->dreq_inbuf[0].dmbuf_linear.l_len = n;
}

/* One round of every submission style; returns 0 when all results are right. */
static int exercise(void) {
    static unsigned char src[SPLIT], dst[SPLIT];
    for (size_t i = 0; i < SPLIT; i += 4096) src[i] = (unsigned char)dmtest_rand();
    struct dmover_session *s;
    if (dmover_session_create(DMOVER_FUNC_COPY, &s) != 0) return 1;
    int bad = 0;

    /* WAIT, split across the helper threads. */
    struct dmover_request *r = dmover_request_alloc(s, NULL);
    setup_copy(r, dst, src, SPLIT);
    r->dreq_flags |= DMOVER_REQ_WAIT;
    dmover_process(r);
    bad |= !(r->dreq_flags & DMOVER_REQ_DONE) || memcmp(src, dst, SPLIT) != 0;
    dmover_request_free(r);

    /* Asynchronous, polled: runs on the swdmover thread. */
    memset(dst, 0, BIG);
    r = dmover_request_alloc(s, NULL);
    setup_copy(r, dst, src, BIG);
    dmover_process(r);
    while (!(__atomic_load_n(&r->dreq_flags, __ATOMIC_ACQUIRE) & DMOVER_REQ_DONE)) usleep(100);
    bad |= (r->dreq_flags & DMOVER_REQ_ERROR) || memcmp(src, dst, BIG) != 0;
    dmover_request_free(r);

    /* Callbacks: small (inline) and large; both run on the completion thread. */
    int before = atomic_load(&callbacks);
    struct dmover_request *small = dmover_request_alloc(s, NULL), *large = dmover_request_alloc(s, NULL);
    setup_copy(small, dst, src, 100);
    setup_copy(large, dst + BIG, src + BIG, BIG);
    small->dreq_callback = large->dreq_callback = count_callback;
    dmover_process(small);
    dmover_process(large);
    while (atomic_load(&callbacks) < before + 2) usleep(100);
    bad |= memcmp(src, dst, 100) != 0 || memcmp(src + BIG, dst + BIG, BIG) != 0;
    dmover_request_free(small);
    dmover_request_free(large);

    dmover_session_destroy(s);
    return bad;
}

/* Forks; the child runs `exercise` under an alarm. Returns the child's wait status. */
static int fork_and_exercise(void) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        alarm(20);
        _exit(exercise() == 0 ? 0 : 3);
    }
    if (pid < 0) return -1;
    /* The child's alarm cannot help if it hangs before alarm() runs (inside
     * fork itself): the parent gives it 60 s, then kills it. */
    int status = -1;
    for (int waited = 0; waited < 6000; waited++) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) return status;
        if (r < 0) return -1;
        usleep(10000);
    }
    kill(pid, SIGKILL);
    return waitpid(pid, &status, 0) == pid ? status : -1;
}

static void test_child_after_threads_started(void) {
    CHECK_EQ(exercise(), 0);                 /* every library thread now exists */
    int status = fork_and_exercise();
    CHECK(WIFEXITED(status));
    CHECK_EQ(WEXITSTATUS(status), 0);
    CHECK_EQ(exercise(), 0);                 /* the parent is unaffected */
}

static void test_grandchild(void) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        alarm(40);
        if (exercise() != 0) _exit(3);
        int status = fork_and_exercise();
        _exit(WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 4);
    }
    int status = -1;
    CHECK_EQ(waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status));
    CHECK_EQ(WEXITSTATUS(status), 0);
}

/* A parent thread churns sessions and requests (taking every library lock) while main forks. */
static atomic_int stop;

static void *churn(void *arg) {
    (void)arg;
    static unsigned char a[256 << 10], b[256 << 10];
    for (unsigned i = 0; !atomic_load(&stop); i++) {
        struct dmover_session *s;
        if (dmover_session_create(DMOVER_FUNC_COPY, &s) != 0) continue;
        struct dmover_request *r = dmover_request_alloc(s, NULL);
        setup_copy(r, b, a, sizeof a);
        r->dreq_callback = (i & 1) ? NULL : count_callback;
        dmover_process(r);
        while (!(__atomic_load_n(&r->dreq_flags, __ATOMIC_ACQUIRE) & DMOVER_REQ_DONE)) sched_yield();
        dmover_request_free(r);
        dmover_session_destroy(s);
    }
    return NULL;
}

/* Under ThreadSanitizer the Swift runtime never marks a finished lazy global
 * as done in its fast path (so that every access goes through a lock TSan can
 * see): a parent thread reading any Swift global at the moment of fork leaves
 * that lock held in the child, which then hangs on its first use. Release
 * builds take no lock after initialisation, so this runs everywhere else. */
#if defined(__SANITIZE_THREAD__)
#define FORK_WHILE_BUSY_UNSUPPORTED 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define FORK_WHILE_BUSY_UNSUPPORTED 1
#endif
#endif

static void test_fork_while_busy(void) {
#ifdef FORK_WHILE_BUSY_UNSUPPORTED
    printf("  skipped: the Swift runtime's TSan-mode lazy globals cannot survive fork from a busy process\n");
    return;
#endif
    pthread_t t;
    atomic_store(&stop, 0);
    CHECK_EQ(pthread_create(&t, NULL, churn, NULL), 0);
    int failures = 0;
    for (int i = 0; i < 20; i++) {
        int status = fork_and_exercise();
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            printf("  fork %d: child %s %d\n", i, WIFEXITED(status) ? "exited with" : "killed by signal",
                   WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
            failures++;
            break;
        }
    }
    atomic_store(&stop, 2);
    pthread_join(t, NULL);
    CHECK_EQ(failures, 0);
    CHECK_EQ(exercise(), 0);
}

int main(void) {
    /* Read once, at the first dmover call: 3 split parts from 64 KiB on. */
    setenv("BSDSHIM_DMOVER_THREADS", "3", 1);
    setenv("BSDSHIM_DMOVER_SPLIT_MIN", "65536", 1);
    dmtest_seed();
    RUN(test_child_after_threads_started);
    RUN(test_grandchild);
    RUN(test_fork_while_busy);
    return harness_finish();
}
