// SPDX-License-Identifier: BSD-2-Clause
// OutputFile.swift: a file written in chunks under a temporary name and renamed
// into place only once complete and on disk, so a failed or interrupted run
// never leaves a truncated parity file or member under its final name.

import Glibc

/// An output being written: `flush()` then `publish()` put it in place, `discard()` (or
/// dropping it unpublished) removes the temporary file.
final class OutputFile {
    let path: String
    private let temporaryPath: String
    private let directory: String
    private var fd: Int32
    private var finished = false

    /// Creates `<dir>/.<name>.bsdshim-<pid>-<n>` (O_EXCL: never another file's)
    /// beside `path`, on the same file system so that the rename is atomic. Its
    /// mode is the one `path` has if it exists, else 0666 less the umask.
    init(_ path: String) throws(ToolError) {
        self.path = path
        let slash = path.lastIndex(of: "/")
        directory = slash.map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        var existing = stat()
        var keepMode: mode_t?
        if stat(path, &existing) == 0 {
            if existing.st_mode & S_IFMT == S_IFDIR { throw .file(path, "cannot write", errno: EISDIR) }
            keepMode = existing.st_mode & 0o7777
        }
        var attempt = 0
        var candidate = ""
        var opened: Int32 = -1
        while opened < 0 {
            candidate = directory + "/." + name + ".bsdshim-\(getpid())-\(attempt)"
            opened = Glibc.open(candidate, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, keepMode ?? 0o666)
            if opened < 0 && (errno != EEXIST || attempt >= 100) {
                throw .file(path, "cannot create a temporary file beside it", errno: errno)
            }
            attempt += 1
        }
        fd = opened
        temporaryPath = candidate
        // open() applied the umask; a replaced file keeps exactly its mode.
        if let keepMode { _ = fchmod(fd, keepMode) }
    }

    deinit { discard() }

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

    /// Flushes the data to disk and closes the file. Errors from a delayed
    /// write (ENOSPC, EIO) surface here; `discard()` then removes the file.
    func flush() throws(ToolError) {
        if fsync(fd) != 0 { throw .file(path, "write failed", errno: errno) }
        let rc = close(fd)
        fd = -1
        if rc != 0 { throw .file(path, "write failed", errno: errno) }
    }

    /// After `flush()`: renames over `path` and flushes the directory, so that
    /// after a crash `path` holds either its old content or the whole new one.
    func publish() throws(ToolError) {
        if rename(temporaryPath, path) != 0 { throw .file(path, "cannot rename into place", errno: errno) }
        finished = true
        let dirfd = Glibc.open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dirfd >= 0 {
            let synced = fsync(dirfd)
            let e = errno
            close(dirfd)
            // Some file systems refuse fsync on a directory (EINVAL); the rename is done either way.
            if synced != 0 && e != EINVAL { throw .file(directory, "cannot flush the directory", errno: e) }
        }
    }

    /// Removes the temporary file (nothing is left under any name). Idempotent.
    func discard() {
        if fd >= 0 {
            close(fd)
            fd = -1
        }
        if !finished {
            unlink(temporaryPath)
            finished = true
        }
    }
}
