// SPDX-License-Identifier: BSD-2-Clause
// FilterTableTests.swift: what the engine learns from the filters themselves (protocol requirements, sources).

import BSDSystem
import CBSDShimABI
import Glibc
import Testing
@testable import KqueueCore

@Suite struct FilterTableTests {
    @Test func descriptorFiltersAreTheFiltersWhoseIdentIsADescriptor() {
        let expected = Set([EVFILT_READ, EVFILT_WRITE, EVFILT_VNODE, EVFILT_EXCEPT].map { Int16($0) })
        #expect(Set(FilterTable.descriptorFilters) == expected)
        #expect(FilterTable.descriptorFilters.count == expected.count)
    }

    @Test func onlyTheUserFilterTouchesOnEveryChange() {
        for number in Int16(-128)...(-1) {
            guard let ops = FilterTable.ops(for: number) else { continue }
            #expect(ops.touchesEveryChange == (Int32(number) == EVFILT_USER), "filter \(number)")
        }
    }

    @Test func sourcesAreMadeOnFirstUseOncePerKqueue() throws {
        let kq = try EpollKqueue.create()
        defer { close(kq.fd) }
        #expect(kq.locked { kq.sources.allSatisfy { $0 == nil } })
        let (a, b) = kq.locked { (kq.source(TimerSource.self), kq.source(TimerSource.self)) }
        #expect(a === b)
        let other = try EpollKqueue.create()
        defer { close(other.fd) }
        #expect(other.locked { other.source(TimerSource.self) } !== a)
        #expect(TimerSource.key.index != VnodeSource.key.index && SignalSource.key.index != FsSource.key.index)
    }

    /// A blocking wait wakes on the timerfd, whose reserved tag routes the
    /// expiry to the kqueue's timer source, which queues the knote.
    @Test func timerExpiryReachesTheTimerKnoteThroughItsSourceTag() throws {
        let kq = try EpollKqueue.create()
        defer { close(kq.fd) }
        let add = kevent(ident: 1, filter: Int16(EVFILT_TIMER), flags: UInt16(EV_ADD | EV_ONESHOT),
                         fflags: UInt32(NOTE_NSECONDS), data: 1_000_000, udata: nil)
        var out = Array<kevent>(repeating: kevent(), count: 2)
        let n = [add].withUnsafeBufferPointer { c in
            out.withUnsafeMutableBufferPointer { o in
                Result { () throws(Errno) in
                    try kq.kevent(changes: c.baseAddress, count: 1, events: o.baseAddress, capacity: 2, timeout: 2_000_000_000)
                }
            }
        }
        #expect(try n.get() == 1)
        #expect(out[0].ident == 1 && Int32(out[0].filter) == EVFILT_TIMER && out[0].data == 1)
        #expect(kq.knoteCount == 0)  // EV_ONESHOT: gone after delivery
    }
}
