// SPDX-License-Identifier: BSD-2-Clause
// KqueueEventBuffer.swift: reusable storage that kqueue waits fill (no allocation per wait).

import CBSDShimABI

extension Kqueue {
    /// Storage for the events of one wait, reused from wait to wait. After
    /// ``Kqueue/wait(into:timeout:)`` it holds that wait's events as a collection.
    ///
    /// Not thread-safe: give each waiting thread its own buffer.
    ///
    /// ```swift
    /// let buffer = Kqueue.EventBuffer(capacity: 64)
    /// while running {
    ///     try kq.wait(into: buffer, timeout: .seconds(1))
    ///     for event in buffer { handle(event) }
    /// }
    /// ```
    public final class EventBuffer: RandomAccessCollection {
        /// Raw events, `capacity` of them.
        let storage: UnsafeMutablePointer<kevent>
        /// The most events one wait can return.
        ///
        /// ```swift
        /// Kqueue.EventBuffer(capacity: 32).capacity   // 32
        /// ```
        public let capacity: Int
        /// Events the last wait returned.
        ///
        /// ```swift
        /// try kq.wait(into: buffer, timeout: .zero); print(buffer.count)
        /// ```
        public internal(set) var count = 0

        /// A buffer for up to `capacity` events per wait (at least 1).
        ///
        /// ```swift
        /// let buffer = Kqueue.EventBuffer(capacity: 128)
        /// ```
        public init(capacity: Int = 64) {
            self.capacity = Swift.max(1, capacity)
            storage = .allocate(capacity: self.capacity)
            storage.initialize(repeating: kevent(), count: self.capacity)
        }

        deinit {
            storage.deallocate()
        }

        /// The first index (0).
        ///
        /// ```swift
        /// let first = buffer[buffer.startIndex]
        /// ```
        public var startIndex: Int { 0 }
        /// One past the last event of the last wait.
        ///
        /// ```swift
        /// for i in buffer.startIndex..<buffer.endIndex { print(buffer[i]) }
        /// ```
        public var endIndex: Int { count }

        /// The event at `position` (0 ..< ``count``).
        ///
        /// ```swift
        /// let event = buffer[0]
        /// ```
        public subscript(position: Int) -> Event {
            precondition(position >= 0 && position < count, "event index out of range")
            return Event(storage[position])
        }
    }
}
