// SPDX-License-Identifier: BSD-2-Clause
// VnodeFilter.swift: EVFILT_VNODE on inotify, following the open file.

import BSDSystem
import CBSDShimABI
import Glibc

/// EVFILT_VNODE (FreeBSD filt_vnode) on regular files and directories. The
/// kqueue's inotify instance watches the inode behind the descriptor (through
/// /proc/self/fd/N), so a renamed or moved file keeps reporting. inotify's
/// events are turned into BSD notes, comparing the file's size and link count
/// with what they were at the previous event:
///
/// | inotify                          | note                                      |
/// |----------------------------------|-------------------------------------------|
/// | IN_MODIFY                        | NOTE_WRITE, + NOTE_EXTEND / NOTE_TRUNCATE by size |
/// | IN_ATTRIB, link count up or down | NOTE_LINK (NOTE_DELETE when it reaches 0) |
/// | IN_ATTRIB, link count unchanged  | NOTE_ATTRIB                               |
/// | IN_MOVE_SELF                     | NOTE_RENAME                               |
/// | IN_DELETE_SELF                   | NOTE_DELETE                               |
/// | directory: entry created/removed/moved | NOTE_WRITE                          |
///
/// Only the notes asked for are reported; they accumulate until delivered.
/// Any file-system object can be watched (regular files, directories, named
/// FIFOs, device nodes); descriptors that are no vnode on BSD (anonymous
/// pipes, sockets, eventfds, epoll...) are refused with EINVAL.
final class VnodeFilter: QueuedFilter {
    static let notes = UInt32(NOTE_DELETE | NOTE_WRITE | NOTE_EXTEND | NOTE_ATTRIB | NOTE_LINK
                              | NOTE_RENAME | NOTE_TRUNCATE)
    static let fileMask = Inotify.modify | Inotify.attrib | Inotify.moveSelf | Inotify.deleteSelf
    static let directoryMask = fileMask | Inotify.entries

    func attach(_ kn: Knote, to kq: Kqueue) throws(Errno) {
        guard kn.ident <= UInt(Int32.max) else { throw .badFileDescriptor }
        let fd = Int32(kn.ident)
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw Errno.current }
        let type = st.st_mode & S_IFMT
        guard type == S_IFREG || type == S_IFDIR || type == S_IFCHR || type == S_IFBLK
                || (type == S_IFIFO && Self.isNamed(fd)) else { throw .invalidArgument }
        if let e = kq.watch(kn, descriptor: fd, mask: type == S_IFDIR ? Self.directoryMask : Self.fileMask) {
            throw e
        }
        kn.lastData = Int(st.st_size)
        kn.hookID = Int(st.st_nlink)
    }

    func detach(_ kn: Knote, from kq: Kqueue) {
        kq.unwatch(kn)
    }

    /// A FIFO opened by path (its /proc link is that path), not a pipe("pipe:[N]").
    private static func isNamed(_ fd: Int32) -> Bool {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: 8) { buf in
            let n = readlink("/proc/self/fd/\(fd)", buf.baseAddress!, 8)
            return n > 0 && buf[0] == 0x2F       // "/"
        }
    }

    func touch(_ kn: Knote, with change: kevent, in kq: Kqueue) throws(Errno) {
        // A modify (re-add, or a change without EV_ENABLE/EV_DISABLE) replaces
        // the subscription; notes no longer asked for are dropped.
        kn.sfflags = change.fflags
        kn.sdata = change.data
        kn.fflags &= kn.sfflags
        if kn.fflags == 0 { kq.deactivate(kn) }
    }

    /// One inotify event is one BSD "hint": every note it implies is reported
    /// when any of them is subscribed (BSD's filt_vnode ORs the whole hint, so an
    /// append watched for NOTE_WRITE returns NOTE_WRITE|NOTE_EXTEND).
    func watchFired(_ kn: Knote, mask: UInt32, in kq: Kqueue) {
        var notes: UInt32 = 0
        var st = stat()
        let known = fstat(Int32(truncatingIfNeeded: kn.ident), &st) == 0
        // A size change is noticed on whichever event comes first: an attribute
        // change queued before the write's event must not swallow the growth.
        if known && st.st_mode & S_IFMT != S_IFDIR {
            if Int(st.st_size) > kn.lastData { notes |= UInt32(NOTE_EXTEND) }
            if Int(st.st_size) < kn.lastData { notes |= UInt32(NOTE_TRUNCATE) }
        }
        if mask & Inotify.modify != 0 { notes |= UInt32(NOTE_WRITE) }
        if mask & Inotify.attrib != 0 {
            if known && Int(st.st_nlink) != kn.hookID {
                notes |= st.st_nlink == 0 ? UInt32(NOTE_DELETE) : UInt32(NOTE_LINK)
            } else {
                notes |= UInt32(NOTE_ATTRIB)
            }
        }
        if mask & Inotify.entries != 0 {
            notes |= UInt32(NOTE_WRITE)
            // A subdirectory made or removed changes the directory's link count.
            if known && Int(st.st_nlink) != kn.hookID { notes |= UInt32(NOTE_LINK) }
        }
        if mask & Inotify.moveSelf != 0 { notes |= UInt32(NOTE_RENAME) }
        if mask & Inotify.deleteSelf != 0 { notes |= UInt32(NOTE_DELETE) }
        if known {
            kn.lastData = Int(st.st_size)
            kn.hookID = Int(st.st_nlink)
        }
        notes &= Self.notes
        if notes & kn.sfflags != 0 {
            kn.fflags |= notes
            kq.activate(kn)
        }
    }

    func isActive(_ kn: Knote) -> Bool { kn.fflags != 0 }

    func process(_ kn: Knote, epollEvents: UInt32, in kq: Kqueue) -> kevent? {
        guard kn.fflags != 0 else { return nil }
        // The notes are consumed by their delivery, as BSD's vnode filter clears them.
        let notes = kn.fflags
        kn.fflags = 0
        return kn.event(fflags: notes, data: 0)
    }

    func clear(_ kn: Knote) {
        kn.fflags = 0
    }
}
