// SPDX-License-Identifier: BSD-2-Clause
// KqueueEvent.swift: one event a kqueue delivered, with typed accessors.

import CBSDShimABI
import Glibc
import SystemPackage

extension Kqueue {
    /// One delivered event: which registration fired and what it reports.
    ///
    /// ```swift
    /// for event in buffer {
    ///     switch event.kind {
    ///     case .readable(let fd, let bytes): print("fd \(fd.rawValue): \(bytes) bytes, eof \(event.isEOF)")
    ///     case .timer(let id, let expirations): print("timer \(id) fired \(expirations) times")
    ///     default: break
    ///     }
    /// }
    /// ```
    public struct Event: Sendable, Hashable {
        /// The registration's identifier (`kevent.ident`).
        ///
        /// ```swift
        /// if event.identifier == UInt(fd) { ... }
        /// ```
        public let identifier: UInt
        /// The C filter number (`EVFILT_*`), as ``Filter/code``.
        ///
        /// ```swift
        /// if event.filterCode == Kqueue.Filter.user(0).code { ... }
        /// ```
        public let filterCode: Int16
        /// The raw `EV_*` flags of the event.
        ///
        /// ```swift
        /// let oneshot = event.rawFlags & Kqueue.Flags.oneshot.rawValue != 0
        /// ```
        public let rawFlags: UInt16
        /// The filter-specific flags (`kevent.fflags`).
        ///
        /// ```swift
        /// let changes = Kqueue.VnodeEvents(rawValue: event.filterFlags)
        /// ```
        public let filterFlags: UInt32
        /// The filter-specific data (`kevent.data`).
        ///
        /// ```swift
        /// print("\(event.data) bytes readable")
        /// ```
        public let data: Int
        /// The value given as `userData` when registering.
        ///
        /// ```swift
        /// let handler = handlers[Int(event.userData)]
        /// ```
        public let userData: UInt

        /// Converts a C event.
        ///
        /// ```swift
        /// let event = Kqueue.Event(rawEvent)
        /// ```
        public init(_ kev: kevent) {
            identifier = kev.ident
            filterCode = kev.filter
            rawFlags = kev.flags
            filterFlags = kev.fflags
            data = kev.data
            userData = UInt(bitPattern: kev.udata)
        }

        /// End of file: the peer closed, the write side of a pipe closed, or a process exited.
        /// The corresponding C flag is `EV_EOF`.
        ///
        /// ```swift
        /// if event.isEOF { close(fd) }
        /// ```
        public var isEOF: Bool { rawFlags & UInt16(EV_EOF) != 0 }

        /// The error this event reports (`EV_ERROR` with `data` as errno), if any.
        ///
        /// ```swift
        /// if event.error == .badFileDescriptor { print("the descriptor was closed") }
        /// ```
        public var error: Errno? {
            rawFlags & UInt16(EV_ERROR) != 0 && data != 0 ? Errno(rawValue: Int32(truncatingIfNeeded: data)) : nil
        }

        /// What the event reports, typed by filter.
        ///
        /// ```swift
        /// if case .signal(let number, let count) = event.kind { print(number, count) }
        /// ```
        public var kind: Kind {
            let number = Int32(truncatingIfNeeded: Int(bitPattern: identifier))
            let fd = FileDescriptor(rawValue: number)
            switch Int32(filterCode) {
            case EVFILT_READ: return .readable(fd, bytes: data)
            case EVFILT_WRITE: return .writable(fd, bytes: data)
            case EVFILT_EXCEPT: return .exceptional(fd, outOfBand: filterFlags & UInt32(NOTE_OOB) != 0)
            case EVFILT_VNODE: return .vnode(fd, VnodeEvents(rawValue: filterFlags))
            case EVFILT_PROC: return .proc(pid_t(number), ProcEvents(rawValue: filterFlags), data: data)
            case EVFILT_SIGNAL: return .signal(number, count: data)
            case EVFILT_TIMER: return .timer(identifier, expirations: data)
            case EVFILT_USER: return .user(identifier, flags: filterFlags & UInt32(NOTE_FFLAGSMASK))
            default: return .other(filter: filterCode, identifier: identifier)
            }
        }

        /// For a process that exited (``ProcEvents/exit``): its exit code, if it
        /// exited normally and was the caller's child (Linux tells only the parent).
        ///
        /// ```swift
        /// if let status = event.exitStatus { print("child exited with \(status)") }
        /// ```
        public var exitStatus: Int32? {
            guard Int32(filterCode) == EVFILT_PROC, filterFlags & UInt32(NOTE_EXIT) != 0 else { return nil }
            let status = Int32(truncatingIfNeeded: data)
            return status & 0x7f == 0 ? (status >> 8) & 0xff : nil
        }
    }

    /// An event's report, by filter. Descriptors are swift-system `FileDescriptor`s
    /// (Sendable for the reason ``Filter`` is: they are numbers held as values).
    ///
    /// ```swift
    /// if case .vnode(_, let changes) = event.kind, changes.contains(.delete) { print("gone") }
    /// ```
    public enum Kind: @unchecked Sendable, Hashable {
        /// The descriptor is readable; `bytes` available (listening socket: pending connections).
        case readable(FileDescriptor, bytes: Int)
        /// The descriptor is writable; `bytes` of room in its buffer.
        case writable(FileDescriptor, bytes: Int)
        /// An exceptional condition: out-of-band data on a TCP socket.
        case exceptional(FileDescriptor, outOfBand: Bool)
        /// The file open as the descriptor changed in these ways (accumulated until delivered).
        case vnode(FileDescriptor, VnodeEvents)
        /// The process exited, forked or called exec; for an exit, `data` is its wait status.
        case proc(pid_t, ProcEvents, data: Int)
        /// The signal was sent `count` times since the last delivery.
        case signal(Int32, count: Int)
        /// The timer expired `expirations` times since the last delivery.
        case timer(UInt, expirations: Int)
        /// The user event was triggered; `flags` are its accumulated user flags.
        case user(UInt, flags: UInt32)
        /// A filter this API has no case for.
        case other(filter: Int16, identifier: UInt)
    }
}
