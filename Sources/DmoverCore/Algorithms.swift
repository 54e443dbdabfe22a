// SPDX-License-Identifier: BSD-2-Clause
// Algorithms.swift: function names and algorithm lookup (NetBSD dmover_util.c).

import BSDSystem
import CBSDShimABI
import Glibc

/// Most inputs any function may have (xor16).
public let dmoverMaxInputs = 16

/// Finds `name` in `count` algorithm descriptors (linear scan, first match).
/// The corresponding C function is `dmover_algdesc_lookup`.
public func algdescLookup(
    _ dad: UnsafePointer<dmover_algdesc>?, count: Int, name: UnsafePointer<CChar>?
) -> UnsafePointer<dmover_algdesc>? {
    guard let dad, let name, count > 0 else { return nil }
    for i in 0..<count {
        guard let n = dad[i].dad_name else { continue }
        // Cheap first-character test before strcmp, as NetBSD does.
        if n[0] == name[0] && strcmp(n, name) == 0 { return dad + i }
    }
    return nil
}
