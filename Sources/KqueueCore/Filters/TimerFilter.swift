// SPDX-License-Identifier: BSD-2-Clause
// TimerFilter.swift: EVFILT_TIMER on one timerfd per clock per kqueue.

import BSDSystem
import CBSDShimABI

/// EVFILT_TIMER (FreeBSD filt_timer*). Timers sit in the kqueue's deadline heap
/// (``TimerHeap``); the heap's earliest deadline arms a single timerfd, so
/// 100,000 timers cost one descriptor. On expiry the knote is queued with
/// data = expirations since the last delivery (periods missed are counted).
/// Timers are EV_CLEAR, as on BSD. Units are libkqueue's: no unit bit is
/// milliseconds (so FreeBSD's NOTE_MSECONDS is 0 in our header), and
/// NOTE_ABSOLUTE (FreeBSD's NOTE_ABSTIME) makes `data` a CLOCK_REALTIME time
/// since the Epoch in the unit given, firing once.
final class TimerFilter: QueuedFilter {
    static let unitMask = UInt32(NOTE_SECONDS | NOTE_USECONDS | NOTE_NSECONDS)

    func attach(_ kn: Knote, to kq: EpollKqueue) throws(Errno) -> FilterOutcome {
        try configure(kn, fflags: kn.sfflags, data: kn.sdata)
        kn.flags |= UInt16(EV_CLEAR)
        try kq.withSource(TimerSource.self) { (timers) throws(Errno) in try timers.schedule(kn, in: kq) }
        return .done
    }

    func detach(_ kn: Knote, from kq: EpollKqueue) -> FilterOutcome {
        kq.withSource(TimerSource.self) { $0.unschedule(kn, in: kq) }
        return .done
    }

    func touch(_ kn: Knote, with change: kevent, in kq: EpollKqueue) throws(Errno) -> FilterOutcome {
        // A modify (EV_ADD again, or a change with no EV_ENABLE/EV_DISABLE: the
        // only ones EpollKqueue.register passes here) re-arms the timer with the new
        // period, pending expirations dropped (FreeBSD filt_timertouch, libkqueue's
        // kn_modify). Enable/disable alone leave it running.
        let timers = kq.source(TimerSource.self)
        let saved = (kn.sfflags, kn.sdata, kn.timer.deadline, kn.timer.period, kn.timer.realtime)
        timers.unschedule(kn, in: kq)
        do throws(Errno) {
            try configure(kn, fflags: change.fflags, data: change.data)
        } catch {
            (kn.sfflags, kn.sdata, kn.timer.deadline, kn.timer.period, kn.timer.realtime) = saved
            try? timers.schedule(kn, in: kq)
            throw error
        }
        kn.sfflags = change.fflags
        kn.sdata = change.data
        kn.data = 0
        kq.deactivate(kn)
        try timers.schedule(kn, in: kq)
        return .done
    }

    /// Computes deadline and period from fflags/data.
    private func configure(_ kn: Knote, fflags: UInt32, data: Int) throws(Errno) {
        guard data >= 0 else { throw .invalidArgument }
        let unit: UInt64
        switch fflags & Self.unitMask {
        case 0: unit = 1_000_000
        case UInt32(NOTE_SECONDS): unit = 1_000_000_000
        case UInt32(NOTE_USECONDS): unit = 1_000
        case UInt32(NOTE_NSECONDS): unit = 1
        default: throw .invalidArgument  // more than one unit
        }
        let (ns, overflow) = UInt64(data).multipliedReportingOverflow(by: unit)
        let value = overflow ? UInt64.max / 2 : ns
        if fflags & UInt32(NOTE_ABSOLUTE) != 0 {
            kn.timer.realtime = true
            kn.timer.period = 0
            kn.timer.deadline = value
        } else {
            kn.timer.realtime = false
            // A periodic timer of 0 would spin: BSD makes it one unit.
            let period = value == 0 && !kn.has(EV_ONESHOT) ? unit : value
            kn.timer.period = kn.has(EV_ONESHOT) ? 0 : period
            let (d, o) = Clock.monotonicNanoseconds().addingReportingOverflow(period)
            kn.timer.deadline = o ? UInt64.max / 2 : d
        }
    }

    func isActive(_ kn: Knote) -> Bool { kn.data > 0 }

    /// A disabled timer stops; re-enabling restarts it from now with no
    /// expirations pending (libkqueue's behaviour, which its tests pin down:
    /// ticks while disabled, e.g. after an EV_DISPATCH delivery, do not count).
    func disable(_ kn: Knote, in kq: EpollKqueue) {
        kq.withSource(TimerSource.self) { $0.unschedule(kn, in: kq) }
        kq.deactivate(kn)
    }

    func enable(_ kn: Knote, in kq: EpollKqueue) {
        let timers = kq.source(TimerSource.self)
        timers.unschedule(kn, in: kq)
        kn.data = 0
        if !kn.timer.realtime {
            let span = kn.timer.period > 0 ? kn.timer.period : kn.timer.deadline &- min(kn.timer.deadline, Clock.monotonicNanoseconds())
            kn.timer.deadline = Clock.monotonicNanoseconds() &+ span
        }
        try? timers.schedule(kn, in: kq)
    }

    func process(_ kn: Knote, epollEvents: UInt32, in kq: EpollKqueue) -> kevent? {
        guard kn.data > 0 else { return nil }
        return kn.event(fflags: 0, data: kn.data)
    }
}
