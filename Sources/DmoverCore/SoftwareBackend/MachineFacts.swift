// SPDX-License-Identifier: BSD-2-Clause
// MachineFacts.swift: what the software backend knows about the CPU it runs
// on, read once from CPUID (vendor, family/model, ISA and string-instruction
// features, cache sizes and how many logical CPUs share them). The kernel
// choice and the thresholds (`KernelTuning`) are derived from these facts only.

#if arch(x86_64)
import BSDSystem
import CDmoverIntrin
#endif
import CBSDShim
import Glibc

/// Facts about this CPU, read once at load.
public struct MachineFacts: Sendable {
    /// CPU vendor from CPUID leaf 0.
    public enum Vendor: String, Sendable { case intel = "Intel", amd = "AMD", other = "other" }

    public var vendor: Vendor = .other
    /// Display family and model (base + extended fields, as the vendors define them).
    public var family = 0, model = 0
    /// Brand string (CPUID 0x80000002...4), trimmed.
    public var brand = ""
    public var avx2 = false
    /// AVX-512 F + BW + VL (what the avx512 kernels need).
    public var avx512 = false
    public var vpclmulqdq = false, sse42 = false, pclmul = false
    /// Enhanced rep movsb/stosb, fast short rep movsb, fast zero-length rep stosb.
    public var erms = false, fsrm = false, fzrm = false
    /// 64-byte direct stores (not used by the kernels; reported for --explain).
    public var movdir64b = false
    /// Data cache sizes in bytes (0 when unknown) and the logical CPUs sharing the last level.
    public var l1d = 0, l2 = 0, l3 = 0, l3Sharing = 1
    /// Ways of the L1 data cache (0 when unknown): lines at one page offset it holds at once.
    public var l1dWays = 0
    /// Online CPUs of this machine or guest (not the affinity mask: see ``l3PerThread``).
    public var cpus = 1

    /// Unknown facts (tests fill in those of other machines).
    public init() {}

    /// Zen 4 and other double-pumped AVX-512 parts run a 512-bit operation as two
    /// 256-bit halves: for memory-bound loops AVX-512 brings nothing there but
    /// wider tails, so 256-bit kernels are preferred. Intel cores with AVX-512
    /// have full-width units, and so has AMD family 0x1A (Zen 5): measured on a
    /// Zen 5 EPYC guest, the 512-bit kernels ran xor2-xor8 of 4 KiB 2.1-2.4x and
    /// xor16 1.1-1.4x faster than the 256-bit ones, and in-cache copies of
    /// 4 KiB 1.2-1.8x (the Zen 5 parts with a 256-bit path split each 512-bit
    /// operation in two, which costs the same as two 256-bit ones).
    public var prefers256BitMemoryLoops: Bool {
        !(vendor == .intel || (vendor == .amd && family >= 0x1A))
    }

    /// Whether rep movsb/stosb beat the vector loops from 16 KiB up to the
    /// non-temporal size: Intel with FSRM (Ice Lake and later), and AMD
    /// family 0x1A with FSRM, measured on a Zen 5 EPYC guest (copies of
    /// 64 KiB-3 MiB 1.2-1.5x faster than the forward vector loop, zero and
    /// fill8 of 2-3 MiB 1.2x: the string instructions store whole lines
    /// without reading them first). Zen 3 and 4 have FSRM too, but glibc stops rep movsb at
    /// their L2 size, where it measured it slow, and no measurement of ours
    /// says otherwise: they keep the vector loops.
    public var prefersStringInstructions: Bool {
        fsrm && (vendor == .intel || (vendor == .amd && family >= 0x1A))
    }

    /// Microarchitecture name for reports (from family/model facts; "unknown" otherwise).
    public var microarchitecture: String {
        switch (vendor, family) {
        case (.amd, 0x17): return model >= 0x30 ? "Zen 2" : "Zen/Zen+"
        case (.amd, 0x19): return (0x10...0x1F).contains(model) || (0x60...0xAF).contains(model) ? "Zen 4" : "Zen 3"
        case (.amd, 0x1A): return "Zen 5"
        case (.intel, 6): return fsrm ? "Intel core (Ice Lake or later)" : "Intel core"
        default: return "unknown"
        }
    }

    /// Last-level cache one thread can count on: the L3 divided among the
    /// logical CPUs that share it, as glibc divides it, capped by the online
    /// CPUs (a 2-vCPU guest of a 64-core part, whose CPUID reports the host's
    /// sharing, sees only its own 2). The affinity mask is deliberately not
    /// used: a taskset or cpuset leaves the other CPUs' programs on the same
    /// L3, and thresholds should not change when a program is pinned.
    public var l3PerThread: Int {
        l3 == 0 ? 0 : l3 / max(1, min(l3Sharing, cpus))
    }

