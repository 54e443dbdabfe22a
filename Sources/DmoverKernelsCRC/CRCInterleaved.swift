// SPDX-License-Identifier: BSD-2-Clause
// CRCInterleaved.swift: CRC-32C as three independent crc32-instruction chains
// over three consecutive thirds of a block, joined with one carry-less
// multiply per chain (module built with -Xcc -msse4.2 -Xcc -mpclmul).
//
// The crc32 instruction has a latency of 3 cycles and a throughput of one per
// cycle on current x86 cores, so one chain runs at a third of the unit's rate;
// three chains fill it (8 bytes per cycle). That beats 128-bit PCLMULQDQ
// folding on cores whose carry-less multiply is slow (AMD before Zen 4).
//
// Joining: crc(A‖B‖C) = shift(a, |B‖C|) ^ shift(b, |C|) ^ c, where a, b, c
// are the chains' registers (b and c started from 0) and shift(r, L) =
// r·x^(8L) mod P. The two shifts are independent (one after the other, the
// join took twice the latency: ~20 cycles of ~540 at 4 KiB on Zen 2), and
// the last chain runs on over the whole 8-byte words after the three thirds
// while the others' shifts are computed.
// With r and k = x^(8L-33) mod P as the low 32 bits of two 64-bit operands, the
// low 64 bits of clmul(r, k) hold r·k·x (clmul's extra x on reflected
// operands); crc32(0, that) multiplies by x^32 and reduces: r·x^(8L) mod P.

internal import CDmoverIntrin
import DmoverKernels
import _Builtin_intrinsics.intel

/// Kernel entry point, SSE4.2 + PCLMUL, three interleaved crc32 chains.
public enum CRCInterleavedKernels {
    /// Chain length of the large blocks (bytes per chain): long enough that
    /// the join is noise, short enough that three chains stay in L1.
    static let largeChain = 8192

    /// shiftConstants[m] = x^(64m-33) mod P: the constant that shifts a
    /// register over 8m bytes, m in 1...2 · largeChain / 8 + 2 (two chains and a word tail).
    nonisolated(unsafe) static let shiftConstants: UnsafePointer<UInt32> = {
        let count = 2 * largeChain / 8 + 3
        let t = UnsafeMutablePointer<UInt32>.allocate(capacity: count)
        t[0] = 0
        t[1] = crc32cXPow(64 - 33)
        let x64 = crc32cXPow(64)
        for m in 2..<count { t[m] = crc32cMulMod(t[m - 1], x64) }
        return UnsafePointer(t)
    }()

    /// r·x^(8L) mod P for the constant k of chain length L.
    @inline(__always)
    static func shift(_ r: UInt32, _ k: UInt32) -> UInt32 {
        let p = cdm_clmul_lo(__m128i(Int64(r), 0), __m128i(Int64(k), 0))
        return UInt32(truncatingIfNeeded: _mm_crc32_u64(0, UInt64(bitPattern: p[0])))
    }

    /// One block of three chains of `l` bytes each (l a multiple of 8) from
    /// register c, then `t` more bytes (a multiple of 8) on the last chain;
    /// ks: shiftConstants.
    @inline(__always)
    static func block(_ c: UInt32, _ p: UnsafeRawPointer, _ l: Int, tail t: Int = 0, _ ks: UnsafePointer<UInt32>) -> UInt32 {
        var a = UInt64(c), b: UInt64 = 0, d: UInt64 = 0
        var i = 0
        while i < l {
            step(&a, &b, &d, p, l, i)
            i &+= 8
        }
        var j = 3 &* l
        while j < 3 &* l &+ t {
            d = _mm_crc32_u64(d, p.loadUnaligned(fromByteOffset: j, as: UInt64.self))
            j &+= 8
        }
        return join(a, b, d, ks[(2 &* l &+ t) / 8], ks[(l &+ t) / 8])
    }

