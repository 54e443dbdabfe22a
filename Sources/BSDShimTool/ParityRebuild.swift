// SPDX-License-Identifier: BSD-2-Clause
// ParityRebuild.swift: `bsdshim parity rebuild`: writes the one missing member
// as the XOR of the surviving members and the parity file.

import ArgumentParser
import Glibc

struct ParityRebuild: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rebuild",
        abstract: "Restore the missing member from the others and the parity file.",
        discussion: """
            List every member, the lost one included: the member that does not exist is \
            rebuilt at its path. To replace a member that exists but is damaged, name it \
            with --member.
            """ + ExitStatus.helpSuffix)

    @OptionGroup var options: ParityOptions

    @Option(name: .long, help: "The member to rebuild even though it exists (overwritten).")
    var member: String?

    func validate() throws {
        if let member, !options.members.contains(member) {
            throw ValidationError("--member \(member) is not one of the listed members")
        }
    }

    func run() throws {
        try options.reportingFailures("rebuild", perform)
    }

    private func perform() throws {
        let target = try self.target()
        let survivors = options.members.filter { $0 != target }
        let stripes = try ParityStripes(survivors + [options.parity])
        try stripes.writeXOR(to: target, progressLabel: "rebuild " + target, showProgress: !options.noProgress)
        options.report("rebuild", ok: true, bytes: stripes.size,
                       text: "\(target): rebuilt from \(survivors.count) members and \(options.parity) (\(stripes.size) bytes)",
                       extra: [("rebuilt", .string(target))])
    }

    /// The member to write: --member, else the only one that does not exist.
    private func target() throws(ToolError) -> String {
        if let member { return member }
        let missing = options.members.filter { access($0, F_OK) != 0 && errno == ENOENT }
        switch missing.count {
        case 1: return missing[0]
        case 0: throw ToolError(.usage, "no member is missing; name the member to rebuild with --member")
        default:
            throw ToolError(.notFound, "\(missing.count) members are missing (\(missing.joined(separator: ", "))): parity restores only one")
        }
    }
}
