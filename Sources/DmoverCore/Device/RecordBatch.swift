// SPDX-License-Identifier: BSD-2-Clause
// RecordBatch.swift: checks a batch of request records against the client's memory and runs the valid ones.

import BSDSystem
import CBSDShim
import CBSDShimABI
import Glibc

/// Working storage for one batch, allocated once per descriptor and grown only
/// for unusually many iovecs or pages: the steady state allocates nothing.
///
/// Order of checks (NetBSD's dmio_usrreq_init, plus addresses): the input
/// array must be readable (EFAULT); iovcnt above IOV_MAX, or an input with
/// none, is EINVAL; the iovec arrays must be readable (EFAULT); totals above
/// SSIZE_MAX or an input whose length differs from the output's is EINVAL;
/// every page of every input must be readable and of the output writable
/// (EFAULT, AddressCheck). The core then checks the shape for the function
/// (EINVAL). Memory unmapped by another thread after the check is not
/// covered (as with any system call given a buffer that is freed meanwhile).
final class RecordBatch {
    private static let batchMax = Int(DMIO_NREQS_MAX)
    private static let maxInputs = dmoverMaxInputs
    /// Buffers a record names: its output, then at most maxInputs inputs.
    /// Per-buffer tables (iovAt, lengths) give each record this many slots.
    private static let buffersPerRecord = 1 + maxInputs
    /// Copied input arrays: record r's at r * ninputs.
    private let inputs = UnsafeMutablePointer<dmio_buffer>.allocate(capacity: batchMax * maxInputs)
    /// Copied iovec arrays, compact: buffer b (0 = output, 1 + j = input j) of record r at iovAt[slot(r, b)].
    @exclusivity(unchecked) private var iovs = Growable<iovec>(4096)
    private let iovAt = UnsafeMutablePointer<Int>.allocate(capacity: batchMax * buffersPerRecord)
    private let lengths = UnsafeMutablePointer<Int>.allocate(capacity: batchMax * buffersPerRecord)
    /// Client ranges to check.
    @exclusivity(unchecked) private var ranges = Growable<CheckedRange>(2048)
    /// Input buffer ranges, gathered beside the output ones (ranges).
    @exclusivity(unchecked) private var inputRanges = Growable<CheckedRange>(2048)
    private let uios = UnsafeMutablePointer<uio>.allocate(capacity: buffersPerRecord)
    private let facts = MemoryFacts()
    /// Client pages known readable in the batch being checked.
    private let provenStorage = UnsafeMutablePointer<CheckedRange>.allocate(capacity: ReadableSpans.capacity)
    @exclusivity(unchecked) private var proven: ReadableSpans

    deinit {
        inputs.deallocate()
        uios.deallocate()
        iovAt.deallocate()
        lengths.deallocate()
        iovs.free()
        ranges.free()
        inputRanges.free()
        provenStorage.deallocate()
        scratch.deallocate()
    }

    // The batch being served (set by run; unchecked: only the serving thread
    // touches them). Not optionals: each use would test for nil again.
    @exclusivity(unchecked) private var records: UnsafeRawPointer
    @exclusivity(unchecked) private var responses: UnsafeMutablePointer<dmio_usrresp>

    init() {
        proven = ReadableSpans(storage: provenStorage)
        // Placeholders until the first run: the batch's own storage.
        records = UnsafeRawPointer(uios)
        responses = scratch
    }
    private let scratch = UnsafeMutablePointer<dmio_usrresp>.allocate(capacity: 1)

    @inline(__always) private func record(_ r: Int) -> dmio_usrreq {
        (records + r * DeviceProtocol.requestSize).load(as: dmio_usrreq.self)
    }
    /// Where buffer b (0 = output, 1 + j = input j) of record r sits in the per-buffer tables.
    @inline(__always) private func slot(_ r: Int, _ b: Int) -> Int { r * Self.buffersPerRecord + b }
    @inline(__always) private func live(_ r: Int) -> Bool { responses[r].resp_error == -1 }
    @inline(__always) private func fail(_ r: Int, _ e: Int32) { responses[r].resp_error = e }

