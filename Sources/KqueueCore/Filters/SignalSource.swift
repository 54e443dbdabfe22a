// SPDX-License-Identifier: BSD-2-Clause
// SignalSource.swift: EVFILT_SIGNAL's per-kqueue state: its knotes and its watch of the shared signal descriptors.

import BSDSystem

/// The signal knotes of one kqueue and its registration of the process-wide
/// descriptors (``SignalHub``): the signalfd (level: pending signals to read)
/// and the hub eventfd (edge: a counting handler ran). Either makes every
/// knote compare its count with the shared one.
final class SignalSource: KqueueSource {
    static let key = SourceKey()

    /// Parts of the source: which shared descriptor polled readable.
    private static let signalFDPart = 0
    private static let hubPart = 1

    @exclusivity(unchecked) private(set) var knotes: [Knote] = []
    /// The ``SignalHub`` generation whose descriptors are in the epoll set, 0 for none.
    @exclusivity(unchecked) private var watching = 0

    init() {}

    /// Adds `kn`, registering the shared descriptors if this kqueue does not
    /// watch the current ones yet.
    func add(_ kn: Knote, in kq: EpollKqueue) throws(Errno) {
        let (sfd, hub, generation) = SignalHub.descriptors
        if watching != generation {
            try kq.addSourceDescriptor(hub, of: Self.key, part: Self.hubPart,
                                       events: Epoll.readable | Epoll.edgeTriggered)
            do throws(Errno) {
                try kq.addSourceDescriptor(sfd, of: Self.key, part: Self.signalFDPart, events: Epoll.readable)
            } catch {
                kq.removeSourceDescriptor(hub)
                throw error
            }
            watching = generation
        }
        knotes.append(kn)
    }

    func remove(_ kn: Knote) {
        knotes.removeAll { $0 === kn }
    }

    func ready(part: Int, in kq: EpollKqueue) {
        if part == Self.signalFDPart {
            // Read it once the lock is released: reading applies the program's
            // disposition, whose handler may call kevent().
            kq.runUnlocked(self)
        } else {
            refresh(in: kq)
        }
    }

    func waitInterrupted(in kq: EpollKqueue) {
        refresh(in: kq)
    }

    func runUnlocked(in kq: EpollKqueue) {
        SignalHub.drainSignalFD()
        kq.locked {
            refresh(in: kq)
            kq.syncWakeup()
        }
    }

    /// The shared descriptors are the hub's, closed by it.
    func closeDescriptors() {}

    /// Brings every signal knote up to the shared counts.
    private func refresh(in kq: EpollKqueue) {
        for kn in knotes { FilterTable.signal.refresh(kn, in: kq) }
    }
}
