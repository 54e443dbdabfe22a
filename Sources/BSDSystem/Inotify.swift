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
    /// A directory's entries changed.
    public static let entries = UInt32(IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO)

    public static func create() -> Result<Inotify, Errno> {
        valueOrErrno { inotify_init1(Int32(IN_CLOEXEC | IN_NONBLOCK)) }.map(Inotify.init(fd:))
    }

    /// Watches the file open as `descriptor`; the mask is added to an
    /// existing watch of the same inode (one watch descriptor per inode).
    public func watch(descriptor: Int32, mask: UInt32) -> Result<Int32, Errno> {
        let path = "/proc/self/fd/\(descriptor)"
        return valueOrErrno { inotify_add_watch(fd, path, mask | UInt32(IN_MASK_ADD)) }
    }

    /// Watches the directory holding the file open as `descriptor` (its "..").
    public func watchParent(descriptor: Int32, mask: UInt32) -> Result<Int32, Errno> {
        let path = "/proc/self/fd/\(descriptor)/.."
        return valueOrErrno { inotify_add_watch(fd, path, mask | UInt32(IN_MASK_ADD)) }
    }

    public func unwatch(_ wd: Int32) {
        _ = inotify_rm_watch(fd, wd)
    }

    /// Reads pending events, calling `body(wd, mask)` for each; stops when none is left.
    /// An event about an entry of a watched directory (it carries the entry's
    /// name) keeps only its `entries` bits: a file inside a directory being
    /// written or chmod'ed is not a change of the directory itself (BSD's
    /// EVFILT_VNODE on a directory reports neither), and is dropped.
    public func drain(_ body: (Int32, UInt32) -> Void) {
        withUnsafeTemporaryAllocation(byteCount: 4096, alignment: 8) { buf in
            while true {
                let n = read(fd, buf.baseAddress, buf.count)
                if n <= 0 { return }
                var off = 0
                while off + MemoryLayout<inotify_event>.size <= n {
                    let ev = buf.baseAddress!.advanced(by: off).loadUnaligned(as: inotify_event.self)
                    let mask = ev.len > 0 ? ev.mask & (Self.entries | UInt32(IN_ISDIR)) : ev.mask
                    if mask != 0 { body(ev.wd, mask) }
                    off += MemoryLayout<inotify_event>.size + Int(ev.len)
                }
            }
        }
    }
}
