// SPDX-License-Identifier: BSD-2-Clause
// KqueueSource.swift: the kernel resources one filter keeps per kqueue (timerfds, inotify, signalfd...).

import Synchronization

/// Identifies a kind of ``KqueueSource``: its index in every kqueue's source
/// table, handed out on first use, so no central list names the sources and
/// the reserved epoll tags of their descriptors need no hand numbering.
struct SourceKey: Sendable {
    let index: Int

    private static let next = Atomic<Int>(0)

    init() {
        index = Self.next.wrappingAdd(1, ordering: .relaxed).oldValue
        precondition(index < EpollKqueue.maxSources, "more source kinds than reserved epoll tags")
    }
}

/// What a filter needs of the kernel per kqueue, beyond its knotes' own
/// descriptors (libkqueue's per-kqueue `struct filter` state): a timerfd per
/// clock, an inotify instance, the shared signalfd's registration, the mount
/// table, the process-events connector. Made by the filter on first use
/// (``EpollKqueue/source(_:)``), kept until the kqueue goes. Every method but
/// ``closeDescriptors()`` and ``runUnlocked(in:)`` is called with the kqueue's
/// lock held, which guards the source's state: its stored properties opt out
/// of dynamic exclusivity checks (`@exclusivity(unchecked)`), as the kqueue's do.
protocol KqueueSource: AnyObject {
    /// This kind's place in a kqueue's source table (`static let key = SourceKey()`).
    static var key: SourceKey { get }

    init()

    /// Epoll reported the source's descriptor registered with
    /// ``EpollKqueue/addSourceDescriptor(_:of:part:events:)`` as `part`.
    func ready(part: Int, in kq: EpollKqueue)

    /// Userspace deadlines (timers) that are due: queue their knotes. Asked
    /// of the sources in ``EpollKqueue/deadlineSources`` while any has a deadline
    /// (``EpollKqueue/sourcesWithDeadlines``).
    func fireDue(in kq: EpollKqueue)

    /// The kqueue's wait was interrupted by a signal: look for what it brought.
    func waitInterrupted(in kq: EpollKqueue)

    /// Work the source asked for with ``EpollKqueue/runUnlocked(_:)``, run with no
    /// lock held (it may call into the program, e.g. a signal handler).
    func runUnlocked(in kq: EpollKqueue)

    /// Closes the source's descriptors without touching the epoll set: the
    /// kqueue is being freed, or this is a fork child abandoning it.
    func closeDescriptors()
}

extension KqueueSource {
    func fireDue(in kq: EpollKqueue) {}
    func waitInterrupted(in kq: EpollKqueue) {}
    func runUnlocked(in kq: EpollKqueue) {}
}
