// SPDX-License-Identifier: BSD-2-Clause
// BSDShim.swift: the Swift API over the kqueue and dmover cores (`import BSDShim`).
//
// The types here drive KqueueCore and DmoverCore directly, the same engines the
// C ABI (libbsdshim.so) uses; they do not call the C functions.

/// swift-system's types that the API takes, returns and throws, re-exported one
/// by one so that `import BSDShim` alone can name them. They are the same
/// declarations as `SystemPackage`'s, so a program may import both. The core's
/// syscall layer (BSDSystem) is not part of the API.
@_exported import struct SystemPackage.Errno
@_exported import struct SystemPackage.FileDescriptor
@_exported import struct SystemPackage.FilePath
