// SPDX-License-Identifier: BSD-2-Clause
// KnoteQueueTests.swift: the intrusive active queue.

import CBSDShimABI
import Testing
@testable import KqueueCore

@Suite struct KnoteQueueTests {
    func knote(_ ident: UInt) -> Knote {
        Knote(change: kevent(ident: ident, filter: Int16(EVFILT_USER), flags: UInt16(EV_ADD),
                             fflags: 0, data: 0, udata: nil), ops: FilterTable.user)
    }

    func idents(_ q: KnoteQueue) -> [UInt] {
        var out: [UInt] = []
        var k = q.head
        while let kn = k { out.append(kn.ident); k = kn.next }
        return out
    }

    @Test func appendIsFIFOAndIdempotent() {
        var q = KnoteQueue()
        let a = knote(1), b = knote(2), c = knote(3)
        q.append(a); q.append(b); q.append(a); q.append(c)
        #expect(idents(q) == [1, 2, 3])
        #expect(q.count == 3)
    }

    @Test func removeFromHeadMiddleAndTail() {
        var q = KnoteQueue()
        let ks = (1...5).map { knote(UInt($0)) }
        ks.forEach { q.append($0) }
        q.remove(ks[0]); q.remove(ks[2]); q.remove(ks[4])
        #expect(idents(q) == [2, 4])
        q.remove(ks[2])  // not queued: no-op
        #expect(q.count == 2)
        q.append(ks[0])
        #expect(idents(q) == [2, 4, 1])
        q.removeAll()
        #expect(q.isEmpty && q.head == nil)
        #expect(ks.allSatisfy { !$0.queued })
    }
}
