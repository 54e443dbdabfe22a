/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * preload_link.c: what libbsdshim asks of libbsdshim-preload.so when a
 * program runs under it. The preload library sees the program's calls
 * (sigaction...), so BSD semantics that Linux can give
 * only by changing what those calls return are done with its help; linked
 * without it, these find nothing and the library keeps its documented
 * Linux behaviour.
 */
#define _GNU_SOURCE
#include "CBSDShim.h"

#include <dlfcn.h>

#define HIDDEN __attribute__((visibility("hidden")))

HIDDEN void *cbsdshim_preload_symbol(const char *name) {
    return dlsym(RTLD_DEFAULT, name);
}
