// SPDX-License-Identifier: BSD-2-Clause
// DmoverRequest.swift: building dmover requests from DmoverBuffers, and their completion.

import CBSDShimABI
internal import DmoverCore
import Glibc
import SystemPackage

extension DmoverSession {
    /// A zeroed request of this session.
    func allocateRequest() throws(DmoverError) -> UnsafeMutablePointer<dmover_request> {
        do { return try RequestBlocks.alloc(session.dses, inbuf: nil) } catch { throw DmoverError(core: error) }
    }

    /// Describes `op` in `dreq`. Linear buffers are passed as they are; if any
    /// buffer is a segment list, all become `struct uio`s (the engine wants one
    /// type for output and inputs), kept in one allocation returned here for
    /// the caller to free after completion.
    func fill(_ dreq: UnsafeMutablePointer<dmover_request>, _ op: DmoverOperation) throws(DmoverError)
        -> UnsafeMutableRawPointer?
    {
        guard op.inputs.count == function.inputCount, (op.output != nil) == function.hasOutput else {
            throw .invalidShape
        }
        let immediate = op.immediate ?? function.defaultImmediate
        withUnsafeMutableBytes(of: &dreq.pointee.dreq_immediate) {
            $0.storeBytes(of: immediate.littleEndian, as: UInt64.self)
        }
        let segmented = (op.output?.isSegmented ?? false) || op.inputs.contains { $0.isSegmented }
        let type = segmented ? DMOVER_BUF_UIO : DMOVER_BUF_LINEAR
        dreq.pointee.dreq_outbuf_type = op.output == nil ? DMOVER_BUF_NONE : type
        dreq.pointee.dreq_inbuf_type = op.inputs.isEmpty ? DMOVER_BUF_NONE : type
        if !segmented {
            if case .linear(let p, let n)? = op.output?.shape {
                dreq.pointee.dreq_outbuf = dmover_buffer(dmbuf_linear: dmover_buf_linear(l_addr: p, l_len: n))
            }
            for (j, input) in op.inputs.enumerated() {
                guard case .linear(let p, let n) = input.shape else { continue }
                dreq.pointee.dreq_inbuf[j] = dmover_buffer(dmbuf_linear: dmover_buf_linear(l_addr: p, l_len: n))
            }
            return nil
        }
        // uio headers first, then every iovec.
        let buffers = (op.output.map { [$0] } ?? []) + op.inputs
        let headerBytes = buffers.count * MemoryLayout<uio>.stride
        let iovecCount = buffers.reduce(0) { $0 + $1.segmentCount }
        guard let raw = malloc(headerBytes + iovecCount * MemoryLayout<iovec>.stride) else { throw .noMemory }
        let uios = raw.bindMemory(to: uio.self, capacity: buffers.count)
        var iov = (raw + headerBytes).bindMemory(to: iovec.self, capacity: iovecCount)
        for (k, b) in buffers.enumerated() {
            let first = iov
            switch b.shape {
            case .linear(let p, let n):
                iov.initialize(to: iovec(iov_base: p, iov_len: n))
                iov += 1
            case .segments(let v):
                for s in v {
                    iov.initialize(to: s)
                    iov += 1
                }
            }
            (uios + k).initialize(to: uio(uio_iov: first, uio_iovcnt: Int32(b.segmentCount), uio_resid: b.count))
        }
        var k = 0
        if op.output != nil {
            dreq.pointee.dreq_outbuf = dmover_buffer(dmbuf_uio: uios)
            k = 1
        }
        for j in 0..<op.inputs.count {
            dreq.pointee.dreq_inbuf[j] = dmover_buffer(dmbuf_uio: uios + k + j)
        }
        return raw
    }

    /// The outcome of a completed request: the immediate after it, or its error.
    static func result(of dreq: UnsafeMutablePointer<dmover_request>) -> Result<UInt64, DmoverError> {
        if dreq.pointee.dreq_flags & Int32(DMOVER_REQ_ERROR) != 0 {
            return .failure(DmoverError(Errno(rawValue: dreq.pointee.dreq_error)))
        }
        return .success(withUnsafeBytes(of: dreq.pointee.dreq_immediate) {
            UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))
        })
    }

    /// Submits `dreq` with a completion callback that hands the result to `pending`.
    static func start(_ dreq: UnsafeMutablePointer<dmover_request>, _ pending: PendingRequest) {
        dreq.pointee.dreq_cookie = Unmanaged.passRetained(pending).toOpaque()
        // Runs on the library's completion thread, after DMOVER_REQ_DONE is set.
        dreq.pointee.dreq_callback = { dreq in
            guard let dreq, let cookie = dreq.pointee.dreq_cookie else { return }
            let pending = Unmanaged<PendingRequest>.fromOpaque(cookie).takeRetainedValue()
            let result = DmoverSession.result(of: dreq)
            RequestBlocks.free(dreq)
            pending.complete(result)
        }
        RequestProcessing.process(dreq)
    }
}

/// What waits for one submitted request: a task, or a slot of a batch.
final class PendingRequest: @unchecked Sendable {
    enum Completion {
        case single(CheckedContinuation<Result<UInt64, DmoverError>, Never>)
        case batch(BatchCompletion, Int)
    }

    /// uio storage to free once the request is done.
    let storage: UnsafeMutableRawPointer?
    let completion: Completion

    init(storage: UnsafeMutableRawPointer?, completion: Completion) {
        self.storage = storage
        self.completion = completion
    }

    func complete(_ result: Result<UInt64, DmoverError>) {
        free(storage)
        switch completion {
        case .single(let c): c.resume(returning: result)
        case .batch(let b, let i): b.finish(i, result)
        }
    }
}

/// Collects a batch's results and resumes the submitting task after the last.
final class BatchCompletion: Sendable {
    private struct State {
        var results: [Result<UInt64, DmoverError>?]
        var remaining: Int
    }

    private let state: LockedValue<State>
    private let continuation: CheckedContinuation<[Result<UInt64, DmoverError>], Never>

    init(count: Int, continuation: CheckedContinuation<[Result<UInt64, DmoverError>], Never>) {
        state = LockedValue(State(results: Array(repeating: nil, count: count), remaining: count))
        self.continuation = continuation
    }

    func finish(_ index: Int, _ result: Result<UInt64, DmoverError>) {
        let all = state.withLock { s -> [Result<UInt64, DmoverError>]? in
            s.results[index] = result
            s.remaining -= 1
            return s.remaining == 0 ? s.results.map { $0! } : nil
        }
        if let all { continuation.resume(returning: all) }
    }
}
