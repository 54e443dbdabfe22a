// SPDX-License-Identifier: BSD-2-Clause
// WatchCommand.swift: `bsdshim watch PATH...`: prints which entries change
// inside watched directories (and changes of watched files) as they happen,
// like inotifywait and fswatch, on the library's own kqueue (EVFILT_VNODE).

import ArgumentParser
import Glibc

struct WatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Print which files change inside watched directories (kqueue EVFILT_VNODE) as it happens.",
        discussion: """
            Each event is one line: "<UTC time> <event> <path>", e.g. \
            "2026-01-31T12:00:00.123Z written /tmp/d/log", or for a rename \
            "<time> renamed <from> -> <to>". Events: added, removed, renamed, written \
            (contents), attributes (mode, owner, times, links). Inside a watched directory \
            every entry is reported; with -r its subdirectories too, also those made while \
            watching (their entries are then reported as added). A watched file or \
            directory is followed, not its name: after it is renamed it goes on reporting \
            under the name given; once removed it is no longer watched, and the command \
            ends when no path is left. With --json each event is \
            {"time":...,"event":...,"path":...,"type":"file|dir|symlink|other"} with \
            "from" and "to" for renamed; a path that cannot be watched is \
            {"path":...,"error":...,"status":N}.
            """ + ExitStatus.helpSuffix)

    @Flag(name: .long, help: "Print JSON lines instead of text.")
    var json = false

    @Flag(name: [.short, .long], help: "Watch subdirectories too, also those made while watching.")
    var recursive = false

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
        Self.raiseDescriptorLimit()
        let printer = WatchPrinter(json: json, limit: count)
        let session = try WatchSession(recursive: recursive, printer: printer)
        for path in paths {
            do {
                try session.addRoot(path)
            } catch {
                if json {
                    Output.line(JSON.object([("path", .string(path)), ("error", .string(error.message)),
                                             ("status", .int(Int64(error.status.rawValue)))]))
                }
                throw error
            }
        }
        let deadline = timeout.map { Self.now() + $0 }
        while session.isWatching && !printer.isDone {
            var wait: Double?
            if let deadline {
                wait = deadline - Self.now()
                if wait! <= 0 { return }
            }
            try session.waitAndReport(seconds: wait)
        }
    }

    /// Every watched file holds a descriptor: use the hard limit, not the often small soft one.
    private static func raiseDescriptorLimit() {
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 && limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
    }

    private static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