    /// Runs the records of `recs[0..<count]` whose response error is -1 and sets each response.
    /// `copiedFrom` is where the records were copied in from: client pages proven readable.
    func run(_ recs: UnsafeRawPointer, count: Int, copiedFrom client: UnsafeRawPointer,
             responses resp: UnsafeMutablePointer<dmio_usrresp>,
             session: UnsafeMutablePointer<dmover_session>, request dreq: UnsafeMutablePointer<dmover_request>,
             ninputs: Int) {
        records = recs
        responses = resp
        proven.removeAll()
        if let span = AddressCheck.pages(client, count * DeviceProtocol.requestSize, owner: -1, facts) { proven.add(span.lo, span.hi) }
        ranges.reserve(count * (ninputs + 1))
        // The functions with no, one or two inputs (all but xor3 and up) get
        // their own copy of the passes, in which every loop over a record's
        // buffers has a known count.
        switch ninputs {
        case 0: passes(count, Inputs0(), dreq)
        case 1: passes(count, Inputs1(), dreq)
        case 2: passes(count, Inputs2(), dreq)
        default: passes(count, InputsN(value: ninputs), dreq)
        }
    }

    @inline(never) private func passes<I: InputCount>(_ count: Int, _ i: I, _ dreq: UnsafeMutablePointer<dmover_request>) {
        if i.value > 0 { checkInputArrays(count, i) }
        let copied = readIovecArrays(count, i)
        checkBuffers(count, i, outputIovecs: copied.outputs, inputIovecs: copied.inputs)
        for r in 0..<count where live(r) { execute(r, i, dreq) }
    }

    // The passes below are fused per record where the order of a record's
    // own checks stays NetBSD's (each record's first failure is its error);
    // only the address checks are gathered across records, one level at a
    // time, so that neighbouring pages cost one call.

    /// Fails the records whose req_inbuf[0..<ninputs] cannot be read.
    private func checkInputArrays<I: InputCount>(_ count: Int, _ i: I) {
        let ninputs = i.value
        let bytes = ninputs * MemoryLayout<dmio_buffer>.stride
        var t = 0
        for r in 0..<count where live(r) {
            guard let p = record(r).req_inbuf, let range = AddressCheck.pages(p, bytes, owner: Int32(r), facts) else {
                fail(r, EFAULT)
                continue
            }
            if proven.contains(range) { continue }
            ranges[t] = range
            t += 1
        }
        AddressCheck.check(ranges.base, count: t, write: false, facts, proven: &proven) { fail(Int($0), EFAULT) }
    }

