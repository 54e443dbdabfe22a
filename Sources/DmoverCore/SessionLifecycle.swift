// SPDX-License-Identifier: BSD-2-Clause
// SessionLifecycle.swift: sessions (NetBSD dmover_session.c).

import CBSDShim
import CBSDShimABI
import Glibc
import Synchronization
import BSDSystem

/// Library state of one session: its backend and the requests in flight.
final class SessionState: @unchecked Sendable {
    let dses: UnsafeMutablePointer<dmover_session>
    let backend: BackendState
    /// The software backend when it serves this session, held without reference
    /// counting (it is never freed): the request path calls it directly.
    let software: Unmanaged<SoftwareBackend>?
    /// Requests in flight, plus `doomed` once the client destroyed the session.
    private let state = Atomic<Int>(0)
    private static let doomed = 1 << 62

    init(_ dses: UnsafeMutablePointer<dmover_session>, backend: BackendState) {
        self.dses = dses
        self.backend = backend
        software = (backend.native as? SoftwareBackend).map { Unmanaged.passUnretained($0) }
    }

    /// The state behind a client's session pointer.
    @inline(__always)
    static func of(_ dses: UnsafeMutablePointer<dmover_session>) -> SessionState? {
        guard let p = dses.pointee.__dses_impl else { return nil }
        return Unmanaged<SessionState>.fromOpaque(p).takeUnretainedValue()
    }

    /// Runs body with the session's state without retain/release traffic (hot path).
    @inline(__always)
    static func with<T>(_ dses: UnsafeMutablePointer<dmover_session>, _ body: (SessionState) -> T) -> T? {
        guard let p = dses.pointee.__dses_impl else { return nil }
        return Unmanaged<SessionState>.fromOpaque(p)._withUnsafeGuaranteedRef(body)
    }

    /// A request of this session was submitted.
    @inline(__always)
    func requestStarted() {
        state.wrappingAdd(1, ordering: .relaxed)
    }

    /// A request of this session completed; releases a doomed session after its last one.
    @inline(__always)
    func requestFinished() {
        let now = state.wrappingSubtract(1, ordering: .acquiringAndReleasing).newValue
        if now == Self.doomed { finalize() }
    }

    /// The client destroyed the session: release now, or after the last request.
    func destroy() {
        let old = state.bitwiseOr(Self.doomed, ordering: .acquiringAndReleasing).oldValue
        if old & Self.doomed != 0 { return }          // destroyed twice: ignore
        if old == 0 { finalize() }
    }

    /// &dses->__dses_assignment (the request's dreq_assignment points there).
    /// By offset, not `&dses.pointee.__dses_assignment`: that is an inout
    /// (modifying) access, and concurrent submitters on one session would be
    /// concurrent modifications (ThreadSanitizer reports them) though nothing
    /// is written.
    @inline(__always)
    static func assignment(_ dses: UnsafeMutablePointer<dmover_session>) -> UnsafeMutablePointer<dmover_assignment> {
        (UnsafeMutableRawPointer(dses) + MemoryLayout<dmover_session>.offset(of: \.__dses_assignment)!)
            .assumingMemoryBound(to: dmover_assignment.self)
    }

    private func finalize() {
        BackendRegistry.release(backend)
        dses.pointee.__dses_impl = nil
        free(dses)
        Unmanaged.passUnretained(self).release()
    }
}

/// Sessions: the client's handle on one function.
public enum SessionLifecycle {
    /// Creates a session for function `name`. The corresponding C function is `dmover_session_create`.
    /// - Throws: ESRCH (no backend implements `name`), ENXIO (no backend registered), ENOMEM.
    public static func create(_ name: UnsafePointer<CChar>) throws(Errno) -> UnsafeMutablePointer<dmover_session> {
        SoftwareBackend.ensureRegistered()
        guard let raw = calloc(1, MemoryLayout<dmover_session>.stride) else { throw .noMemory }
        let dses = raw.bindMemory(to: dmover_session.self, capacity: 1)
        let assignment: Assignment
        do {
            assignment = try BackendRegistry.assign(name)
        } catch {
            free(raw)
            throw error
        }
        let backend = assignment.backend, algdesc = assignment.algdesc
        dses.pointee.dses_ninputs = algdesc.pointee.dad_ninputs
        dses.pointee.__dses_assignment = dmover_assignment(das_backend: backend.dmb, das_algdesc: algdesc)
        let state = SessionState(dses, backend: backend)
        dses.pointee.__dses_impl = Unmanaged.passRetained(state).toOpaque()
        return dses
    }

    /// Destroys a session; with requests in flight it is released after the
    /// last completes. The corresponding C function is `dmover_session_destroy`.
    public static func destroy(_ dses: UnsafeMutablePointer<dmover_session>) {
        SessionState.of(dses)?.destroy()
    }
}
