// SPDX-License-Identifier: BSD-2-Clause
// TimerSource.swift: EVFILT_TIMER's per-kqueue state: a deadline heap and a timerfd per clock.

import BSDSystem
import Glibc

/// The timers of one kqueue. All its timer knotes on one clock share one
/// timerfd (made on first use), armed for the earliest deadline of that
/// clock's ``TimerHeap``; its expiry moves the due knotes to the active queue.
final class TimerSource: KqueueSource {
    static let key = SourceKey()

    /// One clock's timers; the clock's index is its descriptor's part.
    private struct ClockTimers {
        let clock: clockid_t
        var heap = TimerHeap()
        var timerFD: TimerFD?
        /// The deadline the timerfd is armed for (nil: disarmed, or ``expired``).
        var armed: UInt64?
    }

    /// `armed` value meaning "the timerfd fired and must be set again".
    private static let expired: UInt64 = .max

    private var clocks = [ClockTimers(clock: CLOCK_MONOTONIC), ClockTimers(clock: CLOCK_REALTIME)]

    init() {}

    @inline(__always) private static func index(_ kn: Knote) -> Int { kn.timer.realtime ? 1 : 0 }

    private var isIdle: Bool { clocks[0].heap.isEmpty && clocks[1].heap.isEmpty }

    /// Schedules a timer knote on its clock's heap and re-arms that clock's timerfd.
    func schedule(_ kn: Knote, in kq: Kqueue) throws(Errno) {
        let c = Self.index(kn)
        if clocks[c].timerFD == nil {
            let t: TimerFD
            switch TimerFD.create(clock: clocks[c].clock) {
            case .success(let made): t = made
            case .failure(let e): throw e
            }
            do throws(Errno) {
                try kq.addSourceDescriptor(t.fd, of: Self.key, part: c, events: Epoll.readable)
            } catch {
                FileDescriptorOps.close(t.fd)
                throw error
            }
            clocks[c].timerFD = t
        }
        if isIdle { kq.deadlineSources.append(self) }
        clocks[c].heap.insert(kn)
        rearm(c)
    }

    func unschedule(_ kn: Knote, in kq: Kqueue) {
        if kn.timer.heapIndex < 0 { return }
        clocks[Self.index(kn)].heap.remove(kn)
        if isIdle { kq.deadlineSources.removeAll { $0 === self } }
        // The timerfd may stay armed for this knote's deadline: the spurious
        // expiry finds nothing due and re-arms for the next one.
    }

    func ready(part: Int, in kq: Kqueue) {
        // Expired, so readable until set again: force the re-arm (or disarm,
        // which clears it) even for the same deadline.
        clocks[part].armed = Self.expired
        fire(part, in: kq)
    }

    func fireDue(in kq: Kqueue) {
        for c in 0..<2 {
            guard let top = clocks[c].heap.top, top.timer.deadline <= now(c) else { continue }
            fire(c, in: kq)
        }
    }

    /// Timers scheduled on one clock, and whether its timerfd exists (tests).
    func scheduled(realtime: Bool) -> (timers: Int, hasTimerFD: Bool) {
        let c = clocks[realtime ? 1 : 0]
        return (c.heap.items.count, c.timerFD != nil)
    }

    func closeDescriptors() {
        for c in clocks { if let t = c.timerFD { FileDescriptorOps.close(t.fd) } }
    }

    private func now(_ c: Int) -> UInt64 {
        c == 1 ? Clock.realtimeNanoseconds() : Clock.monotonicNanoseconds()
    }

    /// Moves every due timer of clock `c` to the active queue, counting missed
    /// periods, and re-arms the timerfd for the next deadline.
    private func fire(_ c: Int, in kq: Kqueue) {
        let now = now(c)
        while let kn = clocks[c].heap.top, kn.timer.deadline <= now {
            _ = clocks[c].heap.popTop()
            if kn.timer.period > 0 {
                let missed = (now - kn.timer.deadline) / kn.timer.period
                kn.data &+= 1 &+ Int(truncatingIfNeeded: missed)
                kn.timer.deadline &+= (missed &+ 1) &* kn.timer.period
                clocks[c].heap.insert(kn)
            } else {
                kn.data &+= 1
            }
            kq.activate(kn)
        }
        if isIdle { kq.deadlineSources.removeAll { $0 === self } }
        rearm(c)
    }

    private func rearm(_ c: Int) {
        let want = clocks[c].heap.top?.timer.deadline
        if want != clocks[c].armed, let t = clocks[c].timerFD {
            _ = t.arm(at: want)
            clocks[c].armed = want
        }
    }
}
