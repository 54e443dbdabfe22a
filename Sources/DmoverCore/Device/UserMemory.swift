// SPDX-License-Identifier: BSD-2-Clause
// UserMemory.swift: copies from and probes client memory without faulting (process_vm_readv/writev on our own pid).

import Glibc

/// Client memory as the kernel sees it: a bad address is an EFAULT, never a SIGSEGV.
/// A transfer list pairs remote ranges with an owner (a record index); a range
/// that cannot be accessed fails its owner and the owner's later ranges.
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
        return readv(getpid(), &local, 1, &remote, 1, 0) == count
    }

    /// Transfers `remote[0..<count]` to/from the contiguous `local` buffer (reads
    /// when `write` is false). Calls `fault(owner)` once for every owner with an
    /// inaccessible range; that owner's later ranges are skipped (their local
    /// bytes are left as they were).
    static func transfer(pid: pid_t, write: Bool, local: UnsafeMutableRawPointer,
                         remote: UnsafeMutablePointer<iovec>, owners: UnsafePointer<Int32>, count: Int,
                         fault: (Int32) -> Void) {
        guard let call = write ? writev : readv else {
            var last: Int32 = -1
            for i in 0..<count where owners[i] != last { last = owners[i]; fault(last) }
            return
        }
        var i = 0
        var offset = 0
        while i < count {
            let n = min(count - i, iovMax)
            var bytes = 0
            for k in i..<(i + n) { bytes += remote[k].iov_len }
            var l = iovec(iov_base: local + offset, iov_len: bytes)
            let r = call(pid, &l, 1, remote + i, UInt(n), 0)
            if r == bytes {
                offset += bytes
                i += n
                continue
            }
            // Partial: r bytes are whole ranges (transfers never split a remote range).
            var moved = max(r, 0)
            let end = i + n
            while i < end && remote[i].iov_len <= moved {
                moved -= remote[i].iov_len
                offset += remote[i].iov_len
                i += 1
            }
            if i == end { continue }
            // remote[i] failed: fail its owner, skip the owner's remaining ranges.
            let owner = owners[i]
            fault(owner)
            while i < count && owners[i] == owner {
                offset += remote[i].iov_len
                i += 1
            }
        }
    }
}
