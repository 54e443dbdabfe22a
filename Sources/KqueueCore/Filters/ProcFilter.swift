// SPDX-License-Identifier: BSD-2-Clause
// ProcFilter.swift: EVFILT_PROC on a pidfd per watched process.

import BSDSystem
import CBSDShimABI
import Glibc

/// EVFILT_PROC (FreeBSD filt_proc). Each knote opens a pidfd for its process
/// and registers it in the kqueue's epoll set; a pidfd polls readable once the
/// process has exited. On NOTE_EXIT the event carries EV_EOF, `data` = the
/// wait(2) status for a child of the caller — read with WNOWAIT, so the child
/// is not reaped behind the program's back — and 0 for any other process (Linux
/// tells only the parent). The knote is deleted after that delivery (EV_ONESHOT
/// is set then, as BSD does). EV_CLEAR is implied.
///
/// NOTE_FORK, NOTE_EXEC and NOTE_TRACK come from the kernel's process-events
/// connector (``ProcSource``: a netlink socket per kqueue, while such knotes exist), which
/// needs CAP_NET_ADMIN; without it they are refused with EOPNOTSUPP, never
/// accepted and left silent. NOTE_TRACK registers a knote for each new child
/// (same fflags and udata), whose first event is NOTE_CHILD with data = the
/// parent's pid; if the child cannot be followed, the parent gets NOTE_TRACKERR.
final class ProcFilter: DescriptorFilter, @unchecked Sendable {
    /// Notes that need the process-events connector.
    static let connectorNotes = UInt32(NOTE_FORK) | UInt32(NOTE_EXEC) | UInt32(NOTE_TRACK)

    override var set: EpollSet { .main }
    override func interest(for kn: Knote) -> UInt32 {
        kn.sfflags & UInt32(NOTE_EXIT) != 0 ? Epoll.readable : 0
    }
    override func descriptor(_ kn: Knote) -> Int32 { kn.fd.owned }

    override func attach(_ kn: Knote, to kq: EpollKqueue) throws(Errno) -> FilterOutcome {
        guard kn.ident > 0, kn.ident <= UInt(Int32.max) else { throw .noSuchProcess }
        let pidfd: Int32
        do { pidfd = try ProcessDescriptor.open(pid_t(kn.ident)) } catch {
            throw error.rawValue == ENOSYS ? .notSupported : error
        }
        kn.fd.owned = pidfd
        kn.flags |= UInt16(EV_CLEAR)
        do throws(Errno) {
            if kn.sfflags & Self.connectorNotes != 0 { try holdConnector(kn, in: kq) }
            return try super.attach(kn, to: kq)
        } catch {
            releaseConnector(kn, in: kq)
            FileDescriptorOps.close(pidfd)
            kn.fd.owned = -1
            throw error
        }
    }

    /// The ident is a process id.
    override var identIsDescriptor: Bool { false }

    /// `lastData` == 1 while the knote holds the kqueue's connector socket.
    private func holdConnector(_ kn: Knote, in kq: EpollKqueue) throws(Errno) {
        guard kn.lastData != 1 else { return }
        try kq.source(ProcSource.self).use(in: kq)
        kn.lastData = 1
    }

    private func releaseConnector(_ kn: Knote, in kq: EpollKqueue) {
        guard kn.lastData == 1 else { return }
        kn.lastData = -1
        kq.source(ProcSource.self).release(in: kq)
    }

    override func detach(_ kn: Knote, from kq: EpollKqueue) -> FilterOutcome {
        releaseConnector(kn, in: kq)
        let outcome = super.detach(kn, from: kq)
        if kn.fd.owned >= 0 {
            FileDescriptorOps.close(kn.fd.owned)
            kn.fd.owned = -1
        }
        return outcome
    }

    override func touch(_ kn: Knote, with change: kevent, in kq: EpollKqueue) throws(Errno) -> FilterOutcome {
        // A modify (re-add, or a change without EV_ENABLE/EV_DISABLE) replaces
        // the notes: NOTE_EXIT arms, 0 disarms.
        if change.fflags & Self.connectorNotes != 0 {
            try holdConnector(kn, in: kq)
        } else {
            releaseConnector(kn, in: kq)
        }
        kn.sfflags = change.fflags
        kn.fflags &= change.fflags | UInt32(NOTE_CHILD | NOTE_TRACKERR)
        kn.sdata = change.data
        kn.fd.epollEvents = epollEvents(for: kn)
        enable(kn, in: kq)
        return .done
    }

    override func enable(_ kn: Knote, in kq: EpollKqueue) {
        if kn.fflags != 0 { kq.activate(kn) }  // fork/exec notes that came meanwhile
        guard let ep = try? kq.epollSet(set) else { return }
        try? ep.modify(kn.fd.owned, events: armedEvents(for: kn),
                       data: EpollKqueue.tag(kn.slot, kn.generation))
    }

    // MARK: - Process-events connector

    /// The process `kn` watches forked `child`.
    func forked(_ kn: Knote, child: pid_t, in kq: EpollKqueue) {
        var notes: UInt32 = 0
        if kn.sfflags & UInt32(NOTE_FORK) != 0 { notes |= UInt32(NOTE_FORK) }
        if kn.sfflags & UInt32(NOTE_TRACK) != 0 && kq.knotes[UInt(child), kn.filter] == nil {
            let change = kevent(ident: UInt(child), filter: kn.filter,
                                flags: UInt16(EV_ADD) | (kn.flags & UInt16(EV_CLEAR | EV_DISPATCH | EV_RECEIPT)),
                                fflags: kn.sfflags, data: 0, udata: kn.udata)
            if kq.register(change) == 0, let ckn = kq.knotes[UInt(child), kn.filter] {
                ckn.fflags |= UInt32(NOTE_CHILD)
                ckn.data = Int(kn.ident)
                kq.activate(ckn)
            } else {
                notes |= UInt32(NOTE_TRACKERR)
            }
        }
        if notes != 0 {
            kn.fflags |= notes
            kq.activate(kn)
        }
    }

    /// The process `kn` watches called exec().
    func execed(_ kn: Knote, in kq: EpollKqueue) {
        guard kn.sfflags & UInt32(NOTE_EXEC) != 0 else { return }
        kn.fflags |= UInt32(NOTE_EXEC)
        kq.activate(kn)
    }

    override func process(_ kn: Knote, epollEvents ev: UInt32, in kq: EpollKqueue) -> kevent? {
        if ev == 0 {
            // Queued by the connector: fork/exec/child notes, reset on delivery (EV_CLEAR).
            guard kn.fflags != 0 else { return nil }
            return kn.event(fflags: kn.fflags, data: kn.data)
        }
        guard kn.sfflags & UInt32(NOTE_EXIT) != 0 else { return nil }
        let status: Int32
        do { status = try ProcessDescriptor.exitStatus(kn.fd.owned) } catch {
            if error == .wouldBlock { return nil }  // not exited after all
            status = 0  // not our child: Linux keeps the status for the parent
        }
        // The process is gone: this is the knote's last event (BSD sets EV_ONESHOT now).
        kn.flags |= UInt16(EV_ONESHOT)
        return kn.event(flags: UInt16(EV_EOF), fflags: UInt32(NOTE_EXIT) | kn.fflags, data: Int(status))
    }
}
