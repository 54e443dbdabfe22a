// SPDX-License-Identifier: BSD-2-Clause
// Threads.swift: library-owned threads and the pthread mutex/condition pair
// used where a thread must sleep (Synchronization.Mutex has no condition).

import CBSDShim
import Glibc

/// A pthread mutex with a condition variable, heap-allocated once (never moves).
final class MutexCondition: @unchecked Sendable {
    private let m: UnsafeMutablePointer<pthread_mutex_t>
    private let c: UnsafeMutablePointer<pthread_cond_t>

    /// - Parameter recursive: allow the owning thread to lock again.
    init(recursive: Bool = false) {
        m = .allocate(capacity: 1)
        c = .allocate(capacity: 1)
        var attr = pthread_mutexattr_t()
        pthread_mutexattr_init(&attr)
        if recursive { pthread_mutexattr_settype(&attr, Int32(PTHREAD_MUTEX_RECURSIVE)) }
        pthread_mutex_init(m, &attr)
        pthread_mutexattr_destroy(&attr)
        pthread_cond_init(c, nil)
    }

    deinit {
        pthread_cond_destroy(c)
        pthread_mutex_destroy(m)
        m.deallocate()
        c.deallocate()
    }

    @inline(__always) func lock() { pthread_mutex_lock(m) }
    @inline(__always) func unlock() { pthread_mutex_unlock(m) }
    /// Waits on the condition; the mutex must be held.
    @inline(__always) func wait() { pthread_cond_wait(c, m) }
    @inline(__always) func signal() { pthread_cond_signal(c) }
    @inline(__always) func broadcast() { pthread_cond_broadcast(c) }

    @inline(__always) func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock()
        defer { unlock() }
        return try body()
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

/// Starts a detached library thread with all signals blocked (signals belong
/// to the application's threads). Returns false if the thread could not start.
@discardableResult
func startLibraryThread(name: String, _ body: @escaping () -> Void) -> Bool {
    let box = Unmanaged.passRetained(ThreadBody(name: name, body: body)).toOpaque()
    var all = sigset_t()
    var old = sigset_t()
    sigfillset(&all)
    // The new thread inherits the creator's mask: block everything around pthread_create.
    pthread_sigmask(SIG_SETMASK, &all, &old)
    var tid = pthread_t()
    let rc = pthread_create(&tid, nil, { arg in
        let b = Unmanaged<ThreadBody>.fromOpaque(arg!).takeRetainedValue()
        b.name.withCString { cbsdshim_set_thread_name($0) }
        b.body()
        return nil
    }, box)
    pthread_sigmask(SIG_SETMASK, &old, nil)
    if rc != 0 {
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
