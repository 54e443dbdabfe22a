// SPDX-License-Identifier: BSD-2-Clause
// WriteFilter.swift: EVFILT_WRITE on pipes, FIFOs, sockets and ttys.

import BSDSystem
import CBSDShim
import CBSDShimABI
import Glibc

/// EVFILT_WRITE. `data` is the space left in the write buffer: SO_SNDBUF minus
/// SIOCOUTQ on a socket, the pipe capacity minus its contents on a pipe/FIFO.
/// EV_EOF is set when the reader went away (EPIPE would follow); a socket's
/// pending error comes in `fflags` under the preload library (see ReadFilter).
///
/// A /dev/dmover descriptor is writable while fewer than 64 requests are in
/// flight: the knote then registers the readiness descriptor the dmover core
/// hands out (readable exactly while there is room) and `data` is that room.
final class WriteFilter: DescriptorFilter, @unchecked Sendable {
    override var set: EpollSet { .write }
    override var interest: UInt32 { Epoll.writable }

    /// The readiness eventfd is *readable* while there is room.
    override func interest(for kn: Knote) -> UInt32 {
        kn.fd.kind == .libraryReadiness ? Epoll.readable : Epoll.writable
    }

    override func descriptor(_ kn: Knote) -> Int32 {
        kn.fd.kind == .libraryReadiness ? kn.fd.owned : Int32(truncatingIfNeeded: kn.ident)
    }

    /// A kqueue is never writable: EVFILT_WRITE on one is EINVAL, as on FreeBSD.
    override func attach(_ kn: Knote, to kq: EpollKqueue) throws(Errno) -> FilterOutcome {
        if kn.ident <= UInt(Int32.max) {
            if KqueueRegistry.isKqueue(Int32(kn.ident)) { throw .invalidArgument }
            let source = DeviceReadiness.source(for: Int32(kn.ident))
            if source >= 0 {
                kn.fd.kind = .libraryReadiness
                kn.fd.owned = source
                do throws(Errno) { return try super.attach(kn, to: kq) } catch {
                    FileDescriptorOps.close(source)
                    kn.fd.owned = -1
                    kn.fd.kind = .unknown
                    throw error
                }
            }
        }
        return try super.attach(kn, to: kq)
    }

    override func detach(_ kn: Knote, from kq: EpollKqueue) -> FilterOutcome {
        let outcome = super.detach(kn, from: kq)
        if kn.fd.kind == .libraryReadiness && kn.fd.owned >= 0 {
            FileDescriptorOps.close(kn.fd.owned)
            kn.fd.owned = -1
        }
        return outcome
    }

    override func process(_ kn: Knote, epollEvents ev: UInt32, in kq: EpollKqueue) -> kevent? {
        let fd = descriptor(kn)
        if kn.fd.kind == .alwaysReady {
            return kn.event(fflags: 0, data: 0)
        }
        if kn.fd.kind == .libraryReadiness {
            let room = DeviceReadiness.room(for: Int32(truncatingIfNeeded: kn.ident))
            if room < 0 { return kn.event(flags: UInt16(EV_EOF), fflags: 0, data: 0) }
            return room > 0 ? kn.event(fflags: 0, data: room) : nil
        }
        // The space first: it learns whether this is a pipe or a socket.
        let data = spaceWritable(kn, fd)
        var flags: UInt16 = 0
        if ev & (Epoll.hangup | Epoll.error) != 0 {
            switch hangupMeaning(kn, fd, ev, in: kq) {
            case .endOfFile:
                if kn.hookID & Self.eofSeen == 0 && kn.fd.kind == .pipe { watchForReaders(kn, fd, in: kq) }
                kn.hookID |= Self.eofSeen
            case .temporaryError: kn.hookID &= ~Self.eofSeen
            case .otherDirection: return nil
            }
        } else if kn.hookID & Self.eofSeen != 0 && ev != 0 {
            kn.hookID &= ~Self.eofSeen  // a reader is back
        } else if ev == 0 && kn.hookID & Self.eofSeen != 0 && kn.fd.kind == .pipe {
            // A look queued by the FIFO's inotify IN_OPEN: a reader back?
            guard readersAreBack(fd) else { return nil }
            kn.hookID &= ~Self.eofSeen
        }
        if kn.hookID & Self.eofSeen != 0 { flags |= UInt16(EV_EOF) }
        if flags == 0 {
            if let lowat = lowWaterMark(kn), data < lowat {
                // Linux wakes a pipe's writers only when the pipe was full, so
                // space freed by a reader is seen through inotify's IN_ACCESS
                // (every read of the pipe), which queues the knote for a look.
                if kn.fd.kind == .pipe {
                    try? kq.source(VnodeSource.self).watch(kn, descriptor: fd, mask: Inotify.access, in: kq)
                }
                return nil
            }
            if ev == 0 && data == 0 { return nil }
        }
        let error = flags == 0 ? 0 : pendingSocketError(fd, mayRead: ev & Epoll.error != 0)
        return kn.event(flags: flags, fflags: error, data: data)
    }

    /// Linux wakes a FIFO's writers' epoll registrations when its readers go,
    /// not when one opens it again, which BSD reports (FreeBSD's fifo test
    /// connecting_reader): after an EOF on a FIFO, the opens of the file
    /// (inotify IN_OPEN) queue the knote for a look.
    private func watchForReaders(_ kn: Knote, _ fd: Int32, in kq: EpollKqueue) {
        guard kn.watch.descriptor < 0, let st = try? FileDescriptorOps.status(fd), st.isFIFO else { return }
        try? kq.source(VnodeSource.self).watch(kn, descriptor: fd, mask: Inotify.opened, in: kq)
    }

    /// True if the pipe or FIFO has readers again (poll reports no POLLERR).
    private func readersAreBack(_ fd: Int32) -> Bool {
        guard let revents = try? FileDescriptorOps.pollNow(fd, Int16(POLLOUT)) else { return false }
        return revents & Int16(POLLERR) == 0
    }

    /// Capacity is learned once (kn.lastData); the fill level is read per event.
    private func spaceWritable(_ kn: Knote, _ fd: Int32) -> Int {
        switch kn.fd.kind {
        case .unknown:
            if let size = try? FileDescriptorOps.fcntl(fd, cbsdshim_F_GETPIPE_SZ) {
                kn.fd.kind = .pipe
                kn.lastData = Int(size)
            } else if let size = try? FileDescriptorOps.socketOption(fd, SOL_SOCKET, SO_SNDBUF) {
                kn.fd.kind = .socket
                kn.lastData = Int(size)
            } else {
                kn.fd.kind = .other
                return 0
            }
            return spaceWritable(kn, fd)
        case .pipe:
            let used = (try? FileDescriptorOps.bytesReadable(fd)) ?? 0
            return max(0, kn.lastData - used)
        case .socket:
            let used = (try? FileDescriptorOps.bytesQueuedForSend(fd)) ?? 0
            return max(0, kn.lastData - used)
        default:
            return 0
        }
    }
}
