// SPDX-License-Identifier: BSD-2-Clause
// KqueueRegistry.swift: descriptor -> kqueue table, close detection and fork.

import BSDSystem
import CBSDShim
import Glibc
import Synchronization

/// Finds the kqueue behind a descriptor. kevent() looks it up without a lock
/// and without retaining it: the table holds one entry per descriptor number,
/// on its own cache line, with the kqueue's address and a count of the threads
/// using that entry. A kqueue taken out of the table (closed, or its number
/// registered again) is kept, "retired", until its entry's count is 0 — so no
/// close() can free a kqueue under a thread that found it.
///
/// Why this is safe: a reader increments the count and then loads the address;
/// a remover stores the new address and then reads the count, all sequentially
/// consistent. Either the remover sees the reader counted (and keeps the
/// kqueue), or the reader sees the new address (and never touches the old one).
///
/// The kqueue's lock word lives in its entry's cache line too, and a call that
/// never blocks finds its kqueue by taking that lock instead of counting
/// itself in: the lock already orders it against a remover, which stores the
/// new address first and reclaims only after seeing the lock free once
/// (a compare-and-swap of 0 with 0, ordered as taking and dropping it) — so
/// every reader that could have loaded the old address has let go of it. Two atomic operations a call instead of four. A kqueue retired
/// under a number shares the lock with the number's next kqueue: only
/// exclusion between the two, never a wrong answer.
public enum KqueueRegistry {
    /// One descriptor number's slot.
    struct Entry: ~Copyable {
        /// The registered kqueue (unretained: ``live`` owns it), or 0.
        let kqueue = Atomic<UInt>(0)
        /// Threads between ``enter(_:)`` and ``leave(_:)`` on this number.
        let users = Atomic<Int>(0)
        /// Retired kqueues waiting for `users` to reach 0: while not 0, a
        /// leaving thread reclaims them.
        let retired = Atomic<Int>(0)
        /// Set by a signal handler that left changes in the registered
        /// kqueue (KqueueDeferredChanges.swift), for a caller that cannot
        /// look at the kqueue after unlocking it.
        let deferred = Atomic<UInt32>(0)
    }

    /// Entries are a cache line apart: threads on different kqueues never
    /// write the same line (the count is written by every kevent()).
    static let entryStride = 64
    /// Where the lock word of the entry's kqueues sits in the entry's line, after the ``Entry``.
    static let lockWordOffset = 32
    /// Entries come in leaves of this many, made when a number in their range
    /// is first registered; the directory of leaves (`cbsdshim_kqueue_directory`,
    /// a C array: no once check per look-up) covers every non-negative Int32.
    static let leafShift = Int(cbsdshim_kqueue_leaf_shift)
    static let leafSize = 1 << leafShift

    /// The registry's lock, which serialises registration, removal and
    /// reclamation (never taken by a kevent() that finds its kqueue
    /// registered and no kqueue retired there).
    struct Table: @unchecked Sendable {
        let lock = FutexLock()
    }

    static let table: Table = {
        _ = forkHandlersInstalled
        return Table()
    }()

    // State below is protected by `table.lock`.

    /// Every registered kqueue, owned here; for the paths that visit them all
    /// (close tracking, sweeps, the watchdog).
    nonisolated(unsafe) static var live: [EpollKqueue] = []
    /// Kqueues out of the table whose entry may still have users, with that entry.
    nonisolated(unsafe) static var retired: [(kq: EpollKqueue, entry: UnsafeMutablePointer<Entry>)] = []
    /// Every leaf made (a fork child resets them).
    nonisolated(unsafe) static var leaves: [UnsafeMutableRawPointer] = []

    /// Round-robin cursor of the background sweep done by kqueue().
    static let sweepCursor = Atomic<Int>(0)

    /// The entry of descriptor number `fd`, if its leaf exists.
    @inline(__always)
    static func entry(_ fd: Int32) -> UnsafeMutablePointer<Entry>? {
        guard fd >= 0 else { return nil }
        let i = Int(fd)
        let leaf = cbsdshim_kqueue_leaf(UInt32(i >> leafShift))
        guard leaf != 0 else { return nil }
        return (UnsafeMutableRawPointer(bitPattern: leaf)! + (i & (leafSize - 1)) * entryStride)
            .assumingMemoryBound(to: Entry.self)
    }

