// SPDX-License-Identifier: BSD-2-Clause
// Spin.swift: brief waiting in user space before sleeping, for the client and the serving thread of one descriptor.

import CBSDShim
import Glibc
import Synchronization

/// Both ends of a descriptor live in this process, so each can see the
/// other's progress in memory: a reader that finds no response (or a server
/// that finds no request) watches a counter for a few microseconds before it
/// sleeps in the kernel. A round trip then needs no scheduler wake-up when
/// the other side answers quickly. Never on a single CPU.
enum Spin {
    static let limitNanoseconds = 50_000
    private static let enabled = cbsdshim_ncpus() > 1

    /// Waits until `counter` differs from `seen` (true) or the limit passed (false).
    @inline(__always)
    static func untilChanged(_ counter: borrowing Atomic<Int>, from seen: Int) -> Bool {
        guard enabled else { return false }
        var start = timespec()
        clock_gettime(CLOCK_MONOTONIC, &start)
        var rounds = 0
        while true {
            for _ in 0..<64 {
                if counter.load(ordering: .acquiring) != seen { return true }
            }
            rounds += 1
            var t = timespec()
            clock_gettime(CLOCK_MONOTONIC, &t)
            let elapsed = (t.tv_sec - start.tv_sec) * 1_000_000_000 + (t.tv_nsec - start.tv_nsec)
            if elapsed > limitNanoseconds { return false }
        }
    }
}
