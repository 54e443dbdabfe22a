// SPDX-License-Identifier: BSD-2-Clause
// CoreErrno.swift: the cores' errno values as swift-system's `Errno`, the one
// error vocabulary of the Swift API.
//
// KqueueCore and DmoverCore throw BSDSystem's Errno (libbsdshim.so does not
// depend on swift-system); both types are a bare errno number, so the
// conversion at this boundary is a copy of an Int32.

internal import BSDSystem
import SystemPackage

/// The cores' error type, named here because this file alone imports BSDSystem
/// (elsewhere `Errno` is swift-system's).
typealias CoreErrno = BSDSystem.Errno

extension SystemPackage.Errno {
    /// The same errno number as the core's.
    @inline(__always)
    init(core: BSDSystem.Errno) {
        self.init(rawValue: core.rawValue)
    }
}

extension DmoverError {
    /// A dmover failure from the core's errno.
    @inline(__always)
    init(core: BSDSystem.Errno) {
        self.init(SystemPackage.Errno(core: core))
    }
}
