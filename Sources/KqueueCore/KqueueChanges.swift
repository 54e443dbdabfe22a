// SPDX-License-Identifier: BSD-2-Clause
// KqueueChanges.swift: a kqueue's changelist: registration, modification and deletion of knotes (BSD kqueue_register).

import BSDSystem
import CBSDShimABI
import Glibc

extension EpollKqueue {
    /// Applies the changelist in order. Failed changes (and EV_RECEIPT ones) are
    /// written to `events` while room remains; with no room the call fails with
    /// the change's errno. Returns the number of entries written.
    /// `finishing`: no scan follows in this call (nothing to collect, or a
    /// change reported), so the wake-up flag is synced here, under the same
    /// lock. `proven` tells whether a change went through our epoll instance.
    func apply(
        changes: UnsafePointer<kevent>, count: Int,
        events: UnsafeMutablePointer<kevent>?, capacity: Int,
        finishing: Bool, proven: inout Bool
    ) throws(Errno) -> Int {
        try locked { () throws(Errno) -> Int in
            defer { proven = provenAlive }
            return try applyLocked(changes: changes, count: count, events: events, capacity: capacity,
                               finishing: finishing)
        }
    }

    /// ``apply(changes:count:events:capacity:finishing:proven:)`` with the lock
    /// already held; leaves in ``provenAlive`` whether a change went through
    /// our epoll instance.
    func applyLocked(
        changes: UnsafePointer<kevent>, count: Int,
        events: UnsafeMutablePointer<kevent>?, capacity: Int, finishing: Bool
    ) throws(Errno) -> Int {
        provenAlive = false
        var written = 0
        for i in 0..<count {
            // Copy first: eventlist may alias changelist (entries before i only are overwritten).
            var change = changes[i]
            change.flags &= ~UInt16(EV_SYSFLAGS)
            var error: Int32
            var reply = change.flags & UInt16(EV_RECEIPT) != 0
            if Int32(change.filter) == EVFILT_LIBKQUEUE {
                (error, reply) = LibkqueueControl.apply(&change)
            } else {
                error = register(change)
            }
            if error != 0 || reply {
                if written < capacity, let out = events {
                    if error != 0 || Int32(change.filter) != EVFILT_LIBKQUEUE {
                        change.flags |= UInt16(EV_ERROR)
                        change.data = Int(error)
                    }
                    out[written] = change
                    written += 1
                } else if error != 0 {
                    syncWakeup()
                    throw Errno(rawValue: error)
                }
            }
        }
        if finishing || written > 0 { syncWakeup() }
        return written
    }

    /// One change; returns 0 or an errno value. EVFILT_READ / EVFILT_WRITE
    /// reach their filter through the kqueue's unretained references: the
    /// table's existential costs a retain/release pair per change.
    func register(_ change: kevent) -> Int32 {
        switch Int32(change.filter) {
        case EVFILT_READ: return readFilter._withUnsafeGuaranteedRef { register(change, $0) }
        case EVFILT_WRITE: return writeFilter._withUnsafeGuaranteedRef { register(change, $0) }
        default:
            guard let ops = FilterTable.ops(for: change.filter) else {
                return FilterTable.isKnown(change.filter) ? ENOSYS : EINVAL
            }
            return register(change, ops)
        }
    }

    /// ``register(_:)`` with the change's filter found. Generic, so that for
    /// EVFILT_READ / EVFILT_WRITE (final classes) every filter call is direct
    /// and inlinable rather than through the existential's witness table.
    @inline(__always)
    private func register<F: Filter>(_ change: kevent, _ ops: F) -> Int32 {
        let flags = Int32(change.flags)
        guard let ref = knotes.unretained(change.ident, change.filter) else {
            // EV_ADD|EV_DELETE of a new knote adds it (FreeBSD, libkqueue);
            // of an existing one, deletes it (modify below).
            guard flags & EV_ADD != 0 else { return Self.namesClosedDescriptor(change) ? EBADF : ENOENT }
            if flags & (EV_ONESHOT | EV_DISPATCH) == (EV_ONESHOT | EV_DISPATCH) { return EINVAL }
            let kn = makeKnote(change, ops)
            if flags & EV_DISABLE != 0 && flags & EV_ENABLE == 0 { kn.disabled = true }
            do throws(Errno) {
                if try ops.attach(kn, to: self) == .provedAlive { provenAlive = true }
            } catch {
                releaseSlot(kn)
                queue.remove(kn)
                recycle(kn)
                return error.rawValue
            }
            knotes[change.ident, change.filter] = kn
            return 0
        }
        // At +0: drop() keeps the knote alive through its spare list while it
        // may still be used, and nothing below touches it after a drop.
        return ref._withUnsafeGuaranteedRef { kn in modify(kn, change, ops, flags) }
    }

