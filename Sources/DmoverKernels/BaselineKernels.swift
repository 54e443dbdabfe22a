// SPDX-License-Identifier: BSD-2-Clause
// BaselineKernels.swift: the kernels for any x86-64 (SSE2) or other CPU: the
// shared entry points (KernelSet.swift) over SSE2 non-temporal stores.

#if arch(x86_64)
import CDmoverIntrin
import _Builtin_intrinsics.intel
#endif

/// The SSE2 store (any x86-64), or plain stores elsewhere.
public enum BaselineStore: DmoverStoreISA {
    @inline(__always)
    public static func stream(_ p: UnsafeMutableRawPointer, _ v: Block) {
        #if arch(x86_64)
        let q = unsafeBitCast(v, to: (SIMD2<Int64>, SIMD2<Int64>, SIMD2<Int64>, SIMD2<Int64>).self)
        let m = p.assumingMemoryBound(to: __m128i.self)
        _mm_stream_si128(m, q.0)
        _mm_stream_si128(m + 1, q.1)
        _mm_stream_si128(m + 2, q.2)
        _mm_stream_si128(m + 3, q.3)
        #else
        p.storeBytes(of: v, as: Block.self)
        #endif
    }

    @inline(__always)
    public static func fence() {
        #if arch(x86_64)
        cdm_sfence()
        #endif
    }

    /// Sixteen 16-byte registers: every input unrolled fits (as before the loop existed).
    public static var loopsOverManyInputs: Bool { false }
}

private typealias K = DmoverKernelSet<BaselineStore>
private typealias X<let N: Int> = DmoverXorKernel<BaselineStore, N>

/// Kernel entry points for any x86-64 (SSE2) or other CPU (no string-instruction variants).
public enum BaselineKernels {
    public static let entryPoints = DmoverKernelEntryPoints(
        fill: { K.fill($0, $1, $2, $3) }, copy: { K.copy($0, $1, $2, $3) },
        fillRepString: { K.fill($0, $1, $2, $3) }, copyRepString: { K.copy($0, $1, $2, $3) },
        compare: { K.compare($0, $1, $2) },
        xor: [{ X<2>.run($0, $1, $2, $3) }, { X<3>.run($0, $1, $2, $3) }, { X<4>.run($0, $1, $2, $3) },
              { X<5>.run($0, $1, $2, $3) }, { X<6>.run($0, $1, $2, $3) }, { X<7>.run($0, $1, $2, $3) },
              { X<8>.run($0, $1, $2, $3) }, { X<9>.run($0, $1, $2, $3) }, { X<10>.run($0, $1, $2, $3) },
              { X<11>.run($0, $1, $2, $3) }, { X<12>.run($0, $1, $2, $3) }, { X<13>.run($0, $1, $2, $3) },
              { X<14>.run($0, $1, $2, $3) }, { X<15>.run($0, $1, $2, $3) }, { X<16>.run($0, $1, $2, $3) }])
}
