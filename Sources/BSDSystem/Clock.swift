// SPDX-License-Identifier: BSD-2-Clause
// Clock.swift: clock_gettime in nanoseconds.

import Glibc

/// Reads the monotonic and real-time clocks (vDSO, no system call).
public enum Clock {
    @inlinable public static func monotonicNanoseconds() -> UInt64 {
        now(CLOCK_MONOTONIC)
    }
    @inlinable public static func realtimeNanoseconds() -> UInt64 {
        now(CLOCK_REALTIME)
    }
    @inlinable static func now(_ id: clockid_t) -> UInt64 {
        var ts = timespec()
        clock_gettime(id, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }
}

extension Clock {
    /// Sleeps for `nanoseconds` (less if a signal handler interrupts the sleep).
    public static func sleep(nanoseconds: UInt64) {
        var ts = timespec(tv_sec: Int(nanoseconds / 1_000_000_000), tv_nsec: Int(nanoseconds % 1_000_000_000))
        nanosleep(&ts, nil)
    }
}
