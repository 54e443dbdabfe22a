// SPDX-License-Identifier: BSD-2-Clause
// ProgressBar.swift: a one-line progress bar on standard error. It draws only
// when stderr is a terminal (never into logs or pipes) and the job is large
// enough to be worth watching, and redraws at most ten times a second. A
// stream of unknown length (standard input) shows bytes and rate without a bar.

import Glibc

struct ProgressBar {
    /// Jobs smaller than this finish too fast for a bar to help.
    static let minimumBytes: Int64 = 64 << 20

    /// A stream is shown once it has run this long (or reached `minimumBytes`).
    static let minimumStreamSeconds = 0.5

    private let label: String
    /// nil for a stream of unknown length.
    private let total: Int64?
    private let enabled: Bool
    private let started: Double
    private var lastDraw = 0.0
    private var drawn = false

    /// - Parameters:
    ///   - total: bytes the job will process (nil when unknown: bytes and rate only).
    ///   - allowed: false when the user asked for no progress.
    init(_ label: String, total: Int64?, allowed: Bool) {
        self.label = label
        self.total = total
        enabled = allowed && (total.map { $0 >= Self.minimumBytes } ?? true) && isatty(2) == 1
        started = Self.now()
    }

    /// Reports that `done` of the total bytes are processed.
    mutating func update(_ done: Int64) {
        guard enabled else { return }
        let t = Self.now()
        guard let total else { return updateStream(done, t) }
        if t - lastDraw < 0.1 && done < total { return }
        lastDraw = t
        drawn = true
        let width = Self.terminalWidth()
        let fraction = total > 0 ? min(1, Double(done) / Double(total)) : 1
        let rate = t > started ? Double(done) / (t - started) : 0
        let tail = " \(Int(fraction * 100))% \(Self.bytes(Double(done)))/\(Self.bytes(Double(total))) \(Self.bytes(rate))/s"
        let barWidth = max(10, min(40, width - tail.count - 20))
        let filled = Int(fraction * Double(barWidth))
        let bar = "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: barWidth - filled) + "]"
        let room = max(0, width - bar.count - tail.count - 2)
        let name = label.count > room ? "..." + label.suffix(max(0, room - 3)) : label
        Output.write(2, "\r\u{1B}[K" + name + " " + bar + tail)
    }

    /// A stream: "<label> 812.4 MiB 1.9 GiB/s", once it is big or slow enough to watch.
    private mutating func updateStream(_ done: Int64, _ t: Double) {
        if !drawn && t - started < Self.minimumStreamSeconds && done < Self.minimumBytes { return }
        if t - lastDraw < 0.1 { return }
        lastDraw = t
        drawn = true
        let tail = " \(Self.bytes(Double(done))) \(Self.bytes(Double(done) / max(t - started, 1e-6)))/s"
        let room = max(0, Self.terminalWidth() - tail.count - 1)
        let name = label.count > room ? "..." + label.suffix(max(0, room - 3)) : label
        Output.write(2, "\r\u{1B}[K" + name + tail)
    }

    /// Erases the bar so that the next output starts on a clean line.
    mutating func finish() {
        if drawn { Output.write(2, "\r\u{1B}[K") }
        drawn = false
    }

    private static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    private static func terminalWidth() -> Int {
        var ws = winsize()
        if ioctl(2, UInt(TIOCGWINSZ), &ws) == 0 && ws.ws_col > 0 { return Int(ws.ws_col) }
        return 80
    }

    /// "812.4 MiB" style sizes.
    static func bytes(_ n: Double) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = n
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        if unit == 0 { return "\(Int(value)) B" }
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(tenths % 10) \(units[unit])"
    }
}
