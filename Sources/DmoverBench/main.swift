// SPDX-License-Identifier: BSD-2-Clause
// dmover-bench: GB/s of the software backend, both as the raw SIMD kernel
// called on the buffers and through dmover_process (DMOVER_REQ_WAIT), beside
// glibc and ISA-L on the same buffers in the same run, with ratios; then the
// absolute goals at 256 MiB.
//
//   dmover-bench [--quick] [--explain] [--trials N] [--sizes 4K,64K,1M,32M,256M] [--functions zero,copy,...]
//                [--requests N]
// GB/s = bytes of the output per second (bytes of input for crc32c/compare).
// "1 worker" is the single-core comparison; "2 workers" splits large requests.
// The kernel, the request path and the reference are timed in turn, trial by
// trial, on the same buffers, so a disturbance hits all three alike; each
// keeps its best trial. --explain prints the machine facts and the choices.
// --requests N only runs each request N times, untimed (for counting the
// request path's instructions under callgrind or perf stat).

import CDmoverBench
import DmoverCore
import DmoverSIMD
import Glibc
import CBSDShimABI

// MARK: - options

NativeKernels.install()
var sizes: [Int] = [4 << 10, 64 << 10, 1 << 20, 32 << 20, 256 << 20]
var functions = ["zero", "fill8", "copy", "xor2", "xor4", "xor8", "xor16", "iscsi-crc32c", "copy-crc32c", "compare"]
var explainOnly = false
var trials = 15
var requestsOnly = 0
var args = CommandLine.arguments.dropFirst()
func parseSize(_ s: Substring) -> Int? {
    let mult: Int = s.hasSuffix("K") ? 1 << 10 : s.hasSuffix("M") ? 1 << 20 : s.hasSuffix("G") ? 1 << 30 : 1
    return Int(mult == 1 ? s : s.dropLast()).map { $0 * mult }
}
while let a = args.popFirst() {
    switch a {
    case "--quick": sizes = [4 << 10, 1 << 20, 32 << 20]
    case "--sizes": sizes = (args.popFirst() ?? "").split(separator: ",").compactMap(parseSize)
    case "--functions": functions = (args.popFirst() ?? "").split(separator: ",").map(String.init)
    case "--explain": explainOnly = true
    case "--trials": trials = max(1, Int(args.popFirst() ?? "") ?? 15)
    case "--requests": requestsOnly = max(1, Int(args.popFirst() ?? "") ?? 1)
    default:
        print("usage: dmover-bench [--quick] [--explain] [--trials N] [--sizes 4K,64K,1M,32M,256M] [--functions zero,copy,...] [--requests N]")
        exit(2)
    }
}

// MARK: - machine and choices

func fmtSize(_ n: Int) -> String {
    n == Int.max ? "never" : n >= 1 << 20 && n % (1 << 20) == 0 ? "\(n >> 20) MiB" : n >= 1 << 10 ? "\(n >> 10) KiB" : "\(n) B"
}
let facts = MachineFacts.current
let tuning = KernelTuning.current
let features = [("avx2", facts.avx2), ("avx512", facts.avx512), ("vpclmulqdq", facts.vpclmulqdq),
                ("sse4.2", facts.sse42), ("pclmul", facts.pclmul), ("erms", facts.erms), ("fsrm", facts.fsrm),
                ("fzrm", facts.fzrm), ("movdir64b", facts.movdir64b)].filter { $0.1 }.map { $0.0 }
print("CPU: \(facts.brand) (\(facts.vendor.rawValue) family 0x\(String(facts.family, radix: 16)) model 0x\(String(facts.model, radix: 16)), "
      + "\(facts.microarchitecture)), \(facts.cpus) CPUs; \(features.joined(separator: " "))")
print("caches: L1d \(fmtSize(facts.l1d)), L2 \(fmtSize(facts.l2)), L3 \(fmtSize(facts.l3)) shared by \(facts.l3Sharing) CPUs "
      + "(\(fmtSize(facts.l3PerThread)) per thread here)")
/// The non-temporal size of a function whose string-instruction kernels have their own (`own`).
func stringNT(_ own: Int) -> Int {
    Kernels.usesRepStrings ? max(SoftwareBackendConfig.nonTemporalMinimum, own) : SoftwareBackendConfig.nonTemporalMinimum
}
let fillNT = stringNT(SoftwareBackendConfig.fillNonTemporalMinimum)
let copyNT = stringNT(SoftwareBackendConfig.copyNonTemporalMinimum)
print("strategy: kernels \(Kernels.description); non-temporal from \(fmtSize(SoftwareBackendConfig.nonTemporalMinimum))"
      + (Kernels.usesRepStrings ? " (zero, fill8: \(fmtSize(fillNT)); copy: \(fmtSize(copyNT)))" : "")
      + "; split from \(fmtSize(SoftwareBackendConfig.splitMinimum)); \(tuning.prefetchStreams) prefetch streams")
