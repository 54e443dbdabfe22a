// SPDX-License-Identifier: BSD-2-Clause
// TrivialBuffer.swift: a growable run of plain values without Array's copy-on-write check.

/// A growable run of trivial values (integers, unmanaged references) in
/// memory its owner frees with ``deallocate()``. The kqueue's routing table
/// lives in two: as Arrays, every slot change paid a copy-on-write
/// uniqueness check (a runtime call) and a reallocation check, more than
/// the rest of the change. Accesses are unchecked: callers index below ``count``.
struct TrivialBuffer<Element> {
    private(set) var base: UnsafeMutablePointer<Element>? = nil
    private(set) var count = 0
    private var capacity = 0

    var isEmpty: Bool { count == 0 }

    @inline(__always)
    subscript(i: Int) -> Element {
        get {
            assert(i >= 0 && i < count)
            return base.unsafelyUnwrapped[i]
        }
        nonmutating set {
            assert(i >= 0 && i < count)
            base.unsafelyUnwrapped[i] = newValue
        }
    }

    @inline(__always)
    mutating func append(_ e: Element) {
        if count == capacity { grow() }
        base.unsafelyUnwrapped[count] = e
        count += 1
    }

    @inline(__always)
    mutating func popLast() -> Element? {
        if count == 0 { return nil }
        count -= 1
        return base.unsafelyUnwrapped[count]
    }

    /// Doubles the room (amortised, as Array grows).
    @inline(never)
    private mutating func grow() {
        let newCapacity = max(16, capacity * 2)
        let n = UnsafeMutablePointer<Element>.allocate(capacity: newCapacity)
        if let b = base {
            n.moveInitialize(from: b, count: count)
            b.deallocate()
        }
        base = n
        capacity = newCapacity
    }

    /// Empties the buffer, keeping its memory.
    mutating func removeAll() { count = 0 }

    func deallocate() { base?.deallocate() }
}
