// SPDX-License-Identifier: BSD-2-Clause
// CRC32CCommand.swift: `bsdshim crc32c FILE...`, the CRC32C (Castagnoli, iSCSI
// convention) of each file through dmover's iscsi-crc32c, chunk by chunk.

import ArgumentParser

struct CRC32CCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crc32c",
        abstract: "Print the CRC32C (iSCSI) of files, computed by dmover.",
        discussion: """
            Prints one line per file, "<crc>  <file>" with the CRC as 8 lowercase hex digits \
            (the check value of "123456789" is e3069283). "-" reads standard input. \
            A file that cannot be read is reported on stderr and the others are still \
            summed; the exit status is then that of the first failure. \
            With --json, each line is {"file":...,"crc32c":"e3069283","bytes":N}, or for a \
            file that failed {"file":...,"error":"<message>","status":N}.
            """ + ExitStatus.helpSuffix)

    @Flag(name: .long, help: "Print JSON lines instead of text.")
    var json = false

    @Flag(name: .long, help: "Never draw progress (drawn only on a terminal: a bar for files of 64 MiB or more, bytes and rate for standard input after half a second).")
    var noProgress = false

    @Argument(help: "Files to sum (\"-\" for standard input).")
    var files: [String]

    func run() throws {
        let mover = try DataMover(.crc32c)
        let buffer = ChunkBuffer()
        var firstFailure: ExitStatus?
        for path in files {
            do {
                let (crc, bytes) = try sum(path, mover, buffer)
                let hex = hex8(crc)
                if json {
                    Output.line(JSON.object([("file", .string(path)), ("crc32c", .string(hex)), ("bytes", .int(bytes))]))
                } else {
                    Output.line(hex + "  " + path)
                }
            } catch {
                Output.error("bsdshim: " + error.message)
                if json {
                    Output.line(JSON.object([("file", .string(path)), ("error", .string(error.message)),
                                             ("status", .int(Int64(error.status.rawValue)))]))
                }
                if firstFailure == nil { firstFailure = error.status }
            }
        }
        if let firstFailure { throw ExitCode(firstFailure.rawValue) }
    }

    /// The CRC and length of one file, chaining each chunk's CRC into the next request.
    private func sum(_ path: String, _ mover: DataMover, _ buffer: ChunkBuffer) throws(ToolError) -> (UInt32, Int64) {
        let file = try InputFile.open(path)
        var progress = ProgressBar(path == "-" ? "standard input" : path, total: file.size, allowed: !noProgress)
        defer { progress.finish() }
        var crc: UInt32 = 0
        var total: Int64 = 0
        while true {
            let n = try file.read(into: buffer.base, count: chunkSize)
            if n == 0 { break }
            crc = try mover.crc32c(continuing: crc, buffer.base, count: n)
            total += Int64(n)
            progress.update(total)
            if n < chunkSize { break }       // read() fills the chunk unless the file ended
        }
        return (crc, total)
    }
}

/// 8 lowercase hex digits.
func hex8(_ v: UInt32) -> String {
    let s = String(v, radix: 16)
    return String(repeating: "0", count: 8 - s.count) + s
}