if explainOnly {
    print("why:")
    for r in tuning.reasons { print("  \(r)") }
    print("per function (raw kernel; copy-crc32c = crc + copy per block):")
    for f in ["zero", "fill8", "copy", "xor2", "xor4", "xor8", "xor16", "iscsi-crc32c", "copy-crc32c", "compare"] {
        var nt: Int
        switch f {
        case "zero", "fill8": nt = fillNT
        case "copy": nt = copyNT
        case "iscsi-crc32c", "compare": nt = Int.max
        default:
            nt = SoftwareBackendConfig.nonTemporalMinimum
            if let m = Int(f.dropFirst(3)), f.hasPrefix("xor"), m >= 4, m < tuning.xorGroupMinimum, tuning.xorNonTemporalWorkingSet != Int.max {
                nt = min(nt, tuning.xorNonTemporalWorkingSet / (m + 1))
            }
        }
        let streams = f == "zero" || f == "fill8" ? 1 : f == "copy" || f == "copy-crc32c" ? 2 : Int(f.dropFirst(3)).map { $0 + 1 } ?? 0
        let pages = streams > 0 ? min(4, max(1, tuning.prefetchStreams / streams)) : 0
        var line = "  \(pad(f, 13))"
        switch f {
        case "iscsi-crc32c":
            line += "crc \(tuning.crc.rawValue)"
            if tuning.crcPrefetchChain > 0 {
                line += ", prefetchnta of the next 3 × \(tuning.crcPrefetchChain) bytes from \(fmtSize(tuning.crcPrefetchMinimum))"
            }
        case "compare": line += "\(Kernels.level) compare, 4 × 64-byte blocks per test, no stores"
        default:
            line += "\(Kernels.level)\(Kernels.usesRepStrings && (f == "zero" || f == "fill8" || f == "copy") ? " + rep \(f == "copy" ? "movsb" : "stosb") from \(fmtSize(KernelTuning.repStringMinimum))" : "")"
            line += ", non-temporal from \(fmtSize(nt)) (\(pages == 1 ? "sequential" : "\(pages) pages interleaved"))"
            if f == "copy-crc32c" { line += ", crc \(tuning.crc.rawValue)" }
            if f.hasPrefix("xor"), let m = Int(f.dropFirst(3)), m >= tuning.xorGroupMinimum, m >= 5 {
                line += "; below it 4 inputs per pass over each 4 KiB (xor of \(tuning.xorGroupMinimum)+ inputs)"
            }
        }
        print(line)
    }
    exit(0)
}

// MARK: - buffers

let maxSize = sizes.max() ?? 0
let maxInputs = 16
func buffer(_ n: Int, _ byte: UInt8) -> UnsafeMutableRawPointer {
    var p: UnsafeMutableRawPointer? = nil
    precondition(posix_memalign(&p, 4096, max(n, 64)) == 0)
    memset(p!, Int32(byte), n)
    return p!
}
let usedInputs = functions.map { $0.hasPrefix("xor") ? Int($0.dropFirst(3)) ?? 2 : 2 }.max() ?? 2
let inputs = (0..<maxInputs).map { $0 < usedInputs ? buffer(maxSize, UInt8(truncatingIfNeeded: 0x11 &* ($0 + 1))) : buffer(64, 0) }
/// compare's second input: equal bytes to inputs[0] in other memory (the whole buffer is scanned).
let twin = buffer(functions.contains("compare") ? maxSize : 64, 0x11)
let output = buffer(maxSize, 0)

/// GB/s of each body over `bytes`: the bodies take turns, one trial each,
/// and each keeps its best trial. A trial repeats its body for about 2 ms:
/// short trials on a shared machine are often undisturbed, so the best of
/// many is the machine's speed, and taking turns gives every side the same chances.
@MainActor func measure(_ bytes: Int, _ bodies: [() -> Void]) -> [Double] {
    let reps = bodies.map { body -> Int in
        body()    // warm-up (page faults, thread start), and the repeat count
        let t0 = cdmbench_now_ns()
        body()
        let once = max(1, Double(cdmbench_now_ns() - t0))
        return max(1, min(100_000, Int(2_000_000 / once)))
    }
    var best = [Double](repeating: .infinity, count: bodies.count)
    for _ in 0..<trials {
        for (k, body) in bodies.enumerated() {
            let t0 = cdmbench_now_ns()
            for _ in 0..<reps[k] { body() }
            best[k] = min(best[k], Double(cdmbench_now_ns() - t0) / 1e9 / Double(reps[k]))
        }
    }
    return best.map { Double(bytes) / $0 / 1e9 }
}

