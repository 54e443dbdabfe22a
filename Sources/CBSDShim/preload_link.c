/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * preload_link.c: what libbsdshim asks of libbsdshim-preload.so when a
 * program runs under it. The preload library sees the program's calls
 * (sigaction, getsockopt, recv...), so BSD semantics that Linux can give
 * only by changing what those calls return are done with its help; linked
 * without it, these find nothing and the library keeps its documented
 * Linux behaviour.
 */
#define _GNU_SOURCE
#include "CBSDShim.h"

#include <dlfcn.h>
#include <stdatomic.h>

#define HIDDEN __attribute__((visibility("hidden")))

HIDDEN void *cbsdshim_preload_symbol(const char *name) {
    return dlsym(RTLD_DEFAULT, name);
}

static int (*socket_error)(int, int);
static pthread_once_t socket_error_once = PTHREAD_ONCE_INIT;

static void find_socket_error(void) {
    socket_error = (int (*)(int, int))cbsdshim_preload_symbol("bsdshim_preload_socket_error");
}

HIDDEN int cbsdshim_socket_error_peek(int fd, int may_read) {
    pthread_once(&socket_error_once, find_socket_error);
    return socket_error != NULL ? socket_error(fd, may_read) : 0;
}
