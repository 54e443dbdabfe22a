// SPDX-License-Identifier: BSD-2-Clause
// SoftwareBackendTests.swift: the Swift API of DmoverCore: sessions, requests,
// the CRC arithmetic, and every kernel level against a scalar reference (seeded).

import BSDSystem
import CBSDShimABI
import DmoverCore
import DmoverSIMD
import DmoverKernels
import Testing

/// splitmix64; the seed is printed so a failure can be repeated.
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func referenceCRC(_ bytes: [UInt8], _ last: UInt32 = 0) -> UInt32 {
    var c = ~last
    for b in bytes {
        c ^= UInt32(b)
        for _ in 0..<8 { c = (c & 1) != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
    }
    return ~c
}

/// Runs a request with DMOVER_REQ_WAIT over copies of `inputs` (linear buffers).
func run(_ name: String, inputs: [[UInt8]], output: Int?, immediate: UInt64 = 0) throws -> (out: [UInt8], imm: UInt64, error: Int32) {
    let dses = try name.withCString { try SessionLifecycle.create($0) }
    defer { SessionLifecycle.destroy(dses) }
    let dreq = try RequestBlocks.alloc(dses, inbuf: nil)
    defer { RequestBlocks.free(dreq) }
    let ob = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, output ?? 0), alignment: 64)
    ob.initializeMemory(as: UInt8.self, repeating: 0xEE)
    let ibs = inputs.map { bytes -> UnsafeMutableRawBufferPointer in
        let b = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, bytes.count), alignment: 64)
        b.copyBytes(from: bytes)
        return b
    }
    defer { ob.deallocate(); ibs.forEach { $0.deallocate() } }
    dreq.pointee.dreq_outbuf_type = output == nil ? DMOVER_BUF_NONE : DMOVER_BUF_LINEAR
    dreq.pointee.dreq_outbuf.dmbuf_linear = dmover_buf_linear(l_addr: ob.baseAddress, l_len: output ?? 0)
    dreq.pointee.dreq_inbuf_type = inputs.isEmpty ? DMOVER_BUF_NONE : DMOVER_BUF_LINEAR
    for (j, b) in ibs.enumerated() {
        dreq.pointee.dreq_inbuf![j].dmbuf_linear = dmover_buf_linear(l_addr: b.baseAddress, l_len: inputs[j].count)
    }
    withUnsafeMutableBytes(of: &dreq.pointee.dreq_immediate) { $0.storeBytes(of: immediate.littleEndian, as: UInt64.self) }
    dreq.pointee.dreq_flags |= Int32(DMOVER_REQ_WAIT)
    RequestProcessing.process(dreq)
    #expect(dreq.pointee.dreq_flags & Int32(DMOVER_REQ_DONE) != 0)
    let imm = withUnsafeBytes(of: dreq.pointee.dreq_immediate) { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
    let err = dreq.pointee.dreq_flags & Int32(DMOVER_REQ_ERROR) != 0 ? dreq.pointee.dreq_error : 0
    return (Array(ob.prefix(output ?? 0)), imm, err)
}

@Suite(.serialized) struct SoftwareBackendTests {
    @Test func crcCheckValueAndChaining() throws {
        let check = Array("123456789".utf8)
        #expect(try run("iscsi-crc32c", inputs: [check], output: nil).imm == 0xE306_9283)
        let first = try run("iscsi-crc32c", inputs: [Array(check[0..<4])], output: nil).imm
        #expect(try run("iscsi-crc32c", inputs: [Array(check[4...])], output: nil, immediate: first).imm == 0xE306_9283)
    }

