// SPDX-License-Identifier: BSD-2-Clause
// TimerHeapTests.swift: the deadline heap against a sorted reference.

import CBSDShimABI
import Testing
@testable import KqueueCore

@Suite struct TimerHeapTests {
    func knote(_ ident: UInt, deadline: UInt64) -> Knote {
        let kn = Knote(change: kevent(ident: ident, filter: Int16(EVFILT_TIMER), flags: UInt16(EV_ADD),
                                      fflags: 0, data: 0, udata: nil), ops: FilterTable.timer)
        kn.timer.deadline = deadline
        return kn
    }

    @Test func popsInDeadlineOrderWithRandomRemovals() {
        var seed = UInt64.random(in: 1...UInt64.max)
        print("TimerHeapTests seed: \(seed)")
        func next() -> UInt64 {  // xorshift64*, reproducible from the printed seed
            seed ^= seed >> 12; seed ^= seed << 25; seed ^= seed >> 27
            return seed &* 2685821657736338717
        }
        var heap = TimerHeap()
        var live: [Knote] = []
        for i in 0..<2000 {
            let kn = knote(UInt(i), deadline: next() % 1_000_000)
            heap.insert(kn)
            live.append(kn)
            if next() % 4 == 0, !live.isEmpty {
                let victim = live.remove(at: Int(next() % UInt64(live.count)))
                heap.remove(victim)
                #expect(victim.timer.heapIndex == -1)
            }
        }
        var previous: UInt64 = 0
        var popped = 0
        while let kn = heap.popTop() {
            #expect(kn.timer.deadline >= previous)
            previous = kn.timer.deadline
            popped += 1
        }
        #expect(popped == live.count)
    }

    @Test func removingANonMemberIsHarmless() {
        var heap = TimerHeap()
        let a = knote(1, deadline: 5), b = knote(2, deadline: 3)
        heap.insert(a)
        heap.remove(b)
        #expect(heap.top === a)
        heap.remove(a)
        #expect(heap.isEmpty)
    }
}
