// SPDX-License-Identifier: BSD-2-Clause
// Kqueue.swift: a kqueue for Swift programs: typed registration and waiting over KqueueCore.

internal import enum BSDSystem.FileDescriptorOps
import CBSDShimABI
import Glibc
internal import KqueueCore
import Synchronization
import SystemPackage

/// A BSD kqueue: register interest in descriptors, files, processes, signals,
/// timers and user events, then wait for them, synchronously or as an
/// `AsyncSequence`.
///
/// The kqueue owns its descriptor (a real, pollable one) and closes it in
/// ``close()`` or when the object goes away. All methods are thread-safe.
/// Errors are swift-system's `Errno`; descriptors are `FileDescriptor`s.
///
/// ```swift
/// let kq = try Kqueue()
/// let (readEnd, writeEnd) = try FileDescriptor.pipe()
/// try kq.register(.read(readEnd), userData: 1)
/// try kq.register(.timer(7, interval: .milliseconds(100)))
/// let buffer = Kqueue.EventBuffer(capacity: 16)
/// try kq.wait(into: buffer, timeout: .seconds(1))
/// for event in buffer { print(event.kind) }
/// ```
public final class Kqueue: Sendable {
    /// The kqueue's descriptor (usable with poll/epoll, or the C `kevent()`).
    /// The kqueue owns it: do not close it yourself.
    ///
    /// ```swift
    /// var pfd = pollfd(fd: kq.descriptor.rawValue, events: Int16(POLLIN), revents: 0)
    /// ```
    public var descriptor: FileDescriptor { FileDescriptor(rawValue: rawDescriptor) }
    /// The descriptor's number (kept as a plain number: `FileDescriptor` is not `Sendable`).
    let rawDescriptor: Int32
    let core: KqueueCore.EpollKqueue
    let closed = Atomic<Bool>(false)
    /// Events taken from the core but not yet delivered: the rest of the batch
    /// an async iteration fetched when it ended early. They are still this
    /// kqueue's (the core has already cleared or deleted EV_CLEAR and
    /// EV_ONESHOT registrations), so the next iteration or wait returns them first.
    let undelivered = LockedValue(UndeliveredEvents())

    /// Creates a kqueue. The corresponding C function is `kqueue`.
    ///
    /// ```swift
    /// let kq = try Kqueue()
    /// ```
    /// - Throws: `EMFILE`/`ENFILE` (no descriptors left), `ENOMEM`.
    public init() throws(Errno) {
        let kq: KqueueCore.EpollKqueue
        do { kq = try KqueueCore.EpollKqueue.create() } catch { throw Errno(core: error) }
        core = kq
        rawDescriptor = kq.fd
    }

    deinit {
        close()
    }

    /// Whether ``close()`` was called.
    ///
    /// ```swift
    /// kq.close(); assert(kq.isClosed)
    /// ```
    public var isClosed: Bool { closed.load(ordering: .acquiring) }

    /// Closes the kqueue: every registration goes, waiters and async iterations
    /// end (waits throw `EBADF`, iterations return nil). Closing twice is harmless.
    ///
    /// ```swift
    /// kq.close()
    /// ```
    public func close() {
        if closed.exchange(true, ordering: .acquiringAndReleasing) { return }
        undelivered.withLock { $0.removeAll() }
        // The core forgets the kqueue and wakes its waiters before the number can be reused.
        KqueueRegistry.descriptorClosing(rawDescriptor)
        ReadinessReactor.shared.forget(rawDescriptor)
        FileDescriptorOps.close(rawDescriptor)
    }

    // MARK: - Registration

