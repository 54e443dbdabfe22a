// SPDX-License-Identifier: BSD-2-Clause
// KqueueRegistryTests.swift: the lock-free descriptor -> kqueue table keeps a kqueue alive exactly while it is used.

import BSDSystem
import CBSDShimABI
import Glibc
import Synchronization
import Testing
@testable import KqueueCore

@Suite(.serialized) struct KqueueRegistryTests {
    /// A kqueue closed while a thread is inside kevent() on it stays alive
    /// (retired) until that thread leaves, and is freed then.
    @Test func closedKqueueLivesUntilItsLastUserLeaves() throws {
        let k = try RegistryOnlyKqueue()
        let fd = k.fd
        #expect(k.kqueue != nil)  // the registry owns it
        let seen = KqueueRegistry.withKqueue(fd) { inner, _ in
            // As the preload library tells it: before the real close(), so
            // that no other test's new descriptor can take the number first.
            KqueueRegistry.descriptorClosing(fd)
            Glibc.close(fd)
            #expect(inner.isClosed)
            #expect(KqueueRegistry.lookup(fd) == nil)
            #expect(k.kqueue != nil)  // retired, not freed, while used here
            return 1
        }
        #expect(seen == 1)
        #expect(k.kqueue == nil)
        #expect(KqueueRegistry.withKqueue(fd) { _, _ in 1 } == nil)
    }

    /// kevent() that finds its kqueue's number taken by another file
    /// (closed unseen, linked) reclaims the kqueue and fails with EBADF; the
    /// kqueue it holds at +0 must survive that reclamation until it leaves.
    @Test func keventThatReclaimsItsOwnKqueueKeepsItUntilItLeaves() throws {
        let k = try RegistryOnlyKqueue()
        let fd = k.fd
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
            #expect(k.kqueue != nil)
            return 1
        }
        #expect(r == 1)
        #expect(k.kqueue == nil)
        Glibc.close(fd)
    }

    /// The number of a closed kqueue registered again by a new kqueue: the
    /// old one, still used by a thread, is retired; the new one is what the
    /// number finds; the old goes when its user leaves.
    @Test func reusedNumberFindsTheNewKqueueWhileTheOldIsStillUsed() throws {
        let k = try RegistryOnlyKqueue()
        let fd = k.fd
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
                #expect(k.kqueue != nil)
            }
            return 0
        }
        if reused { #expect(k.kqueue == nil) }
        if let fresh {
            #expect(!fresh.isClosed)
            KqueueRegistry.descriptorClosing(fresh.fd)
            Glibc.close(fresh.fd)
        }
        if !reused { KqueueRegistry.sweep() }
    }

    /// A thread that blocks for long holds its kqueue by a reference of its
    /// own (``KqueueHold/keepOwnReference(_:)``), not by the entry: the count
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
            hold.keepOwnReference(inner)
            return Int32(inside * 10 + e.pointee.users.load(ordering: .relaxed))
        }
        #expect(users == 10)
        #expect(e.pointee.users.load(ordering: .relaxed) == 0)
    }

    /// A kevent() that never blocks finds its kqueue under the kqueue's lock
    /// (a word in the registry entry) instead of counting itself in: a kqueue
    /// retired while such a call holds the lock stays until the lock is free;
    /// one retired after the call counted itself in (to go on past its
    /// locked step) stays until it leaves.
    @Test func retiredKqueueOutlivesALockedStepAndItsCountedTail() throws {
        let k = try RegistryOnlyKqueue()
        let fd = k.fd
        defer { Glibc.close(fd) }
        let e = try #require(KqueueRegistry.entry(fd))
        let lock = KqueueRegistry.lock(e)
        #expect(k.kqueue?.lock.word == lock.word)

        lock.lock()  // a locked step in progress
        #expect(KqueueRegistry.registered(e)?.takeUnretainedValue() === k.kqueue)
        KqueueRegistry.remove(try #require(k.kqueue))  // retired, and a reclaim tried
        #expect(KqueueRegistry.registered(e) == nil)
        #expect(k.kqueue != nil, "freed while a locked step could still be using it")
        // The step goes on past its lock: counted in first.
        e.pointee.users.wrappingAdd(1, ordering: .sequentiallyConsistent)
        lock.unlock()
        KqueueRegistry.reclaim()
        #expect(k.kqueue != nil, "freed while a counted-in call could still be using it")
        KqueueRegistry.leave(e)  // reclaims: the last user is gone
        #expect(k.kqueue == nil)
    }

    /// A kqueue retired while a thread was inside it, its number now another
    /// kqueue's that two threads poll with short timeouts (their calls
    /// overlap, so the number's count of users rarely reaches 0): the old
    /// kqueue (whose deinit closes its descriptors) is freed once its own last user leaves,
    /// while the pollers go on.
    @Test func retiredKqueueIsFreedWhileItsNumbersNewKqueueIsPolled() throws {
        // Other suites open descriptors in parallel: retry until the number is reused.
        for _ in 0..<50 {
            let k = try RegistryOnlyKqueue()
            let fd = k.fd
            let e = try #require(KqueueRegistry.entry(fd))
            _ = try #require(KqueueRegistry.enter(e))        // a kevent() inside the old kqueue
            Glibc.close(fd)
            let fresh = try EpollKqueue.create()
            defer {
                KqueueRegistry.descriptorClosing(fresh.fd)
                Glibc.close(fresh.fd)
            }
            guard fresh.fd == fd else {
                KqueueRegistry.leave(e)
                continue
            }
            let pollers = [RegistryPoller(fd: fd), RegistryPoller(fd: fd)]
            for p in pollers { p.start() }
            while pollers.contains(where: { $0.calls.load(ordering: .relaxed) < 2 }) { usleep(1_000) }
            KqueueRegistry.leave(e)                           // the old kqueue's last user leaves
            var waited = 0
            while k.kqueue != nil && waited < 2_000 {
                usleep(1_000)
                waited += 1
            }
            let freed = k.kqueue == nil
            for p in pollers { p.join() }
            #expect(freed, "the retired kqueue outlived its last user by 2 s while its number was polled")
            #expect(pollers.allSatisfy { $0.calls.load(ordering: .relaxed) > 2 })
            return
        }
        Issue.record("the kqueue's number was never handed out again in 50 tries")
    }
}

