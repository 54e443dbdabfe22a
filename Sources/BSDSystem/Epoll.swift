// SPDX-License-Identifier: BSD-2-Clause
// Epoll.swift: typed epoll(7) calls.

import CBSDShim
import Glibc

/// An epoll instance, by descriptor. Value type: ownership is the caller's.
public struct Epoll: Sendable {
    public let fd: Int32
    @inlinable public init(fd: Int32) { self.fd = fd }

    public static let readable = cbsdshim_EPOLLIN
    public static let writable = cbsdshim_EPOLLOUT
    public static let priority = cbsdshim_EPOLLPRI
    public static let error = cbsdshim_EPOLLERR
    public static let hangup = cbsdshim_EPOLLHUP
    public static let readHangup = cbsdshim_EPOLLRDHUP
    public static let edgeTriggered = cbsdshim_EPOLLET
    public static let oneShot = cbsdshim_EPOLLONESHOT

    /// epoll_create1(EPOLL_CLOEXEC).
    public static func create() throws(Errno) -> Epoll {
        Epoll(fd: try valueOrErrno { InjectedFault.hit(.epollCreate) ? -1 : epoll_create1(Int32(EPOLL_CLOEXEC)) })
    }

    @inlinable public func add(_ target: Int32, events: UInt32, data: UInt64) throws(Errno) {
        try ctl(Int32(EPOLL_CTL_ADD), target, events: events, data: data)
    }
    @inlinable public func modify(_ target: Int32, events: UInt32, data: UInt64) throws(Errno) {
        try ctl(Int32(EPOLL_CTL_MOD), target, events: events, data: data)
    }
    @inlinable public func remove(_ target: Int32) throws(Errno) {
        try ctl(Int32(EPOLL_CTL_DEL), target, events: 0, data: 0)
    }

    @inlinable func ctl(_ op: Int32, _ target: Int32, events: UInt32, data: UInt64) throws(Errno) {
        var ev = epoll_event()
        ev.events = events
        ev.data.u64 = data
        // Unprotected: the kernel reads exactly one epoll_event there, and a
        // stack-protector check costs more than the rest of the wrapper.
        _ = try _withUnprotectedUnsafeMutablePointer(to: &ev) { (ev) throws(Errno) in
            try valueOrErrno { InjectedFault.hit(.epollCtl) ? -1 : epoll_ctl(fd, op, target, ev) }
        }
    }

    /// epoll_pwait2 with a nanosecond timeout (nil = infinite). EINTR is thrown,
    /// not retried: kevent() reports it to its caller as BSD does.
    @inlinable public func wait(
        into buffer: UnsafeMutablePointer<epoll_event>, capacity: Int32, timeout: UInt64?
    ) throws(Errno) -> Int32 {
        if timeout == 0 {
            // A poll: the plain call is the cheapest.
            return try valueOrErrno(retryOnInterrupt: false) { epoll_wait(fd, buffer, capacity, 0) }
        }
        if let ns = timeout {
            var ts = timespec(tv_sec: Int(ns / 1_000_000_000), tv_nsec: Int(ns % 1_000_000_000))
            do {
                return try valueOrErrno(retryOnInterrupt: false) {
                    cbsdshim_epoll_pwait2(fd, buffer, capacity, &ts)
                }
            } catch where error.rawValue == ENOSYS {
                // Kernels before 5.11: millisecond resolution, rounded up.
                let ms = ns == 0 ? 0 : Int32(clamping: (ns + 999_999) / 1_000_000)
                return try valueOrErrno(retryOnInterrupt: false) { epoll_wait(fd, buffer, capacity, ms) }
            }
        }
        return try valueOrErrno(retryOnInterrupt: false) { epoll_wait(fd, buffer, capacity, -1) }
    }
}
