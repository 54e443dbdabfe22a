// SPDX-License-Identifier: BSD-2-Clause
// Zero.swift: the "zero" function (0 inputs): the output becomes zero bytes.

import DmoverKernels

enum ZeroFunction {
    static func run(_ op: Operation, _ k: ActiveKernels, from: Int, to: Int) -> UInt64 {
        op.walk(from: from, to: to) { dst, _, _, len in
            k.fill(dst, 0, len, op.nt)
            return true
        }
        return 0
    }
}
