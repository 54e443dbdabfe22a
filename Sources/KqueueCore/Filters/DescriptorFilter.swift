// SPDX-License-Identifier: BSD-2-Clause
// DescriptorFilter.swift: what EVFILT_READ and EVFILT_WRITE share: one epoll registration per knote.

import BSDSystem
import CBSDShimABI
import Glibc

/// Base of the filters on a descriptor's readiness. Each knote gets its own
/// epoll registration (EVFILT_READ in the kqueue's main set, EVFILT_WRITE in its
/// nested write set), whose mode carries the BSD flags to the kernel:
///
/// | BSD                        | epoll                                     |
/// |----------------------------|-------------------------------------------|
/// | level (default)            | level-triggered                           |
/// | EV_CLEAR                   | EPOLLET                                   |
/// | EV_ONESHOT / EV_DISPATCH   | EPOLLONESHOT (re-armed by EV_ENABLE)      |
/// | EV_DISABLE                 | interest 0 (re-armed by EV_ENABLE)        |
/// | NOTE_LOWAT (any mode)      | EPOLLET + userspace re-check each scan    |
///
/// EV_ADD costs exactly one epoll_ctl. Descriptors epoll refuses (regular
/// files, directories: EPERM) are always ready, as BSD's vnode filters say,
/// and are served from the userspace queue.
class DescriptorFilter: Filter, @unchecked Sendable {
    /// The epoll set of this filter's registrations.
    var set: EpollSet { .main }
    /// The epoll interest for this filter.
    var interest: UInt32 { 0 }

    /// The epoll interest for one knote (EVFILT_PROC arms only for NOTE_EXIT).
    func interest(for kn: Knote) -> UInt32 { interest }

    /// The descriptor registered in epoll: the ident itself, or one the knote
    /// owns (EVFILT_PROC's pidfd).
    func descriptor(_ kn: Knote) -> Int32 { Int32(truncatingIfNeeded: kn.ident) }

    /// The epoll events (interest + mode) for a knote.
    final func epollEvents(for kn: Knote) -> UInt32 {
        var ev = interest(for: kn)
        if lowWaterMark(kn) != nil {
            // Edge-triggered even with EV_ONESHOT/EV_DISPATCH (delivery drops or
            // disables the knote anyway): a one-shot registration found below
            // the mark would have to be re-armed, and re-arming a level-ready
            // descriptor fires at once, so a wait would spin instead of sleeping.
            ev |= Epoll.edgeTriggered
        } else if kn.has(EV_ONESHOT) || kn.has(EV_DISPATCH) {
            ev |= Epoll.oneShot
        } else if kn.has(EV_CLEAR) {
            ev |= Epoll.edgeTriggered
        }
        return ev
    }

    /// The registration of a disabled knote. Not 0: epoll always reports
    /// EPOLLERR and EPOLLHUP, whatever the interest, so a disabled knote on a
    /// hung-up descriptor would wake every wait (and a timed wait would never
    /// time out). One-shot with no interest reports such a condition at most
    /// once (the disabled knote ignores it), then stays silent until re-armed.
    static let disarmed = Epoll.oneShot

    /// What the knote's registration should be now: its events, or disarmed.
    final func armedEvents(for kn: Knote) -> UInt32 {
        kn.disabled ? Self.disarmed : kn.fd.epollEvents
    }

    /// NOTE_LOWAT's threshold, if set.
    final func lowWaterMark(_ kn: Knote) -> Int? {
        kn.sfflags & UInt32(NOTE_LOWAT) != 0 && kn.sdata > 1 ? kn.sdata : nil
    }


    func attach(_ kn: Knote, to kq: EpollKqueue) throws(Errno) -> FilterOutcome {
        guard kn.ident <= UInt(Int32.max) else { throw .badFileDescriptor }
        let ep = try kq.epollSet(set)
        kq.allocateSlot(kn)
        kn.fd.epollSet = set
        kn.fd.epollEvents = epollEvents(for: kn)
        let fd = descriptor(kn)
        let armed = armedEvents(for: kn)
        do {
            try ep.add(fd, events: armed, data: EpollKqueue.tag(kn.slot, kn.generation))
            return set == .main ? .provedAlive : .done
        } catch where error == .notPermitted {
            becomeAlwaysReady(kn, in: kq)
        } catch where error == .exists {
            // A registration left behind by a descriptor closed under a previous knote.
            do {
                try ep.modify(fd, events: armed, data: EpollKqueue.tag(kn.slot, kn.generation))
            } catch {
                kq.releaseSlot(kn)
                throw error
            }
        } catch {
            kq.releaseSlot(kn)
            throw error == .invalidArgument ? .badFileDescriptor : error
        }
        return .done
    }

