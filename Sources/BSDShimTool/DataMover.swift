// SPDX-License-Identifier: BSD-2-Clause
// DataMover.swift: the dmover requests the tool makes (crc32c, xorN, compare)
// on one `DmoverSession` each, with failures turned into the tool's errors.

import BSDShim

/// A dmover session for one function; each request waits for completion.
final class DataMover {
    private let session: DmoverSession

    init(_ function: DmoverSession.Function) throws(ToolError) {
        do {
            session = try DmoverSession(function: function)
        } catch {
            throw ToolError(.libraryError, "cannot create a dmover session for \(function.name): \(error)")
        }
    }

    /// CRC32C (iSCSI) of `count` bytes continuing from `previous` (0 to start):
    /// chaining the results gives the CRC of the concatenation.
    func crc32c(continuing previous: UInt32, _ data: UnsafeRawPointer, count: Int) throws(ToolError) -> UInt32 {
        do {
            return try session.crc32c(of: UnsafeRawBufferPointer(start: data, count: count), seed: previous)
        } catch {
            throw failed(error)
        }
    }

    /// out = inputs[0] ^ inputs[1] ^ ... over `count` bytes (the session's xorN, N == inputs.count).
    func xor(_ inputs: [UnsafeRawPointer], into out: UnsafeMutableRawPointer, count: Int) throws(ToolError) {
        do {
            _ = try session.process(output: UnsafeMutableRawBufferPointer(start: out, count: count),
                                    inputs: inputs.map { UnsafeRawBufferPointer(start: $0, count: count) })
        } catch {
            throw failed(error)
        }
    }

    /// Offset of the first byte where `a` and `b` differ, or nil if the `count` bytes are equal (compare).
    func firstDifference(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, count: Int) throws(ToolError) -> Int? {
        let result: UInt64
        do {
            result = try session.process(output: nil, inputs: [UnsafeRawBufferPointer(start: a, count: count),
                                                               UnsafeRawBufferPointer(start: b, count: count)])
        } catch {
            throw failed(error)
        }
        return result == 0 ? nil : Int(result - 1)
    }

    private func failed(_ error: DmoverError) -> ToolError {
        ToolError(.libraryError, "dmover \(session.function.name) request failed: \(error)")
    }
}
