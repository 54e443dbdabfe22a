// SPDX-License-Identifier: BSD-2-Clause
// DeviceTable.swift: descriptor number -> DmioState, for the entry points (lock-free lookup).

import BSDSystem
import CBSDShim
import Glibc

/// Devices by client descriptor number. Lookups read a slot without a lock and
/// check the descriptor still is our socket (same inode), so a number that was
/// closed with plain close() and reused is never taken for ours. Slots change
/// under a lock (open and close only).
enum DeviceTable {
    static let capacity: Int = {
        let hard = FileDescriptorOps.descriptorHardLimit() ?? UInt(1 << 20)
        return Int(min(max(hard, 1024), 1 << 20))
    }()
    /// calloc'ed: untouched pages cost nothing.
    nonisolated(unsafe) private static let slots: UnsafeMutablePointer<UnsafeMutableRawPointer?> = {
        calloc(capacity, MemoryLayout<UnsafeMutableRawPointer?>.stride)!.bindMemory(to: UnsafeMutableRawPointer?.self,
                                                                                    capacity: capacity)
    }()
    private static let lock = FutexLock()

    /// One past the highest slot ever used (changed under the lock).
    nonisolated(unsafe) private static var highWater = 0

    /// Stores a device (the table keeps a reference); a stale one in the slot
    /// (its number closed with plain close() and reused) is retired.
    static func insert(_ device: DmioState) -> Bool {
        let fd = Int(device.socket.client)
        guard fd >= 0 && fd < capacity else { return false }
        lock.lock()
        let old = slots[fd]
        slots[fd] = Unmanaged.passRetained(device).toOpaque()
        highWater = max(highWater, fd + 1)
        lock.unlock()
        if let old {
            let d = Unmanaged<DmioState>.fromOpaque(old).takeRetainedValue()
            d.retire()
        }
        return true
    }

    /// Removes and returns fd's device (the caller owns the reference).
    static func remove(_ fd: Int32) -> DmioState? {
        guard fd >= 0 && Int(fd) < capacity else { return nil }
        lock.lock()
        let old = slots[Int(fd)]
        slots[Int(fd)] = nil
        lock.unlock()
        guard let old else { return nil }
        return Unmanaged<DmioState>.fromOpaque(old).takeRetainedValue()
    }

    /// Runs body with fd's device if fd still is that device's open socket; nil
    /// otherwise. Devices are never freed (see DmioState), so a racing close
    /// leaves a valid, closed object behind.
    @inline(__always)
    static func with<T, E: Error>(_ fd: Int32, _ body: (DmioState) throws(E) -> T) throws(E) -> T? {
        guard fd >= 0 && Int(fd) < capacity, let p = slots[Int(fd)] else { return nil }
        return try withDevice(at: p) { (d) throws(E) -> T? in
            guard let id = try? FileDescriptorOps.identity(fd), id.inode == d.clientInode, id.isSocket else {
                reclaim(fd, p)
                return nil
            }
            guard d.open.load(ordering: .acquiring) else { return nil }
            return try body(d)
        }
    }

    /// Runs body with fd's device without the identity check (two fstat calls
    /// a round trip): for the preload library only, which routes just the
    /// descriptors it returned and sees the program's close, dup2, dup3,
    /// close_range and closefrom, so the number cannot have been reused
    /// behind its back. Not seen: a raw close system call, or a close made
    /// inside libc (fclose of an fdopen'ed session); a number reused after
    /// one of those is taken for the old session (its writes run as records).
    /// No check short of a system call per call can tell. nil if the slot is
    /// empty or closed.
    @inline(__always)
    static func withTracked<T, E: Error>(_ fd: Int32, _ body: (DmioState) throws(E) -> T) throws(E) -> T? {
        guard fd >= 0 && Int(fd) < capacity, let p = slots[Int(fd)] else { return nil }
        return try withDevice(at: p) { (d) throws(E) -> T? in
            guard d.open.load(ordering: .acquiring) else { return nil }
            return try body(d)
        }
    }

    /// Runs body with the device at `p` at +0 (no retain/release). The
    /// standard library's guaranteed-reference call rethrows untyped errors
    /// only: a `Result` carries the typed one across it, so that no
    /// `any Error` is boxed on the read/write path.
    @inline(__always)
    private static func withDevice<T, E: Error>(at p: UnsafeMutableRawPointer,
                                                _ body: (DmioState) throws(E) -> T) throws(E) -> T {
        try Unmanaged<DmioState>.fromOpaque(p)._withUnsafeGuaranteedRef { d in
            Result { () throws(E) -> T in try body(d) }
        }.get()
    }

    /// The program closed fd with plain close(): the device in its slot is
    /// retired (the session and the library's socket end are released).
    private static func reclaim(_ fd: Int32, _ p: UnsafeMutableRawPointer) {
        lock.lock()
        let same = slots[Int(fd)] == p
        if same { slots[Int(fd)] = nil }
        lock.unlock()
        if same { Unmanaged<DmioState>.fromOpaque(p).takeRetainedValue().retire() }
    }

    /// In a fork child (single-threaded): locks held by the parent's other
    /// threads are free; each device's socket and waiting responses stay the
    /// parent's (see DmioState.forkChild).
    static func resetInChild() {
        lock.reset()
        DmioState.resetInChild()
        for fd in 0..<highWater {
            guard let p = slots[fd] else { continue }
            Unmanaged<DmioState>.fromOpaque(p).takeUnretainedValue().forkChild()
        }
    }
}
