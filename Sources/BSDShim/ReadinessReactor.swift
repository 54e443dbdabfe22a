// SPDX-License-Identifier: BSD-2-Clause
// ReadinessReactor.swift: one background thread that tells waiting tasks when a
// kqueue descriptor becomes readable, so idle async iterations hold no thread.

internal import BSDSystem
internal import CBSDShim
import Glibc

/// Watches descriptors for readability on behalf of suspended tasks: one epoll
/// set and one thread for the whole process, however many kqueues are awaited.
/// Each descriptor is registered one-shot and re-armed only when a task waits
/// on it again, so a busy kqueue costs the thread nothing.
final class ReadinessReactor: Sendable {
    /// The process's reactor (a fork child, which has none of the parent's
    /// threads, gets a new one on first use).
    static var shared: ReadinessReactor {
        current.withLock { r in
            let pid = CurrentProcess.id
            if let r, r.pid == pid { return r }
            let fresh = ReadinessReactor(pid: pid)
            r = fresh
            return fresh
        }
    }
    private static let current = LockedValue<ReadinessReactor?>(nil)

    private struct Waiter {
        let fd: Int32
        let continuation: CheckedContinuation<Bool, Never>
    }

    private struct State {
        var epoll = Epoll(fd: -1)
        var started = false
        var nextID: UInt64 = 1
        var waiters: [UInt64: Waiter] = [:]
        /// Descriptors in the epoll set, and whether their one-shot registration is armed.
        var armed: [Int32: Bool] = [:]
    }

    private let pid: pid_t
    private let state = LockedValue(State())

    private init(pid: pid_t) {
        self.pid = pid
    }

    /// Suspends until `fd` is readable (true), or until the wait is cancelled or
    /// the descriptor forgotten (false). `isClosed` is checked under the
    /// reactor's lock, so a close racing with the wait cannot strand it.
    func waitReadable(_ fd: Int32, isClosed: @Sendable () -> Bool) async -> Bool {
        let id = state.withLock { s -> UInt64 in
            defer { s.nextID &+= 1 }
            return s.nextID
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Bool, Never>) in
                let ok = state.withLock { s -> Bool in
                    if isClosed() || !start(&s) { return false }
                    if !arm(fd, &s) { return false }
                    s.waiters[id] = Waiter(fd: fd, continuation: c)
                    return true
                }
                if !ok { c.resume(returning: false); return }
                // A cancellation that came before the waiter was recorded found nothing to end.
                if Task.isCancelled { cancel(id) }
            }
        } onCancel: {
            cancel(id)
        }
    }

    /// Ends one wait with false, if it is still pending.
    private func cancel(_ id: UInt64) {
        let w = state.withLock { s in s.waiters.removeValue(forKey: id) }
        w?.continuation.resume(returning: false)
    }

    /// The descriptor is about to be closed: drop it from the set and end its waits.
    func forget(_ fd: Int32) {
        let ended = state.withLock { s -> [Waiter] in
            if s.armed.removeValue(forKey: fd) != nil { try? s.epoll.remove(fd) }
            return take(fd, &s)
        }
        for w in ended { w.continuation.resume(returning: false) }
    }

    /// Removes and returns the waiters on `fd`.
    private func take(_ fd: Int32, _ s: inout State) -> [Waiter] {
        var out: [Waiter] = []
        for (id, w) in s.waiters where w.fd == fd {
            s.waiters[id] = nil
            out.append(w)
        }
        return out
    }

    /// Adds `fd` to the set one-shot, or re-arms it; false if epoll refuses it.
    private func arm(_ fd: Int32, _ s: inout State) -> Bool {
        if s.armed[fd] == true { return true }
        let events = Epoll.readable | Epoll.oneShot
        let data = UInt64(UInt32(bitPattern: fd))
        do {
            if s.armed[fd] == nil { try s.epoll.add(fd, events: events, data: data) }
            else { try s.epoll.modify(fd, events: events, data: data) }
        } catch {
            return false
        }
        s.armed[fd] = true
        return true
    }

    /// Creates the epoll set and starts the thread on first use.
    private func start(_ s: inout State) -> Bool {
        if s.started { return true }
        guard let ep = try? Epoll.create() else { return false }
        s.epoll = ep
        guard LibraryThread.start(name: "bsdshim-async", { [self] in run(epoll: ep) }) else {
            FileDescriptorOps.close(ep.fd)
            s.epoll = Epoll(fd: -1)
            return false
        }
        s.started = true
        return true
    }

    /// The thread: waits on the set forever and resumes the tasks of each descriptor that fired.
    private func run(epoll ep: Epoll) {
        withUnsafeTemporaryAllocation(of: epoll_event.self, capacity: 32) { buf in
            while true {
                let n: Int32
                do throws(BSDSystem.Errno) { n = try ep.wait(into: buf.baseAddress!, capacity: 32, timeout: nil) } catch {
                    if error == .interrupted { continue }
                    return
                }
                var ready: [Waiter] = []
                state.withLock { s in
                    for i in 0..<Int(n) {
                        let fd = Int32(bitPattern: UInt32(truncatingIfNeeded: buf[i].data.u64))
                        // One-shot: fired means disarmed (unless forgotten meanwhile).
                        if s.armed[fd] != nil { s.armed[fd] = false }
                        ready += take(fd, &s)
                    }
                }
                for w in ready { w.continuation.resume(returning: true) }
            }
        }
    }
}
