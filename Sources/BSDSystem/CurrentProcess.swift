// SPDX-License-Identifier: BSD-2-Clause
// CurrentProcess.swift: facts about, and fork hooks of, the process the library runs in; the calling thread's yield.

import CBSDShim
import Glibc

/// The calling process: its id, the CPUs it may run on, and fork handlers.
public enum CurrentProcess {
    /// getpid(2).
    @inlinable public static var id: pid_t { getpid() }

    /// CPUs in the process's affinity mask (sched_getaffinity), at least 1:
    /// what a taskset or cpuset leaves, not what the machine has.
    public static var allowedCPUCount: Int { max(1, Int(cbsdshim_cpus_allowed())) }

    /// pthread_atfork(3). False if the handlers could not be registered.
    public static func onFork(prepare: @convention(c) () -> Void, parent: @convention(c) () -> Void,
                              child: @convention(c) () -> Void) -> Bool {
        cbsdshim_atfork(prepare, parent, child) == 0
    }
}

/// The calling thread.
public enum CurrentThread {
    /// sched_yield(2): lets another runnable thread have this CPU.
    @inlinable public static func yield() { sched_yield() }
}