// MARK: - bsdshim through the dmover API

/// A request of `name` over n bytes, and the body that runs it once
/// (free the request and destroy the session with `finish` afterwards).
@MainActor func bsdshim(_ name: String, _ n: Int)
    -> (run: () -> Void, finish: () -> Void)
{
    let dses = try! name.withCString { try SessionLifecycle.create($0) }
    let dreq = try! RequestBlocks.alloc(dses, inbuf: nil)
    let ninputs = Int(dses.pointee.dses_ninputs)
    let hasOutput = name != "iscsi-crc32c" && name != "compare"
    if hasOutput {
        dreq.pointee.dreq_outbuf_type = DMOVER_BUF_LINEAR
        dreq.pointee.dreq_outbuf.dmbuf_linear = dmover_buf_linear(l_addr: output, l_len: n)
    }
    if ninputs > 0 {
        dreq.pointee.dreq_inbuf_type = DMOVER_BUF_LINEAR
        for j in 0..<ninputs {
            // compare: both inputs equal (the whole buffer is scanned)
            let src = name == "compare" ? (j == 0 ? inputs[0] : twin) : inputs[j]
            dreq.pointee.dreq_inbuf![j].dmbuf_linear = dmover_buf_linear(l_addr: src, l_len: n)
        }
    }
    dreq.pointee.dreq_immediate.0 = 0xA5
    dreq.pointee.dreq_flags |= Int32(DMOVER_REQ_WAIT)
    // The CRC functions chain from the register in dreq_immediate, which each
    // run leaves at its result: the seed changes no work, so it is not reset
    // (a store per run the reference, seeded by an argument, does not pay).
    return ({ RequestProcessing.process(dreq) }, {
        precondition(dreq.pointee.dreq_flags & Int32(DMOVER_REQ_ERROR) == 0, "\(name) failed: \(dreq.pointee.dreq_error)")
        RequestBlocks.free(dreq)
        SessionLifecycle.destroy(dses)
    })
}

// MARK: - references

/// The reference for `name` (glibc or ISA-L) and the body that runs it once.
@MainActor func reference(_ name: String, _ n: Int) -> (String, () -> Void) {
    switch name {
    case "zero": return ("glibc memset", { cdmbench_memset(output, 0, n) })
    case "fill8": return ("glibc memset", { cdmbench_memset(output, 0xA5, n) })
    case "copy": return ("glibc memcpy", { cdmbench_memcpy(output, inputs[0], n) })
    case "iscsi-crc32c": return ("ISA-L crc32_iscsi", { _ = cdmbench_isal_crc32c(inputs[0], n, 0) })
    case "copy-crc32c":
        return ("ISA-L crc + memcpy", {
            _ = cdmbench_isal_crc32c(inputs[0], n, 0)
            cdmbench_memcpy(output, inputs[0], n)
        })
    // compare: two buffers with equal bytes, as for the kernel and the request.
    case "compare": return ("glibc memcmp", { _ = cdmbench_memcmp(inputs[0], twin, n) })
    default:
        let k = Int(name.dropFirst(3))!
        let srcs = UnsafeMutablePointer<UnsafeMutableRawPointer?>.allocate(capacity: k)
        for j in 0..<k { srcs[j] = inputs[j] }
        return ("ISA-L xor_gen", { _ = cdmbench_isal_xor(srcs, Int32(k), output, n) })
    }
}

// MARK: - run

if requestsOnly > 0 {
    SoftwareBackendConfig.workerThreads = 1
    for name in functions {
        for n in sizes {
            let request = bsdshim(name, n)
            for _ in 0..<requestsOnly { request.run() }
            request.finish()
            print("\(name) \(fmtSize(n)): \(requestsOnly) requests")
        }
    }
    exit(0)
}

/// v with `digits` decimals, right-aligned in w columns.
func fmt(_ v: Double, _ w: Int = 7, digits: Int = 1) -> String {
    var scale = 1
    for _ in 0..<digits { scale *= 10 }
    let q = Int((v * Double(scale)).rounded())
    var frac = String(q % scale)
    frac = String(repeating: "0", count: max(0, digits - frac.count)) + frac
    let s = digits > 0 ? "\(q / scale).\(frac)" : "\(q)"
    return String(repeating: " ", count: max(0, w - s.count)) + s
}
/// GB/s with 2 significant decimals below 10 (never a bare 0.0).
func gbs(_ v: Double, _ w: Int = 7) -> String { fmt(v, w, digits: v < 10 ? 2 : 1) }
func pad(_ s: String, _ w: Int) -> String { s + String(repeating: " ", count: max(0, w - s.count)) }

