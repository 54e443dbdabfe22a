// SPDX-License-Identifier: BSD-2-Clause
// ParityVerify.swift: `bsdshim parity verify`: recomputes the XOR and compares
// it with the parity file through dmover's compare; exit status 1 on a mismatch.

import ArgumentParser

struct ParityVerify: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check that the parity file is the XOR of the members (status 1 if not).",
        discussion: ExitStatus.helpText)

    @OptionGroup var options: ParityOptions

    func run() throws {
        try options.reportingFailures("verify", perform)
    }

    private func perform() throws {
        // The parity file is read as one more stripe, so its size is checked with the members'.
        let stripes = try ParityStripes(options.members + [options.parity])
        let n = options.members.count
        let xor = try DataMover(.xor(n))
        let compare = try DataMover(.compare)
        let result = ChunkBuffer()
        let inputs = stripes.buffers.prefix(n).map { UnsafeRawPointer($0.base) }
        let parity = UnsafeRawPointer(stripes.buffers[n].base)
        var firstMismatch: Int64?
        var mismatchedBytes: Int64 = 0
        var progress = ProgressBar("verify " + options.parity, total: stripes.size, allowed: !options.noProgress)
        try stripes.forEachChunk { offset, count throws(ToolError) in
            try xor.xor(inputs, into: result.base, count: count)
            if let first = try compare.firstDifference(result.base, parity, count: count) {
                if firstMismatch == nil { firstMismatch = offset + Int64(first) }
                mismatchedBytes += Self.differences(result.base, parity, from: first, count: count)
            }
            progress.update(offset + Int64(count))
        }
        progress.finish()
        if let firstMismatch {
            options.report("verify", ok: false, bytes: stripes.size,
                           text: "\(options.parity): MISMATCH: \(mismatchedBytes) bytes differ, the first at offset \(firstMismatch)",
                           extra: [("first_mismatch", .int(firstMismatch)), ("mismatched_bytes", .int(mismatchedBytes))])
            throw ExitCode(ExitStatus.mismatch.rawValue)
        }
        options.report("verify", ok: true, bytes: stripes.size,
                       text: "\(options.parity): ok (\(n) members, \(stripes.size) bytes)")
    }

    /// Differing bytes in [from, count): only chunks that differ are scanned, so a byte loop is enough.
    static func differences(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, from: Int, count: Int) -> Int64 {
        var n: Int64 = 0
        for i in from..<count where a.load(fromByteOffset: i, as: UInt8.self) != b.load(fromByteOffset: i, as: UInt8.self) {
            n += 1
        }
        return n
    }
}