    /// The entry of `fd`, making its leaf if needed (under the lock).
    static func entryMaking(_ fd: Int32) -> UnsafeMutablePointer<Entry> {
        let d = Int(fd) >> leafShift
        if cbsdshim_kqueue_leaf(UInt32(d)) == 0 {
            let leaf = UnsafeMutableRawPointer.allocate(byteCount: leafSize * entryStride, alignment: entryStride)
            assert(MemoryLayout<Entry>.size <= lockWordOffset)
            for i in 0..<leafSize {
                (leaf + i * entryStride).bindMemory(to: Entry.self, capacity: 1).initialize(to: Entry())
                (leaf + i * entryStride + lockWordOffset).bindMemory(to: UInt32.self, capacity: 1).initialize(to: 0)
            }
            leaves.append(leaf)
            cbsdshim_kqueue_set_leaf(UInt32(d), UInt(bitPattern: leaf))
        }
        return entry(fd)!
    }

    /// The lock of the kqueues registered under `e` (see the type's comment).
    @inline(__always)
    static func lock(_ e: UnsafeMutablePointer<Entry>) -> FutexLock {
        FutexLock(wrapping: (UnsafeMutableRawPointer(e) + lockWordOffset).assumingMemoryBound(to: UInt32.self))
    }

    /// The lock for a new kqueue on descriptor `fd`: its entry's, the entry made if needed.
    static func lockForNewKqueue(_ fd: Int32) -> FutexLock {
        withTableLock { lock(entryMaking(fd)) }
    }

    /// The kqueue registered at `e`, for a caller holding ``lock(_:)`` of `e`.
    @inline(__always)
    static func registered(_ e: UnsafeMutablePointer<Entry>) -> Unmanaged<EpollKqueue>? {
        let p = e.pointee.kqueue.load(ordering: .sequentiallyConsistent)
        guard p != 0 else { return nil }
        return Unmanaged.fromOpaque(UnsafeRawPointer(bitPattern: p)!)
    }

    /// Counts the caller into `e` and returns the kqueue registered there (at +0, valid until ``leave(_:)``), or nil.
    @inline(__always)
    static func enter(_ e: UnsafeMutablePointer<Entry>) -> Unmanaged<EpollKqueue>? {
        e.pointee.users.wrappingAdd(1, ordering: .sequentiallyConsistent)
        let p = e.pointee.kqueue.load(ordering: .sequentiallyConsistent)
        guard p != 0 else { return nil }
        return Unmanaged.fromOpaque(UnsafeRawPointer(bitPattern: p)!)
    }

    /// Counts the caller out of `e`; frees what was retired there if it was the last user.
    @inline(__always)
    static func leave(_ e: UnsafeMutablePointer<Entry>) {
        e.pointee.users.wrappingSubtract(1, ordering: .sequentiallyConsistent)
        reclaimIfRetired(e)
    }

    /// Frees what was retired under `e` if anything was (one load otherwise).
    /// Never called with a kqueue's lock held: reclaiming takes the registry lock.
    @inline(__always)
    static func reclaimIfRetired(_ e: UnsafeMutablePointer<Entry>) {
        if e.pointee.retired.load(ordering: .sequentiallyConsistent) != 0 { reclaimUnlessHeld() }
    }

    /// ``reclaim()``, unless this thread holds the registry lock already: a
    /// signal handler's kevent() that interrupted the registry's own work
    /// leaves the reclaiming to a later caller.
    @inline(never)
    static func reclaimUnlessHeld() {
        if cbsdshim_kqueue_lock_held(table.lock.word) != 0 { return }
        reclaim()
    }

    /// Runs `body` under the registry lock, listed as held by this thread
    /// (the list kqueue locks use, KqueueDeferredChanges.swift).
    static func withTableLock<R>(_ body: () -> R) -> R {
        let depth = cbsdshim_kqueue_lock(table.lock.word)
        defer { cbsdshim_kqueue_unlock(table.lock.word, depth) }
        return body()
    }

    /// Runs `body` with the kqueue registered under `fd` at +0, no lock and no
    /// retain; nil if none is. `hold` lets a long wait keep the kqueue in its
    /// own right (``KqueueHold/keepOwnReference(_:)``).
    /// Not generic: the C entry point in another module calls it unspecialised.
    public static func withKqueue(_ fd: Int32, _ body: (EpollKqueue, inout KqueueHold) -> Int32) -> Int32? {
        guard let e = entry(fd) else { return nil }
        return withKqueue(at: e, body)
    }

