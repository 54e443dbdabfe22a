// SPDX-License-Identifier: BSD-2-Clause
// Kernels.swift: run-time choice of the kernel set (AVX-512, AVX2, baseline)
// and of the CRC kernel (VPCLMULQDQ, PCLMUL + SSE4.2, table).

import CBSDShim
import DmoverKernels
import DmoverKernelsAVX2
import DmoverKernelsAVX512
import DmoverKernelsCRC
import DmoverKernelsCRC512
import Glibc
import Synchronization

/// The instruction-set levels the software backend has kernels for.
public enum KernelLevel: Int, Sendable, CaseIterable {
    /// SSE2 (any x86-64) and a table CRC.
    case baseline = 0
    /// AVX2 kernels; SSE4.2 + PCLMUL CRC.
    case avx2 = 1
    /// AVX-512 kernels; VPCLMULQDQ CRC.
    case avx512 = 2
}

/// One level's kernels. The CRC choice follows the level but also needs its own CPU features.
final class ActiveKernels: @unchecked Sendable {
    let set: KernelSet
    let crc: CRCKernel
    let crcName: String
    init(set: KernelSet, crc: @escaping CRCKernel, crcName: String) {
        self.set = set
        self.crc = crc
        self.crcName = crcName
    }
}

/// The kernel tables; built only for levels this CPU supports (an ISA module's
/// code never runs on a CPU without that ISA).
public enum Kernels {
    /// The best level this CPU supports.
    public static let supported: KernelLevel = {
        #if arch(x86_64)
        if cbsdshim_cpu_has_avx512bw() != 0 { return .avx512 }
        if cbsdshim_cpu_has_avx2() != 0 { return .avx2 }
        #endif
        return .baseline
    }()

    private static let selected = Atomic<Int>(-1)

    /// The level in use: `supported`, or lower when BSDSHIM_DMOVER_ISA
    /// (baseline, avx2, avx512) or `use(_:)` asks for it.
    public static var level: KernelLevel {
        let v = selected.load(ordering: .relaxed)
        if v >= 0 { return KernelLevel(rawValue: v)! }
        var l = supported
        if let e = getenv("BSDSHIM_DMOVER_ISA") {
            switch String(cString: e) {
            case "baseline": l = .baseline
            case "avx2": l = min(l, .avx2)
            default: break
            }
        }
        selected.store(l.rawValue, ordering: .relaxed)
        return l
    }

    /// Selects a level for tests and benchmarks (clamped to what the CPU supports).
    public static func use(_ l: KernelLevel) {
        selected.store(min(l, supported).rawValue, ordering: .relaxed)
    }

    /// Name of the kernels in use, e.g. "avx512 + vpclmulqdq".
    public static var description: String { "\(active.set.name) + \(active.crcName)" }

    @inline(__always)
    static var active: ActiveKernels {
        switch level {
        case .avx512: return avx512
        case .avx2: return avx2
        case .baseline: return baseline
        }
    }

    private static let hasCRC = cbsdshim_cpu_has_sse42() != 0 && cbsdshim_cpu_has_pclmul() != 0
    private static let hasCRC512 = hasCRC && cbsdshim_cpu_has_vpclmulqdq() != 0 && cbsdshim_cpu_has_avx512bw() != 0

    private static let baseline = ActiveKernels(
        set: KernelSet(
            name: "baseline", fill: BaselineKernels.fill, copy: BaselineKernels.copy,
            xor: [noXor, noXor, BaselineKernels.xor2, BaselineKernels.xor3, BaselineKernels.xor4,
                  BaselineKernels.xor5, BaselineKernels.xor6, BaselineKernels.xor7, BaselineKernels.xor8,
                  BaselineKernels.xor9, BaselineKernels.xor10, BaselineKernels.xor11, BaselineKernels.xor12,
                  BaselineKernels.xor13, BaselineKernels.xor14, BaselineKernels.xor15, BaselineKernels.xor16],
            compare: BaselineKernels.compare),
        crc: crc32cSoftware, crcName: "table")

    private static let avx2 = ActiveKernels(
        set: KernelSet(
            name: "avx2", fill: AVX2Kernels.fill, copy: AVX2Kernels.copy,
            xor: [noXor, noXor, AVX2Kernels.xor2, AVX2Kernels.xor3, AVX2Kernels.xor4,
                  AVX2Kernels.xor5, AVX2Kernels.xor6, AVX2Kernels.xor7, AVX2Kernels.xor8,
                  AVX2Kernels.xor9, AVX2Kernels.xor10, AVX2Kernels.xor11, AVX2Kernels.xor12,
                  AVX2Kernels.xor13, AVX2Kernels.xor14, AVX2Kernels.xor15, AVX2Kernels.xor16],
            compare: AVX2Kernels.compare),
        crc: hasCRC ? CRCKernels.crc : crc32cSoftware, crcName: hasCRC ? "pclmul" : "table")

    private static let avx512 = ActiveKernels(
        set: KernelSet(
            name: "avx512", fill: AVX512Kernels.fill, copy: AVX512Kernels.copy,
            xor: [noXor, noXor, AVX512Kernels.xor2, AVX512Kernels.xor3, AVX512Kernels.xor4,
                  AVX512Kernels.xor5, AVX512Kernels.xor6, AVX512Kernels.xor7, AVX512Kernels.xor8,
                  AVX512Kernels.xor9, AVX512Kernels.xor10, AVX512Kernels.xor11, AVX512Kernels.xor12,
                  AVX512Kernels.xor13, AVX512Kernels.xor14, AVX512Kernels.xor15, AVX512Kernels.xor16],
            compare: AVX512Kernels.compare),
        crc: hasCRC512 ? CRC512Kernels.crc : (hasCRC ? CRCKernels.crc : crc32cSoftware),
        crcName: hasCRC512 ? "vpclmulqdq" : (hasCRC ? "pclmul" : "table"))
}

private func noXor(_ d: UnsafeMutableRawPointer, _ s: UnsafePointer<UnsafeRawPointer>, _ n: Int, _ nt: Bool) {
    fatalError("xor needs 2...16 inputs")
}

extension KernelLevel: Comparable {
    public static func < (a: KernelLevel, b: KernelLevel) -> Bool { a.rawValue < b.rawValue }
}
