// SPDX-License-Identifier: BSD-2-Clause
// KqueueDelivery.swift: a kqueue's events out: the active queue, epoll events routed to knotes and sources, delivery state.

import BSDSystem
import CBSDShim
import CBSDShimABI
import Glibc

extension EpollKqueue {
    /// Delivers queued knotes (each at most once per call) and due timers.
    /// The common case, nothing queued and no deadline, costs no call.
    @inline(__always)
    func collectQueued(into out: UnsafeMutablePointer<kevent>, room: Int, stamp: UInt64) -> Int {
        if queue.isEmpty && sourcesWithDeadlines == 0 { return 0 }
        return collectQueuedKnotes(into: out, room: room, stamp: stamp)
    }

    @inline(never)
    func collectQueuedKnotes(into out: UnsafeMutablePointer<kevent>, room: Int, stamp: UInt64) -> Int {
        if sourcesWithDeadlines > 0 {
            for d in deadlineSources.indices { deadlineSources[d].fireDue(in: self) }
        }
        var produced = 0
        var remaining = queue.count
        var cursor = queue.head
        while remaining > 0 && produced < room, let kn = cursor {
            remaining -= 1
            cursor = kn.next
            if kn.collectedIn == stamp { continue }  // level-triggered, already returned by this call
            if kn.disabled {
                queue.remove(kn)
                continue
            }
            if let ev = kn.ops.process(kn, epollEvents: 0, in: self) {
                out[produced] = ev
                produced += 1
                kn.collectedIn = stamp
                delivered(kn, fromQueue: true)
            } else {
                queue.remove(kn)
            }
        }
        return produced
    }

    /// Turns epoll events into kevents. Each descriptor event yields at most one
    /// kevent (one registration per (fd, filter)); the nested sets are read
    /// last, with whatever room is left.
    func route(_ events: UnsafeMutablePointer<epoll_event>, _ count: Int,
               into out: UnsafeMutablePointer<kevent>, room: Int, stamp: UInt64) -> Int {
        var produced = 0
        var nestedReady = 0  // bit per EpollSet raw value
        for i in 0..<count {
            let data = events[i].data.u64
            let slot = UInt32(truncatingIfNeeded: data >> 32)
            if slot >= Self.firstReservedSlot {
                provenAlive = true  // our own descriptors' tags
                if slot < Self.firstEngineSlot {
                    routeToSource(slot)
                } else if slot <= Self.nestedSetSlot0 {
                    nestedReady |= 1 << Int(Self.nestedSetSlot0 - slot)
                }  // else the wake-up eventfd: the queue is collected below
                continue
            }
            produced += deliverEpollEvent(slot: slot, data: data, events: events[i].events,
                                          into: out + produced, stamp: stamp)
        }
        if nestedReady != 0 { produced += routeNested(nestedReady, into: out + produced, room: room - produced, stamp: stamp) }
        if produced < room && !queue.isEmpty {
            produced += collectQueued(into: out + produced, room: room - produced, stamp: stamp)
        }
        return produced
    }

    /// Hands an event of a source's descriptor to the source (by table lookup).
    @inline(never)
    func routeToSource(_ slot: UInt32) {
        let i = Int(slot - Self.firstReservedSlot)
        let index = i / Self.partsPerSource
        guard index < sources.count, let s = sources[index] else { return }
        s.ready(part: i % Self.partsPerSource, in: self)
    }

    /// The wait was interrupted by a signal: every source looks for what it brought.
    func sourcesInterrupted() {
        for case let s? in sources { s.waitInterrupted(in: self) }
    }

    /// Collects from the nested sets whose tag fired (bit per EpollSet raw value).
    func routeNested(_ ready: Int, into out: UnsafeMutablePointer<kevent>, room: Int, stamp: UInt64) -> Int {
        var produced = 0
        for set in EpollSet.nested where ready & (1 << set.rawValue) != 0 {
            guard let ns = nestedSets[set.rawValue] else { continue }
            // Batches until the set has no more (a full batch may mean more
            // are ready) or the caller's list is full; a round that brings
            // nothing new (level-triggered ones reported again) ends it.
            while produced < room {
                let want = min(room - produced, Self.batch)
                let (k, p) = withUnsafeTemporaryAllocation(of: epoll_event.self, capacity: Self.batch) { nb -> (Int, Int) in
                    let nbase = nb.baseAddress!
                    guard let k = try? ns.wait(into: nbase, capacity: Int32(want), timeout: 0)
                    else { return (0, 0) }
                    var p = 0
                    for j in 0..<Int(k) {
                        let d = nbase[j].data.u64
                        p += deliverEpollEvent(slot: UInt32(truncatingIfNeeded: d >> 32), data: d,
                                               events: nbase[j].events, into: out + produced + p, stamp: stamp)
                    }
                    return (Int(k), p)
                }
                produced += p
                if k < want || p == 0 { break }
            }
        }
        return produced
    }

