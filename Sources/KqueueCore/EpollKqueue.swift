// SPDX-License-Identifier: BSD-2-Clause
// EpollKqueue.swift: one kqueue: its descriptors, knote table, routing slots and sources, kevent() and its scan.

import BSDSystem
import CBSDShim
import CBSDShimABI
import Glibc
import Synchronization

/// The epoll sets a kqueue owns. EVFILT_READ registrations go in the main set
/// (the kqueue descriptor itself); EVFILT_WRITE ones in a nested set, so a
/// read and a write knote on one descriptor keep independent epoll modes
/// (level / edge / one-shot) — epoll allows one registration per fd per set.
/// EVFILT_EXCEPT has a nested set of its own for the same reason.
enum EpollSet: Int {
    case main
    case write
    case except

    /// The sets nested in the main one, each with its tag in the main set.
    static let nested: [EpollSet] = [.write, .except]
    var slot: UInt32 { EpollKqueue.nestedSetSlot0 - UInt32(rawValue) }
}

/// One kqueue. Its descriptor is a real epoll instance, so it is pollable and
/// can be nested; everything else it needs (wake-up eventfd, the nested sets,
/// the filters' ``KqueueSource``s) is created once per kqueue, never per knote.
///
/// Locking: one mutex per kqueue, held while changes are applied and events
/// are collected, never while blocked in epoll_wait. There is no global lock
/// on the kevent() path.
public final class EpollKqueue: @unchecked Sendable {
    /// The user-visible descriptor: an epoll instance.
    public let fd: Int32
    let epoll: Epoll
    /// Readable while the userspace active queue is non-empty (and when the
    /// kqueue is closed, to wake its waiters).
    let wakeup: EventFD
    /// Protects every `@exclusivity(unchecked)` field below. Its word is in
    /// the kqueue's registry entry (``KqueueRegistry/lock(_:)``), never freed.
    let lock: FutexLock

    /// Set when the descriptor is found closed or the kqueue reclaimed.
    let closed = Atomic<Bool>(false)
    /// Set in a fork child: the descriptors were closed there, deinit must not close them again.
    @exclusivity(unchecked) var forkedAway = false
    /// Approximate number of pending events, read lock-free by other kqueues
    /// watching this one (EVFILT_READ data).
    let pendingHint = Atomic<Int>(0)
    /// Threads blocked in a long epoll_wait on this kqueue (``KqueueWatchdog`` checks its descriptor for them).
    let blockedWaiters = Atomic<Int>(0)
    /// Changes from signal handlers that interrupted their own thread inside
    /// this kqueue's lock (KqueueDeferredChanges.swift): slots, each slot's
    /// call number (their order), the slots taken, those written and
    /// waiting for the lock's holder, and the next call number.
    let deferredSlots = UnsafeMutablePointer<kevent>.allocate(capacity: deferredCapacity)
    let deferredOrder = UnsafeMutablePointer<UInt64>.allocate(capacity: deferredCapacity)
    let deferredTaken = Atomic<UInt64>(0)
    let deferredReady = Atomic<UInt64>(0)
    let deferredCalls = Atomic<UInt64>(0)
    /// The filters of nearly every epoll event, unretained (``FilterTable``
    /// keeps them for the life of the process): through the static lets each
    /// event paid a once check and a static-object initialisation check.
    let readFilter = Unmanaged.passUnretained(FilterTable.read)
    let writeFilter = Unmanaged.passUnretained(FilterTable.write)

    // MARK: State protected by `lock`
    // (the lock guarantees exclusive access: dynamic exclusivity checks are off)

