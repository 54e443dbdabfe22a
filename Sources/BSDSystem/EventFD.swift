// SPDX-License-Identifier: BSD-2-Clause
// EventFD.swift: eventfd(2) used as a level-triggered wake-up flag.

import CBSDShim
import Glibc

/// A non-blocking, close-on-exec eventfd.
public struct EventFD: Sendable {
    public let fd: Int32
    @inlinable public init(fd: Int32) { self.fd = fd }

    public static func create() throws(Errno) -> EventFD {
        EventFD(fd: try valueOrErrno { InjectedFault.hit(.eventfd) ? -1 : eventfd(0, Int32(EFD_CLOEXEC | EFD_NONBLOCK)) })
    }

    /// Makes the descriptor readable (adds 1 to the counter). Always inlined,
    /// as before typed throws made its unused error path larger: kevent()
    /// calls it (and reset()) each time its queue fills or empties.
    @inlinable @inline(__always) public func signal() {
        var one: UInt64 = 1
        _ = try? valueOrErrno { Glibc.write(fd, &one, 8) }
    }

    /// Makes the descriptor unreadable again (reads the counter).
    @inlinable @inline(__always) public func reset() {
        var v: UInt64 = 0
        _ = try? valueOrErrno { Glibc.read(fd, &v, 8) }
    }
}
