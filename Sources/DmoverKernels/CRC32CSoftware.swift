// SPDX-License-Identifier: BSD-2-Clause
// CRC32CSoftware.swift: table-driven CRC-32C (slicing by 8) for CPUs without
// SSE4.2, and the GF(2) arithmetic used for folding constants and for joining
// the CRCs of the parts of a split request.

/// The reflected Castagnoli polynomial (0x1EDC6F41 reversed).
public let crc32cReflectedPoly: UInt32 = 0x82F6_3B78

/// 8 × 256 slicing tables, built once.
private let sliceTables: [UInt32] = {
    var t = [UInt32](repeating: 0, count: 8 * 256)
    for i in 0..<256 {
        var c = UInt32(i)
        for _ in 0..<8 { c = (c & 1) != 0 ? (c >> 1) ^ crc32cReflectedPoly : c >> 1 }
        t[i] = c
    }
    for k in 1..<8 {
        for i in 0..<256 {
            let prev = t[(k - 1) * 256 + i]
            t[k * 256 + i] = (prev >> 8) ^ t[Int(prev & 0xFF)]
        }
    }
    return t
}()

/// Raw CRC-32C register update (no inversions), portable.
public func crc32cSoftware(_ crc: UInt32, _ p: UnsafeRawPointer, _ n: Int) -> UInt32 {
    sliceTables.withUnsafeBufferPointer { t in
        var c = crc
        var i = 0
        while i &+ 8 <= n {
            let w = UInt64(littleEndian: p.loadUnaligned(fromByteOffset: i, as: UInt64.self)) ^ UInt64(c)
            c = t[7 * 256 + Int(w & 0xFF)] ^ t[6 * 256 + Int((w >> 8) & 0xFF)]
              ^ t[5 * 256 + Int((w >> 16) & 0xFF)] ^ t[4 * 256 + Int((w >> 24) & 0xFF)]
              ^ t[3 * 256 + Int((w >> 32) & 0xFF)] ^ t[2 * 256 + Int((w >> 40) & 0xFF)]
              ^ t[1 * 256 + Int((w >> 48) & 0xFF)] ^ t[Int(w >> 56)]
            i &+= 8
        }
        while i < n {
            c = (c >> 8) ^ t[Int((c ^ UInt32(p.load(fromByteOffset: i, as: UInt8.self))) & 0xFF)]
            i &+= 1
        }
        return c
    }
}

// MARK: - GF(2) arithmetic modulo the CRC polynomial

/// a·b mod P for CRC registers in reflected form (bit 31 is x^0).
public func crc32cMulMod(_ a: UInt32, _ b: UInt32) -> UInt32 {
    var a = a, r: UInt32 = 0
    // Walk b from x^0 (bit 31) upward; a is multiplied by x each step.
    for i in 0..<32 {
        if (b >> (31 - i)) & 1 != 0 { r ^= a }
        a = (a & 1) != 0 ? (a >> 1) ^ crc32cReflectedPoly : a >> 1
    }
    return r
}

/// x^k mod P in reflected form.
public func crc32cXPow(_ k: Int) -> UInt32 {
    var result: UInt32 = 0x8000_0000      // x^0
    var base: UInt32 = 0x4000_0000        // x^1
    var k = k
    while k > 0 {
        if k & 1 != 0 { result = crc32cMulMod(result, base) }
        base = crc32cMulMod(base, base)
        k >>= 1
    }
    return result
}

/// The raw register after feeding `bytes` zero bytes: crc·x^(8·bytes) mod P.
/// crc(A‖B) = crc32cShift(crc(A), |B|) ^ crc0(B) where crc0 starts from 0.
public func crc32cShift(_ crc: UInt32, bytes: Int) -> UInt32 {
    crc32cMulMod(crc, crc32cXPow(8 &* bytes))
}

/// A folding constant for the carry-less multiply kernels: x^k mod P as the
/// 64-bit operand whose bit j is the coefficient of x^(63-j).
public func crc32cFoldConstant(_ k: Int) -> UInt64 {
    // Reflected 32-bit form has x^i at bit 31-i; the 64-bit form wants it at 63-i.
    UInt64(crc32cXPow(k)) << 32
}
