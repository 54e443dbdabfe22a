// SPDX-License-Identifier: BSD-2-Clause
// KqueuePoll.swift: kevent() calls that never block, made in one locked step with a lean poll round.

import BSDSystem
import CBSDShim
import CBSDShimABI
import Glibc

/// What a kevent() call that never blocks (zero timeout, or nothing to
/// collect) left to do once its locked step (``EpollKqueue/stepLocked``) is over.
enum LockedStep {
    /// The call is over: its result, and the errno when that is -1.
    case returned(Int32, Errno?)
    /// Nothing was changed: the general path makes the whole call.
    case notHandled
    /// The result is known, but nothing in the step proved that the
    /// descriptor still is this kqueue: ask (``EpollKqueue/stillOurs()``), EBADF if not.
    case probe(Int32, Errno?)
    /// The poll round's state (``EpollKqueue/PollRound``) for ``EpollKqueue/finishPoll``.
    case poll(EpollKqueue.PollRound)
    /// epoll_wait failed after `n` events were collected from the userspace
    /// queue: EINTR returns them (or fails), anything else means the
    /// descriptor is no longer our epoll instance (EBADF, the kqueue reclaimed).
    case pollFailed(Errno, Int)
}

extension EpollKqueue {
    /// One lean poll round: what ``finishPoll`` needs.
    struct PollRound {
        var n = 0
        var k = 0
        var stamp: UInt64 = 0
        var proven = false
        var unlockedWorkPending = false
        /// Whether a changelist came first (its proof of the descriptor counts).
        var hadChanges = false

        /// Nothing is left to do outside the lock.
        var complete: Bool { n > 0 && proven && !unlockedWorkPending && k < EpollKqueue.batch }
    }

    /// A kevent() that never blocks — changes alone, a poll with or without
    /// changes — in one step under the lock (held by the caller), as far as
    /// it goes there: the changes, then the general scan's first poll round
    /// (queued knotes and due timers, one epoll_wait, the routing of its
    /// events) without its loop's bookkeeping. The rest (a liveness probe,
    /// sources' work that must run unlocked, more rounds) is for after the lock.
    @inline(__always)
    func stepLocked(
        changes: UnsafePointer<kevent>?, count: Int,
        events: UnsafeMutablePointer<kevent>?, capacity: Int
    ) -> LockedStep {
        if isClosed { return .returned(-1, .badFileDescriptor) }
        let collects = capacity > 0 && events != nil
        if count > 0, let changes {
            let r: Int
            do throws(Errno) {
                r = try applyLocked(changes: changes, count: count, events: events, capacity: capacity,
                                    finishing: !collects)
            } catch {
                // A failed change ends the call (BSD kern_kevent).
                return provenAlive ? .returned(-1, error) : .probe(-1, error)
            }
            // Reported changes end the call (BSD kern_kevent); so does one that collects nothing.
            if r > 0 || !collects { return provenAlive ? .returned(Int32(r), nil) : .probe(Int32(r), nil) }
        } else if !collects {
            return .notHandled
        }
        guard let events else { return .notHandled }
        var round = PollRound()
        round.hadChanges = count > 0
        lastStamp &+= 1
        round.stamp = lastStamp
        // The proof is this call's: its changes', or the poll's own.
        if !round.hadChanges { provenAlive = false }
        round.n = collectQueued(into: events, room: capacity, stamp: round.stamp)
        if round.n < capacity {
            let room = capacity - round.n
            do throws(Errno) {
                round.k = Int(try epoll.wait(into: pollBuffer, capacity: Int32(min(room, Self.batch)), timeout: 0))
            } catch {
                syncWakeup()
                return .pollFailed(error, round.n)
            }
            if round.k > 0 {
                round.n += route(pollBuffer, round.k, into: events + round.n, room: room, stamp: round.stamp)
            }
        }
        round.unlockedWorkPending = hasUnlockedWork
        syncWakeup()
        round.proven = provenAlive
        return round.complete ? .returned(Int32(round.n), nil) : .poll(round)
    }

    /// What a ``stepLocked`` poll round left, after the lock: the sources'
    /// unlocked work, the general scan when the round delivered nothing but
    /// internal or stale events, more rounds after a full batch (BSD fills
    /// the whole list), and the liveness probe when nothing proved the
    /// descriptor is still ours.
    func finishPoll(_ round: PollRound, into out: UnsafeMutablePointer<kevent>, capacity: Int,
                    hold: inout KqueueHold) throws(Errno) -> Int {
        if round.unlockedWorkPending { runUnlockedWork() }
        var proven = round.proven
        var reported = false
        var n = round.n
        if n == 0 {
            if round.k > 0 {
                // Internal or stale events only: the general loop goes on, afresh.
                n = try scan(into: out, capacity: capacity, timeout: 0, resetProof: !round.hadChanges,
                             proven: &proven, changesReported: &reported, hold: &hold)
            } else {
                // Nothing ready. After a close() the number may be another epoll
                // instance, whose silence is not ours to report.
                if !stillOurs() { throw .badFileDescriptor }
                return 0
            }
        } else if round.k == Self.batch && n < capacity {
            // More may be ready: more rounds, under this call's stamp.
            n = try scan(into: out, capacity: capacity, timeout: 0, resetProof: false,
                         proven: &proven, changesReported: &reported, hold: &hold,
                         collected: n, stamp: round.stamp)
        }
        if n > 0 && !proven && !stillOurs() { throw .badFileDescriptor }
        return n
    }

    /// ``stepLocked`` and what it leaves, for a caller that holds the kqueue
    /// in its own right (the Swift API): a poll with no changes.
    func pollWithoutChanges(into out: UnsafeMutablePointer<kevent>, capacity: Int,
                            hold: inout KqueueHold) throws(Errno) -> Int? {
        let step = locked { stepLocked(changes: nil, count: 0, events: out, capacity: capacity) }
        switch step {
        case .returned(let r, let e):
            if let e { throw e }
            return Int(r)
        case .poll(let round):
            return try finishPoll(round, into: out, capacity: capacity, hold: &hold)
        case .pollFailed(let error, let n):
            return try finishFailedPoll(error, n)
        case .probe, .notHandled:
            return nil
        }
    }

    /// A ``LockedStep/pollFailed(_:_:)`` round, after the lock (as the general scan ends one).
    func finishFailedPoll(_ error: Errno, _ n: Int) throws(Errno) -> Int {
        if error == .interrupted {
            if n > 0 { return n }
            throw error
        }
        markClosed()
        throw .badFileDescriptor
    }
}
