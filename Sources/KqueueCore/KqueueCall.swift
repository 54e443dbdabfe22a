// SPDX-License-Identifier: BSD-2-Clause
// KqueueCall.swift: the C ABI's kevent() in one function: arguments checked, kqueue found, errno set.

import BSDSystem
import CBSDShim
import CBSDShimABI
import Glibc

extension KqueueRegistry {
    /// `kevent()` as the C entry point makes it: returns the count, or -1
    /// with errno set. It lives here, in one function with the registry
    /// look-up inlined, because the entry point's closure through
    /// ``withKqueue(_:_:)`` (another module) cost a context, two thunks and
    /// an indirect call on every call, about a fifth of a poll's own work.
    public static func keventCall(
        _ kq: Int32,
        _ changelist: UnsafePointer<kevent>?, _ nchanges: Int32,
        _ eventlist: UnsafeMutablePointer<kevent>?, _ nevents: Int32,
        _ timeout: UnsafePointer<timespec>?
    ) -> Int32 {
        guard nchanges >= 0, nevents >= 0 else { return failCall(kq, .invalidArgument) }
        if nchanges > 0 && changelist == nil { return failCall(kq, .badAddress) }
        if nevents > 0 && eventlist == nil { return failCall(kq, .badAddress) }
        var ns: UInt64? = 0
        if let t = timeout {
            let s = t.pointee.tv_sec, f = t.pointee.tv_nsec
            if s != 0 || f != 0 {
                guard s >= 0, f >= 0, f < 1_000_000_000 else {
                    return invalidTimeoutCall(kq, changelist, nchanges, eventlist, nevents)
                }
                // Beyond ~292 years a timeout is as good as infinite.
                let (v, o) = UInt64(s).multipliedReportingOverflow(by: 1_000_000_000)
                ns = o || v > UInt64(Int64.max) / 2 ? nil : v + UInt64(f)
            }
        } else {
            ns = nil
        }
        guard let e = entry(kq) else { return fail(.badFileDescriptor) }
        if cbsdshim_kqueue_lock_held(lock(e).word) != 0, let r = callInterruptingLockHolder(e, changelist, Int(nchanges)) {
            return r
        }
        if ns == 0 || nevents == 0 {
            // Never blocks: found, and served, under the kqueue's lock.
            return lockedCall(e, changelist, Int(nchanges), eventlist, Int(nevents))
        }
        // A wait: the kqueue at +0, found without a lock (see the type's comment).
        return withKqueue(at: e) { queue, hold in
            returningErrno { () throws(Errno) in
                // EpollKqueue.kevent() routes this case the same way; calling
                // the wait directly skips that function's entry and checks
                // (~40 instructions of a ~700-instruction wait).
                if nchanges == 0 {
                    return try queue.waitWithoutChanges(into: eventlist!, capacity: Int(nevents), timeout: ns, hold: &hold)
                }
                return try queue.kevent(changes: changelist, count: Int(nchanges), events: eventlist, capacity: Int(nevents),
                                        timeout: ns, hold: &hold)
            }
        } ?? fail(.badFileDescriptor)
    }

    /// A kevent() that never blocks, on the kqueue registered at `e`: its
    /// step under the kqueue's lock, which is also what keeps the kqueue
    /// alive (see the type's comment); what is left after the lock, counted
    /// in the entry like any other caller.
    @inline(__always)
    static func lockedCall(
        _ e: UnsafeMutablePointer<Entry>,
        _ changelist: UnsafePointer<kevent>?, _ nchanges: Int,
        _ eventlist: UnsafeMutablePointer<kevent>?, _ nevents: Int
    ) -> Int32 {
        let l = lock(e)
        let depth = cbsdshim_kqueue_lock(l.word)
        guard let ref = registered(e) else {
            cbsdshim_kqueue_unlock(l.word, depth)
            return fail(.badFileDescriptor)
        }
        afterLocking(l.word)
        let step = ref._withUnsafeGuaranteedRef {
            $0.stepLocked(changes: changelist, count: nchanges, events: eventlist, capacity: nevents)
        }
        if case .returned(let r, let error) = step {
            cbsdshim_kqueue_unlock(l.word, depth)
            afterUnlocking(l.word)
            if let error { Errno.current = error }
            return r
        }
        // Counted in before the lock goes: a remover that takes the lock
        // next sees the count and keeps the kqueue (reclaimLocked()).
        e.pointee.users.wrappingAdd(1, ordering: .sequentiallyConsistent)
        cbsdshim_kqueue_unlock(l.word, depth)
        // What afterUnlocking does but reclaiming, which waits for the hold's end.
        applyDeferredChanges(e)
        var hold = KqueueHold(entry: e)
        let r = ref._withUnsafeGuaranteedRef { (queue) -> Int32 in
            returningErrno { () throws(Errno) -> Int in
                switch step {
                case .returned(let r, _):
                    return Int(r)
                case .probe(let r, let error):
                    guard queue.stillOurs() else { throw .badFileDescriptor }
                    if let error { throw error }
                    return Int(r)
                case .poll(let round):
                    return try queue.finishPoll(round, into: eventlist!, capacity: nevents, hold: &hold)
                case .pollFailed(let error, let n):
                    return try queue.finishFailedPoll(error, n)
                case .notHandled:
                    return try queue.kevent(changes: changelist, count: nchanges, events: eventlist, capacity: nevents,
                                            timeout: 0, hold: &hold)
                }
            }
        }
        hold.end(ref)
        return r
    }

