// SPDX-License-Identifier: BSD-2-Clause
// Futex.swift: sleeping on and waking a 32-bit word in process-private memory.

import CBSDShim

/// futex(2) on words the caller owns (request flags, sequence counters,
/// response counts). Callers re-check their condition after every return:
/// a wait also ends on a wake of a neighbour or a spurious wake-up.
public enum Futex {
    /// Sleeps while `*word == expected`; returns when woken, on a signal or
    /// at once if the word already differs.
    @inlinable @inline(__always)
    public static func wait(_ word: UnsafeMutablePointer<Int32>, while expected: Int32) {
        cbsdshim_futex_wait(word, expected)
    }

    /// As ``wait(_:while:)``, but says whether a signal handler interrupted
    /// the sleep (the caller returns EINTR then, as a BSD sleep without
    /// PCATCH restart would).
    @inlinable @inline(__always)
    public static func waitInterruptible(_ word: UnsafeMutablePointer<Int32>, while expected: Int32) -> Bool {
        cbsdshim_futex_wait_signalled(word, expected) != 0
    }

    /// Sleeps while `*word == expected`; true if any signal handler ran,
    /// SA_RESTART or not (for a call that has already done part of its
    /// work and returns the short count then, as BSD's read and write).
    @inlinable @inline(__always)
    public static func waitUntilSignal(_ word: UnsafeMutablePointer<Int32>, while expected: Int32) -> Bool {
        cbsdshim_futex_wait_any_signal(word, expected) != 0
    }

    /// Wakes every thread sleeping on `word`.
    @inlinable @inline(__always)
    public static func wakeAll(_ word: UnsafeMutablePointer<Int32>) {
        cbsdshim_futex_wake_all(word)
    }
}
