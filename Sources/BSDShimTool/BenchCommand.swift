// SPDX-License-Identifier: BSD-2-Clause
// BenchCommand.swift: `bsdshim bench`: runs the project's benchmark programs
// (kqueue-bench, dmover-bench, dmover-io-bench), which print each figure beside
// its reference column (raw epoll, glibc and ISA-L, in-process dmover).

import ArgumentParser
import Glibc

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Run the kqueue and dmover benchmarks with their reference columns.",
        discussion: """
            The output starts with the CPU model and cache sizes. The programs are looked \
            for beside this executable, then in ../libexec/bsdshim relative to it, then in \
            PATH. dmover-bench is built only where ISA-L is installed (its reference \
            column): without it, "bench all" skips it and says how to get it; "bench \
            dmover" fails (status 8) with that hint. Arguments after "--" go to every \
            program run.
            """ + ExitStatus.helpSuffix)

    enum Which: String, ExpressibleByArgument, CaseIterable {
        case all, kqueue, dmover
        case dmoverIO = "dmover-io"
    }

    @Flag(name: .long, help: "Shorter runs (fewer rounds and sizes).")
    var quick = false

    @Argument(help: "Which benchmarks: all, kqueue, dmover or dmover-io.")
    var which: Which = .all

    @Argument(parsing: .postTerminator, help: "Extra arguments for the benchmark programs.")
    var extra: [String] = []

    func run() throws {
        let programs: [String]
        switch which {
        case .all: programs = ["kqueue-bench", "dmover-bench", "dmover-io-bench"]
        case .kqueue: programs = ["kqueue-bench"]
        case .dmover: programs = ["dmover-bench"]
        case .dmoverIO: programs = ["dmover-io-bench"]
        }
        Output.line(MachineInfo.summary())
        var failed = false
        for name in programs {
            guard let path = Self.locate(name) else {
                var message = "bsdshim: \(name) not found beside bsdshim, in ../libexec/bsdshim or in PATH"
                if name == "dmover-bench" {
                    message += "; it is built only where ISA-L (its reference column) is installed: "
                        + "install libisal-dev (apt-get install libisal-dev) and rebuild (cmake --build build, "
                        + "after cmake -S . -B build finds it)"
                    if which == .all {
                        Output.error(message + "; skipped")
                        continue
                    }
                }
                Output.error(message)
                failed = true
                continue
            }
            Output.line("== \(name) ==")
            let status = try Self.spawn(path, (quick ? ["--quick"] : []) + extra)
            if status != 0 {
                Output.error("bsdshim: \(name) exited with status \(status)")
                failed = true
            }
        }
        if failed { throw ExitCode(ExitStatus.benchFailed.rawValue) }
    }

    /// The program's path: beside this executable, in its libexec, or found in PATH.
    static func locate(_ name: String) -> String? {
        var candidates: [String] = []
        if let dir = executableDirectory() {
            candidates += [dir + "/" + name, dir + "/../libexec/bsdshim/" + name]
        }
        for dir in (getenv("PATH").map { String(cString: $0) } ?? "").split(separator: ":") {
            candidates.append(dir + "/" + name)
        }
        return candidates.first { access($0, X_OK) == 0 }
    }

    /// The directory of /proc/self/exe.
    static func executableDirectory() -> String? {
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink("/proc/self/exe", &buf, buf.count - 1)
        guard n > 0 else { return nil }
        let path = String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard let slash = path.lastIndex(of: "/") else { return nil }
        return String(path[..<slash])
    }

    /// Runs `path` with `args` (stdio inherited) and returns its exit status (128 + signal if killed).
    static func spawn(_ path: String, _ args: [String]) throws(ToolError) -> Int32 {
        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + args).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, path, nil, nil, argv, environ)
        if rc != 0 { throw .file(path, "cannot run", errno: rc) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { throw .file(path, "wait failed", errno: errno) }
        }
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }
}
