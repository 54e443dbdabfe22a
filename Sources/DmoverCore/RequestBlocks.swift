// SPDX-License-Identifier: BSD-2-Clause
// RequestBlocks.swift: request allocation from a free list (NetBSD dmover_request.c's pool_cache).

import CBSDShim
import CBSDShimABI
import CDmoverIntrin
import Glibc
import BSDSystem

/// dreq_flags bits, with the C names.
enum RequestFlag {
    static let done = Int32(DMOVER_REQ_DONE)
    static let error = Int32(DMOVER_REQ_ERROR)
    static let running = Int32(DMOVER_REQ_RUNNING)
    static let wait = Int32(DMOVER_REQ_WAIT)
    static let inbufFree = Int32(__DMOVER_REQ_INBUF_FREE)
    static let queued = Int32(__DMOVER_REQ_QUEUED)
    static let preserve = wait | inbufFree
}

/// Requests: a block holds the request and room for 16 input buffers, so the
/// library's inbuf array never needs a second allocation. Freed blocks are
/// kept for reuse: the per-request path allocates nothing once warm.
public enum RequestBlocks {
    static let inbufOffset = (MemoryLayout<dmover_request>.stride + 15) & ~15
    static let blockSize = inbufOffset + dmoverMaxInputs * MemoryLayout<dmover_buffer>.stride
    static let cacheLimit = 4096
    /// Free blocks: a futex lock word, a count and `cacheLimit` addresses in one
    /// raw allocation (no exclusivity checks, resettable in a fork child).
    nonisolated(unsafe) static let cache: UnsafeMutablePointer<Int> = {
        let p = UnsafeMutablePointer<Int>.allocate(capacity: 2 + cacheLimit)
        p.initialize(repeating: 0, count: 2)
        return p
    }()
    @inline(__always) static var cacheLock: FutexLock {
        FutexLock(wrapping: UnsafeMutableRawPointer(cache).assumingMemoryBound(to: UInt32.self))
    }

    /// Allocates a zeroed request. The corresponding C function is `dmover_request_alloc`.
    /// - Parameter inbuf: the caller's input array (never freed by us), or nil for the request's own.
    /// - Throws: EINVAL (not a live session), ENOMEM.
    public static func alloc(_ dses: UnsafeMutablePointer<dmover_session>,
                             inbuf: UnsafeMutablePointer<dmover_buffer>?) throws(Errno)
        -> UnsafeMutablePointer<dmover_request>
    {
        guard SessionState.of(dses) != nil else { throw .invalidArgument }
        var block: UnsafeMutableRawPointer? = nil
        cacheLock.lock()
        let count = cache[1]
        if count > 0 {
            block = UnsafeMutableRawPointer(bitPattern: cache[1 + count])
            cache[1] = count &- 1
        }
        cacheLock.unlock()
        if block == nil {
            var p: UnsafeMutableRawPointer? = nil
            guard posix_memalign(&p, 64, blockSize) == 0, let p else { throw .noMemory }
            block = p
        }
        let raw = block!
        memset(raw, 0, blockSize)
        let dreq = raw.bindMemory(to: dmover_request.self, capacity: 1)
        dreq.pointee.dreq_session = dses
        if dses.pointee.dses_ninputs > 0 {
            if let inbuf {
                dreq.pointee.dreq_inbuf = inbuf
            } else {
                dreq.pointee.dreq_inbuf = (raw + inbufOffset).bindMemory(to: dmover_buffer.self, capacity: dmoverMaxInputs)
                dreq.pointee.dreq_flags = RequestFlag.inbufFree
            }
        }
        return dreq
    }

    /// Frees a request; one still in flight is left alone (freeing it would
    /// corrupt the backend). The corresponding C function is `dmover_request_free`.
    public static func free(_ dreq: UnsafeMutablePointer<dmover_request>) {
        if cbsdshim_atomic_load_int(flags(dreq)) & RequestFlag.queued != 0 {
            return
        }
        let raw = UnsafeMutableRawPointer(dreq)
        cacheLock.lock()
        let count = cache[1]
        let kept = count < cacheLimit
        if kept {
            cache[2 + count] = Int(bitPattern: raw)
            cache[1] = count &+ 1
        }
        cacheLock.unlock()
        if !kept { Glibc.free(raw) }
    }

    /// &dreq->dreq_flags, for atomic access.
    @inline(__always)
    static func flags(_ dreq: UnsafeMutablePointer<dmover_request>) -> UnsafeMutablePointer<Int32> {
        // Address arithmetic, not an inout access: the field is shared between
        // threads (atomics only), and a formal inout access counts as a write
        // (ThreadSanitizer reported it as a Swift access race).
        (UnsafeMutableRawPointer(dreq) + flagsOffset).assumingMemoryBound(to: Int32.self)
    }

    /// Sets DMOVER_REQ_RUNNING. Only the executing thread writes the flags of a
    /// request in flight, so a load and a release store do it (no locked
    /// instruction); clients polling the flags read them atomically.
    @inline(__always)
    static func markRunning(_ dreq: UnsafeMutablePointer<dmover_request>) {
        let f = flags(dreq)
        cdm_atomic_store_int(f, cbsdshim_atomic_load_int(f) | RequestFlag.running)
    }

    /// Computed, not a stored global: the optimiser folds it to a constant,
    /// where a global would cost a swift_once call on every request.
    @inline(__always)
    private static var flagsOffset: Int { MemoryLayout<dmover_request>.offset(of: \.dreq_flags)! }
}
