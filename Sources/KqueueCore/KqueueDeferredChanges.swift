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
/// Every locking of a kqueue lists, in a thread-local list, the lock the
/// thread holds or is about to take (``EpollKqueue/locked(_:)``,
/// ``KqueueRegistry/lockedCall``). kevent() finding its kqueue's lock listed,
/// and the lock not free, cannot take it: it leaves its changes in the
/// kqueue's slots (no allocation, no lock: atomics only), flags the
/// registry entry and returns. Whoever takes the lock next applies them
/// before anything else (``KqueueRegistry/afterLocking(_:)``), and the
/// interrupted code looks for them once it has released the lock
/// (``KqueueRegistry/afterUnlocking(_:)``), so they take effect before the
/// interrupted call returns, each call's changes in its order and the calls
/// in the order they were made. Such a call collects no events (it returns
/// 0, as a poll that found none) and reports no per-change error.
extension EpollKqueue {
    static let deferredCapacity = 64

    /// Leaves `count` changes for the lock's holder. Returns 0, or ENOMEM
    /// when the slots cannot take them all (nothing is left then).
    /// Async-signal-safe.
    func deferChanges(_ changes: UnsafePointer<kevent>, count: Int) -> Int32 {
        if count == 0 { return 0 }
        if count > Self.deferredCapacity { return ENOMEM }
        // The call's number orders it against the others: slots are reused
        // as soon as they are applied, so their positions say nothing.
        let call = deferredCalls.wrappingAdd(1, ordering: .relaxed).oldValue
        // Claim `count` free slots at once. Acquiring: the drainer's copy
        // out of a slot happens before this call writes it again.
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
                expected: taken, desired: taken | mine,
                successOrdering: .acquiring, failureOrdering: .relaxed)
            if exchanged { break }
            taken = original
        }
        // Each change gets its own order: the call's number, then its place.
        var bits = mine
        var i = 0
        while bits != 0 {
            let slot = bits.trailingZeroBitCount
            deferredSlots[slot] = changes[i]
            deferredOrder[slot] = call &* UInt64(Self.deferredCapacity) &+ UInt64(i)
            i += 1
            bits &= bits &- 1
        }
        deferredReady.bitwiseOr(mine, ordering: .releasing)
        return 0
    }

    /// Applies the changes signal handlers left, oldest first; the caller
    /// holds the lock. Their errors have no one to go to.
    @inline(never)
    func applyDeferredChanges() {
        let provenBefore = provenAlive
        while true {
            var ready = deferredReady.exchange(0, ordering: .acquiring)
            if ready == 0 { break }
            while ready != 0 {
                // The oldest ready slot (at most 64: a scan, no sort buffer).
                var bits = ready
                var oldest = bits.trailingZeroBitCount
                while bits != 0 {
                    let slot = bits.trailingZeroBitCount
                    if deferredOrder[slot] &- deferredOrder[oldest] > UInt64.max / 2 { oldest = slot }
                    bits &= bits &- 1
                }
                let bit = UInt64(1) << UInt64(oldest)
                ready &= ~bit
                var change = deferredSlots[oldest]
                deferredTaken.bitwiseAnd(~bit, ordering: .releasing)
                if isClosed { continue }
                _ = try? applyLocked(changes: &change, count: 1, events: nil, capacity: 0, finishing: true)
            }
        }
        // A deferred change that went through epoll proves the descriptor
        // too; one that did not must not undo the interrupted call's proof.
        provenAlive = provenAlive || provenBefore
    }
}
