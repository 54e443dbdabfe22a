// SPDX-License-Identifier: BSD-2-Clause
// AVX2Kernels.swift: the kernels compiled for AVX2 (-target-cpu haswell): the shared entry points
// (DmoverKernels/KernelSet.swift) over this ISA's non-temporal store.

import DmoverKernels
internal import CDmoverIntrin
import _Builtin_intrinsics.intel

/// The AVX2 store: two 32-byte non-temporal stores.
public enum AVX2Store: DmoverStoreISA {
    @inline(__always)
    public static func stream(_ p: UnsafeMutableRawPointer, _ v: Block) {
        let m = p.assumingMemoryBound(to: __m256i.self)
        _mm256_stream_si256(m, unsafeBitCast(v.lowHalf, to: __m256i.self))
        _mm256_stream_si256(m + 1, unsafeBitCast(v.highHalf, to: __m256i.self))
    }

    @inline(__always)
    public static func fence() { cdm_sfence() }

    /// Sixteen ymm registers: nine or more inputs unrolled spill (~15% in cache, xor16 at 4 KiB on Zen 2).
    public static var loopsOverManyInputs: Bool { true }
}

private typealias K = DmoverKernelSet<AVX2Store>
private typealias X<let N: Int> = DmoverXorKernel<AVX2Store, N>

/// Kernel entry points, AVX2 (-target-cpu haswell). Call only when the CPU has the ISA.
public enum AVX2Kernels {
    public static let entryPoints = DmoverKernelEntryPoints(
        fill: { K.fill($0, $1, $2, $3) }, copy: { K.copy($0, $1, $2, $3) },
        fillRepString: { K.fillRepString($0, $1, $2, $3) }, copyRepString: { K.copyRepString($0, $1, $2, $3) },
        compare: { K.compare($0, $1, $2) },
        xor: [{ X<2>.run($0, $1, $2, $3) }, { X<3>.run($0, $1, $2, $3) }, { X<4>.run($0, $1, $2, $3) },
              { X<5>.run($0, $1, $2, $3) }, { X<6>.run($0, $1, $2, $3) }, { X<7>.run($0, $1, $2, $3) },
              { X<8>.run($0, $1, $2, $3) }, { X<9>.run($0, $1, $2, $3) }, { X<10>.run($0, $1, $2, $3) },
              { X<11>.run($0, $1, $2, $3) }, { X<12>.run($0, $1, $2, $3) }, { X<13>.run($0, $1, $2, $3) },
              { X<14>.run($0, $1, $2, $3) }, { X<15>.run($0, $1, $2, $3) }, { X<16>.run($0, $1, $2, $3) }])
}
