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
    // The kqueue at +0, found without a lock (see KqueueRegistry).
    KqueueRegistry.withKqueue(kq) { queue, hold in
        keventCall(queue, &hold, changelist, nchanges, eventlist, nevents, timeout)
    } ?? fail(.badFileDescriptor)
}

@inline(__always)
private func keventCall(
    _ queue: EpollKqueue, _ hold: inout KqueueHold,
    _ changelist: UnsafePointer<kevent>?, _ nchanges: Int32,
    _ eventlist: UnsafeMutablePointer<kevent>?, _ nevents: Int32,
    _ timeout: UnsafePointer<timespec>?
) -> Int32 {
    guard nchanges >= 0, nevents >= 0 else { return fail(.invalidArgument) }
    if nchanges > 0 && changelist == nil { return fail(.badAddress) }
    if nevents > 0 && eventlist == nil { return fail(.badAddress) }
    var ns: UInt64? = nil
    if let t = timeout?.pointee {
        guard t.tv_sec >= 0, t.tv_nsec >= 0, t.tv_nsec < 1_000_000_000 else { return fail(.invalidArgument) }
        // Beyond ~292 years a timeout is as good as infinite.
        let (s, o) = UInt64(t.tv_sec).multipliedReportingOverflow(by: 1_000_000_000)
        ns = o || s > UInt64(Int64.max) / 2 ? nil : s + UInt64(t.tv_nsec)
    }
    do {
        return Int32(try queue.kevent(changes: changelist, count: Int(nchanges), events: eventlist,
                                      capacity: Int(nevents), timeout: ns, hold: &hold))
    } catch {
        return fail(error)
    }
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
