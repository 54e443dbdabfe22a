// SPDX-License-Identifier: BSD-2-Clause
// Syscalls.swift: the few raw system calls the core uses, with errno mapping.

import CBSDShim
import Glibc

/// Thin wrappers over file-descriptor system calls (swift-system style).
public enum FileDescriptorOps {
    /// close(2) of a descriptor the library owns, as a raw system call.
    /// EINTR counts as closed (Linux always releases the descriptor). Raw, so
    /// that an interposed close() (the preload library's) never sees it: that
    /// one tells kqueue, whose locks the caller may hold (a knote's detach,
    /// a fork child's handler), and the library's own descriptors are never
    /// anything kqueue must hear about.
    @inlinable public static func close(_ fd: Int32) {
        _ = cbsdshim_close_syscall(fd)
    }

    /// ioctl(fd, FIONREAD): bytes readable.
    @inlinable public static func bytesReadable(_ fd: Int32) throws(Errno) -> Int {
        var n: Int32 = 0
        _ = try valueOrErrno { cbsdshim_ioctl_int(fd, cbsdshim_FIONREAD, &n) }
        return Int(n)
    }

    /// ioctl(fd, FIONREAD) for kevent()'s delivery path, which asks it for
    /// nearly every event: bytes readable, or -1 if the call failed. Not
    /// throwing, so it inlines to the call alone (the throwing wrapper stayed
    /// an out-of-line function with its retry loop).
    @inlinable @inline(__always) public static func bytesReadableOrFailure(_ fd: Int32) -> Int {
        var n: Int32 = 0
        // Unprotected: the kernel writes one int (no stack-protector check on every event).
        return _withUnprotectedUnsafeMutablePointer(to: &n) {
            cbsdshim_ioctl_int(fd, cbsdshim_FIONREAD, $0) == -1 ? -1 : Int($0.pointee)
        }
    }

    /// ioctl(fd, SIOCOUTQ): bytes queued for sending on a socket (or a tty).
    @inlinable public static func bytesQueuedForSend(_ fd: Int32) throws(Errno) -> Int {
        var n: Int32 = 0
        _ = try valueOrErrno { cbsdshim_ioctl_int(fd, cbsdshim_SIOCOUTQ, &n) }
        return Int(n)
    }

    /// getsockopt(fd, level, name) for an int option.
    @inlinable public static func socketOption(_ fd: Int32, _ level: Int32, _ name: Int32) throws(Errno) -> Int32 {
        var v: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        _ = try valueOrErrno { getsockopt(fd, level, name, &v, &len) }
        return v
    }

    /// fcntl(fd, cmd) returning an int.
    @inlinable public static func fcntl(_ fd: Int32, _ cmd: Int32) throws(Errno) -> Int32 {
        try valueOrErrno { cbsdshim_fcntl(fd, cmd) }
    }

    /// True if `fd` names no open descriptor (fcntl(F_GETFD) fails with EBADF).
    public static func isClosed(_ fd: Int32) -> Bool {
        do throws(Errno) {
            _ = try fcntl(fd, F_GETFD)
            return false
        } catch {
            return error == .badFileDescriptor
        }
    }

    /// Sets FD_CLOEXEC/O_NONBLOCK style flags.
    @discardableResult
    @inlinable public static func fcntl(_ fd: Int32, _ cmd: Int32, _ arg: Int32) throws(Errno) -> Int32 {
        try valueOrErrno { cbsdshim_fcntl_int(fd, cmd, arg) }
    }

    /// What fstat(2) says identifies an open file: its inode and whether it is a socket.
    public struct Identity: Equatable, Sendable {
        public let inode: UInt
        public let isSocket: Bool
        @inlinable public init(inode: UInt, isSocket: Bool) {
            self.inode = inode
            self.isSocket = isSocket
        }
    }

    /// fstat(fd): the open file's identity.
    @inlinable public static func identity(_ fd: Int32) throws(Errno) -> Identity {
        var st = stat()
        _ = try valueOrErrno { fstat(fd, &st) }
        return Identity(inode: UInt(st.st_ino), isSocket: st.st_mode & S_IFMT == S_IFSOCK)
    }

    /// True if the open file description has O_NONBLOCK (false if fd is not open).
    @inlinable public static func isNonBlocking(_ fd: Int32) -> Bool {
        (try? fcntl(fd, F_GETFL)).map { $0 & O_NONBLOCK != 0 } ?? false
    }

    /// Sets or clears O_NONBLOCK on the open file description.
    public static func setNonBlocking(_ fd: Int32, _ on: Bool) throws(Errno) {
        let fl = try fcntl(fd, F_GETFL)
        try fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK)
    }

    /// close(2) through the C library, for a descriptor of the program's own
    /// (an interposed close(), the preload library's, must see it). EINTR
    /// counts as closed: Linux always releases the descriptor.
    public static func closeThroughLibc(_ fd: Int32) throws(Errno) {
        if Glibc.close(fd) == 0 { return }
        let e = Errno.current
        if e != .interrupted { throw e }
    }

    /// The hard limit on descriptor numbers (RLIMIT_NOFILE), nil if unlimited.
    public static func descriptorHardLimit() -> UInt? {
        var rl = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &rl) == 0, rl.rlim_max != rlim_t.max else { return nil }
        return UInt(rl.rlim_max)
    }
}
