// SPDX-License-Identifier: BSD-2-Clause
// Output.swift: unbuffered lines on stdout/stderr. Each line is one write(2),
// so `watch` output reaches a pipe at once and lines from stderr and stdout
// never interleave mid-line (Swift 6 also rejects the global C `stdout`).

import Glibc

enum Output {
    /// Writes `line` and a newline to standard output.
    static func line(_ line: String) { write(1, line + "\n") }

    /// Writes `message` and a newline to standard error.
    static func error(_ message: String) { write(2, message + "\n") }

    /// Writes all of `text` to `fd`; a closed pipe or full disk ends the output silently
    /// (the status of the command itself is decided elsewhere).
    static func write(_ fd: Int32, _ text: String) {
        var text = text
        text.withUTF8 { bytes in
            var done = 0
            while done < bytes.count {
                let n = Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return }
                done += n
            }
        }
    }
}
