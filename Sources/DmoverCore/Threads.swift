// SPDX-License-Identifier: BSD-2-Clause
// Threads.swift: the lock with a condition used where a dmover thread must
// sleep (threads themselves start through BSDSystem's LibraryThread). Its
// words record no owner thread (only a recursive lock keeps one, in plain
// memory), so a fork child can reset it (pthread mutexes and Swift's Mutex
// cannot be reset there).

import BSDSystem
import CBSDShim
import Glibc
import Synchronization

/// A futex lock with a condition (a sequence word), optionally recursive.
/// Heap words that never move; `reset()` frees everything in a fork child.
final class MutexCondition: @unchecked Sendable {
    private let word = FutexLock()
    /// Condition sequence: bumped by signal/broadcast; sleepers wait for a change.
    private let seq = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
    /// Threads sleeping in wait() (under the lock): signal skips the syscall when 0.
    private var waiters = 0
    private let recursive: Bool
    private let owner = Atomic<UInt>(0)
    private var depth = 0

    /// - Parameter recursive: allow the owning thread to lock again.
    init(recursive: Bool = false) {
        self.recursive = recursive
        seq.initialize(to: 0)
    }

    deinit {
        word.deallocate()
        seq.deallocate()
    }

    @inline(__always) func lock() {
        if recursive {
            let me = UInt(pthread_self())
            if owner.load(ordering: .relaxed) == me { depth &+= 1; return }
            word.lock()
            owner.store(me, ordering: .relaxed)
            depth = 1
            return
        }
        word.lock()
    }

    @inline(__always) func unlock() {
        if recursive {
            depth &-= 1
            if depth > 0 { return }
            owner.store(0, ordering: .relaxed)
        }
        word.unlock()
    }

    /// Waits for a signal; the lock must be held (once). Spurious wake-ups happen: re-check.
    func wait() {
        let s = cbsdshim_atomic_load_int(seq)
        waiters &+= 1
        unlock()
        Futex.wait(seq, while: s)
        lock()
        waiters &-= 1
    }

    /// Wakes the sleepers (the lock must be held); all of them, to keep it simple: callers re-check.
    @inline(__always) func signal() {
        if waiters == 0 { return }
        _ = cbsdshim_atomic_fetch_add_int(seq, 1)
        Futex.wakeAll(seq)
    }

    @inline(__always) func broadcast() { signal() }

    @inline(__always) func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock()
        defer { unlock() }
        return try body()
    }

    /// Forces the lock free and forgets sleepers. Only in a fork child (one thread).
    func reset() {
        word.reset()
        seq.pointee = 0
        waiters = 0
        owner.store(0, ordering: .relaxed)
        depth = 0
    }
}

/// Reads a positive integer setting from the environment.
func environmentInt(_ name: String) -> Int? {
    guard let v = getenv(name) else { return nil }
    guard let n = Int(String(cString: v)), n >= 0 else { return nil }
    return n
}
