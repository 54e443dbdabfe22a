// SPDX-License-Identifier: BSD-2-Clause
// KqueueWatch.swift: watching a file or directory by path (open, then EVFILT_VNODE).

import SystemPackage

extension Kqueue {
    /// Opens the file or directory at `path` and registers a
    /// ``Filter/vnode(_:_:)`` for `events` on it; returns the descriptor.
    /// The caller owns the descriptor: the registration lasts while it is open,
    /// and it is closed after ``delete(_:)`` (or after a `.delete` event).
    ///
    /// The file is opened read-only, non-blocking (a FIFO does not wait for a
    /// writer) and close-on-exec. The watch follows the file, not the name: it
    /// goes on after a rename. A directory reports `.write` when entries are
    /// added or removed.
    ///
    /// ```swift
    /// let log = try kq.watch("/var/log/app.log", for: [.write, .delete])
    /// defer { try? log.close() }
    /// for event in try kq.wait() {
    ///     if case .vnode(log, let changes) = event.kind, changes.contains(.write) { print("written") }
    /// }
    /// ```
    /// - Parameters:
    ///   - path: the file or directory.
    ///   - events: the changes to report.
    ///   - flags: registration flags; by default `.clear` (each change reported once).
    ///   - userData: any value, returned in each ``Event/userData``.
    /// - Throws: the errno of `open` (`ENOENT`, `EACCES`, `ENOTDIR`...) or of the
    ///   registration, as ``register(_:flags:userData:)``; nothing stays open then.
    public func watch(_ path: FilePath, for events: VnodeEvents = .all, flags: Flags = .clear,
                      userData: UInt = 0) throws(Errno) -> FileDescriptor {
        let fd: FileDescriptor
        do {
            fd = try FileDescriptor.open(path, .readOnly, options: [.nonBlocking, .closeOnExec])
        } catch {
            // swift-system throws only Errno from open; EIO covers anything else.
            throw (error as? Errno) ?? .ioError
        }
        do {
            try register(.vnode(fd, events), flags: flags, userData: userData)
        } catch {
            try? fd.close()
            throw error
        }
        return fd
    }
}
