/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * CDmoverIntrin.h: the carry-less multiply intrinsics as functions. Clang
 * defines _mm_clmulepi64_si128/_mm512_clmulepi64_epi128 as macros with an
 * immediate, which Swift cannot call, and _mm_sfence is a builtin Swift
 * would call as a missing symbol. Tiny static inline wrappers, each with
 * the target attribute it needs, used only by the CRC kernel modules after a
 * CPU check; rep movsb/stosb; prefetch; CPUID; and a release store on a C int.
 * No logic.
 */
#ifndef CDMOVERINTRIN_H
#define CDMOVERINTRIN_H

/** Release store (publishes a request's DONE flag after its data). */
static inline __attribute__((always_inline)) void cdm_atomic_store_int(int *p, int v) {
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
}

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>

/** CPUID leaf/subleaf into r[0..3] = eax, ebx, ecx, edx; zeros above the highest
 *  leaf of its range (basic or extended), as the instruction itself does not promise. */
static inline __attribute__((always_inline)) void cdm_cpuid(unsigned leaf, unsigned sub, unsigned r[4]) {
    unsigned max = __get_cpuid_max(leaf & 0x80000000u, 0);
    if (leaf > max) { r[0] = r[1] = r[2] = r[3] = 0; return; }
    __cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
}

/** rep movsb: the string copy instruction (Swift has no inline assembly). */
static inline __attribute__((always_inline)) void cdm_rep_movsb(void *dst, const void *src, unsigned long n) {
    __asm__ volatile("rep movsb" : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
}

/** rep stosb: the string fill instruction. */
static inline __attribute__((always_inline)) void cdm_rep_stosb(void *dst, unsigned char byte, unsigned long n) {
    __asm__ volatile("rep stosb" : "+D"(dst), "+c"(n) : "a"(byte) : "memory");
}

/** Software prefetch for reading, non-temporal hint (prefetchnta); never faults. */
static inline __attribute__((always_inline)) void cdm_prefetch_nta(const void *p) { __builtin_prefetch(p, 0, 0); }
/** Software prefetch for reading into every cache level (prefetcht0); never faults. */

/** Orders non-temporal stores before later stores (Swift imports _mm_sfence as an external symbol). */
static inline __attribute__((always_inline)) void cdm_sfence(void) { __builtin_ia32_sfence(); }

#define CDM_PCLMUL __attribute__((always_inline, target("pclmul,sse4.2")))
#define CDM_VPCLMUL __attribute__((always_inline, target("avx512f,avx512bw,vpclmulqdq,pclmul,sse4.2")))

/** Low qword of a times low qword of b (carry-less, 128-bit result). */
static inline CDM_PCLMUL __m128i cdm_clmul_lo(__m128i a, __m128i b) { return _mm_clmulepi64_si128(a, b, 0x00); }
/** High qword of a times high qword of b. */
static inline CDM_PCLMUL __m128i cdm_clmul_hi(__m128i a, __m128i b) { return _mm_clmulepi64_si128(a, b, 0x11); }
/** Per 128-bit lane: low × low. */
static inline CDM_VPCLMUL __m512i cdm_clmul512_lo(__m512i a, __m512i b) { return _mm512_clmulepi64_epi128(a, b, 0x00); }
/** Per 128-bit lane: high × high. */
static inline CDM_VPCLMUL __m512i cdm_clmul512_hi(__m512i a, __m512i b) { return _mm512_clmulepi64_epi128(a, b, 0x11); }
/** a ^ b ^ c in one instruction (vpternlogq 0x96). */
static inline CDM_VPCLMUL __m512i cdm_xor3_512(__m512i a, __m512i b, __m512i c) {
    return _mm512_ternarylogic_epi64(a, b, c, 0x96);
}
#endif

#endif /* CDMOVERINTRIN_H */
