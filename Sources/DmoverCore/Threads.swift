// SPDX-License-Identifier: BSD-2-Clause
// Threads.swift: library-owned threads, and the lock with a condition used
// where a thread must sleep. Both are futex words that record no owner thread
// (only a recursive lock keeps one, in plain memory), so a fork child can
// reset them (pthread mutexes and Swift's Mutex cannot be reset there).

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
        cbsdshim_futex_wait(seq, s)
        lock()
        waiters &-= 1
    }

    /// Wakes the sleepers (the lock must be held); all of them, to keep it simple: callers re-check.
    @inline(__always) func signal() {
        if waiters == 0 { return }
        _ = cbsdshim_atomic_fetch_add_int(seq, 1)
        cbsdshim_futex_wake_all(seq)
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

/// Boxes a thread body for pthread_create.
private final class ThreadBody {
    let name: String
    let body: () -> Void
    init(name: String, body: @escaping () -> Void) {
        self.name = name
        self.body = body
    }
}

/// The bodies of running library threads. Only their threads' stacks would
/// refer to them otherwise, and a fork child has none of those threads:
/// memcheck called what they hold (sessions, device buffers) definitely lost.
/// Addresses as integers: reachability is all that is needed. A futex lock,
/// not Swift's Mutex: fork's prepare handler holds it (a thread ending at the
/// moment of fork would otherwise leave it locked forever in the child, whose
/// first thread start would hang) and the child resets it.
enum RunningThreads {
    static let lock = FutexLock()
    nonisolated(unsafe) private static var addresses: [UInt] = []

    static func add(_ box: UnsafeMutableRawPointer) {
        lock.lock()
        addresses.append(UInt(bitPattern: box))
        lock.unlock()
    }

    static func remove(_ box: UnsafeMutableRawPointer) {
        let address = UInt(bitPattern: box)
        lock.lock()
        if let i = addresses.firstIndex(of: address) {
            addresses.swapAt(i, addresses.count - 1)
            addresses.removeLast()
        }
        lock.unlock()
    }
}

/// Starts a detached library thread with the asynchronous signals blocked
/// (they belong to the application's threads; see LibraryThreadSignals).
/// Returns false if the thread could not start.
@discardableResult
func startLibraryThread(name: String, _ body: @escaping () -> Void) -> Bool {
    let box = Unmanaged.passRetained(ThreadBody(name: name, body: body)).toOpaque()
    RunningThreads.add(box)
    var all = LibraryThreadSignals.mask
    var old = sigset_t()
    // The new thread inherits the creator's mask: block them around pthread_create.
    pthread_sigmask(SIG_SETMASK, &all, &old)
    var tid = pthread_t()
    let rc = pthread_create(&tid, nil, { arg in
        let b = Unmanaged<ThreadBody>.fromOpaque(arg!).takeRetainedValue()
        b.name.withCString { cbsdshim_set_thread_name($0) }
        b.body()
        RunningThreads.remove(arg!)
        return nil
    }, box)
    pthread_sigmask(SIG_SETMASK, &old, nil)
    if rc != 0 {
        RunningThreads.remove(box)
        Unmanaged<ThreadBody>.fromOpaque(box).release()
        return false
    }
    pthread_detach(tid)
    return true
}

/// Reads a positive integer setting from the environment.
func environmentInt(_ name: String) -> Int? {
    guard let v = getenv(name) else { return nil }
    guard let n = Int(String(cString: v)), n >= 0 else { return nil }
    return n
}
