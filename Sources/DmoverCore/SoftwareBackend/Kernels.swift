// SPDX-License-Identifier: BSD-2-Clause
// Kernels.swift: run-time choice of the kernel set (AVX-512, AVX2, baseline)
// and of the CRC kernel (VPCLMULQDQ, PCLMUL + SSE4.2, table).
//
// DmoverCore itself holds only the baseline kernels, so that it builds without
// any compiler flag (SwiftPM refuses unsafe flags in packages used as
// dependencies). The ISA kernels live in modules built with -target-cpu and
// are installed at run time by DmoverSIMD (`NativeKernels.install()`), which
// libbsdshim.so, the tool, the tests and the benchmarks call first.

import CBSDShim
import DmoverKernels
import Glibc
import Synchronization

/// A raw kernel bound to its buffers (`Kernels.rawKernel`). A struct, not an
/// optional closure: a closure inside an Optional (a generic type) is kept
/// behind reabstraction thunks, two more calls per run than the reference
/// it is measured against pays (~2 ns of ~40 at 4 KiB, Zen 2).
public struct RawKernel {
    /// Runs the kernel once.
    public let run: () -> Void
}

/// The instruction-set levels the software backend has kernels for.
public enum KernelLevel: Int, Sendable, CaseIterable {
    /// SSE2 (any x86-64) and a table CRC.
    case baseline = 0
    /// AVX2 kernels; SSE4.2 + PCLMUL CRC.
    case avx2 = 1
    /// AVX-512 kernels; VPCLMULQDQ CRC.
    case avx512 = 2
}

/// Kernel entry points as plain C function pointers: no context, no reference
/// counting, no exclusivity checks when called on the request path (the
/// kernel modules' own names for them, see DmoverKernels/KernelSet.swift).
/// fill(dst, pattern, length, nonTemporal)
public typealias FillFn = DmoverFillEntry
/// copy(dst, src, length, nonTemporal)
public typealias CopyFn = DmoverCopyEntry
/// xorN(dst, inputs, length, nonTemporal)
public typealias XorFn = DmoverXorEntry
/// crc(register, data, length) -> register (no pre/post inversion)
public typealias CRCFn = @convention(c) (UInt32, UnsafeRawPointer, Int) -> UInt32
/// compare(a, b, length) -> index of the first difference, or length
public typealias CompareFn = DmoverCompareEntry

/// One level's kernels. The CRC choice follows the level but also needs its own CPU features.
public struct ActiveKernels: @unchecked Sendable {
    let fill: FillFn
    let copy: CopyFn
    /// xor[k] is the k-input kernel, k in 2...16 (17 entries; 0 and 1 never called).
    let xor: UnsafePointer<XorFn>
    let compare: CompareFn
    let crc: CRCFn
    let name: StaticString
    let crcName: StaticString
    /// fill uses rep stosb below the non-temporal size (see `fillNonTemporalMinimum`).
    let repStrings: Bool

    /// The set of one ISA module's entry points: with `repStrings`, its copy
    /// and fill that use rep movsb/stosb.
    public init(_ e: DmoverKernelEntryPoints, crc: CRCFn, name: StaticString, crcName: StaticString,
                repStrings: Bool = false) {
        var xor: [XorFn] = []
        for i in 0..<15 { xor.append(e.xor[i]) }
        self.init(fill: repStrings ? e.fillRepString : e.fill, copy: repStrings ? e.copyRepString : e.copy,
                  xor: xor, compare: e.compare, crc: crc, name: name, crcName: crcName, repStrings: repStrings)
    }

    /// A kernel set; `xor` holds the kernels for 2...16 inputs in order (15 entries).
    public init(fill: FillFn, copy: CopyFn, xor: [XorFn], compare: CompareFn, crc: CRCFn,
                name: StaticString, crcName: StaticString, repStrings: Bool = false) {
        precondition(xor.count == 15, "xor kernels for 2...16 inputs")
        self.fill = fill
        self.copy = copy
        self.xor = Kernels.xorTable(xor)
        self.compare = compare
        self.crc = crc
        self.name = name
        self.crcName = crcName
        self.repStrings = repStrings
    }
}

