// SPDX-License-Identifier: BSD-2-Clause
// SignalHub.swift: process-wide state behind EVFILT_SIGNAL (one per process, like signal dispositions).

import BSDSystem
import Glibc

/// Signals belong to the process, not to a kqueue, so their bookkeeping is
/// shared by every kqueue:
///
/// - a counting handler (C, `signals.c`) is installed for each watched signal;
///   it counts the delivery, pokes the hub eventfd and then applies the
///   program's own disposition (its handler still runs; ignored stays
///   ignored; the default action still happens);
/// - under the preload library the program's sigaction()/signal() calls for
///   a watched signal change the disposition our handler applies, not the
///   kernel's, so ours stays installed and every delivery, in any thread, is
///   counted exactly (BSD);
/// - linked without it, the program may replace our handler behind our back
///   (libevent sets SIG_IGN right after registering), and an ignored signal
///   is discarded by the kernel: so the watched signal is blocked in the
///   thread that registers it and stays pending there instead. Instances
///   raised in that thread while one is pending merge (Linux keeps one
///   pending instance of a classic signal);
/// - a process-wide signalfd sees the pending ones; reading it counts them
///   and applies the disposition (in the reading thread), except for a
///   signal the program itself blocks: the program asked not to have it
///   delivered (the usual way to use EVFILT_SIGNAL, as in libkqueue), so it
///   is only counted;
/// - every kqueue with signal knotes watches the hub eventfd (edge-triggered)
///   and the signalfd, and compares each knote's count with the shared one.
///
/// Every delivery is counted once: either a thread took it (the handler ran)
/// or it was read from the signalfd. Real-time signals queue and are all counted.
enum SignalHub {
    static let signalCount = 65

    struct State {
        var watchers = [Int](repeating: 0, count: SignalHub.signalCount)
        /// The watched signals the library blocked (linked mode), and in which thread.
        var libraryBlocked = sigset_t()
        var blockedIn = [pthread_t](repeating: 0, count: SignalHub.signalCount)
        var mask = sigset_t()
        var signalFD: Int32 = -1
        var hubFD: Int32 = -1
        /// Bumped each time the descriptors are made anew; kqueues re-register then.
        var generation = 0
        var total = 0
    }

    static let lock = FutexLock()
    nonisolated(unsafe) static var state = State()

    /// Starts watching `sig` for one knote.
    static func attach(_ sig: Int32) throws(Errno) {
        try lock.withLock { () throws(Errno) in
            if state.hubFD < 0 {
                state.hubFD = try EventFD.create().fd
                sigemptyset(&state.mask)
                sigemptyset(&state.libraryBlocked)
                state.generation += 1
            }
            if state.watchers[Int(sig)] == 0 {
                try SignalCounter.watch(sig, hub: state.hubFD)
                if !SignalCounter.isInterposed && !ThreadSignalMask.block(sig) {
                    sigaddset(&state.libraryBlocked, sig)
                    state.blockedIn[Int(sig)] = pthread_self()
                }
                sigaddset(&state.mask, sig)
                do throws(Errno) {
                    state.signalFD = try SignalFD.set(state.signalFD, to: state.mask)
                } catch {
                    SignalCounter.unwatch(sig)
                    sigdelset(&state.mask, sig)
                    throw error
                }
            }
            state.watchers[Int(sig)] += 1
            state.total += 1
        }
    }

    /// Stops watching `sig` for one knote; the last one puts everything back.
    static func detach(_ sig: Int32) {
        lock.withLock {
            guard state.watchers[Int(sig)] > 0 else { return }
            state.watchers[Int(sig)] -= 1
            state.total -= 1
            defer { if state.total == 0 { closeDescriptors() } }
            guard state.watchers[Int(sig)] == 0 else { return }
            SignalCounter.unwatch(sig)
            sigdelset(&state.mask, sig)
            let libraryBlockedIt = sigismember(&state.libraryBlocked, sig) == 1
            sigdelset(&state.libraryBlocked, sig)
            if state.signalFD >= 0 { _ = try? SignalFD.set(state.signalFD, to: state.mask) }
            // Only in the thread the library blocked it in: elsewhere the
            // block may be the program's own.
            if libraryBlockedIt && pthread_equal(state.blockedIn[Int(sig)], pthread_self()) != 0 {
                ThreadSignalMask.unblock(sig)
            }
        }
    }

    /// No signal is watched any more: give the descriptors back (nothing of a
    /// closed kqueue may stay behind). The handlers are gone already.
    private static func closeDescriptors() {
        SignalCounter.forgetHub()
        if state.signalFD >= 0 { FileDescriptorOps.close(state.signalFD) }
        if state.hubFD >= 0 { FileDescriptorOps.close(state.hubFD) }
        state.signalFD = -1
        state.hubFD = -1
    }

    /// The descriptors a kqueue watches: (signalfd, hub eventfd, generation).
    static var descriptors: (Int32, Int32, Int) {
        lock.withLock { (state.signalFD, state.hubFD, state.generation) }
    }

    /// Deliveries of `sig` counted so far.
    @inline(__always) static func count(_ sig: Int32) -> UInt64 { SignalCounter.count(sig) }

    /// Reads every pending watched signal off the signalfd, counting each and
    /// applying the program's disposition unless the program blocks it (in
    /// this thread, or where it registered: the library's own block does not
    /// count). Call with no kqueue lock held: the program's handler may call
    /// kevent().
    static func drainSignalFD() {
        let (fd, libraryBlocked) = lock.withLock { (state.signalFD, state.libraryBlocked) }
        guard fd >= 0 else { return }
        var ours = libraryBlocked
        var mask = ThreadSignalMask.current
        while var info = SignalFD.read(fd) {
            let sig = Int32(info.ssi_signo)
            let deliver = sigismember(&ours, sig) == 1 || sigismember(&mask, sig) == 0
            SignalCounter.consumed(sig, &info, deliver: deliver)
        }
    }

    /// Fork child: the kqueues are gone; close the shared descriptors, put
    /// the program's dispositions back, and unblock what the library blocked
    /// in the thread that forked (the child's only thread).
    static func forgetInChild() {
        lock.reset()
        SignalCounter.forgetHub()
        if state.signalFD >= 0 { FileDescriptorOps.close(state.signalFD) }
        if state.hubFD >= 0 { FileDescriptorOps.close(state.hubFD) }
        SignalCounter.unwatchAllInChild()
        let me = pthread_self()
        for sig in 1..<signalCount where sigismember(&state.libraryBlocked, Int32(sig)) == 1 && state.blockedIn[sig] == me {
            ThreadSignalMask.unblock(Int32(sig))
        }
        state = State()
    }
}
