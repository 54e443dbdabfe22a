// SPDX-License-Identifier: BSD-2-Clause
// CRCKernels.swift: CRC-32C with SSE4.2 crc32 and PCLMULQDQ folding of
// 8 × 16-byte streams (module built with -Xcc -msse4.2 -Xcc -mpclmul).
//
// Folding (reflected CRC): a 16-byte lane X = L·x^64 + H that sits d bits
// before data W is replaced by X·x^d mod P, computed as clmul(L, x^(d+63))
// ^ clmul(H, x^(d-1)) (the extra x^-1 undoes clmul's one-bit shift on
// reflected operands), then XORed into W. The last lane is congruent to
// everything before it, so its CRC from register 0, continued over the tail,
// is the CRC of the whole buffer. The incoming register is XORed into the
// first 4 bytes, which equals starting the CRC from it.

internal import CDmoverIntrin
import DmoverKernels
import _Builtin_intrinsics.intel

/// Fold constants for one distance d (bits): (x^(d+63), x^(d-1)) mod P.
@inline(__always)
private func foldConstants(_ d: Int) -> __m128i {
    __m128i(Int64(bitPattern: crc32cFoldConstant(d + 63)), Int64(bitPattern: crc32cFoldConstant(d - 1)))
}

/// X·x^d mod P for the constants of d.
@inline(__always)
func crcFold(_ x: __m128i, _ k: __m128i) -> __m128i {
    cdm_clmul_lo(x, k) ^ cdm_clmul_hi(x, k)
}

/// Kernel entry points, SSE4.2 + PCLMUL. Call only when the CPU has both.
public enum CRCKernels {
    static let k128 = foldConstants(128)
    static let k1024 = foldConstants(1024)

    /// Raw CRC-32C register update with the crc32 instruction, one stream (short buffers).
    @inline(__always)
    static func crcShort(_ crc: UInt32, _ p: UnsafeRawPointer, _ n: Int) -> UInt32 {
        var c = UInt64(crc)
        var i = 0
        while i &+ 8 <= n { c = _mm_crc32_u64(c, p.loadUnaligned(fromByteOffset: i, as: UInt64.self)); i &+= 8 }
        var c32 = UInt32(truncatingIfNeeded: c)
        while i < n { c32 = _mm_crc32_u8(c32, p.load(fromByteOffset: i, as: UInt8.self)); i &+= 1 }
        return c32
    }

    /// CRC of a folded 16-byte lane from register 0.
    @inline(__always)
    static func crcOfLane(_ x: __m128i) -> UInt32 {
        var c: UInt64 = 0
        c = _mm_crc32_u64(c, UInt64(bitPattern: x[0]))
        c = _mm_crc32_u64(c, UInt64(bitPattern: x[1]))
        return UInt32(truncatingIfNeeded: c)
    }

    /// Folds the 16-byte blocks of p[i..<n] into x; returns the new offset.
    @inline(__always)
    static func foldTail(_ x: inout __m128i, _ p: UnsafeRawPointer, _ i: Int, _ n: Int) -> Int {
        var i = i
        let k = k128
        while i &+ 16 <= n {
            x = crcFold(x, k) ^ p.loadUnaligned(fromByteOffset: i, as: __m128i.self)
            i &+= 16
        }
        return i
    }

    /// Raw CRC-32C register update (no inversions).
    public static func crc(_ crc: UInt32, _ p: UnsafeRawPointer, _ n: Int) -> UInt32 {
        if n < 256 { return crcShort(crc, p, n) }
        var x0 = p.loadUnaligned(fromByteOffset: 0, as: __m128i.self) ^ __m128i(Int64(crc), 0)
        var x1 = p.loadUnaligned(fromByteOffset: 16, as: __m128i.self)
        var x2 = p.loadUnaligned(fromByteOffset: 32, as: __m128i.self)
        var x3 = p.loadUnaligned(fromByteOffset: 48, as: __m128i.self)
        var x4 = p.loadUnaligned(fromByteOffset: 64, as: __m128i.self)
        var x5 = p.loadUnaligned(fromByteOffset: 80, as: __m128i.self)
        var x6 = p.loadUnaligned(fromByteOffset: 96, as: __m128i.self)
        var x7 = p.loadUnaligned(fromByteOffset: 112, as: __m128i.self)
        var i = 128
        let k = k1024
        while i &+ 128 <= n {
            x0 = crcFold(x0, k) ^ p.loadUnaligned(fromByteOffset: i, as: __m128i.self)
            x1 = crcFold(x1, k) ^ p.loadUnaligned(fromByteOffset: i &+ 16, as: __m128i.self)
            x2 = crcFold(x2, k) ^ p.loadUnaligned(fromByteOffset: i &+ 32, as: __m128i.self)
            x3 = crcFold(x3, k) ^ p.loadUnaligned(fromByteOffset: i &+ 48, as: __m128i.self)
            x4 = crcFold(x4, k) ^ p.loadUnaligned(fromByteOffset: i &+ 64, as: __m128i.self)
            x5 = crcFold(x5, k) ^ p.loadUnaligned(fromByteOffset: i &+ 80, as: __m128i.self)
            x6 = crcFold(x6, k) ^ p.loadUnaligned(fromByteOffset: i &+ 96, as: __m128i.self)
            x7 = crcFold(x7, k) ^ p.loadUnaligned(fromByteOffset: i &+ 112, as: __m128i.self)
            i &+= 128
        }
        let k1 = k128
        var x = crcFold(x0, k1) ^ x1
        x = crcFold(x, k1) ^ x2
        x = crcFold(x, k1) ^ x3
        x = crcFold(x, k1) ^ x4
        x = crcFold(x, k1) ^ x5
        x = crcFold(x, k1) ^ x6
        x = crcFold(x, k1) ^ x7
        i = foldTail(&x, p, i, n)
        return crcShort(crcOfLane(x), p + i, n &- i)
    }
}
