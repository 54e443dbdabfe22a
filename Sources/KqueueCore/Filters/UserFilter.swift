// SPDX-License-Identifier: BSD-2-Clause
// UserFilter.swift: EVFILT_USER, events triggered by the program itself.

import BSDSystem
import CBSDShimABI

/// EVFILT_USER (FreeBSD filt_user*): no descriptor at all. NOTE_TRIGGER queues
/// the knote in userspace; a waiter in another thread is woken through the
/// kqueue's wake-up eventfd at the end of the triggering kevent() call.
final class UserFilter: QueuedFilter {
    func attach(_ kn: Knote, to kq: EpollKqueue) throws(Errno) -> FilterOutcome {
        kn.hookID = kn.sfflags & UInt32(NOTE_TRIGGER) != 0 ? 1 : 0
        apply(control: kn.sfflags, to: kn)
        kn.sfflags &= UInt32(NOTE_FFLAGSMASK)
        kn.data = kn.sdata
        if kn.hookID != 0 { kq.activate(kn) }
        return .done
    }

    func detach(_ kn: Knote, from kq: EpollKqueue) -> FilterOutcome { .done }

    /// EV_ENABLE|NOTE_TRIGGER re-arms and fires at once.
    var touchesEveryChange: Bool { true }

    func touch(_ kn: Knote, with change: kevent, in kq: EpollKqueue) throws(Errno) -> FilterOutcome {
        if change.fflags & UInt32(NOTE_TRIGGER) != 0 { kn.hookID = 1 }
        apply(control: change.fflags, to: kn)
        kn.data = change.data
        if change.flags & UInt16(EV_CLEAR) != 0 {
            // Compatibility with FreeBSD/macOS: EV_CLEAR in a modification resets the trigger.
            kn.hookID = 0
            kn.data = 0
            kq.deactivate(kn)
        }
        if kn.hookID != 0 { kq.activate(kn) }
        return .done
    }

    /// NOTE_FFNOP / NOTE_FFAND / NOTE_FFOR / NOTE_FFCOPY on the knote's fflags.
    private func apply(control fflags: UInt32, to kn: Knote) {
        let value = fflags & UInt32(NOTE_FFLAGSMASK)
        switch fflags & UInt32(NOTE_FFCTRLMASK) {
        case UInt32(NOTE_FFAND): kn.fflags &= value
        case UInt32(NOTE_FFOR): kn.fflags |= value
        case UInt32(NOTE_FFCOPY): kn.fflags = value
        default: break
        }
    }

    func isActive(_ kn: Knote) -> Bool { kn.hookID != 0 }

    func process(_ kn: Knote, epollEvents: UInt32, in kq: EpollKqueue) -> kevent? {
        guard kn.hookID != 0 else { return nil }
        return kn.event(fflags: kn.fflags, data: kn.data)
    }
}
