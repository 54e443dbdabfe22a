// SPDX-License-Identifier: BSD-2-Clause
// ExitStatus.swift: the tool's exit statuses and the error that carries one.
// The numbers are part of the interface (scripts test them) and are listed in
// `bsdshim --help`; never renumber one.

import Glibc

/// Why the tool stopped.
enum ExitStatus: Int32 {
    case ok = 0
    /// The data was read but is not what it should be (parity verify).
    case mismatch = 1
    /// Bad command line (ArgumentParser's own usage errors are mapped here too).
    case usage = 2
    /// A named file does not exist.
    case notFound = 3
    /// A file exists but may not be read or written.
    case permission = 4
    /// Files that must have one size do not.
    case sizeMismatch = 5
    /// Any other read/write failure (EIO, ENOSPC, a directory where a file was expected...).
    case ioError = 6
    /// dmover or kqueue refused or failed a request.
    case libraryError = 7
    /// `bench`: a benchmark program was not found or did not succeed.
    case benchFailed = 8
    /// A writing command stopped by SIGHUP, SIGINT or SIGTERM (128 + the signal
    /// number, as a shell reports a process killed by it); its outputs were removed.
    case hangup = 129
    case interrupt = 130
    case terminate = 143

    /// The table printed by `bsdshim --help` and every command's help.
    static let helpText = """
        Exit status:
          0  success
          1  mismatch: parity verify found bytes that do not match
          2  usage error (bad option or argument)
          3  a file does not exist
          4  permission denied
          5  files that must have equal sizes do not
          6  other I/O error
          7  dmover or kqueue failure
          8  bench: a benchmark program is missing or failed
          129, 130, 143  parity create/rebuild stopped by SIGHUP, SIGINT, SIGTERM
             (128 + signal number); no output file is left
        """

    /// The table after a command's own discussion.
    static var helpSuffix: String { "\n\n" + helpText }
}

/// A failure to report on stderr and exit with.
struct ToolError: Error {
    let status: ExitStatus
    let message: String

    init(_ status: ExitStatus, _ message: String) {
        self.status = status
        self.message = message
    }

    /// A failed system call on `path`: the status follows errno (missing,
    /// permission, other), the message says what was being done and why it failed.
    static func file(_ path: String, _ action: String, errno code: Int32) -> ToolError {
        let status: ExitStatus
        switch code {
        case ENOENT, ENOTDIR: status = .notFound
        case EACCES, EPERM, EROFS: status = .permission
        default: status = .ioError
        }
        return ToolError(status, "\(path): \(action): \(String(cString: strerror(code)))")
    }

    /// A writing command stopped by `signal` before `path` was complete.
    static func interrupted(by signal: Int32, writing path: String) -> ToolError {
        let (status, name): (ExitStatus, String) = switch signal {
        case SIGHUP: (.hangup, "SIGHUP")
        case SIGTERM: (.terminate, "SIGTERM")
        default: (.interrupt, "SIGINT")
        }
        return ToolError(status, "interrupted by \(name): \(path) not written (its temporary file is removed)")
    }
}
