// SPDX-License-Identifier: BSD-2-Clause
// KernelTuning.swift: the software backend's kernel choice and thresholds,
// derived once from `MachineFacts` (never from one machine's measurements),
// then overridden by the environment (BSDSHIM_DMOVER_STRATEGY, _CRC, _NT_MIN,
// _FILL_NT_MIN, _REP, _ISA, _PREFETCH_STREAMS, _CRC_PREFETCH) for tests and experiments.

import CBSDShim
import DmoverKernels
import Glibc

/// The CRC-32C kernels the software backend has.
public enum CRCStrategy: String, Sendable, CaseIterable {
    /// Slicing-by-8 tables (any CPU).
    case table
    /// 128-bit PCLMULQDQ folding of 8 lanes (SSE4.2 + PCLMUL).
    case pclmul
    /// Three interleaved crc32-instruction chains joined by PCLMULQDQ (SSE4.2 + PCLMUL).
    case crc32x3
    /// 512-bit VPCLMULQDQ folding (AVX-512 BW + VPCLMULQDQ).
    case vpclmulqdq
}

/// The kernel choice and the thresholds, with the reason for each (for --explain).
public struct KernelTuning: Sendable {
    /// Kernel set for zero, fill8, copy, xor and compare.
    public var level: KernelLevel = .baseline
    /// Copy and fill with rep movsb/stosb between `dmoverRepCopyMinimum` and the non-temporal size.
    public var repStrings = false
    public var crc: CRCStrategy = .table
    /// Outputs at least this long use non-temporal stores.
    public var nonTemporalMinimum = 4 << 20
    /// zero/fill8 threshold when `repStrings` (the larger of this and `nonTemporalMinimum`).
    public var fillNonTemporalMinimum = 4 << 20
    /// copy threshold when `repStrings` (the larger of this and `nonTemporalMinimum`).
    public var copyNonTemporalMinimum = 4 << 20
    /// xor of 4 or more inputs uses non-temporal stores once inputs plus output
    /// exceed this many bytes (Int.max: only from `nonTemporalMinimum`).
    public var xorNonTemporalWorkingSet = Int.max
    /// xor of this many inputs or more runs in groups of four per 4 KiB of
    /// output when its stores are temporal (Int.max: never; see `dmoverXorGrouped`).
    public var xorGroupMinimum = Int.max
    /// Temporal copies between buffers at nearly the same page offset run
    /// from the end (against 4K aliasing; see `dmoverCopyBody`).
    public var copyBackwardOnPageAlias = true
    /// Hardware prefetch streams one core follows (pages interleaved by large NT loops).
    public var prefetchStreams = 8
    /// crc32x3 chain length when it prefetches its next block (0: no software prefetch).
    public var crcPrefetchChain = 0
    /// crc32x3 prefetches in buffers from this size (those that come from memory).
    public var crcPrefetchMinimum = Int.max
    /// One line per decision: what was chosen and from which fact.
    public var reasons: [String] = []
    /// Copies and fills from this size use the string instructions when `repStrings`.
    public static var repStringMinimum: Int { dmoverRepCopyMinimum }

    /// The tuning of this process: from the facts, then the environment.
    public static let current: KernelTuning = {
        var t = derive(MachineFacts.current, cpuLevel: Kernels.cpuLevel)
        t.applyEnvironment(cpuLevel: Kernels.cpuLevel)
        return t
    }()

    /// Whether this build may use the string instructions at all: sanitizer
    /// builds say no (they do not see accesses made inside inline assembly).
    public static var stringInstructionsAllowed: Bool {
        cbsdshim_build_allows_rep_strings() != 0
    }

