// SPDX-License-Identifier: BSD-2-Clause
// DmoverSessionTests.swift: every dmover function through DmoverSession against a
// scalar reference on seeded random data (the seed is printed), sync, async and batch.

import BSDShim
import DmoverSIMD
import Glibc
import Testing

/// splitmix64: a small seeded generator, so a failure can be replayed from the printed seed.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A generator with a fresh seed, printed with the test's name.
func seededGenerator(_ test: String) -> SeededGenerator {
    let seed = UInt64.random(in: 1...UInt64.max)
    print("\(test): seed \(seed)")
    return SeededGenerator(state: seed)
}

func randomBytes(_ n: Int, _ g: inout SeededGenerator) -> [UInt8] {
    (0..<n).map { _ in UInt8.random(in: 0...255, using: &g) }
}

/// Bitwise CRC-32C (reflected, polynomial 0x82F63B78), seeded with the previous CRC.
func referenceCRC32C(_ bytes: [UInt8], seed: UInt32 = 0) -> UInt32 {
    var crc = ~seed
    for b in bytes {
        crc ^= UInt32(b)
        for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
    }
    return ~crc
}

/// Lengths around the kernels' block and tail boundaries, and a large one.
let testLengths = [0, 1, 7, 63, 64, 65, 1000, 4096, 100_003]

@Suite struct DmoverSessionTests {
    init() { NativeKernels.install() }

    @Test func zeroAndFillWriteTheWholeOutput() throws {
        var g = seededGenerator("zeroAndFill")
        let zero = try DmoverSession(function: .zero)
        for n in testLengths {
            let pattern = UInt8.random(in: 0...255, using: &g)
            #expect(try zero.process([], outputCount: n).output == [UInt8](repeating: 0, count: n))
            let fill = try DmoverSession(function: .fill8(pattern))
            #expect(try fill.process([], outputCount: n).output == [UInt8](repeating: pattern, count: n))
        }
    }

    @Test func copyMatchesItsInput() throws {
        var g = seededGenerator("copy")
        let copy = try DmoverSession(function: .copy)
        for n in testLengths {
            let input = randomBytes(n, &g)
            #expect(try copy.process([input]).output == input)
        }
    }

    @Test(arguments: [2, 3, 4, 5, 8, 16])
    func xorMatchesTheScalarReference(inputs: Int) throws {
        var g = seededGenerator("xor\(inputs)")
        let session = try DmoverSession(function: .xor(inputs))
        for n in testLengths {
            let ins = (0..<inputs).map { _ in randomBytes(n, &g) }
            var expected = [UInt8](repeating: 0, count: n)
            for input in ins { for i in 0..<n { expected[i] ^= input[i] } }
            #expect(try session.process(ins).output == expected, "n=\(n)")
        }
    }

    @Test func crc32cMatchesTheCheckValueAndTheReferenceWhenChained() throws {
        #expect(try DmoverSession.crc32c(of: Array("123456789".utf8)) == 0xE306_9283)
        var g = seededGenerator("crc32c")
        let session = try DmoverSession(function: .crc32c)
        for n in testLengths {
            let data = randomBytes(n, &g)
            let cut = n / 3
            let whole = try data.withUnsafeBytes { (b) throws(DmoverError) in try session.crc32c(of: b) }
            let first = try DmoverSession.crc32c(of: Array(data[..<cut]))
            let chained = try DmoverSession.crc32c(of: Array(data[cut...]), seed: first)
            #expect(whole == referenceCRC32C(data), "n=\(n)")
            #expect(chained == whole, "n=\(n)")
        }
    }

    @Test func copyCRC32CCopiesAndChecksums() throws {
        var g = seededGenerator("copyCRC32C")
        let session = try DmoverSession(function: .copyCRC32C)
        for n in testLengths {
            let data = randomBytes(n, &g)
            let seed = UInt32.random(in: 0...UInt32.max, using: &g)
            let (out, imm) = try session.process([data], immediate: UInt64(seed))
            #expect(out == data)
            #expect(UInt32(truncatingIfNeeded: imm) == referenceCRC32C(data, seed: seed), "n=\(n)")
        }
    }

    @Test func compareReportsOnePlusTheFirstDifference() throws {
        var g = seededGenerator("compare")
        let session = try DmoverSession(function: .compare)
        for n in testLengths where n > 0 {
            let a = randomBytes(n, &g)
            #expect(try session.process([a, a]).immediate == 0)
            var b = a
            let at = Int.random(in: 0..<n, using: &g)
            b[at] ^= 0x40
            #expect(try session.process([a, b]).immediate == UInt64(at + 1), "n=\(n)")
        }
    }

