// SPDX-License-Identifier: BSD-2-Clause
// NativeKernels.swift: installs the AVX2 / AVX-512 / hardware-CRC kernels into
// the software backend. This module and the ISA modules it links are the only
// ones built with ISA compiler flags, so DmoverCore (and the Swift API above
// it) stays usable as a SwiftPM dependency; programs that link this module get
// the fast kernels by calling `NativeKernels.install()` once.

import CBSDShim
import DmoverCore
import DmoverKernels
import DmoverKernelsAVX2
import DmoverKernelsAVX512
import DmoverKernelsCRC
import DmoverKernelsCRC512
import Glibc

/// The ISA kernel sets, handed to `Kernels.install(avx2:avx512:)`.
public enum NativeKernels {
    /// Installs the kernels (idempotent, thread-safe, cheap after the first call).
    /// Only addresses are taken here: no ISA code runs until a CPU check chose it.
    @inline(__always)
    public static func install() { _ = installed }

    private static let installed: Void = {
        let hasCRC = cbsdshim_cpu_has_sse42() != 0 && cbsdshim_cpu_has_pclmul() != 0
        let hasCRC512 = hasCRC && cbsdshim_cpu_has_vpclmulqdq() != 0 && cbsdshim_cpu_has_avx512bw() != 0
        // The CRC kernel the tuning chose (from the CPU's facts or
        // BSDSHIM_DMOVER_CRC), shared by every set; never one this CPU cannot run.
        var crcKind = KernelTuning.current.crc
        if crcKind == .vpclmulqdq && !hasCRC512 { crcKind = .pclmul }
        if (crcKind == .pclmul || crcKind == .crc32x3) && !hasCRC { crcKind = .table }
        let crc: CRCFn
        let crcName: StaticString
        switch crcKind {
        case .table: crc = { c, p, n in crc32cSoftware(c, p, n) }; crcName = "table"
        case .pclmul: crc = { c, p, n in CRCKernels.crc(c, p, n) }; crcName = "pclmul"
        case .crc32x3: crc = { c, p, n in CRCInterleavedKernels.crc(c, p, n) }; crcName = "crc32x3"
        case .vpclmulqdq: crc = { c, p, n in CRC512Kernels.crc(c, p, n) }; crcName = "vpclmulqdq"
        }
        let avx2Xor: [XorFn] = [
            { AVX2Kernels.xor2($0, $1, $2, $3) }, { AVX2Kernels.xor3($0, $1, $2, $3) },
            { AVX2Kernels.xor4($0, $1, $2, $3) }, { AVX2Kernels.xor5($0, $1, $2, $3) },
            { AVX2Kernels.xor6($0, $1, $2, $3) }, { AVX2Kernels.xor7($0, $1, $2, $3) },
            { AVX2Kernels.xor8($0, $1, $2, $3) }, { AVX2Kernels.xor9($0, $1, $2, $3) },
            { AVX2Kernels.xor10($0, $1, $2, $3) }, { AVX2Kernels.xor11($0, $1, $2, $3) },
            { AVX2Kernels.xor12($0, $1, $2, $3) }, { AVX2Kernels.xor13($0, $1, $2, $3) },
            { AVX2Kernels.xor14($0, $1, $2, $3) }, { AVX2Kernels.xor15($0, $1, $2, $3) },
            { AVX2Kernels.xor16($0, $1, $2, $3) }]
        let avx512Xor: [XorFn] = [
            { AVX512Kernels.xor2($0, $1, $2, $3) }, { AVX512Kernels.xor3($0, $1, $2, $3) },
            { AVX512Kernels.xor4($0, $1, $2, $3) }, { AVX512Kernels.xor5($0, $1, $2, $3) },
            { AVX512Kernels.xor6($0, $1, $2, $3) }, { AVX512Kernels.xor7($0, $1, $2, $3) },
            { AVX512Kernels.xor8($0, $1, $2, $3) }, { AVX512Kernels.xor9($0, $1, $2, $3) },
            { AVX512Kernels.xor10($0, $1, $2, $3) }, { AVX512Kernels.xor11($0, $1, $2, $3) },
            { AVX512Kernels.xor12($0, $1, $2, $3) }, { AVX512Kernels.xor13($0, $1, $2, $3) },
            { AVX512Kernels.xor14($0, $1, $2, $3) }, { AVX512Kernels.xor15($0, $1, $2, $3) },
            { AVX512Kernels.xor16($0, $1, $2, $3) }]
        let avx2 = ActiveKernels(
            fill: { AVX2Kernels.fill($0, $1, $2, $3) }, copy: { AVX2Kernels.copy($0, $1, $2, $3) },
            xor: avx2Xor, compare: { AVX2Kernels.compare($0, $1, $2) }, crc: crc,
            name: "avx2", crcName: crcName)
        let avx2Rep = ActiveKernels(
            fill: { AVX2Kernels.fillRepString($0, $1, $2, $3) }, copy: { AVX2Kernels.copyRepString($0, $1, $2, $3) },
            xor: avx2Xor, compare: { AVX2Kernels.compare($0, $1, $2) }, crc: crc,
            name: "avx2", crcName: crcName, repStrings: true)
        let avx512 = ActiveKernels(
            fill: { AVX512Kernels.fill($0, $1, $2, $3) }, copy: { AVX512Kernels.copy($0, $1, $2, $3) },
            xor: avx512Xor, compare: { AVX512Kernels.compare($0, $1, $2) }, crc: crc,
            name: "avx512", crcName: crcName)
        let avx512Rep = ActiveKernels(
            fill: { AVX512Kernels.fillRepString($0, $1, $2, $3) }, copy: { AVX512Kernels.copyRepString($0, $1, $2, $3) },
            xor: avx512Xor, compare: { AVX512Kernels.compare($0, $1, $2) }, crc: crc,
            name: "avx512", crcName: crcName, repStrings: true)
        Kernels.install(avx2: avx2, avx2Rep: avx2Rep, avx512: avx512, avx512Rep: avx512Rep)
    }()
}
