// SPDX-License-Identifier: BSD-2-Clause
// ProcSource.swift: EVFILT_PROC's per-kqueue process-events connector (NOTE_FORK, NOTE_EXEC, NOTE_TRACK).

import BSDSystem
import CBSDShim
import CBSDShimABI

/// The netlink socket that reports forks and execs, open in one kqueue's
/// epoll set while any of its knotes asks for those notes.
final class ProcSource: KqueueSource {
    static let key = SourceKey()

    @exclusivity(unchecked) private var connector: ProcessConnector?
    @exclusivity(unchecked) private var users = 0

    init() {}

    /// Opens the connector for its first user.
    func use(in kq: EpollKqueue) throws(Errno) {
        if users == 0 {
            let c = try ProcessConnector.open()
            do throws(Errno) {
                try kq.addSourceDescriptor(c.fd, of: Self.key, part: 0, events: Epoll.readable)
            } catch {
                FileDescriptorOps.close(c.fd)
                throw error
            }
            connector = c
        }
        users += 1
    }

    /// Closes the connector after its last user.
    func release(in kq: EpollKqueue) {
        users -= 1
        guard users == 0, let c = connector else { return }
        kq.removeSourceDescriptor(c.fd)
        FileDescriptorOps.close(c.fd)
        connector = nil
    }

    /// Hands forks and execs of watched processes to their knotes.
    func ready(part: Int, in kq: EpollKqueue) {
        guard let c = connector else { return }
        withUnsafeTemporaryAllocation(of: cbsdshim_proc_event.self, capacity: 64) { buf in
            while true {
                let n = c.read(into: buf)
                if n <= 0 { return }
                for i in 0..<n {
                    let ev = buf[i]
                    if ev.kind == Int32(CBSDSHIM_PROC_FORK) {
                        // A new thread is not a new process.
                        guard ev.pid == ev.tgid, let kn = kq.knotes[UInt(ev.parent_tgid), Int16(EVFILT_PROC)] else { continue }
                        FilterTable.proc.forked(kn, child: ev.tgid, in: kq)
                    } else if let kn = kq.knotes[UInt(ev.tgid), Int16(EVFILT_PROC)] {
                        FilterTable.proc.execed(kn, in: kq)
                    }
                }
            }
        }
    }

    func closeDescriptors() {
        if let c = connector { FileDescriptorOps.close(c.fd) }
    }
}
