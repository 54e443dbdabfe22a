// SPDX-License-Identifier: BSD-2-Clause
// dmover-io-bench: /dev/dmover throughput (4 KiB copies in batches of 1, 8, 64) and round-trip latency, beside the limits.
//
//   dmover-io-bench [--quick] [--only-batch N]   (--only-batch: that throughput figure alone, for profiling)
// Every figure is measured in this run: the limit is a plain memcpy loop over
// the same buffers, the second reference in-process dmover_process
// (DMOVER_REQ_WAIT, same 4 KiB copy). The descriptor rows take the preload
// library's path (its write()/read() call bsdshim_dmover_write_tracked and
// _read_tracked); one more row shows a linked program's dmover_write/dmover_read,
// which also check the descriptor's identity.

import BSDSystem
import CBSDShimABI
import DmoverCore
import DmoverSIMD
import Glibc

if CommandLine.arguments.contains("--help") || CommandLine.arguments.contains("-h") {
    print("""
    usage: dmover-io-bench [--quick] [--only-batch N]
      --quick         a tenth of the requests and latency samples
      --only-batch N  the descriptor throughput with batches of N (1-64) alone
    Prints /dev/dmover throughput and latency for 4 KiB copies beside a
    memcpy loop and in-process dmover_process, measured in the same run.
    """)
    exit(0)
}
NativeKernels.install()
let quick = CommandLine.arguments.contains("--quick")
let requestsPerRun = quick ? 200_000 : 2_000_000
let latencySamples = quick ? 20_000 : 200_000
let length = 4096

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

func fail(_ what: String) -> Never {
    print("dmover-io-bench: \(what) failed (errno \(errno))")
    exit(1)
}

// 64 source/destination pairs, reused round-robin (warm in cache, as a batch would be).
let slots = 64
nonisolated(unsafe) let src = UnsafeMutableRawPointer.allocate(byteCount: slots * length, alignment: 64)
nonisolated(unsafe) let dst = UnsafeMutableRawPointer.allocate(byteCount: slots * length, alignment: 64)
memset(src, 0x5A, slots * length)
memset(dst, 0, slots * length)

// MARK: - the limit: memcpy over the same buffers

func memcpyRate() -> Double {
    let t0 = now()
    for i in 0..<requestsPerRun {
        let s = i & (slots - 1)
        memcpy(dst + s * length, src + s * length, length)
    }
    return Double(requestsPerRun) / (now() - t0)
}

/// The CPU's model name (first "model name" line of /proc/cpuinfo).
func cpuModel() -> String {
    guard let f = fopen("/proc/cpuinfo", "r") else { return "unknown CPU" }
    defer { fclose(f) }
    var line: UnsafeMutablePointer<CChar>? = nil
    var cap = 0
    defer { free(line) }
    while getline(&line, &cap, f) > 0, let line {
        let text = String(cString: line)
        if text.hasPrefix("model name"), let colon = text.firstIndex(of: ":") {
            return String(text[text.index(after: colon)...].drop(while: { $0 == " " }).dropLast())
        }
    }
    return "unknown CPU"
}

// MARK: - reference: in-process dmover_process

func inProcessRate() -> Double {
    let dses: UnsafeMutablePointer<dmover_session>
    do { dses = try SessionLifecycle.create("copy") } catch { fail("dmover_session_create") }
    guard let dreq = try? RequestBlocks.alloc(dses, inbuf: nil) else { fail("dmover_request_alloc") }
    dreq.pointee.dreq_outbuf_type = DMOVER_BUF_LINEAR
    dreq.pointee.dreq_inbuf_type = DMOVER_BUF_LINEAR
    let t0 = now()
    for i in 0..<requestsPerRun {
        let s = i & (slots - 1)
        dreq.pointee.dreq_outbuf.dmbuf_linear = dmover_buf_linear(l_addr: dst + s * length, l_len: length)
        dreq.pointee.dreq_inbuf[0].dmbuf_linear = dmover_buf_linear(l_addr: src + s * length, l_len: length)
        dreq.pointee.dreq_flags |= Int32(DMOVER_REQ_WAIT)
        RequestProcessing.process(dreq)
        if dreq.pointee.dreq_flags & Int32(DMOVER_REQ_ERROR) != 0 { fail("dmover_process") }
    }
    let rate = Double(requestsPerRun) / (now() - t0)
    RequestBlocks.free(dreq)
    SessionLifecycle.destroy(dses)
    return rate
}

// MARK: - through the descriptor

/// 64 requests over the 64 slots; iovecs and input arrays live as long as the program.
nonisolated(unsafe) let iovs = UnsafeMutablePointer<iovec>.allocate(capacity: 2 * slots)
nonisolated(unsafe) let inbufs = UnsafeMutablePointer<dmio_buffer>.allocate(capacity: slots)
nonisolated(unsafe) let requests = UnsafeMutablePointer<dmio_usrreq>.allocate(capacity: slots)
nonisolated(unsafe) let responses = UnsafeMutablePointer<dmio_usrresp>.allocate(capacity: slots)
for s in 0..<slots {
    iovs[2 * s] = iovec(iov_base: dst + s * length, iov_len: length)
    iovs[2 * s + 1] = iovec(iov_base: src + s * length, iov_len: length)
    inbufs[s] = dmio_buffer(dmbuf_iov: iovs + 2 * s + 1, dmbuf_iovcnt: 1)
    var r = dmio_usrreq()
    r.req_outbuf = dmio_buffer(dmbuf_iov: iovs + 2 * s, dmbuf_iovcnt: 1)
    r.req_inbuf = inbufs + s
    r.req_id = UInt32(s)
    requests[s] = r
}

