// SPDX-License-Identifier: BSD-2-Clause
// FileQueriesTests.swift: the typed calls the filters make, on real files, pipes and processes.

import BSDSystem
import Glibc
import Testing

@Suite struct FileQueriesTests {
    @Test func statusAndOffsetOfARegularFile() throws {
        var template = Array("/tmp/bsdshim-fq-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        try #require(fd >= 0)
        defer { close(fd); template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) } }
        let bytes: [UInt8] = Array(repeating: 0x41, count: 100)
        #expect(try FileDescriptorOps.write(fd, bytes.withUnsafeBytes { $0 }) == 100)
        _ = lseek(fd, 30, SEEK_SET)
        let st = try FileDescriptorOps.status(fd)
        #expect(st.isRegular && !st.isDirectory && st.size == 100 && st.links == 1)
        #expect(try FileDescriptorOps.offset(fd) == 30)
        var buf = [UInt8](repeating: 0, count: 16)
        let n = try buf.withUnsafeMutableBytes { try FileDescriptorOps.read(fd, into: $0, at: 95) }
        #expect(n == 5 && buf[0] == 0x41)
        var link = [CChar](repeating: 0, count: 64)
        let len = try link.withUnsafeMutableBufferPointer { try FileDescriptorOps.link(of: fd, into: $0) }
        #expect(len > 0 && link[0] == 0x2F)  // a path
    }

    @Test func closedDescriptorGivesEBADF() throws {
        var p: [Int32] = [0, 0]
        try #require(pipe(&p) == 0)
        // Closed near the top of the table, where tests running in parallel
        // (which get the lowest free numbers) do not reopen it meanwhile.
        let closed = dup2(p[0], min(getdtablesize(), 4096) - 1000)
        close(p[0])
        close(p[1])
        try #require(closed > 2 && close(closed) == 0)
        #expect(throws: Errno.badFileDescriptor) { try FileDescriptorOps.status(closed) }
        #expect(throws: Errno.badFileDescriptor) { try FileDescriptorOps.offset(closed) }
    }

    @Test func pipeLinkAndNoPendingConnections() throws {
        var p: [Int32] = [0, 0]
        try #require(pipe(&p) == 0)
        defer { close(p[0]); close(p[1]) }
        var link = [CChar](repeating: 0, count: 64)
        let len = try link.withUnsafeMutableBufferPointer { try FileDescriptorOps.link(of: p[0], into: $0) }
        let text = String(decoding: link[0..<len].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        #expect(text.hasPrefix("pipe:["))
        #expect(throws: Errno.self) { try FileDescriptorOps.pendingConnections(p[0]) }  // not a socket
        #expect(FileDescriptorOps.peekSocketError(p[0], mayRead: false) == 0)
    }

    @Test func processDescriptorOfARunningProcessHasNoExitStatus() throws {
        let pidfd: Int32
        do throws(Errno) { pidfd = try ProcessDescriptor.open(getpid()) } catch {
            // Kernels before 5.3 have no pidfd: nothing to check there.
            try #require(error.rawValue == ENOSYS, "pidfd_open: \(error)")
            return
        }
        defer { close(pidfd) }
        #expect(try FileDescriptorOps.fcntl(pidfd, F_GETFD) & FD_CLOEXEC == FD_CLOEXEC)
        #expect(throws: Errno.self) { try ProcessDescriptor.exitStatus(pidfd) }
    }

    @Test func signalFDWithNothingPendingReadsNothing() throws {
        var mask = sigset_t()
        sigemptyset(&mask)
        sigaddset(&mask, SIGURG)
        let fd = try SignalFD.set(-1, to: mask)
        defer { close(fd) }
        #expect(SignalFD.read(fd) == nil)
        #expect(FileDescriptorOps.isNonBlocking(fd))
    }

    @Test func threadSignalMaskBlockReportsThePreviousState() {
        let sig = SIGUSR2
        var before = ThreadSignalMask.current
        defer { if sigismember(&before, sig) == 1 { _ = ThreadSignalMask.block(sig) } }
        ThreadSignalMask.unblock(sig)
        #expect(ThreadSignalMask.block(sig) == false)
        #expect(ThreadSignalMask.block(sig) == true)
        var now = ThreadSignalMask.current
        #expect(sigismember(&now, sig) == 1)
        ThreadSignalMask.unblock(sig)
        now = ThreadSignalMask.current
        #expect(sigismember(&now, sig) == 0)
    }
}
