// SPDX-License-Identifier: BSD-2-Clause
// CRC32C.swift: "iscsi-crc32c" (1 input, no output), NetBSD's convention: the
// immediate holds the previous CRC (0 to start) and receives the result in
// bytes 0..3 (bytes 4..7 untouched), so chaining requests gives the CRC of the
// concatenation. Internally the raw register runs from ~previous and is inverted at the end.

import DmoverKernels

enum CRC32CFunction {
    /// The raw register over [from, to), starting from `initial`.
    static func run(_ op: Operation, _ k: ActiveKernels, initial: UInt32, from: Int, to: Int) -> UInt64 {
        var c = initial
        op.walk(from: from, to: to) { _, srcs, _, len in
            c = k.crc(c, srcs[0], len)
            return true
        }
        return UInt64(c)
    }

    /// The raw register to start from: ~(previous CRC).
    static func initial(_ op: Operation) -> UInt32 { ~UInt32(truncatingIfNeeded: op.immediate) }
}
