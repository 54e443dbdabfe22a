// SPDX-License-Identifier: BSD-2-Clause
// FsSource.swift: EVFILT_FS's per-kqueue state: the mount table it watches and its knotes.

import BSDSystem
import Glibc

/// /proc/self/mountinfo open in one kqueue's epoll set while it has FS knotes
/// (EPOLLPRI: the table changed), the number of mounts last counted, and the
/// knotes to tell.
final class FsSource: KqueueSource {
    static let key = SourceKey()

    @exclusivity(unchecked) private var mountTableFD: Int32 = -1
    @exclusivity(unchecked) private var mountCount = 0
    @exclusivity(unchecked) private var knotes: [Knote] = []

    init() {}

    /// Adds `kn`, opening the mount table for the first one.
    func add(_ kn: Knote, in kq: EpollKqueue) throws(Errno) {
        if mountTableFD < 0 {
            let fd = try FileDescriptorOps.openReadOnly("/proc/self/mountinfo")
            do throws(Errno) {
                try kq.addSourceDescriptor(fd, of: Self.key, part: 0, events: Epoll.priority | Epoll.error)
            } catch {
                FileDescriptorOps.close(fd)
                throw error
            }
            mountTableFD = fd
            mountCount = countMounts(fd)
        }
        knotes.append(kn)
    }

    /// Removes `kn`, closing the mount table after the last one.
    func remove(_ kn: Knote, in kq: EpollKqueue) {
        knotes.removeAll { $0 === kn }
        guard knotes.isEmpty, mountTableFD >= 0 else { return }
        kq.removeSourceDescriptor(mountTableFD)
        FileDescriptorOps.close(mountTableFD)
        mountTableFD = -1
    }

    func ready(part: Int, in kq: EpollKqueue) {
        guard mountTableFD >= 0 else { return }
        let before = mountCount
        mountCount = countMounts(mountTableFD)
        for kn in knotes { FilterTable.fs.mountsChanged(kn, before: before, after: mountCount, in: kq) }
    }

    func closeDescriptors() {
        if mountTableFD >= 0 { FileDescriptorOps.close(mountTableFD) }
    }

    /// Counts the entries of the mount table open as `fd` (one line each).
    private func countMounts(_ fd: Int32) -> Int {
        var lines = 0
        var offset = 0
        withUnsafeTemporaryAllocation(byteCount: 8192, alignment: 8) { buf in
            while let n = try? FileDescriptorOps.read(fd, into: buf, at: offset), n > 0 {
                offset += n
                for i in 0..<n where buf[i] == 0x0A { lines += 1 }
            }
        }
        return lines
    }
}
