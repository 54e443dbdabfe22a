// SPDX-License-Identifier: BSD-2-Clause
// KqueueRegistryTests.swift: the lock-free descriptor -> kqueue table keeps a kqueue alive exactly while it is used.

import BSDSystem
import Glibc
import Testing
@testable import KqueueCore

@Suite(.serialized) struct KqueueRegistryTests {
    /// A kqueue closed while a thread is inside kevent() on it stays alive
    /// (retired) until that thread leaves, and is freed then.
    @Test func closedKqueueLivesUntilItsLastUserLeaves() throws {
        weak var gone: EpollKqueue?
        let fd: Int32
        do {
            let kq = try EpollKqueue.create().get()
            fd = kq.fd
            gone = kq
        }
        #expect(gone != nil)  // the registry owns it
        let seen = KqueueRegistry.withKqueue(fd) { inner, _ in
            // As the preload library tells it: before the real close(), so
            // that no other test's new descriptor can take the number first.
            KqueueRegistry.descriptorClosing(fd)
            Glibc.close(fd)
            #expect(inner.isClosed)
            #expect(KqueueRegistry.lookup(fd) == nil)
            #expect(gone != nil)  // retired, not freed, while used here
            return 1
        }
        #expect(seen == 1)
        #expect(gone == nil)
        #expect(KqueueRegistry.withKqueue(fd) { _, _ in 1 } == nil)
    }

    /// The number of a closed kqueue registered again by a new kqueue: the
    /// old one, still used by a thread, is retired; the new one is what the
    /// number finds; the old goes when its user leaves.
    @Test func reusedNumberFindsTheNewKqueueWhileTheOldIsStillUsed() throws {
        weak var old: EpollKqueue?
        let fd: Int32
        do {
            let kq = try EpollKqueue.create().get()
            fd = kq.fd
            old = kq
        }
        var fresh: EpollKqueue? = nil
        var reused = false
        _ = KqueueRegistry.withKqueue(fd) { inner, _ in
            // Linked, the close goes unseen; the next kqueue() usually gets the same number.
            Glibc.close(fd)
            fresh = try? EpollKqueue.create().get()
            // (Tests running in parallel may take the number first.)
            if let fresh, fresh.fd == fd {
                reused = true
                #expect(inner.isClosed)
                #expect(KqueueRegistry.lookup(fd) === fresh)
                #expect(old != nil)
            }
            return 0
        }
        if reused { #expect(old == nil) }
        if let fresh {
            #expect(!fresh.isClosed)
            KqueueRegistry.descriptorClosing(fresh.fd)
            Glibc.close(fresh.fd)
        }
        if !reused { KqueueRegistry.sweep() }
    }

    /// A thread that blocks for long holds its kqueue by a reference of its
    /// own (``KqueueHold/keepForLongWait(_:)``), not by the entry: the count
    /// of users of the number drops back, so a kqueue retired under the same
    /// number can be freed while the thread waits.
    @Test func longWaitLeavesTheEntry() throws {
        let kq = try EpollKqueue.create().get()
        defer {
            KqueueRegistry.descriptorClosing(kq.fd)
            Glibc.close(kq.fd)
        }
        let e = try #require(KqueueRegistry.entry(kq.fd))
        let users = KqueueRegistry.withKqueue(kq.fd) { inner, hold in
            let inside = e.pointee.users.load(ordering: .relaxed)
            hold.keepForLongWait(inner)
            return Int32(inside * 10 + e.pointee.users.load(ordering: .relaxed))
        }
        #expect(users == 10)
        #expect(e.pointee.users.load(ordering: .relaxed) == 0)
    }
}
