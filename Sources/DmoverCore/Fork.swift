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
        CurrentProcess.onFork(
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
    }()

    /// Installs the fork handlers once (before the first backend registers).
    static func install() { _ = installed }

    /// This process's id, kept current by the fork child handler (glibc's
    /// CurrentProcess.id is a system call; the device paths ask several times per request).
    nonisolated(unsafe) private(set) static var pid: pid_t = CurrentProcess.id

    /// Runs in the child, single-threaded, with the prepare-time locks still "held".
    private static func child() {
        pid = CurrentProcess.id
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
