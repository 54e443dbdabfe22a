// SPDX-License-Identifier: BSD-2-Clause
// LibkqueueControl.swift: EVFILT_LIBKQUEUE, libkqueue's control interface.

import CBSDShimABI
import Glibc
import Synchronization

/// EVFILT_LIBKQUEUE changes are answered at once in the event list, never kept
/// as knotes (as libkqueue does): NOTE_VERSION puts the version in data,
/// NOTE_VERSION_STR a static string in udata (both always answered, flags
/// gaining EV_RECEIPT); the switches (NOTE_THREAD_SAFE, NOTE_FORK_CLEANUP,
/// NOTE_DEBUG) set a value from data and return the old one, answered only
/// with EV_RECEIPT.
enum LibkqueueControl {
    /// libkqueue's encoding: MAJ<<24 | MIN<<16 | PATCH<<8 | release. We answer as 2.7.0.
    static let version = 2 << 24 | 7 << 16
    static let versionString: StaticString = "2.7.0 (bsdshim 0.1.0)"

    static let threadSafe = Atomic<Int>(1)
    static let forkCleanup = Atomic<Int>(1)

    /// Applies one control change; returns (errno, whether to answer).
    static func apply(_ change: inout kevent) -> (Int32, Bool) {
        guard change.flags & UInt16(EV_ADD) != 0 else { return (EINVAL, false) }
        let receipt = change.flags & UInt16(EV_RECEIPT) != 0
        switch Int32(change.fflags) {
        case NOTE_VERSION:
            change.data = version
            change.flags |= UInt16(EV_RECEIPT)
            return (0, true)
        case NOTE_VERSION_STR:
            change.udata = UnsafeMutableRawPointer(mutating: UnsafeRawPointer(versionString.utf8Start))
            change.flags |= UInt16(EV_RECEIPT)
            return (0, true)
        case NOTE_THREAD_SAFE:
            // bsdshim is always thread-safe; the switch is remembered, not obeyed.
            change.data = threadSafe.exchange(change.data > 0 ? 1 : 0, ordering: .relaxed)
            return (0, receipt)
        case NOTE_FORK_CLEANUP:
            change.data = forkCleanup.exchange(change.data > 0 ? 1 : 0, ordering: .relaxed)
            return (0, receipt)
        case NOTE_DEBUG:
            change.data = Debug.enabled.exchange(change.data > 0, ordering: .relaxed) ? 1 : 0
            return (0, receipt)
        case NOTE_DEBUG_PREFIX, NOTE_DEBUG_FUNC:
            return (0, receipt)
        case NOTE_FILE_POLL_INTERVAL:
            return (ENOSYS, false)  // no file polling in bsdshim (inotify instead)
        default:
            return (EINVAL, false)
        }
    }
}
