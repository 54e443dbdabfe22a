// SPDX-License-Identifier: BSD-2-Clause
// ProcessDescriptor.swift: pidfd_open(2) and a pidfd's exit status.

import CBSDShim
import Glibc

/// A process descriptor (pidfd): polls readable once the process has exited.
public enum ProcessDescriptor {
    /// pidfd_open(pid), close-on-exec. ENOSYS on kernels before 5.3.
    public static func open(_ pid: pid_t) throws(Errno) -> Int32 {
        let fd = try valueOrErrno { cbsdshim_pidfd_open(pid, 0) }
        _ = try? FileDescriptorOps.fcntl(fd, F_SETFD, FD_CLOEXEC)
        return fd
    }

    /// The wait(2) status of the exited process behind `pidfd`, read without
    /// reaping it. EAGAIN: it has not exited; ECHILD and others: not a child
    /// of the caller (Linux keeps the status for the parent).
    public static func exitStatus(_ pidfd: Int32) throws(Errno) -> Int32 {
        var status: Int32 = 0
        _ = try valueOrErrno { cbsdshim_pidfd_exit_status(pidfd, &status) }
        return status
    }
}