    @exclusivity(unchecked) var knotes = KnoteTable()
    /// Routing table for epoll events: slot -> knote (generation-checked).
    /// Unmanaged: the knote table owns the knotes; a slot is cleared before its
    /// knote goes, under the lock, so routing needs no retain/release.
    @exclusivity(unchecked) var slots = TrivialBuffer<Unmanaged<Knote>?>()
    @exclusivity(unchecked) var freeSlots = TrivialBuffer<UInt32>()
    @exclusivity(unchecked) var nextGeneration: UInt32 = 1
    @exclusivity(unchecked) var queue = KnoteQueue()
    /// Deleted knotes kept for reuse, so EV_ADD/EV_DELETE churn neither
    /// frees nor mallocs. Spares and live knotes together never outnumber
    /// the kqueue's peak number of knotes; all go with the kqueue. A stack
    /// linked through ``Knote/nextSpare``, owning one reference to each
    /// spare: where an array paid uniqueness checks and a cache line of its
    /// own per change, pushing and popping move that reference.
    @exclusivity(unchecked) var spareKnotes: Unmanaged<Knote>?
    @exclusivity(unchecked) var wakeupSignaled = false
    /// Nested epoll sets by ``EpollSet`` raw value (index 0, the main set, unused).
    @exclusivity(unchecked) var nestedSets: [Epoll?] = [nil, nil, nil]
    /// The filters' per-kqueue resources by ``SourceKey/index``, made on first use.
    @exclusivity(unchecked) var sources: [(any KqueueSource)?] = []
    /// The same sources unretained (``sources`` keeps them), for ``withSource(_:_:)``.
    @exclusivity(unchecked) var sourcePointers: [UnsafeMutableRawPointer?] = []
    /// Sources that keep deadlines (timers), listed once each, and how many
    /// of them have one pending now: collection asks them while it is not 0.
    @exclusivity(unchecked) var deadlineSources: [any KqueueSource] = []
    @exclusivity(unchecked) var sourcesWithDeadlines = 0
    /// Sources with work to run once the lock is released (``runUnlocked(_:)``),
    /// and whether there are any (what a scan round looks at).
    @exclusivity(unchecked) var unlockedWork: [any KqueueSource] = []
    @exclusivity(unchecked) var hasUnlockedWork = false
    /// Set when something proved, during the current kevent() call, that the
    /// descriptor is still this kqueue's epoll instance: a successful epoll_ctl
    /// on it, or epoll_wait returning one of our own tags. A call that ends
    /// without such proof asks (``probeIdentity()``): after a close() the
    /// number may belong to a different file, even another epoll instance.
    @exclusivity(unchecked) var provenAlive = false
    /// Numbers kevent() calls: each call takes its own stamp, so that a
    /// level-triggered knote it re-queued is not collected twice by that call
    /// (and is still collected by every other call).
    @exclusivity(unchecked) var lastStamp: UInt64 = 0
    /// Where a locked poll round (``stepLocked(changes:count:events:capacity:)``)
    /// has epoll_wait write, ``batch`` entries: the kqueue's own, as only the
    /// lock's holder uses it, where a buffer on the caller's stack cost every
    /// call a closure and the setting up of its frame.
    let pollBuffer = UnsafeMutablePointer<epoll_event>.allocate(capacity: EpollKqueue.batch)

    // Slots reserved for the kqueue's own descriptors in epoll_data: the
    // engine's from firstEngineSlot up, the sources' below it.
    static let wakeupSlot: UInt32 = 0xFFFF_FFFF
    /// Nested set n is tagged nestedSetSlot0 - n (write: ...FB, except: ...FA).
    static let nestedSetSlot0: UInt32 = 0xFFFF_FFFC
    static let firstEngineSlot: UInt32 = 0xFFFF_FFF0
    /// A source's descriptor `part` is tagged firstReservedSlot + index * partsPerSource + part.
    static let firstReservedSlot: UInt32 = 0xFFFF_FF00
    static let partsPerSource = 4
    static let maxSources = Int(firstEngineSlot - firstReservedSlot) / partsPerSource

