// SPDX-License-Identifier: BSD-2-Clause
// KqueueDescriptorTests.swift: Kqueue registration and waiting on pipes and sockets.

import BSDShim
import Glibc
import SystemPackage
import Testing

/// A pipe (swift-system descriptors) whose ends close with the value.
final class Pipe {
    let read: FileDescriptor, write: FileDescriptor
    init() throws {
        (read, write) = try FileDescriptor.pipe()
    }
    func send(_ bytes: [UInt8]) { #expect((try? write.writeAll(bytes)) == bytes.count) }
    deinit {
        try? read.close()
        try? write.close()
    }
}

@Suite struct KqueueDescriptorTests {
    @Test func pipeBecomesReadableWithItsByteCountAndUserData() throws {
        let kq = try Kqueue()
        let p = try Pipe()
        try kq.register(.read(p.read), userData: 77)
        let buffer = Kqueue.EventBuffer(capacity: 4)
        #expect(try kq.wait(into: buffer, timeout: .zero) == 0)
        p.send([1, 2, 3, 4, 5])
        #expect(try kq.wait(into: buffer, timeout: .seconds(5)) == 1)
        let ev = try #require(buffer.first)
        #expect(ev.kind == .readable(p.read, bytes: 5))
        #expect(ev.userData == 77)
        #expect(!ev.isEOF)
        #expect(ev.error == nil)
    }

    @Test func closedWriteEndReportsEOF() throws {
        let kq = try Kqueue()
        var fds: [Int32] = [0, 0]
        try #require(pipe(&fds) == 0)
        defer { close(fds[0]) }
        try kq.register(.read(fds[0]))
        close(fds[1])
        let events = try kq.wait(timeout: .seconds(5))
        #expect(events.count == 1)
        #expect(events.first?.isEOF == true)
    }

    @Test func socketIsWritableAndOneshotDeletesAfterDelivery() throws {
        let kq = try Kqueue()
        var sv: [Int32] = [0, 0]
        try #require(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &sv) == 0)
        defer { close(sv[0]); close(sv[1]) }
        try kq.register(.write(sv[0]), flags: .oneshot)
        let events = try kq.wait(timeout: .seconds(5))
        #expect(events.count == 1)
        guard case .writable(let fd, let room)? = events.first?.kind else {
            Issue.record("expected a writable event, got \(events)")
            return
        }
        #expect(fd.rawValue == sv[0])
        #expect(room > 0)
        // One-shot: gone after delivery.
        #expect(try kq.wait(timeout: .zero).isEmpty)
        #expect(throws: Errno.noSuchFileOrDirectory) { try kq.delete(.write(sv[0])) }
    }

    @Test func lowWaterMarkHoldsEventsBackUntilEnoughBytes() throws {
        let kq = try Kqueue()
        let p = try Pipe()
        try kq.register(.read(p.read, lowWater: 4))
        p.send([1, 2])
        #expect(try kq.wait(timeout: .zero).isEmpty)
        p.send([3, 4])
        #expect(try kq.wait(timeout: .seconds(5)).first?.kind == .readable(p.read, bytes: 4))
    }

    @Test func registeringAgainChangesTheLowWaterMarkAndUserData() throws {
        let kq = try Kqueue()
        let p = try Pipe()
        try kq.register(.read(p.read, lowWater: 8), userData: 1)
        p.send([1, 2, 3])
        #expect(try kq.wait(timeout: .zero).isEmpty)
        try kq.register(.read(p.read, lowWater: 2), userData: 2)
        let events = try kq.wait(timeout: .seconds(5))
        #expect(events.first?.kind == .readable(p.read, bytes: 3))
        #expect(events.first?.userData == 2)
    }

    @Test func modifyReschedulesATimerAndSetsItsUserData() throws {
        let kq = try Kqueue()
        try kq.register(.timer(3, interval: .seconds(3600)), userData: 1)
        try kq.modify(.timer(3, interval: .milliseconds(1)), userData: 2)
        let events = try kq.wait(timeout: .seconds(30))
        guard case .timer(3, let n)? = events.first?.kind else {
            Issue.record("expected timer 3, got \(events)")
            return
        }
        #expect(n >= 1)
        #expect(events.first?.userData == 2)
    }

    @Test func disabledRegistrationDeliversOnlyAfterEnable() throws {
        let kq = try Kqueue()
        let p = try Pipe()
        try kq.register(.read(p.read), flags: .disabled)
        p.send([9])
        #expect(try kq.wait(timeout: .zero).isEmpty)
        try kq.enable(.read(p.read))
        #expect(try kq.wait(timeout: .seconds(5)).count == 1)
        try kq.disable(.read(p.read))
        #expect(try kq.wait(timeout: .zero).isEmpty)
    }

    @Test func dispatchDisablesAfterEachDelivery() throws {
        let kq = try Kqueue()
        let p = try Pipe()
        try kq.register(.read(p.read), flags: .dispatch)
        p.send([1])
        #expect(try kq.wait(timeout: .seconds(5)).count == 1)
        #expect(try kq.wait(timeout: .zero).isEmpty)
        try kq.enable(.read(p.read))
        #expect(try kq.wait(timeout: .seconds(5)).count == 1)
    }

    @Test func applyReportsEachChangesErrorWithoutStoppingTheOthers() throws {
        let kq = try Kqueue()
        let p = try Pipe()
        // A closed number near the top of the table: tests running in parallel do not reopen it.
        let closed = try closedDescriptor().rawValue
        let results = try kq.apply([
            .add(.read(p.read)),
            .delete(.user(99)),
            .add(.read(closed)),
            .add(.signal(0)),
            .add(.user(1)),
        ])
        #expect(results == [nil, .noSuchFileOrDirectory, .badFileDescriptor, .invalidArgument, nil])
        try kq.delete(.user(1))
        try kq.delete(.read(p.read))
    }

    @Test func registeringAClosedDescriptorThrowsEBADF() throws {
        let kq = try Kqueue()
        #expect(throws: Errno.badFileDescriptor) { try kq.register(.read(1_000_000)) }
    }

    @Test func modifyOfAMissingRegistrationThrowsENOENT() throws {
        let kq = try Kqueue()
        #expect(throws: Errno.noSuchFileOrDirectory) { try kq.modify(.timer(4, interval: .seconds(1))) }
    }

    @Test func closedKqueueThrowsEBADF() throws {
        let kq = try Kqueue()
        kq.close()
        kq.close()
        #expect(kq.isClosed)
        #expect(throws: Errno.badFileDescriptor) { try kq.register(.user(1)) }
        #expect(throws: Errno.badFileDescriptor) { try kq.wait(timeout: .zero) }
    }

    @Test func bufferIsReusedAcrossWaits() throws {
        let kq = try Kqueue()
        let buffer = Kqueue.EventBuffer(capacity: 2)
        for id in UInt(1)...3 { try kq.register(.user(id)) }
        for id in UInt(1)...3 { try kq.trigger(user: id) }
        #expect(try kq.wait(into: buffer, timeout: .zero) == 2)
        #expect(buffer.count == 2)
        #expect(try kq.wait(into: buffer, timeout: .zero) >= 1)
        #expect(try kq.wait(into: buffer, timeout: .zero) <= 2)
    }
}
