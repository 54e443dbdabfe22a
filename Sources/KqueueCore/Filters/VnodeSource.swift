// SPDX-License-Identifier: BSD-2-Clause
// VnodeSource.swift: EVFILT_VNODE's per-kqueue inotify instance and its watches.

import BSDSystem
import Glibc

/// The inotify instance of one kqueue (made on first use) and which knotes
/// each watch serves. EVFILT_VNODE watches its files and directories here;
/// EVFILT_READ on a regular file (growth past end of file) and EVFILT_WRITE
/// on a pipe below NOTE_LOWAT (a reader freeing space) borrow it. A watch is
/// per inode, shared by every knote on it; its masks accumulate.
final class VnodeSource: KqueueSource {
    static let key = SourceKey()

    @exclusivity(unchecked) private var inotify: Inotify?
    /// Watch descriptor -> the knotes watching that inode.
    @exclusivity(unchecked) private var watchers: [Int32: [Unmanaged<Knote>]] = [:]
    /// Directory knotes by the watch descriptor of their parent directory.
    @exclusivity(unchecked) private var parentWatchers: [Int32: [Unmanaged<Knote>]] = [:]

    init() {}

    /// Watches the file open as `fd` for `mask` on behalf of `kn`. Throws why
    /// it could not (e.g. ENOSPC: the user's inotify watch limit).
    func watch(_ kn: Knote, descriptor fd: Int32, mask: UInt32, in kq: EpollKqueue) throws(Errno) {
        if kn.watch.descriptor >= 0 { return }
        if inotify == nil {
            let made = try Inotify.create()
            do throws(Errno) {
                try kq.addSourceDescriptor(made.fd, of: Self.key, part: 0, events: Epoll.readable)
            } catch {
                FileDescriptorOps.close(made.fd)
                throw error
            }
            inotify = made
        }
        let wd = try inotify!.watch(descriptor: fd, mask: mask)
        kn.watch.descriptor = wd
        watchers[wd, default: []].append(Unmanaged.passUnretained(kn))
    }

    func unwatch(_ kn: Knote) {
        let wd = kn.watch.descriptor
        guard wd >= 0 else { return }
        kn.watch.descriptor = -1
        Self.remove(kn, from: &watchers, wd)
        releaseWatch(wd)
    }

    /// Watches the directory holding the directory open as `fd` (its "..") on
    /// behalf of `kn`, moving the knote's parent watch there if it had another
    /// one. Linux tells a watched directory of its own rmdir only once its last
    /// descriptor is closed; the parent's IN_DELETE tells at once. Failure (no
    /// read permission on the parent, the watch limit) costs only that report.
    func watchParent(_ kn: Knote, descriptor fd: Int32, mask: UInt32) {
        guard let i = inotify, let wd = try? i.watchParent(descriptor: fd, mask: mask),
              wd != kn.watch.parent else { return }
        unwatchParent(kn)
        kn.watch.parent = wd
        parentWatchers[wd, default: []].append(Unmanaged.passUnretained(kn))
    }

    func unwatchParent(_ kn: Knote) {
        let wd = kn.watch.parent
        guard wd >= 0 else { return }
        kn.watch.parent = -1
        Self.remove(kn, from: &parentWatchers, wd)
        releaseWatch(wd)
    }

    private static func remove(_ kn: Knote, from table: inout [Int32: [Unmanaged<Knote>]], _ wd: Int32) {
        guard var list = table[wd] else { return }
        list.removeAll { $0.toOpaque() == Unmanaged.passUnretained(kn).toOpaque() }
        table[wd] = list.isEmpty ? nil : list
    }

    /// Removes the kernel watch once no knote uses it in either role.
    private func releaseWatch(_ wd: Int32) {
        if watchers[wd] == nil && parentWatchers[wd] == nil { inotify?.unwatch(wd) }
    }

    /// Hands every pending inotify event to the knotes watching that inode,
    /// then to the directory knotes whose parent it is.
    func ready(part: Int, in kq: EpollKqueue) {
        guard let i = inotify else { return }
        i.drainPairingMoves { wd, mask in
            let list = watchers[wd], parents = parentWatchers[wd]
            if mask & Inotify.ignored != 0 {
                // The inode is gone (or the watch was removed): forget it.
                watchers[wd] = nil
                parentWatchers[wd] = nil
                for ref in list ?? [] { ref.takeUnretainedValue().watch.descriptor = -1 }
                for ref in parents ?? [] { ref.takeUnretainedValue().watch.parent = -1 }
            }
            for ref in list ?? [] {
                let kn = ref.takeUnretainedValue()
                kn.ops.watchFired(kn, mask: mask, in: kq)
            }
            for ref in parents ?? [] {
                FilterTable.vnode.parentChanged(ref.takeUnretainedValue(), mask: mask, in: kq)
            }
        }
    }

    func closeDescriptors() {
        if let i = inotify { FileDescriptorOps.close(i.fd) }
    }
}

extension Inotify {
    /// Reads pending events, calling `body(wd, mask)` for each, until none is
    /// left. An event about an entry of a watched directory (it carries the
    /// entry's name) keeps only its entry bits and IN_ISDIR: a file inside a
    /// directory being written or chmod'ed is no change of the directory
    /// itself (BSD's EVFILT_VNODE on a directory reports neither). A move gets
    /// ``VnodeFilter/movedAcross`` too unless its other half (the event with
    /// its cookie) is an event of the same watch in the same read: the entry
    /// went to, or came from, another directory.
    func drainPairingMoves(_ body: (Int32, UInt32) -> Void) {
        let header = MemoryLayout<inotify_event>.size
        let moves = UInt32(IN_MOVED_FROM | IN_MOVED_TO)
        withUnsafeTemporaryAllocation(byteCount: 4096, alignment: 8) { buf in
            let base = UnsafeRawPointer(buf.baseAddress!)
            while true {
                guard let n = try? FileDescriptorOps.read(fd, into: buf), n > 0 else { return }
                var off = 0
                while off + header <= n {
                    let ev = base.advanced(by: off).loadUnaligned(as: inotify_event.self)
                    var mask = ev.len > 0 ? ev.mask & (Self.entries | UInt32(IN_ISDIR)) : ev.mask
                    if ev.mask & moves != 0 {
                        var paired = false
                        var o = 0
                        while o + header <= n {
                            let other = base.advanced(by: o).loadUnaligned(as: inotify_event.self)
                            if o != off && other.cookie == ev.cookie && other.mask & moves != 0
                                && other.mask & moves != ev.mask & moves {
                                paired = other.wd == ev.wd
                                break
                            }
                            o += header + Int(other.len)
                        }
                        if !paired { mask |= VnodeFilter.movedAcross }
                    }
                    if mask != 0 { body(ev.wd, mask) }
                    off += header + Int(ev.len)
                }
            }
        }
    }
}
