// SPDX-License-Identifier: BSD-2-Clause
// ProcFilter.swift: EVFILT_PROC on a pidfd per watched process.

import BSDSystem
import CBSDShim
import CBSDShimABI
import Glibc

/// EVFILT_PROC (FreeBSD filt_proc). Each knote opens a pidfd for its process
/// and registers it in the kqueue's epoll set; a pidfd polls readable once the
/// process has exited. On NOTE_EXIT the event carries EV_EOF, `data` = the
/// wait(2) status for a child of the caller — read with WNOWAIT, so the child
/// is not reaped behind the program's back — and 0 for any other process (Linux
/// tells only the parent). The knote is deleted after delivery (EV_ONESHOT),
/// as on BSD. A knote without NOTE_EXIT is kept but armed for nothing.
///
/// NOTE_FORK, NOTE_EXEC and NOTE_TRACK need the kernel's process-events
/// connector; without it they are refused with EOPNOTSUPP, never accepted and
/// left silent.
final class ProcFilter: DescriptorFilter, @unchecked Sendable {
    static let unsupported = UInt32(NOTE_FORK) | UInt32(NOTE_EXEC) | UInt32(NOTE_TRACK)

    override var set: EpollSet { .main }
    override func interest(for kn: Knote) -> UInt32 {
        kn.sfflags & UInt32(NOTE_EXIT) != 0 ? Epoll.readable : 0
    }
    override func descriptor(_ kn: Knote) -> Int32 { kn.ownedDescriptor }

    override func attach(_ kn: Knote, to kq: Kqueue) throws(Errno) {
        guard kn.sfflags & Self.unsupported == 0 else { throw .notSupported }
        guard kn.ident > 0, kn.ident <= UInt(Int32.max) else { throw .noSuchProcess }
        let pidfd = cbsdshim_pidfd_open(pid_t(kn.ident), 0)
        if pidfd < 0 {
            let e = Errno.current
            throw e.rawValue == ENOSYS ? .notSupported : e
        }
        _ = FileDescriptorOps.fcntl(pidfd, F_SETFD, FD_CLOEXEC)
        kn.ownedDescriptor = pidfd
        kn.flags |= UInt16(EV_CLEAR | EV_ONESHOT)
        do throws(Errno) {
            try super.attach(kn, to: kq)
        } catch {
            FileDescriptorOps.close(pidfd)
            kn.ownedDescriptor = -1
            throw error
        }
    }

    override func detach(_ kn: Knote, from kq: Kqueue) {
        super.detach(kn, from: kq)
        if kn.ownedDescriptor >= 0 {
            FileDescriptorOps.close(kn.ownedDescriptor)
            kn.ownedDescriptor = -1
        }
    }

    override func touch(_ kn: Knote, with change: kevent, in kq: Kqueue) throws(Errno) {
        guard change.flags & UInt16(EV_ADD) != 0 else { return }
        guard change.fflags & Self.unsupported == 0 else { throw .notSupported }
        // Re-adding replaces the notes: NOTE_EXIT arms, 0 disarms.
        kn.sfflags = change.fflags
        kn.sdata = change.data
        kn.epollEvents = epollEvents(for: kn)
        enable(kn, in: kq)
    }

    override func enable(_ kn: Knote, in kq: Kqueue) {
        guard case .success(let ep) = kq.epollSet(set) else { return }
        _ = ep.modify(kn.ownedDescriptor, events: kn.disabled ? 0 : kn.epollEvents,
                      data: Kqueue.tag(kn.slot, kn.generation))
    }

    override func process(_ kn: Knote, epollEvents ev: UInt32, in kq: Kqueue) -> kevent? {
        guard kn.sfflags & UInt32(NOTE_EXIT) != 0 else { return nil }
        var status: Int32 = 0
        if cbsdshim_pidfd_exit_status(kn.ownedDescriptor, &status) != 0 {
            if Errno.current.rawValue == EAGAIN { return nil }  // not exited after all
            status = 0  // not our child: Linux keeps the status for the parent
        }
        return kn.event(flags: UInt16(EV_EOF), fflags: UInt32(NOTE_EXIT), data: Int(status))
    }
}
