// SPDX-License-Identifier: BSD-2-Clause
// KqueueUndeliveredTests.swift: events an async iteration fetched but did not
// deliver (it ended with `break`) stay with the kqueue and come out next time.

import BSDShim
import Testing

/// The user-event identifiers among `events`, in order.
private func userIDs(_ events: [Kqueue.Event]) -> [UInt] {
    events.compactMap { if case .user(let id, _) = $0.kind { return id } else { return nil } }
}

/// Registers user events 1...count with `flags` and triggers them all.
private func triggeredUserEvents(_ count: UInt, flags: Kqueue.Flags) throws -> Kqueue {
    let kq = try Kqueue()
    for id in 1...count { try kq.register(.user(id), flags: flags) }
    for id in 1...count { try kq.trigger(user: id) }
    return kq
}

@Suite struct KqueueUndeliveredTests {
    /// The case: 16 one-shot events are fetched in one batch; the loop
    /// takes one and breaks; a second loop must get the other 15, once each.
    @Test(arguments: [Kqueue.Flags.oneshot, .clear])
    func breakingOutKeepsTheRestOfTheBatch(flags: Kqueue.Flags) async throws {
        let kq = try triggeredUserEvents(16, flags: flags)
        var first: [Kqueue.Event] = []
        for try await event in kq.events {
            first.append(event)
            break
        }
        #expect(userIDs(first).count == 1)

        // A sentinel triggered now ends the second loop even if events were lost
        // (so a regression fails instead of waiting forever).
        try kq.register(.user(100), flags: .oneshot)
        try kq.trigger(user: 100)
        var rest: [Kqueue.Event] = []
        for try await event in kq.events {
            if case .user(100, _) = event.kind { break }
            rest.append(event)
        }
        let all = userIDs(first) + userIDs(rest)
        #expect(userIDs(rest).count == 15)
        #expect(all.count == 16)
        #expect(Set(all) == Set(1...16), "got \(all)")
        // Nothing is delivered twice: the kqueue is now empty.
        #expect(try kq.wait(maximum: 32, timeout: .zero).isEmpty)
    }

    @Test func aSynchronousWaitReturnsTheUndeliveredEventsFirst() async throws {
        let kq = try triggeredUserEvents(16, flags: .oneshot)
        var first: UInt?
        for try await event in kq.events {
            if case .user(let id, _) = event.kind { first = id }
            break
        }
        let firstID = try #require(first)
        // A buffer smaller than what is left: two waits, no event twice, none lost.
        let a = userIDs(try kq.wait(maximum: 10, timeout: .zero))
        let b = userIDs(try kq.wait(maximum: 10, timeout: .zero))
        #expect(a.count == 10)
        #expect(b.count == 5)
        #expect(Set([firstID] + a + b) == Set(1...16))
        #expect(try kq.wait(maximum: 32, timeout: .zero).isEmpty)
    }

    @Test func undeliveredEventsComeBeforeNewOnesAndWithThem() async throws {
        let kq = try triggeredUserEvents(4, flags: .oneshot)
        for try await _ in kq.events { break }
        // A new event after the batch was fetched: one wait returns the 3 kept and it.
        try kq.register(.user(99), flags: .oneshot)
        try kq.trigger(user: 99)
        let ids = userIDs(try kq.wait(maximum: 16, timeout: .zero))
        #expect(ids.count == 4)
        #expect(ids.last == 99, "the kept events come first: \(ids)")
    }

    @Test func deletingARegistrationDropsItsUndeliveredEvent() async throws {
        let kq = try triggeredUserEvents(3, flags: .clear)
        var first: UInt = 0
        for try await event in kq.events {
            if case .user(let id, _) = event.kind { first = id }
            break
        }
        let victim: UInt = first == 1 ? 2 : 1
        try kq.delete(.user(victim))
        let ids = userIDs(try kq.wait(maximum: 16, timeout: .zero))
        #expect(ids.count == 1)
        #expect(!ids.contains(victim) && !ids.contains(first), "got \(ids), deleted \(victim), first \(first)")
    }

    @Test func closingDropsUndeliveredEvents() async throws {
        let kq = try triggeredUserEvents(16, flags: .oneshot)
        for try await _ in kq.events { break }
        kq.close()
        var after = 0
        for try await _ in kq.events { after += 1 }
        #expect(after == 0)
        #expect(throws: Errno.badFileDescriptor) { try kq.wait(maximum: 16, timeout: .zero) }
    }
}
