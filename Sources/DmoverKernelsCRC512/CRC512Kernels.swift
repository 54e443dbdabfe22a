// SPDX-License-Identifier: BSD-2-Clause
// CRC512Kernels.swift: CRC-32C by VPCLMULQDQ folding of 16 × 16-byte lanes in
// four zmm registers (module built for skylake-avx512 + vpclmulqdq + sse4.2).
// The folding math is the one described in CRCKernels.swift.

internal import CDmoverIntrin
import DmoverKernels
import _Builtin_intrinsics.intel

/// (x^(d+63), x^(d-1)) mod P in one 128-bit lane.
@inline(__always)
private func lane(_ d: Int) -> (Int64, Int64) {
    (Int64(bitPattern: crc32cFoldConstant(d + 63)), Int64(bitPattern: crc32cFoldConstant(d - 1)))
}

/// The same constants in every 128-bit lane of a zmm.
@inline(__always)
private func wide(_ d: Int) -> __m512i {
    let (a, b) = lane(d)
    return __m512i(a, b, a, b, a, b, a, b)
}

@inline(__always)
private func narrow(_ d: Int) -> __m128i {
    let (a, b) = lane(d)
    return __m128i(a, b)
}

@inline(__always)
private func fold512(_ x: __m512i, _ k: __m512i, _ w: __m512i) -> __m512i {
    cdm_xor3_512(cdm_clmul512_lo(x, k), cdm_clmul512_hi(x, k), w)
}

@inline(__always)
private func fold128(_ x: __m128i, _ k: __m128i) -> __m128i {
    cdm_clmul_lo(x, k) ^ cdm_clmul_hi(x, k)
}

/// Kernel entry points, AVX-512 + VPCLMULQDQ. Call only when the CPU has both (and SSE4.2).
public enum CRC512Kernels {
    static let k2048 = wide(2048)
    static let k512 = wide(512)
    static let k384 = narrow(384)
    static let k256 = narrow(256)
    static let k128 = narrow(128)

    /// Raw CRC-32C register update with the crc32 instruction (short buffers and tails).
    @inline(__always)
    static func crcShort(_ crc: UInt32, _ p: UnsafeRawPointer, _ n: Int) -> UInt32 {
        var c = UInt64(crc)
        var i = 0
        while i &+ 8 <= n { c = _mm_crc32_u64(c, p.loadUnaligned(fromByteOffset: i, as: UInt64.self)); i &+= 8 }
        var c32 = UInt32(truncatingIfNeeded: c)
        while i < n { c32 = _mm_crc32_u8(c32, p.load(fromByteOffset: i, as: UInt8.self)); i &+= 1 }
        return c32
    }

    /// Raw CRC-32C register update (no inversions).
    public static func crc(_ crc: UInt32, _ p: UnsafeRawPointer, _ n: Int) -> UInt32 {
        if n < 256 { return crcShort(crc, p, n) }
        var z0 = p.loadUnaligned(fromByteOffset: 0, as: __m512i.self)
        z0 ^= __m512i(Int64(crc), 0, 0, 0, 0, 0, 0, 0)
        var z1 = p.loadUnaligned(fromByteOffset: 64, as: __m512i.self)
        var z2 = p.loadUnaligned(fromByteOffset: 128, as: __m512i.self)
        var z3 = p.loadUnaligned(fromByteOffset: 192, as: __m512i.self)
        var i = 256
        let k = k2048
        while i &+ 256 <= n {
            z0 = fold512(z0, k, p.loadUnaligned(fromByteOffset: i, as: __m512i.self))
            z1 = fold512(z1, k, p.loadUnaligned(fromByteOffset: i &+ 64, as: __m512i.self))
            z2 = fold512(z2, k, p.loadUnaligned(fromByteOffset: i &+ 128, as: __m512i.self))
            z3 = fold512(z3, k, p.loadUnaligned(fromByteOffset: i &+ 192, as: __m512i.self))
            i &+= 256
        }
        let k1 = k512
        var z = fold512(z0, k1, z1)
        z = fold512(z, k1, z2)
        z = fold512(z, k1, z3)
        while i &+ 64 <= n {
            z = fold512(z, k1, p.loadUnaligned(fromByteOffset: i, as: __m512i.self))
            i &+= 64
        }
        // Four lanes (earliest first) down to one.
        var x = fold128(__m128i(z[0], z[1]), k384) ^ fold128(__m128i(z[2], z[3]), k256)
            ^ fold128(__m128i(z[4], z[5]), k128) ^ __m128i(z[6], z[7])
        let kt = k128
        while i &+ 16 <= n {
            x = fold128(x, kt) ^ p.loadUnaligned(fromByteOffset: i, as: __m128i.self)
            i &+= 16
        }
        var c: UInt64 = 0
        c = _mm_crc32_u64(c, UInt64(bitPattern: x[0]))
        c = _mm_crc32_u64(c, UInt64(bitPattern: x[1]))
        return crcShort(UInt32(truncatingIfNeeded: c), p + i, n &- i)
    }
}
