// SPDX-License-Identifier: BSD-2-Clause
// InterruptGuard.swift: SIGHUP, SIGINT and SIGTERM while a command writes a file.
// The signals are blocked and counted by the library's own kqueue
// (EVFILT_SIGNAL, the usual BSD way to take signals without a handler); the
// writing loop asks between chunks, and the cleanup runs in normal code.

import Glibc

/// Blocks the stop signals of a writing command and reports the first one that arrived.
final class InterruptGuard {
    /// The signals that stop a writing command (with status 128 + number).
    static let signals: [Int32] = [SIGHUP, SIGINT, SIGTERM]

    private let kqueue: ToolKqueue
    private var savedMask = sigset_t()

    /// Call before any thread of the program's own is started: a thread that does
    /// not block the signals would take them with their default action. (The
    /// library's threads block every asynchronous signal.) A signal the tool was
    /// started with ignored (nohup, or a background job's SIGINT) stays ignored.
    init() throws(ToolError) {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in Self.signals where !Self.isIgnored(signal) { sigaddset(&set, signal) }
        pthread_sigmask(SIG_BLOCK, &set, &savedMask)
        kqueue = try ToolKqueue()
        for signal in Self.signals where sigismember(&set, signal) == 1 {
            try kqueue.watchSignal(signal)
        }
    }

    /// Unblocks the signals again: one that arrived after the last check now takes
    /// its default action (the output is complete by then).
    deinit {
        pthread_sigmask(SIG_SETMASK, &savedMask, nil)
    }

    /// The first stop signal that arrived so far, or nil. Does not wait.
    func arrived() throws(ToolError) -> Int32? {
        for event in try kqueue.wait(seconds: 0) {
            if case .signal(let number) = event { return number }
        }
        return nil
    }

    private static func isIgnored(_ signal: Int32) -> Bool {
        var current = sigaction()
        guard sigaction(signal, nil, &current) == 0, let handler = current.__sigaction_handler.sa_handler else {
            return false
        }
        return unsafeBitCast(handler, to: Int.self) == 1   // SIG_IGN, a cast macro Swift does not import
    }
}
