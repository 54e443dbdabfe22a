// SPDX-License-Identifier: BSD-2-Clause
// DmoverSession.swift: a dmover session for Swift programs: synchronous,
// async and batch requests over DmoverCore.

import CBSDShimABI
internal import DmoverCore
import Glibc

/// A dmover session: one function (zero, fill8, copy, xorN, CRC-32C, compare)
/// served by the best registered backend. Requests run on caller memory in
/// place; results other than the output come back as the request's immediate
/// value (a CRC, a comparison). Thread-safe: any number of tasks or threads
/// may submit at once.
///
/// The software backend uses its baseline kernels unless the program links
/// `BSDShimSIMD` and calls `NativeKernels.install()` first.
///
/// ```swift
/// let xor = try DmoverSession(function: .xor(2))
/// let parity = try xor.process([[1, 2, 3], [3, 2, 1]]).output   // [2, 0, 2]
/// let crc = try DmoverSession.crc32c(of: Array("123456789".utf8)) // 0xE3069283
/// ```
public final class DmoverSession: Sendable {
    /// The session's function.
    ///
    /// ```swift
    /// if session.function == .crc32c { print("checksums") }
    /// ```
    public let function: Function
    let session: SessionHandle

    /// Creates a session for `function`. The corresponding C function is `dmover_session_create`.
    ///
    /// ```swift
    /// let session = try DmoverSession(function: .xor(4))
    /// ```
    /// - Throws: ``DmoverError/unknownFunction`` (no backend has it, e.g. `.xor(17)`),
    ///   ``DmoverError/noBackend``, ``DmoverError/noMemory``.
    public init(function: Function) throws(DmoverError) {
        if case .xor(let n) = function, !(2...dmoverMaxInputs).contains(n) { throw .unknownFunction }
        let created: Result<UnsafeMutablePointer<dmover_session>, CoreErrno> = function.name.withCString { name in
            Result { () throws(CoreErrno) in try SessionLifecycle.create(name) }
        }
        switch created {
        case .success(let dses): session = SessionHandle(dses: dses)
        case .failure(let e): throw DmoverError(core: e)
        }
        self.function = function
    }

    deinit {
        // Requests still in flight keep the library's session alive until they complete.
        SessionLifecycle.destroy(session.dses)
    }

    /// The name of the backend serving the session (e.g. `"swdmover"`).
    ///
    /// ```swift
    /// print(try DmoverSession(function: .copy).backendName)   // swdmover
    /// ```
    public var backendName: String {
        guard let dmb = session.dses.pointee.__dses_assignment.das_backend, let name = dmb.pointee.dmb_name else {
            return ""
        }
        return String(cString: name)
    }

    // MARK: - Synchronous

    /// Runs one request and waits for it; returns the immediate value after it
    /// (the CRC for crc32c and copyCRC32C, the comparison for compare). The
    /// corresponding C call is `dmover_process` with `DMOVER_REQ_WAIT`.
    ///
    /// ```swift
    /// let copy = try DmoverSession(function: .copy)
    /// try out.withUnsafeMutableBytes { o in
    ///     try input.withUnsafeBytes { i in _ = try copy.process(output: DmoverBuffer(o), inputs: [DmoverBuffer(i)]) }
    /// }
    /// ```
    /// - Parameters:
    ///   - output: where the result goes; nil for crc32c and compare.
    ///   - inputs: exactly ``Function/inputCount`` buffers, each as long as the output.
    ///   - immediate: the immediate in (crc32c: the seed, the previous CRC); nil for the default.
    /// - Throws: ``DmoverError/invalidShape``, ``DmoverError/badAddress``, ``DmoverError/noMemory``.
    public func process(output: DmoverBuffer?, inputs: [DmoverBuffer], immediate: UInt64? = nil) throws(DmoverError) -> UInt64 {
        let dreq = try allocateRequest()
        defer { RequestBlocks.free(dreq) }
        let storage = try fill(dreq, DmoverOperation(output: output, inputs: inputs, immediate: immediate))
        defer { free(storage) }
        dreq.pointee.dreq_flags |= Int32(DMOVER_REQ_WAIT)
        RequestProcessing.process(dreq)
        return try Self.result(of: dreq).get()
    }

    /// ``process(output:inputs:immediate:)`` over plain regions.
    ///
    /// ```swift
    /// let imm = try xor.process(output: out, inputs: [a, b])
    /// ```
    public func process(output: UnsafeMutableRawBufferPointer?, inputs: [UnsafeRawBufferPointer],
                        immediate: UInt64? = nil) throws(DmoverError) -> UInt64 {
        try process(output: output.map(DmoverBuffer.init), inputs: inputs.map(DmoverBuffer.init), immediate: immediate)
    }

    /// Runs one request over byte arrays and returns a new output array (its
    /// length: `outputCount`, else the first input's) and the immediate after.
    ///
    /// ```swift
    /// let (parity, _) = try DmoverSession(function: .xor(3)).process([a, b, c])
    /// let zeros = try DmoverSession(function: .zero).process([], outputCount: 64).output
    /// ```
    /// - Throws: as ``process(output:inputs:immediate:)``.
    public func process(_ inputs: [[UInt8]], outputCount: Int? = nil, immediate: UInt64? = nil)
        throws(DmoverError) -> (output: [UInt8], immediate: UInt64)
    {
        let count = function.hasOutput ? (outputCount ?? inputs.first?.count ?? 0) : 0
        var output = [UInt8](repeating: 0, count: count)
        let r: Result<UInt64, DmoverError> = output.withUnsafeMutableBytes { out in
            withBytes(of: inputs) { ins in
                Result { () throws(DmoverError) in
                    try process(output: function.hasOutput ? DmoverBuffer(out) : nil,
                                inputs: ins.map(DmoverBuffer.init), immediate: immediate)
                }
            }
        }
        return (output, try r.get())
    }

