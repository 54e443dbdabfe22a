// SPDX-License-Identifier: BSD-2-Clause
// InjectedFault.swift: the syscall layer's seam for tests: a call made to fail as the kernel rarely makes it.

import Glibc
import Synchronization

/// Failures the kernel gives rarely (ENOMEM from epoll_ctl, EMFILE from
/// eventfd, EINTR, EAGAIN from a datagram send), made to happen on demand so
/// that tests reach the error paths behind them. A test arms a fault for one
/// kind of call; the next `count` such calls made by the arming thread fail
/// with that errno without reaching the kernel, exactly as the real failure
/// would look to the caller (-1 and `errno`). Other threads (tests running in
/// parallel, the library's own threads) are not affected. Debug builds only, like swift-system's mocking: in a
/// release build ``hit(_:)`` is a constant `false` and costs nothing.
public enum InjectedFault {
    /// The wrapped system calls that consult the seam.
    public enum Call: Int, CaseIterable, Sendable {
        case epollCreate, epollCtl, eventfd, timerfdCreate, datagramSend
    }

    /// True where the seam exists (debug builds): tests that need it say so instead of passing vacuously.
    public static var isAvailable: Bool {
        #if DEBUG
        return true
        #else
        return false
        #endif
    }

    #if DEBUG
    /// Armed faults, all calls together: the fast check reads this alone.
    private static let armed = Atomic<Int>(0)
    /// Armed faults, one per (call, thread): tests on other threads arm the
    /// same call at the same time, and one must not replace another's.
    nonisolated(unsafe) private static var faults: [(call: Call, errno: Int32, left: Int, thread: pthread_t)] = []
    private static let lock = FutexLock()
    #endif

    /// Makes the calling thread's next `count` calls of `call` fail with
    /// `errno` (replacing a fault already armed for it).
    public static func arm(_ call: Call, _ errno: Errno, count: Int = 1) {
        #if DEBUG
        lock.withLock {
            let me = pthread_self()
            if let i = faults.firstIndex(where: { $0.call == call && pthread_equal($0.thread, me) != 0 }) {
                armed.subtract(faults[i].left, ordering: .sequentiallyConsistent)
                faults.remove(at: i)
            }
            faults.append((call, errno.rawValue, max(count, 0), me))
            armed.add(max(count, 0), ordering: .sequentiallyConsistent)
        }
        #else
        _ = (call, errno, count)
        #endif
    }

    /// Removes the calling thread's armed faults; returns how many armed calls never came.
    @discardableResult
    public static func disarm() -> Int {
        #if DEBUG
        return lock.withLock {
            let me = pthread_self()
            var left = 0
            for f in faults where pthread_equal(f.thread, me) != 0 { left += f.left }
            faults.removeAll { pthread_equal($0.thread, me) != 0 }
            armed.subtract(left, ordering: .sequentiallyConsistent)
            return left
        }
        #else
        return 0
        #endif
    }

    /// True if this call of `call` must fail: `errno` is then set, and the
    /// wrapper returns -1 instead of making the system call.
    @inlinable @inline(__always)
    public static func hit(_ call: Call) -> Bool {
        #if DEBUG
        return _slowPath(isArmed) && take(call)
        #else
        return false
        #endif
    }

    #if DEBUG
    @usableFromInline static var isArmed: Bool { armed.load(ordering: .relaxed) != 0 }

    @usableFromInline static func take(_ call: Call) -> Bool {
        lock.withLock {
            let me = pthread_self()
            guard let i = faults.firstIndex(where: { $0.call == call && $0.left > 0 && pthread_equal($0.thread, me) != 0 })
            else { return false }
            faults[i].left -= 1
            armed.subtract(1, ordering: .sequentiallyConsistent)
            Glibc.errno = faults[i].errno
            return true
        }
    }
    #endif
}