    @inline(__always)
    func deliverEpollEvent(slot: UInt32, data: UInt64, events: UInt32,
                           into out: UnsafeMutablePointer<kevent>, stamp: UInt64) -> Int {
        guard Int(slot) < slots.count, let ref = slots[Int(slot)] else { return 0 }
        return ref._withUnsafeGuaranteedRef { kn in
            guard kn.generation == UInt32(truncatingIfNeeded: data) else { return 0 }  // stale
            provenAlive = true
            return deliver(kn, events: events, into: out, stamp: stamp)
        }
    }

    @inline(__always)
    func deliver(_ kn: Knote, events: UInt32, into out: UnsafeMutablePointer<kevent>, stamp: UInt64) -> Int {
        if kn.disabled { return 0 }
        if kn.collectedIn == stamp {
            // Already returned by this call (a later epoll_wait of the same
            // scan reports level-triggered descriptors again). A one-shot
            // registration that epoll just disarmed is armed again; an edge is
            // kept for the next call by a userspace re-check.
            if kn.fd.epollEvents & Epoll.oneShot != 0 { kn.ops.enable(kn, in: self) }
            else if kn.fd.epollEvents & Epoll.edgeTriggered != 0 { queue.append(kn) }
            return 0
        }
        guard let ev = process(kn, epollEvents: events) else {
            // Not ready after all (e.g. below NOTE_LOWAT): a one-shot epoll
            // registration must be re-armed or it would never fire again.
            if kn.fd.epollEvents & Epoll.oneShot != 0 { kn.ops.enable(kn, in: self) }
            return 0
        }
        out.pointee = ev
        kn.collectedIn = stamp
        delivered(kn, fromQueue: false)
        return 1
    }

    /// The filter's event for `kn`. EVFILT_READ and EVFILT_WRITE, the filters
    /// of nearly every epoll event, are called through the kqueue's unretained
    /// references to them: through `kn.ops` the call would retain and release
    /// the filter object (two atomic operations) on every event.
    @inline(__always)
    func process(_ kn: Knote, epollEvents events: UInt32) -> kevent? {
        switch Int32(kn.filter) {
        case EVFILT_READ: return readFilter._withUnsafeGuaranteedRef { $0.process(kn, epollEvents: events, in: self) }
        case EVFILT_WRITE: return writeFilter._withUnsafeGuaranteedRef { $0.process(kn, epollEvents: events, in: self) }
        default: return kn.ops.process(kn, epollEvents: events, in: self)
        }
    }

    /// The EV_ONESHOT / EV_CLEAR / EV_DISPATCH state machine after a delivery.
    /// A plain level-triggered knote delivered from epoll (nearly every
    /// event) has nothing to do: that case is decided inline, without a call.
    @inline(__always)
    func delivered(_ kn: Knote, fromQueue: Bool) {
        if !fromQueue && kn.flags & UInt16(EV_ONESHOT | EV_CLEAR | EV_DISPATCH) == 0
            && kn.fd.epollEvents & Epoll.edgeTriggered == 0 { return }
        deliveredWithState(kn, fromQueue: fromQueue)
    }

    /// ``delivered(_:fromQueue:)`` for the knotes whose state changes.
    @inline(never)
    func deliveredWithState(_ kn: Knote, fromQueue: Bool) {
        if kn.has(EV_ONESHOT) {
            drop(kn)
            return
        }
        let clear = kn.has(EV_CLEAR)
        let dispatch = kn.has(EV_DISPATCH)
        if clear { kn.ops.clear(kn) }
        if dispatch {
            kn.disabled = true
            queue.remove(kn)
        } else if clear {
            queue.remove(kn)
        } else if fromQueue {
            // Level-triggered: re-check at the next scan, after the others.
            queue.remove(kn)
            queue.append(kn)
        } else if kn.fd.epollEvents & Epoll.edgeTriggered != 0 {
            // Level semantics emulated over an edge-triggered registration (NOTE_LOWAT).
            queue.append(kn)
        }
    }
}