    /// Every this many nanoseconds the descriptor of a kqueue with blocked
    /// waiters is re-checked (``KqueueWatchdog``): Linux gives no notification
    /// when a program close()s an epoll descriptor another thread waits on.
    static let livenessInterval: UInt64 = 250_000_000

    /// Epoll events fetched per epoll_wait (kept on the stack).
    static let batch = 64
    /// Rounds of epoll events that yield nothing after which a poll (zero timeout) returns.
    static let maxIdlePollRounds = 16

    init(epoll: Epoll, wakeup: EventFD) {
        self.fd = epoll.fd
        self.lock = KqueueRegistry.lockForNewKqueue(epoll.fd)
        self.epoll = epoll
        self.wakeup = wakeup
    }

    /// kqueue(): a new kqueue registered under its descriptor.
    public static func create() throws(Errno) -> EpollKqueue {
        let ep = try Epoll.create()
        let w: EventFD
        do { w = try EventFD.create() } catch {
            FileDescriptorOps.close(ep.fd)
            throw error
        }
        do { try ep.add(w.fd, events: Epoll.readable, data: tag(wakeupSlot)) } catch {
            FileDescriptorOps.close(w.fd)
            FileDescriptorOps.close(ep.fd)
            throw error
        }
        let kq = EpollKqueue(epoll: ep, wakeup: w)
        KqueueRegistry.insert(kq)
        Debug.trace("kqueue() = \(kq.fd)")
        return kq
    }

    deinit {
        while let top = spareKnotes {
            spareKnotes = top._withUnsafeGuaranteedRef { $0.nextSpare }
            top.release()
        }
        if forkedAway { return }  // the child abandons the object (and its lock) as it is
        slots.deallocate()
        freeSlots.deallocate()
        pollBuffer.deallocate()
        deferredSlots.deallocate()
        deferredOrder.deallocate()
        // The epoll descriptor belongs to the program, which closed it (that is
        // how we got here); the rest is ours.
        closeOwnDescriptors()
    }

    /// Closes what the kqueue made besides its epoll descriptor: the wake-up
    /// eventfd, the nested sets, the sources' descriptors.
    private func closeOwnDescriptors() {
        FileDescriptorOps.close(wakeup.fd)
        for case let n? in nestedSets { FileDescriptorOps.close(n.fd) }
        for case let s? in sources { s.closeDescriptors() }
    }

    /// Fork child: closes every descriptor behind the kqueue, the program's
    /// epoll one included; the object is abandoned as it is. What lives in
    /// lists the kqueue's lock guards (sources, nested sets, knotes) only if
    /// the lock was free at the fork (`whole`): otherwise those lists may
    /// be mid-change, and their descriptors stay, close-on-exec.
    func closeDescriptorsInChild(whole: Bool) {
        FileDescriptorOps.close(fd)
        guard whole else {
            FileDescriptorOps.close(wakeup.fd)
            return
        }
        closeOwnDescriptors()
        for kn in knotes.all where kn.fd.owned >= 0 { FileDescriptorOps.close(kn.fd.owned) }
    }

    @inline(__always) static func tag(_ slot: UInt32, _ generation: UInt32 = 0) -> UInt64 {
        UInt64(slot) << 32 | UInt64(generation)
    }

