// SPDX-License-Identifier: BSD-2-Clause
// ParityStripes.swift: reads several equal-sized files side by side, one chunk
// of each at a time, for the parity commands.

/// The files of one parity set opened together, with their common size checked.
final class ParityStripes {
    let files: [InputFile]
    let buffers: [ChunkBuffer]
    let size: Int64

    /// Opens every path; all must be regular files of one size.
    init(_ paths: [String]) throws(ToolError) {
        var files: [InputFile] = []
        for path in paths {
            let file = try InputFile.open(path)
            guard file.size != nil else { throw ToolError(.ioError, "\(path): not a regular file") }
            files.append(file)
        }
        let sizes = files.map { $0.size! }
        if Set(sizes).count > 1 {
            let list = files.map { "\($0.path) (\($0.size!) bytes)" }.joined(separator: ", ")
            throw ToolError(.sizeMismatch, "files of a parity set must have equal sizes: \(list)")
        }
        self.files = files
        self.size = sizes.first ?? 0
        buffers = files.map { _ in ChunkBuffer() }
    }

    /// Calls `body(offset, count)` for each chunk after reading it from every file
    /// into `buffers`. A file that shrank or grew meanwhile is an I/O error.
    func forEachChunk(_ body: (Int64, Int) throws(ToolError) -> Void) throws(ToolError) {
        var offset: Int64 = 0
        while offset < size {
            let want = Int(min(Int64(chunkSize), size - offset))
            for (file, buffer) in zip(files, buffers) {
                let n = try file.read(into: buffer.base, count: want)
                if n != want { throw ToolError(.ioError, "\(file.path): file changed size while being read") }
            }
            try body(offset, want)
            offset += Int64(want)
        }
    }

    /// Writes the XOR of all the files to `path` (atomically, with progress):
    /// the parity of the members, or a lost member from the others and the parity.
    /// SIGHUP, SIGINT and SIGTERM, checked between chunks, and any error remove
    /// the temporary file; `path` is then untouched.
    func writeXOR(to path: String, progressLabel: String, showProgress: Bool) throws(ToolError) {
        // First, so that the signals are blocked before any thread starts.
        let interrupts = try InterruptGuard()
        let mover = try DataMover(.xor(files.count))
        let output = try OutputFile(path)
        let result = ChunkBuffer()
        let inputs = buffers.map { UnsafeRawPointer($0.base) }
        var progress = ProgressBar(progressLabel, total: size, allowed: showProgress)
        do throws(ToolError) {
            try forEachChunk { offset, count throws(ToolError) in
                if let signal = try interrupts.arrived() { throw ToolError.interrupted(by: signal, writing: path) }
                try mover.xor(inputs, into: result.base, count: count)
                try output.write(result.base, count: count)
                progress.update(offset + Int64(count))
            }
            progress.finish()
            try output.flush()
            // Last look after the (possibly long) fsync: once renamed, the file is complete.
            if let signal = try interrupts.arrived() { throw ToolError.interrupted(by: signal, writing: path) }
            try output.publish()
        } catch {
            progress.finish()
            output.discard()
            throw error
        }
    }
}
