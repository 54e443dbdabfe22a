// SPDX-License-Identifier: BSD-2-Clause
// BSDShim.swift: the Swift API over the kqueue and dmover cores (`import BSDShim`).
//
// The types here drive KqueueCore and DmoverCore directly, the same engines the
// C ABI (libbsdshim.so) uses; they do not call the C functions.

/// `Errno` (the error type of every kqueue call) comes from BSDSystem; re-exported
/// so that programs need `import BSDShim` only.
@_exported import BSDSystem
