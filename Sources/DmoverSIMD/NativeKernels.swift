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
    /// No ISA module's code runs before a CPU check chose it.
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
        // Each ISA module builds its table in its own code (compiled for its
        // CPU), so a table is read only on a CPU that has the ISA; levels
        // above the CPU's get a lower table, which `Kernels` never selects.
        let cpu = Kernels.cpuLevel
        let avx2 = cpu >= .avx2 ? AVX2Kernels.entryPoints : BaselineKernels.entryPoints
        let avx512 = cpu >= .avx512 ? AVX512Kernels.entryPoints : avx2
        Kernels.install(
            avx2: ActiveKernels(avx2, crc: crc, name: "avx2", crcName: crcName),
            avx2Rep: ActiveKernels(avx2, crc: crc, name: "avx2", crcName: crcName, repStrings: true),
            avx512: ActiveKernels(avx512, crc: crc, name: "avx512", crcName: crcName),
            avx512Rep: ActiveKernels(avx512, crc: crc, name: "avx512", crcName: crcName, repStrings: true))
    }()
}
