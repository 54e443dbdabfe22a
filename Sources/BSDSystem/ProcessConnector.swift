// SPDX-License-Identifier: BSD-2-Clause
// ProcessConnector.swift: the kernel's process-events connector (fork and exec reports).

import CBSDShim

/// A non-blocking, close-on-exec netlink socket subscribed to the kernel's
/// process events (needs CAP_NET_ADMIN). The netlink protocol is spoken in C
/// (proc_connector.c); this is its typed face.
public struct ProcessConnector: Sendable {
    public let fd: Int32
    @inlinable public init(fd: Int32) { self.fd = fd }

    /// Opens and subscribes the socket; EOPNOTSUPP when the kernel refuses.
    public static func open() throws(Errno) -> ProcessConnector {
        ProcessConnector(fd: try valueOrErrno { cbsdshim_proc_connector_open() })
    }

    /// Reads pending fork/exec events into `buffer`; returns how many (0: none).
    public func read(into buffer: UnsafeMutableBufferPointer<cbsdshim_proc_event>) -> Int {
        Int(cbsdshim_proc_connector_read(fd, buffer.baseAddress, Int32(buffer.count)))
    }
}
