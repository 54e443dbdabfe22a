// SPDX-License-Identifier: BSD-2-Clause
// KqueueTests.swift: the engine through its Swift entry points (register, scan, routing).

import BSDSystem
import CBSDShimABI
import Glibc
import Testing
@testable import KqueueCore

@Suite struct KqueueTests {
    func change(_ ident: UInt, _ filter: Int32, _ flags: Int32, _ fflags: UInt32 = 0, _ data: Int = 0,
                _ udata: UnsafeMutableRawPointer? = nil) -> kevent {
        kevent(ident: ident, filter: Int16(filter), flags: UInt16(flags), fflags: fflags, data: data, udata: udata)
    }

    func run(_ kq: EpollKqueue, _ changes: [kevent], capacity: Int = 8, timeout: UInt64? = 0) -> Result<[kevent], Errno> {
        var out = Array<kevent>(repeating: kevent(), count: max(capacity, 1))
        let r = changes.withUnsafeBufferPointer { c in
            out.withUnsafeMutableBufferPointer { o in
                Result { () throws(Errno) in
                    try kq.kevent(changes: c.baseAddress, count: c.count, events: o.baseAddress, capacity: capacity, timeout: timeout)
                }
            }
        }
        return r.map { Array(out.prefix($0)) }
    }

    @Test func userEventRoundTripKeepsRegisteredFlagsAndUdata() throws {
        let kq = try EpollKqueue.create()
        defer { close(kq.fd) }
        let tag = UnsafeMutableRawPointer(bitPattern: 0x1234)
        _ = try run(kq, [change(5, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, tag)], capacity: 0).get()
        #expect(try run(kq, []).get().isEmpty)
        let evs = try run(kq, [change(5, EVFILT_USER, 0, UInt32(NOTE_TRIGGER) | UInt32(NOTE_FFCOPY) | 0x33, 0, tag)]).get()
        #expect(evs.count == 1)
        #expect(evs.first?.flags == UInt16(EV_ADD | EV_CLEAR))
        #expect(evs.first?.fflags == 0x33)
        #expect(evs.first?.udata == tag)
        #expect(try run(kq, []).get().isEmpty)  // EV_CLEAR: consumed
    }

    @Test func changeErrorsAreReportedInTheEventList() throws {
        let kq = try EpollKqueue.create()
        defer { close(kq.fd) }
        let evs = try run(kq, [change(1, EVFILT_USER, EV_DELETE), change(2, 77, EV_ADD)]).get()
        #expect(evs.count == 2)
        #expect(evs[0].flags & UInt16(EV_ERROR) != 0 && evs[0].data == Int(ENOENT))
        #expect(evs[1].flags & UInt16(EV_ERROR) != 0 && evs[1].data == Int(EINVAL))
        // No room: the call itself fails with the change's errno.
        #expect(throws: Errno.noSuchFile) { try run(kq, [change(1, EVFILT_USER, EV_DELETE)], capacity: 0).get() }
    }

    @Test func staleEpollEventsAreDroppedAfterDescriptorReuse() throws {
        let kq = try EpollKqueue.create()
        defer { close(kq.fd) }
        var p: [Int32] = [0, 0]
        #expect(pipe(&p) == 0)
        let old = UnsafeMutableRawPointer(bitPattern: 0xAAAA)
        _ = try run(kq, [change(UInt(p[0]), EVFILT_READ, EV_ADD, 0, 0, old)], capacity: 0).get()
        // Without EV_DELETE, put a new, readable pipe under the same number:
        // dup2 replaces the old file atomically (no other test can take the number).
        close(p[1])
        var q: [Int32] = [0, 0]
        #expect(pipe(&q) == 0)
        #expect(dup2(q[0], p[0]) == p[0])
        close(q[0])
        q[0] = p[0]
        defer { close(q[0]); close(q[1]) }
        #expect(write(q[1], "x", 1) == 1)
        #expect(try run(kq, []).get().isEmpty)
        // Re-adding registers the new file, with the new udata.
        let new = UnsafeMutableRawPointer(bitPattern: 0xBBBB)
        _ = try run(kq, [change(UInt(q[0]), EVFILT_READ, EV_ADD, 0, 0, new)], capacity: 0).get()
        let evs = try run(kq, []).get()
        #expect(evs.count == 1 && evs[0].udata == new && evs[0].data == 1)
    }

    @Test func manyTimersShareOneDescriptor() throws {
        let kq = try EpollKqueue.create()
        defer { close(kq.fd) }
        let changes = (0..<5000).map { change(UInt($0), EVFILT_TIMER, EV_ADD, 0, 60_000) }
        _ = try run(kq, changes, capacity: 0).get()
        #expect(kq.knoteCount == 5000)
        let (monotonic, realtime) = kq.locked {
            (kq.source(TimerSource.self).scheduled(realtime: false), kq.source(TimerSource.self).scheduled(realtime: true))
        }
        #expect(monotonic.hasTimerFD && monotonic.timers == 5000)
        #expect(!realtime.hasTimerFD && realtime.timers == 0)
    }

    @Test func closedDescriptorIsDetectedAndReclaimed() throws {
        let kq = try EpollKqueue.create()
        let fd = kq.fd
        close(fd)
        #expect(throws: Errno.badFileDescriptor) { try run(kq, [], capacity: 1, timeout: 0).get() }
        #expect(kq.isClosed)
        #expect(KqueueRegistry.lookup(fd) !== kq)
    }

    @Test func libkqueueVersionIsAnsweredAtOnce() throws {
        let kq = try EpollKqueue.create()
        defer { close(kq.fd) }
        let evs = try run(kq, [change(0, EVFILT_LIBKQUEUE, EV_ADD, UInt32(NOTE_VERSION))]).get()
        #expect(evs.count == 1 && evs[0].data != 0 && evs[0].flags & UInt16(EV_ERROR) == 0)
    }
}
