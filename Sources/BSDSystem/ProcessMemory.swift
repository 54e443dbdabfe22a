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

    /// True if the one-call probes (``probeReadable(_:)``, ``probeWritable(_:)``)
    /// answer as they should: tried once on a readable-writable page, a
    /// read-only one and a PROT_NONE one, and on 8 bytes straddling two of them
    /// (an emulator or filter that rejects the calls first must not be trusted).
    public static let canProbe: Bool = {
        let size = Int(pageSize)
        guard let m = mmap(nil, 3 * size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              m != MAP_FAILED else { return false }
        defer { munmap(m, 3 * size) }
        let readOnly = m + size, none = m + 2 * size
        m.storeBytes(of: 2047, as: Int32.self)
        guard mprotect(readOnly, size, PROT_READ) == 0, mprotect(none, size, PROT_NONE) == 0 else { return false }
        return cbsdshim_probe_read8(m) == 1 && cbsdshim_probe_read8(readOnly - 4) == 1
            && cbsdshim_probe_read8(none - 4) == 0 && cbsdshim_probe_read8(none) == 0
            && cbsdshim_probe_write4(m) == 1 && m.load(as: Int32.self) == 2047
            && cbsdshim_probe_write4(readOnly) == 0 && cbsdshim_probe_write4(none) == 0
    }()

    /// True if the 8 bytes at `address` can be read (8 bytes straddling a page
    /// boundary prove both pages); nothing changes. Needs ``canProbe``.
    @inline(__always)
    public static func probeReadable(_ address: UInt) -> Bool {
        cbsdshim_probe_read8(UnsafeRawPointer(bitPattern: address)) == 1
    }

    /// True if the 4-byte-aligned int at `address` can be written; its value is
    /// kept (an atomic add of 0). Needs ``canProbe``.
    @inline(__always)
    public static func probeWritable(_ address: UInt) -> Bool {
        cbsdshim_probe_write4(UnsafeMutableRawPointer(bitPattern: address)) == 1
    }

    /// Prefaults the whole pages [lo, hi) for reading or writing without
    /// changing a byte; false if any is unmapped, PROT_NONE or (for writing)
    /// read-only. Needs ``canPrefault``.
    public static func prefault(_ lo: UInt, _ hi: UInt, forWriting: Bool) -> Bool {
        let advice = forWriting ? cbsdshim_MADV_POPULATE_WRITE : cbsdshim_MADV_POPULATE_READ
        return (try? valueOrErrno({ madvise(UnsafeMutableRawPointer(bitPattern: lo), Int(hi - lo), advice) })) != nil
    }
}
