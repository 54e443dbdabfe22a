// SPDX-License-Identifier: BSD-2-Clause
// ExceptFilter.swift: EVFILT_EXCEPT with NOTE_OOB, out-of-band data on sockets (EPOLLPRI).

import BSDSystem
import CBSDShimABI
import Glibc

/// EVFILT_EXCEPT (as on macOS): reports exceptional conditions on a descriptor,
/// of which Linux has one: out-of-band ("urgent") data on a TCP socket, seen as
/// EPOLLPRI. The knote's registration lives in its own nested epoll set, so it
/// keeps its mode independent of EVFILT_READ/WRITE knotes on the same socket.
/// The event has fflags NOTE_OOB and data 1 (one urgent byte is pending) while
/// the urgent data is unread (level), EV_EOF once the peer is gone.
final class ExceptFilter: DescriptorFilter, @unchecked Sendable {
    override var set: EpollSet { .except }
    override var interest: UInt32 { Epoll.priority }

    override func attach(_ kn: Knote, to kq: EpollKqueue) throws(Errno) -> FilterOutcome {
        guard kn.sfflags & ~UInt32(NOTE_OOB) == 0 else { throw .invalidArgument }
        let outcome = try super.attach(kn, to: kq)
        if kn.fd.kind == .alwaysReady {
            // A file has no exceptional conditions: refuse rather than report forever.
            _ = detach(kn, from: kq)
            kq.deactivate(kn)
            throw .invalidArgument
        }
        return outcome
    }

    override func watchAlwaysReady(_ kn: Knote, in kq: EpollKqueue) {}

    override func process(_ kn: Knote, epollEvents ev: UInt32, in kq: EpollKqueue) -> kevent? {
        guard kn.sfflags & UInt32(NOTE_OOB) != 0 else { return nil }
        var flags: UInt16 = 0
        if ev & (Epoll.hangup | Epoll.error) != 0 { flags |= UInt16(EV_EOF) }
        guard ev & Epoll.priority != 0 || flags != 0 else { return nil }
        return kn.event(flags: flags, fflags: ev & Epoll.priority != 0 ? UInt32(NOTE_OOB) : 0, data: ev & Epoll.priority != 0 ? 1 : 0)
    }
}
