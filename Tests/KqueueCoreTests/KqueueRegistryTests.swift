// SPDX-License-Identifier: BSD-2-Clause
// KqueueRegistryTests.swift: the lock-free descriptor -> kqueue table keeps a kqueue alive exactly while it is used.

import BSDSystem
import CBSDShimABI
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
            let kq = try EpollKqueue.create()
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

    /// kevent() that finds its kqueue's number taken by another file
    /// (closed unseen, linked) reclaims the kqueue and fails with EBADF; the
    /// kqueue it holds at +0 must survive that reclamation until it leaves.
    @Test func keventThatReclaimsItsOwnKqueueKeepsItUntilItLeaves() throws {
        weak var gone: EpollKqueue?
        let fd: Int32
        do {
            let kq = try EpollKqueue.create()
            fd = kq.fd
            gone = kq
        }
        var p: [Int32] = [0, 0]
        try #require(pipe(&p) == 0)
        defer { Glibc.close(p[0]); Glibc.close(p[1]) }
        let r = KqueueRegistry.withKqueue(fd) { inner, hold in
            // Atomically: the number becomes the pipe's read end (no window for another test's descriptor).
            #expect(dup2(p[0], fd) == fd)
            var ev = kevent()
            #expect(throws: Errno.badFileDescriptor) {
                try inner.kevent(changes: nil, count: 0, events: &ev, capacity: 1, timeout: 0, hold: &hold)
            }
            #expect(inner.isClosed)
            #expect(gone != nil)
            return 1
        }
        #expect(r == 1)
        #expect(gone == nil)
        Glibc.close(fd)
    }

    /// The number of a closed kqueue registered again by a new kqueue: the
    /// old one, still used by a thread, is retired; the new one is what the
    /// number finds; the old goes when its user leaves.
    @Test func reusedNumberFindsTheNewKqueueWhileTheOldIsStillUsed() throws {
        weak var old: EpollKqueue?
        let fd: Int32
        do {
            let kq = try EpollKqueue.create()
            fd = kq.fd
            old = kq
        }
        var fresh: EpollKqueue? = nil
        var reused = false
        _ = KqueueRegistry.withKqueue(fd) { inner, _ in
            // Linked, the close goes unseen; the next kqueue() usually gets the same number.
            Glibc.close(fd)
            fresh = try? EpollKqueue.create()
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
        let kq = try EpollKqueue.create()
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
