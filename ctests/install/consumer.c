/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * consumer.c: a tiny program built against the installed tree only (headers
 * from <prefix>/include, libbsdshim.so from <prefix>/lib): one kqueue wait on
 * a pipe and one dmover copy. Exits 0 when both work.
 */
#include <dev/dmover/dmovervar.h>
#include <stdio.h>
#include <string.h>
#include <sys/event.h>
#include <unistd.h>

static int fail(const char *what) {
    perror(what);
    return 1;
}

int main(void) {
    int p[2];
    if (pipe(p) != 0) return fail("pipe");
    int kq = kqueue();
    if (kq < 0) return fail("kqueue");
    struct kevent ev;
    EV_SET(&ev, p[0], EVFILT_READ, EV_ADD, 0, 0, NULL);
    if (kevent(kq, &ev, 1, NULL, 0, NULL) != 0) return fail("kevent add");
    if (write(p[1], "hello", 5) != 5) return fail("write");
    struct timespec wait = {5, 0};
    int n = kevent(kq, NULL, 0, &ev, 1, &wait);
    if (n != 1 || ev.ident != (uintptr_t)p[0] || ev.data != 5) {
        fprintf(stderr, "kevent: n=%d ident=%lu data=%ld\n", n, (unsigned long)ev.ident, (long)ev.data);
        return 1;
    }

    struct dmover_session *s;
    int e = dmover_session_create(DMOVER_FUNC_COPY, &s);
    if (e != 0) {
        fprintf(stderr, "dmover_session_create: %s\n", strerror(e));
        return 1;
    }
    char src[64] = "data moved by dmover", dst[64] = {0};
    struct dmover_request *r = dmover_request_alloc(s, NULL);
    if (r == NULL) return fail("dmover_request_alloc");
    r->dreq_outbuf_type = r->dreq_inbuf_type = DMOVER_BUF_LINEAR;
    r->dreq_outbuf.dmbuf_linear.l_addr = dst;
    r->dreq_outbuf.dmbuf_linear.l_len = sizeof dst;
    r->dreq_inbuf[0].dmbuf_linear.l_addr = src;
    r->dreq_inbuf[0].dmbuf_linear.l_len = sizeof src;
    r->dreq_flags |= DMOVER_REQ_WAIT;
    dmover_process(r);
    if ((r->dreq_flags & DMOVER_REQ_ERROR) || memcmp(src, dst, sizeof src) != 0) {
        fprintf(stderr, "dmover copy failed (error %d)\n", r->dreq_error);
        return 1;
    }
    dmover_request_free(r);
    dmover_session_destroy(s);
    close(kq);
    puts("consumer: kqueue and dmover work");
    return 0;
}
