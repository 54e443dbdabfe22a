// SPDX-License-Identifier: BSD-2-Clause
// SignalCounting.swift: typed calls behind EVFILT_SIGNAL: signalfd, the thread's mask, the counting handler.

import CBSDShim
import Glibc

/// signalfd(2): a non-blocking, close-on-exec descriptor reading pending signals.
public enum SignalFD {
    /// Makes a signalfd for `mask` (`fd` -1) or changes the mask of `fd`.
    public static func set(_ fd: Int32, to mask: sigset_t) throws(Errno) -> Int32 {
        var m = mask
        return try valueOrErrno { signalfd(fd, &m, Int32(SFD_NONBLOCK | SFD_CLOEXEC)) }
    }

    /// Takes one pending signal, nil when none is left.
    public static func read(_ fd: Int32) -> signalfd_siginfo? {
        var info = signalfd_siginfo()
        let size = MemoryLayout<signalfd_siginfo>.size
        guard let n = try? valueOrErrno({ Glibc.read(fd, &info, size) }), n == size else { return nil }
        return info
    }
}

/// The calling thread's signal mask (pthread_sigmask(3)).
public enum ThreadSignalMask {
    /// Blocks `sig`; returns whether it was blocked already.
    public static func block(_ sig: Int32) -> Bool {
        var set = sigset_t(), old = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, sig)
        pthread_sigmask(SIG_BLOCK, &set, &old)
        return sigismember(&old, sig) == 1
    }

    public static func unblock(_ sig: Int32) {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, sig)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    /// The signals the calling thread blocks.
    public static var current: sigset_t {
        var mask = sigset_t()
        pthread_sigmask(SIG_SETMASK, nil, &mask)
        return mask
    }
}

/// The counting handler (signals.c) that EVFILT_SIGNAL installs per watched
/// signal: it counts each delivery, pokes a hub eventfd and applies the
/// program's own disposition. C, because a handler must be async-signal-safe.
public enum SignalCounter {
    /// Installs the handler for `sig`, poking `hub` on each delivery.
    public static func watch(_ sig: Int32, hub: Int32) throws(Errno) {
        _ = try valueOrErrno { cbsdshim_signal_watch(sig, hub) }
    }

    /// Puts the program's disposition of `sig` back.
    public static func unwatch(_ sig: Int32) { cbsdshim_signal_unwatch(sig) }

    /// Fork child: puts every watched signal's disposition back.
    public static func unwatchAllInChild() { cbsdshim_signal_unwatch_all_in_child() }

    /// True under the preload library: the program's sigaction() of a watched
    /// signal changes the disposition our handler applies, never the kernel's.
    public static var isInterposed: Bool { cbsdshim_signal_interposed() != 0 }

    /// Deliveries of `sig` counted so far.
    @inlinable public static func count(_ sig: Int32) -> UInt64 { cbsdshim_signal_count(sig) }

    /// Counts an instance read from a signalfd; applies the program's
    /// disposition in the calling thread when `deliver`.
    public static func consumed(_ sig: Int32, _ info: inout signalfd_siginfo, deliver: Bool) {
        cbsdshim_signal_consumed(sig, &info, deliver ? 1 : 0)
    }

    /// The handler stops poking the hub eventfd (about to be closed).
    public static func forgetHub() { cbsdshim_signal_forget_hub() }
}
