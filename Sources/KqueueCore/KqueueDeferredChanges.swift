// SPDX-License-Identifier: BSD-2-Clause
// KqueueDeferredChanges.swift: kevent() from a signal handler whose thread was interrupted inside the same kqueue's lock.

import CBSDShim
import CBSDShimABI
import Glibc

/// On BSD kevent() is a system call, so a signal handler may call it, for
/// example to trigger an EVFILT_USER event that wakes the event loop. Here a
/// kqueue's state is guarded by a lock, and a handler that interrupted its
/// own thread while that thread held the lock would wait for itself forever.
///
/// Every locking of a kqueue marks, in a thread-local word, the lock the
/// thread holds or is about to take (``EpollKqueue/locked(_:)``,
/// ``KqueueRegistry/lockedCall``). kevent() finding the mark set on its
/// kqueue's lock, and the lock not free, cannot take it: it leaves its
/// changes in the kqueue's slots (no allocation, no lock: atomics only) and
/// returns. Whoever holds the lock applies them as soon as it releases it,
/// so they take effect before the interrupted call returns, in the order given.
/// Such a call collects no events (it returns 0, as a poll that found none)
/// and reports no per-change error.
extension EpollKqueue {
    static let deferredCapacity = 64

    /// Leaves `count` changes for the lock's holder. Returns 0, or ENOMEM
    /// when the slots cannot take them all (nothing is left then).
    /// Async-signal-safe.
    func deferChanges(_ changes: UnsafePointer<kevent>, count: Int) -> Int32 {
        if count == 0 { return 0 }
        if count > Self.deferredCapacity { return ENOMEM }
        // Claim the lowest `count` free slots at once, so that one call's
        // changes are applied in its order.
        var taken = deferredTaken.load(ordering: .relaxed)
        var mine: UInt64 = 0
        while true {
            mine = 0
            var free = ~taken
            for _ in 0..<count {
                if free == 0 { return ENOMEM }
                let bit = free & (0 &- free)
                mine |= bit
                free &= ~bit
            }
            let (exchanged, original) = deferredTaken.compareExchange(
                expected: taken, desired: taken | mine, ordering: .relaxed)
            if exchanged { break }
            taken = original
        }
        var bits = mine
        var i = 0
        while bits != 0 {
            let slot = bits.trailingZeroBitCount
            deferredSlots[slot] = changes[i]
            i += 1
            bits &= bits &- 1
        }
        deferredReady.bitwiseOr(mine, ordering: .releasing)
        return 0
    }

    /// Applies the changes signal handlers left, in slot order; the caller
    /// holds the lock. Their errors have no one to go to.
    @inline(never)
    func applyDeferredChanges() {
        let provenBefore = provenAlive
        while true {
            let ready = deferredReady.exchange(0, ordering: .acquiring)
            if ready == 0 { break }
            var bits = ready
            while bits != 0 {
                let slot = bits.trailingZeroBitCount
                var change = deferredSlots[slot]
                deferredTaken.bitwiseAnd(~(UInt64(1) << UInt64(slot)), ordering: .releasing)
                bits &= bits &- 1
                if isClosed { continue }
                _ = try? applyLocked(changes: &change, count: 1, events: nil, capacity: 0, finishing: true)
            }
        }
        // A deferred change that went through epoll proves the descriptor
        // too; one that did not must not undo the interrupted call's proof.
        provenAlive = provenAlive || provenBefore
    }

    /// ``applyDeferredChanges()`` for a caller that has just released the
    /// lock (changes left meanwhile are taken when this locking ends).
    @inline(never)
    func applyDeferredChangesLocking() {
        locked { applyDeferredChanges() }
    }
}
