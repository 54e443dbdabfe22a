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
        let tableCRC: CRCFn = { c, p, n in crc32cSoftware(c, p, n) }
        let pclmulCRC: CRCFn = { c, p, n in CRCKernels.crc(c, p, n) }
        let vpclmulCRC: CRCFn = { c, p, n in CRC512Kernels.crc(c, p, n) }
        // BSDSHIM_DMOVER_REP=0 keeps the vector loops (tests cover both paths).
        let rep = cbsdshim_cpu_prefers_rep_movsb() != 0 && getenv("BSDSHIM_DMOVER_REP").map({ String(cString: $0) }) != "0"
        let avx2Copy: CopyFn = rep ? { AVX2Kernels.copyRepString($0, $1, $2, $3) } : { AVX2Kernels.copy($0, $1, $2, $3) }
        let avx2Fill: FillFn = rep ? { AVX2Kernels.fillRepString($0, $1, $2, $3) } : { AVX2Kernels.fill($0, $1, $2, $3) }
        let avx512Fill: FillFn = rep ? { AVX512Kernels.fillRepString($0, $1, $2, $3) }
                                     : { AVX512Kernels.fill($0, $1, $2, $3) }
        let avx512Copy: CopyFn = rep ? { AVX512Kernels.copyRepString($0, $1, $2, $3) }
                                     : { AVX512Kernels.copy($0, $1, $2, $3) }
        let avx2 = ActiveKernels(
            fill: avx2Fill, copy: avx2Copy,
            xor: [{ AVX2Kernels.xor2($0, $1, $2, $3) }, { AVX2Kernels.xor3($0, $1, $2, $3) },
                  { AVX2Kernels.xor4($0, $1, $2, $3) }, { AVX2Kernels.xor5($0, $1, $2, $3) },
                  { AVX2Kernels.xor6($0, $1, $2, $3) }, { AVX2Kernels.xor7($0, $1, $2, $3) },
                  { AVX2Kernels.xor8($0, $1, $2, $3) }, { AVX2Kernels.xor9($0, $1, $2, $3) },
                  { AVX2Kernels.xor10($0, $1, $2, $3) }, { AVX2Kernels.xor11($0, $1, $2, $3) },
                  { AVX2Kernels.xor12($0, $1, $2, $3) }, { AVX2Kernels.xor13($0, $1, $2, $3) },
                  { AVX2Kernels.xor14($0, $1, $2, $3) }, { AVX2Kernels.xor15($0, $1, $2, $3) },
                  { AVX2Kernels.xor16($0, $1, $2, $3) }],
            compare: { AVX2Kernels.compare($0, $1, $2) }, crc: hasCRC ? pclmulCRC : tableCRC,
            name: "avx2", crcName: hasCRC ? "pclmul" : "table", repStrings: rep)
        let avx512 = ActiveKernels(
            fill: avx512Fill, copy: avx512Copy,
            xor: [{ AVX512Kernels.xor2($0, $1, $2, $3) }, { AVX512Kernels.xor3($0, $1, $2, $3) },
                  { AVX512Kernels.xor4($0, $1, $2, $3) }, { AVX512Kernels.xor5($0, $1, $2, $3) },
                  { AVX512Kernels.xor6($0, $1, $2, $3) }, { AVX512Kernels.xor7($0, $1, $2, $3) },
                  { AVX512Kernels.xor8($0, $1, $2, $3) }, { AVX512Kernels.xor9($0, $1, $2, $3) },
                  { AVX512Kernels.xor10($0, $1, $2, $3) }, { AVX512Kernels.xor11($0, $1, $2, $3) },
                  { AVX512Kernels.xor12($0, $1, $2, $3) }, { AVX512Kernels.xor13($0, $1, $2, $3) },
                  { AVX512Kernels.xor14($0, $1, $2, $3) }, { AVX512Kernels.xor15($0, $1, $2, $3) },
                  { AVX512Kernels.xor16($0, $1, $2, $3) }],
            compare: { AVX512Kernels.compare($0, $1, $2) },
            crc: hasCRC512 ? vpclmulCRC : (hasCRC ? pclmulCRC : tableCRC),
            name: "avx512", crcName: hasCRC512 ? "vpclmulqdq" : (hasCRC ? "pclmul" : "table"), repStrings: rep)
        Kernels.install(avx2: avx2, avx512: avx512)
    }()
}