    /// block(), reading the next block's lines ahead with prefetchnta, one
    /// line per chain for each 64 bytes a chain consumes (l a multiple of
    /// 64). Memory then streams in while the crc32 unit works: with only the
    /// hardware prefetchers the loop waited on memory (0.86× ISA-L at
    /// 32 MiB on Zen 2, 1.2-1.4× with this; ISA-L prefetches its next block
    /// the same way). Data still in L3 gain nothing (1 MiB: 25% slower with
    /// prefetchnta; prefetcht0 kept 1 MiB but gave 32 MiB only 0.95×), so
    /// only buffers beyond the L3 share take this loop.
    @inline(__always)
    static func blockPrefetching(_ c: UInt32, _ p: UnsafeRawPointer, _ l: Int, _ ks: UnsafePointer<UInt32>) -> UInt32 {
        var a = UInt64(c), b: UInt64 = 0, d: UInt64 = 0
        var i = 0
        let next = p + 3 &* l
        while i < l {
            cdm_prefetch_nta(next + i)
            cdm_prefetch_nta(next + (l &+ i))
            cdm_prefetch_nta(next + (2 &* l &+ i))
            for _ in 0..<8 {
                step(&a, &b, &d, p, l, i)
                i &+= 8
            }
        }
        return join(a, b, d, ks[2 &* l / 8], ks[l / 8])
    }

    /// Eight bytes at offset i of each of the three chains.
    @inline(__always)
    static func step(_ a: inout UInt64, _ b: inout UInt64, _ d: inout UInt64, _ p: UnsafeRawPointer, _ l: Int, _ i: Int) {
        a = _mm_crc32_u64(a, p.loadUnaligned(fromByteOffset: i, as: UInt64.self))
        b = _mm_crc32_u64(b, p.loadUnaligned(fromByteOffset: l &+ i, as: UInt64.self))
        d = _mm_crc32_u64(d, p.loadUnaligned(fromByteOffset: 2 &* l &+ i, as: UInt64.self))
    }

    /// The register of three consecutive chains (b and d started from 0):
    /// ka shifts a over the bytes of the other two, kb b over the last one's.
    @inline(__always)
    static func join(_ a: UInt64, _ b: UInt64, _ d: UInt64, _ ka: UInt32, _ kb: UInt32) -> UInt32 {
        shift(UInt32(truncatingIfNeeded: a), ka) ^ shift(UInt32(truncatingIfNeeded: b), kb) ^ UInt32(truncatingIfNeeded: d)
    }

    /// Raw CRC-32C register update (no inversions).
    public static func crc(_ crc: UInt32, _ p: UnsafeRawPointer, _ n: Int) -> UInt32 {
        let ks = shiftConstants
        var c = crc, i = 0
        // Buffers that come from memory (see KernelTuning): blocks of the
        // prefetch chain length, each reading the next one ahead.
        let pl = dmoverCRCPrefetchChain
        if n >= dmoverCRCPrefetchMinimum && pl >= 64 && pl <= largeChain && pl & 63 == 0 && n >= 6 &* pl {
            while i &+ 3 &* pl <= n {
                c = blockPrefetching(c, p + i, pl, ks)
                i &+= 3 &* pl
            }
        }
        let big = 3 &* largeChain
        while i &+ big <= n {
            c = block(c, p + i, largeChain, ks)
            i &+= big
        }
        // The rest split exactly in three (a constant per length), the
        // last chain running on over the 0 to 16 bytes of whole words left.
        let l = (n &- i) / 24 &* 8
        if l > 0 {
            let t = (n &- i &- 3 &* l) & ~7
            c = block(c, p + i, l, tail: t, ks)
            i &+= 3 &* l &+ t
        }
        var r = UInt64(c)
        while i &+ 8 <= n { r = _mm_crc32_u64(r, p.loadUnaligned(fromByteOffset: i, as: UInt64.self)); i &+= 8 }
        var r32 = UInt32(truncatingIfNeeded: r)
        while i < n { r32 = _mm_crc32_u8(r32, p.load(fromByteOffset: i, as: UInt8.self)); i &+= 1 }
        return r32
    }
}
