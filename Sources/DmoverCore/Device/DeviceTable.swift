// SPDX-License-Identifier: BSD-2-Clause
// DeviceTable.swift: descriptor number -> DmioState, for the entry points (lock-free lookup).

import BSDSystem
import CBSDShim
import Glibc

/// Devices by client descriptor number. A device is the open file: every
/// descriptor naming it (the one dmover_open returned and its copies) has a
/// slot holding it, and the session ends when the last slot goes
/// (DmioState.references). Lookups read a slot without a lock and check the
/// descriptor still is our socket (same inode), so a number that was closed
/// with plain close() and reused is never taken for ours; a number found
/// empty that is a copy of one of our sockets (dup, F_DUPFD, dup2 made
/// without the preload library) is recognised by that inode and joins its
/// device. Slots change under a lock (open, copy and close only).
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
    /// Devices with at least one slot (under the lock), as unretained
    /// pointers (the slots hold them): the search for a copy's device looks
    /// at these, not at every slot.
    nonisolated(unsafe) private static var live: [UnsafeMutableRawPointer] = []
    /// live.count, read without the lock to skip the search when there is none.
    nonisolated(unsafe) private static var devices = 0

    /// Stores a new device at its descriptor's number (the table keeps a
    /// reference); a stale one in the slot (its number closed with plain
    /// close() and reused) loses that descriptor.
    static func insert(_ device: DmioState) -> Bool {
        let fd = Int(device.socket.client)
        guard fd >= 0 && fd < capacity else { return false }
        lock.lock()
        let old = slots[fd]
        slots[fd] = Unmanaged.passRetained(device).toOpaque()
        device.references = 1
        live.append(slots[fd]!)
        devices = live.count
        highWater = max(highWater, fd + 1)
        let last = old.flatMap { dropReference($0) }
        lock.unlock()
        last?.retire()
        return true
    }

    /// Records `fd` as another descriptor of `device` (a copy of one of its
    /// descriptors). False if the device is no longer open or fd is out of range.
    static func attach(_ fd: Int32, to device: DmioState) -> Bool {
        guard fd >= 0 && Int(fd) < capacity else { return false }
        let p = Unmanaged.passUnretained(device).toOpaque()
        lock.lock()
        guard device.references > 0, device.open.load(ordering: .acquiring) else {
            lock.unlock()
            return false
        }
        let old = slots[Int(fd)]
        if old == p {
            lock.unlock()
            return true
        }
        slots[Int(fd)] = Unmanaged.passRetained(device).toOpaque()
        device.references += 1
        highWater = max(highWater, Int(fd) + 1)
        let last = old.flatMap { dropReference($0) }
        lock.unlock()
        last?.retire()
        return true
    }

    /// Forgets descriptor fd (closed or about to be); its device's session
    /// ends if it was the last. False if the slot was empty.
    @discardableResult
    static func detach(_ fd: Int32) -> Bool {
        guard fd >= 0 && Int(fd) < capacity else { return false }
        lock.lock()
        let old = slots[Int(fd)]
        slots[Int(fd)] = nil
        let last = old.flatMap { dropReference($0) }
        lock.unlock()
        last?.retire()
        return old != nil
    }

    /// Under the lock: one slot's reference to the device at `p` is gone.
    /// Returns the device (owned) when it was its last, for the caller to
    /// retire once the lock is free (retiring waits for a batch being run).
    private static func dropReference(_ p: UnsafeMutableRawPointer) -> DmioState? {
        let u = Unmanaged<DmioState>.fromOpaque(p)
        let d = u.takeUnretainedValue()
        d.references -= 1
        if d.references > 0 {
            u.release()            // other slots still hold it: never the last reference
            return nil
        }
        if let i = live.firstIndex(of: p) { live.swapAt(i, live.count - 1); live.removeLast() }
        devices = live.count
        return u.takeRetainedValue()
    }

    /// Runs body with fd's device if fd still is (a copy of) that device's
    /// open socket; nil otherwise. Devices are never freed (see DmioState),
    /// so a racing close leaves a valid, closed object behind.
    @inline(__always)
    static func with<T, E: Error>(_ fd: Int32, _ body: (DmioState) throws(E) -> T) throws(E) -> T? {
        guard fd >= 0 && Int(fd) < capacity else { return nil }
        guard let p = slots[Int(fd)] else {
            guard let q = adopt(fd) else { return nil }
            return try run(q, body)
        }
        return try withDevice(at: p) { (d) throws(E) -> T? in
            guard let id = try? FileDescriptorOps.identity(fd), id.inode == d.clientInode, id.isSocket else {
                detach(fd, ifStill: p)
                guard let q = adopt(fd) else { return nil }
                return try run(q, body)
            }
            guard d.open.load(ordering: .acquiring) else { return nil }
            return try body(d)
        }
    }

    private static func run<T, E: Error>(_ p: UnsafeMutableRawPointer, _ body: (DmioState) throws(E) -> T) throws(E) -> T? {
        try withDevice(at: p) { (d) throws(E) -> T? in
            guard d.open.load(ordering: .acquiring) else { return nil }
            return try body(d)
        }
    }

    /// fd has no slot (or a stale one): if it is a copy of one of our
    /// sockets (the same open file, so the same inode), it joins that
    /// device. The search runs only on this miss path, and only for a
    /// socket while some device is open.
    @inline(never)
    private static func adopt(_ fd: Int32) -> UnsafeMutableRawPointer? {
        guard devices > 0, let id = try? FileDescriptorOps.identity(fd), id.isSocket else { return nil }
        lock.lock()
        var found: DmioState? = nil
        for q in live {
            let d = Unmanaged<DmioState>.fromOpaque(q).takeUnretainedValue()
            if d.clientInode == id.inode && d.references > 0 && d.open.load(ordering: .acquiring) {
                found = d
                break
            }
        }
        lock.unlock()
        guard let found, attach(fd, to: found) else { return nil }
        return Unmanaged.passUnretained(found).toOpaque()
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

    /// The program closed fd with plain close() (the number now names
    /// something else): the slot, if it still holds `p`, is forgotten.
    private static func detach(_ fd: Int32, ifStill p: UnsafeMutableRawPointer) {
        lock.lock()
        let same = slots[Int(fd)] == p
        if same { slots[Int(fd)] = nil }
        let last = same ? dropReference(p) : nil
        lock.unlock()
        last?.retire()
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