    func detach(_ kn: Knote, from kq: EpollKqueue) -> FilterOutcome {
        if kn.watch.descriptor >= 0 { kq.source(VnodeSource.self).unwatch(kn) }
        guard let s = kn.fd.epollSet else { return .checking(descriptor(kn)) }
        // After the kqueue's descriptor was closed its number may be somebody
        // else's epoll: never touch it then (the write set is ours and goes too).
        if kq.isClosed { return .done }
        guard let ep = try? kq.epollSet(s) else { return .done }
        do {
            try ep.remove(descriptor(kn))
            return s == .main ? .provedAlive : .done
        } catch {
            // Not in the set (ENOENT), a file epoll refuses (EPERM) or no file
            // at all (EBADF): the descriptor was closed behind our back.
            if error == .badFileDescriptor { return .descriptorClosed }
            if error == .noSuchFile || error == .notPermitted { return .descriptorReplaced }
            return .done
        }
    }

    var identIsDescriptor: Bool { true }

    func touch(_ kn: Knote, with change: kevent, in kq: EpollKqueue) throws(Errno) -> FilterOutcome {
        kn.sfflags = change.fflags
        kn.sdata = change.data
        guard change.flags & UInt16(EV_ADD) != 0 else { return .done }
        if kn.fd.kind == .alwaysReady {
            // Still a file epoll refuses? If epoll takes it, the number was
            // closed and reused by a pollable descriptor: register afresh.
            if let ep = try? kq.epollSet(set), (try? ep.add(descriptor(kn), events: 0, data: 0)) != nil {
                try? ep.remove(descriptor(kn))
                return .descriptorReplaced
            }
            kn.lastData = -1
            kq.activate(kn)
            return .done
        }
        // Re-adding re-arms the registration (and lets epoll re-evaluate it, as
        // BSD runs the filter on EV_ADD). ENOENT (not in the set any more) or
        // EPERM (now a file epoll refuses) means the descriptor was closed and
        // its number reused since: the knote belongs to a file that is gone.
        kn.fd.epollEvents = epollEvents(for: kn)
        guard let ep = try? kq.epollSet(kn.fd.epollSet ?? set) else { return .done }
        let fd = descriptor(kn)
        let armed = armedEvents(for: kn)
        do {
            try ep.modify(fd, events: armed, data: EpollKqueue.tag(kn.slot, kn.generation))
            return .done
        } catch where error == .noSuchFile || error == .notPermitted {
            // Nothing of the old file (EV_EOF, data) may survive in the knote.
            return .descriptorReplaced
        }
    }

    /// epoll refused the descriptor (EPERM): a regular file or directory, which
    /// BSD says is always ready. Served from the userspace queue instead.
    private func becomeAlwaysReady(_ kn: Knote, in kq: EpollKqueue) {
        kq.releaseSlot(kn)
        kn.fd.epollSet = nil
        kn.fd.kind = .alwaysReady
        watchAlwaysReady(kn, in: kq)
        kq.activate(kn)
    }

    /// Hook for files epoll refuses: the read filter watches them for growth.
    func watchAlwaysReady(_ kn: Knote, in kq: EpollKqueue) {}

    func enable(_ kn: Knote, in kq: EpollKqueue) {
        if kn.fd.kind == .alwaysReady {
            kq.activate(kn)
            return
        }
        rearm(kn, events: kn.fd.epollEvents, in: kq)
    }

    func disable(_ kn: Knote, in kq: EpollKqueue) {
        kq.deactivate(kn)
        if kn.fd.kind == .alwaysReady { return }
        rearm(kn, events: Self.disarmed, in: kq)
    }

    private func rearm(_ kn: Knote, events: UInt32, in kq: EpollKqueue) {
        guard let s = kn.fd.epollSet, let ep = try? kq.epollSet(s) else { return }
        try? ep.modify(descriptor(kn), events: events, data: EpollKqueue.tag(kn.slot, kn.generation))
    }

