// SPDX-License-Identifier: BSD-2-Clause
// VnodeFilter.swift: EVFILT_VNODE on inotify, following the open file.

import BSDSystem
import CBSDShimABI
import Glibc

/// EVFILT_VNODE (FreeBSD filt_vnode) on regular files and directories. The
/// kqueue's inotify instance (``VnodeSource``) watches the inode behind the descriptor (through
/// /proc/self/fd/N), so a renamed or moved file keeps reporting. Each inotify
/// event is one BSD "hint", the notes BSD's file systems post for that change:
///
/// | change                         | inotify                       | hint                            |
/// |--------------------------------|-------------------------------|---------------------------------|
/// | write                          | IN_MODIFY                     | NOTE_WRITE, + NOTE_EXTEND / NOTE_TRUNCATE by size |
/// | truncate                       | IN_MODIFY                     | NOTE_WRITE + NOTE_TRUNCATE / NOTE_EXTEND |
/// | chmod, chown, utimes, xattr    | IN_ATTRIB, link count same    | NOTE_ATTRIB                     |
/// | link(), unlink() of one name   | IN_ATTRIB, link count changed | NOTE_LINK                       |
/// | unlink() of the last name, renamed over | IN_ATTRIB, link count 0 | NOTE_DELETE                   |
/// | rename                         | IN_MOVE_SELF                  | NOTE_RENAME                     |
/// | rmdir                          | the parent's IN_DELETE, link count 0 | NOTE_DELETE              |
/// | directory: entry added, removed or renamed | IN_CREATE, IN_DELETE, IN_MOVED_* | NOTE_WRITE      |
/// | directory: subdirectory made, removed, moved in or out | the same with IN_ISDIR | + NOTE_LINK     |
/// | directory: entry moved in from or out to another directory | unpaired IN_MOVED_* | + NOTE_EXTEND (FreeBSD) |
///
/// A hint is reported whole when any of its notes is subscribed (BSD ORs the
/// whole hint: an append watched for NOTE_WRITE returns NOTE_WRITE|NOTE_EXTEND);
/// notes accumulate until delivered, and delivery consumes them.
///
/// Linux tells a directory of its own rmdir (IN_DELETE_SELF) only when its
/// last descriptor is closed, so a directory knote also watches the parent
/// directory for subdirectory removals and checks its own link count; it
/// moves that watch along when the directory is moved. NOTE_DELETE is
/// reported once: `hookID` keeps the link count last accounted for, 0 once
/// the deletion was reported. NOTE_REVOKE has no Linux counterpart: inotify's
/// IN_UNMOUNT comes only once no descriptor holds the file system, which the
/// knote's own descriptor does.
///
/// Any file-system object can be watched (regular files, directories, named
/// FIFOs, device nodes); descriptors that are no vnode on BSD (anonymous
/// pipes, sockets, eventfds, epoll...) are refused with EINVAL.
final class VnodeFilter: QueuedFilter {
    static let notes = UInt32(NOTE_DELETE | NOTE_WRITE | NOTE_EXTEND | NOTE_ATTRIB | NOTE_LINK
                              | NOTE_RENAME | NOTE_TRUNCATE)
    static let fileMask = Inotify.modify | Inotify.attrib | Inotify.moveSelf | Inotify.deleteSelf
    static let directoryMask = fileMask | Inotify.entries
    /// What a directory's knote watches in its parent: entries removed.
    static let parentMask = UInt32(IN_DELETE)
    /// Set by the kqueue's inotify drain on a move whose other half is not
    /// in the same directory (no inotify bit has this value).
    static let movedAcross: UInt32 = 0x0010_0000
    private static let isDirectory = UInt32(IN_ISDIR)
    private static let madeOrRemoved = UInt32(IN_CREATE | IN_DELETE)

    func attach(_ kn: Knote, to kq: EpollKqueue) throws(Errno) -> FilterOutcome {
        guard kn.ident <= UInt(Int32.max) else { throw .badFileDescriptor }
        let fd = Int32(kn.ident)
        let st = try FileDescriptorOps.status(fd)
        let type = st.type
        guard type == S_IFREG || type == S_IFDIR || type == S_IFCHR || type == S_IFBLK
                || (type == S_IFIFO && Self.isNamed(fd)) else { throw .invalidArgument }
        let watches = kq.source(VnodeSource.self)
        try watches.watch(kn, descriptor: fd, mask: type == S_IFDIR ? Self.directoryMask : Self.fileMask, in: kq)
        if type == S_IFDIR { watches.watchParent(kn, descriptor: fd, mask: Self.parentMask) }
        kn.lastData = st.size
        kn.hookID = st.links
        return .done
    }

    func detach(_ kn: Knote, from kq: EpollKqueue) -> FilterOutcome {
        let watches = kq.source(VnodeSource.self)
        watches.unwatch(kn)
        watches.unwatchParent(kn)
        return .checking(Int32(truncatingIfNeeded: kn.ident))
    }

    var identIsDescriptor: Bool { true }

