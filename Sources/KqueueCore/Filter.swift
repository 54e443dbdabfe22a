// SPDX-License-Identifier: BSD-2-Clause
// Filter.swift: the contract between the kqueue engine and one filter (BSD's filterops).

import BSDSystem
import CBSDShimABI

/// What a filter implements. Every method is called with the kqueue's lock held.
///
/// Common code (``EpollKqueue``) allocates and indexes knotes and runs the
/// EV_ONESHOT / EV_CLEAR / EV_DISPATCH / EV_DISABLE state machine; a filter
/// attaches its resources, evaluates readiness and fills in fflags/data.
protocol Filter: AnyObject, Sendable {
    /// Validates a new registration and attaches its resources (BSD f_attach).
    /// May activate the knote (``EpollKqueue/activate(_:)``) if it is ready at once.
    @discardableResult
    func attach(_ kn: Knote, to kq: EpollKqueue) throws(Errno) -> FilterOutcome

    /// Releases the registration's resources (BSD f_detach). Never fails, but
    /// may find the knote's descriptor closed behind our back.
    @discardableResult
    func detach(_ kn: Knote, from kq: EpollKqueue) -> FilterOutcome

    /// A change to an existing knote (FreeBSD f_touch, EVENT_REGISTER).
    /// `udata` is already updated. Modify is atomic: on error the old state
    /// stays. ``FilterOutcome/descriptorReplaced``: the knote's descriptor
    /// number names another file now, and the kqueue registers the change
    /// afresh after dropping the knote (BSD's close would have).
    @discardableResult
    func touch(_ kn: Knote, with change: kevent, in kq: EpollKqueue) throws(Errno) -> FilterOutcome

    /// The ident is a descriptor of the program's: its knotes go when it is
    /// closed, and EV_DELETE of none on a closed one is EBADF (BSD's fd filters).
    var identIsDescriptor: Bool { get }

    /// Every change reaches ``touch(_:with:in:)``, EV_ENABLE / EV_DISABLE
    /// alone too (EVFILT_USER: EV_ENABLE|NOTE_TRIGGER re-arms and fires at once).
    var touchesEveryChange: Bool { get }

    /// Produces the event for `kn` (BSD f_event + copyout), or nil if it is not
    /// ready after all. `epollEvents` is what epoll reported, or 0 when the knote
    /// comes from the userspace queue.
    func process(_ kn: Knote, epollEvents: UInt32, in kq: EpollKqueue) -> kevent?

    /// The knote was re-enabled (EV_ENABLE): re-arm it / queue it if still active.
    func enable(_ kn: Knote, in kq: EpollKqueue)

    /// The knote was disabled (EV_DISABLE): stop it from waking waiters.
    func disable(_ kn: Knote, in kq: EpollKqueue)

    /// Resets the state after an EV_CLEAR delivery.
    func clear(_ kn: Knote)

    /// The file behind the knote's inotify watch changed (`mask`: IN_*).
    func watchFired(_ kn: Knote, mask: UInt32, in kq: EpollKqueue)
}

/// What a filter's attach, detach or touch learnt that the engine must act on.
enum FilterOutcome {
    /// Nothing beyond the call's own effect.
    case done
    /// An epoll_ctl on the kqueue's own epoll instance succeeded: the
    /// descriptor still is this kqueue (``EpollKqueue/provenAlive``).
    case provedAlive
    /// detach: the knote's descriptor was closed behind our back (EBADF).
    case descriptorClosed
    /// detach, touch: the knote's descriptor number names another file now
    /// (EV_DELETE reports ENOENT; a touch registers the change afresh).
    case descriptorReplaced
}

extension FilterOutcome {
    /// What a detach that asked the kernel nothing about descriptor `fd`
    /// (a regular file's knote, an inotify watch) tells EV_DELETE: closed
    /// behind our back (linked, close() goes unseen; BSD answers EBADF,
    /// having checked the descriptor first) or not. One fcntl, on EV_DELETE
    /// of such knotes only.
    static func checking(_ fd: Int32) -> FilterOutcome {
        FileDescriptorOps.isClosed(fd) ? .descriptorClosed : .done
    }
}

extension Filter {
    var identIsDescriptor: Bool { false }
    var touchesEveryChange: Bool { false }

    /// By default a watch re-queues the knote for the filter to look again.
    func watchFired(_ kn: Knote, mask: UInt32, in kq: EpollKqueue) {
        kq.activate(kn)
    }

    func clear(_ kn: Knote) {
        kn.data = 0
        kn.fflags = 0
        kn.hookID = 0
    }
}

/// Filters whose readiness is decided in userspace (user events, timers): they
/// live in the kqueue's active queue while triggered.
protocol QueuedFilter: Filter {
    /// True while the knote has something to report (BSD KN_ACTIVE).
    func isActive(_ kn: Knote) -> Bool
}

extension QueuedFilter {
    func enable(_ kn: Knote, in kq: EpollKqueue) {
        if isActive(kn) { kq.activate(kn) }
    }
    func disable(_ kn: Knote, in kq: EpollKqueue) {
        kq.deactivate(kn)
    }
}
