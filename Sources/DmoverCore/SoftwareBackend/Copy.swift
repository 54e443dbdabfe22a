// SPDX-License-Identifier: BSD-2-Clause
// Copy.swift: the "copy" function (1 input): output = input.

import DmoverKernels

enum CopyFunction {
    static func run(_ op: Operation, _ k: ActiveKernels, from: Int, to: Int) -> UInt64 {
        op.walk(from: from, to: to) { dst, srcs, _, len in
            k.copy(dst, srcs[0], len, op.nt)
            return true
        }
        return 0
    }
}