    /// A change to the existing knote `kn` (EV_DELETE, EV_ADD, EV_ENABLE...).
    @inline(__always)
    fileprivate func modify<F: Filter>(_ kn: Knote, _ change: kevent, _ ops: F, _ flags: Int32) -> Int32 {
        if flags & EV_DELETE != 0 {
            // Linked without the preload library, close() goes unseen: a knote
            // whose descriptor was closed is gone on BSD, so deleting it is
            // EBADF, or ENOENT if the number now names another file.
            switch drop(kn) {
            case .descriptorClosed: return EBADF
            case .descriptorReplaced: return ENOENT
            default: return 0
            }
        }
        // EV_ADD, or a change with no action (NOTE_TRIGGER), modifies the knote;
        // EV_ENABLE / EV_DISABLE alone keep its udata and fflags (libkqueue,
        // and vnode subscriptions must survive an EV_ENABLE). EVFILT_USER always
        // sees its fflags, so EV_ENABLE|NOTE_TRIGGER re-arms and fires at once.
        // EV_KEEPUDATA (FreeBSD) keeps the udata of a modified knote too.
        let modifies = flags & EV_ADD != 0 || flags & (EV_ENABLE | EV_DISABLE) == 0
        if modifies && flags & EV_KEEPUDATA == 0 { kn.udata = change.udata }
        if modifies || ops.touchesEveryChange {
            // touch may find that the descriptor was closed behind our back
            // (linked without the preload library, close() is not seen).
            do throws(Errno) {
                if try ops.touch(kn, with: change, in: self) == .descriptorReplaced {
                    drop(kn)
                    return register(change)
                }
            } catch {
                if error == .badFileDescriptor { drop(kn) }
                return error.rawValue
            }
        }
        if flags & EV_DISABLE != 0 && !kn.disabled {
            kn.disabled = true
            ops.disable(kn, in: self)
        }
        if flags & EV_ENABLE != 0 && kn.disabled {
            kn.disabled = false
            ops.enable(kn, in: self)
        }
        return 0
    }

    /// True if `change` is for a descriptor filter and names no open
    /// descriptor: BSD checks the descriptor before looking for the knote, so
    /// EV_DELETE / EV_ENABLE / EV_DISABLE on it fail with EBADF, not ENOENT.
    /// Only asked when no knote was found (the error path).
    static func namesClosedDescriptor(_ change: kevent) -> Bool {
        guard FilterTable.descriptorFilters.contains(change.filter) else { return false }
        guard change.ident <= UInt(Int32.max) else { return true }
        return FileDescriptorOps.isClosed(Int32(change.ident))
    }

    /// Drops every knote whose ident is the descriptor `fd` (BSD's knote_fdclose).
    func forgetDescriptor(_ fd: Int32) {
        locked {
            for filter in FilterTable.descriptorFilters {
                if let kn = knotes[UInt(fd), filter] { drop(kn) }
            }
            syncWakeup()
        }
    }

    /// Deletes a knote (EV_DELETE, EV_ONESHOT delivery); returns what its
    /// filter's detach found out about its descriptor.
    @discardableResult
    func drop(_ kn: Knote) -> FilterOutcome {
        let outcome = detach(kn)
        if outcome == .provedAlive { provenAlive = true }
        queue.remove(kn)
        releaseSlot(kn)
        // The table's reference moves to the spare list: callers may hold `kn`
        // at +0 (routing slots are unmanaged), so it must never be the last one
        // to go, and moving it costs no retain/release pair.
        if let owned = knotes.take(kn.ident, kn.filter), owned === kn { recycle(owned) } else { recycle(kn) }
        return outcome
    }

    /// The filter's detach for `kn`; EVFILT_READ / EVFILT_WRITE through the
    /// kqueue's unretained references (through `kn.ops` the call retains and
    /// releases the filter, two atomic operations per EV_DELETE).
    @inline(__always)
    private func detach(_ kn: Knote) -> FilterOutcome {
        switch Int32(kn.filter) {
        case EVFILT_READ: return readFilter._withUnsafeGuaranteedRef { $0.detach(kn, from: self) }
        case EVFILT_WRITE: return writeFilter._withUnsafeGuaranteedRef { $0.detach(kn, from: self) }
        default: return kn.ops.detach(kn, from: self)
        }
    }

    /// A knote for `change`: a recycled one if any.
    func makeKnote(_ change: kevent, _ ops: any Filter) -> Knote {
        if let top = spareKnotes {
            let kn = top.takeRetainedValue()
            spareKnotes = kn.nextSpare
            kn.configure(change: change, ops: ops)
            return kn
        }
        return Knote(change: change, ops: ops)
    }

    /// Keeps a deleted knote for reuse. Nothing may refer to it any more: the
    /// table, routing slot, queue, timer heap and watches have let go.
    func recycle(_ kn: consuming Knote) {
        kn.nextSpare = spareKnotes
        spareKnotes = Unmanaged.passRetained(kn)
    }
}