/// A new kqueue that only the registry holds: its number, and a weak
/// reference that shows when the registry lets it go.
private struct RegistryOnlyKqueue {
    let fd: Int32
    weak var kqueue: EpollKqueue?

    init() throws {
        let kq = try EpollKqueue.create()
        fd = kq.fd
        kqueue = kq
    }
}

/// A thread calling kevent() on a descriptor number through the registry, with a 20 ms timeout, until stopped.
private final class RegistryPoller: @unchecked Sendable {
    let fd: Int32
    let stop = Atomic<Bool>(false)
    let calls = Atomic<Int>(0)
    var thread = pthread_t()

    init(fd: Int32) { self.fd = fd }

    func start() {
        pthread_create(&thread, nil, { arg in
            let me = Unmanaged<RegistryPoller>.fromOpaque(arg!).takeUnretainedValue()
            var ev = kevent()
            while !me.stop.load(ordering: .relaxed) {
                _ = KqueueRegistry.withKqueue(me.fd) { q, hold in
                    Int32((try? q.kevent(changes: nil, count: 0, events: &ev, capacity: 1,
                                         timeout: 20_000_000, hold: &hold)) ?? -1)
                }
                me.calls.add(1, ordering: .relaxed)
            }
            return nil
        }, Unmanaged.passUnretained(self).toOpaque())
    }

    func join() {
        stop.store(true, ordering: .relaxed)
        pthread_join(thread, nil)
    }
}
