/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * shims.c: CPU feature tests and pthread_atfork, out of line (hidden).
 */
#include "CBSDShim.h"

#include <linux/futex.h>

#define HIDDEN __attribute__((visibility("hidden")))

HIDDEN int cbsdshim_cpu_has_avx2(void) { return __builtin_cpu_supports("avx2"); }
HIDDEN int cbsdshim_cpu_has_avx512bw(void) {
    return __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512f");
}
HIDDEN int cbsdshim_cpu_has_sse42(void) { return __builtin_cpu_supports("sse4.2"); }
HIDDEN int cbsdshim_cpu_has_pclmul(void) { return __builtin_cpu_supports("pclmul"); }
HIDDEN int cbsdshim_cpu_has_vpclmulqdq(void) {
#if defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 11)
    return __builtin_cpu_supports("vpclmulqdq");
#else
    return 0;
#endif
}

HIDDEN int cbsdshim_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void)) {
    return pthread_atfork(prepare, parent, child);
}

HIDDEN void cbsdshim_lock_wait(uint32_t *word) {
    uint32_t c = __atomic_exchange_n(word, 2, __ATOMIC_ACQUIRE);
    while (c != 0) {
        syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, 2, NULL, NULL, 0);
        c = __atomic_exchange_n(word, 2, __ATOMIC_ACQUIRE);
    }
}

HIDDEN void cbsdshim_lock_wake(uint32_t *word) {
    syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}
