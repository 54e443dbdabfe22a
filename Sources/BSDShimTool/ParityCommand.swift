// SPDX-License-Identifier: BSD-2-Clause
// ParityCommand.swift: `bsdshim parity create|verify|rebuild`, RAID-5 style XOR
// parity across 2 to 16 equal-sized files through dmover's xorN.

import ArgumentParser

struct ParityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parity",
        abstract: "XOR parity across files (RAID-5 style), computed by dmover.",
        discussion: """
            The parity file is the byte-wise XOR of the members, so any one lost member is \
            the XOR of the others and the parity. Members must all have the same size (no \
            padding is invented: different sizes are an error, status 5). 2 to 16 members, \
            dmover's xor2..xor16. Output files are written under a temporary name and renamed \
            into place when complete.
            """,
        subcommands: [ParityCreate.self, ParityVerify.self, ParityRebuild.self])
}

/// What every parity subcommand takes.
struct ParityOptions: ParsableArguments {
    @Option(name: [.short, .long], help: "The parity file.")
    var parity: String

    @Flag(name: .long, help: "Print one JSON line with the result instead of text.")
    var json = false

    @Flag(name: .long, help: "Never draw a progress bar (it is drawn only on a terminal, for sets of 64 MiB or more).")
    var noProgress = false

    @Argument(help: "The member files, always listed in the same order.")
    var members: [String]

    func validate() throws {
        guard (2...16).contains(members.count) else {
            throw ValidationError("a parity set has 2 to 16 members (got \(members.count))")
        }
        guard Set(members).count == members.count else { throw ValidationError("a member is listed twice") }
        guard !members.contains(parity) else { throw ValidationError("the parity file is also listed as a member") }
    }

    /// Runs a subcommand's work; with --json a failure also prints its JSON line
    /// ({"action":...,"ok":false,"error":...,"status":N}) before the error ends the command.
    func reportingFailures(_ action: String, _ body: () throws -> Void) throws {
        do {
            try body()
        } catch let error as ToolError {
            if json {
                Output.line(JSON.object([("action", .string(action)), ("parity", .string(parity)),
                                         ("members", .strings(members)), ("ok", .bool(false)),
                                         ("error", .string(error.message)),
                                         ("status", .int(Int64(error.status.rawValue)))]))
            }
            throw error
        }
    }

    /// The one line printed when a subcommand succeeds (or verify finds a mismatch).
    func report(_ action: String, ok: Bool, bytes: Int64, text: String, extra: [(String, JSONValue)] = []) {
        if json {
            Output.line(JSON.object([("action", .string(action)), ("parity", .string(parity)),
                                     ("members", .strings(members)), ("bytes", .int(bytes)), ("ok", .bool(ok))] + extra))
        } else {
            Output.line(text)
        }
    }
}
