// SPDX-License-Identifier: BSD-2-Clause
// RequestProcessing.swift: submission and completion (NetBSD dmover_process.c).

import BSDSystem
import CBSDShim
import CBSDShimABI
import CDmoverIntrin
import Glibc

/// The processing engine: `process` hands a request to its session's backend,
/// `done` completes it for the client.
public enum RequestProcessing {
    /// [client interface] Submits a request. The corresponding C function is `dmover_process`.
    public static func process(_ dreq: UnsafeMutablePointer<dmover_request>) {
        let flags = RequestBlocks.flags(dreq)
        let old = cbsdshim_atomic_load_int(flags)
        if old & RequestFlag.queued != 0 { return }          // already in flight: leave it alone
        guard let dses = dreq.pointee.dreq_session, let impl = dses.pointee.__dses_impl else { return }
        let session = Unmanaged<SessionState>.fromOpaque(impl)
        // Each path is its own function, entered by a jump: this one saves
        // no registers, and the synchronous one saves only what it needs.
        if old & RequestFlag.wait != 0 && dreq.pointee.dreq_callback == nil,
           let sw = session._withUnsafeGuaranteedRef({ $0.software }) {
            processSynchronously(dreq, dses, sw, old)
        } else {
            processOutOfLine(dreq, dses, session, old)
        }
    }

    /// The software backend runs the request on this thread and it is done
    /// before dmover_process returns. It is not counted in the session's
    /// requests in flight (two locked instructions, a third of the cost of a
    /// 4 KiB request): the session cannot be released before the caller's own
    /// call returns. Only this thread writes the flags meanwhile; RUNNING is
    /// set with QUEUED, as the work starts at once. The light path takes the
    /// assignment as an argument; dreq_assignment is written only for the
    /// general path, which reads it as any backend does. At 4 KiB the
    /// kernels are store-bound, so every store here (register saves and
    /// calls included) costs about a cycle: this path makes two besides the
    /// call, where it made six and saved six registers.
    @inline(never)
    private static func processSynchronously(_ dreq: UnsafeMutablePointer<dmover_request>,
                                             _ dses: UnsafeMutablePointer<dmover_session>,
                                             _ sw: Unmanaged<SoftwareBackend>, _ old: Int32) {
        let flags = RequestBlocks.flags(dreq)
        dreq.pointee.dreq_error = 0
        flags.pointee = (old & RequestFlag.preserve) | RequestFlag.queued | RequestFlag.running
        let assignment = SessionState.assignment(dses)
        sw._withUnsafeGuaranteedRef { b in
            if !b.executeLinear(dreq, assignment) {
                dreq.pointee.dreq_assignment = assignment
                b.execute(dreq)
                dreq.pointee.dreq_assignment = nil
            }
        }
        let now = cbsdshim_atomic_load_int(flags)
        cdm_atomic_store_int(flags, (now & ~(RequestFlag.running | RequestFlag.queued)) | RequestFlag.done)
    }

    /// A request without DMOVER_REQ_WAIT or with a callback, or for another
    /// backend: small ones without a callback still run synchronously on the
    /// software backend (see `SoftwareBackend.runsInline`), the others are
    /// submitted. Out of the waiting path's way (its call to size the
    /// request would make `process` save registers).
    @inline(never)
    private static func processOutOfLine(_ dreq: UnsafeMutablePointer<dmover_request>,
                                         _ dses: UnsafeMutablePointer<dmover_session>,
                                         _ session: Unmanaged<SessionState>, _ old: Int32) {
        if dreq.pointee.dreq_callback == nil, let sw = session._withUnsafeGuaranteedRef({ $0.software }),
           old & RequestFlag.wait != 0 || sw._withUnsafeGuaranteedRef({ $0.runsInline(dreq) }) {
            processSynchronously(dreq, dses, sw, old)
        } else {
            session._withUnsafeGuaranteedRef { submit(dreq, dses, $0, old) }
        }
    }

    @inline(__always)
    private static func submit(_ dreq: UnsafeMutablePointer<dmover_request>, _ dses: UnsafeMutablePointer<dmover_session>,
                               _ session: SessionState, _ old: Int32) {
        let flags = RequestBlocks.flags(dreq)
        let wait = old & RequestFlag.wait != 0
        dreq.pointee.dreq_error = 0
        dreq.pointee.dreq_assignment = SessionState.assignment(dses)
        flags.pointee = (old & RequestFlag.preserve) | RequestFlag.queued
        session.requestStarted()

        if wait && dreq.pointee.dreq_callback != nil {
            // NetBSD panics (DIAGNOSTIC); here the request fails and the callback reports it.
            fail(dreq, EINVAL)
            done(dreq)
            return
        }
        if let sw = session.software {
            sw._withUnsafeGuaranteedRef { $0.submit(dreq, wait: wait) }
        } else if let native = session.backend.native {
            native.submit(dreq, wait: wait)
        } else {
            let backend = session.backend
            backend.queueLock.lock()
            tailqInsertTail(backend.dmb, dreq)
            backend.dmb.pointee.dmb_process?(backend.dmb)
            backend.queueLock.unlock()
        }
        if wait { waitDone(flags) }
    }

