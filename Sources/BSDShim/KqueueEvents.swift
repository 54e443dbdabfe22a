// SPDX-License-Identifier: BSD-2-Clause
// KqueueEvents.swift: a kqueue's events as an AsyncSequence (no thread held while idle).

import SystemPackage

extension Kqueue {
    /// The events of a kqueue as an `AsyncSequence` (see ``Kqueue/events``).
    ///
    /// Each iterator polls the kqueue without blocking; when nothing is pending
    /// the task suspends and a single process-wide thread resumes it once the
    /// kqueue's descriptor becomes readable. Iteration ends (nil) when the
    /// kqueue is closed or the task is cancelled. Several iterators on one
    /// kqueue share its events: each event goes to one of them. Events are
    /// fetched up to 16 at a time, and those not yet delivered stay with the
    /// kqueue: after `break`, the next iteration or ``Kqueue/wait(into:timeout:)``
    /// returns them (EV_CLEAR and EV_ONESHOT events included, each once).
    ///
    /// ```swift
    /// let kq = try Kqueue()
    /// try kq.register(.timer(1, interval: .milliseconds(20)))
    /// var ticks = 0
    /// for try await event in kq.events {
    ///     if case .timer = event.kind { ticks += 1 }
    ///     if ticks == 3 { break }
    /// }
    /// ```
    public struct Events: AsyncSequence, Sendable {
        /// A delivered event.
        public typealias Element = Event
        /// The kqueue's errors.
        public typealias Failure = Errno

        let kqueue: Kqueue

        /// An iterator fetching up to 16 events per poll (those it does not
        /// deliver stay with the kqueue).
        ///
        /// ```swift
        /// var it = kq.events.makeAsyncIterator()
        /// ```
        public func makeAsyncIterator() -> AsyncIterator {
            AsyncIterator(kqueue: kqueue)
        }

        /// Iterates a kqueue's events; not shared between tasks.
        ///
        /// ```swift
        /// var it = kq.events.makeAsyncIterator()
        /// while let event = try await it.next() { print(event) }
        /// ```
        public struct AsyncIterator: AsyncIteratorProtocol {
            let kqueue: Kqueue
            /// Where each poll lands; all but the event returned stay with the
            /// kqueue at once, so breaking out of a loop loses none.
            let scratch = EventBuffer(capacity: 16)

            /// The next event; nil once the kqueue is closed or the task cancelled.
            ///
            /// ```swift
            /// var it = kq.events.makeAsyncIterator()
            /// let first = try await it.next()
            /// ```
            /// - Throws: an `Errno` the kqueue reported (other than being closed).
            public mutating func next() async throws(Errno) -> Event? {
                try await next(isolation: nil)
            }

            /// The next event, as ``next()``, staying in the caller's isolation.
            ///
            /// ```swift
            /// let event = try await it.next(isolation: #isolation)
            /// ```
            public mutating func next(isolation actor: isolated (any Actor)?) async throws(Errno) -> Event? {
                while true {
                    if Task.isCancelled || kqueue.isClosed { return nil }
                    do {
                        if let event = try kqueue.nextEvent(scratch: scratch) { return event }
                    } catch {
                        if kqueue.isClosed { return nil }
                        if error == .interrupted { continue }
                        throw error
                    }
                    // Nothing pending: suspend until the descriptor is readable.
                    let kq = kqueue
                    let woke = await ReadinessReactor.shared.waitReadable(kq.rawDescriptor) { kq.isClosed }
                    if !woke && !Task.isCancelled && !kq.isClosed {
                        // The reactor could not watch it (no thread, epoll refused): poll slowly.
                        try? await Task.sleep(for: .milliseconds(5))
                    }
                }
            }
        }
    }
}
