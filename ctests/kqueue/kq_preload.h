/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kq_preload.h: tells a kqueue C test whether it runs under
 * libbsdshim-preload.so (the kqueue_<name>_preload variants), where BSD
 * semantics that need the program's calls interposed apply (exact signal
 * counts, socket errors in fflags): as ctest runs them, with LD_PRELOAD.
 */
#ifndef BSDSHIM_KQ_PRELOAD_H
#define BSDSHIM_KQ_PRELOAD_H

#include <stdlib.h>
#include <string.h>

static inline int kq_under_preload(void) {
    const char *p = getenv("LD_PRELOAD");
    return p != NULL && strstr(p, "bsdshim-preload") != NULL;
}

#endif
