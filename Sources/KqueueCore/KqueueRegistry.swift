// SPDX-License-Identifier: BSD-2-Clause
// KqueueRegistry.swift: descriptor -> kqueue table, close detection and fork.

import BSDSystem
import CBSDShim
import Glibc
import Synchronization

/// Finds the kqueue behind a descriptor. Sharded by descriptor number so that
/// kevent() on different kqueues never contends, and there is no global lock.
public enum KqueueRegistry {
    static let shardCount = 64

    /// One shard: kqueues whose descriptor % shardCount is this shard's index,
    /// stored at descriptor / shardCount, guarded by the shard's lock. The
    /// shards live in raw memory (no object to retain per lookup) and their
    /// locks are ``FutexLock``s, which a fork child can reset (Swift's Mutex
    /// records an owner thread that does not exist there). Each lock word is
    /// its own small allocation, so two may share a cache line: giving each
    /// a line of its own measured slower, not faster, with two threads
    /// polling two kqueues (Zen 2), so it was not kept.
    struct Shards: @unchecked Sendable {
        let locks: [FutexLock]
        let tables: UnsafeMutablePointer<[EpollKqueue?]>

        init() {
            locks = (0..<KqueueRegistry.shardCount).map { _ in FutexLock() }
            tables = .allocate(capacity: KqueueRegistry.shardCount)
            tables.initialize(repeating: [], count: KqueueRegistry.shardCount)
        }

        @inline(__always)
        func withLock<R>(_ shard: Int, _ body: (inout [EpollKqueue?]) -> R) -> R {
            let lock = locks.withUnsafeBufferPointer { $0[shard] }
            lock.lock()
            defer { lock.unlock() }
            return body(&tables[shard])
        }
    }

    static let shards: Shards = {
        _ = forkHandlersInstalled
        return Shards()
    }()

    /// Every registered kqueue in one list, for the paths that visit them all
    /// (close tracking, sweeps) without locking 64 shards.
    static let liveLock = FutexLock()
    nonisolated(unsafe) static var live: [EpollKqueue] = []

    /// Round-robin cursor of the background sweep done by kqueue().
    static let sweepCursor = Atomic<Int>(0)

    /// The kqueue registered under `fd`, if any.
    @inline(__always)
    public static func lookup(_ fd: Int32) -> EpollKqueue? {
        guard fd >= 0 else { return nil }
        let i = Int(fd)
        return shards.withLock(i & (shardCount - 1)) { t in
            let j = i >> 6
            return j < t.count ? t[j] : nil
        }
    }

    /// Registers a new kqueue. A kqueue already registered under the same number
    /// had its descriptor closed (the kernel handed the number out again): it is
    /// reclaimed. A couple of other entries are re-checked on the way, so
    /// kqueues closed without reuse of their number are reclaimed too.
    static func insert(_ kq: EpollKqueue) {
        let i = Int(kq.fd)
        let old: EpollKqueue? = shards.withLock(i & (shardCount - 1)) { t in
            let j = i >> 6
            if j >= t.count { t.append(contentsOf: repeatElement(nil, count: j - t.count + 1)) }
            let o = t[j]
            t[j] = kq
            return o
        }
        liveLock.withLock { live.append(kq) }
        old?.markClosed()
        sweep(limit: 2)
    }

    static func remove(_ kq: EpollKqueue) {
        let i = Int(kq.fd)
        shards.withLock(i & (shardCount - 1)) { t in
            let j = i >> 6
            if j < t.count, t[j] === kq { t[j] = nil }
        }
        liveLock.withLock {
            if let k = live.firstIndex(where: { $0 === kq }) { live.swapAt(k, live.count - 1); live.removeLast() }
        }
    }

    /// All registered kqueues (snapshot).
    static func all() -> [EpollKqueue] {
        liveLock.withLock { live }
    }

    /// Re-checks up to `limit` registered kqueues (all if nil) and reclaims those
    /// whose descriptor no longer is theirs.
    public static func sweep(limit: Int? = nil) {
        let kqueues: [EpollKqueue] = liveLock.withLock {
            guard let limit, limit < live.count else { return live }
            // A few at a time, round-robin from the cursor.
            let start = UInt(bitPattern: sweepCursor.wrappingAdd(limit, ordering: .relaxed).oldValue)
            return (0..<UInt(limit)).map { live[Int((start &+ $0) % UInt(live.count))] }
        }
        for kq in kqueues { _ = kq.stillOurs() }
    }

    // MARK: - close tracking

    /// A descriptor of the program's is about to be closed (told by an
    /// interposed close()/dup2()/dup3()/close_range(), before the real call):
    /// every knote on it goes, as on BSD, and its epoll registration with it —
    /// which is what makes the dup() case right: epoll would otherwise keep
    /// reporting a file that another descriptor still holds open.
    public static func descriptorClosing(_ fd: Int32) {
        guard fd >= 0 else { return }
        if let kq = lookup(fd) {
            // The kqueue itself is being closed: reclaim it now.
            kq.markClosed()
        }
        let kqueues = liveLock.withLock { live }
        for kq in kqueues where kq.fd != fd { kq.forgetDescriptor(fd) }
    }

    // MARK: - fork

    /// BSD does not pass kqueues to a fork child. In the child every kqueue
    /// descriptor (and everything behind it) is closed, so kevent() there fails
    /// with EBADF and nothing of the parent's is shared or leaked.
    static let forkHandlersInstalled: Bool = {
        CurrentProcess.onFork(
            prepare: { for l in KqueueRegistry.shards.locks { l.lock() } },
            parent: { for l in KqueueRegistry.shards.locks { l.unlock() } },
            child: { KqueueRegistry.forgetAllInChild() }
        )
    }()

    /// The parent's kqueues, as a fork child abandoned them.
    nonisolated(unsafe) static var abandonedInChild: [EpollKqueue] = []

    static func forgetAllInChild() {
        SignalHub.forgetInChild()
        KqueueWatchdog.forgetInChild()
        liveLock.reset()
        live = []
        // Single-threaded here; the shard locks were taken in prepare. Other
        // locks (per-kqueue) may have been held by threads that do not exist in
        // the child, so only immutable or quiescent fields are touched.
        for s in 0..<shardCount {
            shards.locks[s].reset()
            shards.withLock(s) { t in
                for case let kq? in t {
                    // Linked without the preload library, the program's close()
                    // of a kqueue goes unseen and its number may now be another
                    // file of the program: close nothing unless the number still
                    // is this kqueue (its descriptors then leak into the child,
                    // close-on-exec).
                    let ours = kq.probeIdentity()
                    kq.forkedAway = true
                    kq.closed.store(true, ordering: .relaxed)
                    guard ours else { continue }
                    kq.closeDescriptorsInChild()
                }
                // The objects are abandoned, not freed: their locks may be held.
                // Kept referenced, so leak checkers see them as reachable.
                for case let kq? in t { abandonedInChild.append(kq) }
                t.removeAll()
            }
        }
    }
}
