// SPDX-License-Identifier: BSD-2-Clause
// TimerFD.swift: timerfd(2) armed with absolute deadlines.

import CBSDShim
import Glibc

/// A non-blocking, close-on-exec timerfd on one clock.
public struct TimerFD: Sendable {
    public let fd: Int32
    @inlinable public init(fd: Int32) { self.fd = fd }

    public static func create(clock: clockid_t) throws(Errno) -> TimerFD {
        TimerFD(fd: try valueOrErrno { InjectedFault.hit(.timerfdCreate) ? -1 : timerfd_create(clock, Int32(TFD_CLOEXEC | TFD_NONBLOCK)) })
    }

    /// Arms a one-shot expiry at `deadline` (ns on the timer's clock), or disarms
    /// it with nil. Re-arming also clears a pending expiry count.
    public func arm(at deadline: UInt64?) throws(Errno) {
        var spec = itimerspec()
        if let d = deadline {
            // 0 would disarm; an already-passed deadline of 1 ns fires at once.
            let ns = max(d, 1)
            spec.it_value = timespec(tv_sec: Int(ns / 1_000_000_000), tv_nsec: Int(ns % 1_000_000_000))
        }
        _ = try valueOrErrno { timerfd_settime(fd, Int32(TFD_TIMER_ABSTIME), &spec, nil) }
    }
}
