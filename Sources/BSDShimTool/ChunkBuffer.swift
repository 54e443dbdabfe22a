// SPDX-License-Identifier: BSD-2-Clause
// ChunkBuffer.swift: the large, page-aligned buffers files are streamed through.

/// Bytes per read: big enough that per-request dmover and syscall costs vanish,
/// small enough that 17 buffers (xor16 plus output) stay well under 200 MiB.
let chunkSize = 8 << 20

/// One page-aligned buffer of `chunkSize` bytes, freed with its owner.
final class ChunkBuffer {
    let base: UnsafeMutableRawPointer

    init() {
        base = UnsafeMutableRawPointer.allocate(byteCount: chunkSize, alignment: 4096)
    }

    deinit { base.deallocate() }
}