    /// The facts of this machine.
    public static let current: MachineFacts = read()

    static func read() -> MachineFacts {
        var f = MachineFacts()
        f.cpus = max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        #if arch(x86_64)
        var r: (UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0)
        func cpuid(_ leaf: UInt32, _ sub: UInt32 = 0) -> (a: UInt32, b: UInt32, c: UInt32, d: UInt32) {
            withUnsafeMutableBytes(of: &r) { cdm_cpuid(leaf, sub, $0.baseAddress!.assumingMemoryBound(to: UInt32.self)) }
            return r
        }
        func bit(_ v: UInt32, _ n: Int) -> Bool { v >> UInt32(n) & 1 != 0 }
        let l0 = cpuid(0)
        switch (l0.b, l0.d, l0.c) {
        case (0x756E_6547, 0x4965_6E69, 0x6C65_746E): f.vendor = .intel   // "GenuineIntel"
        case (0x6874_7541, 0x6974_6E65, 0x444D_4163): f.vendor = .amd     // "AuthenticAMD"
        default: f.vendor = .other
        }
        let l1 = cpuid(1)
        let baseFamily = Int(l1.a >> 8 & 0xF), baseModel = Int(l1.a >> 4 & 0xF)
        f.family = baseFamily == 0xF ? baseFamily + Int(l1.a >> 20 & 0xFF) : baseFamily
        f.model = baseFamily == 0xF || baseFamily == 6 ? baseModel | Int(l1.a >> 16 & 0xF) << 4 : baseModel
        f.sse42 = bit(l1.c, 20)
        f.pclmul = bit(l1.c, 1)
        let osAVX = bit(l1.c, 27) && bit(l1.c, 28)       // OSXSAVE and AVX
        let l7 = cpuid(7), l71 = cpuid(7, 1)
        // The kernels' own checks (CBSDShim's __builtin_cpu_supports) also
        // test what the OS enabled in XCR0; they decide what may run.
        f.avx2 = osAVX && bit(l7.b, 5) && cbsdshim_cpu_has_avx2() != 0
        f.avx512 = bit(l7.b, 16) && bit(l7.b, 30) && bit(l7.b, 31) && cbsdshim_cpu_has_avx512bw() != 0
        f.vpclmulqdq = bit(l7.c, 10)
        f.erms = bit(l7.b, 9)
        f.fsrm = bit(l7.d, 4)
        f.fzrm = bit(l71.a, 10)
        f.movdir64b = bit(l7.c, 28)
        // Brand string.
        var brand: [UInt8] = []
        for leaf in UInt32(0x8000_0002)...0x8000_0004 {
            let x = cpuid(leaf)
            for w in [x.a, x.b, x.c, x.d] { for k in 0..<4 { brand.append(UInt8(truncatingIfNeeded: w >> UInt32(8 * k))) } }
        }
        f.brand = String(decoding: brand.prefix { $0 != 0 }, as: UTF8.self).split(separator: " ").joined(separator: " ")
        // Deterministic cache parameters: leaf 4 (Intel) or 0x8000001D (AMD, with TOPOEXT).
        let cacheLeaf: UInt32? = f.vendor == .intel ? 4 : (f.vendor == .amd && bit(cpuid(0x8000_0001).c, 22) ? 0x8000_001D : nil)
        if let leaf = cacheLeaf {
            for sub in UInt32(0)..<8 {
                let x = cpuid(leaf, sub)
                let type = x.a & 0x1F
                if type == 0 { break }
                if type == 2 { continue }    // instruction cache
                let level = Int(x.a >> 5 & 7)
                let size = Int(x.b >> 22 + 1) * Int(x.b >> 12 & 0x3FF + 1) * Int(x.b & 0xFFF + 1) * (Int(x.c) + 1)
                let sharing = Int(x.a >> 14 & 0xFFF) + 1
                switch level {
                case 1: f.l1d = size; f.l1dWays = Int(x.b >> 22) + 1
                case 2: f.l2 = size
                case 3: f.l3 = size; f.l3Sharing = sharing
                default: break
                }
            }
        }
        #endif
        // What the C library reports, where CPUID gave nothing (other vendors, old parts).
        if f.l1d == 0 { f.l1d = max(0, sysconf(Int32(_SC_LEVEL1_DCACHE_SIZE))) }
        if f.l1dWays == 0 { f.l1dWays = max(0, sysconf(Int32(_SC_LEVEL1_DCACHE_ASSOC))) }
        if f.l2 == 0 { f.l2 = max(0, sysconf(Int32(_SC_LEVEL2_CACHE_SIZE))) }
        if f.l3 == 0 { f.l3 = max(0, sysconf(Int32(_SC_LEVEL3_CACHE_SIZE))) }
        return f
    }
}
