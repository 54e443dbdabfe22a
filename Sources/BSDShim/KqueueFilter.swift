// SPDX-License-Identifier: BSD-2-Clause
// KqueueFilter.swift: what a kqueue registration watches (EVFILT_* with typed arguments).

import CBSDShimABI
import Glibc
import SystemPackage

extension Kqueue {
    /// What a registration watches: the filter with its identifier and arguments.
    ///
    /// The identifier and the filter together name a registration: registering the
    /// same pair again modifies it, and ``Kqueue/delete(_:)`` needs only the pair
    /// (other arguments are ignored there).
    ///
    /// Descriptors are swift-system `FileDescriptor`s; each descriptor filter
    /// also has a form taking the raw `Int32`. The caller keeps the descriptor
    /// open while it is registered.
    ///
    /// Sendable although `FileDescriptor` is not: a filter holds the
    /// descriptor's number only, as a value (swift-system leaves the type
    /// non-Sendable over using one descriptor from several threads, which a
    /// filter never does).
    ///
    /// ```swift
    /// let (readEnd, _) = try FileDescriptor.pipe()
    /// try kq.register(.read(readEnd))
    /// try kq.register(.timer(1, interval: .milliseconds(10)), flags: .oneshot)
    /// let file = try FileDescriptor.open("/tmp/log", .readOnly)
    /// try kq.register(.vnode(file, [.write, .delete]), flags: .clear)
    /// ```
    public enum Filter: @unchecked Sendable, Hashable {
        /// The descriptor is readable; with `lowWater`, only once that many bytes are.
        /// The corresponding C filter is `EVFILT_READ` (`NOTE_LOWAT`).
        case read(FileDescriptor, lowWater: Int? = nil)
        /// The descriptor is writable; with `lowWater`, only once that much room is free.
        /// The corresponding C filter is `EVFILT_WRITE` (`NOTE_LOWAT`).
        case write(FileDescriptor, lowWater: Int? = nil)
        /// Out-of-band data arrived on a TCP socket. The corresponding C filter is
        /// `EVFILT_EXCEPT` with `NOTE_OOB`.
        case except(FileDescriptor)
        /// The file open as the descriptor changed in one of the given ways.
        /// The corresponding C filter is `EVFILT_VNODE`.
        case vnode(FileDescriptor, VnodeEvents)
        /// The process exited, forked or called exec. The corresponding C filter is `EVFILT_PROC`.
        case proc(pid_t, ProcEvents)
        /// The signal was sent to the process (counted; its disposition still applies).
        /// The corresponding C filter is `EVFILT_SIGNAL`.
        case signal(Int32)
        /// A periodic timer named by any number (one-shot with ``Flags/oneshot``).
        /// The corresponding C filter is `EVFILT_TIMER` (in nanoseconds).
        case timer(UInt, interval: Duration)
        /// A timer that fires once at a wall-clock time, given as the time since the
        /// Unix epoch. The corresponding C filter is `EVFILT_TIMER` with `NOTE_ABSOLUTE`.
        case absoluteTimer(UInt, deadline: Duration)
        /// An event the program triggers itself with ``Kqueue/trigger(user:flags:userData:)``.
        /// The corresponding C filter is `EVFILT_USER`.
        case user(UInt)

        /// The C filter number (`EVFILT_*`).
        ///
        /// ```swift
        /// Kqueue.Filter.read(.standardInput).code   // EVFILT_READ (-1)
        /// ```
        public var code: Int16 {
            switch self {
            case .read: Int16(EVFILT_READ)
            case .write: Int16(EVFILT_WRITE)
            case .except: Int16(EVFILT_EXCEPT)
            case .vnode: Int16(EVFILT_VNODE)
            case .proc: Int16(EVFILT_PROC)
            case .signal: Int16(EVFILT_SIGNAL)
            case .timer, .absoluteTimer: Int16(EVFILT_TIMER)
            case .user: Int16(EVFILT_USER)
            }
        }

