// SPDX-License-Identifier: BSD-2-Clause
// DmoverBuffer.swift: memory a dmover request reads or writes (one region or a segment list).

import Glibc

/// Memory for a dmover request, used in place (never copied): one contiguous
/// region, or a list of segments read or written in order (an iovec list).
///
/// The buffer only points at memory; the caller keeps that memory alive and
/// unchanged until the request completes.
///
/// ```swift
/// var out = [UInt8](repeating: 0, count: 8)
/// let a: [UInt8] = [1, 2, 3, 4], b: [UInt8] = [5, 6, 7, 8]
/// try out.withUnsafeMutableBytes { o in
///     try a.withUnsafeBytes { pa in
///         try b.withUnsafeBytes { pb in
///             // The output is one region; the input is two segments of 4 bytes.
///             let copy = try DmoverSession(function: .copy)
///             _ = try copy.process(output: DmoverBuffer(o), inputs: [DmoverBuffer(segments: [pa, pb])])
///         }
///     }
/// }
/// ```
public struct DmoverBuffer: @unchecked Sendable {
    enum Shape {
        case linear(UnsafeMutableRawPointer?, Int)
        case segments([iovec])
    }

    let shape: Shape

    /// A region the request reads.
    ///
    /// ```swift
    /// try bytes.withUnsafeBytes { _ = try crc.process(output: nil, inputs: [DmoverBuffer($0)]) }
    /// ```
    public init(_ buffer: UnsafeRawBufferPointer) {
        shape = .linear(UnsafeMutableRawPointer(mutating: buffer.baseAddress), buffer.count)
    }

    /// A region the request writes (or reads).
    ///
    /// ```swift
    /// let out = DmoverBuffer(UnsafeMutableRawBufferPointer(region))
    /// ```
    public init(_ buffer: UnsafeMutableRawBufferPointer) {
        shape = .linear(buffer.baseAddress, buffer.count)
    }

    /// Segments the request reads, in order.
    ///
    /// ```swift
    /// let input = DmoverBuffer(segments: [header, payload])
    /// ```
    public init(segments: [UnsafeRawBufferPointer]) {
        shape = .segments(segments.map { iovec(iov_base: UnsafeMutableRawPointer(mutating: $0.baseAddress), iov_len: $0.count) })
    }

    /// Segments the request writes (or reads), in order.
    ///
    /// ```swift
    /// let out = DmoverBuffer(segments: [firstHalf, secondHalf])
    /// ```
    public init(segments: [UnsafeMutableRawBufferPointer]) {
        shape = .segments(segments.map { iovec(iov_base: $0.baseAddress, iov_len: $0.count) })
    }

    /// Total bytes.
    ///
    /// ```swift
    /// DmoverBuffer(segments: [a, b]).count   // a.count + b.count
    /// ```
    public var count: Int {
        switch shape {
        case .linear(_, let n): n
        case .segments(let v): v.reduce(0) { $0 + $1.iov_len }
        }
    }

    var isSegmented: Bool {
        if case .segments = shape { return true }
        return false
    }

    /// Number of iovecs when passed as a segment list (a region is one).
    var segmentCount: Int {
        switch shape {
        case .linear: 1
        case .segments(let v): v.count
        }
    }
}

/// One request of a batch (see ``DmoverSession/submit(batch:)``).
///
/// ```swift
/// let op = DmoverOperation(output: DmoverBuffer(out), inputs: [DmoverBuffer(a), DmoverBuffer(b)])
/// ```
public struct DmoverOperation: Sendable {
    /// Where the result goes; nil for functions without output (crc32c, compare).
    public var output: DmoverBuffer?
    /// The inputs, as many as the function takes.
    public var inputs: [DmoverBuffer]
    /// The immediate value in; nil for the function's default (fill8: its byte, else 0).
    public var immediate: UInt64?

    /// Describes one request.
    ///
    /// ```swift
    /// let op = DmoverOperation(output: nil, inputs: [DmoverBuffer(chunk)], immediate: UInt64(previousCRC))
    /// ```
    public init(output: DmoverBuffer?, inputs: [DmoverBuffer], immediate: UInt64? = nil) {
        self.output = output
        self.inputs = inputs
        self.immediate = immediate
    }
}
