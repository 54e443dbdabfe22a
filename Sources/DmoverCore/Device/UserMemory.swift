// SPDX-License-Identifier: BSD-2-Clause
// UserMemory.swift: copyin/copyout for the descriptor's entry points (ProcessMemory on this process).

import BSDSystem
import CBSDShim

/// Client memory as the kernel sees it: a bad address is an EFAULT, never a SIGSEGV.
enum UserMemory {
    /// IOV_MAX: the most iovecs one dmio_buffer may have.
    static let iovMax = Int(cbsdshim_UIO_MAXIOV)

    /// Copies `count` bytes at client address `from` to `to`; false if any byte is inaccessible.
    @inline(__always)
    static func copyIn(_ to: UnsafeMutableRawPointer, from: UnsafeRawPointer?, count: Int) -> Bool {
        ProcessMemory.copy(to, fromUnchecked: from, count: count, pid: DmoverFork.pid)
    }

    /// Writes `count` bytes from `from` to client address `to`; false if any byte is not writable.
    @inline(__always)
    static func copyOut(_ to: UnsafeRawPointer, from: UnsafeRawPointer, count: Int) -> Bool {
        ProcessMemory.copy(toUnchecked: to, from: from, count: count, pid: DmoverFork.pid)
    }
}