    @Test func crcShiftJoinsParts() {
        var rng = SeededRandom(state: 12345)
        for _ in 0..<50 {
            let a = (0..<Int.random(in: 0...300, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let b = (0..<Int.random(in: 0...300, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            // raw registers: crc(A‖B) = shift(crc(A), |B|) ^ crc0(B)
            let ra = ~referenceCRC(a), r0b = ~referenceCRC(b, ~0) ^ 0
            let joined = crc32cShift(ra, bytes: b.count) ^ r0b
            #expect(~joined == referenceCRC(a + b))
        }
    }

    @Test(arguments: KernelLevel.allCases)
    func everyFunctionMatchesReference(level: KernelLevel) throws {
        NativeKernels.install()
        #expect(Kernels.supported == Kernels.cpuLevel)
        let before = Kernels.level
        Kernels.use(level)
        defer { Kernels.use(before) }
        let seed = UInt64.random(in: 0...UInt64.max)
        print("seed \(seed) level \(level)")
        var rng = SeededRandom(state: seed)
        for _ in 0..<40 {
            let n = [0, 1, 63, 64, 65, 4095, 70_001].randomElement(using: &rng)!
            let k = Int.random(in: 2...16, using: &rng)
            let ins = (0..<k).map { _ in (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) } }
            var want = [UInt8](repeating: 0, count: n)
            for i in 0..<n { for j in 0..<k { want[i] ^= ins[j][i] } }
            #expect(try run("xor\(k)", inputs: ins, output: n).out == want)
            #expect(try run("copy", inputs: [ins[0]], output: n).out == ins[0])
            #expect(try run("fill8", inputs: [], output: n, immediate: 0x5A).out == [UInt8](repeating: 0x5A, count: n))
            #expect(try run("zero", inputs: [], output: n).out == [UInt8](repeating: 0, count: n))
            #expect(try run("iscsi-crc32c", inputs: [ins[0]], output: nil).imm == UInt64(referenceCRC(ins[0])))
            let cc = try run("copy-crc32c", inputs: [ins[0]], output: n)
            #expect(cc.out == ins[0] && cc.imm == UInt64(referenceCRC(ins[0])))
            var other = ins[0]
            let at = n > 0 ? Int.random(in: 0..<n, using: &rng) : 0
            if n > 0 { other[at] ^= 0x40 }
            #expect(try run("compare", inputs: [ins[0], other], output: nil).imm == (n > 0 ? UInt64(at + 1) : 0))
        }
    }

    /// The grouped xor passes (forced from 5 inputs) at lengths around their
    /// 4 KiB chunk, for every level, against the scalar reference.
    @Test(arguments: KernelLevel.allCases)
    func groupedXorMatchesReference(level: KernelLevel) throws {
        NativeKernels.install()
        let before = Kernels.level, groupsBefore = dmoverXorGroupMinimum
        Kernels.use(level)
        dmoverXorGroupMinimum = 5
        defer { Kernels.use(before); dmoverXorGroupMinimum = groupsBefore }
        let seed = UInt64.random(in: 0...UInt64.max)
        print("seed \(seed) level \(level)")
        var rng = SeededRandom(state: seed)
        for k in 5...16 {
            let n = [1, 63, 4095, 4096, 4097, 9001].randomElement(using: &rng)!
            let ins = (0..<k).map { _ in (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) } }
            var want = [UInt8](repeating: 0, count: n)
            for i in 0..<n { for j in 0..<k { want[i] ^= ins[j][i] } }
            #expect(try run("xor\(k)", inputs: ins, output: n).out == want, "xor\(k) of \(n) bytes")
        }
    }

    @Test func shapeErrorsAreEINVAL() throws {
        #expect(try run("copy", inputs: [[1, 2, 3]], output: 4).error == 22)
        #expect(try run("iscsi-crc32c", inputs: [[1, 2, 3]], output: 3).error == 22)
        #expect(try run("compare", inputs: [[1, 2, 3], [1, 2]], output: nil).error == 22)
    }

    @Test func unknownFunctionIsESRCH() {
        #expect(throws: Errno.noSuchProcess) { _ = try "nope".withCString { try SessionLifecycle.create($0) } }
    }
}