    /// A FIFO opened by path (its /proc link is that path), not a pipe("pipe:[N]").
    private static func isNamed(_ fd: Int32) -> Bool {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: 8) { buf in
            guard let n = try? FileDescriptorOps.link(of: fd, into: buf) else { return false }
            return n > 0 && buf[0] == 0x2F       // "/"
        }
    }

    func touch(_ kn: Knote, with change: kevent, in kq: EpollKqueue) throws(Errno) -> FilterOutcome {
        // A modify (re-add, or a change without EV_ENABLE/EV_DISABLE) replaces
        // the subscription; notes no longer asked for are dropped.
        kn.sfflags = change.fflags
        kn.sdata = change.data
        kn.fflags &= kn.sfflags
        if kn.fflags == 0 { kq.deactivate(kn) }
        return .done
    }

    /// One inotify event on the file itself (or, for a directory, on one of its entries).
    func watchFired(_ kn: Knote, mask: UInt32, in kq: EpollKqueue) {
        guard mask & (Self.fileMask | Inotify.entries) != 0 else { return }  // IN_IGNORED, IN_UNMOUNT
        let fd = Int32(truncatingIfNeeded: kn.ident)
        if mask & Inotify.moveSelf != 0 && kn.watch.parent >= 0 {
            // Maybe moved to another directory: that one's removals are its rmdir now.
            kq.source(VnodeSource.self).watchParent(kn, descriptor: fd, mask: Self.parentMask)
        }
        let st = try? FileDescriptorOps.status(fd)
        let links = st?.links ?? kn.hookID
        var notes: UInt32 = 0
        if st?.isDirectory == true {
            if mask & Inotify.attrib != 0 { notes |= UInt32(NOTE_ATTRIB) }
            if mask & Inotify.entries != 0 {
                notes |= UInt32(NOTE_WRITE)
                let across = mask & Self.movedAcross != 0
                if mask & Self.isDirectory != 0 && (mask & Self.madeOrRemoved != 0 || across) {
                    notes |= UInt32(NOTE_LINK)
                }
                if across { notes |= UInt32(NOTE_EXTEND) }
            }
            // Its link count counts its subdirectories (on most file systems):
            // a change not explained above is one too (a directory renamed over
            // another inside it). A count of 0 is its own removal.
            if links != kn.hookID && links != 0 { notes |= UInt32(NOTE_LINK) }
            if links == 0 {
                // Removed, or another directory renamed over it (whose IN_ATTRIB
                // is the deletion alone). The count is read when kevent() drains
                // the events, not when they happened: an entry's event read
                // after the rmdir keeps its own notes, and the deletion joins them.
                // The deletion is a hint of its own (BSD posts it at the rmdir).
                if mask & Inotify.attrib != 0 { notes &= ~UInt32(NOTE_ATTRIB) }
                if kn.hookID != 0 {
                    post(notes, to: kn, in: kq)
                    notes = UInt32(NOTE_DELETE)
                }
            } else if mask & Inotify.deleteSelf != 0 && kn.hookID != 0 {
                notes |= UInt32(NOTE_DELETE)
            }
            kn.hookID = mask & Inotify.deleteSelf != 0 ? 0 : links
        } else {
            // A size change is noticed on whichever event comes first: an attribute
            // change queued before the write's event must not swallow the growth.
            if let size = st?.size {
                if size > kn.lastData { notes |= UInt32(NOTE_EXTEND) }
                if size < kn.lastData { notes |= UInt32(NOTE_TRUNCATE) }
                kn.lastData = size
            }
            if mask & Inotify.modify != 0 { notes |= UInt32(NOTE_WRITE) }
            // The link count is only looked at with the IN_ATTRIB that link(),
            // unlink() and rename-over send, so that a write queued before it
            // does not take its change as its own.
            if mask & Inotify.attrib != 0 {
                if links == 0 && kn.hookID == 0 {
                    // An IN_ATTRIB read after the deletion was accounted for
                    // (the count is read when kevent() drains the events): the
                    // rest of the link changes that led there (a link(), then
                    // the unlinks of both names, read together).
                    notes |= UInt32(NOTE_LINK)
                } else if links == kn.hookID {
                    notes |= UInt32(NOTE_ATTRIB)
                } else if links != 0 {
                    notes |= UInt32(NOTE_LINK)
                } else {
                    // inotify merges the IN_ATTRIBs of unlinks in a row: from 2
                    // or more names to none is a link change and the deletion.
                    notes |= UInt32(NOTE_DELETE) | (kn.hookID > 1 ? UInt32(NOTE_LINK) : 0)
                }
                kn.hookID = links
            }
            if mask & Inotify.deleteSelf != 0 {
                if kn.hookID != 0 { notes |= UInt32(NOTE_DELETE) }
                kn.hookID = 0
            }
        }
        if mask & Inotify.moveSelf != 0 { notes |= UInt32(NOTE_RENAME) }
        post(notes, to: kn, in: kq)
    }

    /// An event of a directory knote's parent directory: a subdirectory
    /// removed may have been this one (its link count is then 0).
    func parentChanged(_ kn: Knote, mask: UInt32, in kq: EpollKqueue) {
        guard mask & UInt32(IN_DELETE) != 0, mask & Self.isDirectory != 0, kn.hookID != 0 else { return }
        guard let st = try? FileDescriptorOps.status(Int32(truncatingIfNeeded: kn.ident)),
              st.links == 0, st.isDirectory else { return }
        kn.hookID = 0
        post(UInt32(NOTE_DELETE), to: kn, in: kq)
    }

    private func post(_ hint: UInt32, to kn: Knote, in kq: EpollKqueue) {
        let notes = hint & Self.notes
        if notes & kn.sfflags != 0 {
            kn.fflags |= notes
            kq.activate(kn)
        }
    }

    func isActive(_ kn: Knote) -> Bool { kn.fflags != 0 }

    func process(_ kn: Knote, epollEvents: UInt32, in kq: EpollKqueue) -> kevent? {
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
