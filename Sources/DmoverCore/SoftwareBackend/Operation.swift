// SPDX-License-Identifier: BSD-2-Clause
// Operation.swift: a validated software-backend request, and the walk that
// feeds its buffers to a kernel as runs contiguous in every buffer at once.

import BSDSystem
import CBSDShimABI
import DmoverKernels
import Glibc

/// A request checked against its function's shape, ready to run (or to split).
struct Operation {
    let function: SoftwareFunction
    let ninputs: Int
    let out: Segments
    let ins: InlineArray<16, Segments>
    /// Bytes of the operation (output length, or input length without output).
    let length: Int
    /// dreq_immediate as a little-endian 64-bit value.
    let immediate: UInt64
    /// Use non-temporal stores (large outputs that would only evict the cache).
    let nt: Bool

    /// Validates the request's buffers for `function`; throws EINVAL/EFAULT per request on a bad shape.
    static func make(_ dreq: UnsafeMutablePointer<dmover_request>, _ function: SoftwareFunction,
                     ntThreshold: Int) throws(Errno) -> Operation {
        let r = dreq.pointee
        let n = function.inputs
        var out = Segments.empty
        if function.hasOutput {
            guard r.dreq_outbuf_type != DMOVER_BUF_NONE else { throw .invalidArgument }
            out = try Segments.make(r.dreq_outbuf_type, r.dreq_outbuf)
        } else if r.dreq_outbuf_type != DMOVER_BUF_NONE {
            throw .invalidArgument
        }
        var ins = InlineArray<16, Segments>(repeating: .empty)
        if n > 0 {
            guard let inbuf = r.dreq_inbuf else { throw .invalidArgument }
            if function.hasOutput && r.dreq_inbuf_type != r.dreq_outbuf_type { throw .invalidArgument }
            for j in 0..<n {
                ins[j] = try Segments.make(r.dreq_inbuf_type, inbuf[j])
            }
        }
        let length = function.hasOutput ? out.length : ins[0].length
        for j in 0..<n where ins[j].length != length { throw .invalidArgument }
        let imm = withUnsafeBytes(of: r.dreq_immediate) { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        return Operation(function: function, ninputs: n, out: out, ins: ins, length: length,
                         immediate: imm, nt: function.hasOutput && length >= ntThreshold)
    }

    /// Calls `body(dst, srcs, position, count)` for each run of [from, to) that is
    /// contiguous in the output and every input; stops early when body returns false.
    /// dst is a dummy when there is no output. Allocates nothing (stack scratch).
    @inline(__always)
    func walk(from: Int, to: Int,
              _ body: (UnsafeMutableRawPointer, UnsafePointer<UnsafeRawPointer>, Int, Int) -> Bool) {
        let n = ninputs
        withUnsafeTemporaryAllocation(of: Cursor.self, capacity: 17) { cur in
            withUnsafeTemporaryAllocation(of: UnsafeRawPointer.self, capacity: 16) { srcs in
                let hasOut = function.hasOutput
                cur.initializeElement(at: 16, to: Cursor(out, at: hasOut ? from : 0))
                for j in 0..<n { cur.initializeElement(at: j, to: Cursor(ins[j], at: from)) }
                var pos = from
                while pos < to {
                    var len = to &- pos
                    var dst = UnsafeMutableRawPointer(bitPattern: 64)!
                    if hasOut {
                        let (p, a) = cur[16].chunk()
                        dst = p
                        len = min(len, a)
                    }
                    for j in 0..<n {
                        let (p, a) = cur[j].chunk()
                        srcs[j] = UnsafeRawPointer(p)
                        len = min(len, a)
                    }
                    if !body(dst, UnsafePointer(srcs.baseAddress!), pos, len) { return }
                    if hasOut { cur[16].advance(len) }
                    for j in 0..<n { cur[j].advance(len) }
                    pos &+= len
                }
            }
        }
    }
}
