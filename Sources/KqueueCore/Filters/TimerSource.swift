// SPDX-License-Identifier: BSD-2-Clause
// TimerSource.swift: EVFILT_TIMER's per-kqueue state: a deadline heap and a timerfd per clock.

import BSDSystem
import Glibc

/// The timers of one kqueue. All its timer knotes on one clock share one
/// timerfd (made on first use), armed for the earliest deadline of that
/// clock's ``TimerHeap``; its expiry moves the due knotes to the active queue.
final class TimerSource: KqueueSource {
    static let key = SourceKey()

    /// One clock's timers.
    private struct ClockTimers {
        let clock: clockid_t
        /// The timerfd's part in the source's epoll tags.
        let part: Int
        var heap = TimerHeap()
        var timerFD: TimerFD?
        /// The deadline the timerfd is armed for (nil: disarmed, or ``expired``).
        var armed: UInt64?

        var now: UInt64 { clock == CLOCK_REALTIME ? Clock.realtimeNanoseconds() : Clock.monotonicNanoseconds() }

        mutating func rearm() {
            let want = heap.top?.timer.deadline
            if want != armed, let t = timerFD {
                try? t.arm(at: want)
                armed = want
            }
        }
    }

    /// `armed` value meaning "the timerfd fired and must be set again".
    private static let expired: UInt64 = .max

    /// Two stored clocks, not an array of them: no copy-on-write checks on the EV_ADD path.
    @exclusivity(unchecked) private var monotonic = ClockTimers(clock: CLOCK_MONOTONIC, part: 0)
    @exclusivity(unchecked) private var realtime = ClockTimers(clock: CLOCK_REALTIME, part: 1)
    /// In the kqueue's ``EpollKqueue/deadlineSources`` (from its first timerfd on).
    @exclusivity(unchecked) private var listed = false

    init() {}

    private var isIdle: Bool { monotonic.heap.isEmpty && realtime.heap.isEmpty }

    @inline(__always)
    private func withClock<R, E: Error>(realtime r: Bool, _ body: (inout ClockTimers) throws(E) -> R) throws(E) -> R {
        r ? try body(&realtime) : try body(&monotonic)
    }

    /// Schedules a timer knote on its clock's heap and re-arms that clock's timerfd.
    func schedule(_ kn: Knote, in kq: EpollKqueue) throws(Errno) {
        let wasIdle = isIdle
        try withClock(realtime: kn.timer.realtime) { (c: inout ClockTimers) throws(Errno) in
            if c.timerFD == nil {
                let t = try TimerFD.create(clock: c.clock)
                do throws(Errno) {
                    try kq.addSourceDescriptor(t.fd, of: Self.key, part: c.part, events: Epoll.readable)
                } catch {
                    FileDescriptorOps.close(t.fd)
                    throw error
                }
                c.timerFD = t
            }
            c.heap.insert(kn)
            c.rearm()
        }
        if !listed {
            kq.deadlineSources.append(self)
            listed = true
        }
        if wasIdle { kq.sourcesWithDeadlines += 1 }
    }

    func unschedule(_ kn: Knote, in kq: EpollKqueue) {
        if kn.timer.heapIndex < 0 { return }
        if kn.timer.realtime { realtime.heap.remove(kn) } else { monotonic.heap.remove(kn) }
        if isIdle { kq.sourcesWithDeadlines -= 1 }
        // The timerfd may stay armed for this knote's deadline: the spurious
        // expiry finds nothing due and re-arms for the next one.
    }

    func ready(part: Int, in kq: EpollKqueue) {
        // Expired, so readable until set again: force the re-arm (or disarm,
        // which clears it) even for the same deadline.
        let r = part == realtime.part
        if r { realtime.armed = Self.expired } else { monotonic.armed = Self.expired }
        fire(realtime: r, in: kq)
    }

    func fireDue(in kq: EpollKqueue) {
        if let top = monotonic.heap.top, top.timer.deadline <= monotonic.now { fire(realtime: false, in: kq) }
        if let top = realtime.heap.top, top.timer.deadline <= realtime.now { fire(realtime: true, in: kq) }
    }

    /// Timers scheduled on one clock, and whether its timerfd exists (tests).
    func scheduled(realtime r: Bool) -> (timers: Int, hasTimerFD: Bool) {
        let c = r ? realtime : monotonic
        return (c.heap.items.count, c.timerFD != nil)
    }

    func closeDescriptors() {
        if let t = monotonic.timerFD { FileDescriptorOps.close(t.fd) }
        if let t = realtime.timerFD { FileDescriptorOps.close(t.fd) }
    }

    /// Moves every due timer of one clock to the active queue, counting
    /// missed periods, and re-arms its timerfd for the next deadline.
    private func fire(realtime r: Bool, in kq: EpollKqueue) {
        let wasIdle = isIdle
        withClock(realtime: r) { (c: inout ClockTimers) in
            let now = c.now
            while let kn = c.heap.top, kn.timer.deadline <= now {
                _ = c.heap.popTop()
                if kn.timer.period > 0 {
                    let missed = (now - kn.timer.deadline) / kn.timer.period
                    kn.data &+= 1 &+ Int(truncatingIfNeeded: missed)
                    kn.timer.deadline &+= (missed &+ 1) &* kn.timer.period
                    c.heap.insert(kn)
                } else {
                    kn.data &+= 1
                }
                kq.activate(kn)
            }
            c.rearm()
        }
        if isIdle && !wasIdle { kq.sourcesWithDeadlines -= 1 }
    }
}
