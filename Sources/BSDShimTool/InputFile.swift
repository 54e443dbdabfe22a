// SPDX-License-Identifier: BSD-2-Clause
// InputFile.swift: a file read front to back in large chunks.

import Glibc

/// An open regular file (or standard input) read sequentially.
final class InputFile {
    let path: String
    let fd: Int32
    /// Size at open time; nil for standard input and other streams.
    let size: Int64?
    private let ownsDescriptor: Bool

    private init(path: String, fd: Int32, size: Int64?, owns: Bool) {
        self.path = path
        self.fd = fd
        self.size = size
        self.ownsDescriptor = owns
    }

    deinit { if ownsDescriptor { close(fd) } }

    /// Opens `path` for reading ("-" is standard input). Directories are refused
    /// here rather than failing later with a less clear EISDIR from read.
    static func open(_ path: String) throws(ToolError) -> InputFile {
        if path == "-" { return InputFile(path: path, fd: 0, size: nil, owns: false) }
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw .file(path, "cannot open", errno: errno) }
        var st = stat()
        if fstat(fd, &st) != 0 {
            let e = errno
            close(fd)
            throw .file(path, "cannot stat", errno: e)
        }
        switch st.st_mode & S_IFMT {
        case S_IFDIR:
            close(fd)
            throw .file(path, "cannot read", errno: EISDIR)
        case S_IFREG:
            // Tell the kernel the whole file will be streamed once (bigger read-ahead).
            _ = posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL)
            return InputFile(path: path, fd: fd, size: Int64(st.st_size), owns: true)
        default:
            return InputFile(path: path, fd: fd, size: nil, owns: true)
        }
    }

    /// Reads until `count` bytes are in `buffer` or the file ends; returns the count read.
    func read(into buffer: UnsafeMutableRawPointer, count: Int) throws(ToolError) -> Int {
        var done = 0
        while done < count {
            let n = Glibc.read(fd, buffer + done, count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw .file(path, "read failed", errno: errno)
            }
            if n == 0 { break }
            done += n
        }
        return done
    }
}
