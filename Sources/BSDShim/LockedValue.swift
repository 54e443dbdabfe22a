// SPDX-License-Identifier: BSD-2-Clause
// LockedValue.swift: a value behind the project's one lock type, with Mutex's withLock shape.

internal import struct BSDSystem.FutexLock

/// A value guarded by a ``FutexLock``: the lock the cores use everywhere, so
/// the project speaks one lock vocabulary (atomics are Synchronization's
/// `Atomic`). Call sites read as with Synchronization's `Mutex`; unlike it,
/// the lock records no owner thread, so a fork child could reset it.
final class LockedValue<Value: ~Copyable>: @unchecked Sendable {
    private let lock = FutexLock()
    /// Only touched inside ``withLock(_:)``.
    private var value: Value

    init(_ value: consuming Value) {
        self.value = value
    }

    deinit {
        lock.deallocate()
    }

    /// Runs `body` with exclusive access to the value.
    @inline(__always)
    func withLock<R, E: Error>(_ body: (inout Value) throws(E) -> R) throws(E) -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