    /// Copies each live record's input array, checks iovcnt (EINVAL), then
    /// checks the iovec arrays are readable (EFAULT) and copies them.
    /// Returns how many output and input iovecs were copied.
    private func readIovecArrays<I: InputCount>(_ count: Int, _ i: I) -> (outputs: Int, inputs: Int) {
        let ninputs = i.value
        let iovMax = UInt32(UserMemory.iovMax)
        let bytes = ninputs * MemoryLayout<dmio_buffer>.stride
        // The batch's variable fields in locals: the stores through the
        // tables below could alias them, so each use would load them again.
        let found = ranges.base, known = proven, f = facts
        var total = 0
        var t = 0
        for r in 0..<count where live(r) {
            let rec = record(r)
            let inAt = r * ninputs
            // One input (copy, fill-less functions): a plain load, not a memcpy call per record.
            if ninputs == 1 { inputs[inAt] = rec.req_inbuf!.pointee } else if ninputs > 1 { memcpy(inputs + inAt, rec.req_inbuf, bytes) }
            let out = rec.req_outbuf
            var n = Int(out.dmbuf_iovcnt)
            var bad = out.dmbuf_iovcnt > iovMax
            for j in 0..<ninputs {
                let c = inputs[inAt + j].dmbuf_iovcnt
                if c == 0 || c > iovMax { bad = true }
                n += Int(c)
            }
            if bad { fail(r, EINVAL); continue }
            total += n
            for b in 0...ninputs {
                let buf = b == 0 ? out : inputs[inAt + b - 1]
                let n = Int(buf.dmbuf_iovcnt)
                if n == 0 { continue }
                guard let p = buf.dmbuf_iov,
                      let range = AddressCheck.pages(p, n * MemoryLayout<iovec>.stride, owner: Int32(r), f) else {
                    fail(r, EFAULT)
                    break
                }
                if known.contains(range) { continue }
                found[t] = range
                t += 1
            }
        }
        AddressCheck.check(found, count: t, write: false, f, proven: &proven) { fail(Int($0), EFAULT) }
        iovs.reserve(total)
        let v = iovs.base
        var at = 0, outputs = 0
        for r in 0..<count where live(r) {
            outputs += Int(record(r).req_outbuf.dmbuf_iovcnt)
            for b in 0...ninputs {
                let buf = b == 0 ? record(r).req_outbuf : inputs[r * ninputs + b - 1]
                iovAt[slot(r, b)] = at
                let n = Int(buf.dmbuf_iovcnt)
                if n == 1 {
                    v[at] = buf.dmbuf_iov!.pointee        // the usual linear buffer: no memcpy call
                } else if n > 0 {
                    memcpy(v + at, buf.dmbuf_iov, n * MemoryLayout<iovec>.stride)
                }
                at += n
            }
        }
        return (outputs, at - outputs)
    }

    @inline(__always) private func iovcnt(_ r: Int, _ b: Int, _ ninputs: Int) -> Int {
        Int(b == 0 ? record(r).req_outbuf.dmbuf_iovcnt : inputs[r * ninputs + b - 1].dmbuf_iovcnt)
    }

    /// Totals (EINVAL: above SSIZE_MAX, or with an output an input not as
    /// long as the output), then every output page writable and every input
    /// page readable (EFAULT). Ranges of both kinds are gathered in one pass:
    /// a record failing both checks is EFAULT either way. Each iovec adds at
    /// most one range: the output and input iovecs readIovecArrays copied
    /// bound the ranges of each kind.
    private func checkBuffers<I: InputCount>(_ count: Int, _ i: I, outputIovecs: Int, inputIovecs: Int) {
        let ninputs = i.value
        ranges.reserve(outputIovecs)
        inputRanges.reserve(inputIovecs)
        // In locals, as in readIovecArrays.
        let v = iovs.base, writes = ranges.base, reads = inputRanges.base, known = proven, f = facts
        var t = 0, u = 0
        records: for r in 0..<count where live(r) {
            // iovcnt of the output kept in a local: loaded once per record.
            let outputs = iovcnt(r, 0, ninputs)
            for b in 0...ninputs {
                var sum = 0, overflow = false
                let base = iovAt[slot(r, b)]
                let n = b == 0 ? outputs : iovcnt(r, b, ninputs)
                for k in 0..<n {
                    // iov_len is size_t (imported as Int): above SSIZE_MAX reads as negative.
                    let len = v[base + k].iov_len
                    let (s, o) = sum.addingReportingOverflow(len)
                    if o || len < 0 { overflow = true }
                    sum = s
                }
                if overflow || sum < 0 { fail(r, EINVAL); continue records }
                lengths[slot(r, b)] = sum
                if b > 0 && outputs > 0 && sum != lengths[slot(r, 0)] { fail(r, EINVAL); continue records }
            }
            // Only now, with the record's lengths valid: its ranges.
            for b in 0...ninputs {
                let base = iovAt[slot(r, b)]
                let n = b == 0 ? outputs : iovcnt(r, b, ninputs)
                for k in 0..<n {
                    let iov = v[base + k]
                    guard iov.iov_len > 0 else { continue }
                    guard let range = AddressCheck.pages(iov.iov_base, iov.iov_len, owner: Int32(r), f) else {
                        fail(r, EFAULT)
                        continue records
                    }
                    if b == 0 {
                        writes[t] = range
                        t += 1
                    } else if !known.contains(range) {
                        reads[u] = range
                        u += 1
                    }
                }
            }
        }
        AddressCheck.check(writes, count: t, write: true, f, proven: &proven) { fail(Int($0), EFAULT) }
        AddressCheck.check(reads, count: u, write: false, f, proven: &proven) { fail(Int($0), EFAULT) }
    }

