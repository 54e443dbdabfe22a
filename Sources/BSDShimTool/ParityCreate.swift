// SPDX-License-Identifier: BSD-2-Clause
// ParityCreate.swift: `bsdshim parity create`: writes the XOR of the members.

import ArgumentParser

struct ParityCreate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create", abstract: "Write the parity file: the XOR of the members.",
        discussion: ExitStatus.helpText)

    @OptionGroup var options: ParityOptions

    func run() throws {
        let stripes = try ParityStripes(options.members)
        let mover = try DataMover(.xor(options.members.count))
        let output = try OutputFile(options.parity)
        let result = ChunkBuffer()
        let inputs = stripes.buffers.map { UnsafeRawPointer($0.base) }
        var progress = ProgressBar("parity " + options.parity, total: stripes.size, allowed: !options.noProgress)
        try stripes.forEachChunk { offset, count throws(ToolError) in
            try mover.xor(inputs, into: result.base, count: count)
            try output.write(result.base, count: count)
            progress.update(offset + Int64(count))
        }
        progress.finish()
        try output.commit()
        options.report("create", ok: true, bytes: stripes.size,
                       text: "\(options.parity): parity of \(options.members.count) members written (\(stripes.size) bytes)")
    }
}
