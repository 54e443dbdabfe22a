// SPDX-License-Identifier: BSD-2-Clause
// CopyCRC32C.swift: "copy-crc32c" (1 input): output = input, and the immediate
// gets the input's CRC as in iscsi-crc32c. One pass over memory: each block is
// summed and then copied while it is still in the L1/L2 cache.

import DmoverKernels

enum CopyCRC32CFunction {
    /// Bytes summed then copied at a time (fits L1 + L2 comfortably).
    static let blockSize = 16 * 1024

    static func run(_ op: Operation, _ k: ActiveKernels, initial: UInt32, from: Int, to: Int) -> UInt64 {
        var c = initial
        op.walk(from: from, to: to) { dst, srcs, _, len in
            var i = 0
            while i < len {
                let b = min(blockSize, len &- i)
                c = k.crc(c, srcs[0] + i, b)
                k.copy(dst + i, srcs[0] + i, b, op.nt)
                i &+= b
            }
            return true
        }
        return UInt64(c)
    }
}
