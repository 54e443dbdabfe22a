// SPDX-License-Identifier: BSD-2-Clause
// KernelShapeTests.swift: the fill, copy and compare entry points of every
// kernel set this CPU can run, called directly, at lengths around their
// 256-byte steps (where the last step overlaps bytes already done), with
// misaligned destinations, page-aliased copies run from the end, copies in
// place, and differences in every part of a compare.

import DmoverCore
import DmoverKernels
import DmoverKernelsAVX2
import DmoverKernelsAVX512
import DmoverSIMD
import Testing

/// The kernel sets this CPU can execute, by name.
private func runnableSets() -> [(String, DmoverKernelEntryPoints)] {
    var sets = [("baseline", BaselineKernels.entryPoints)]
    if Kernels.cpuLevel >= .avx2 { sets.append(("avx2", AVX2Kernels.entryPoints)) }
    if Kernels.cpuLevel >= .avx512 { sets.append(("avx512", AVX512Kernels.entryPoints)) }
    return sets
}

private let lengths = [0, 1, 63, 64, 255, 256, 257, 300, 511, 512, 513, 767, 768, 1000, 4095, 4096, 4097, 5000, 20_000]
private let offsets = [0, 1, 7, 8, 31, 32, 33, 63]

@Suite struct KernelShapeTests {
    @Test func fillWritesExactlyItsBytes() {
        let cap = 32 << 10
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: cap, alignment: 4096)
        defer { buf.deallocate() }
        for (name, e) in runnableSets() {
            for fill in [e.fill, e.fillRepString] {
                for n in lengths {
                    for off in offsets {
                        buf.initializeMemory(as: UInt8.self, repeating: 0xEE)
                        fill(buf.baseAddress! + 64 + off, 0x5A5A_5A5A_5A5A_5A5A, n, false)
                        let bad = (0..<(n + 192 + off)).first { i in
                            buf[i] != (i >= 64 + off && i < 64 + off + n ? 0x5A : 0xEE)
                        }
                        #expect(bad == nil, "\(name) fill of \(n) bytes at offset \(off): byte \(bad ?? -1)")
                    }
                }
            }
        }
    }

    @Test func copyMatchesSourceForEveryPlacement() {
        let seed = UInt64.random(in: 0...UInt64.max)
        print("seed \(seed)")
        var rng = SeededRandom(state: seed)
        let cap = 64 << 10
        let src = UnsafeMutableRawBufferPointer.allocate(byteCount: cap, alignment: 4096)
        let dst = UnsafeMutableRawBufferPointer.allocate(byteCount: cap, alignment: 4096)
        defer { src.deallocate(); dst.deallocate() }
        for i in 0..<cap { src[i] = UInt8.random(in: 0...255, using: &rng) }
        let original = Array(src)
        for (name, e) in runnableSets() {
            for copy in [e.copy, e.copyRepString] {
                for n in lengths {
                    // Destination offsets within the page relative to the
                    // source: 0 and 200 take the page-aliased loop (from the
                    // end), 300 and 4000 the forward one; misaligned too.
                    for (so, d) in [(0, 0), (0, 200), (5, 205), (0, 300), (64, 4000), (3, 3 + 4096)] {
                        dst.initializeMemory(as: UInt8.self, repeating: 0xEE)
                        copy(dst.baseAddress! + d, src.baseAddress! + so, n, false)
                        let bad = (0..<(d + n + 64)).first { i in
                            dst[i] != (i >= d && i < d + n ? original[so + i - d] : 0xEE)
                        }
                        #expect(bad == nil, "\(name) copy of \(n) bytes, source +\(so), destination +\(d): byte \(bad ?? -1)")
                    }
                    // In place: the bytes stay what they were.
                    copy(src.baseAddress! + 17, src.baseAddress! + 17, n, false)
                    #expect(Array(src) == original, "\(name) copy in place of \(n) bytes")
                }
            }
        }
    }

    @Test func compareFindsTheFirstDifferenceAnywhere() {
        let cap = 32 << 10
        let a = UnsafeMutableRawBufferPointer.allocate(byteCount: cap, alignment: 4096)
        let b = UnsafeMutableRawBufferPointer.allocate(byteCount: cap, alignment: 4096)
        defer { a.deallocate(); b.deallocate() }
        for i in 0..<cap { a[i] = UInt8(truncatingIfNeeded: i &* 131 &+ 7) }
        for (name, e) in runnableSets() {
            for n in lengths {
                for off in [0, 3, 40] {
                    b.copyMemory(from: UnsafeRawBufferPointer(a))
                    let pa = UnsafeRawPointer(a.baseAddress!) + off, pb = UnsafeRawPointer(b.baseAddress!) + off
                    #expect(e.compare(pa, pb, n) == n, "\(name) compare of \(n) equal bytes at offset \(off)")
                    // The first 256-byte step, a later one, and the last,
                    // which overlaps bytes already found equal.
                    let spots = [0, 1, 8, 255, 256, 257, n / 2, n - 257, n - 256, n - 255, n - 9, n - 1]
                    for at in Set(spots.filter { $0 >= 0 && $0 < n }) {
                        b.copyMemory(from: UnsafeRawBufferPointer(a))
                        b[off + at] ^= 0x10
                        if at + 3 < n { b[off + at + 3] ^= 0x01 }   // a later difference must not win
                        #expect(e.compare(pa, pb, n) == at, "\(name) compare of \(n) bytes at offset \(off), difference at \(at)")
                    }
                }
            }
        }
    }
}