    /// The choice for a machine with facts `f` whose best kernel level is `cpuLevel`.
    public static func derive(_ f: MachineFacts, cpuLevel: KernelLevel,
                              stringInstructionsAllowed: Bool = stringInstructionsAllowed) -> KernelTuning {
        var t = KernelTuning()
        // Kernel width.
        t.level = cpuLevel
        if cpuLevel == .avx512 && f.prefers256BitMemoryLoops {
            t.level = .avx2
            t.reasons.append("kernels avx2: AVX-512 present but \(f.vendor.rawValue) \(f.microarchitecture) runs memory-bound loops no faster at 512 bits (it splits them in two 256-bit halves)")
        } else {
            t.reasons.append("kernels \(cpuLevel): the widest this CPU runs at full width")
        }
        // String instructions: copies and fills from 16 KiB up to the
        // non-temporal size run faster with them where the CPU says so
        // (``MachineFacts/prefersStringInstructions``); elsewhere the vector
        // loops are as fast, and Zen 2 guests may not even see ERMS.
        t.repStrings = f.prefersStringInstructions && cpuLevel >= .avx2 && stringInstructionsAllowed
        t.reasons.append(t.repStrings
            ? "rep movsb/stosb from \(dmoverRepCopyMinimum >> 10) KiB: \(f.vendor.rawValue) \(f.microarchitecture) with FSRM"
            : "no rep movsb/stosb: \(!stringInstructionsAllowed ? "this build cannot use them (sanitizers)" : f.prefersStringInstructions ? "the kernels below AVX2 have none" : f.fsrm ? "\(f.vendor.rawValue) \(f.microarchitecture) (vector loops are as fast in cache; glibc stops rep movsb at the L2 there)" : "no FSRM")")
        // CRC.
        if f.avx512 && f.vpclmulqdq {
            t.crc = .vpclmulqdq
            t.reasons.append("crc vpclmulqdq: AVX-512 with VPCLMULQDQ (compute-bound, so 512-bit folding pays even on split units)")
        } else if f.sse42 && f.pclmul {
            if f.vendor == .intel {
                t.crc = .pclmul
                t.reasons.append("crc pclmul: Intel without VPCLMULQDQ (one-cycle PCLMULQDQ, folding runs at the crc32 unit's rate)")
            } else {
                t.crc = .crc32x3
                t.reasons.append("crc crc32x3: \(f.vendor.rawValue) without VPCLMULQDQ (PCLMULQDQ folding measured 2-3x slower than three crc32 chains on Zen 2)")
            }
        } else {
            t.crc = .table
            t.reasons.append("crc table: no SSE4.2 + PCLMUL")
        }
        // crc32x3 streams three chains at once; on data from memory the
        // hardware prefetchers left it waiting (0.86x ISA-L at 32 MiB on
        // Zen 2). So buffers beyond this thread's L3 share read the next
        // block of three chains ahead with prefetchnta, as ISA-L's
        // crc32_iscsi does; the block in work and the block coming in fit
        // half the L1d. Data in L3 gain nothing from it (the loop lost 25%).
        if t.crc == .crc32x3 {
            let l1 = f.l1d > 0 ? f.l1d : 32 << 10
            t.crcPrefetchChain = min(8192, max(1024, (l1 / 12) & ~63))
            t.crcPrefetchMinimum = f.l3PerThread > 0 ? f.l3PerThread : 4 << 20
            t.reasons.append("crc32x3 from \(t.crcPrefetchMinimum >> 10) KiB (the L3 share per thread\(f.l3PerThread > 0 ? "" : ", assumed")) prefetches its next block of 3 × \(t.crcPrefetchChain) bytes: two blocks fit half the L1d (\(l1 >> 10) KiB\(f.l1d > 0 ? "" : ", assumed"))")
        }
        // Non-temporal stores pay once the data would leave this thread's share
        // of the last-level cache anyway (glibc reasons the same way for its
        // memcpy threshold, from a fraction of the shared cache per thread).
        // Intel keeps the 4 MiB measured on the FSRM VM it was tuned on.
        if f.vendor == .intel || f.l3PerThread == 0 {
            t.nonTemporalMinimum = 4 << 20
            t.reasons.append("non-temporal from 4 MiB: \(f.vendor == .intel ? "Intel (as measured on a 105 MiB-L3 VM)" : "no L3 size known")")
        } else {
            t.nonTemporalMinimum = min(max(1 << 20, f.l3PerThread / 4), 64 << 20)
            t.reasons.append("non-temporal from \(t.nonTemporalMinimum >> 10) KiB: a quarter of the L3 share per thread (\(f.l3 >> 20) MiB shared by \(min(f.l3Sharing, f.cpus)) CPUs)")
        }
        // zero/fill8 with rep stosb stay in L3 up to half of it, as glibc's
        // memset; copies with rep movsb go non-temporal at the general size.
        // On AMD (Zen 5) the string instructions store whole lines without
        // reading them first, so a temporal copy or fill costs no more memory
        // traffic than a non-temporal one while its output still fits the
        // cache: copies stay temporal up to the L3 share per thread, fills
        // up to the L3. Measured on a Zen 5 guest (32 MiB L3, 16 MiB share):
        // copies of 6 and 12 MiB 1.2-1.6x and fills of 24 MiB 1.3-3x faster
        // than with non-temporal stores; xor's vector loops, which read each
        // line they store, keep the general size (xor2 of 6 MiB lost 20%).
        t.fillNonTemporalMinimum = max(t.nonTemporalMinimum, f.l3 / 2)
        t.copyNonTemporalMinimum = t.nonTemporalMinimum
        if t.repStrings && f.vendor == .amd && f.l3PerThread > 0 {
            t.fillNonTemporalMinimum = max(t.nonTemporalMinimum, f.l3)
            t.copyNonTemporalMinimum = max(t.nonTemporalMinimum, f.l3PerThread)
            t.reasons.append("zero/fill8 non-temporal from \(t.fillNonTemporalMinimum >> 10) KiB, copy from \(t.copyNonTemporalMinimum >> 10) KiB: rep stosb/movsb store whole lines, so data stays in the L3 (fills) or the L3 share per thread (copies) at no extra memory traffic")
        } else if t.repStrings {
            t.reasons.append("zero/fill8 non-temporal from \(t.fillNonTemporalMinimum >> 10) KiB: rep stosb keeps the data in L3 up to half of it")
        }
        // xor of many inputs: once inputs and output outgrow the L2, regular
        // stores make the output fight the inputs for it (and read it first);
        // non-temporal ones keep the inputs cached and cost little, since the
        // output is at most a fifth of the traffic (ISA-L's xor_gen always
        // streams its output). Zen 2: xor8 64 KiB 0.92x -> 1.03x ISA-L, 1 MiB
        // 0.86x -> 1.02x. Intel keeps its measured choice.
        if f.vendor != .intel && f.l2 > 0 {
            t.xorNonTemporalWorkingSet = f.l2
            t.reasons.append("xor of 4+ inputs non-temporal once all buffers exceed the L2 (\(f.l2 >> 10) KiB)")
        }
        // xor of many inputs: page-aligned inputs put their lines at one
        // offset into one L1d set; once the inputs alone outnumber its ways,
        // passes over four inputs at a time (plus the output) beat one pass
        // over all of them. Measured on Zen 2 (8 ways): xor16 4 KiB 1.4-1.7x,
        // 64 KiB 1.2x faster grouped; xor8 (9 streams) 6% slower grouped.
        let ways = f.l1dWays > 0 ? f.l1dWays : 8
        t.xorGroupMinimum = ways < 16 ? max(5, ways + 1) : Int.max
        t.reasons.append(t.xorGroupMinimum <= 16
            ? "xor of \(t.xorGroupMinimum)+ inputs with temporal stores: 4 inputs per pass over each 4 KiB of output (more inputs than the \(ways) L1d ways\(f.l1dWays > 0 ? "" : ", assumed"))"
            : "xor in one pass at every input count: the L1d has \(ways) ways")
        // Copies between page-aliased buffers: from the end (measured 10%
        // faster at 1 MiB on Zen 2, as glibc's memmove does on every x86),
        // except on Zen 5, where forward loops showed no aliasing penalty and
        // backward ones ran 4 KiB copies from the L2 at half the speed.
        t.copyBackwardOnPageAlias = !(f.vendor == .amd && f.family >= 0x1A)
        t.reasons.append(t.copyBackwardOnPageAlias
            ? "copies between page-aliased buffers run from the end (against 4K aliasing)"
            : "copies between page-aliased buffers run forward: \(f.vendor.rawValue) \(f.microarchitecture) follows descending loops worse and showed no 4K-aliasing penalty")
        // Hardware prefetchers: Intel's L2 streamer follows 32 streams (one per
        // 4 KiB page and direction, per its optimization manual); AMD does not
        // document a count, and on Zen 2 more than ~8 page streams lost them.
        t.prefetchStreams = f.vendor == .intel ? 32 : 8
        t.reasons.append("large loops interleave up to \(t.prefetchStreams) page streams over all buffers: \(f.vendor == .intel ? "Intel's L2 streamer tracks 32" : "AMD (copy 4 pages, xor2 2, xor4 and up 1)")")
        return t
    }

    /// BSDSHIM_DMOVER_STRATEGY=<level>[-rep|-vec][-nt|-temporal][-xorgroups|-xorsingle][-forward|-backward] (level: baseline,
    /// avx2, avx512), BSDSHIM_DMOVER_ISA (level only, as before), BSDSHIM_DMOVER_REP=0,
    /// BSDSHIM_DMOVER_CRC, BSDSHIM_DMOVER_NT_MIN, BSDSHIM_DMOVER_FILL_NT_MIN, BSDSHIM_DMOVER_COPY_NT_MIN,
    /// BSDSHIM_DMOVER_PREFETCH_STREAMS, BSDSHIM_DMOVER_CRC_PREFETCH (chain bytes, 0 = off).
    /// Levels and CRCs the CPU cannot run are clamped down. `environment`
    /// looks a variable up (the process environment; tests pass their own).
    mutating func applyEnvironment(
        cpuLevel: KernelLevel,
        environment env: (String) -> String? = { getenv($0).map { String(cString: $0) } }
    ) {
        /// A count or size: a non-negative decimal integer, as environmentInt reads it.
        func environmentInt(_ n: String) -> Int? { env(n).flatMap { Int($0) }.flatMap { $0 >= 0 ? $0 : nil } }
        var words: [Substring] = []
        if let s = env("BSDSHIM_DMOVER_STRATEGY") { words = s.split(separator: "-") }
        if let s = env("BSDSHIM_DMOVER_ISA") { words.insert(Substring(s), at: 0) }
        for w in words {
            switch w {
            case "baseline": level = .baseline
            case "avx2": level = min(cpuLevel, .avx2)
            case "avx512": level = cpuLevel
            case "rep": repStrings = level >= .avx2 && Self.stringInstructionsAllowed
            case "vec": repStrings = false
            case "nt":
                nonTemporalMinimum = 0; fillNonTemporalMinimum = 0; copyNonTemporalMinimum = 0
                xorNonTemporalWorkingSet = Int.max
            case "temporal":
                nonTemporalMinimum = Int.max; fillNonTemporalMinimum = Int.max; copyNonTemporalMinimum = Int.max
                xorNonTemporalWorkingSet = Int.max
            case "xorgroups": xorGroupMinimum = 5
            case "xorsingle": xorGroupMinimum = Int.max
            case "forward": copyBackwardOnPageAlias = false
            case "backward": copyBackwardOnPageAlias = true
            default: continue
            }
            reasons.append("forced by the environment: \(w)")
        }
        if level == .baseline { repStrings = false }
        if env("BSDSHIM_DMOVER_REP") == "0" { repStrings = false }
        if let c = env("BSDSHIM_DMOVER_CRC").flatMap(CRCStrategy.init(rawValue:)) {
            let f = MachineFacts.current
            let ok: Bool
            switch c {
            case .table: ok = true
            case .pclmul, .crc32x3: ok = f.sse42 && f.pclmul
            case .vpclmulqdq: ok = f.avx512 && f.vpclmulqdq && cpuLevel == .avx512
            }
            if ok { crc = c; reasons.append("crc forced by the environment: \(c)") }
        }
        if let v = environmentInt("BSDSHIM_DMOVER_NT_MIN") { nonTemporalMinimum = max(0, v); xorNonTemporalWorkingSet = Int.max }
        if let v = environmentInt("BSDSHIM_DMOVER_FILL_NT_MIN") { fillNonTemporalMinimum = max(0, v) }
        if let v = environmentInt("BSDSHIM_DMOVER_COPY_NT_MIN") { copyNonTemporalMinimum = max(0, v) }
        if let v = environmentInt("BSDSHIM_DMOVER_PREFETCH_STREAMS") { prefetchStreams = max(1, v) }
        if let v = environmentInt("BSDSHIM_DMOVER_CRC_PREFETCH") {
            // Any buffer of six chains or more, so tests reach the loop.
            crcPrefetchChain = v <= 0 ? 0 : min(8192, max(64, v & ~63))
            crcPrefetchMinimum = 0
            reasons.append("crc prefetch chain forced by the environment: \(crcPrefetchChain) bytes, any size")
        }
    }
}