/// The raw kernel over n bytes of the same buffers, as a body that runs it
/// once: the library's closure itself, which jumps to the kernel (the
/// reference's body jumps to its C wrapper the same way).
@MainActor func kernel(_ name: String, _ n: Int) -> () -> Void {
    let srcs = UnsafeMutablePointer<UnsafeRawPointer>.allocate(capacity: maxInputs)
    for j in 0..<maxInputs { srcs[j] = UnsafeRawPointer(name == "compare" ? (j == 0 ? inputs[0] : twin) : inputs[j]) }
    guard let k = Kernels.rawKernel(name, dst: output, inputs: srcs, length: n) else { return {} }
    return k.run
}

/// "1.21× faster", "0.97× — even" (within 5%), "0.77× — slower": which side is ahead, in words.
func verdict(_ r: Double) -> String {
    let x = fmt(r, 0, digits: 2) + "×"
    return r >= 1.05 ? "\(x) faster" : r >= 0.95 ? "\(x) — even" : "\(x) — slower"
}

let cpus = facts.cpus
print("GB/s, best of \(trials) trials taken in turn. kernel = the SIMD routine on the buffers; process = dmover_process")
print("with DMOVER_REQ_WAIT, 1 worker; bsdshim/reference in words (even = within 5%); 2 workers = split in two (ratio to 1).")
print("\(pad("function", 13)) \(pad("size", 8)) \(pad(" kernel", 7)) \(pad("process", 7)) \(pad(" reference", 19)) \(pad("    ref", 7)) "
      + "\(pad("  kernel vs ref", 19)) \(pad("  process vs ref", 19)) 2 workers")
var at256: [String: (one: Double, two: Double, ref: Double)] = [:]
var slower: [String] = []
for name in functions {
    for n in sizes {
        SoftwareBackendConfig.workerThreads = 1
        let request = bsdshim(name, n)
        let (refName, refBody) = reference(name, n)
        let m = measure(n, [kernel(name, n), request.run, refBody])
        request.finish()
        let (raw, ours, ref) = (m[0], m[1], m[2])
        var two = ""
        var twoValue = 0.0
        if n >= 32 << 20 && cpus >= 2 {
            SoftwareBackendConfig.workerThreads = 2
            let split = bsdshim(name, n)
            twoValue = measure(n, [split.run])[0]
            split.finish()
            two = gbs(twoValue) + " (\(fmt(twoValue / ours, 0, digits: 2))×)"
        }
        if n == 256 << 20 { at256[name] = (ours, twoValue, ref) }
        if raw / ref < 0.95 { slower.append("\(name) \(fmtSize(n)) kernel \(fmt(raw / ref, 0, digits: 2))×") }
        if ours / ref < 0.95 { slower.append("\(name) \(fmtSize(n)) process \(fmt(ours / ref, 0, digits: 2))×") }
        print("\(pad(name, 13)) \(pad(fmtSize(n), 8)) \(gbs(raw)) \(gbs(ours)) \(pad(" " + refName, 19)) \(gbs(ref)) "
              + "  \(pad(verdict(raw / ref), 17))   \(pad(verdict(ours / ref), 17)) \(two)")
    }
}
print(slower.isEmpty ? "bsdshim is at least 0.95× the reference in every cell."
                     : "below 0.95× the reference: \(slower.joined(separator: "; "))")

// MARK: - goals (issue: 256 MiB, one worker; two workers >= 1.8x one)

// The absolute goals were set on a day when this kind of machine's memory gave
// the reference (glibc or ISA-L) `refThen` GB/s; memory speed varies several
// fold between days on a shared VM, so each goal is also checked as the same
// ratio to the reference measured in this run.
let goals: [(name: String, want: Double, refThen: Double)] = [
    ("copy", 15, 9.5), ("zero", 55, 63.2), ("fill8", 23, 24.3), ("xor2", 8, 4.9), ("xor8", 2.5, 1.8)]
if !at256.isEmpty {
    print("goals at 256 MiB (absolute; then as a ratio to the reference, which did `then` GB/s when the goal was set):")
    for (name, want, refThen) in goals {
        guard let m = at256[name] else { continue }
        let ratio = m.one / m.ref, wantRatio = want / refThen
        var line = "  \(pad(name, 6)) 1 worker \(gbs(m.one)) GB/s (goal \(fmt(want, 0))): \(m.one >= want ? "met" : "MISSED")"
        line += "; \(fmt(ratio, 0, digits: 2))× the reference (goal \(fmt(wantRatio, 0, digits: 2))×, then \(fmt(refThen, 0)) GB/s, now \(gbs(m.ref, 0))): "
            + (ratio >= wantRatio * 0.995 ? "met" : "MISSED")
        if m.two > 0 {
            line += "; 2 workers \(fmt(m.two / m.one, 0, digits: 2))× (goal 1.8×): \(m.two / m.one >= 1.8 ? "met" : "MISSED")"
        }
        print(line)
    }
}
