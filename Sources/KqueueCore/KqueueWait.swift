// SPDX-License-Identifier: BSD-2-Clause
// KqueueWait.swift: a kevent() that may block and has no changes, in one lean round before the general scan.

import BSDSystem
import CBSDShim
import CBSDShimABI
import Glibc

extension EpollKqueue {
    /// A kevent() with no changes that may block (`timeout` nil, or > 0 ns):
    /// the general scan's first round (``scan``) without its loop's
    /// bookkeeping — one epoll_wait, its events routed under the lock — for
    /// the common wait, which returns events. What else may happen (nothing
    /// for the caller yet, a signal, a full batch, no watchdog thread) goes on
    /// in ``scan`` as its later rounds would.
    func waitWithoutChanges(into out: UnsafeMutablePointer<kevent>, capacity: Int, timeout: UInt64?,
                            hold: inout KqueueHold) throws(Errno) -> Int {
        if isClosed { throw .badFileDescriptor }
        // The clock is read only for a finite timeout, whose rest a later round needs.
        let deadline = timeout.map { Clock.monotonicNanoseconds() &+ $0 }
        // A long wait is watched by the watchdog for a close() of the descriptor (see ``scan``).
        let long = timeout.map { $0 > Self.livenessInterval } ?? true
        if long {
            hold.keepOwnReference(self)
            // No watchdog: the general scan slices the wait itself.
            guard KqueueWatchdog.waitBegins(self) else {
                return try scanRest(into: out, capacity: capacity, timeout: timeout, hold: &hold)
            }
        }
        return try withUnsafeTemporaryAllocation(of: epoll_event.self, capacity: Self.batch) {
            (buf) throws(Errno) -> Int in
            let base = buf.baseAddress!
            let k: Int
            do throws(Errno) {
                // Whatever is queued keeps the wake-up eventfd readable
                // (``syncWakeup()``): no queue step is needed before blocking.
                defer { if long { KqueueWatchdog.waitEnds(self) } }
                k = Int(try epoll.wait(into: base, capacity: Int32(min(capacity, Self.batch)), timeout: timeout))
            } catch where error == .interrupted {
                // As in ``scan``: a watched signal's counting handler
                // interrupted the wait; its event is reported, not EINTR.
                let queued = locked { () -> Bool in
                    sourcesInterrupted()
                    syncWakeup()
                    return !queue.isEmpty
                }
                guard queued else { throw error }
                return try scanRest(into: out, capacity: capacity, timeout: remaining(deadline), hold: &hold)
            } catch {
                // EBADF / EINVAL: the descriptor no longer is our epoll.
                markClosed()
                throw .badFileDescriptor
            }
            var n = 0
            var proven = false
            var unlockedWorkPending = false
            let stamp = locked { () -> UInt64 in
                lastStamp &+= 1
                provenAlive = false
                _ = finishRound(base, k, into: out, n: &n, room: capacity, stamp: lastStamp, proven: &proven,
                                unlockedWorkPending: &unlockedWorkPending)
                return lastStamp
            }
            // Events for the caller: the rest is a poll's (more rounds after a full batch, the probe).
            if n > 0 {
                return try finishPoll(PollRound(n: n, k: k, stamp: stamp, proven: proven,
                                                unlockedWorkPending: unlockedWorkPending),
                                      into: out, capacity: capacity, hold: &hold)
            }
            if unlockedWorkPending { runUnlockedWork() }
            // Nothing for the caller: after a close() the number may be
            // another epoll instance, whose events are not ours.
            if isClosed { throw .badFileDescriptor }
            if k > 0 && !stillOurs() { throw .badFileDescriptor }
            let rest = remaining(deadline)
            if rest == 0 {
                // Timed out: as the general scan ends a wait whose deadline passed.
                locked { syncWakeup() }
                if k == 0 && !stillOurs() { throw .badFileDescriptor }
                return 0
            }
            return try scanRest(into: out, capacity: capacity, timeout: rest, hold: &hold)
        }
    }

    /// The rest of a ``waitWithoutChanges(into:capacity:timeout:hold:)`` in
    /// the general scan, its queued knotes collected first (as a later round's are).
    @inline(never)
    private func scanRest(into out: UnsafeMutablePointer<kevent>, capacity: Int, timeout: UInt64?,
                          hold: inout KqueueHold) throws(Errno) -> Int {
        var proven = false
        var reported = false
        let r = try scan(into: out, capacity: capacity, timeout: timeout, resetProof: true, proven: &proven,
                         changesReported: &reported, hold: &hold)
        // Everything may have come from the userspace queue: make sure it still is the descriptor's.
        if r > 0 && !proven && !stillOurs() { throw .badFileDescriptor }
        return r
    }
}