    func clear(_ kn: Knote) {
        kn.data = 0
        kn.fflags = 0
    }

    /// Subclasses compute the event.
    func process(_ kn: Knote, epollEvents: UInt32, in kq: EpollKqueue) -> kevent? { nil }

    // MARK: - Shared helpers

    /// End-of-file seen on this knote's descriptor: set by an epoll event
    /// with a hang-up, cleared by one without (a FIFO's writer came back, an
    /// unconnected socket began to listen), kept through the userspace
    /// re-check of a NOTE_LOWAT knote (no epoll event to tell).
    static let eofSeen = 1

    /// What an epoll hang-up or error means for a knote, which BSD tells
    /// apart and epoll does not.
    enum Hangup {
        /// The peer or the other end went away, or this end was shut down: EV_EOF.
        case endOfFile
        /// A socket's pending error while the connection stands (a UDP
        /// socket's ICMP error): ready, without EV_EOF (BSD's "temporary udp
        /// error" in filt_soread/filt_sowrite).
        case temporaryError
        /// The knote watches the direction its pipe or FIFO end cannot go,
        /// whose registration still reports the other end's close: BSD
        /// accepts such a knote and never fires it.
        case otherDirection
    }

    /// The meaning of an epoll event with EPOLLHUP, EPOLLRDHUP or EPOLLERR for
    /// knote `kn` on `fd`, the descriptor asked only in the cases epoll's
    /// bits leave open: an error alone (a socket's pending error, or the
    /// readers of a pipe gone), a hang-up on a write knote (a pipe's read end
    /// reports its writers' close). A knote found watching the other
    /// direction leaves the epoll set, so it does not wake every wait (an
    /// EV_ADD of it registers it afresh, to be found out again).
    @inline(never)
    final func hangupMeaning(_ kn: Knote, _ fd: Int32, _ ev: UInt32, in kq: EpollKqueue) -> Hangup {
        let reading = set == .main
        var meaning = Hangup.endOfFile
        if kn.fd.kind == .otherDirection {
            meaning = .otherDirection
        } else if reading && ev & (Epoll.hangup | Epoll.readHangup) == 0 || !reading && ev & Epoll.hangup == 0 {
            // An error alone: a socket's is temporary; a FIFO's write end
            // reports it when the readers went away (EOF for a write knote).
            if let st = try? FileDescriptorOps.status(fd) {
                if st.isSocket {
                    meaning = .temporaryError
                } else if reading && st.isFIFO && (try? FileDescriptorOps.accessMode(fd)) == O_WRONLY {
                    meaning = .otherDirection
                }
            }
        } else if !reading && kn.fd.kind != .socket {
            // Epoll reports a hang-up only for a read end (its writers gone).
            if let st = try? FileDescriptorOps.status(fd), st.isFIFO,
               (try? FileDescriptorOps.accessMode(fd)) == O_RDONLY {
                meaning = .otherDirection
            }
        }
        if meaning == .otherDirection {
            // Out of epoll altogether: a hang-up or error stands, and every
            // re-arm of a one-shot registration would report it again.
            if let s = kn.fd.epollSet, !kq.isClosed, let ep = try? kq.epollSet(s) { try? ep.remove(fd) }
            kn.fd.epollSet = nil
            kn.fd.kind = .otherDirection
        }
        return meaning
    }

    /// The pending error of socket `fd` for EV_EOF's fflags, without taking
    /// it from the program. Linux reads it only by clearing it (SO_ERROR, recv
    /// and MSG_PEEK alike; sock_diag does not carry it), so this needs the
    /// preload library, which reads it when `mayRead` (epoll said EPOLLERR)
    /// and gives it back to the program's getsockopt(SO_ERROR)/recv()/send().
    /// Linked: 0, the error stays with the socket.
    final func pendingSocketError(_ fd: Int32, mayRead: Bool) -> UInt32 {
        UInt32(truncatingIfNeeded: FileDescriptorOps.peekSocketError(fd, mayRead: mayRead))
    }

    /// For descriptors epoll refuses: bytes from the offset to the end of file.
    final func bytesToEndOfFile(_ fd: Int32) -> Int {
        guard let st = try? FileDescriptorOps.status(fd), st.isRegular,
              let off = try? FileDescriptorOps.offset(fd) else { return 0 }
        return max(0, st.size - off)
    }
}
