/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * shims.c: CPU feature tests and pthread_atfork, out of line (hidden).
 */
#include "CBSDShim.h"

#include <linux/futex.h>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

#define HIDDEN __attribute__((visibility("hidden")))

HIDDEN int cbsdshim_cpu_has_avx2(void) { return __builtin_cpu_supports("avx2"); }
HIDDEN int cbsdshim_cpu_has_avx512bw(void) {
    /* skylake-avx512 code generation may use DQ and CD too; a hypervisor's CPU model can hide them. */
    return __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512cd");
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

/* Whether this build may run the kernels' rep movsb/stosb at all (which CPUs
 * prefer them is decided in Swift, from CPUID). Sanitizer builds say no:
 * AddressSanitizer and ThreadSanitizer do not see accesses made inside inline
 * assembly, and the vector loops they do see keep the same contract. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define CBSDSHIM_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define CBSDSHIM_SANITIZED 1
#endif
HIDDEN int cbsdshim_build_allows_rep_strings(void) {
#if defined(__x86_64__) && !defined(CBSDSHIM_SANITIZED)
    return 1;
#else
    return 0;
#endif
}

HIDDEN int cbsdshim_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void)) {
    return pthread_atfork(prepare, parent, child);
}

/* The Swift runtime's one-time initialisations (swift_once: lazy globals,
 * metadata caches) lock a priority-inheritance futex holding the owner's
 * thread id, which the runtime caches in a thread-local variable. fork()
 * gives the child's only thread the forking thread's cache, the parent's id:
 * a once that thread then holds while a thread the child created waits for
 * it can never be released (FUTEX_UNLOCK_PI refuses, EPERM, and the unlock
 * spins), so a forked child whose threads first use the library together
 * hung. The child of fork() forgets the cached id in a pthread_atfork child
 * handler (children of _Fork, vfork, clone and posix_spawn run none).
 * The trade-off, which nothing outside the runtime can avoid: a once the
 * forking thread itself held across fork() (fork inside a lazy initialiser,
 * or from a signal handler that interrupted one, in a child that then
 * returns to it) names the parent's id, so the child can no longer release
 * it; POSIX already limits such a child to async-signal-safe calls when the
 * parent had threads. This reaches the runtime's variable when the runtime
 * is linked statically into the same binary (libbsdshim.so as CMake builds
 * it, or -static-stdlib); with a shared runtime the definition below is a
 * separate, unused one. Registered at load, not at first use: the child
 * needs it even when the parent never called the library. */
__attribute__((weak, visibility("hidden"))) __thread int cbsdshim_swift_cached_tid
    __asm__("_ZZN5swift14threading_impl5linux13ulock_get_tidEvE3tid");

static void forget_swift_cached_tid(void) { cbsdshim_swift_cached_tid = 0; }

__attribute__((constructor)) static void install_swift_fork_repair(void) {
    (void)pthread_atfork(NULL, NULL, forget_swift_cached_tid);
}

HIDDEN uintptr_t cbsdshim_kqueue_directory[cbsdshim_kqueue_leaf_count];

HIDDEN __thread struct cbsdshim_held_locks cbsdshim_held_kqueue_locks __attribute__((tls_model("initial-exec")));

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
