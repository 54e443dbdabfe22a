// SPDX-License-Identifier: BSD-2-Clause
// SignalFilter.swift: EVFILT_SIGNAL, deliveries counted by the process-wide SignalHub.

import BSDSystem
import CBSDShimABI
import Glibc

/// EVFILT_SIGNAL (FreeBSD filt_signal): `data` = deliveries of the signal since
/// the last retrieval; EV_CLEAR is implied. The counting itself is shared by
/// the whole process (``SignalHub``); each knote remembers the count it has
/// reported up to (`lastData`), so several kqueues watching one signal all see
/// every delivery. A knote counts while disabled and reports on EV_ENABLE.
final class SignalFilter: QueuedFilter {
    func attach(_ kn: Knote, to kq: EpollKqueue) throws(Errno) -> FilterOutcome {
        guard kn.ident > 0, kn.ident < UInt(SignalHub.signalCount) else { throw .invalidArgument }
        let sig = Int32(kn.ident)
        kn.flags |= UInt16(EV_CLEAR)
        // SIGKILL and SIGSTOP cannot be caught or blocked, so never counted:
        // FreeBSD accepts their knotes all the same.
        if Self.isUncatchable(sig) { return .done }
        try SignalHub.attach(sig)
        do throws(Errno) {
            try kq.source(SignalSource.self).add(kn, in: kq)
        } catch {
            SignalHub.detach(sig)
            throw error
        }
        kn.lastData = Int(truncatingIfNeeded: SignalHub.count(sig))
        return .done
    }

    static func isUncatchable(_ sig: Int32) -> Bool { sig == SIGKILL || sig == SIGSTOP }

    func detach(_ kn: Knote, from kq: EpollKqueue) -> FilterOutcome {
        if Self.isUncatchable(Int32(kn.ident)) { return .done }
        kq.source(SignalSource.self).remove(kn)
        SignalHub.detach(Int32(kn.ident))
        return .done
    }

    func touch(_ kn: Knote, with change: kevent, in kq: EpollKqueue) throws(Errno) -> FilterOutcome {
        // A modify keeps the count: deliveries since the last retrieval still stand.
        kn.sfflags = change.fflags
        kn.sdata = change.data
        return .done
    }

    /// Takes in the deliveries counted since this knote last looked.
    func refresh(_ kn: Knote, in kq: EpollKqueue) {
        let now = Int(truncatingIfNeeded: SignalHub.count(Int32(kn.ident)))
        if now != kn.lastData {
            kn.data &+= now &- kn.lastData
            kn.lastData = now
            kq.activate(kn)
        }
    }

    func isActive(_ kn: Knote) -> Bool { kn.data > 0 }

    func process(_ kn: Knote, epollEvents: UInt32, in kq: EpollKqueue) -> kevent? {
        guard kn.data > 0 else { return nil }
        return kn.event(fflags: 0, data: kn.data)
    }

    func clear(_ kn: Knote) {
        kn.data = 0  // lastData is the shared count seen, kept
    }
}