    /// Sleeps until DMOVER_REQ_DONE is set.
    @inline(__always)
    static func waitDone(_ flags: UnsafeMutablePointer<Int32>) {
        while true {
            let f = cbsdshim_atomic_load_int(flags)
            if f & RequestFlag.done != 0 { return }
            Futex.wait(flags, while: f)
        }
    }

    /// Marks a request failed with an errno (before `done`).
    @inline(__always)
    static func fail(_ dreq: UnsafeMutablePointer<dmover_request>, _ error: Int32) {
        dreq.pointee.dreq_error = error
        _ = cbsdshim_atomic_fetch_or_int(RequestBlocks.flags(dreq), RequestFlag.error)
    }

    /// [backend interface] Takes the oldest pending request of a C backend and
    /// marks it running. The corresponding C function is `dmover_backend_dequeue`.
    public static func dequeue(_ dmb: UnsafeMutablePointer<dmover_backend>) -> UnsafeMutablePointer<dmover_request>? {
        guard let backend = BackendRegistry.state(of: dmb) else { return nil }
        backend.queueLock.lock()
        let dreq = tailqRemoveHead(dmb)
        backend.queueLock.unlock()
        if let dreq { _ = cbsdshim_atomic_fetch_or_int(RequestBlocks.flags(dreq), RequestFlag.running) }
        return dreq
    }

    /// [backend interface] Completes a request. The corresponding C function is `dmover_done`.
    /// A request that is not in flight is ignored (a backend completing twice).
    /// - Parameter wake: false when the waiting submitter is the calling thread.
    public static func done(_ dreq: UnsafeMutablePointer<dmover_request>, wake: Bool = true) {
        let flags = RequestBlocks.flags(dreq)
        let callback = dreq.pointee.dreq_callback
        // DONE is set here, or for a callback by the completion thread right before
        // the callback, so the request cannot be freed while it sits on that queue.
        let set = callback == nil ? RequestFlag.done : 0
        var old = cbsdshim_atomic_load_int(flags)
        if old & RequestFlag.queued == 0 { return }
        dreq.pointee.dreq_assignment = nil
        // The session count drops first: a client that sees DONE may destroy the session.
        if let dses = dreq.pointee.dreq_session { _ = SessionState.with(dses) { $0.requestFinished() } }
        while cbsdshim_atomic_cas_int(flags, &old, (old & ~(RequestFlag.running | RequestFlag.queued)) | set) == 0 {}
        if callback != nil {
            CompletionQueue.shared.enqueue(dreq)
        } else if wake && old & RequestFlag.wait != 0 {
            // The waiter may free the request as soon as it sees DONE; a futex wake
            // on that (pooled, never unmapped) memory is harmless.
            Futex.wakeAll(flags)
        }
    }
}

/// The completion thread: runs callbacks one at a time, in completion order,
/// never on a submitter's stack (NetBSD: a soft interrupt).
final class CompletionQueue: @unchecked Sendable {
    static let shared = CompletionQueue()
    private let lock = MutexCondition()
    private var head: UnsafeMutablePointer<dmover_request>? = nil
    private var tail: UnsafeMutablePointer<dmover_request>? = nil
    private var started = false

    /// Appends through dreq_dmbq.tqe_next (free once the backend is done): no allocation.
    func enqueue(_ dreq: UnsafeMutablePointer<dmover_request>) {
        dreq.pointee.dreq_dmbq.tqe_next = nil
        lock.lock()
        if let t = tail { t.pointee.dreq_dmbq.tqe_next = dreq } else { head = dreq }
        tail = dreq
        if !started {
            started = true
            if !LibraryThread.start(name: "dmover-done", { [self] in run() }) {
                started = false
                // No thread: run the callbacks here rather than lose them.
                lock.unlock()
                drainInline()
                return
            }
        }
        lock.signal()
        lock.unlock()
    }

    /// In a fork child: the thread is gone and the parent's callbacks are not ours.
    func resetInChild() {
        lock.reset()
        head = nil
        tail = nil
        started = false
    }

    private func take() -> UnsafeMutablePointer<dmover_request>? {
        guard let d = head else { return nil }
        head = d.pointee.dreq_dmbq.tqe_next
        if head == nil { tail = nil }
        return d
    }

    private func deliver(_ d: UnsafeMutablePointer<dmover_request>) {
        let cb = d.pointee.dreq_callback
        _ = cbsdshim_atomic_fetch_or_int(RequestBlocks.flags(d), RequestFlag.done)
        cb?(d)
    }

    private func drainInline() {
        while true {
            lock.lock()
            let d = take()
            lock.unlock()
            guard let d else { return }
            deliver(d)
        }
    }

    private func run() {
        lock.lock()
        while true {
            guard let d = take() else {
                lock.wait()
                continue
            }
            lock.unlock()
            deliver(d)
            lock.lock()
        }
    }
}
