// SPDX-License-Identifier: BSD-2-Clause
// ProcessMemory.swift: the process's own memory as the kernel sees it: copies and checks that report EFAULT instead of faulting.

import CBSDShim
import Glibc

/// Client memory handled as a system call would handle it: an unmapped,
/// PROT_NONE or (for writing) read-only address is an error, never a SIGSEGV.
public enum ProcessMemory {
    /// The page size (at least 4 KiB).
    public static let pageSize = UInt(max(Int(sysconf(Int32(_SC_PAGESIZE))), 4096))

    /// Copies `count` bytes at `from` (any address) to `to` with process_vm_readv
    /// on this process; false if any byte of the source is inaccessible.
    @inlinable
    public static func copy(_ to: UnsafeMutableRawPointer, fromUnchecked from: UnsafeRawPointer?, count: Int, pid: pid_t) -> Bool {
        guard let from else { return false }
        var local = iovec(iov_base: to, iov_len: count)
        var remote = iovec(iov_base: UnsafeMutableRawPointer(mutating: from), iov_len: count)
        guard let copied = try? valueOrErrno({ cbsdshim_process_vm_readv(pid, &local, 1, &remote, 1) }) else { return false }
        return copied == count
    }

    /// Copies `count` bytes from `from` to `to` (any address) with
    /// process_vm_writev; false if any byte of the destination is not writable.
    @inlinable
    public static func copy(toUnchecked to: UnsafeRawPointer, from: UnsafeRawPointer, count: Int, pid: pid_t) -> Bool {
        var local = iovec(iov_base: UnsafeMutableRawPointer(mutating: from), iov_len: count)
        var remote = iovec(iov_base: UnsafeMutableRawPointer(mutating: to), iov_len: count)
        guard let copied = try? valueOrErrno({ cbsdshim_process_vm_writev(pid, &local, 1, &remote, 1) }) else { return false }
        return copied == count
    }

    /// True if MADV_POPULATE_READ/WRITE exist (Linux 5.14 and later): asked once.
    public static let canPrefault: Bool = {
        let p = UnsafeMutableRawPointer.allocate(byteCount: Int(pageSize), alignment: Int(pageSize))
        defer { p.deallocate() }
        return madvise(p, Int(pageSize), cbsdshim_MADV_POPULATE_READ) == 0
    }()

    /// Prefaults the whole pages [lo, hi) for reading or writing without
    /// changing a byte; false if any is unmapped, PROT_NONE or (for writing)
    /// read-only. Needs ``canPrefault``.
    public static func prefault(_ lo: UInt, _ hi: UInt, forWriting: Bool) -> Bool {
        let advice = forWriting ? cbsdshim_MADV_POPULATE_WRITE : cbsdshim_MADV_POPULATE_READ
        return (try? valueOrErrno({ madvise(UnsafeMutableRawPointer(bitPattern: lo), Int(hi - lo), advice) })) != nil
    }
}
