// SPDX-License-Identifier: BSD-2-Clause
// Backend.swift: the backend registry and backend selection (NetBSD dmover_backend.c).

import BSDSystem
import CBSDShimABI
import Glibc

/// A backend implemented in Swift takes requests directly instead of through
/// `dmb_pendreqs` + `dmb_process` (no queue lock on its submission path).
protocol NativeBackend: AnyObject, Sendable {
    /// Runs or queues a submitted request; it must end in `RequestProcessing.done`.
    func submit(_ dreq: UnsafeMutablePointer<dmover_request>, wait: Bool)
    /// In a fork child: forget the parent's threads and queued work.
    func resetInChild()
}

/// Library state of one registered backend (the C struct belongs to its owner).
final class BackendState: @unchecked Sendable {
    let dmb: UnsafeMutablePointer<dmover_backend>
    /// The user-space splbio: guards dmb_pendreqs/dmb_npendreqs; held around dmb_process.
    let queueLock = MutexCondition(recursive: true)
    let native: NativeBackend?

    init(_ dmb: UnsafeMutablePointer<dmover_backend>, native: NativeBackend?) {
        self.dmb = dmb
        self.native = native
    }
}

/// A session's backend and algorithm, as chosen by `BackendRegistry.assign`.
struct Assignment: @unchecked Sendable {
    let backend: BackendState
    let algdesc: UnsafePointer<dmover_algdesc>
}

/// Every registered backend, in registration order.
public enum BackendRegistry {
    /// Guards `list` and every dmb_nsessions; a futex lock so that a fork child can reset it.
    static let lock = FutexLock()
    nonisolated(unsafe) private static var list: [BackendState] = []

    @inline(__always)
    private static func withList<T, E: Error>(_ body: (inout [BackendState]) throws(E) -> T) throws(E) -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(&list)
    }

    /// Every registered backend (fork child only: no lock, one thread).
    static var allInChild: [BackendState] { list }

    /// Registers a backend. The corresponding C function is `dmover_backend_register`.
    /// - Throws: EINVAL for a malformed descriptor, EEXIST if already registered.
    public static func register(_ dmb: UnsafeMutablePointer<dmover_backend>) throws(Errno) {
        try register(dmb, native: nil)
    }

    static func register(_ dmb: UnsafeMutablePointer<dmover_backend>, native: NativeBackend?) throws(Errno) {
        DmoverFork.install()
        let b = dmb.pointee
        guard b.dmb_name != nil, native != nil || b.dmb_process != nil, b.dmb_nalgdescs >= 0,
              b.dmb_nalgdescs == 0 || b.dmb_algdescs != nil else { throw .invalidArgument }
        for i in 0..<Int(b.dmb_nalgdescs) {
            let a = b.dmb_algdescs![i]
            guard a.dad_name != nil, a.dad_ninputs >= 0, Int(a.dad_ninputs) <= dmoverMaxInputs else {
                throw .invalidArgument
            }
        }
        try withList { (list) throws(Errno) in
            if list.contains(where: { $0.dmb == dmb }) { throw .exists }
            let state = BackendState(dmb, native: native)
            dmb.pointee.dmb_nsessions = 0
            dmb.pointee.dmb_npendreqs = 0
            tailqInit(dmb)
            dmb.pointee.__dmb_impl = Unmanaged.passUnretained(state).toOpaque()
            list.append(state)
        }
    }

    /// Unregisters a backend. The corresponding C function is `dmover_backend_unregister`.
    /// - Throws: EBUSY while sessions are assigned to it, ENOENT if not registered.
    public static func unregister(_ dmb: UnsafeMutablePointer<dmover_backend>) throws(Errno) {
        try withList { (list) throws(Errno) in
            guard let i = list.firstIndex(where: { $0.dmb == dmb }) else { throw .noSuchFile }
            if dmb.pointee.dmb_nsessions > 0 { throw .busy }
            list.remove(at: i)
            dmb.pointee.__dmb_impl = nil
        }
    }

    /// Chooses the backend for a new session: highest dmb_speed, then fewest
    /// sessions, then earliest registration; counts the session on it.
    /// - Throws: ENXIO if no backend is registered, ESRCH if none implements `name`.
    static func assign(_ name: UnsafePointer<CChar>) throws(Errno) -> Assignment {
        try withList { (list) throws(Errno) -> Assignment in
            if list.isEmpty { throw .noDevice }
            var best: (BackendState, UnsafePointer<dmover_algdesc>)? = nil
            for b in list {
                guard let a = algdescLookup(b.dmb.pointee.dmb_algdescs, count: Int(b.dmb.pointee.dmb_nalgdescs),
                                            name: name) else { continue }
                if let cur = best {
                    let s = b.dmb.pointee.dmb_speed, cs = cur.0.dmb.pointee.dmb_speed
                    if s > cs || (s == cs && b.dmb.pointee.dmb_nsessions < cur.0.dmb.pointee.dmb_nsessions) {
                        best = (b, a)
                    }
                } else {
                    best = (b, a)
                }
            }
            guard let best else { throw .noSuchProcess }
            best.0.dmb.pointee.dmb_nsessions += 1
            return Assignment(backend: best.0, algdesc: best.1)
        }
    }

    /// Drops a session's count on its backend.
    static func release(_ backend: BackendState) {
        withList { _ in backend.dmb.pointee.dmb_nsessions -= 1 }
    }

    /// The library state of a registered backend.
    static func state(of dmb: UnsafeMutablePointer<dmover_backend>) -> BackendState? {
        guard let p = dmb.pointee.__dmb_impl else { return nil }
        return Unmanaged<BackendState>.fromOpaque(p).takeUnretainedValue()
    }
}

