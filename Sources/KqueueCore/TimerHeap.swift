// SPDX-License-Identifier: BSD-2-Clause
// TimerHeap.swift: binary min-heap of timer knotes by deadline.

/// All EVFILT_TIMER knotes of one kqueue on one clock share one timerfd armed
/// for the heap's earliest deadline, so any number of timers costs O(1)
/// descriptors (libkqueue spends one timerfd per timer).
struct TimerHeap {
    private(set) var items: [Knote] = []

    var isEmpty: Bool { items.isEmpty }
    var top: Knote? { items.first }

    mutating func insert(_ kn: Knote) {
        kn.timer.heapIndex = items.count
        items.append(kn)
        siftUp(items.count - 1)
    }

    mutating func remove(_ kn: Knote) {
        let i = kn.timer.heapIndex
        guard i >= 0, i < items.count, items[i] === kn else { return }
        let last = items.count - 1
        if i != last {
            items.swapAt(i, last)
            items[i].timer.heapIndex = i
        }
        items.removeLast()
        kn.timer.heapIndex = -1
        if i < items.count {
            siftDown(i)
            siftUp(i)
        }
    }

    /// Removes and returns the earliest timer.
    mutating func popTop() -> Knote? {
        guard let t = items.first else { return nil }
        remove(t)
        return t
    }

    mutating func removeAll() {
        for kn in items { kn.timer.heapIndex = -1 }
        items.removeAll()
    }

    private mutating func siftUp(_ start: Int) {
        var i = start
        while i > 0 {
            let p = (i - 1) / 2
            if items[p].timer.deadline <= items[i].timer.deadline { break }
            items.swapAt(p, i)
            items[p].timer.heapIndex = p
            items[i].timer.heapIndex = i
            i = p
        }
    }

    private mutating func siftDown(_ start: Int) {
        var i = start
        let n = items.count
        while true {
            let l = 2 * i + 1
            if l >= n { break }
            var m = l
            let r = l + 1
            if r < n && items[r].timer.deadline < items[l].timer.deadline { m = r }
            if items[i].timer.deadline <= items[m].timer.deadline { break }
            items.swapAt(i, m)
            items[i].timer.heapIndex = i
            items[m].timer.heapIndex = m
            i = m
        }
    }
}
