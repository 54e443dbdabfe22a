// SPDX-License-Identifier: BSD-2-Clause
// Inotify.swift: inotify(7) on open descriptors.

import Glibc

/// A non-blocking, close-on-exec inotify instance. Watches are added through
/// /proc/self/fd/N, so they follow the open file (its inode), never a path
/// the program might rename or replace.
public struct Inotify: Sendable {
    public let fd: Int32
    @inlinable public init(fd: Int32) { self.fd = fd }

    public static let access = UInt32(IN_ACCESS)
    public static let modify = UInt32(IN_MODIFY)
    public static let attrib = UInt32(IN_ATTRIB)
    public static let ignored = UInt32(IN_IGNORED)
    public static let moveSelf = UInt32(IN_MOVE_SELF)
    public static let deleteSelf = UInt32(IN_DELETE_SELF)
    /// The file was opened (a FIFO's new reader or writer).
    public static let opened = UInt32(IN_OPEN)
    /// A directory's entries changed.
    public static let entries = UInt32(IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO)

    public static func create() throws(Errno) -> Inotify {
        Inotify(fd: try valueOrErrno { inotify_init1(Int32(IN_CLOEXEC | IN_NONBLOCK)) })
    }

    /// Watches the file open as `descriptor`; the mask is added to an
    /// existing watch of the same inode (one watch descriptor per inode).
    public func watch(descriptor: Int32, mask: UInt32) throws(Errno) -> Int32 {
        try add("/proc/self/fd/\(descriptor)", mask)
    }

    /// Watches the directory holding the file open as `descriptor` (its "..").
    public func watchParent(descriptor: Int32, mask: UInt32) throws(Errno) -> Int32 {
        try add("/proc/self/fd/\(descriptor)/..", mask)
    }

    private func add(_ path: String, _ mask: UInt32) throws(Errno) -> Int32 {
        try valueOrErrno { inotify_add_watch(fd, path, mask | UInt32(IN_MASK_ADD)) }
    }

    public func unwatch(_ wd: Int32) {
        _ = inotify_rm_watch(fd, wd)
    }
}