        /// The identifier (`kevent.ident`): descriptor, pid, signal number or the caller's number.
        ///
        /// ```swift
        /// Kqueue.Filter.signal(SIGHUP).identifier   // 1
        /// ```
        public var identifier: UInt {
            switch self {
            case .read(let fd, _), .write(let fd, _), .except(let fd), .vnode(let fd, _):
                UInt(bitPattern: Int(fd.rawValue))
            case .proc(let pid, _): UInt(bitPattern: Int(pid))
            case .signal(let s): UInt(bitPattern: Int(s))
            case .timer(let id, _), .absoluteTimer(let id, _), .user(let id): id
            }
        }

        /// ``read(_:lowWater:)`` of a raw descriptor number.
        ///
        /// ```swift
        /// try kq.register(.read(socketFD))   // socketFD: Int32
        /// ```
        public static func read(_ descriptor: Int32, lowWater: Int? = nil) -> Filter {
            .read(FileDescriptor(rawValue: descriptor), lowWater: lowWater)
        }

        /// ``write(_:lowWater:)`` of a raw descriptor number.
        ///
        /// ```swift
        /// try kq.register(.write(socketFD), flags: .oneshot)   // socketFD: Int32
        /// ```
        public static func write(_ descriptor: Int32, lowWater: Int? = nil) -> Filter {
            .write(FileDescriptor(rawValue: descriptor), lowWater: lowWater)
        }

        /// ``except(_:)`` of a raw descriptor number.
        ///
        /// ```swift
        /// try kq.register(.except(socketFD))   // socketFD: Int32
        /// ```
        public static func except(_ descriptor: Int32) -> Filter {
            .except(FileDescriptor(rawValue: descriptor))
        }

        /// ``vnode(_:_:)`` of a raw descriptor number.
        ///
        /// ```swift
        /// try kq.register(.vnode(fileFD, .all), flags: .clear)   // fileFD: Int32
        /// ```
        public static func vnode(_ descriptor: Int32, _ events: VnodeEvents) -> Filter {
            .vnode(FileDescriptor(rawValue: descriptor), events)
        }

        /// fflags and data of a change for this filter.
        var arguments: (fflags: UInt32, data: Int) {
            switch self {
            case .read(_, let low), .write(_, let low):
                if let low { return (UInt32(NOTE_LOWAT), low) }
                return (0, 0)
            case .except: return (UInt32(NOTE_OOB), 0)
            case .vnode(_, let e): return (e.rawValue, 0)
            case .proc(_, let e): return (e.rawValue, 0)
            case .signal, .user: return (0, 0)
            case .timer(_, let d): return (UInt32(NOTE_NSECONDS), d.nanosecondsClamped)
            case .absoluteTimer(_, let d): return (UInt32(NOTE_NSECONDS | NOTE_ABSOLUTE), d.nanosecondsClamped)
            }
        }
    }

    /// How a registration behaves once it fires.
    ///
    /// ```swift
    /// try kq.register(.user(7), flags: [.clear, .dispatch])
    /// ```
    public struct Flags: OptionSet, Sendable, Hashable {
        /// The `EV_*` bits.
        public let rawValue: UInt16
        /// Creates flags from `EV_*` bits.
        public init(rawValue: UInt16) { self.rawValue = rawValue }

        /// Deliver once, then delete the registration. The corresponding C flag is `EV_ONESHOT`.
        public static let oneshot = Flags(rawValue: UInt16(EV_ONESHOT))
        /// Reset the state after delivery (edge-triggered). The corresponding C flag is `EV_CLEAR`.
        public static let clear = Flags(rawValue: UInt16(EV_CLEAR))
        /// Disable after delivery until ``Kqueue/enable(_:)``. The corresponding C flag is `EV_DISPATCH`.
        public static let dispatch = Flags(rawValue: UInt16(EV_DISPATCH))
        /// Register disabled: nothing is delivered until ``Kqueue/enable(_:)``.
        /// The corresponding C flag is `EV_DISABLE`.
        public static let disabled = Flags(rawValue: UInt16(EV_DISABLE))
    }

