// SPDX-License-Identifier: BSD-2-Clause
// LinearPath.swift: the light request path of the software backend: a request
// whose buffers are all linear and that is not split goes straight from the
// request fields into its kernel (no Operation, no cursors, no allocation, no
// lock, no reference counting). Any other shape, or a bad one, takes the
// general path, which also reports the errors.

import CBSDShim
import CBSDShimABI

extension SoftwareBackend {
    /// Runs `dreq` (already marked RUNNING), whose session's assignment is
    /// `assignment`, if it fits the light path; false (request untouched) otherwise.
    /// The jump to the function's case comes first, and each case checks
    /// its own shape (`linearShape` with constant arguments), so the path of
    /// an accepted request is one straight run of not-taken branches: at
    /// 4 KiB each taken jump on it costs about as much as a kernel store.
    @inline(__always)
    func executeLinear(_ dreq: UnsafeMutablePointer<dmover_request>,
                       _ assignment: UnsafeMutablePointer<dmover_assignment>?) -> Bool {
        guard let algdesc = assignment?.pointee.das_algdesc,
              let data = algdesc.pointee.dad_data else { return false }
        let tag = Int(bitPattern: data)
        guard let kind = SoftwareFunction.Kind(rawValue: (tag >> 8) & 0xFF) else { return false }
        // dreq_immediate read and written in place as one word (a copy of
        // the byte tuple compiled to a load, shift and or per byte).
        let immediate = UnsafeMutableRawPointer(dreq) + Self.immediateOffset
        // Each case reads only the entry point it calls from the set, and
        // makes the non-temporal choice `usesNonTemporal` makes for its kind.
        let k = kernelSet
        switch kind {
        case .zero:
            guard let s = linearShape(dreq, hasOutput: true, inputs: 0) else { return false }
            k.pointee.fill(s.dst, 0, s.length, s.length >= fillNTThreshold(k.pointee))
        case .fill8:
            guard let s = linearShape(dreq, hasOutput: true, inputs: 0) else { return false }
            k.pointee.fill(s.dst, UInt64(immediate.load(as: UInt8.self)) &* 0x0101_0101_0101_0101, s.length,
                           s.length >= fillNTThreshold(k.pointee))
        case .copy:
            guard let s = linearShape(dreq, hasOutput: true, inputs: 1) else { return false }
            k.pointee.copy(s.dst, s.input(0), s.length, s.length >= copyNTThreshold(k.pointee))
        case .xor:
            let n = tag >> 16
            guard let s = linearShape(dreq, hasOutput: true, inputs: n) else { return false }
            Self.xorLinear(k.pointee.xor[n], s.dst, s.inbuf, n, s.length, usesNonTemporal(.xor, n, s.length, k.pointee))
        case .crc32c:
            guard let s = linearShape(dreq, hasOutput: false, inputs: 1) else { return false }
            let c = k.pointee.crc(~UInt32(littleEndian: immediate.loadUnaligned(as: UInt32.self)), s.input(0), s.length)
            immediate.storeBytes(of: (~c).littleEndian, as: UInt32.self)
        case .copyCRC32C:
            guard let s = linearShape(dreq, hasOutput: true, inputs: 1) else { return false }
            let c = Self.copyCRCLinear(k.pointee.crc, k.pointee.copy, ~UInt32(littleEndian: immediate.loadUnaligned(as: UInt32.self)),
                                       s.dst, s.input(0), s.length, s.length >= ntMin.load(ordering: .relaxed))
            immediate.storeBytes(of: (~c).littleEndian, as: UInt32.self)
        case .compare:
            guard let s = linearShape(dreq, hasOutput: false, inputs: 2) else { return false }
            let i = k.pointee.compare(s.input(0), s.input(1), s.length)
            let imm = i < s.length ? UInt64(i) &+ 1 : 0
            immediate.storeBytes(of: imm.littleEndian, as: UInt64.self)
        }
        return true
    }

    /// The buffers of a request on the light path.
    struct LinearShape {
        let dst: UnsafeMutableRawPointer
        let length: Int
        let inbuf: UnsafeMutablePointer<dmover_buffer>