    // MARK: - Asynchronous

    /// Submits one request and suspends until it completes (no thread waits:
    /// the library's completion callback resumes the task). Returns the
    /// immediate after it. The request cannot be withdrawn once submitted, so
    /// cancelling the task does not stop it. The memory must stay valid until
    /// this returns.
    ///
    /// ```swift
    /// let crc = try await session.submit(output: nil, inputs: [DmoverBuffer(chunk)])
    /// ```
    /// - Throws: as ``process(output:inputs:immediate:)``.
    public func submit(output: DmoverBuffer?, inputs: [DmoverBuffer], immediate: UInt64? = nil) async throws(DmoverError) -> UInt64 {
        try await submit(DmoverOperation(output: output, inputs: inputs, immediate: immediate))
    }

    /// Submits one described request; as ``submit(output:inputs:immediate:)``.
    ///
    /// ```swift
    /// let imm = try await session.submit(DmoverOperation(output: DmoverBuffer(out), inputs: [DmoverBuffer(a)]))
    /// ```
    public func submit(_ operation: DmoverOperation) async throws(DmoverError) -> UInt64 {
        let dreq = try allocateRequest()
        let storage: UnsafeMutableRawPointer?
        do { storage = try fill(dreq, operation) } catch {
            RequestBlocks.free(dreq)
            throw error
        }
        let request = RequestHandle(dreq: dreq)
        let r = await withCheckedContinuation { (c: CheckedContinuation<Result<UInt64, DmoverError>, Never>) in
            Self.start(request.dreq, PendingRequest(storage: storage, completion: .single(c)))
        }
        return try r.get()
    }

    /// Submits every operation at once and suspends until all complete;
    /// results are in the operations' order (a request that could not be
    /// built fails alone).
    ///
    /// ```swift
    /// let results = await session.submit(batch: stripes.map { DmoverOperation(output: $0.parity, inputs: $0.data) })
    /// for case .failure(let e) in results { print(e) }
    /// ```
    public func submit(batch operations: [DmoverOperation]) async -> [Result<UInt64, DmoverError>] {
        if operations.isEmpty { return [] }
        return await withCheckedContinuation { (c: CheckedContinuation<[Result<UInt64, DmoverError>], Never>) in
            let batch = BatchCompletion(count: operations.count, continuation: c)
            for (i, op) in operations.enumerated() {
                let dreq: UnsafeMutablePointer<dmover_request>
                do throws(DmoverError) { dreq = try allocateRequest() } catch {
                    batch.finish(i, .failure(error))
                    continue
                }
                do throws(DmoverError) {
                    let storage = try fill(dreq, op)
                    Self.start(dreq, PendingRequest(storage: storage, completion: .batch(batch, i)))
                } catch {
                    RequestBlocks.free(dreq)
                    batch.finish(i, .failure(error))
                }
            }
        }
    }

    // MARK: - CRC-32C helpers

    /// The CRC-32C (iSCSI, Castagnoli) of `bytes`, continuing from `seed` (a
    /// previous CRC; 0 to start). The session's function must be ``Function/crc32c``.
    ///
    /// ```swift
    /// var crc: UInt32 = 0
    /// for chunk in chunks { crc = try session.crc32c(of: chunk, seed: crc) }
    /// ```
    /// - Throws: ``DmoverError/invalidShape`` for another function.
    public func crc32c(of bytes: UnsafeRawBufferPointer, seed: UInt32 = 0) throws(DmoverError) -> UInt32 {
        guard function == .crc32c else { throw .invalidShape }
        return UInt32(truncatingIfNeeded: try process(output: nil, inputs: [bytes], immediate: UInt64(seed)))
    }

    /// The CRC-32C of `bytes` from a shared session.
    ///
    /// ```swift
    /// let crc = try DmoverSession.crc32c(of: Array("123456789".utf8))   // 0xE3069283
    /// ```
    public static func crc32c(of bytes: [UInt8], seed: UInt32 = 0) throws(DmoverError) -> UInt32 {
        let session = try sharedCRC32C.get()
        let r: Result<UInt32, DmoverError> = bytes.withUnsafeBytes { b in
            Result { () throws(DmoverError) in try session.crc32c(of: b, seed: seed) }
        }
        return try r.get()
    }

    /// The CRC-32C of a region from a shared session.
    ///
    /// ```swift
    /// let crc = try DmoverSession.crc32c(of: UnsafeRawBufferPointer(region))
    /// ```
    public static func crc32c(of bytes: UnsafeRawBufferPointer, seed: UInt32 = 0) throws(DmoverError) -> UInt32 {
        try sharedCRC32C.get().crc32c(of: bytes, seed: seed)
    }

    private static let sharedCRC32C = Result { () throws(DmoverError) in try DmoverSession(function: .crc32c) }
}

/// The library's session pointer; the library serialises access to it.
struct SessionHandle: @unchecked Sendable {
    let dses: UnsafeMutablePointer<dmover_session>
}

/// A request pointer handed to the engine (which owns it until completion).
struct RequestHandle: @unchecked Sendable {
    let dreq: UnsafeMutablePointer<dmover_request>
}

/// Calls `body` with the bytes of every array (nested withUnsafeBytes: no copies).
func withBytes<R>(of arrays: [[UInt8]], _ body: ([UnsafeRawBufferPointer]) -> R) -> R {
    var acc: [UnsafeRawBufferPointer] = []
    acc.reserveCapacity(arrays.count)
    func step(_ i: Int) -> R {
        if i == arrays.count { return body(acc) }
        return arrays[i].withUnsafeBytes { b in
            acc.append(b)
            return step(i + 1)
        }
    }
    return step(0)
}
