// SPDX-License-Identifier: BSD-2-Clause
// Fork.swift: dmover keeps working in a fork child. Before fork the locks that
// guard state the child keeps (backend list, request cache, the list of
// running threads) are taken, so the
// child sees it consistent; the child resets every library lock and forgets
// the parent's threads and queued work (threads start again on first use).

import BSDSystem
import CBSDShim
import Glibc

enum DmoverFork {
    private static let installed: Bool = {
        let handled = CurrentProcess.onFork(
            prepare: {
                BackendRegistry.lock.lock()
                RequestBlocks.cacheLock.lock()
                LibraryThread.prepareFork()
            },
            parent: {
                LibraryThread.parentAfterFork()
                RequestBlocks.cacheLock.unlock()
                BackendRegistry.lock.unlock()
            },
            child: { DmoverFork.child() }
        )
        // Without the child handler a kept pid would go stale in a child.
        if handled { knownPid = CurrentProcess.id }
        return handled
    }()

    /// Installs the fork handlers once (before the first backend registers).
    static func install() { _ = installed }

    /// This process's id, kept current by the fork child handler (glibc's
    /// CurrentProcess.id is a system call; the device paths ask several times
    /// per request). Asked before install(), it makes the system call.
    @inline(__always) static var pid: pid_t {
        let p = knownPid
        return p != 0 ? p : CurrentProcess.id
    }
    /// Set by install() and the child handler; 0 before. A constant
    /// initial value: a stored static with a computed one is initialised
    /// lazily, and every read would pay a call to its initialisation check.
    nonisolated(unsafe) private static var knownPid: pid_t = 0

    /// Runs in the child, single-threaded, with the prepare-time locks still "held".
    private static func child() {
        knownPid = CurrentProcess.id
        RequestBlocks.cacheLock.reset()
        LibraryThread.childAfterFork()
        for b in BackendRegistry.allInChild {
            b.queueLock.reset()
            b.native?.resetInChild()
        }
        CompletionQueue.shared.resetInChild()
        DeviceTable.resetInChild()
        BackendRegistry.lock.reset()
    }
}
