// SPDX-License-Identifier: BSD-2-Clause
// KernelTuningTests.swift: the kernel choice and thresholds derived from CPU
// facts, for the CPU families the selection names (Zen 2 to Zen 5, Intel),
// and the facts read on this machine.

@testable import DmoverCore
import DmoverKernels
import Testing

/// Facts of a 2-CPU guest of each family (what CPUID would report there).
func guestFacts(_ vendor: MachineFacts.Vendor, family: Int, model: Int, avx512: Bool, fsrm: Bool,
                l3: Int, sharing: Int) -> MachineFacts {
    var f = MachineFacts()
    f.vendor = vendor
    f.family = family
    f.model = model
    f.avx2 = true
    f.avx512 = avx512
    f.vpclmulqdq = avx512
    f.sse42 = true
    f.pclmul = true
    f.erms = true
    f.fsrm = fsrm
    f.l1d = 32 << 10
    f.l2 = 1 << 20
    f.l3 = l3
    f.l3Sharing = sharing
    f.cpus = 2
    return f
}

@Suite struct KernelTuningTests {
    @Test func zen2TakesAVX2ThreeChainCRCAndAQuarterOfTheL3Share() {
        let f = guestFacts(.amd, family: 0x17, model: 0x31, avx512: false, fsrm: false, l3: 16 << 20, sharing: 2)
        #expect(f.microarchitecture == "Zen 2")
        let t = KernelTuning.derive(f, cpuLevel: .avx2, stringInstructionsAllowed: true)
        #expect(t.level == .avx2)
        #expect(!t.repStrings)
        #expect(t.crc == .crc32x3)
        #expect(t.nonTemporalMinimum == 2 << 20)      // 16 MiB / 2 CPUs / 4
        #expect(t.copyNonTemporalMinimum == 2 << 20)  // no string instructions: the same
        #expect(t.fillNonTemporalMinimum == 8 << 20)
        #expect(t.prefetchStreams == 8)
        #expect(t.xorNonTemporalWorkingSet == 1 << 20)   // the L2
        #expect(t.crcPrefetchChain == 2688)                // 32 KiB L1d / 12, in whole lines
        #expect(t.crcPrefetchMinimum == 8 << 20)           // the L3 share per thread
        #expect(t.copyBackwardOnPageAlias)                 // page-aliased copies from the end
    }

    @Test func zen3HasFSRMButKeepsTheVectorLoops() {
        let f = guestFacts(.amd, family: 0x19, model: 0x01, avx512: false, fsrm: true, l3: 32 << 20, sharing: 16)
        #expect(f.microarchitecture == "Zen 3")
        let t = KernelTuning.derive(f, cpuLevel: .avx2, stringInstructionsAllowed: true)
        #expect(t.level == .avx2 && !t.repStrings && t.crc == .crc32x3)
        #expect(t.nonTemporalMinimum == 4 << 20)      // the share is capped by the 2 CPUs we have
    }

    @Test func zen4Uses256BitLoopsAndVPCLMULQDQ() {
        let f = guestFacts(.amd, family: 0x19, model: 0x11, avx512: true, fsrm: true, l3: 32 << 20, sharing: 16)
        #expect(f.microarchitecture == "Zen 4")
        #expect(f.prefers256BitMemoryLoops)
        #expect(!f.prefersStringInstructions)
        let t = KernelTuning.derive(f, cpuLevel: .avx512, stringInstructionsAllowed: true)
        #expect(t.level == .avx2)
        #expect(t.crc == .vpclmulqdq)
        #expect(t.crcPrefetchChain == 0)                   // only crc32x3 prefetches
        #expect(!t.repStrings)
    }

    /// Zen 5 runs 512-bit loops at full width and prefers rep movsb/stosb
    /// with FSRM (measured on a Zen 5 EPYC guest; RESULTS.md).
    @Test func zen5Uses512BitLoopsAndStringInstructions() {
        let f = guestFacts(.amd, family: 0x1A, model: 0x02, avx512: true, fsrm: true, l3: 32 << 20, sharing: 16)
        #expect(f.microarchitecture == "Zen 5")
        #expect(!f.prefers256BitMemoryLoops)
        #expect(f.prefersStringInstructions)
        let t = KernelTuning.derive(f, cpuLevel: .avx512, stringInstructionsAllowed: true)
        #expect(t.level == .avx512)
        #expect(t.repStrings)
        #expect(t.crc == .vpclmulqdq)
        #expect(t.nonTemporalMinimum == 4 << 20)          // a quarter of the 16 MiB share
        #expect(t.fillNonTemporalMinimum == 32 << 20)     // rep stosb: the whole L3
        #expect(t.copyNonTemporalMinimum == 16 << 20)     // rep movsb: the L3 share per thread
        #expect(!t.copyBackwardOnPageAlias)               // forward: descending loops were slower
        // A sanitizer build never uses the string instructions; a guest
        // that hides FSRM keeps the vector loops; an AVX2-only view of the
        // CPU takes the 256-bit kernels with them.
        #expect(!KernelTuning.derive(f, cpuLevel: .avx512, stringInstructionsAllowed: false).repStrings)
        var g = f
        g.fsrm = false
        #expect(!KernelTuning.derive(g, cpuLevel: .avx512, stringInstructionsAllowed: true).repStrings)
        let h = KernelTuning.derive(f, cpuLevel: .avx2, stringInstructionsAllowed: true)
        #expect(h.level == .avx2 && h.repStrings)
    }

