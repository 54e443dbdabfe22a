/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kq_net.h: loopback TCP helpers for the kqueue C tests.
 */
#ifndef BSDSHIM_KQ_NET_H
#define BSDSHIM_KQ_NET_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

/* A TCP socket listening on 127.0.0.1 (ephemeral port); *port gets the port. */
static inline int tcp_listener(uint16_t *port) {
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t len = sizeof a;
    if (bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 16) != 0 ||
        getsockname(s, (struct sockaddr *)&a, &len) != 0) {
        close(s);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return s;
}

/* A blocking TCP client connected to 127.0.0.1:port. */
static inline int tcp_connect(uint16_t port) {
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    if (connect(s, (struct sockaddr *)&a, sizeof a) != 0) {
        close(s);
        return -1;
    }
    return s;
}

/* A connected pair over loopback TCP: c[0] client, c[1] accepted server side. */
static inline int tcp_pair(int c[2]) {
    uint16_t port;
    int l = tcp_listener(&port);
    if (l < 0) return -1;
    c[0] = tcp_connect(port);
    c[1] = c[0] < 0 ? -1 : accept(l, NULL, NULL);
    close(l);
    if (c[0] < 0 || c[1] < 0) {
        if (c[0] >= 0) close(c[0]);
        return -1;
    }
    return 0;
}

#endif
