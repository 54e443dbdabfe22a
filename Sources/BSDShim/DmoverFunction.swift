// SPDX-License-Identifier: BSD-2-Clause
// DmoverFunction.swift: the functions a dmover session can run, typed.

extension DmoverSession {
    /// A dmover function: what a session's requests compute.
    ///
    /// ```swift
    /// let parity = try DmoverSession(function: .xor(4))
    /// let crc = try DmoverSession(function: .crc32c)
    /// ```
    public enum Function: Sendable, Hashable {
        /// Fill the output with zeros (no input). `"zero"`.
        case zero
        /// Fill the output with a byte (no input). `"fill8"`; the byte is the request's immediate.
        case fill8(UInt8)
        /// Copy the input to the output. `"copy"`.
        case copy
        /// XOR `n` inputs (2...16) into the output. `"xor2"` ... `"xor16"`.
        case xor(Int)
        /// CRC-32C (iSCSI) of the input, no output; immediate: seed in, CRC out. `"iscsi-crc32c"`.
        case crc32c
        /// Copy and CRC-32C at once; immediate as ``crc32c``. `"copy-crc32c"`.
        case copyCRC32C
        /// Compare two inputs, no output; immediate out: 0 if equal, else 1 + offset of the first difference. `"compare"`.
        case compare

        /// The function's name, as in `dmovervar.h` (`DMOVER_FUNC_*`).
        ///
        /// ```swift
        /// DmoverSession.Function.xor(4).name   // "xor4"
        /// ```
        public var name: String {
            switch self {
            case .zero: "zero"
            case .fill8: "fill8"
            case .copy: "copy"
            case .xor(let n): "xor\(n)"
            case .crc32c: "iscsi-crc32c"
            case .copyCRC32C: "copy-crc32c"
            case .compare: "compare"
            }
        }

        /// How many input buffers each request takes.
        ///
        /// ```swift
        /// DmoverSession.Function.compare.inputCount   // 2
        /// ```
        public var inputCount: Int {
            switch self {
            case .zero, .fill8: 0
            case .copy, .crc32c, .copyCRC32C: 1
            case .xor(let n): n
            case .compare: 2
            }
        }

        /// Whether requests write an output buffer.
        ///
        /// ```swift
        /// DmoverSession.Function.crc32c.hasOutput   // false
        /// ```
        public var hasOutput: Bool {
            switch self {
            case .crc32c, .compare: false
            default: true
            }
        }

        /// The immediate a request starts with unless given one (fill8: its byte).
        var defaultImmediate: UInt64 {
            if case .fill8(let b) = self { return UInt64(b) }
            return 0
        }
    }
}
