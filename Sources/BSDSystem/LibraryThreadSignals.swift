// SPDX-License-Identifier: BSD-2-Clause
// LibraryThreadSignals.swift: the signal mask of the threads the library starts.

import Glibc

/// Signals belong to the program, so the library's own threads block every
/// asynchronous one (kill, alarms, SIGCHLD... go to the program's threads).
/// The synchronous fault signals stay unblocked: a fault is delivered to the
/// faulting thread whatever its mask, and a blocked one kills the process
/// without running any handler — no crash report, no backtrace, no sanitizer
/// report, just a silent death.
public enum LibraryThreadSignals {
    /// Every signal except SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP and SIGSYS.
    public static var mask: sigset_t {
        var set = sigset_t()
        sigfillset(&set)
        for s in [SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS] { sigdelset(&set, s) }
        return set
    }
}
