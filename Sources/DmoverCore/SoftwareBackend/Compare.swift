// SPDX-License-Identifier: BSD-2-Clause
// Compare.swift: "compare" (2 inputs of equal length, no output): the
// immediate (little-endian 64-bit) becomes 0 when equal, else 1 + the offset
// of the first differing byte.

import DmoverKernels

enum CompareFunction {
    /// Offset of the first difference in [from, to), or UInt64.max if none.
    static func run(_ op: Operation, _ k: ActiveKernels, from: Int, to: Int) -> UInt64 {
        var found = UInt64.max
        op.walk(from: from, to: to) { _, srcs, pos, len in
            let i = k.compare(srcs[0], srcs[1], len)
            if i < len {
                found = UInt64(pos &+ i)
                return false
            }
            return true
        }
        return found
    }

    /// The immediate for a search result.
    static func immediate(_ found: UInt64) -> UInt64 { found == UInt64.max ? 0 : found &+ 1 }
}