    /// Adds a registration, or modifies the one for the same filter and
    /// identifier. The corresponding C call is `kevent` with `EV_ADD`.
    ///
    /// ```swift
    /// try kq.register(.write(socket), flags: .oneshot, userData: 42)
    /// ```
    /// - Parameters:
    ///   - filter: what to watch.
    ///   - flags: one-shot, clear, dispatch or disabled behaviour.
    ///   - userData: any value, returned in each ``Event/userData``.
    /// - Throws: `EBADF` (not an open descriptor), `ESRCH` (no such process),
    ///   `EINVAL` (bad signal, negative interval, a filter that cannot watch that
    ///   descriptor), `ENOSPC` (inotify watch limit), `EOPNOTSUPP`, `ENOMEM`.
    public func register(_ filter: Filter, flags: Flags = [], userData: UInt = 0) throws(Errno) {
        try applyOne(Change.add(filter, flags: flags, userData: userData))
    }

    /// Changes an existing registration's arguments (low-water mark, vnode
    /// events, timer interval...) and user data. The corresponding C call is
    /// `kevent` with no action flag.
    ///
    /// ```swift
    /// try kq.modify(.timer(7, interval: .seconds(2)))
    /// ```
    /// - Throws: `ENOENT` (no such registration), and as ``register(_:flags:userData:)``.
    public func modify(_ filter: Filter, userData: UInt = 0) throws(Errno) {
        // A change without EV_ADD names an existing registration (ENOENT if none)
        // and sets its user data; the filters take new arguments (and re-arm)
        // only on EV_ADD, which follows. A delete in between would let EV_ADD
        // create the registration anew.
        try applyOne(Change.modify(filter, userData: userData))
        try applyOne(Change.add(filter, userData: userData))
    }

    /// Deletes a registration. The corresponding C call is `kevent` with `EV_DELETE`.
    ///
    /// ```swift
    /// try kq.delete(.read(fd))
    /// ```
    /// - Throws: `ENOENT` (no such registration), `EBADF` (the kqueue is closed).
    public func delete(_ filter: Filter) throws(Errno) {
        try applyOne(Change.delete(filter))
    }

    /// Enables a disabled registration. The corresponding C call is `kevent` with `EV_ENABLE`.
    ///
    /// ```swift
    /// try kq.enable(.user(1))
    /// ```
    /// - Throws: `ENOENT` (no such registration).
    public func enable(_ filter: Filter) throws(Errno) {
        try applyOne(Change.enable(filter))
    }

    /// Disables a registration without deleting it. The corresponding C call is
    /// `kevent` with `EV_DISABLE`.
    ///
    /// ```swift
    /// try kq.disable(.read(fd))
    /// ```
    /// - Throws: `ENOENT` (no such registration).
    public func disable(_ filter: Filter) throws(Errno) {
        try applyOne(Change.disable(filter))
    }

    /// Triggers a ``Filter/user(_:)`` registration, optionally OR-ing `flags`
    /// (24 bits) into its user flags. The corresponding C call is `kevent` with `NOTE_TRIGGER`.
    /// As on BSD, the change also sets the registration's user data.
    ///
    /// ```swift
    /// try kq.register(.user(1), flags: .clear, userData: 5)
    /// try kq.trigger(user: 1, userData: 5)
    /// ```
    /// - Throws: `ENOENT` (no such registration).
    public func trigger(user identifier: UInt, flags: UInt32 = 0, userData: UInt = 0) throws(Errno) {
        let fflags = UInt32(NOTE_TRIGGER) | UInt32(NOTE_FFOR) | (flags & UInt32(NOTE_FFLAGSMASK))
        try applyOne(Change(identifier: identifier, filter: Int16(EVFILT_USER), flags: 0,
                                   filterFlags: fflags, data: 0, userData: userData))
    }

