// SPDX-License-Identifier: BSD-2-Clause
// UserMemory.swift: copies from and to client memory without faulting (process_vm_readv/writev on our own pid).

import Glibc

/// Client memory as the kernel sees it: a bad address is an EFAULT, never a SIGSEGV.
enum UserMemory {
    private typealias ProcessVM = @convention(c) (pid_t, UnsafePointer<iovec>?, UInt, UnsafePointer<iovec>?, UInt, UInt) -> Int
    // Glibc declares these only under _GNU_SOURCE, which the Swift module lacks: found at run time.
    private static let readv: ProcessVM? = lookup("process_vm_readv")
    private static let writev: ProcessVM? = lookup("process_vm_writev")
    static let iovMax = 1024

    private static func lookup(_ name: String) -> ProcessVM? {
        guard let p = dlsym(nil, name) else { return nil }       // nil = RTLD_DEFAULT
        return unsafeBitCast(p, to: ProcessVM.self)
    }

    /// Copies `count` bytes at client address `from` to `to`; false if any byte is inaccessible.
    static func copyIn(_ to: UnsafeMutableRawPointer, from: UnsafeRawPointer?, count: Int) -> Bool {
        guard let from else { return false }
        var local = iovec(iov_base: to, iov_len: count)
        var remote = iovec(iov_base: UnsafeMutableRawPointer(mutating: from), iov_len: count)
        guard let readv else { return false }
        return readv(DmoverFork.pid, &local, 1, &remote, 1, 0) == count
    }

    /// Writes `count` bytes from `from` to client address `to`; false if any byte is not writable.
    static func copyOut(_ to: UnsafeRawPointer, from: UnsafeRawPointer, count: Int) -> Bool {
        var local = iovec(iov_base: UnsafeMutableRawPointer(mutating: from), iov_len: count)
        var remote = iovec(iov_base: UnsafeMutableRawPointer(mutating: to), iov_len: count)
        guard let writev else { return false }
        return writev(DmoverFork.pid, &local, 1, &remote, 1, 0) == count
    }
}