    /// ``withKqueue(_:_:)`` for a caller that has the entry already.
    @inline(__always)
    static func withKqueue(at e: UnsafeMutablePointer<Entry>, _ body: (EpollKqueue, inout KqueueHold) -> Int32) -> Int32? {
        guard let ref = enter(e) else {
            leave(e)
            return nil
        }
        var hold = KqueueHold(entry: e)
        // A kqueue retired under this number is freed when the entry's count
        // reaches 0. Threads of the number's new kqueue would keep the count
        // up forever if they overlap (two pollers with short timeouts), so
        // while one waits they hold their own reference and leave at once:
        // only threads that entered before the retirement can delay it.
        if e.pointee.retired.load(ordering: .sequentiallyConsistent) != 0 {
            hold.keepOwnReference(ref.takeUnretainedValue())
        }
        let r = ref._withUnsafeGuaranteedRef { body($0, &hold) }
        hold.end(ref)
        return r
    }

    /// The kqueue registered under `fd`, if any (retained), for a caller
    /// that may hold another kqueue's lock (a filter routing events under
    /// it): it counts itself out without reclaiming, since reclaiming takes
    /// the registry lock, which fork's prepare handler holds while it takes
    /// kqueue locks. The entry's next caller, or a sweep, reclaims.
    static func lookupUnderLock(_ fd: Int32) -> EpollKqueue? {
        guard let e = entry(fd) else { return nil }
        let kq = enter(e)?.takeUnretainedValue()
        e.pointee.users.wrappingSubtract(1, ordering: .sequentiallyConsistent)
        return kq
    }

    /// True if `fd` is a kqueue's descriptor, for the filters that refuse
    /// one: a plain load first (nearly no number has a kqueue registered),
    /// then the kqueue asked whether the number is still its own (linked, a
    /// close() of a kqueue goes unseen and the number may be a socket now).
    static func isKqueue(_ fd: Int32) -> Bool {
        guard let e = entry(fd), e.pointee.kqueue.load(ordering: .relaxed) != 0 else { return false }
        return lookupUnderLock(fd)?.probeIdentity() ?? false
    }

    /// After a kqueue's lock is released: changes a signal handler left
    /// meanwhile (in whichever kqueue is registered under the entry now) are
    /// applied, then a kqueue retired under the entry is reclaimed if nobody
    /// uses it (reclaimLocked skips it while the word is busy, so whoever
    /// frees the word frees it). Never called with another kqueue's lock held.
    @inline(__always)
    static func afterUnlocking(_ word: UnsafeMutablePointer<UInt32>) {
        let e = entry(ofLockWord: word)
        applyDeferredChanges(e)
        reclaimIfRetired(e)
    }

    /// Just after a kqueue's lock is taken: changes signal handlers left
    /// before are applied first, so that calls keep their order (a handler's
    /// own kevent() coming this way goes after the ones it interrupted).
    @inline(__always)
    static func afterLocking(_ word: UnsafeMutablePointer<UInt32>) {
        let e = entry(ofLockWord: word)
        if e.pointee.deferred.load(ordering: .relaxed) != 0 { applyDeferredChangesLocked(e) }
    }

    @inline(__always)
    static func entry(ofLockWord word: UnsafeMutablePointer<UInt32>) -> UnsafeMutablePointer<Entry> {
        (UnsafeMutableRawPointer(word) - lockWordOffset).assumingMemoryBound(to: Entry.self)
    }

    /// The kqueue registered under `fd`, if any (retained).
    public static func lookup(_ fd: Int32) -> EpollKqueue? {
        guard let e = entry(fd) else { return nil }
        let kq = enter(e)?.takeUnretainedValue()
        leave(e)
        return kq
    }

