// SPDX-License-Identifier: BSD-2-Clause
// ParityCreate.swift: `bsdshim parity create`: writes the XOR of the members.

import ArgumentParser

struct ParityCreate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create", abstract: "Write the parity file: the XOR of the members.",
        discussion: ExitStatus.helpText)

    @OptionGroup var options: ParityOptions

    func run() throws {
        try options.reportingFailures("create", perform)
    }

    private func perform() throws {
        let stripes = try ParityStripes(options.members)
        try stripes.writeXOR(to: options.parity, progressLabel: "parity " + options.parity,
                             showProgress: !options.noProgress)
        options.report("create", ok: true, bytes: stripes.size,
                       text: "\(options.parity): parity of \(options.members.count) members written (\(stripes.size) bytes)")
    }
}
