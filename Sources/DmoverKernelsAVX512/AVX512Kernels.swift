// SPDX-License-Identifier: BSD-2-Clause
// AVX512Kernels.swift: the kernels compiled for AVX-512 (-target-cpu skylake-avx512): the shared entry points
// (DmoverKernels/KernelSet.swift) over this ISA's non-temporal store.

import DmoverKernels
internal import CDmoverIntrin
import _Builtin_intrinsics.intel

/// The AVX-512 store: one 64-byte non-temporal store.
public enum AVX512Store: DmoverStoreISA {
    @inline(__always)
    public static func stream(_ p: UnsafeMutableRawPointer, _ v: Block) {
        _mm512_stream_si512(p, unsafeBitCast(v, to: __m512i.self))
    }

    @inline(__always)
    public static func fence() { cdm_sfence() }

    /// Thirty-two zmm registers: sixteen inputs unrolled fit.
    public static var loopsOverManyInputs: Bool { false }
}

private typealias K = DmoverKernelSet<AVX512Store>
private typealias X<let N: Int> = DmoverXorKernel<AVX512Store, N>

/// Kernel entry points, AVX-512 (-target-cpu skylake-avx512). Call only when the CPU has the ISA.
public enum AVX512Kernels {
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
