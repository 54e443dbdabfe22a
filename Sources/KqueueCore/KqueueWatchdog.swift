// SPDX-License-Identifier: BSD-2-Clause
// KqueueWatchdog.swift: notices a kqueue descriptor closed under a thread blocked in kevent().

import BSDSystem
import Synchronization

/// Linux tells nobody when a program close()s an epoll descriptor another
/// thread is blocked on (linked without the preload library, bsdshim does not
/// see the close() either), and the blocked epoll_wait goes on waiting on the
/// file. BSD's waiter returns EBADF. Rather than each waiter waking itself
/// every ``EpollKqueue/livenessInterval`` — a timed epoll_wait arms a kernel timer
/// on every call, which costs the wait path more than all of bsdshim's own
/// work — one library thread, running only while long waits are in progress,
/// re-checks every interval the descriptor of each kqueue that has blocked
/// waiters, and reclaims it if it is no longer the kqueue's
/// (``EpollKqueue/stillOurs()``), which wakes them.
enum KqueueWatchdog {
    /// True while the watchdog thread runs (or is being started).
    static let running = Atomic<Bool>(false)

    /// A thread is about to block on `kq` for longer than the interval.
    /// Returns false if no watchdog can run (the thread could not be
    /// started): the caller then slices its wait itself.
    @inline(__always)
    static func waitBegins(_ kq: EpollKqueue) -> Bool {
        // Sequentially consistent, with `stop()`'s: either the watchdog sees
        // this waiter, or this waiter sees that no watchdog runs.
        kq.blockedWaiters.wrappingAdd(1, ordering: .sequentiallyConsistent)
        if running.load(ordering: .sequentiallyConsistent) { return true }
        if start() { return true }
        kq.blockedWaiters.wrappingSubtract(1, ordering: .relaxed)
        return false
    }

    @inline(__always)
    static func waitEnds(_ kq: EpollKqueue) {
        kq.blockedWaiters.wrappingSubtract(1, ordering: .relaxed)
    }

    /// Starts the thread unless another caller did. False if it could not start.
    static func start() -> Bool {
        guard running.compareExchange(expected: false, desired: true, ordering: .sequentiallyConsistent).exchanged
        else { return true }
        if LibraryThread.start(name: "bsdshim-kqwatch", { run() }) { return true }
        running.store(false, ordering: .sequentiallyConsistent)
        return false
    }

    /// Every interval: the kqueues with blocked waiters are re-checked. The
    /// thread ends once none has any (a later long wait starts it again).
    static func run() {
        while true {
            Clock.sleep(nanoseconds: EpollKqueue.livenessInterval)
            if checkWaited() { continue }
            running.store(false, ordering: .sequentiallyConsistent)
            // A waiter that counted itself before the store saw the thread
            // running and started none: look once more.
            if !anyWaiter() { return }
            if !running.compareExchange(expected: false, desired: true, ordering: .sequentiallyConsistent).exchanged {
                return  // a waiter started another watchdog meanwhile
            }
        }
    }

    /// Re-checks the kqueues that have blocked waiters; false if there was none.
    static func checkWaited() -> Bool {
        var any = false
        for kq in KqueueRegistry.all() where kq.blockedWaiters.load(ordering: .sequentiallyConsistent) > 0 {
            any = true
            _ = kq.stillOurs()
        }
        return any
    }

    static func anyWaiter() -> Bool {
        KqueueRegistry.all().contains { $0.blockedWaiters.load(ordering: .sequentiallyConsistent) > 0 }
    }

    /// A fork child has no watchdog thread: the next long wait there starts one.
    static func forgetInChild() {
        running.store(false, ordering: .relaxed)
    }
}