/// The kernel tables; built only for levels this CPU supports (an ISA module's
/// code never runs on a CPU without that ISA).
public enum Kernels {
    /// The best level this CPU supports.
    public static let cpuLevel: KernelLevel = {
        #if arch(x86_64)
        if cbsdshim_cpu_has_avx512bw() != 0 { return .avx512 }
        if cbsdshim_cpu_has_avx2() != 0 { return .avx2 }
        #endif
        return .baseline
    }()

    /// The best level with kernels in this process: `cpuLevel` once the ISA
    /// kernels are installed, else baseline.
    public static var supported: KernelLevel { installedNative ? cpuLevel : .baseline }

    /// Whether `install` ran.
    public static var installedNative: Bool { SoftwareBackend.shared.tableBase.load(ordering: .acquiring) != baselineBase }

    /// Installs the ISA kernel sets (once; later calls are ignored): per level
    /// one with vector loops and one that copies and fills with rep movsb/stosb.
    /// Each set is used only on a CPU with its ISA. Called by DmoverSIMD's
    /// `NativeKernels.install()`, which builds them from `KernelTuning.current`.
    public static func install(avx2: ActiveKernels, avx2Rep: ActiveKernels,
                               avx512: ActiveKernels, avx512Rep: ActiveKernels) {
        let t = UnsafeMutablePointer<ActiveKernels>.allocate(capacity: 6)
        t[0] = baselineTables[0]
        t[1] = baselineTables[1]
        t[2] = avx2
        t[3] = avx2Rep
        t[4] = avx512
        t[5] = avx512Rep
        let b = SoftwareBackend.shared
        let (ok, _) = b.tableBase.compareExchange(expected: baselineBase, desired: UInt(bitPattern: t),
                                                  ordering: .acquiringAndReleasing)
        if !ok { t.deallocate() }
        else {
            let tuning = KernelTuning.current
            b.level.store(min(tuning.level, cpuLevel).rawValue, ordering: .relaxed)
            b.rep.store(tuning.repStrings && tuning.level >= .avx2 ? 1 : 0, ordering: .relaxed)
            b.publishKernels()
        }
    }

    /// The level in use: `KernelTuning.current.level` (from the CPU and
    /// BSDSHIM_DMOVER_STRATEGY / BSDSHIM_DMOVER_ISA), or what `use(_:)` asked for.
    public static var level: KernelLevel { KernelLevel(rawValue: SoftwareBackend.shared.level.load(ordering: .relaxed))! }

    /// Selects a level for tests and benchmarks (clamped to what this process supports).
    public static func use(_ l: KernelLevel) {
        SoftwareBackend.shared.level.store(min(l, supported).rawValue, ordering: .relaxed)
        SoftwareBackend.shared.publishKernels()
    }

    /// Selects the string-instruction (true) or vector-loop (false) copy and
    /// fill for tests and benchmarks (baseline has only the loops).
    public static func useRepStrings(_ on: Bool) {
        SoftwareBackend.shared.rep.store(on ? 1 : 0, ordering: .relaxed)
        SoftwareBackend.shared.publishKernels()
    }

    /// Name of the kernels in use, e.g. "avx512 + vpclmulqdq".
    public static var description: String {
        "\(active.name)\(active.repStrings ? " with rep movsb/stosb" : "") + \(active.crcName)"
    }
    /// Whether the kernels in use copy and fill with the string instructions.
    public static var usesRepStrings: Bool { active.repStrings }

    /// The kernels of the level in use.
    @inline(__always)
    static var active: ActiveKernels { SoftwareBackend.shared.kernels }