        /// Input j (checked non-nil): one- and two-input kernels take their
        /// inputs straight from the request (no pointer array on the frame).
        @inline(__always)
        func input(_ j: Int) -> UnsafeRawPointer { UnsafeRawPointer(inbuf[j].dmbuf_linear.l_addr.unsafelyUnwrapped) }
    }

    /// The request's buffers if they fit the light path: the output (if the
    /// function has one) and `n` inputs all linear, non-nil, of one length,
    /// shorter than the split size; nil otherwise. Called with constant
    /// arguments, so each case keeps only its own tests. Every way out is
    /// unlikely (_slowPath), so the compiler lays the accepted path out straight.
    @inline(__always)
    func linearShape(_ dreq: UnsafeMutablePointer<dmover_request>, hasOutput: Bool, inputs n: Int) -> LinearShape? {
        var length = 0
        var dst = UnsafeMutableRawPointer(bitPattern: 64)!
        if hasOutput {
            guard _fastPath(dreq.pointee.dreq_outbuf_type == DMOVER_BUF_LINEAR) else { return nil }
            let l = dreq.pointee.dreq_outbuf.dmbuf_linear
            guard let a = l.l_addr, _fastPath(l.l_len >= 0) else { return nil }
            dst = a
            length = Int(l.l_len)
        } else if _slowPath(dreq.pointee.dreq_outbuf_type != DMOVER_BUF_NONE) {
            return nil
        }
        var inbuf = UnsafeMutablePointer<dmover_buffer>(bitPattern: 64)!
        if n > 0 {
            guard _fastPath(dreq.pointee.dreq_inbuf_type == DMOVER_BUF_LINEAR && n <= 16),
                  let b = dreq.pointee.dreq_inbuf else { return nil }
            inbuf = b
            if !hasOutput {
                guard _fastPath(inbuf[0].dmbuf_linear.l_len >= 0) else { return nil }
                length = Int(inbuf[0].dmbuf_linear.l_len)
            }
            // The first input outside the loop: one- and two-input
            // functions then run no loop (or one pass of it).
            let l0 = inbuf[0].dmbuf_linear
            guard _fastPath(l0.l_addr != nil && l0.l_len == length) else { return nil }
            var j = 1
            while j < n {
                let l = inbuf[j].dmbuf_linear
                guard _fastPath(l.l_addr != nil && l.l_len == length) else { return nil }
                j &+= 1
            }
        }
        if _slowPath(length >= linearSplitMin.load(ordering: .relaxed)) { return nil }
        return LinearShape(dst: dst, length: length, inbuf: inbuf)
    }

    /// Byte offset of dreq_immediate (folded to a constant, as RequestBlocks' flags offset).
    @inline(__always)
    private static var immediateOffset: Int { MemoryLayout<dmover_request>.offset(of: \.dreq_immediate)! }

    /// copy-crc32c over linear buffers, block by block (each block's CRC
    /// while it is in the cache, then its copy); returns the CRC register.
    /// Out of line: its loop keeps six values in registers, and saving them
    /// on the light path would cost every other function stores.
    @inline(never)
    static func copyCRCLinear(_ crc: CRCFn, _ copy: CopyFn, _ register: UInt32, _ dst: UnsafeMutableRawPointer,
                              _ src: UnsafeRawPointer, _ length: Int, _ nt: Bool) -> UInt32 {
        var c = register, i = 0
        while i < length {
            let b = min(CopyCRC32CFunction.blockSize, length &- i)
            c = crc(c, src + i, b)
            copy(dst + i, src + i, b, nt)
            i &+= b
        }
        return c
    }

    /// The xor kernel over checked linear inputs, which it takes as an array
    /// of pointers: built here, out of line, so that the other functions'
    /// path carries no stack array (and no stack-protector check).
    @inline(never)
    static func xorLinear(_ kernel: XorFn, _ dst: UnsafeMutableRawPointer, _ inbuf: UnsafeMutablePointer<dmover_buffer>,
                          _ n: Int, _ length: Int, _ nt: Bool) {
        withUnsafeTemporaryAllocation(of: UnsafeRawPointer.self, capacity: 16) { srcs in
            for j in 0..<n { srcs[j] = UnsafeRawPointer(inbuf[j].dmbuf_linear.l_addr.unsafelyUnwrapped) }
            kernel(dst, UnsafePointer(srcs.baseAddress!), length, nt)
        }
    }
}