    /// Runs record r through the core with the reused request and sets its response.
    private func execute<I: InputCount>(_ r: Int, _ i: I, _ dreq: UnsafeMutablePointer<dmover_request>) {
        let ninputs = i.value
        let rec = record(r)
        var linear = true
        for b in 0...ninputs where iovcnt(r, b, ninputs) > 1 || (b > 0 && iovcnt(r, b, ninputs) != 1) { linear = false }
        let hasOut = iovcnt(r, 0, ninputs) > 0
        dreq.pointee.dreq_outbuf_type = hasOut ? (linear ? DMOVER_BUF_LINEAR : DMOVER_BUF_UIO) : DMOVER_BUF_NONE
        dreq.pointee.dreq_inbuf_type = ninputs > 0 ? (linear ? DMOVER_BUF_LINEAR : DMOVER_BUF_UIO) : DMOVER_BUF_NONE
        for b in 0...ninputs where b > 0 || hasOut {
            let base = iovAt[slot(r, b)]
            var buf = dmover_buffer()
            if linear {
                buf.dmbuf_linear = dmover_buf_linear(l_addr: iovs[base].iov_base, l_len: iovs[base].iov_len)
            } else {
                uios[b] = uio(uio_iov: iovs.base + base, uio_iovcnt: Int32(iovcnt(r, b, ninputs)), uio_resid: lengths[slot(r, b)])
                buf.dmbuf_uio = uios + b
            }
            if b == 0 { dreq.pointee.dreq_outbuf = buf } else { dreq.pointee.dreq_inbuf[b - 1] = buf }
        }
        dreq.pointee.dreq_immediate = rec.req_immediate
        dreq.pointee.dreq_callback = nil
        // The batch's own request, used by this thread alone under writeLock:
        // a plain store, not a locked instruction per record.
        RequestBlocks.flags(dreq).pointee |= RequestFlag.wait
        RequestProcessing.process(dreq)
        let flags = cbsdshim_atomic_load_int(RequestBlocks.flags(dreq))
        if flags & RequestFlag.error != 0 {
            responses[r].resp_error = dreq.pointee.dreq_error
            responses[r].resp_immediate = dmio_usrresp().resp_immediate     // zeroed on error
        } else {
            responses[r].resp_error = 0
            responses[r].resp_immediate = dreq.pointee.dreq_immediate
        }
    }
}

/// How many inputs the session's function takes: a constant for the usual
/// counts, so that passes specialised for it unroll their loops over a
/// record's buffers.
private protocol InputCount { var value: Int { get } }
private struct Inputs0: InputCount { var value: Int { 0 } }
private struct Inputs1: InputCount { var value: Int { 1 } }
private struct Inputs2: InputCount { var value: Int { 2 } }
private struct InputsN: InputCount { let value: Int }

/// A buffer that grows (doubling) and never shrinks.
struct Growable<T> {
    private(set) var base: UnsafeMutablePointer<T>
    private var capacity: Int
    init(_ capacity: Int) {
        self.capacity = capacity
        base = .allocate(capacity: capacity)
    }
    @inline(__always) mutating func reserve(_ n: Int) {
        if n > capacity { grow(n) }
    }
    private mutating func grow(_ n: Int) {
        var c = capacity
        while c < n { c *= 2 }
        let p = UnsafeMutablePointer<T>.allocate(capacity: c)
        p.moveInitialize(from: base, count: capacity)
        base.deallocate()
        base = p
        capacity = c
    }
    func free() { base.deallocate() }
    @inline(__always) subscript(i: Int) -> T {
        get { base[i] }
        nonmutating set { base[i] = newValue }
    }
}
