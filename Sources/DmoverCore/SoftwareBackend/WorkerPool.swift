// SPDX-License-Identifier: BSD-2-Clause
// WorkerPool.swift: splitting one large request across helper threads. The
// submitting thread runs parts too; results of the parts are joined (CRC
// registers shifted and XORed, first differences minimised).

import BSDSystem
import CBSDShim
import DmoverKernels
import Glibc
import Synchronization

/// Helper threads plus the one job they share (one split request at a time;
/// a second concurrent large request simply runs unsplit).
final class WorkerPool: @unchecked Sendable {
    static let maxParts = 64
    private let lock = MutexCondition()
    private var generation = 0
    private var helpers = 0
    private let busy = Atomic<Bool>(false)

    // The job, reused: parts are claimed through `next` (reset to a huge value
    // while the job is being set up, so a late helper can never claim a stale part).
    private let next = Atomic<Int>(Int.max / 2)
    private let remaining = Atomic<Int>(0)
    private let doneWord = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
    private let bounds = UnsafeMutablePointer<Int>.allocate(capacity: maxParts + 1)
    private let results = UnsafeMutablePointer<UInt64>.allocate(capacity: maxParts)
    private let parts = Atomic<Int>(0)
    private var op: UnsafePointer<Operation>? = nil
    private var kernels: ActiveKernels? = nil

    /// Runs `op` in `parts` pieces; nil if the pool is busy with another request.
    func run(_ op: Operation, _ k: ActiveKernels, parts wanted: Int) -> UInt64? {
        guard busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return nil }
        defer { busy.store(false, ordering: .releasing) }
        let parts = min(wanted, Self.maxParts)
        ensureHelpers(parts - 1)
        // Part boundaries on 4 KiB multiples.
        for p in 0...parts {
            bounds[p] = p == parts ? op.length : (op.length / parts * p) & ~4095
        }
        return withUnsafePointer(to: op) { opp -> UInt64 in
            self.op = opp
            self.kernels = k
            self.parts.store(parts, ordering: .relaxed)
            doneWord.pointee = 0
            remaining.store(parts, ordering: .relaxed)
            next.store(0, ordering: .releasing)
            lock.withLock {
                generation &+= 1
                lock.broadcast()
            }
            work()
            while cbsdshim_atomic_load_int(doneWord) == 0 { Futex.wait(doneWord, while: 0) }
            next.store(Int.max / 2, ordering: .relaxed)
            self.op = nil
            return join(op)
        }
    }

    /// Claims and runs parts until none are left.
    private func work() {
        while true {
            let p = next.wrappingAdd(1, ordering: .acquiringAndReleasing).oldValue
            guard p < parts.load(ordering: .relaxed), let op, let k = kernels else { return }
            results[p] = SoftwareBackend.runPart(op.pointee, k, from: bounds[p], to: bounds[p + 1], first: p == 0)
            if remaining.wrappingSubtract(1, ordering: .acquiringAndReleasing).newValue == 0 {
                _ = cbsdshim_atomic_fetch_or_int(doneWord, 1)
                Futex.wakeAll(doneWord)
            }
        }
    }

    private func join(_ op: Operation) -> UInt64 {
        let parts = self.parts.load(ordering: .relaxed)
        switch op.function.kind {
        case .crc32c, .copyCRC32C:
            var crc = UInt32(truncatingIfNeeded: results[0])
            for p in 1..<parts {
                crc = crc32cShift(crc, bytes: bounds[p + 1] - bounds[p]) ^ UInt32(truncatingIfNeeded: results[p])
            }
            return UInt64(crc)
        case .compare:
            var m = UInt64.max
            for p in 0..<parts { m = min(m, results[p]) }
            return m
        default:
            return 0
        }
    }

    /// In a fork child: no helper thread exists there (they start again on demand).
    func resetInChild() {
        lock.reset()
        helpers = 0
        generation = 0
        busy.store(false, ordering: .relaxed)
        next.store(Int.max / 2, ordering: .relaxed)
        op = nil
    }

    private func ensureHelpers(_ n: Int) {
        lock.lock()
        defer { lock.unlock() }
        while helpers < n {
            guard LibraryThread.start(name: "swdmover-\(helpers + 1)", { [self] in helperLoop() }) else { return }
            helpers += 1
        }
    }

    private func helperLoop() {
        var seen = 0
        lock.lock()
        seen = generation
        while true {
            while generation == seen { lock.wait() }
            seen = generation
            lock.unlock()
            work()
            lock.lock()
        }
    }
}
