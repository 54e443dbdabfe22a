// SPDX-License-Identifier: BSD-2-Clause
// AVX2Kernels.swift: the kernels compiled for AVX2 (-target-cpu haswell).
// Only non-generic entry points: the bodies are inlined here (nm shows no weak symbols).

import DmoverKernels
internal import CDmoverIntrin
import _Builtin_intrinsics.intel

@inline(__always)
private func stream(_ p: UnsafeMutableRawPointer, _ v: Block) {
    let m = p.assumingMemoryBound(to: __m256i.self)
    _mm256_stream_si256(m, unsafeBitCast(v.lowHalf, to: __m256i.self))
    _mm256_stream_si256(m + 1, unsafeBitCast(v.highHalf, to: __m256i.self))
}

@inline(__always)
private func fence() {
    cdm_sfence()
}

/// xor of 9 or more inputs: the pointer-array loop for the bulk (after a
/// head that aligns the output for non-temporal stores), the unrolled body
/// for head and tail.
@inline(__always)
private func xorMany<let N: Int>(_ d: UnsafeMutableRawPointer, _ s: UnsafePointer<UnsafeRawPointer>,
                                 _ p: InlineArray<N, UnsafeRawPointer>, _ n: Int, _ nt: Bool) {
    let head = nt ? min(n, (64 &- (Int(bitPattern: d) & 63)) & 63) : 0
    if head > 0 { dmoverXorBody(d, p, head, false, stream: stream, fence: fence) }
    let done = dmoverXorManyBulk(d, s, N, from: head, n, nt: nt, stream: stream)
    if nt { fence() }
    if done < n {
        var q = p
        for j in 0..<N { q[j] = p[j] + done }
        dmoverXorBody(d + done, q, n &- done, false, stream: stream, fence: fence)
    }
}

/// Kernel entry points, AVX2 (-target-cpu haswell). Call only when the CPU has the ISA.
public enum AVX2Kernels {
    public static func fill(_ d: UnsafeMutableRawPointer, _ p: UInt64, _ n: Int, _ nt: Bool) {
        dmoverFillBody(d, p, n, nt, stream: stream, fence: fence)
    }

    public static func copy(_ d: UnsafeMutableRawPointer, _ s: UnsafeRawPointer, _ n: Int, _ nt: Bool) {
        dmoverCopyBody(d, s, n, nt, stream: stream, fence: fence)
    }

    /// fill for CPUs that prefer rep movsb, which have fast rep stosb too
    /// (the pattern is one byte repeated).
    public static func fillRepString(_ d: UnsafeMutableRawPointer, _ p: UInt64, _ n: Int, _ nt: Bool) {
        if !nt && n >= dmoverRepCopyMinimum {
            cdm_rep_stosb(d, UInt8(truncatingIfNeeded: p), UInt(n))
        } else {
            dmoverFillBody(d, p, n, nt, stream: stream, fence: fence)
        }
    }

    /// copy for CPUs that prefer rep movsb (see dmoverRepCopyMinimum).
    public static func copyRepString(_ d: UnsafeMutableRawPointer, _ s: UnsafeRawPointer, _ n: Int, _ nt: Bool) {
        if !nt && n >= dmoverRepCopyMinimum {
            cdm_rep_movsb(d, s, UInt(n))
        } else {
            dmoverCopyBody(d, s, n, nt, stream: stream, fence: fence)
        }
    }

    public static func compare(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ n: Int) -> Int {
        dmoverCompareBody(a, b, n)
    }

    public static func xor2(_ d: UnsafeMutableRawPointer, _ s: UnsafePointer<UnsafeRawPointer>, _ n: Int, _ nt: Bool) {
        let p: InlineArray<2, UnsafeRawPointer> = [s[0], s[1]]
        dmoverXorBody(d, p, n, nt, stream: stream, fence: fence)
    }

    public static func xor3(_ d: UnsafeMutableRawPointer, _ s: UnsafePointer<UnsafeRawPointer>, _ n: Int, _ nt: Bool) {
        let p: InlineArray<3, UnsafeRawPointer> = [s[0], s[1], s[2]]
        dmoverXorBody(d, p, n, nt, stream: stream, fence: fence)
    }

    public static func xor4(_ d: UnsafeMutableRawPointer, _ s: UnsafePointer<UnsafeRawPointer>, _ n: Int, _ nt: Bool) {
        let p: InlineArray<4, UnsafeRawPointer> = [s[0], s[1], s[2], s[3]]
        dmoverXorBody(d, p, n, nt, stream: stream, fence: fence)
    }

