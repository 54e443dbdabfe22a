// SPDX-License-Identifier: BSD-2-Clause
// dmover-bench: GB/s of the software backend, both as the raw SIMD kernel
// called on the buffers and through dmover_process (DMOVER_REQ_WAIT), beside
// glibc and ISA-L on the same buffers in the same run, with ratios; then the
// absolute goals at 256 MiB.
//
//   dmover-bench [--quick] [--sizes 4K,64K,1M,32M,256M] [--functions zero,copy,...]
// GB/s = bytes of the output per second (bytes of input for crc32c/compare).
// "1 worker" is the single-core comparison; "2 workers" splits large requests.

import CDmoverBench
import DmoverCore
import DmoverSIMD
import Glibc
import CBSDShimABI

// MARK: - options

NativeKernels.install()
var sizes: [Int] = [4 << 10, 64 << 10, 1 << 20, 32 << 20, 256 << 20]
var functions = ["zero", "fill8", "copy", "xor2", "xor4", "xor8", "iscsi-crc32c", "copy-crc32c", "compare"]
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
    default:
        print("usage: dmover-bench [--quick] [--sizes 4K,64K,1M,32M,256M] [--functions zero,copy,...]")
        exit(2)
    }
}

// MARK: - buffers

let maxSize = sizes.max() ?? 0
let maxInputs = 8
func buffer(_ n: Int, _ byte: UInt8) -> UnsafeMutableRawPointer {
    var p: UnsafeMutableRawPointer? = nil
    precondition(posix_memalign(&p, 4096, max(n, 64)) == 0)
    memset(p!, Int32(byte), n)
    return p!
}
let inputs = (0..<maxInputs).map { buffer(maxSize, UInt8(0x11 &* ($0 + 1))) }
let output = buffer(maxSize, 0)

/// Best-of-3 seconds for one call of `body` (each trial repeats enough to last ~40 ms).
func measure(_ bytes: Int, _ body: () -> Void) -> Double {
    body()    // warm-up (page faults, thread start)
    let reps = max(1, min(20_000, 40_000_000 / max(1, bytes / 4)))
    var best = Double.infinity
    for _ in 0..<3 {
        let t0 = cdmbench_now_ns()
        for _ in 0..<reps { body() }
        let dt = Double(cdmbench_now_ns() - t0) / 1e9 / Double(reps)
        best = min(best, dt)
    }
    return Double(bytes) / best / 1e9
}

// MARK: - bsdshim through the dmover API

/// Runs one request of `name` over n bytes and reports GB/s.
@MainActor func bsdshim(_ name: String, _ n: Int) -> Double {
    let dses = try! name.withCString { try Session.create($0) }
    defer { Session.destroy(dses) }
    let dreq = try! Request.alloc(dses, inbuf: nil)
    defer { Request.free(dreq) }
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
            let src = name == "compare" ? inputs[0] : inputs[j]
            dreq.pointee.dreq_inbuf![j].dmbuf_linear = dmover_buf_linear(l_addr: src, l_len: n)
        }
    }
    dreq.pointee.dreq_immediate.0 = 0xA5
    dreq.pointee.dreq_flags |= Int32(DMOVER_REQ_WAIT)
    let resetsCRC = name == "iscsi-crc32c" || name == "copy-crc32c"   // outside the timed loop
    let r = measure(n) {
        if resetsCRC { dreq.pointee.dreq_immediate = (0, 0, 0, 0, 0, 0, 0, 0) }
        Engine.process(dreq)
    }
    precondition(dreq.pointee.dreq_flags & Int32(DMOVER_REQ_ERROR) == 0, "\(name) failed: \(dreq.pointee.dreq_error)")
    return r
}

// MARK: - references

@MainActor func reference(_ name: String, _ n: Int) -> (String, Double) {
    switch name {
    case "zero": return ("glibc memset", measure(n) { cdmbench_memset(output, 0, n) })
    case "fill8": return ("glibc memset", measure(n) { cdmbench_memset(output, 0xA5, n) })
    case "copy": return ("glibc memcpy", measure(n) { cdmbench_memcpy(output, inputs[0], n) })
    case "iscsi-crc32c": return ("ISA-L crc32_iscsi", measure(n) { _ = cdmbench_isal_crc32c(inputs[0], n, 0) })
    case "copy-crc32c":
        return ("ISA-L crc + memcpy", measure(n) {
            _ = cdmbench_isal_crc32c(inputs[0], n, 0)
            cdmbench_memcpy(output, inputs[0], n)
        })
    case "compare": return ("glibc memcmp", measure(n) { _ = cdmbench_memcmp(inputs[0], inputs[0] + 0, n) })
    default:
        let k = Int(name.dropFirst(3))!
        var srcs: [UnsafeMutableRawPointer?] = Array(inputs[0..<k])
        return ("ISA-L xor_gen", measure(n) { _ = srcs.withUnsafeMutableBufferPointer { cdmbench_isal_xor($0.baseAddress, Int32(k), output, n) } })
    }
}

