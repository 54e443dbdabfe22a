// SPDX-License-Identifier: BSD-2-Clause
// Fill8.swift: the "fill8" function (0 inputs): the output becomes dreq_immediate[0] repeated.

import DmoverKernels

enum Fill8Function {
    static func run(_ op: Operation, _ k: ActiveKernels, from: Int, to: Int) -> UInt64 {
        let pattern = (op.immediate & 0xFF) &* 0x0101_0101_0101_0101
        op.walk(from: from, to: to) { dst, _, _, len in
            k.fill(dst, pattern, len, op.nt)
            return true
        }
        return 0
    }
}