    public static func xor5(_ d: UnsafeMutableRawPointer, _ s: UnsafePointer<UnsafeRawPointer>, _ n: Int, _ nt: Bool) {
        let p: InlineArray<5, UnsafeRawPointer> = [s[0], s[1], s[2], s[3], s[4]]
        dmoverXorBody(d, p, n, nt, stream: stream, fence: fence)
    }

    public static func xor6(_ d: UnsafeMutableRawPointer, _ s: UnsafePointer<UnsafeRawPointer>, _ n: Int, _ nt: Bool) {
        let p: InlineArray<6, UnsafeRawPointer> = [s[0], s[1], s[2], s[3], s[4], s[5]]
        dmoverXorBody(d, p, n, nt, stream: stream, fence: fence)
    }

    public static func xor7(_ d: UnsafeMutableRawPointer, _ s: UnsafePointer<UnsafeRawPointer>, _ n: Int, _ nt: Bool) {
        let p: InlineArray<7, UnsafeRawPointer> = [s[0], s[1], s[2], s[3], s[4], s[5], s[6]]
        dmoverXorBody(d, p, n, nt, stream: stream, fence: fence)
    }

    public static func xor8(_ d: UnsafeMutableRawPointer, _ s: UnsafePointer<UnsafeRawPointer>, _ n: Int, _ nt: Bool) {
        let p: InlineArray<8, UnsafeRawPointer> = [s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]]
        dmoverXorBody(d, p, n, nt, stream: stream, fence: fence)
    }

    public static func xor9(_ d: UnsafeMutableRawPointer, _ s: UnsafePointer<UnsafeRawPointer>, _ n: Int, _ nt: Bool) {
        let p: InlineArray<9, UnsafeRawPointer> = [s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8]]
        xorMany(d, s, p, n, nt)
    }

    public static func xor10(_ d: UnsafeMutableRawPointer, _ s: UnsafePointer<UnsafeRawPointer>, _ n: Int, _ nt: Bool) {
        let p: InlineArray<10, UnsafeRawPointer> = [s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8], s[9]]
        xorMany(d, s, p, n, nt)
    }

    public static func xor11(_ d: UnsafeMutableRawPointer, _ s: UnsafePointer<UnsafeRawPointer>, _ n: Int, _ nt: Bool) {
        let p: InlineArray<11, UnsafeRawPointer> = [s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8], s[9], s[10]]
        xorMany(d, s, p, n, nt)
    }

    public static func xor12(_ d: UnsafeMutableRawPointer, _ s: UnsafePointer<UnsafeRawPointer>, _ n: Int, _ nt: Bool) {
        let p: InlineArray<12, UnsafeRawPointer> = [s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8], s[9], s[10], s[11]]
        xorMany(d, s, p, n, nt)
    }

    public static func xor13(_ d: UnsafeMutableRawPointer, _ s: UnsafePointer<UnsafeRawPointer>, _ n: Int, _ nt: Bool) {
        let p: InlineArray<13, UnsafeRawPointer> = [s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8], s[9], s[10], s[11], s[12]]
        xorMany(d, s, p, n, nt)
    }

    public static func xor14(_ d: UnsafeMutableRawPointer, _ s: UnsafePointer<UnsafeRawPointer>, _ n: Int, _ nt: Bool) {
        let p: InlineArray<14, UnsafeRawPointer> = [s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8], s[9], s[10], s[11], s[12], s[13]]
        xorMany(d, s, p, n, nt)
    }

    public static func xor15(_ d: UnsafeMutableRawPointer, _ s: UnsafePointer<UnsafeRawPointer>, _ n: Int, _ nt: Bool) {
        let p: InlineArray<15, UnsafeRawPointer> = [s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8], s[9], s[10], s[11], s[12], s[13], s[14]]
        xorMany(d, s, p, n, nt)
    }

    public static func xor16(_ d: UnsafeMutableRawPointer, _ s: UnsafePointer<UnsafeRawPointer>, _ n: Int, _ nt: Bool) {
        let p: InlineArray<16, UnsafeRawPointer> = [s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8], s[9], s[10], s[11], s[12], s[13], s[14], s[15]]
        xorMany(d, s, p, n, nt)
    }
}
