/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * libkqueue_consumer.c: a libkqueue program as written for libkqueue
 * (`pkg-config libkqueue`, <sys/event.h> from <prefix>/include/kqueue):
 * an EVFILT_USER trigger and a one-shot timer. Exits 0 when both fire.
 */
#include <stdio.h>
#include <sys/event.h>
#include <unistd.h>

#ifndef LIBKQUEUE
#error "<sys/event.h> should be the libkqueue-compatible header"
#endif

int main(void) {
    int kq = kqueue();
    if (kq < 0) {
        perror("kqueue");
        return 1;
    }
    struct kevent ch[2], ev[2];
    EV_SET(&ch[0], 1, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, NULL);
    EV_SET(&ch[1], 2, EVFILT_TIMER, EV_ADD | EV_ONESHOT, 0, 1, NULL);   /* 1 ms */
    if (kevent(kq, ch, 2, NULL, 0, NULL) != 0) {
        perror("kevent add");
        return 1;
    }
    EV_SET(&ch[0], 1, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL);
    if (kevent(kq, ch, 1, NULL, 0, NULL) != 0) {
        perror("kevent trigger");
        return 1;
    }
    int seen = 0;
    struct timespec wait = {5, 0};
    while (seen != 3) {
        int n = kevent(kq, NULL, 0, ev, 2, &wait);
        if (n <= 0) {
            fprintf(stderr, "kevent: %d (seen %d)\n", n, seen);
            return 1;
        }
        for (int i = 0; i < n; i++) seen |= ev[i].filter == EVFILT_USER ? 1 : ev[i].filter == EVFILT_TIMER ? 2 : 0;
    }
    close(kq);
    puts("libkqueue consumer: EVFILT_USER and EVFILT_TIMER work");
    return 0;
}
