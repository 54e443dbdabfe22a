// SPDX-License-Identifier: BSD-2-Clause
// DeviceReadiness.swift: descriptors whose readiness is the library's, not the kernel's.

import Synchronization

/// A /dev/dmover session descriptor is writable while fewer than 64 requests
/// are in flight, which no socket state shows. EVFILT_WRITE and EVFILT_READ
/// ask the provider registered here before registering a descriptor with
/// epoll. The C ABI registers DmoverCore's answers when a program first opens
/// /dev/dmover, so neither core depends on the other.
public enum DeviceReadiness {
    /// For `fd`: a new close-on-exec descriptor (the caller closes it) that
    /// polls readable exactly while `fd` is writable, or -1 for any other descriptor.
    public typealias SourceFunction = @convention(c) (Int32) -> Int32
    /// For `fd`: the room left (records that can be written now), or -1 if it
    /// is no longer such a descriptor.
    public typealias RoomFunction = @convention(c) (Int32) -> Int

    private static let sourceAddress = Atomic<UInt>(0)
    private static let roomAddress = Atomic<UInt>(0)
    private static let readableAddress = Atomic<UInt>(0)

    /// Registers the provider (the first registration wins; later ones are ignored).
    /// `readable` gives the bytes of responses ready to read (EVFILT_READ's data), or -1.
    public static func register(source: SourceFunction, room: RoomFunction, readable: RoomFunction) {
        _ = readableAddress.compareExchange(expected: 0, desired: unsafeBitCast(readable, to: UInt.self), ordering: .releasing)
        _ = roomAddress.compareExchange(expected: 0, desired: unsafeBitCast(room, to: UInt.self), ordering: .releasing)
        _ = sourceAddress.compareExchange(expected: 0, desired: unsafeBitCast(source, to: UInt.self), ordering: .releasing)
    }

    /// The readiness descriptor for `fd`, or -1 (also when no provider is registered).
    @inline(__always)
    public static func source(for fd: Int32) -> Int32 {
        let a = sourceAddress.load(ordering: .acquiring)
        if a == 0 { return -1 }
        return unsafeBitCast(a, to: SourceFunction.self)(fd)
    }

    /// The room left on `fd`, or -1.
    public static func room(for fd: Int32) -> Int {
        let a = roomAddress.load(ordering: .acquiring)
        if a == 0 { return -1 }
        return unsafeBitCast(a, to: RoomFunction.self)(fd)
    }

    /// Bytes ready to read on `fd` (whole responses), or -1 if it is not such a descriptor.
    public static func readable(for fd: Int32) -> Int {
        let a = readableAddress.load(ordering: .acquiring)
        if a == 0 { return -1 }
        return unsafeBitCast(a, to: RoomFunction.self)(fd)
    }
}