    /// Registers a new kqueue. A kqueue already registered under the same number
    /// had its descriptor closed (the kernel handed the number out again): it is
    /// reclaimed. A couple of other entries are re-checked on the way, so
    /// kqueues closed without reuse of their number are reclaimed too.
    static func insert(_ kq: EpollKqueue) {
        let old: EpollKqueue? = withTableLock {
            let e = entryMaking(kq.fd)
            live.append(kq)
            let o = e.pointee.kqueue.exchange(UInt(bitPattern: Unmanaged.passUnretained(kq).toOpaque()),
                                              ordering: .sequentiallyConsistent)
            guard o != 0, let i = live.firstIndex(where: { UInt(bitPattern: Unmanaged.passUnretained($0).toOpaque()) == o })
            else { return nil }
            let oldKq = live[i]
            retireLocked(oldKq, e)
            live.swapAt(i, live.count - 1)
            live.removeLast()
            return oldKq
        }
        old?.markClosed()
        sweep(limit: 2)
    }

    static func remove(_ kq: EpollKqueue) {
        let dropped: [EpollKqueue] = withTableLock {
            guard let e = entry(kq.fd) else { return [] }
            let me = UInt(bitPattern: Unmanaged.passUnretained(kq).toOpaque())
            _ = e.pointee.kqueue.compareExchange(expected: me, desired: 0, ordering: .sequentiallyConsistent)
            guard let i = live.firstIndex(where: { $0 === kq }) else { return [] }
            // Retired before `live` lets go: the caller may hold `kq` at +0
            // (a kevent() counted in the entry), and `live`'s reference may be its last.
            retireLocked(kq, e)
            live.swapAt(i, live.count - 1)
            live.removeLast()
            return reclaimLocked()
        }
        _ = dropped  // released here, outside the lock
    }

    /// Keeps `kq`, out of the table now, until `e` has no users.
    private static func retireLocked(_ kq: EpollKqueue, _ e: UnsafeMutablePointer<Entry>) {
        retired.append((kq, e))
        e.pointee.retired.wrappingAdd(1, ordering: .sequentiallyConsistent)
    }

    /// Takes out of ``retired`` the kqueues whose entry has no users; the
    /// caller releases them once the lock is dropped (their deinit closes descriptors).
    private static func reclaimLocked() -> [EpollKqueue] {
        var dropped: [EpollKqueue] = []
        var i = 0
        while i < retired.count {
            let e = retired[i].entry
            // Readers under the entry's lock are past once the lock is seen
            // free (after the address changed); one that needs the kqueue
            // beyond its locked step counts itself in before unlocking.
            // Never waits: the caller may hold a kqueue lock (maybe this one).
            // (Seen free, not taken: a signal handler's kevent() on this
            // number must never find the lock held by its own thread.)
            guard lock(e).isFree else {
                i += 1
                continue
            }
            if e.pointee.users.load(ordering: .sequentiallyConsistent) == 0 {
                e.pointee.retired.wrappingSubtract(1, ordering: .sequentiallyConsistent)
                dropped.append(retired[i].kq)
                retired.swapAt(i, retired.count - 1)
                retired.removeLast()
            } else {
                i += 1
            }
        }
        return dropped
    }

    /// Frees the retired kqueues nobody uses any more.
    @inline(never)
    static func reclaim() {
        let dropped = withTableLock { reclaimLocked() }
        _ = dropped
    }

    /// All registered kqueues (snapshot).
    static func all() -> [EpollKqueue] {
        withTableLock { live }
    }

    /// Re-checks up to `limit` registered kqueues (all if nil) and reclaims those
    /// whose descriptor no longer is theirs.
    public static func sweep(limit: Int? = nil) {
        let kqueues: [EpollKqueue] = withTableLock {
            guard let limit, limit < live.count else { return live }
            // A few at a time, round-robin from the cursor.
            let start = UInt(bitPattern: sweepCursor.wrappingAdd(limit, ordering: .relaxed).oldValue)
            return (0..<UInt(limit)).map { live[Int((start &+ $0) % UInt(live.count))] }
        }
        for kq in kqueues { _ = kq.stillOurs() }
        reclaim()
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
        let kqueues = all()
        for kq in kqueues where kq.fd != fd { kq.forgetDescriptor(fd) }
    }

    // MARK: - fork

    /// BSD does not pass kqueues to a fork child. In the child every kqueue
    /// descriptor (and everything behind it) is closed, so kevent() there fails
    /// with EBADF and nothing of the parent's is shared or leaked. Kqueue
    /// locks are not taken before the fork (the forking thread may hold one
    /// itself, in a signal handler that interrupted kevent(), and waiting for
    /// it would never end): the child looks at each kqueue's lock word
    /// instead, and walks the lists only of kqueues no thread was changing.
    static let forkHandlersInstalled: Bool = {
        CurrentProcess.onFork(
            // Listed like every registry locking: a signal handler's
            // kevent() during fork() must not wait for this thread.
            prepare: { KqueueRegistry.forkDepth = cbsdshim_kqueue_lock(KqueueRegistry.table.lock.word) },
            parent: { cbsdshim_kqueue_unlock(KqueueRegistry.table.lock.word, KqueueRegistry.forkDepth) },
            child: { KqueueRegistry.forgetAllInChild() }
        )
    }()

