// SPDX-License-Identifier: BSD-2-Clause
// KnoteTests.swift: a recycled knote is indistinguishable from a new one.

import CBSDShimABI
import Testing
@testable import KqueueCore

@Suite struct KnoteTests {
    func change(_ ident: UInt, _ filter: Int32, _ flags: Int32) -> kevent {
        kevent(ident: ident, filter: Int16(filter), flags: UInt16(flags), fflags: 7, data: 9,
               udata: UnsafeMutableRawPointer(bitPattern: 0x10))
    }

    /// Field names and values, in declaration order.
    func fields(_ kn: Knote) -> [String] {
        Mirror(reflecting: kn).children.map { "\($0.label ?? "?")=\(String(describing: $0.value))" }
    }

    @Test func configureResetsEveryStoredProperty() {
        let fresh = Knote(change: change(3, EVFILT_READ, EV_ADD), ops: FilterTable.read)
        let used = Knote(change: change(99, EVFILT_TIMER, EV_ADD | EV_ONESHOT), ops: FilterTable.timer)
        let other = Knote(change: change(1, EVFILT_USER, EV_ADD), ops: FilterTable.user)
        used.fflags = 1; used.data = 2; used.hookID = 3; used.disabled = true
        used.slot = 4; used.generation = 5; used.fd.epollSet = .write; used.fd.epollEvents = 6
        used.fd.kind = .pipe; used.lastData = 7; used.watch.descriptor = 8; used.fd.owned = 13
        used.watch.parent = 14
        used.queued = true; used.collectedIn = 9; used.next = other; used.prev = other
        used.nextSpare = Unmanaged.passUnretained(other)
        used.timer.deadline = 10; used.timer.period = 11; used.timer.heapIndex = 12; used.timer.realtime = true
        used.configure(change: change(3, EVFILT_READ, EV_ADD), ops: FilterTable.read)
        // Every stored property must be listed in configure(change:ops:):
        // adding one means updating configure and this count.
        #expect(fields(fresh).count == 22)
        #expect(fields(used) == fields(fresh))
        #expect(used.ops === fresh.ops)
    }
}
