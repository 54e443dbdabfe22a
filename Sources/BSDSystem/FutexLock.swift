// SPDX-License-Identifier: BSD-2-Clause
// FutexLock.swift: a small futex-based lock that a fork child can reset.

import CBSDShim

/// A lock word in memory of its own. Uncontended lock/unlock is one atomic
/// each, inlined; waiters sleep on a futex. It records no owner thread, so a
/// fork child (where the owning thread may not exist) can ``reset()`` it,
/// which Swift's `Mutex` does not allow. The owner deallocates it.
@frozen
public struct FutexLock: @unchecked Sendable {
    public let word: UnsafeMutablePointer<UInt32>

    public init() {
        word = .allocate(capacity: 1)
        word.initialize(to: 0)
    }

    /// A lock over a word inside memory the caller owns (for example a
    /// field of a C structure or of a raw allocation, zeroed when unlocked).
    @inlinable @inline(__always)
    public init(wrapping word: UnsafeMutablePointer<UInt32>) { self.word = word }

    @inlinable @inline(__always) public func lock() { cbsdshim_lock(word) }
    @inlinable @inline(__always) public func unlock() { cbsdshim_unlock(word) }
    /// True if nobody holds the lock now, ordered as taking and dropping it
    /// would be, without ever making it look held.
    @inlinable @inline(__always) public var isFree: Bool { cbsdshim_lock_is_free(word) != 0 }

    @inlinable @inline(__always)
    public func withLock<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        cbsdshim_lock(word)
        defer { cbsdshim_unlock(word) }
        return try body()
    }

    /// Forces the lock free. Only for a fork child, where no other thread exists.
    public func reset() { word.pointee = 0 }

    public func deallocate() { word.deallocate() }
}
