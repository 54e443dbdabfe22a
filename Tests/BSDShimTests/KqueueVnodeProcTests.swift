// SPDX-License-Identifier: BSD-2-Clause
// KqueueVnodeProcTests.swift: file changes and child-process exit through Kqueue.

import BSDShim
import Glibc
import SystemPackage
import Testing

/// A temporary file, removed with the value.
final class TemporaryFile {
    let path: String
    let fd: FileDescriptor
    init() throws {
        var template = Array("/tmp/bsdshim-api-XXXXXX".utf8CString)
        let raw = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        try #require(raw >= 0)
        fd = FileDescriptor(rawValue: raw)
        path = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
    deinit {
        try? fd.close()
        unlink(path)
    }
}

/// Starts `/bin/sh -c script`; returns its pid.
func spawnShell(_ script: String) throws -> pid_t {
    var pid: pid_t = 0
    let words: [String] = ["/bin/sh", "-c", script]
    let args: [UnsafeMutablePointer<CChar>?] = words.map { w in w.withCString { strdup($0) } } + [nil]
    defer { for a in args { free(a) } }
    let rc = posix_spawn(&pid, "/bin/sh", nil, nil, args, environ)
    try #require(rc == 0)
    return pid
}

@Suite struct KqueueVnodeProcTests {
    @Test func writeToAWatchedFileIsReportedAsWriteAndExtend() throws {
        let file = try TemporaryFile()
        let kq = try Kqueue()
        try kq.register(.vnode(file.fd, [.write, .extend, .delete]), flags: .clear)
        #expect(try kq.wait(timeout: .zero).isEmpty)
        let other = open(file.path, O_WRONLY | O_APPEND)
        try #require(other >= 0)
        #expect(write(other, "hello", 5) == 5)
        close(other)
        let events = try kq.wait(timeout: .seconds(5))
        guard case .vnode(let fd, let changes)? = events.first?.kind else {
            Issue.record("expected a vnode event, got \(events)")
            return
        }
        #expect(fd == file.fd)
        #expect(changes.contains(.write))
        #expect(changes.contains(.extend))
        #expect(!changes.contains(.delete))
    }

    @Test func unlinkOfAWatchedFileIsReportedAsDelete() throws {
        let file = try TemporaryFile()
        let kq = try Kqueue()
        try kq.register(.vnode(file.fd, .delete), flags: .clear)
        unlink(file.path)
        let events = try kq.wait(timeout: .seconds(5))
        guard case .vnode(_, let changes)? = events.first?.kind else {
            Issue.record("expected a vnode event, got \(events)")
            return
        }
        #expect(changes == .delete)
    }

    @Test func vnodeOnAPipeIsEINVAL() throws {
        let p = try Pipe()
        let kq = try Kqueue()
        #expect(throws: Errno.invalidArgument) { try kq.register(.vnode(p.read, .write)) }
    }

    @Test func childExitIsReportedWithItsStatus() throws {
        let kq = try Kqueue()
        // The child sleeps briefly so that the registration comes before the exit.
        let pid = try spawnShell("sleep 0.2; exit 3")
        defer {
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
        try kq.register(.proc(pid, .exit), userData: 11)
        let events = try kq.wait(timeout: .seconds(30))
        #expect(events.count == 1)
        let ev = try #require(events.first)
        guard case .proc(let p, let what, _) = ev.kind else {
            Issue.record("expected a proc event, got \(ev)")
            return
        }
        #expect(p == pid)
        #expect(what.contains(.exit))
        #expect(ev.isEOF)
        #expect(ev.exitStatus == 3)
        #expect(ev.userData == 11)
    }

    @Test func watchingAProcessThatDoesNotExistIsESRCH() throws {
        let kq = try Kqueue()
        let pid = try spawnShell("exit 0")
        var status: Int32 = 0
        waitpid(pid, &status, 0)  // reaped: the pid is free
        #expect(throws: Errno.noSuchProcess) { try kq.register(.proc(pid, .exit)) }
    }
}
