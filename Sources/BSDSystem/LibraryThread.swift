// SPDX-License-Identifier: BSD-2-Clause
// LibraryThread.swift: starting the library's own threads, once for every part of bsdshim.

import CBSDShim
import Glibc

/// The library's threads (dmover's workers and completion thread, the Swift
/// API's reactor): detached, named, started with the asynchronous signals
/// blocked (they belong to the program: see LibraryThreadSignals), and
/// listed while they run, so that what their bodies hold stays reachable in a
/// fork child, which has none of those threads (memcheck would otherwise call
/// sessions and buffers definitely lost).
public enum LibraryThread {
    /// Starts `body` on a new detached thread named `name` (15 bytes shown).
    /// Returns false if the thread could not start.
    @discardableResult
    public static func start(name: String, _ body: @escaping () -> Void) -> Bool {
        let box = Unmanaged.passRetained(Body(name: name, body: body)).toOpaque()
        Running.add(box)
        var all = LibraryThreadSignals.mask
        var old = sigset_t()
        // The new thread inherits the creator's mask: block them around pthread_create.
        pthread_sigmask(SIG_SETMASK, &all, &old)
        var tid = pthread_t()
        let rc = pthread_create(&tid, nil, { arg in
            let b = Unmanaged<Body>.fromOpaque(arg!).takeRetainedValue()
            b.name.withCString { cbsdshim_set_thread_name($0) }
            b.body()
            Running.remove(arg!)
            return nil
        }, box)
        pthread_sigmask(SIG_SETMASK, &old, nil)
        if rc != 0 {
            Running.remove(box)
            Unmanaged<Body>.fromOpaque(box).release()
            return false
        }
        pthread_detach(tid)
        return true
    }

    /// Fork bookkeeping: the prepare handler takes the list's lock (a thread
    /// ending at the moment of fork would otherwise leave it locked forever
    /// in the child, whose first thread start would hang), the parent handler
    /// gives it back, the child resets it.
    public static func prepareFork() { Running.lock.lock() }
    public static func parentAfterFork() { Running.lock.unlock() }
    public static func childAfterFork() { Running.lock.reset() }

    /// A thread's body, boxed for pthread_create.
    private final class Body {
        let name: String
        let body: () -> Void
        init(name: String, body: @escaping () -> Void) {
            self.name = name
            self.body = body
        }
    }

    /// The bodies of running threads, as addresses: reachability is all that
    /// is needed. A futex lock, not Swift's Mutex: a fork child can reset it.
    private enum Running {
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
}
