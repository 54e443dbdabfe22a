// SPDX-License-Identifier: BSD-2-Clause
// KqueueAsyncTests.swift: the AsyncSequence of a kqueue's events.

import BSDShim
import Glibc
import Testing

/// Threads of this process.
func threadCount() -> Int {
    guard let dir = opendir("/proc/self/task") else { return -1 }
    defer { closedir(dir) }
    var n = 0
    while let e = readdir(dir) {
        if e.pointee.d_name.0 != 0x2E { n += 1 }  // skip "." and ".."
    }
    return n
}

@Suite struct KqueueAsyncTests {
    @Test func userEventsTriggeredFromAnotherTaskArriveInOrder() async throws {
        let kq = try Kqueue()
        for id in UInt(1)...3 { try kq.register(.user(id), flags: .oneshot) }
        let consumer = Task { () async throws -> [UInt] in
            var seen: [UInt] = []
            for try await event in kq.events {
                if case .user(let id, _) = event.kind { seen.append(id) }
                if seen.count == 3 { break }
            }
            return seen
        }
        for id in UInt(1)...3 {
            try await Task.sleep(for: .milliseconds(5))
            try kq.trigger(user: id)
        }
        #expect(try await consumer.value.sorted() == [1, 2, 3])
    }

    @Test func pipeDataWakesASuspendedIterator() async throws {
        let kq = try Kqueue()
        let p = try Pipe()
        try kq.register(.read(p.read), flags: .clear)
        let consumer = Task { () async throws -> Kqueue.Kind? in
            var it = kq.events.makeAsyncIterator()
            return try await it.next()?.kind
        }
        try await Task.sleep(for: .milliseconds(20))
        p.send([1, 2, 3])
        #expect(try await consumer.value == .readable(p.read, bytes: 3))
    }

    @Test func timerTicksArriveAsASequence() async throws {
        let kq = try Kqueue()
        try kq.register(.timer(9, interval: .milliseconds(3)), flags: .clear)
        var ticks = 0
        for try await event in kq.events {
            if case .timer(9, let n) = event.kind { ticks += n }
            if ticks >= 3 { break }
        }
        #expect(ticks >= 3)
    }

    @Test func cancellationEndsAnIdleIteration() async throws {
        let kq = try Kqueue()
        let consumer = Task { () async throws -> Int in
            var n = 0
            for try await _ in kq.events { n += 1 }
            return n
        }
        try await Task.sleep(for: .milliseconds(20))
        consumer.cancel()
        #expect(try await consumer.value == 0)
    }

    @Test func closingTheKqueueEndsItsIteration() async throws {
        let kq = try Kqueue()
        let consumer = Task { () async throws -> Int in
            var n = 0
            for try await _ in kq.events { n += 1 }
            return n
        }
        try await Task.sleep(for: .milliseconds(20))
        kq.close()
        #expect(try await consumer.value == 0)
    }

    @Test func manyIdleIterationsShareOneThread() async throws {
        let kqueues = try (0..<40).map { _ in try Kqueue() }
        for kq in kqueues { try kq.register(.user(1), flags: .oneshot) }
        // Warm up: the shared reactor thread exists after the first idle wait.
        let warm = Task { () async throws in
            for try await _ in kqueues[0].events { break }
        }
        try await Task.sleep(for: .milliseconds(20))
        try kqueues[0].trigger(user: 1)
        try await warm.value
        let before = threadCount()
        let waiters = kqueues.dropFirst().map { kq in
            Task { () async throws -> Bool in
                for try await event in kq.events { return event.kind == .user(1, flags: 0) }
                return false
            }
        }
        try await Task.sleep(for: .milliseconds(50))
        let during = threadCount()
        for kq in kqueues.dropFirst() { try kq.trigger(user: 1) }
        for w in waiters { #expect(try await w.value) }
        // 39 suspended iterations cost no thread each (a thread per kqueue would add 39).
        // Other suites run in parallel and may start a few threads of their own meanwhile.
        #expect(during - before < 20, "threads before \(before), during \(during)")
    }
}