    /// kevent() in a signal handler whose thread holds, or waits for, the
    /// kqueue's lock (KqueueDeferredChanges.swift): the changes are left for
    /// the lock's holder and the call returns 0 (or -1 with ENOMEM when the
    /// kqueue has no room for them), collecting nothing. Nil when the lock
    /// is free: the interrupted code had let go of it, the normal path
    /// serves the call. Async-signal-safe: atomics only, and no reclaiming
    /// (that takes the registry lock, which the interrupted code may hold).
    @inline(never)
    static func callInterruptingLockHolder(
        _ e: UnsafeMutablePointer<Entry>, _ changelist: UnsafePointer<kevent>?, _ nchanges: Int
    ) -> Int32? {
        if lock(e).isFree { return nil }
        guard let ref = enter(e) else {
            e.pointee.users.wrappingSubtract(1, ordering: .sequentiallyConsistent)
            return fail(.badFileDescriptor)
        }
        let error = ref._withUnsafeGuaranteedRef { kq -> Int32 in
            guard nchanges > 0, let changelist else { return 0 }
            return kq.deferChanges(changelist, count: nchanges)
        }
        if error == 0 && nchanges > 0 { e.pointee.deferred.store(1, ordering: .releasing) }
        e.pointee.users.wrappingSubtract(1, ordering: .sequentiallyConsistent)
        return error == 0 ? 0 : fail(Errno(rawValue: error))
    }

    /// Applies what signal handlers left in the kqueue registered at `e`,
    /// for a caller that does not hold the lock; one load when nothing was left.
    @inline(__always)
    static func applyDeferredChanges(_ e: UnsafeMutablePointer<Entry>) {
        if e.pointee.deferred.load(ordering: .relaxed) != 0 { applyFlaggedDeferredChanges(e) }
    }

    @inline(never)
    private static func applyFlaggedDeferredChanges(_ e: UnsafeMutablePointer<Entry>) {
        // A loop, not a recursion through locked(): a storm of handlers
        // never deepens the stack. The flag is taken under the lock
        // (applyDeferredChangesLocked), so a handler's own call that takes
        // the lock first still finds it and applies the older changes first.
        while e.pointee.deferred.load(ordering: .relaxed) != 0 {
            let l = lock(e)
            let depth = cbsdshim_kqueue_lock(l.word)
            applyDeferredChangesLocked(e)
            cbsdshim_kqueue_unlock(l.word, depth)
        }
    }

    /// Applies, with the entry's lock held, what signal handlers left in the
    /// kqueue registered there. Acquiring: the slots a handler filled before
    /// setting the flag are seen.
    @inline(never)
    static func applyDeferredChangesLocked(_ e: UnsafeMutablePointer<Entry>) {
        guard e.pointee.deferred.exchange(0, ordering: .acquiring) != 0, let kq = registered(e) else { return }
        kq._withUnsafeGuaranteedRef { $0.applyDeferredChanges() }
    }

    /// A call whose timeout is invalid (negative, or nanoseconds out of
    /// range). FreeBSD and libkqueue look at the timeout only when they come
    /// to wait: the changes are applied first, and reported in the event
    /// list as ever; with room in it and nothing reported the call fails
    /// with EINVAL; with no room (nothing to wait for) it succeeds.
    @inline(never)
    static func invalidTimeoutCall(
        _ kq: Int32,
        _ changelist: UnsafePointer<kevent>?, _ nchanges: Int32,
        _ eventlist: UnsafeMutablePointer<kevent>?, _ nevents: Int32
    ) -> Int32 {
        guard let e = entry(kq) else { return fail(.badFileDescriptor) }
        if nevents == 0 { return lockedCall(e, changelist, Int(nchanges), nil, 0) }
        return withKqueue(at: e) { queue, _ in
            returningErrno { () throws(Errno) -> Int in
                var proven = false
                var reported = 0
                if nchanges > 0, let changelist {
                    reported = try queue.apply(changes: changelist, count: Int(nchanges), events: eventlist,
                                               capacity: Int(nevents), finishing: true, proven: &proven)
                }
                if !proven && !queue.stillOurs() { throw .badFileDescriptor }
                if reported > 0 { return reported }
                throw .invalidArgument
            }
        } ?? fail(.badFileDescriptor)
    }

    /// A bad argument: BSD checks the descriptor first, so a call naming no
    /// kqueue fails with EBADF whatever else is wrong with it.
    @inline(never)
    static func failCall(_ kq: Int32, _ e: Errno) -> Int32 {
        fail(lookup(kq) == nil ? .badFileDescriptor : e)
    }

    /// The C convention for a call's result: the count, or -1 with errno set.
    @inline(__always)
    static func returningErrno(_ body: () throws(Errno) -> Int) -> Int32 {
        do throws(Errno) {
            return Int32(truncatingIfNeeded: try body())
        } catch {
            return fail(error)
        }
    }

    @inline(__always)
    static func fail(_ e: Errno) -> Int32 {
        Errno.current = e
        return -1
    }
}
