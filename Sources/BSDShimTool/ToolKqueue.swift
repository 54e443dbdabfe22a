// SPDX-License-Identifier: BSD-2-Clause
// ToolKqueue.swift: the tool's calls into the library's Swift kqueue, kept in
// one file: `watch` (EVFILT_VNODE) and the interrupt guard of the writing
// commands (EVFILT_SIGNAL). Errors are caught generically and printed.

import BSDShim
import Glibc

/// What the tool takes from one kevent.
enum ToolKevent {
    /// A vnode note on the watched descriptor `fd`.
    case vnode(fd: Int32, notes: Kqueue.VnodeEvents)
    /// `signal` arrived (it is blocked, so only counted).
    case signal(Int32)
}

/// One kqueue with the registrations the tool needs.
final class ToolKqueue {
    private let kqueue: Kqueue
    private let buffer = Kqueue.EventBuffer(capacity: 64)

    init() throws(ToolError) {
        do { kqueue = try Kqueue() } catch { throw ToolError(.libraryError, "kqueue: \(error)") }
    }

    /// Every vnode note on `fd`, edge-triggered (EV_CLEAR): one event per burst of changes.
    func watchVnode(_ fd: Int32, path: String) throws(ToolError) {
        do {
            try kqueue.register(.vnode(fd, .all), flags: .clear)
        } catch {
            throw ToolError(.libraryError, "\(path): kqueue cannot watch it: \(error)")
        }
    }

    /// Stops watching `fd` (before it is closed).
    func unwatchVnode(_ fd: Int32) {
        try? kqueue.delete(.vnode(fd, []))
    }

    /// Counts deliveries of `signal` (EVFILT_SIGNAL).
    func watchSignal(_ signal: Int32) throws(ToolError) {
        do {
            try kqueue.register(.signal(signal))
        } catch {
            throw ToolError(.libraryError, "kqueue cannot watch signal \(signal): \(error)")
        }
    }

    /// Waits up to `seconds` (nil: no limit, 0: just polls) for events. A wait cut
    /// short without events (EINTR after a stop and continue) returns none.
    func wait(seconds: Double?) throws(ToolError) -> [ToolKevent] {
        let timeout = seconds.map { Duration.nanoseconds(Int64(max(0, $0) * 1e9)) }
        do {
            _ = try kqueue.wait(into: buffer, timeout: timeout)
        } catch .interrupted {
            return []
        } catch {
            throw ToolError(.libraryError, "kqueue: \(error)")
        }
        var events: [ToolKevent] = []
        for event in buffer {
            switch event.kind {
            case .vnode(let file, let notes): events.append(.vnode(fd: file.rawValue, notes: notes))
            case .signal(let number, _): events.append(.signal(number))
            default: break
            }
        }
        return events
    }
}