    @Test func intelKeepsItsChoices() {
        let f = guestFacts(.intel, family: 6, model: 0x6A, avx512: true, fsrm: true, l3: 105 << 20, sharing: 64)
        let t = KernelTuning.derive(f, cpuLevel: .avx512, stringInstructionsAllowed: true)
        #expect(t.level == .avx512)
        #expect(t.repStrings)
        #expect(t.crc == .vpclmulqdq)
        #expect(t.nonTemporalMinimum == 4 << 20)
        #expect(t.fillNonTemporalMinimum == 105 << 19)
        #expect(t.copyNonTemporalMinimum == 4 << 20)      // copies keep the measured 4 MiB
        #expect(t.prefetchStreams == 32)
        #expect(t.xorNonTemporalWorkingSet == Int.max)
        // A sanitizer build never uses the string instructions.
        #expect(!KernelTuning.derive(f, cpuLevel: .avx512, stringInstructionsAllowed: false).repStrings)
        // Intel without VPCLMULQDQ keeps PCLMUL folding.
        let g = guestFacts(.intel, family: 6, model: 0x55, avx512: false, fsrm: false, l3: 32 << 20, sharing: 32)
        #expect(KernelTuning.derive(g, cpuLevel: .avx2, stringInstructionsAllowed: true).crc == .pclmul)
    }

    /// xor runs in grouped passes once its inputs outnumber the L1d ways.
    @Test func xorGroupsFromTheL1dWays() {
        var f = guestFacts(.amd, family: 0x17, model: 0x31, avx512: false, fsrm: false, l3: 16 << 20, sharing: 2)
        f.l1dWays = 8
        #expect(KernelTuning.derive(f, cpuLevel: .avx2, stringInstructionsAllowed: true).xorGroupMinimum == 9)
        f.l1dWays = 12
        #expect(KernelTuning.derive(f, cpuLevel: .avx2, stringInstructionsAllowed: true).xorGroupMinimum == 13)
        f.l1dWays = 16
        #expect(KernelTuning.derive(f, cpuLevel: .avx2, stringInstructionsAllowed: true).xorGroupMinimum == Int.max)
        f.l1dWays = 0    // unknown: 8 ways assumed
        #expect(KernelTuning.derive(f, cpuLevel: .avx2, stringInstructionsAllowed: true).xorGroupMinimum == 9)
    }

    /// BSDSHIM_DMOVER_STRATEGY's -forward and -backward set the copy
    /// direction (whatever the CPU chose), and the backend hands the
    /// tuning's choice to the kernels.
    @Test func strategyWordsSetTheCopyDirection() {
        for (word, backward) in [("forward", false), ("backward", true)] {
            var t = KernelTuning()
            t.copyBackwardOnPageAlias = !backward
            t.applyEnvironment(cpuLevel: .avx2) { $0 == "BSDSHIM_DMOVER_STRATEGY" ? "avx2-vec-\(word)" : nil }
            #expect(t.copyBackwardOnPageAlias == backward)
            #expect(t.reasons.contains("forced by the environment: \(word)"))
            #expect(t.level == .avx2 && !t.repStrings)
        }
        _ = Kernels.level    // the backend is set up
        #expect(dmoverCopyBackwardOnPageAlias == KernelTuning.current.copyBackwardOnPageAlias)
    }

    @Test func thisMachinesFactsAreConsistent() {
        let f = MachineFacts.current
        print("facts: \(f.vendor) family \(f.family) model \(f.model) \(f.microarchitecture), L3 \(f.l3) shared by \(f.l3Sharing)")
        #expect(f.cpus >= 1)
        #expect(f.l3PerThread <= f.l3)
        #expect(f.avx512 ? f.avx2 : true)
        let t = KernelTuning.current
        #expect(t.level <= Kernels.cpuLevel)
        #expect(!t.reasons.isEmpty)
    }
}