    /// The held-lock depth fork's prepare handler left (written under the registry lock).
    nonisolated(unsafe) static var forkDepth: UInt32 = 0

    /// The parent's kqueues, as a fork child abandoned them.
    nonisolated(unsafe) static var abandonedInChild: [EpollKqueue] = []

    static func forgetAllInChild() {
        SignalHub.forgetInChild()
        KqueueWatchdog.forgetInChild()
        // Single-threaded here; the registry lock was taken in prepare and
        // is freed first, with the lists taken out, as the old live lock was:
        // nothing below may find them locked. The threads counted in the
        // entries do not exist in the child: every entry is emptied and its
        // lock word freed (a new kqueue on the number takes it). A live
        // kqueue whose lock was free at the fork has whole lists for the walk
        // below; the others' (and retired ones') may be mid-change, so only
        // their immutable fields are touched.
        table.lock.reset()
        cbsdshim_kqueue_unlist(forkDepth)
        let kqueues = live, wasRetired = retired
        // Free at the fork: no thread was inside the kqueue's locked steps,
        // so its lists are whole (read before the words are reset below).
        let whole = kqueues.map { $0.lock.word.pointee == 0 }
        live = []
        retired = []
        for leaf in leaves {
            for i in 0..<leafSize {
                let e = (leaf + i * entryStride).assumingMemoryBound(to: Entry.self)
                e.pointee.kqueue.store(0, ordering: .relaxed)
                e.pointee.users.store(0, ordering: .relaxed)
                e.pointee.retired.store(0, ordering: .relaxed)
                lock(e).reset()
            }
        }
        for (kq, whole) in zip(kqueues, whole) {
            // Linked without the preload library, the program's close()
            // of a kqueue goes unseen and its number may now be another
            // file of the program: close nothing unless the number still
            // is this kqueue (its descriptors then leak into the child,
            // close-on-exec).
            let ours = kq.probeIdentity()
            kq.forkedAway = true
            kq.closed.store(true, ordering: .relaxed)
            guard ours else { continue }
            kq.closeDescriptorsInChild(whole: whole)
        }
        // The objects are abandoned, not freed: their locks may be held.
        // Kept referenced, so leak checkers see them as reachable.
        for kq in kqueues { abandonedInChild.append(kq) }
        for r in wasRetired {
            r.kq.forkedAway = true
            abandonedInChild.append(r.kq)
        }
    }
}

/// How a thread inside kevent() keeps its kqueue alive: counted in the
/// kqueue's registry entry (no atomic on the object itself), or, for a wait
/// that may block for long, by a reference of its own — a blocked thread
/// must not keep a kqueue retired under the same number from being freed.
public struct KqueueHold {
    /// The entry the thread is counted in, nil once it holds a reference instead (or never was counted).
    var entry: UnsafeMutablePointer<KqueueRegistry.Entry>?

    init(entry: UnsafeMutablePointer<KqueueRegistry.Entry>?) { self.entry = entry }

    /// A caller that owns a reference to the kqueue already (the Swift API, tests).
    static var owned: KqueueHold { KqueueHold(entry: nil) }

    /// Takes a reference and leaves the entry: before a wait that may block
    /// past the liveness interval, or while a kqueue retired under the same
    /// number waits for the entry to empty.
    mutating func keepOwnReference(_ kq: EpollKqueue) {
        guard let e = entry else { return }
        _ = Unmanaged.passRetained(kq)
        entry = nil
        KqueueRegistry.leave(e)
        retainedHere = true
    }

    /// Whether ``keepOwnReference(_:)`` took a reference that ``end(_:)`` gives back.
    var retainedHere = false

    /// The thread is done with the kqueue.
    @inline(__always)
    func end(_ kq: Unmanaged<EpollKqueue>) {
        if let e = entry { KqueueRegistry.leave(e) }
        if retainedHere { kq.release() }
    }
}
