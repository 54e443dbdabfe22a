// SPDX-License-Identifier: BSD-2-Clause
// KnoteTable.swift: a kqueue's knotes by (ident, filter).

import CBSDShimABI

/// Knotes on descriptors (EVFILT_READ / EVFILT_WRITE) are found by indexing an
/// array with the descriptor number — no hashing on the kevent() path, as
/// swift-nio's selector does; other idents (timer and user numbers, which can
/// be anything) live in a dictionary.
struct KnoteTable {
    /// Per descriptor: its read and write knotes.
    private struct DescriptorEntry {
        var read: Knote?
        var write: Knote?
    }

    private var descriptors: [DescriptorEntry] = []
    private var others: [KnoteKey: Knote] = [:]
    private(set) var count = 0

    /// Descriptors above this go to the dictionary (keeps the array bounded).
    private static let directLimit: UInt = 1 << 22

    @inline(__always)
    private static func slotFilter(_ filter: Int16) -> Int {
        switch Int32(filter) {
        case EVFILT_READ: return 0
        case EVFILT_WRITE: return 1
        default: return -1
        }
    }

    subscript(ident: UInt, filter: Int16) -> Knote? {
        get {
            let f = Self.slotFilter(filter)
            if f >= 0 && ident < Self.directLimit {
                let i = Int(ident)
                guard i < descriptors.count else { return nil }
                return f == 0 ? descriptors[i].read : descriptors[i].write
            }
            return others[KnoteKey(ident: ident, filter: filter)]
        }
        set {
            let f = Self.slotFilter(filter)
            if f >= 0 && ident < Self.directLimit {
                let i = Int(ident)
                if i >= descriptors.count {
                    if newValue == nil { return }
                    descriptors.append(contentsOf: repeatElement(DescriptorEntry(), count: max(i + 1 - descriptors.count, descriptors.count / 2)))
                }
                // Compare with nil rather than read the old value (no retain/release).
                let had = f == 0 ? descriptors[i].read != nil : descriptors[i].write != nil
                count += (newValue == nil ? 0 : 1) - (had ? 1 : 0)
                if f == 0 { descriptors[i].read = newValue } else { descriptors[i].write = newValue }
                return
            }
            let key = KnoteKey(ident: ident, filter: filter)
            if let newValue {
                if others.updateValue(newValue, forKey: key) == nil { count += 1 }
            } else if others.removeValue(forKey: key) != nil {
                count -= 1
            }
        }
    }

    /// The knote for (ident, filter), unretained: the kevent() path holds
    /// it at +0 (the table, or the spare list once dropped, keeps it alive),
    /// saving the retain/release pair, two atomic operations, per change.
    @inline(__always)
    func unretained(_ ident: UInt, _ filter: Int16) -> Unmanaged<Knote>? {
        let f = Self.slotFilter(filter)
        if f >= 0 && ident < Self.directLimit {
            let i = Int(ident)
            guard i < descriptors.count else { return nil }
            return descriptors.withUnsafeBufferPointer { d in
                if f == 0 {
                    guard let kn = d[i].read else { return nil }
                    return Unmanaged.passUnretained(kn)
                }
                guard let kn = d[i].write else { return nil }
                return Unmanaged.passUnretained(kn)
            }
        }
        guard let kn = others[KnoteKey(ident: ident, filter: filter)] else { return nil }
        return Unmanaged.passUnretained(kn)
    }

    /// Removes the knote for (ident, filter) and hands over the table's
    /// reference: moved, not copied, so a delete costs no retain/release
    /// pair (two atomic operations) when the caller keeps the knote (the
    /// kqueue's spare list does).
    mutating func take(_ ident: UInt, _ filter: Int16) -> Knote? {
        let f = Self.slotFilter(filter)
        if f >= 0 && ident < Self.directLimit {
            let i = Int(ident)
            guard i < descriptors.count else { return nil }
            let kn = descriptors.withUnsafeMutableBufferPointer { d in
                f == 0 ? d[i].read.take() : d[i].write.take()
            }
            if kn != nil { count -= 1 }
            return kn
        }
        guard let kn = others.removeValue(forKey: KnoteKey(ident: ident, filter: filter)) else { return nil }
        count -= 1
        return kn
    }

    /// Every knote (for teardown).
    var all: [Knote] {
        var out: [Knote] = []
        out.reserveCapacity(count)
        for e in descriptors {
            if let r = e.read { out.append(r) }
            if let w = e.write { out.append(w) }
        }
        out.append(contentsOf: others.values)
        return out
    }

    mutating func removeAll() {
        descriptors.removeAll()
        others.removeAll()
        count = 0
    }
}
