// SPDX-License-Identifier: BSD-2-Clause
// OutputFile.swift: a file written in chunks under a temporary name and renamed
// into place only once complete, so a failed or interrupted run never leaves a
// truncated parity file or member that looks finished.

import Glibc

final class OutputFile {
    let path: String
    private let temporaryPath: String
    private var fd: Int32
    private var committed = false

    /// Creates `<path>.bsdshim-<pid>` beside `path` (same file system, so the rename is atomic).
    init(_ path: String) throws(ToolError) {
        self.path = path
        temporaryPath = path + ".bsdshim-\(getpid())"
        fd = Glibc.open(temporaryPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if fd < 0 { throw .file(path, "cannot create", errno: errno) }
    }

    deinit {
        if fd >= 0 { close(fd) }
        if !committed { unlink(temporaryPath) }
    }

    /// Writes all `count` bytes (retrying short writes).
    func write(_ buffer: UnsafeRawPointer, count: Int) throws(ToolError) {
        var done = 0
        while done < count {
            let n = Glibc.write(fd, buffer + done, count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw .file(path, "write failed", errno: errno)
            }
            done += n
        }
    }

    /// Flushes to disk and renames over `path`; errors from a delayed write surface here.
    func commit() throws(ToolError) {
        if fsync(fd) != 0 { throw .file(path, "write failed", errno: errno) }
        let rc = close(fd)
        fd = -1
        if rc != 0 { throw .file(path, "write failed", errno: errno) }
        if rename(temporaryPath, path) != 0 { throw .file(path, "cannot rename into place", errno: errno) }
        committed = true
    }
}
