// SPDX-License-Identifier: BSD-2-Clause
// UserMemory.swift: copyin/copyout for the descriptor's entry points (prefault checks, or ProcessMemory on this process).

import BSDSystem
import CBSDShim
import Glibc

/// Client memory as the kernel sees it: a bad address is an EFAULT, never a SIGSEGV.
/// With the prefault check, the check and the memcpy are two steps: pages
/// another thread unmaps or protects between them fault (SIGSEGV) as the
/// request data copies do (see RecordBatch), where the kernel's copy would
/// say EFAULT. Only a program freeing a buffer it is passing to a call on
/// another thread meets this; guarding it would need a fault handler.
enum UserMemory {
    /// IOV_MAX: the most iovecs one dmio_buffer may have.
    static let iovMax = Int(cbsdshim_UIO_MAXIOV)

    /// Copies `count` bytes at client address `from` to `to`; false if any byte is inaccessible.
    /// Where the kernel can probe or prefault (AddressCheck), the pages are
    /// proven readable by one such call and copied with memcpy: a lighter call
    /// than process_vm_readv, which looks the process up and pins each page.
    @inline(__always)
    static func copyIn(_ to: UnsafeMutableRawPointer, from: UnsafeRawPointer?, count: Int) -> Bool {
        let facts = MemoryFacts.current
        if facts.canPrefault || facts.canProbe {
            guard let from, let span = AddressCheck.pages(from, count, owner: -1, facts),
                  AddressCheck.accessible(span.lo, span.hi, false, facts) else { return false }
            memcpy(to, from, count)
            return true
        }
        return ProcessMemory.copy(to, fromUnchecked: from, count: count, pid: DmoverFork.pid)
    }

    /// True if all `count` bytes at client address `to` can be written (nothing is written).
    static func writable(_ to: UnsafeRawPointer, count: Int) -> Bool {
        let facts = MemoryFacts.current
        guard let span = AddressCheck.pages(to, count, owner: -1, facts) else { return false }
        return AddressCheck.accessible(span.lo, span.hi, true, facts)
    }

    /// Writes `count` bytes from `from` to client address `to`; false if any
    /// byte is not writable (then none is written). As copyIn, with the
    /// write probe or MADV_POPULATE_WRITE.
    @inline(__always)
    static func copyOut(_ to: UnsafeRawPointer, from: UnsafeRawPointer, count: Int) -> Bool {
        let facts = MemoryFacts.current
        if facts.canPrefault || facts.canProbe {
            guard let span = AddressCheck.pages(to, count, owner: -1, facts),
                  AddressCheck.accessible(span.lo, span.hi, true, facts) else { return false }
            memcpy(UnsafeMutableRawPointer(mutating: to), from, count)
            return true
        }
        return ProcessMemory.copy(toUnchecked: to, from: from, count: count, pid: DmoverFork.pid)
    }
}