// MARK: - dmb_pendreqs (a TAILQ through dreq_dmbq), only under queueLock

private let dmbqOffset = MemoryLayout<dmover_request>.offset(of: \dmover_request.dreq_dmbq)!
private let pendOffset = MemoryLayout<dmover_backend>.offset(of: \dmover_backend.dmb_pendreqs)!
private let tqhFirstOffset = 0
private let tqhLastOffset = MemoryLayout<UnsafeMutableRawPointer?>.stride
private typealias Link = UnsafeMutableRawPointer?

/// TAILQ_INIT(&dmb->dmb_pendreqs).
func tailqInit(_ dmb: UnsafeMutablePointer<dmover_backend>) {
    let head = UnsafeMutableRawPointer(dmb) + pendOffset
    head.storeBytes(of: nil as Link, toByteOffset: tqhFirstOffset, as: Link.self)
    head.storeBytes(of: head + tqhFirstOffset, toByteOffset: tqhLastOffset, as: UnsafeMutableRawPointer.self)
}

/// TAILQ_INSERT_TAIL(&dmb->dmb_pendreqs, dreq, dreq_dmbq); dmb_npendreqs++.
func tailqInsertTail(_ dmb: UnsafeMutablePointer<dmover_backend>, _ dreq: UnsafeMutablePointer<dmover_request>) {
    let head = UnsafeMutableRawPointer(dmb) + pendOffset
    let elm = UnsafeMutableRawPointer(dreq)
    let entry = elm + dmbqOffset              // { tqe_next, tqe_prev }
    let last = head.load(fromByteOffset: tqhLastOffset, as: UnsafeMutableRawPointer.self)
    entry.storeBytes(of: nil as Link, as: Link.self)
    entry.storeBytes(of: last, toByteOffset: tqhLastOffset, as: UnsafeMutableRawPointer.self)
    last.storeBytes(of: elm, as: UnsafeMutableRawPointer.self)
    head.storeBytes(of: entry, toByteOffset: tqhLastOffset, as: UnsafeMutableRawPointer.self)
    dmb.pointee.dmb_npendreqs += 1
}

/// Removes and returns TAILQ_FIRST(&dmb->dmb_pendreqs), or nil.
func tailqRemoveHead(_ dmb: UnsafeMutablePointer<dmover_backend>) -> UnsafeMutablePointer<dmover_request>? {
    let head = UnsafeMutableRawPointer(dmb) + pendOffset
    guard let first = head.load(as: Link.self) else { return nil }
    let entry = first + dmbqOffset
    let next = entry.load(as: Link.self)
    head.storeBytes(of: next, as: Link.self)
    if let next {
        (next + dmbqOffset).storeBytes(of: head, toByteOffset: tqhLastOffset, as: UnsafeMutableRawPointer.self)
    } else {
        head.storeBytes(of: head, toByteOffset: tqhLastOffset, as: UnsafeMutableRawPointer.self)
    }
    dmb.pointee.dmb_npendreqs -= 1
    return first.assumingMemoryBound(to: dmover_request.self)
}
