// SPDX-License-Identifier: BSD-2-Clause
// KqueueTimerUserSignalTests.swift: timers, user events and signals through Kqueue.

import BSDShim
import Glibc
import Testing

@Suite struct KqueueTimerUserSignalTests {
    @Test func oneshotTimerFiresOnceThenIsGone() throws {
        let kq = try Kqueue()
        try kq.register(.timer(5, interval: .milliseconds(10)), flags: .oneshot, userData: 3)
        let events = try kq.wait(timeout: .seconds(10))
        #expect(events.count == 1)
        #expect(events.first?.kind == .timer(5, expirations: 1))
        #expect(events.first?.userData == 3)
        #expect(throws: Errno.noSuchFileOrDirectory) { try kq.delete(.timer(5, interval: .zero)) }
    }

    @Test func periodicTimerCountsExpirationsSinceLastDelivery() throws {
        let kq = try Kqueue()
        try kq.register(.timer(1, interval: .milliseconds(2)))
        // Sleep over several periods before collecting: they are all counted.
        usleep(30_000)
        let events = try kq.wait(timeout: .seconds(10))
        guard case .timer(1, let n)? = events.first?.kind else {
            Issue.record("expected timer 1, got \(events)")
            return
        }
        #expect(n >= 2)
        try kq.delete(.timer(1, interval: .zero))
    }

    @Test func absoluteTimerInThePastFiresAtOnce() throws {
        let kq = try Kqueue()
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        try kq.register(.absoluteTimer(2, deadline: .seconds(now.tv_sec - 1)))
        #expect(try kq.wait(timeout: .seconds(10)).first?.kind == .timer(2, expirations: 1))
    }

    @Test func negativeIntervalIsEINVAL() throws {
        let kq = try Kqueue()
        #expect(throws: Errno.invalidArgument) { try kq.register(.timer(1, interval: .milliseconds(-5))) }
    }

    @Test func userEventTriggersWithFlagsAndClears() throws {
        let kq = try Kqueue()
        try kq.register(.user(42), flags: .clear, userData: 8)
        #expect(try kq.wait(timeout: .zero).isEmpty)
        try kq.trigger(user: 42, flags: 0x5, userData: 8)
        let events = try kq.wait(timeout: .seconds(5))
        #expect(events.count == 1)
        #expect(events.first?.kind == .user(42, flags: 0x5))
        #expect(events.first?.userData == 8)
        #expect(try kq.wait(timeout: .zero).isEmpty)  // EV_CLEAR: consumed
        #expect(throws: Errno.noSuchFileOrDirectory) { try kq.trigger(user: 43) }
    }

    @Test func ignoredSignalIsStillCounted() throws {
        let kq = try Kqueue()
        // Ignored: no thread of the test process can die of it, and it is still counted.
        let old = signal(SIGURG, SIG_IGN)
        defer { signal(SIGURG, old) }
        try kq.register(.signal(SIGURG))
        defer { try? kq.delete(.signal(SIGURG)) }
        kill(getpid(), SIGURG)
        let events = try kq.wait(timeout: .seconds(10))
        guard case .signal(SIGURG, let count)? = events.first?.kind else {
            Issue.record("expected SIGURG, got \(events)")
            return
        }
        #expect(count >= 1)
    }

    @Test func badSignalNumberIsEINVAL() throws {
        let kq = try Kqueue()
        #expect(throws: Errno.invalidArgument) { try kq.register(.signal(0)) }
        #expect(throws: Errno.invalidArgument) { try kq.register(.signal(99)) }
    }

    /// FreeBSD accepts SIGKILL's knote, which can never fire.
    @Test func uncatchableSignalIsAccepted() throws {
        let kq = try Kqueue()
        try kq.register(.signal(SIGKILL))
    }
}
