// SPDX-License-Identifier: BSD-2-Clause
// BSDShimCommand.swift: the `bsdshim` root command and the error-to-exit-status mapping.

import ArgumentParser
import Glibc

struct BSDShimCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bsdshim",
        abstract: "File tools on bsdshim's dmover and kqueue.",
        discussion: ExitStatus.helpText,
        version: bsdshimVersion,
        subcommands: [CRC32CCommand.self, ParityCommand.self, WatchCommand.self, BenchCommand.self])

    /// Parses the command line, runs the command and exits with a documented status.
    /// ArgumentParser's own usage errors (status 64) become status 2, as `--help` lists.
    static func runAndExit() -> Never {
        do {
            var command = try parseAsRoot()
            try command.run()
            Glibc.exit(ExitStatus.ok.rawValue)
        } catch let error as ToolError {
            Output.error("bsdshim: " + error.message)
            Glibc.exit(error.status.rawValue)
        } catch {
            if exitCode(for: error) == .validationFailure {
                Output.error(fullMessage(for: error))
                Glibc.exit(ExitStatus.usage.rawValue)
            }
            exit(withError: error)
        }
    }
}