// MARK: - run

func fmtSize(_ n: Int) -> String { n >= 1 << 20 ? "\(n >> 20) MiB" : "\(n >> 10) KiB" }
func fmt(_ v: Double, _ w: Int = 7) -> String {
    let s = String(Int((v * 10).rounded()) / 10) + "." + String(Int((v * 10).rounded()) % 10)
    return String(repeating: " ", count: max(0, w - s.count)) + s
}
func pad(_ s: String, _ w: Int) -> String { s + String(repeating: " ", count: max(0, w - s.count)) }

/// The raw kernel over n bytes of the same buffers.
@MainActor func kernel(_ name: String, _ n: Int) -> Double {
    guard let k = Kernels.rawKernel(name) else { return 0 }
    let srcs = UnsafeMutablePointer<UnsafeRawPointer>.allocate(capacity: maxInputs)
    defer { srcs.deallocate() }
    for j in 0..<maxInputs { srcs[j] = UnsafeRawPointer(name == "compare" ? inputs[0] : inputs[j]) }
    var sink: UInt64 = 0
    let r = measure(n) { sink &+= k(output, srcs, n) }
    if sink == 42 { print("") }
    return r
}

let cpus = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
let fillNT = Kernels.usesRepStrings ? " (zero, fill8: \(fmtSize(SoftwareBackendConfig.fillNonTemporalMinimum)))" : ""
print("dmover-bench: kernels \(Kernels.description), \(cpus) CPUs, non-temporal from \(fmtSize(SoftwareBackendConfig.nonTemporalMinimum))"
      + "\(fillNT), split from \(fmtSize(SoftwareBackendConfig.splitMinimum))")
print("GB/s, best of 3. kernel = the SIMD routine on the buffers; process = dmover_process with DMOVER_REQ_WAIT, 1 worker;")
print("ratios against the reference; 2 workers = dmover_process split in two (ratio to 1 worker).")
print("\(pad("function", 13)) \(pad("size", 8)) \(pad(" kernel", 7)) \(pad("process", 7)) \(pad(" reference", 19)) \(pad("    ref", 7)) "
      + "\(pad("kern/ref", 8)) \(pad("proc/ref", 8)) 2 workers")
var at256: [String: (one: Double, two: Double, ref: Double)] = [:]
for name in functions {
    for n in sizes {
        SoftwareBackendConfig.workerThreads = 1
        let raw = kernel(name, n)
        let ours = bsdshim(name, n)
        let (refName, ref) = reference(name, n)
        var two = ""
        var twoValue = 0.0
        if n >= 32 << 20 && cpus >= 2 {
            SoftwareBackendConfig.workerThreads = 2
            twoValue = bsdshim(name, n)
            two = fmt(twoValue) + " (\(fmt(twoValue / ours, 0))x)"
        }
        if n == 256 << 20 { at256[name] = (ours, twoValue, ref) }
        print("\(pad(name, 13)) \(pad(fmtSize(n), 8)) \(fmt(raw)) \(fmt(ours)) \(pad(" " + refName, 19)) \(fmt(ref)) "
              + "\(fmt(raw / ref, 7))x \(fmt(ours / ref, 7))x \(two)")
    }
}

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
        var line = "  \(pad(name, 6)) 1 worker \(fmt(m.one)) GB/s (goal \(fmt(want, 0))): \(m.one >= want ? "met" : "MISSED")"
        line += "; \(fmt(ratio, 0))x the reference (goal \(fmt(wantRatio, 0))x, then \(fmt(refThen, 0)) GB/s, now \(fmt(m.ref, 0))): "
            + (ratio >= wantRatio * 0.995 ? "met" : "MISSED")
        if m.two > 0 {
            line += "; 2 workers \(fmt(m.two / m.one, 0))x (goal 1.8x): \(m.two / m.one >= 1.8 ? "met" : "MISSED")"
        }
        print(line)
    }
}
