// SPDX-License-Identifier: BSD-2-Clause
// DmoverError.swift: why a dmover session or request failed (an errno, named).

import SystemPackage

/// A dmover failure: the errno the engine or backend reported (swift-system's
/// `Errno`), with names for the ones a program can act on.
///
/// ```swift
/// do {
///     _ = try DmoverSession(function: .xor(17))
/// } catch let error where error == .unknownFunction {
///     print("no such function")
/// }
/// ```
public struct DmoverError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The errno value (swift-system's `Errno`).
    ///
    /// ```swift
    /// if error.errno == .invalidArgument { print("bad buffers") }
    /// ```
    public let errno: Errno

    /// Wraps an errno value.
    ///
    /// ```swift
    /// let error = DmoverError(.noMemory)
    /// ```
    public init(_ errno: Errno) { self.errno = errno }

    /// No backend implements the function (`ESRCH`).
    public static let unknownFunction = DmoverError(.noSuchProcess)
    /// No backend is registered at all (`ENXIO`).
    public static let noBackend = DmoverError(.noSuchAddressOrDevice)
    /// The buffers do not fit the function: wrong input count, unequal lengths,
    /// an output where none is expected or none where one is (`EINVAL`).
    public static let invalidShape = DmoverError(.invalidArgument)
    /// A buffer with a length but no address (`EFAULT`).
    public static let badAddress = DmoverError(.badAddress)
    /// Out of memory (`ENOMEM`).
    public static let noMemory = DmoverError(.noMemory)

    /// The errno's message.
    ///
    /// ```swift
    /// print(DmoverError.unknownFunction)   // dmover: No such process
    /// ```
    public var description: String { "dmover: \(errno)" }
}
