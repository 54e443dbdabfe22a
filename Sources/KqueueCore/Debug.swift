// SPDX-License-Identifier: BSD-2-Clause
// Debug.swift: tracing to stderr, enabled by BSDSHIM_DEBUG=1 or NOTE_DEBUG; free when off.

import BSDSystem
import Glibc
import Synchronization

enum Debug {
    static let enabled = Atomic<Bool>(getenv("BSDSHIM_DEBUG").map { $0.pointee != 0 && $0.pointee != 0x30 } ?? false)

    /// Writes one line with write(2): no stdio, no Foundation (we may run inside
    /// any process, including under LD_PRELOAD).
    @inline(__always)
    static func trace(_ message: @autoclosure () -> String) {
        guard enabled.load(ordering: .relaxed) else { return }
        var line = "bsdshim: " + message() + "\n"
        line.withUTF8 { b in _ = try? FileDescriptorOps.write(2, UnsafeRawBufferPointer(b)) }
    }
}
