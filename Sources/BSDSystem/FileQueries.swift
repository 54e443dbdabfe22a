// SPDX-License-Identifier: BSD-2-Clause
// FileQueries.swift: what the kqueue filters ask of an open file (fstat, offset, /proc link, socket state).

import CBSDShim
import Glibc

/// What fstat(2) says of an open file that the filters look at.
public struct FileStatus: Equatable, Sendable {
    /// The file type bits (`st_mode & S_IFMT`).
    public let type: mode_t
    public let size: Int
    public let links: Int

    @inlinable public init(_ st: stat) {
        type = st.st_mode & S_IFMT
        size = Int(st.st_size)
        links = Int(st.st_nlink)
    }

    public var isRegular: Bool { type == S_IFREG }
    public var isDirectory: Bool { type == S_IFDIR }
    public var isFIFO: Bool { type == S_IFIFO }
    public var isSocket: Bool { type == S_IFSOCK }
}

extension FileDescriptorOps {
    /// fstat(fd).
    @inlinable public static func status(_ fd: Int32) throws(Errno) -> FileStatus {
        var st = stat()
        _ = try valueOrErrno { fstat(fd, &st) }
        return FileStatus(st)
    }

    /// The access mode the file was opened with (`O_RDONLY`, `O_WRONLY` or `O_RDWR`).
    @inlinable public static func accessMode(_ fd: Int32) throws(Errno) -> Int32 {
        try fcntl(fd, F_GETFL) & O_ACCMODE
    }

    /// What poll(2) reports for `fd` right now (POLL* bits; POLLERR and
    /// POLLHUP whatever is asked), without waiting.
    public static func pollNow(_ fd: Int32, _ events: Int16) throws(Errno) -> Int16 {
        var p = pollfd(fd: fd, events: events, revents: 0)
        _ = try valueOrErrno { poll(&p, 1, 0) }
        return p.revents
    }

    /// lseek(fd, 0, SEEK_CUR): the file offset.
    @inlinable public static func offset(_ fd: Int32) throws(Errno) -> Int {
        Int(try valueOrErrno { lseek(fd, 0, SEEK_CUR) })
    }

    /// What /proc/self/fd/N links to (a path, or e.g. "pipe:[N]",
    /// "anon_inode:[eventfd]"), truncated to `buffer`: the bytes written.
    public static func link(of fd: Int32, into buffer: UnsafeMutableBufferPointer<CChar>) throws(Errno) -> Int {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        let path = "/proc/self/fd/\(fd)"
        return try valueOrErrno { readlink(path, base, buffer.count) }
    }

    /// Connections waiting in a listening TCP socket's accept queue
    /// (TCP_INFO's tcpi_unacked, which Linux reports so for a listener).
    public static func pendingConnections(_ fd: Int32) throws(Errno) -> Int {
        var info = tcp_info()
        var len = socklen_t(MemoryLayout<tcp_info>.size)
        _ = try valueOrErrno { getsockopt(fd, Int32(IPPROTO_TCP), TCP_INFO, &info, &len) }
        return Int(info.tcpi_unacked)
    }

    /// The pending error of socket `fd` without taking it from the program
    /// (needs the preload library, which reads it when `mayRead` and gives it
    /// back to the program's own calls); 0 when linked without it.
    @inlinable public static func peekSocketError(_ fd: Int32, mayRead: Bool) -> Int32 {
        cbsdshim_socket_error_peek(fd, mayRead ? 1 : 0)
    }

    /// open(path, O_RDONLY | O_CLOEXEC) of a file the library reads itself.
    public static func openReadOnly(_ path: String) throws(Errno) -> Int32 {
        try valueOrErrno { open(path, O_RDONLY | O_CLOEXEC) }
    }

    /// pread(2) into `buffer` from `offset`: bytes read, 0 at end of file.
    @inlinable public static func read(
        _ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int
    ) throws(Errno) -> Int {
        try valueOrErrno { pread(fd, buffer.baseAddress, buffer.count, off_t(offset)) }
    }

    /// read(2) into `buffer`: bytes read, 0 at end of file.
    @inlinable public static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
        try valueOrErrno { Glibc.read(fd, buffer.baseAddress, buffer.count) }
    }

    /// write(2) of `buffer`: bytes written.
    @inlinable public static func write(_ fd: Int32, _ buffer: UnsafeRawBufferPointer) throws(Errno) -> Int {
        try valueOrErrno { Glibc.write(fd, buffer.baseAddress, buffer.count) }
    }
}
