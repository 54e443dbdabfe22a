// SPDX-License-Identifier: BSD-2-Clause
// KqueueAPI.swift: the C ABI of include/sys/event.h (kqueue, kevent, libkqueue_drain_pending_close).

@_exported import CBSDShimABI
import BSDSystem
import Glibc
import KqueueCore

/// `int kqueue(void)`: see include/sys/event.h.
@_cdecl("kqueue")
public func bsdshim_kqueue() -> Int32 {
    do { return try EpollKqueue.create().fd } catch { return fail(error) }
}

/// `int kevent(int, const struct kevent *, int, struct kevent *, int, const struct timespec *)`:
/// see include/sys/event.h.
@_cdecl("kevent")
public func bsdshim_kevent(
    _ kq: Int32,
    _ changelist: UnsafePointer<kevent>?, _ nchanges: Int32,
    _ eventlist: UnsafeMutablePointer<kevent>?, _ nevents: Int32,
    _ timeout: UnsafePointer<timespec>?
) -> Int32 {
    KqueueRegistry.keventCall(kq, changelist, nchanges, eventlist, nevents, timeout)
}

/// `void bsdshim_fd_closing(int fd)`: see include/sys/event.h.
@_cdecl("bsdshim_fd_closing")
public func bsdshim_fd_closing(_ fd: Int32) {
    KqueueRegistry.descriptorClosing(fd)
}

/// `void libkqueue_drain_pending_close(void)`: reclaims kqueues whose descriptor was closed.
@_cdecl("libkqueue_drain_pending_close")
public func bsdshim_libkqueue_drain_pending_close() {
    KqueueRegistry.sweep()
}

@inline(__always)
private func fail(_ e: Errno) -> Int32 {
    Errno.current = e
    return -1
}
