// SPDX-License-Identifier: BSD-2-Clause
// ReadinessSocket.swift: a descriptor whose poll/select/epoll readiness the library sets by hand.

import CBSDShim
import Glibc

/// The client end of an AF_UNIX datagram pair, used as a device descriptor
/// whose readiness is the library's (a /dev/dmover session: readable while
/// responses wait, writable while fewer than 64 requests are in flight),
/// seen the same by poll, ppoll, select, pselect, epoll and kqueue because the
/// kernel itself reports it:
/// - POLLIN while one zero-length "token" datagram, sent by the peer, waits in
///   the client's queue;
/// - POLLOUT while the client's send buffer is large compared to a "ballast"
///   datagram parked in the peer's queue at creation (Linux's unix_writable:
///   4 × bytes charged ≤ sndbuf). Shrinking SO_SNDBUF to the minimum hides
///   POLLOUT; growing it shows POLLOUT and wakes pollers (sk_write_space).
/// The peer's read side is shut once the ballast is in, so a plain write() on
/// the client fails at once with EPIPE (datagram sockets raise no SIGPIPE)
/// and no byte ever reaches the library behind its back.
public struct ReadinessSocket {
    public let client: Int32
    public let peer: Int32
    /// The peer's inode: closePeer never closes a number the program reused.
    private let peerInode: UInt
    /// SO_SNDBUF values (as passed to setsockopt) that show and hide POLLOUT.
    private let openBuffer: Int32
    private let shutBuffer: Int32 = 1

    /// Makes the pair, readable no, writable yes.
    /// - Throws: EMFILE, ENFILE, ENOMEM, EIO (the kernel does not keep the ballast as expected).
    public static func make(closeOnExec: Bool, nonBlocking: Bool) throws(Errno) -> ReadinessSocket {
        var sv: [Int32] = [-1, -1]
        var type = Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        if nonBlocking { type |= Int32(SOCK_NONBLOCK.rawValue) }
        guard socketpair(AF_UNIX, type, 0, &sv) == 0 else { throw Errno.current }
        let client = sv[0], peer = sv[1]
        func fail(_ e: Errno) -> Errno {
            FileDescriptorOps.close(client)
            FileDescriptorOps.close(peer)
            return e
        }
        // The smallest send buffer the kernel allows, then ballast until it
        // outweighs a quarter of it (but stays below all of it, so a plain
        // blocking write never sleeps for room before it gets EPIPE).
        guard setBuffer(client, 1) else { throw fail(Errno.current) }
        let minimum: Int32
        do { minimum = try FileDescriptorOps.socketOption(client, SOL_SOCKET, SO_SNDBUF) } catch { throw fail(error) }
        var ballast = [UInt8](repeating: 0, count: 256)
        var charged = 0
        for _ in 0..<16 {
            if charged * 4 > Int(minimum) { break }
            guard send(client, &ballast, ballast.count, Int32(MSG_DONTWAIT)) == ballast.count else { throw fail(Errno.current) }
            charged = (try? FileDescriptorOps.bytesQueuedForSend(client)) ?? 0
        }
        guard charged * 4 > Int(minimum), charged < Int(minimum) else { throw fail(Errno(rawValue: EIO)) }
        guard shutdown(peer, Int32(SHUT_RD)) == 0 else { throw fail(Errno.current) }
        var st = stat()
        guard fstat(peer, &st) == 0 else { throw fail(Errno.current) }
        let s = ReadinessSocket(client: client, peer: peer, peerInode: UInt(st.st_ino),
                                openBuffer: Int32(max(32768, charged * 4)))
        guard setBuffer(client, s.openBuffer) else { throw fail(Errno.current) }
        if !closeOnExec && cbsdshim_fcntl_int(client, F_SETFD, 0) != 0 { throw fail(Errno.current) }
        return s
    }

    private init(client: Int32, peer: Int32, peerInode: UInt, openBuffer: Int32) {
        self.client = client
        self.peer = peer
        self.peerInode = peerInode
        self.openBuffer = openBuffer
    }

    private static func setBuffer(_ fd: Int32, _ value: Int32) -> Bool {
        var v = value
        return setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, socklen_t(MemoryLayout<Int32>.size)) == 0
    }

    /// Shows or hides POLLIN (one token in the queue, or none); false if the
    /// token could not be sent (ENOBUFS, ENOMEM under memory pressure), so
    /// the caller keeps POLLIN unshown and tries again. A token taken by a
    /// plain read() of the program is simply not found when hiding.
    @discardableResult
    public func setReadable(_ on: Bool) -> Bool {
        var byte: UInt8 = 0
        if on {
            let sent = try? valueOrErrno {
                InjectedFault.hit(.datagramSend) ? -1 : send(peer, &byte, 0, Int32(MSG_DONTWAIT | MSG_NOSIGNAL))
            }
            if sent == nil { return false }
        } else {
            _ = try? valueOrErrno { recv(client, &byte, 1, Int32(MSG_DONTWAIT)) }
        }
        return true
    }

    /// Shows POLLIN with a token that carries `count` bytes from `payload`
    /// (for the library: a copy of what the token announces). ENOBUFS or
    /// ENOMEM under memory pressure: nothing is sent.
    public func setReadable(copying payload: UnsafeRawPointer, count: Int) throws(Errno) {
        _ = try valueOrErrno {
            InjectedFault.hit(.datagramSend) ? -1 : send(peer, payload, count, Int32(MSG_DONTWAIT | MSG_NOSIGNAL))
        }
    }

    /// Hides POLLIN by receiving the token into `buf` (at most `count`
    /// bytes; the kernel checks that many of the buffer, or the token's
    /// length if shorter): the bytes written, or EAGAIN (no token), or EFAULT
    /// (`buf` not writable; the token is gone then).
    public func takeReadable(into buf: UnsafeMutableRawPointer, count: Int) throws(Errno) -> Int {
        try valueOrErrno { recv(client, buf, count, Int32(MSG_DONTWAIT)) }
    }

    /// Shows or hides POLLOUT.
    public func setWritable(_ on: Bool) {
        _ = Self.setBuffer(client, on ? openBuffer : shutBuffer)
    }

    /// Gives the client end the abstract socket address `name` (visible to
    /// getsockname, so a process that inherits the descriptor can tell
    /// what it is). Only this pair's peer may still send to it.
    /// - Throws: EADDRINUSE (taken), ENAMETOOLONG, ENOMEM.
    public func name(_ name: String) throws(Errno) {
        _ = try valueOrErrno { cbsdshim_bind_abstract(client, name) }
    }

    /// Closes the library's end (the client end is the program's to close).
    public func closePeer() {
        var st = stat()
        if fstat(peer, &st) == 0 && UInt(st.st_ino) == peerInode { FileDescriptorOps.close(peer) }
    }
}