    /// Applies changes in order, as one `kevent` call. A change that fails does
    /// not stop the others; the result has one entry per change: nil for
    /// success, else why it failed.
    ///
    /// ```swift
    /// let results = try kq.apply([.add(.read(a)), .add(.read(b)), .delete(.user(3))])
    /// if let error = results[2] { print("no user event 3: \(error)") }
    /// ```
    /// - Throws: `EBADF` if the kqueue is closed.
    @discardableResult
    public func apply(_ changes: [Change]) throws(Errno) -> [Errno?] {
        if changes.isEmpty { return [] }
        let raw = changes.map { c -> kevent in
            var k = c.raw
            k.flags |= UInt16(EV_RECEIPT)
            return k
        }
        let out = UnsafeMutablePointer<kevent>.allocate(capacity: raw.count)
        defer { out.deallocate() }
        let n = try raw.withUnsafeBufferPointer { (b) throws(Errno) -> Int in
            try keventCall(b.baseAddress, b.count, out, b.count, timeout: 0)
        }
        // EV_RECEIPT reports every change, in order.
        var results = [Errno?](repeating: nil, count: changes.count)
        for i in 0..<min(n, changes.count) where out[i].data != 0 {
            results[i] = Errno(rawValue: Int32(truncatingIfNeeded: out[i].data))
        }
        for (change, result) in zip(changes, results) where result == nil {
            forgetUndelivered(change)
        }
        return results
    }

    /// One change with EV_RECEIPT, on the stack.
    private func applyOne(_ change: Change) throws(Errno) {
        var k = change.raw
        k.flags |= UInt16(EV_RECEIPT)
        var out = kevent()
        let n = try keventCall(&k, 1, &out, 1, timeout: 0)
        if n == 1 && out.data != 0 { throw Errno(rawValue: Int32(truncatingIfNeeded: out.data)) }
        forgetUndelivered(change)
    }

    /// After a successful EV_DELETE the registration's undelivered events go
    /// too, as a BSD kqueue drops a deleted knote's queued event.
    private func forgetUndelivered(_ change: Change) {
        guard change.flags & UInt16(EV_DELETE) != 0 else { return }
        undelivered.withLock { $0.remove(identifier: change.identifier, filter: change.filter) }
    }

    // MARK: - Waiting

    /// Waits for events and stores them in `buffer`, which then holds them.
    /// The corresponding C call is `kevent` with an event list. Events an
    /// async iteration fetched but did not deliver (it ended early) come
    /// first, without waiting.
    ///
    /// ```swift
    /// let buffer = Kqueue.EventBuffer(capacity: 32)
    /// let n = try kq.wait(into: buffer, timeout: .milliseconds(500))
    /// for event in buffer { print(event) }   // n events
    /// ```
    /// - Parameters:
    ///   - buffer: reused storage; at most its capacity events are returned.
    ///   - timeout: how long to wait; nil waits until an event, `.zero` only polls.
    /// - Returns: the number of events (0 when the timeout passed).
    /// - Throws: `EBADF` (the kqueue is closed), `EINTR` (a signal handler ran).
    @discardableResult
    public func wait(into buffer: EventBuffer, timeout: Duration? = nil) throws(Errno) -> Int {
        buffer.count = 0
        if isClosed { throw .badFileDescriptor }
        let kept = undelivered.withLock { $0.take(upTo: buffer.capacity) }
        var n = kept.count
        if n > 0 {
            for (i, event) in kept.enumerated() { buffer.storage[i] = event.raw }
            // Events are ready already: add whatever else is, without waiting.
            // A failure now must not lose the events taken, so it is ignored
            // (the next wait reports it).
            if n < buffer.capacity,
               let more = try? keventCall(nil, 0, buffer.storage + n, buffer.capacity - n, timeout: 0) {
                n += more
            }
            buffer.count = n
            return n
        }
        n = try keventCall(nil, 0, buffer.storage, buffer.capacity, timeout: timeout.map(Self.nanoseconds))
        buffer.count = n
        return n
    }

    /// One event for an async iteration without waiting: an undelivered one,
    /// else the first of a batch polled into `scratch`, whose rest is kept
    /// undelivered (so an iteration that ends early loses none of them).
    /// nil when nothing is pending.
    func nextEvent(scratch: EventBuffer) throws(Errno) -> Event? {
        if isClosed { throw .badFileDescriptor }
        if let event = undelivered.withLock({ $0.takeFirst() }) { return Event(event.raw) }
        let n = try keventCall(nil, 0, scratch.storage, scratch.capacity, timeout: 0)
        if n == 0 { return nil }
        if n > 1 {
            let rest = (1..<n).map { StoredEvent(scratch.storage[$0]) }
            undelivered.withLock { $0.append(rest) }
            // Closed meanwhile: close() may have emptied the store before the append.
            if isClosed { undelivered.withLock { $0.removeAll() } }
        }
        return Event(scratch.storage[0])
    }

