// SPDX-License-Identifier: BSD-2-Clause
// WatchPrinter.swift: `watch`'s output lines, text or JSON, and the --count limit.

import Glibc

/// Prints events until `limit` of them are printed.
final class WatchPrinter {
    private let json: Bool
    private let limit: Int?
    private(set) var printed = 0

    init(json: Bool, limit: Int?) {
        self.json = json
        self.limit = limit
    }

    /// True once --count events are printed (later ones are dropped).
    var isDone: Bool { limit.map { printed >= $0 } ?? false }

    /// "<time> <event> <path>", or "<time> renamed <from> -> <to>"; with --json
    /// {"time":...,"event":...,"path":...,"type":...} plus "from" and "to" for renamed.
    func emit(_ event: String, _ path: String, type: String, from: String? = nil, to: String? = nil) {
        if isDone { return }
        printed += 1
        let time = Self.timestamp()
        if json {
            var fields: [(String, JSONValue)] = [("time", .string(time)), ("event", .string(event)),
                                                 ("path", .string(path)), ("type", .string(type))]
            if let from { fields.append(("from", .string(from))) }
            if let to { fields.append(("to", .string(to))) }
            Output.line(JSON.object(fields))
        } else if let from, let to {
            Output.line(time + " " + event + " " + from + " -> " + to)
        } else {
            Output.line(time + " " + event + " " + path)
        }
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