    @Test func segmentListsAndRegionsMix() throws {
        var g = seededGenerator("segments")
        let session = try DmoverSession(function: .xor(2))
        let n = 5000
        let a = randomBytes(n, &g), b = randomBytes(n, &g)
        var out = [UInt8](repeating: 0, count: n)
        let cut = Int.random(in: 101..<n, using: &g)
        try out.withUnsafeMutableBytes { o in
            try a.withUnsafeBytes { pa in
                try b.withUnsafeBytes { pb in
                    // Output as three segments, first input as a region, second as two segments.
                    let outSegs = [UnsafeMutableRawBufferPointer(rebasing: o[..<100]),
                                   UnsafeMutableRawBufferPointer(rebasing: o[100..<cut]),
                                   UnsafeMutableRawBufferPointer(rebasing: o[cut...])]
                    _ = try session.process(output: DmoverBuffer(segments: outSegs),
                                            inputs: [DmoverBuffer(pa),
                                                     DmoverBuffer(segments: [UnsafeRawBufferPointer(rebasing: pb[..<cut]),
                                                                             UnsafeRawBufferPointer(rebasing: pb[cut...])])])
                }
            }
        }
        #expect(out == zip(a, b).map { $0 ^ $1 })
    }

    @Test func asyncSubmitCompletesThroughTheCallback() async throws {
        var g = seededGenerator("asyncSubmit")
        let session = try DmoverSession(function: .crc32c)
        let data = randomBytes(70_000, &g)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: data.count, alignment: 64)
        defer { buffer.deallocate() }
        data.withUnsafeBytes { buffer.copyMemory(from: $0) }
        let crc = try await session.submit(output: nil, inputs: [DmoverBuffer(UnsafeRawBufferPointer(buffer))], immediate: 0)
        #expect(UInt32(crc) == referenceCRC32C(data))
    }

    @Test func batchResultsComeBackInOrderWithPerRequestErrors() async throws {
        var g = seededGenerator("batch")
        let session = try DmoverSession(function: .copy)
        let count = 40
        let n = 3000
        let inputs = UnsafeMutableRawBufferPointer.allocate(byteCount: count * n, alignment: 64)
        let outputs = UnsafeMutableRawBufferPointer.allocate(byteCount: count * n, alignment: 64)
        defer { inputs.deallocate(); outputs.deallocate() }
        for i in 0..<inputs.count { inputs[i] = UInt8.random(in: 0...255, using: &g) }
        outputs.initializeMemory(as: UInt8.self, repeating: 0)
        var ops = (0..<count).map { i in
            DmoverOperation(output: DmoverBuffer(UnsafeMutableRawBufferPointer(rebasing: outputs[i * n ..< (i + 1) * n])),
                            inputs: [DmoverBuffer(UnsafeRawBufferPointer(rebasing: inputs[i * n ..< (i + 1) * n]))])
        }
        // One with unequal lengths, one with a missing input: those fail alone.
        ops[7].inputs = [DmoverBuffer(UnsafeRawBufferPointer(rebasing: inputs[0 ..< n - 1]))]
        ops[20].inputs = []
        let results = await session.submit(batch: ops)
        #expect(results.count == count)
        for (i, r) in results.enumerated() {
            switch i {
            case 7, 20: #expect(r == .failure(.invalidShape), "request \(i)")
            default:
                #expect((try? r.get()) != nil, "request \(i): \(r)")
                #expect(memcmp(outputs.baseAddress! + i * n, inputs.baseAddress! + i * n, n) == 0, "request \(i)")
            }
        }
        #expect(await session.submit(batch: []).isEmpty)
    }

    @Test func concurrentTasksShareOneSession() async throws {
        let session = try DmoverSession(function: .crc32c)
        let results = try await withThrowingTaskGroup(of: Bool.self) { group in
            for i in 0..<16 {
                group.addTask {
                    let data = [UInt8](repeating: UInt8(i), count: 1000 + i)
                    let crc = try data.withUnsafeBytes { try session.crc32c(of: $0) }
                    return crc == referenceCRC32C(data)
                }
            }
            return try await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(results.count == 16 && results.allSatisfy { $0 })
    }

    @Test func errorsAreTyped() throws {
        #expect(throws: DmoverError.unknownFunction) { try DmoverSession(function: .xor(17)) }
        #expect(throws: DmoverError.unknownFunction) { try DmoverSession(function: .xor(1)) }
        let xor = try DmoverSession(function: .xor(2))
        #expect(xor.backendName.isEmpty == false)
        #expect(throws: DmoverError.invalidShape) { try xor.process([[1, 2, 3]]) }               // one input of two
        #expect(throws: DmoverError.invalidShape) { try xor.process([[1, 2, 3], [1, 2]]) }       // unequal lengths
        let crc = try DmoverSession(function: .crc32c)
        #expect(throws: DmoverError.invalidShape) {
            try [UInt8](repeating: 0, count: 4).withUnsafeBytes { b in
                var out = [UInt8](repeating: 0, count: 4)
                try out.withUnsafeMutableBytes { o in
                    _ = try crc.process(output: o, inputs: [b])                              // crc32c has no output
                }
            }
        }
        #expect(throws: DmoverError.invalidShape) {
            try [UInt8](repeating: 0, count: 4).withUnsafeBytes { b in
                _ = try xor.crc32c(of: b)                                                    // not a CRC session
            }
        }
        #expect(throws: DmoverError.invalidShape) {
            // Segments adding up to less than the output.
            var out = [UInt8](repeating: 0, count: 8)
            let copy = try DmoverSession(function: .copy)
            try out.withUnsafeMutableBytes { o in
                let short = UnsafeMutableRawBufferPointer(rebasing: o[..<3])
                _ = try copy.process(output: DmoverBuffer(o), inputs: [DmoverBuffer(segments: [short, short])])
            }
        }
    }
}