    /// The changes of a file an ``Filter/vnode(_:_:)`` registration reports.
    ///
    /// ```swift
    /// try kq.register(.vnode(fd, [.write, .extend, .delete]), flags: .clear)
    /// ```
    public struct VnodeEvents: OptionSet, Sendable, Hashable {
        /// The `NOTE_*` bits.
        public let rawValue: UInt32
        /// Creates a set from `NOTE_*` bits.
        public init(rawValue: UInt32) { self.rawValue = rawValue }

        /// The file was unlinked. The corresponding C constant is `NOTE_DELETE`.
        public static let delete = VnodeEvents(rawValue: UInt32(NOTE_DELETE))
        /// The file was written to. The corresponding C constant is `NOTE_WRITE`.
        public static let write = VnodeEvents(rawValue: UInt32(NOTE_WRITE))
        /// The file grew. The corresponding C constant is `NOTE_EXTEND`.
        public static let extend = VnodeEvents(rawValue: UInt32(NOTE_EXTEND))
        /// The file's attributes changed. The corresponding C constant is `NOTE_ATTRIB`.
        public static let attrib = VnodeEvents(rawValue: UInt32(NOTE_ATTRIB))
        /// The file's link count changed. The corresponding C constant is `NOTE_LINK`.
        public static let link = VnodeEvents(rawValue: UInt32(NOTE_LINK))
        /// The file was renamed. The corresponding C constant is `NOTE_RENAME`.
        public static let rename = VnodeEvents(rawValue: UInt32(NOTE_RENAME))
        /// The file was truncated. The corresponding C constant is `NOTE_TRUNCATE`.
        public static let truncate = VnodeEvents(rawValue: UInt32(NOTE_TRUNCATE))
        /// Every change Linux can report. (BSD's `NOTE_REVOKE` does not exist on Linux.)
        public static let all: VnodeEvents = [.delete, .write, .extend, .attrib, .link, .rename, .truncate]
    }

    /// The process events a ``Filter/proc(_:_:)`` registration reports (and, in
    /// events, the output bits ``child`` and ``trackError``).
    ///
    /// ```swift
    /// try kq.register(.proc(childPID, .exit))
    /// ```
    public struct ProcEvents: OptionSet, Sendable, Hashable {
        /// The `NOTE_*` bits.
        public let rawValue: UInt32
        /// Creates a set from `NOTE_*` bits.
        public init(rawValue: UInt32) { self.rawValue = rawValue }

        /// The process exited. The corresponding C constant is `NOTE_EXIT`.
        public static let exit = ProcEvents(rawValue: UInt32(NOTE_EXIT))
        /// The process forked. The corresponding C constant is `NOTE_FORK`.
        public static let fork = ProcEvents(rawValue: UInt32(NOTE_FORK))
        /// The process called exec. The corresponding C constant is `NOTE_EXEC`.
        public static let exec = ProcEvents(rawValue: UInt32(NOTE_EXEC))
        /// Follow forks: each child gets a registration of its own. The corresponding C constant is `NOTE_TRACK`.
        public static let track = ProcEvents(rawValue: UInt32(NOTE_TRACK))
        /// Output: a child could not be followed. The corresponding C constant is `NOTE_TRACKERR`.
        public static let trackError = ProcEvents(rawValue: UInt32(NOTE_TRACKERR))
        /// Output: the event is a tracked child's first. The corresponding C constant is `NOTE_CHILD`.
        public static let child = ProcEvents(rawValue: UInt32(NOTE_CHILD))
    }
}

extension Duration {
    /// Whole nanoseconds, clamped to what `intptr_t` holds (negative stays negative: EINVAL).
    var nanosecondsClamped: Int {
        let (s, atto) = components
        let (ns, o) = s.multipliedReportingOverflow(by: 1_000_000_000)
        if o { return s < 0 ? Int.min : Int.max }
        let (sum, o2) = ns.addingReportingOverflow(atto / 1_000_000_000)
        return o2 ? (ns < 0 ? Int.min : Int.max) : Int(sum)
    }
}
