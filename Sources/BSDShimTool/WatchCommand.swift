// SPDX-License-Identifier: BSD-2-Clause
// WatchCommand.swift: `bsdshim watch PATH...`: prints file-system changes as
// they happen (kqueue EVFILT_VNODE), like fswatch.

import ArgumentParser
import BSDShim
import Glibc

struct WatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Print file-system events (kqueue EVFILT_VNODE) on files and directories as they happen.",
        discussion: """
            Each event is one line: "<UTC time> <events> <path>", e.g. \
            "2026-01-31T12:00:00.123Z write,extend /tmp/log", where events is a comma-separated \
            list of delete, write, extend, attrib, link, rename, truncate. A directory reports \
            write when entries are added or removed. The watch follows the file, not the name: \
            after rename it goes on reporting under the name given; after delete that path is \
            no longer watched, and the command ends when no path is left. \
            With --json each event is {"time":...,"path":...,"events":[...]}.
            """ + ExitStatus.helpSuffix)

    @Flag(name: .long, help: "Print JSON lines instead of text.")
    var json = false

    @Option(name: .long, help: "Stop after this many seconds (status 0).")
    var timeout: Double?

    @Option(name: .long, help: "Stop after this many events (status 0).")
    var count: Int?

    @Argument(help: "Files or directories to watch.")
    var paths: [String]

    func validate() throws {
        if let timeout, !(timeout >= 0) { throw ValidationError("--timeout must be a number of seconds, 0 or more") }
        if let count, count < 1 { throw ValidationError("--count must be 1 or more") }
    }

    func run() throws {
        let kq: Kqueue
        do { kq = try Kqueue() } catch { throw ToolError(.libraryError, "kqueue: \(error)") }
        var watched: [Int32: String] = [:]
        defer { for fd in watched.keys { close(fd) } }
        for path in paths {
            // O_NONBLOCK: opening a FIFO to watch it must not wait for a writer.
            let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
            if fd < 0 { throw ToolError.file(path, "cannot watch", errno: errno) }
            watched[fd] = path
            do {
                try kq.register(.vnode(fd, .all), flags: .clear)
            } catch {
                throw ToolError(.libraryError, "\(path): kqueue cannot watch it: \(error)")
            }
        }
        let deadline = timeout.map { Self.now() + $0 }
        let buffer = Kqueue.EventBuffer(capacity: 64)
        var printed = 0
        while !watched.isEmpty {
            var wait: Duration? = nil
            if let deadline {
                let left = deadline - Self.now()
                if left <= 0 { return }
                wait = .nanoseconds(Int64(left * 1e9))
            }
            do {
                try kq.wait(into: buffer, timeout: wait)
            } catch .interrupted {
                continue
            } catch {
                throw ToolError(.libraryError, "kqueue: \(error)")
            }
            for event in buffer {
                guard case .vnode(let file, let changes) = event.kind, case let fd = file.rawValue, let path = watched[fd] else { continue }
                report(changes, path)
                printed += 1
                if changes.contains(.delete) {
                    try? kq.delete(.vnode(fd, []))
                    close(fd)
                    watched[fd] = nil
                }
                if let count, printed >= count { return }
            }
        }
    }

    private func report(_ changes: Kqueue.VnodeEvents, _ path: String) {
        let names = Self.names.filter { changes.contains($0.0) }.map(\.1)
        let time = Self.timestamp()
        if json {
            Output.line(JSON.object([("time", .string(time)), ("path", .string(path)), ("events", .strings(names))]))
        } else {
            Output.line(time + " " + names.joined(separator: ",") + " " + path)
        }
    }

    private static let names: [(Kqueue.VnodeEvents, String)] = [
        (.delete, "delete"), (.write, "write"), (.extend, "extend"), (.attrib, "attrib"),
        (.link, "link"), (.rename, "rename"), (.truncate, "truncate"),
    ]

    private static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// The current UTC time as ISO 8601 with milliseconds.
    static func timestamp() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var t = tm()
        var secs = ts.tv_sec
        gmtime_r(&secs, &t)
        func pad(_ v: Int, _ width: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return pad(Int(t.tm_year) + 1900, 4) + "-" + pad(Int(t.tm_mon) + 1, 2) + "-" + pad(Int(t.tm_mday), 2)
            + "T" + pad(Int(t.tm_hour), 2) + ":" + pad(Int(t.tm_min), 2) + ":" + pad(Int(t.tm_sec), 2)
            + "." + pad(ts.tv_nsec / 1_000_000, 3) + "Z"
    }
}
