// SPDX-License-Identifier: BSD-2-Clause
// XOR.swift: "xor2" … "xor16": output = in[0] ^ … ^ in[N-1], one kernel per N
// (NetBSD's linear-buffer xor read only the first word of each input; not here).

import DmoverKernels

enum XORFunction {
    static func run(_ op: Operation, _ k: ActiveKernels, from: Int, to: Int) -> UInt64 {
        let kernel = k.xor[op.ninputs]
        op.walk(from: from, to: to) { dst, srcs, _, len in
            kernel(dst, srcs, len, op.nt)
            return true
        }
        return 0
    }
}
