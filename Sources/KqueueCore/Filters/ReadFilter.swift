// SPDX-License-Identifier: BSD-2-Clause
// ReadFilter.swift: EVFILT_READ on pipes, FIFOs, sockets, ttys, eventfds, kqueues and files.

import BSDSystem
import CBSDShimABI
import Glibc

/// EVFILT_READ. `data` is what BSD reports: bytes readable (FIONREAD), pending
/// connections for a listening socket, pending events for a kqueue, bytes to
/// end of file for a regular file. EV_EOF is set when the writer or peer went
/// away.
///
/// BSD also puts a socket's pending error in `fflags` with EV_EOF. Linux can
/// read it only by clearing it, and programs learn a failed connect() from
/// getsockopt(SO_ERROR) or recv() after the event (libevent's bufferevents
/// do; with the error gone they took a refused connection for a connected
/// one). Under the preload library the error is read and kept for the
/// program's own calls, so both filters report it; linked, `fflags` is 0.
final class ReadFilter: DescriptorFilter, @unchecked Sendable {
    override var set: EpollSet { .main }
    override var interest: UInt32 { Epoll.readable | Epoll.readHangup }

    /// A /dev/dmover descriptor: the kernel reports its readiness, the
    /// dmover core its data (bytes of responses ready). A kqueue cannot
    /// watch itself: EINVAL, as on FreeBSD (epoll's EINVAL would read EBADF).
    override func attach(_ kn: Knote, to kq: EpollKqueue) throws(Errno) -> FilterOutcome {
        if kn.ident == UInt(kq.fd) { throw .invalidArgument }
        if kn.ident <= UInt(Int32.max) && DeviceReadiness.readable(for: Int32(kn.ident)) >= 0 {
            kn.fd.kind = .libraryReadiness
        }
        return try super.attach(kn, to: kq)
    }

    override func watchAlwaysReady(_ kn: Knote, in kq: EpollKqueue) {
        try? kq.source(VnodeSource.self).watch(kn, descriptor: descriptor(kn), mask: Inotify.modify, in: kq)
    }

    override func process(_ kn: Knote, epollEvents ev: UInt32, in kq: EpollKqueue) -> kevent? {
        let fd = descriptor(kn)
        if kn.fd.kind == .alwaysReady {
            // Ready while there is data past the offset (BSD filt_vnread). At
            // EOF the knote leaves the queue; an inotify IN_MODIFY on the file
            // (a write or truncate through any descriptor) queues it again.
            let data = bytesToEndOfFile(fd)
            if data == 0 || (kn.has(EV_CLEAR) && data == kn.lastData) { return nil }
            kn.lastData = data
            return kn.event(fflags: 0, data: data)
        }
        var flags: UInt16 = 0
        if ev & (Epoll.hangup | Epoll.readHangup | Epoll.error) != 0 {
            switch hangupMeaning(kn, fd, ev, in: kq) {
            case .endOfFile: kn.hookID |= Self.eofSeen
            case .temporaryError: kn.hookID &= ~Self.eofSeen
            case .otherDirection: return nil
            }
        } else if kn.hookID & Self.eofSeen != 0 && ev != 0 {
            kn.hookID &= ~Self.eofSeen  // the writer or peer is back
        }
        if kn.hookID & Self.eofSeen != 0 {
            flags |= UInt16(EV_EOF)
        }
        // A stream's FIONREAD (nearly every event) is asked inline, and so
        // is that of a descriptor not yet classified (a knote added again:
        // FIONREAD working is what makes it a stream); the other kinds, and
        // a descriptor whose FIONREAD fails, go the long way.
        let kind = kn.fd.kind
        let asked = kind == .stream || kind == .unknown
        var data = asked ? FileDescriptorOps.bytesReadableOrFailure(fd) : -1
        if data >= 0 {
            if kind == .unknown { kn.fd.kind = .stream }
        } else {
            data = bytesReadable(kn, fd, fionreadFailed: asked, in: kq)
        }
        if flags == 0 {
            if let lowat = lowWaterMark(kn), data < lowat { return nil }
            if ev == 0 && data == 0 { return nil }  // userspace re-check found it drained
        }
        let error = flags == 0 ? 0 : pendingSocketError(fd, mayRead: ev & Epoll.error != 0)
        return kn.event(flags: flags, fflags: error, data: data)
    }

    /// Bytes readable, by descriptor kind (learned on the first event);
    /// `fionreadFailed`: the caller's FIONREAD just failed, no need to ask again.
    @inline(never)
    private func bytesReadable(_ kn: Knote, _ fd: Int32, fionreadFailed: Bool = false, in kq: EpollKqueue) -> Int {
        switch kn.fd.kind {
        case .stream, .unknown:
            if !fionreadFailed, let n = try? FileDescriptorOps.bytesReadable(fd) {
                kn.fd.kind = .stream
                return n
            }
            kn.fd.kind = classify(fd)
            return kn.fd.kind == .stream ? 0 : bytesReadable(kn, fd, in: kq)
        case .listeningSocket:
            if let n = try? FileDescriptorOps.pendingConnections(fd) { return max(1, n) }
            return 1
        case .kqueue:
            return max(1, KqueueRegistry.lookupUnderLock(fd)?.pendingHint.load(ordering: .relaxed) ?? 1)
        case .eventfd:
            return 8
        case .libraryReadiness:
            return max(0, DeviceReadiness.readable(for: fd))
        case .other, .alwaysReady, .pipe, .socket, .otherDirection:
            return 0
        }
    }

    /// Tells apart the descriptors FIONREAD does not work on.
    private func classify(_ fd: Int32) -> DescriptorKind {
        if let v = try? FileDescriptorOps.socketOption(fd, SOL_SOCKET, SO_ACCEPTCONN), v != 0 {
            return .listeningSocket
        }
        if KqueueRegistry.lookupUnderLock(fd) != nil { return .kqueue }
        // Anonymous inodes say what they are in their /proc link name.
        var buf = [CChar](repeating: 0, count: 64)
        let n = buf.withUnsafeMutableBufferPointer { b in
            (try? FileDescriptorOps.link(of: fd, into: UnsafeMutableBufferPointer(rebasing: b[0..<63]))) ?? 0
        }
        if n > 0 {
            let link = String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if link.contains("eventfd") { return .eventfd }
            if link.contains("eventpoll") { return .kqueue }
        }
        return .other
    }
}
