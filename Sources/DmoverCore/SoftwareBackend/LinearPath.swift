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
    @inline(__always)
    func executeLinear(_ dreq: UnsafeMutablePointer<dmover_request>,
                       _ assignment: UnsafeMutablePointer<dmover_assignment>?) -> Bool {
        guard let algdesc = assignment?.pointee.das_algdesc,
              let data = algdesc.pointee.dad_data else { return false }
        let tag = Int(bitPattern: data)
        guard let kind = SoftwareFunction.Kind(rawValue: (tag >> 8) & 0xFF) else { return false }
        let n = tag >> 16
        let hasOutput = kind != .crc32c && kind != .compare
        var length = 0
        var dst = UnsafeMutableRawPointer(bitPattern: 64)!
        // Every way out below is marked unlikely (_slowPath), so that the
        // compiler lays the accepted request's path out as one straight run
        // of not-taken branches: at 4 KiB each taken jump on this path costs
        // about as much as a kernel store.
        if _fastPath(hasOutput) {
            guard _fastPath(dreq.pointee.dreq_outbuf_type == DMOVER_BUF_LINEAR) else { return false }
            let l = dreq.pointee.dreq_outbuf.dmbuf_linear
            guard let a = l.l_addr, _fastPath(l.l_len >= 0) else { return false }
            dst = a
            length = Int(l.l_len)
        } else if _slowPath(dreq.pointee.dreq_outbuf_type != DMOVER_BUF_NONE) {
            return false
        }
        var inbuf = UnsafeMutablePointer<dmover_buffer>(bitPattern: 64)!
        if n > 0 {
            guard _fastPath(dreq.pointee.dreq_inbuf_type == DMOVER_BUF_LINEAR && n <= 16),
                  let b = dreq.pointee.dreq_inbuf else { return false }
            inbuf = b
            if !hasOutput {
                guard _fastPath(inbuf[0].dmbuf_linear.l_len >= 0) else { return false }
                length = Int(inbuf[0].dmbuf_linear.l_len)
            }
            // The first input outside the loop: one- and two-input
            // functions then run no loop (or one pass of it).
            let l0 = inbuf[0].dmbuf_linear
            guard _fastPath(l0.l_addr != nil && l0.l_len == length) else { return false }
            var j = 1
            while j < n {
                let l = inbuf[j].dmbuf_linear
                guard _fastPath(l.l_addr != nil && l.l_len == length) else { return false }
                j &+= 1
            }
        }
        if _slowPath(length >= linearSplitMin.load(ordering: .relaxed)) { return false }
        // Each case reads only the entry point it calls from the set, and
        // makes its own non-temporal choice (the one `usesNonTemporal` makes
        // for its kind) after the jump to it, not a shared one before.
        let k = kernelSet
        // dreq_immediate read and written in place as one word (a copy of
        // the byte tuple compiled to a load, shift and or per byte).
        let immediate = UnsafeMutableRawPointer(dreq) + Self.immediateOffset
        // Inputs checked non-nil above; one- and two-input kernels take them
        // straight from the request (no pointer array on this frame).
        @inline(__always) func input(_ j: Int) -> UnsafeRawPointer { UnsafeRawPointer(inbuf[j].dmbuf_linear.l_addr.unsafelyUnwrapped) }
        switch kind {
        case .zero:
            k.pointee.fill(dst, 0, length, length >= fillNTThreshold(k.pointee))
        case .fill8:
            k.pointee.fill(dst, UInt64(immediate.load(as: UInt8.self)) &* 0x0101_0101_0101_0101, length,
                           length >= fillNTThreshold(k.pointee))
        case .copy:
            k.pointee.copy(dst, input(0), length, length >= ntMin.load(ordering: .relaxed))
        case .xor:
            Self.xorLinear(k.pointee.xor[n], dst, inbuf, n, length, usesNonTemporal(.xor, n, length, k.pointee))
        case .crc32c, .copyCRC32C:
            var c = ~UInt32(littleEndian: immediate.loadUnaligned(as: UInt32.self))
            let src = input(0)
            let crc = k.pointee.crc
            if kind == .crc32c {
                c = crc(c, src, length)
            } else {
                c = Self.copyCRCLinear(crc, k.pointee.copy, c, dst, src, length, length >= ntMin.load(ordering: .relaxed))
            }
            immediate.storeBytes(of: (~c).littleEndian, as: UInt32.self)
        case .compare:
            let i = k.pointee.compare(input(0), input(1), length)
            let imm = i < length ? UInt64(i) &+ 1 : 0
            immediate.storeBytes(of: imm.littleEndian, as: UInt64.self)
        }
        return true
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