    /// Runs `body` under the kqueue's lock, listed as held by this thread
    /// (for a signal handler's kevent(), see KqueueDeferredChanges.swift);
    /// changes such handlers left are applied first, and those left while
    /// the lock was held right after it is released.
    @inline(__always)
    func locked<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        let depth = cbsdshim_kqueue_lock(lock.word)
        KqueueRegistry.afterLocking(lock.word)
        defer {
            cbsdshim_kqueue_unlock(lock.word, depth)
            KqueueRegistry.afterUnlocking(lock.word)
        }
        return try body()
    }

    var isClosed: Bool { closed.load(ordering: .acquiring) }

    // MARK: - Close detection

    /// Marks the kqueue dead (its descriptor was closed) and wakes its waiters,
    /// which return EBADF. Resources go when the last thread leaves it.
    func markClosed() {
        if closed.exchange(true, ordering: .acquiringAndReleasing) { return }
        KqueueRegistry.remove(self)
        wakeup.signal()
        locked {
            // Drop every knote now: their descriptors' epoll entries went with
            // the epoll instance; timers (unscheduled by their detach) and
            // queues are ours to free.
            for kn in knotes.all { kn.ops.detach(kn, from: self) }
            knotes.removeAll()
            slots.removeAll()
            freeSlots.removeAll()
            queue.removeAll()
        }
        Debug.trace("kqueue \(fd) reclaimed")
    }

    /// True if `fd` still refers to this kqueue's epoll instance: only ours
    /// contains our wake-up eventfd, so EPOLL_CTL_MOD of it succeeds only there.
    func probeIdentity() -> Bool {
        if isClosed { return false }
        do {
            try epoll.modify(wakeup.fd, events: Epoll.readable, data: Self.tag(Self.wakeupSlot))
            return true
        } catch {
            return error == .noMemory
        }
    }

    /// probeIdentity(), reclaiming the kqueue when its descriptor is no longer ours.
    func stillOurs() -> Bool {
        if probeIdentity() { return true }
        markClosed()
        return false
    }

    // MARK: - Active queue

    /// Queues a knote whose readiness is decided in userspace (BSD KNOTE_ACTIVATE).
    func activate(_ kn: Knote) {
        if !kn.disabled { queue.append(kn) }
    }

    func deactivate(_ kn: Knote) {
        queue.remove(kn)
    }

    /// Keeps the wake-up eventfd readable exactly while events are queued, so
    /// the kqueue descriptor polls readable and blocked waiters wake. Every
    /// locked section that may leave knotes queued ends with it, unless a scan
    /// step of the same call follows: ``waitWithoutChanges(into:capacity:timeout:hold:)``,
    /// which blocks without a queue step, relies on the eventfd to learn of
    /// queued knotes.
    @inline(__always)
    func syncWakeup() {
        let want = !queue.isEmpty
        if want != wakeupSignaled {
            if want { wakeup.signal() } else { wakeup.reset() }
            wakeupSignaled = want
        }
        pendingHint.store(queue.count, ordering: .relaxed)
    }

    // MARK: - Routing slots

    @inline(__always)
    func allocateSlot(_ kn: Knote) {
        let s: UInt32
        if let f = freeSlots.popLast() {
            s = f
            slots[Int(s)] = Unmanaged.passUnretained(kn)
        } else {
            s = UInt32(slots.count)
            slots.append(Unmanaged.passUnretained(kn))
        }
        kn.slot = s
        kn.generation = nextGeneration
        nextGeneration &+= 1
        if nextGeneration == 0 { nextGeneration = 1 }
    }

    @inline(__always)
    func releaseSlot(_ kn: Knote) {
        guard kn.slot != .max else { return }
        slots[Int(kn.slot)] = nil
        freeSlots.append(kn.slot)
        kn.slot = .max
    }

    /// The epoll set a knote's descriptor is registered in (created on first use).
    /// The main set, that of every EVFILT_READ change, is answered inline.
    @inline(__always)
    func epollSet(_ set: EpollSet) throws(Errno) -> Epoll {
        if set == .main { return epoll }
        return try nestedSet(set)
    }

    /// ``epollSet(_:)`` for a nested set.
    @inline(never)
    func nestedSet(_ set: EpollSet) throws(Errno) -> Epoll {
        if let n = nestedSets[set.rawValue] { return n }
        let n = try Epoll.create()
        do { try epoll.add(n.fd, events: Epoll.readable, data: Self.tag(set.slot)) } catch {
            FileDescriptorOps.close(n.fd)
            throw error
        }
        nestedSets[set.rawValue] = n
        return n
    }

    // MARK: - Filters' sources

    /// The kqueue's source of kind `S`, made on first use.
    func source<S: KqueueSource>(_ type: S.Type) -> S {
        let i = S.key.index
        if i < sources.count, let s = sources[i] { return unsafeDowncast(s, to: S.self) }
        if i >= sources.count {
            sources.append(contentsOf: repeatElement(nil, count: i + 1 - sources.count))
            sourcePointers.append(contentsOf: repeatElement(nil, count: i + 1 - sourcePointers.count))
        }
        let s = S()
        sources[i] = s
        sourcePointers[i] = Unmanaged.passUnretained(s).toOpaque()
        return s
    }

    /// Runs `body` with the kqueue's source of kind `S` (made on first use)
    /// at +0: no retain/release pair (two atomic operations), for the paths
    /// of every EV_ADD / EV_DELETE of a filter with a source (timers).
    @inline(__always)
    func withSource<S: KqueueSource, R, E: Error>(_ type: S.Type, _ body: (S) throws(E) -> R) throws(E) -> R {
        let i = S.key.index
        let p: UnsafeMutableRawPointer
        if i < sourcePointers.count, let known = sourcePointers[i] {
            p = known
        } else {
            p = Unmanaged.passUnretained(source(type)).toOpaque()
        }
        // The guaranteed-reference call rethrows untyped errors only: the
        // Result carries the typed one across it (no `any Error` boxed).
        let r: Result<R, E> = Unmanaged<S>.fromOpaque(p)._withUnsafeGuaranteedRef { s in
            Result { () throws(E) -> R in try body(s) }
        }
        return try r.get()
    }

    /// Registers a source's descriptor in the main epoll set, tagged so that
    /// its events reach ``KqueueSource/ready(part:in:)`` as `part`.
    func addSourceDescriptor(_ fd: Int32, of key: SourceKey, part: Int, events: UInt32) throws(Errno) {
        precondition(part < Self.partsPerSource)
        let slot = Self.firstReservedSlot + UInt32(key.index * Self.partsPerSource + part)
        try epoll.add(fd, events: events, data: Self.tag(slot))
    }

    /// Takes a source's descriptor out of the epoll set (unless the kqueue's
    /// descriptor was closed: its number may be another epoll instance now).
    func removeSourceDescriptor(_ fd: Int32) {
        if !isClosed { try? epoll.remove(fd) }
    }

    /// Has `s` run ``KqueueSource/runUnlocked(in:)`` once the current scan round releases the lock.
    func runUnlocked(_ s: any KqueueSource) {
        if !unlockedWork.contains(where: { $0 === s }) { unlockedWork.append(s) }
        hasUnlockedWork = true
    }

    /// Takes the sources' pending unlocked work (under the lock) and runs it
    /// (outside it: a program's signal handler may run, and may call kevent()).
    func runUnlockedWork() {
        let work = locked { () -> [any KqueueSource] in
            defer {
                unlockedWork.removeAll()
                hasUnlockedWork = false
            }
            return unlockedWork
        }
        for s in work { s.runUnlocked(in: self) }
    }

    // MARK: - kevent()

    /// kevent(): applies `count` changes, then collects up to `capacity` events.
    /// `timeout` is nil to wait indefinitely, else nanoseconds (0 polls).
    /// When any change was reported in `events` (error or EV_RECEIPT), returns
    /// that count without collecting events (BSD kern_kevent).
    public func kevent(
        changes: UnsafePointer<kevent>?, count: Int,
        events: UnsafeMutablePointer<kevent>?, capacity: Int,
        timeout: UInt64?
    ) throws(Errno) -> Int {
        var hold = KqueueHold.owned
        return try kevent(changes: changes, count: count, events: events, capacity: capacity, timeout: timeout, hold: &hold)
    }

    /// kevent() by a thread that found the kqueue through ``KqueueRegistry/withKqueue(_:_:)``
    /// and keeps it alive by `hold`.
    public func kevent(
        changes: UnsafePointer<kevent>?, count: Int,
        events: UnsafeMutablePointer<kevent>?, capacity: Int,
        timeout: UInt64?, hold: inout KqueueHold
    ) throws(Errno) -> Int {
        if isClosed { throw .badFileDescriptor }
        if count == 0 && timeout == 0 && capacity > 0, let events,
           let r = try pollWithoutChanges(into: events, capacity: capacity, hold: &hold) {
            return r
        }
        if count == 0 && timeout != 0 && capacity > 0, let events {
            return try waitWithoutChanges(into: events, capacity: capacity, timeout: timeout, hold: &hold)
        }
        let collects = capacity > 0 && events != nil
        // A poll that collects takes the changes inside its one locked step.
        let merged = collects && timeout == 0 && count > 0 && changes != nil
        if count > 0, let changes, !merged {
            var proven = false
            let r: Int
            do {
                r = try apply(changes: changes, count: count, events: events, capacity: capacity,
                              finishing: !collects, proven: &proven)
            } catch {
                // A failed change ends the call (BSD kern_kevent).
                throw proven || stillOurs() ? error : .badFileDescriptor
            }
            // Reported changes end the call (BSD kern_kevent); so does one that
            // collects nothing. Unless a change went through our epoll instance,
            // ask whether the descriptor is still ours (a closed kqueue: EBADF).
            if r > 0 || !collects {
                guard proven || stillOurs() else { throw .badFileDescriptor }
                return r
            }
        }
        guard collects, let events else {
            guard stillOurs() else { throw .badFileDescriptor }
            return 0
        }
        var proven = false
        var reported = false
        let r: Int
        do {
            r = try scan(into: events, capacity: capacity, timeout: timeout,
                         changes: merged ? changes : nil, changeCount: merged ? count : 0,
                         resetProof: count == 0, proven: &proven, changesReported: &reported, hold: &hold)
        } catch {
            // Reported changes end the call (BSD kern_kevent), as above.
            throw !reported || proven || stillOurs() ? error : .badFileDescriptor
        }
        if reported {
            // Reported changes end the call (BSD kern_kevent), as above.
            guard proven || stillOurs() else { throw .badFileDescriptor }
            return r
        }
        if r > 0, !proven {
            // Everything came from the userspace queue: make sure the queue
            // still belongs to the descriptor the caller named.
            if !stillOurs() { throw .badFileDescriptor }
        }
        return r
    }

    // MARK: - Scan (BSD kqueue_scan)

    /// Collects up to `capacity` events. `timeout` is nil (wait forever) or
    /// nanoseconds (0 = poll). `collected` events are in `out` already,
    /// delivered under `stamp` (``pollWithoutChanges`` continuing here).
    ///
    /// Locking, the cost that matters on this path (each lock is two atomic
    /// operations): a poll takes the lock once per round, for the changes
    /// (`changes`, applied first as ``apply(changes:count:events:capacity:finishing:proven:)``
    /// would, `changesReported` set when they end the call), the queued knotes,
    /// a zero-timeout epoll_wait and the routing of what it returned. A wait
    /// that may block never holds the lock in epoll_wait: it takes it before
    /// (queued knotes, wake-up flag) and after (routing). A wait with no
    /// changes makes its first round in ``waitWithoutChanges(into:capacity:timeout:hold:)``,
    /// which skips the first step, and continues here as a later round would.
    func scan(
        into out: UnsafeMutablePointer<kevent>, capacity: Int, timeout: UInt64?,
        changes: UnsafePointer<kevent>? = nil, changeCount: Int = 0, resetProof: Bool,
        proven: inout Bool, changesReported: inout Bool, hold: inout KqueueHold,
        collected: Int = 0, stamp startStamp: UInt64 = 0
    ) throws(Errno) -> Int {
        let deadline: UInt64? = timeout.map { $0 == 0 ? 0 : Clock.monotonicNanoseconds() &+ $0 }
        return try withUnsafeTemporaryAllocation(of: epoll_event.self, capacity: Self.batch) { (buf) throws(Errno) -> Int in
            let base = buf.baseAddress!
            var n = collected
            var stamp = startStamp
            var idleRounds = 0
            var firstRound = true
            while true {
                if isClosed { throw .badFileDescriptor }
                var pending = firstRound ? changes : nil
                firstRound = false
                var k = 0
                var room = capacity - n
                var before = n
                var done = false
                var unlockedWorkPending = false
                var chunked = false
                var watched = false

                if deadline == 0 {
                    // A poll: nothing here blocks, so one lock covers the round.
                    let early: Int?
                    do throws(Errno) {
                      early = try locked { () throws(Errno) -> Int? in
                        if let c = pending {
                            pending = nil
                            let r: Int
                            do throws(Errno) {
                                r = try applyLocked(changes: c, count: changeCount, events: out, capacity: capacity,
                                                    finishing: false)
                            } catch {
                                changesReported = true
                                proven = provenAlive
                                throw error
                            }
                            if r > 0 {
                                changesReported = true
                                proven = provenAlive
                                return r
                            }
                        }
                        if stamp == 0 {
                            lastStamp &+= 1
                            stamp = lastStamp
                            if resetProof { provenAlive = false }
                        }
                        n += collectQueued(into: out + n, room: capacity - n, stamp: stamp)
                        if n == capacity {
                            syncWakeup()
                            proven = provenAlive
                            return n
                        }
                        before = n
                        room = capacity - n
                        do throws(Errno) {
                            k = Int(try epoll.wait(into: base, capacity: Int32(min(room, Self.batch)), timeout: 0))
                        } catch {
                            syncWakeup()
                            throw error
                        }
                        done = finishRound(base, k, into: out, n: &n, room: room, stamp: stamp, proven: &proven,
                                           unlockedWorkPending: &unlockedWorkPending)
                        return nil
                      }
                    } catch {
                        // A failed change ends the call as it is.
                        if changesReported { throw error }
                        if error == .interrupted {
                            if n > 0 { return n }
                            throw error
                        }
                        // EBADF / EINVAL: the descriptor no longer is our epoll.
                        markClosed()
                        throw .badFileDescriptor
                    }
                    if let early { return early }
                } else {
                    // 1. Queued knotes; if none, make sure the wake-up flag is clear
                    //    before blocking, or epoll_wait would return at once forever.
                    let (got, mayBlock) = locked { () -> (Int, Bool) in
                        if stamp == 0 {
                            lastStamp &+= 1
                            stamp = lastStamp
                            if resetProof { provenAlive = false }
                        }
                        let got = collectQueued(into: out + n, room: capacity - n, stamp: stamp)
                        if n + got == capacity {
                            syncWakeup()
                            proven = provenAlive
                            return (got, false)
                        }
                        if n + got > 0 || !queue.isEmpty { return (got, false) }
                        if wakeupSignaled {
                            wakeup.reset()
                            wakeupSignaled = false
                        }
                        return (got, true)
                    }
                    n += got
                    if n == capacity { return n }

                    // 2. How long epoll_wait may block.
                    var wait: UInt64? = 0
                    if mayBlock {
                        wait = remaining(deadline)
                        // A long wait is watched for a close() of the descriptor by the
                        // watchdog (no timer in the wait); without one, it is sliced.
                        if wait == nil || wait! > Self.livenessInterval {
                            hold.keepOwnReference(self)
                            watched = KqueueWatchdog.waitBegins(self)
                            if !watched {
                                wait = Self.livenessInterval
                                chunked = true
                            }
                        }
                    }

                    room = capacity - n
                    before = n
                    do throws(Errno) {
                        defer { if watched { KqueueWatchdog.waitEnds(self) } }
                        k = Int(try epoll.wait(into: base, capacity: Int32(min(room, Self.batch)), timeout: wait))
                    } catch where error == .interrupted {
                        // Our counting handler for a watched signal interrupted the
                        // wait (it runs even for a signal the program ignores): report
                        // the signal, as BSD wakes a kqueue on it, not EINTR.
                        if n == 0 && locked({ sourcesInterrupted(); return !queue.isEmpty }) { continue }
                        locked { syncWakeup() }
                        if n > 0 { return n }
                        throw error
                    } catch {
                        // EBADF / EINVAL: the descriptor no longer is our epoll.
                        markClosed()
                        throw .badFileDescriptor
                    }

                    // 3. Route what epoll returned; finish if anything was collected.
                    done = locked { () -> Bool in
                        finishRound(base, k, into: out, n: &n, room: room, stamp: stamp, proven: &proven,
                                    unlockedWorkPending: &unlockedWorkPending)
                    }
                }
                if unlockedWorkPending { runUnlockedWork() }
                if done {
                    // epoll filled the buffer: more may be ready. BSD fills the
                    // whole event list, so poll again (n > 0 makes the wait zero)
                    // until a round brings nothing new (level-triggered
                    // descriptors come back; deliver() skips them).
                    if k == Self.batch && n < capacity && n > before { continue }
                    return n
                }
                if isClosed { throw .badFileDescriptor }
                // Nothing for the caller. Before waiting again or reporting a
                // timeout, make sure the descriptor still is this kqueue: after
                // a close() its number may be another epoll instance, whose
                // events (or silence) are not ours to report.
                if k > 0 || chunked || deadline == 0 {
                    if !stillOurs() { throw .badFileDescriptor }
                }
                // Internal/stale events, or a liveness slice. A poll stops after a
                // few such rounds: a knote that epoll keeps reporting but that is not
                // ready (EV_ONESHOT + NOTE_LOWAT above the buffer, re-armed each time)
                // would otherwise keep a zero-timeout kevent() from ever returning.
                if k > 0 && deadline == 0 {
                    idleRounds += 1
                    if idleRounds < Self.maxIdlePollRounds { continue }
                }
                // Timed out (or polled): done once the caller's deadline passed,
                // whatever epoll keeps reporting; otherwise wait again.
                if let d = deadline, d == 0 || Clock.monotonicNanoseconds() >= d {
                    locked { syncWakeup() }
                    if d != 0 && !stillOurs() { throw .badFileDescriptor }
                    return 0
                }
            }
        }
    }

    /// Nanoseconds left until `deadline` (nil: none, wait forever; 0: passed, a last poll).
    @inline(__always)
    func remaining(_ deadline: UInt64?) -> UInt64? {
        deadline.map { d in
            let now = Clock.monotonicNanoseconds()
            return d > now ? d - now : 0
        }
    }

    /// The end of a scan round, under the lock: routes the `k` epoll events
    /// in `base`, notes whether sources asked for work to run unlocked
    /// (``runUnlocked(_:)``), and syncs the wake-up flag when anything was
    /// collected. Returns whether the round collected anything.
    @inline(__always)
    func finishRound(_ base: UnsafeMutablePointer<epoll_event>, _ k: Int, into out: UnsafeMutablePointer<kevent>,
                     n: inout Int, room: Int, stamp: UInt64, proven: inout Bool,
                     unlockedWorkPending: inout Bool) -> Bool {
        if k > 0 { n += route(base, k, into: out + n, room: room, stamp: stamp) }
        unlockedWorkPending = hasUnlockedWork
        if n > 0 {
            syncWakeup()
            proven = provenAlive
        }
        return n > 0
    }

    // MARK: - Introspection (tests, benchmarks)

    /// Number of registered knotes.
    public var knoteCount: Int { locked { knotes.count } }
}