    /// For benchmarks: the raw kernel of the level in use for `function`,
    /// bound to linear buffers (dst, inputs, length), with the library's
    /// non-temporal choice for that length made on every call; the CRC
    /// register or compare index is dropped, as a benchmark drops memcmp's.
    /// The closure calls the kernel's C entry point as its last act, so a
    /// run is one indirect call and a jump, the shape of a call to a libc
    /// function through a wrapper (no closure in a closure, no result kept
    /// in memory: stores before and after the kernel cost as much as its
    /// own at 4 KiB, where the loops are store-bound). nil for an unknown function.
    public static func rawKernel(_ function: String, dst d: UnsafeMutableRawPointer,
                                 inputs s: UnsafePointer<UnsafeRawPointer>, length n: Int) -> RawKernel? {
        rawKernelBody(function, d, s, n).map(RawKernel.init)
    }

    private static func rawKernelBody(_ function: String, _ d: UnsafeMutableRawPointer,
                                      _ s: UnsafePointer<UnsafeRawPointer>, _ n: Int) -> (() -> Void)? {
        let k = active, b = SoftwareBackend.shared
        let fill = k.fill, copy = k.copy, crc = k.crc, compare = k.compare
        switch function {
        case "zero": return { fill(d, 0, n, b.usesNonTemporal(.zero, 0, n, k)) }
        case "fill8": return { fill(d, 0xA5A5_A5A5_A5A5_A5A5, n, b.usesNonTemporal(.fill8, 0, n, k)) }
        case "copy": return { copy(d, s[0], n, b.usesNonTemporal(.copy, 1, n, k)) }
        case "iscsi-crc32c": return { _ = crc(~0, s[0], n) }
        case "compare": return { _ = compare(s[0], s[1], n) }
        case "copy-crc32c":
            return {
                let nt = b.usesNonTemporal(.copyCRC32C, 1, n, k)
                var c: UInt32 = ~0, i = 0
                while i < n {
                    let m = min(CopyCRC32CFunction.blockSize, n &- i)
                    c = crc(c, s[0] + i, m)
                    copy(d + i, s[0] + i, m, nt)
                    i &+= m
                }
                _ = c
            }
        default:
            guard function.hasPrefix("xor"), let m = Int(function.dropFirst(3)), (2...16).contains(m) else { return nil }
            let x = k.xor[m]
            return { x(d, s, n, b.usesNonTemporal(.xor, m, n, k)) }
        }
    }

    /// The baseline kernels in every slot (index = level · 2 + rep), in raw
    /// memory that is never freed; `install` publishes a full table.
    nonisolated(unsafe) static let baselineTables: UnsafePointer<ActiveKernels> = {
        let t = UnsafeMutablePointer<ActiveKernels>.allocate(capacity: 6)
        let b = ActiveKernels(BaselineKernels.entryPoints, crc: { c, p, n in crc32cSoftware(c, p, n) },
                              name: "baseline", crcName: "table")
        t.initialize(repeating: b, count: 6)
        return UnsafePointer(t)
    }()

    static var baselineBase: UInt { UInt(bitPattern: baselineTables) }

    /// The 17-entry xor table from the kernels for 2...16 inputs.
    fileprivate static func xorTable(_ k: [XorFn]) -> UnsafePointer<XorFn> {
        let t = UnsafeMutablePointer<XorFn>.allocate(capacity: 17)
        t[0] = noXor
        t[1] = noXor
        for i in 0..<15 { t[i + 2] = k[i] }
        return UnsafePointer(t)
    }
}

/// Fills slots 0 and 1 of the xor table, which are never called: the algorithm
/// table offers xor2...xor16 only, so a session never has fewer than 2 inputs.
/// (No trap here: this code runs inside other people's processes.)
nonisolated(unsafe) private let noXor: XorFn = { _, _, _, _ in }

extension KernelLevel: Comparable {
    public static func < (a: KernelLevel, b: KernelLevel) -> Bool { a.rawValue < b.rawValue }
}