func openCopy() -> Int32 {
    let fd: Int32
    do { fd = try DmoverDevice.open(flags: O_RDWR) } catch { fail("dmover_open") }
    var sf = dmio_setfunc()
    withUnsafeMutableBytes(of: &sf.dsf_name) { _ = strcpy($0.baseAddress!.assumingMemoryBound(to: CChar.self), "copy") }
    do { try DmoverDevice.ioctl(fd, UInt(DMIO_SETFUNC_NETBSD), &sf) } catch { fail("DMIO_SETFUNC") }
    return fd
}

func descriptorRate(batch: Int, tracked: Bool = true) -> Double {
    let fd = openCopy()
    let rounds = requestsPerRun / batch
    let wbytes = batch * MemoryLayout<dmio_usrreq>.stride, rbytes = batch * MemoryLayout<dmio_usrresp>.stride
    let t0 = now()
    for _ in 0..<rounds {
        guard (try? DmoverDevice.write(fd, requests, wbytes, tracked: tracked)) == wbytes else { fail("dmover_write") }
        guard (try? DmoverDevice.read(fd, responses, rbytes, tracked: tracked)) == rbytes else { fail("dmover_read") }
    }
    let rate = Double(rounds * batch) / (now() - t0)
    for i in 0..<batch where responses[i].resp_error != 0 { fail("request \(i): error \(responses[i].resp_error)") }
    try? DmoverDevice.close(fd)
    return rate
}

func latency() -> (p50: Double, p99: Double) {
    let fd = openCopy()
    var samples = [Double](repeating: 0, count: latencySamples)
    let wbytes = MemoryLayout<dmio_usrreq>.stride, rbytes = MemoryLayout<dmio_usrresp>.stride
    for i in 0..<latencySamples {
        let t0 = now()
        guard (try? DmoverDevice.write(fd, requests, wbytes, tracked: true)) == wbytes,
              (try? DmoverDevice.read(fd, responses, rbytes, tracked: true)) == rbytes else { fail("round trip") }
        samples[i] = now() - t0
    }
    try? DmoverDevice.close(fd)
    samples.sort()
    return (samples[latencySamples / 2], samples[latencySamples * 99 / 100])
}

func fmt(_ v: Double, _ digits: Int = 2) -> String {
    var p = 1.0
    for _ in 0..<digits { p *= 10 }
    let r = (v * p).rounded() / p
    return "\(r)"
}

if let i = CommandLine.arguments.firstIndex(of: "--only-batch"), i + 1 < CommandLine.arguments.count,
   let b = Int(CommandLine.arguments[i + 1]), b >= 1, b <= 64 {
    print("descriptor, batches of \(b): \(fmt(descriptorRate(batch: b) / 1e6)) M req/s")
    exit(0)
}
func pad(_ t: String, _ n: Int) -> String { t.count >= n ? t : t + String(repeating: " ", count: n - t.count) }

/// "0.37x the limit — slower" style: the ratio said in words.
func versus(_ ours: Double, _ theirs: Double, _ name: String) -> String {
    let r = ours / theirs
    let text = r >= 0.01 ? fmt(r) : "\(Int((r * 10000).rounded()) )e-4"
    return r >= 1 ? "bsdshim \(text)x faster than \(name)" : "bsdshim \(text)x \(name) — slower"
}

let limit = memcpyRate()
let reference = inProcessRate()
print("dmover-io-bench: \(cpuModel()), \(sysconf(Int32(_SC_NPROCESSORS_ONLN))) CPUs; 4 KiB copies, \(requestsPerRun) requests per row\(quick ? " (--quick)" : "")")
print("  limit: plain memcpy over the same buffers   \(fmt(limit / 1e6)) M copies/s")
print("  in-process dmover_process (WAIT)            \(fmt(reference / 1e6)) M req/s   \(versus(reference, limit, "memcpy"))")
print("  " + pad("descriptor (preload write() + read())", 44) + pad("M req/s", 10) + pad("goal", 9) + "vs the memcpy limit")
let goals: [Int: Double] = [1: 0.5e6, 8: 1.5e6, 64: 3e6]
for batch in [1, 8, 64] {
    let rate = descriptorRate(batch: batch)
    let goal = goals[batch]!
    print("  " + pad("  batches of \(batch)", 44) + pad(fmt(rate / 1e6), 10) +
          pad(">= \(fmt(goal / 1e6, 1))", 9) + versus(rate, limit, "memcpy") +
          (rate >= goal ? "; goal met" : "; goal NOT met"))
}
let linked = descriptorRate(batch: 1, tracked: false)
print("  " + pad("  linked dmover_write/read, batches of 1", 44) + pad(fmt(linked / 1e6), 10) + pad("", 9) +
      versus(linked, limit, "memcpy"))
let (p50, p99) = latency()
print("  single-request round trip                   p50 \(fmt(p50 * 1e6, 1)) us   p99 \(fmt(p99 * 1e6, 1)) us" +
      "   (memcpy of 4 KiB: \(fmt(1e6 / limit, 2)) us)")