    /// Waits for up to `maximum` events and returns them (allocates an array;
    /// use ``wait(into:timeout:)`` on hot paths).
    ///
    /// ```swift
    /// let events = try kq.wait(maximum: 8, timeout: .seconds(1))
    /// ```
    /// - Throws: as ``wait(into:timeout:)``.
    public func wait(maximum: Int = 16, timeout: Duration? = nil) throws(Errno) -> [Event] {
        let buffer = EventBuffer(capacity: maximum)
        try wait(into: buffer, timeout: timeout)
        return Array(buffer)
    }

    /// The kqueue's events as an `AsyncSequence`. Waiting does not hold a
    /// thread: one shared background thread watches every idle kqueue's
    /// descriptor and resumes the waiting task. The sequence ends (returns nil)
    /// when the kqueue is closed or the task is cancelled.
    ///
    /// ```swift
    /// for try await event in kq.events {
    ///     if case .user(1, _) = event.kind { break }
    /// }
    /// ```
    public var events: Events { Events(kqueue: self) }

    // MARK: - Core calls

    /// The core's kevent(); a closed kqueue is EBADF.
    func keventCall(_ changes: UnsafePointer<kevent>?, _ count: Int,
                    _ events: UnsafeMutablePointer<kevent>?, _ capacity: Int,
                    timeout: UInt64?) throws(Errno) -> Int {
        if isClosed { throw .badFileDescriptor }
        do {
            return try core.kevent(changes: changes, count: count, events: events, capacity: capacity, timeout: timeout)
        } catch {
            throw Errno(core: error)
        }
    }

    /// A timeout in nanoseconds (negative: 0; beyond ~292 years: as good as infinite).
    static func nanoseconds(_ d: Duration) -> UInt64 {
        let ns = d.nanosecondsClamped
        return ns <= 0 ? 0 : UInt64(ns)
    }
}

/// A `struct kevent` as plain values (the user data as its bit pattern), so
/// that it may sit in a lock shared between threads.
struct StoredEvent: Sendable {
    let ident: UInt
    let filter: Int16
    let flags: UInt16
    let fflags: UInt32
    let data: Int
    let udata: UInt

    init(_ k: kevent) {
        ident = k.ident
        filter = k.filter
        flags = k.flags
        fflags = k.fflags
        data = k.data
        udata = UInt(bitPattern: k.udata)
    }

    var raw: kevent {
        kevent(ident: ident, filter: filter, flags: flags, fflags: fflags, data: data,
               udata: UnsafeMutableRawPointer(bitPattern: udata))
    }
}

/// Events kept in the order they were fetched (a queue: taken from the head).
struct UndeliveredEvents: ~Copyable {
    private var events: [StoredEvent] = []
    private var head = 0

    var isEmpty: Bool { head == events.count }

    mutating func append(_ more: [StoredEvent]) {
        if isEmpty { removeAll() }
        events.append(contentsOf: more)
    }

    mutating func takeFirst() -> StoredEvent? {
        if isEmpty { return nil }
        head += 1
        let event = events[head - 1]
        if isEmpty { removeAll() }
        return event
    }

    /// Removes and returns up to `maximum` events, oldest first.
    mutating func take(upTo maximum: Int) -> [StoredEvent] {
        if isEmpty { return [] }
        let n = Swift.min(maximum, events.count - head)
        let taken = Array(events[head..<head + n])
        head += n
        if isEmpty { removeAll() }
        return taken
    }

    /// Drops the events of one registration (filter and identifier).
    mutating func remove(identifier: UInt, filter: Int16) {
        if isEmpty { return }
        events.removeSubrange(0..<head)
        head = 0
        events.removeAll { $0.ident == identifier && $0.filter == filter }
    }

    mutating func removeAll() {
        events.removeAll(keepingCapacity: true)
        head = 0
    }
}
