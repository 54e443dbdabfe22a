// SPDX-License-Identifier: BSD-2-Clause
// Bodies.swift: the kernel loops, always inlined into each per-ISA module so
// that they are compiled for that module's instruction set (see swift-notes §4).
// Every body is generic over the ISA (`DmoverStoreISA`): should the compiler
// ever emit one out of line, its specialisation's name carries the ISA type,
// so two modules' copies (built for different CPUs) never share a symbol.

/// The vector all bitwise work uses (64 bytes; wide UInt8 vectors do not vectorise).
public typealias Block = SIMD8<UInt64>

/// How many sequential streams (4 KiB pages of all buffers together) the
/// hardware prefetchers of one core follow at once; large non-temporal
/// loops interleave only as many pages as fit. Set once by DmoverCore from
/// the CPU's facts before any kernel runs (and by tests), read per call.
nonisolated(unsafe) public var dmoverPrefetchStreams = 8

/// Temporal copies whose destination sits less than 256 bytes after the
/// source modulo the page run from the end (see `dmoverCopyBody`) when
/// true. Set once by DmoverCore from the CPU's facts (and by tests), read per call.
nonisolated(unsafe) public var dmoverCopyBackwardOnPageAlias = true

/// xor of this many inputs or more, with temporal stores, runs in groups of
/// four inputs per 4 KiB of output (see `dmoverXorGrouped`); Int.max: never.
/// Set once by DmoverCore from the CPU's facts (and by tests), read per call.
nonisolated(unsafe) public var dmoverXorGroupMinimum = Int.max

/// Chain length in bytes (a multiple of 64, at most 8 KiB) of the CRC
/// kernel with three crc32 chains when it prefetches its next block; 0: no
/// software prefetch. Set once by DmoverCore from the CPU's facts (and by
/// tests), read per call.
nonisolated(unsafe) public var dmoverCRCPrefetchChain = 0
/// Buffers from this many bytes up take the prefetching CRC loop (those
/// that come from memory rather than the caches).
nonisolated(unsafe) public var dmoverCRCPrefetchMinimum = Int.max

/// The store loop every output-producing kernel shares. `block`, `word` and
/// `byte` compute the output at a byte offset; `ISA.stream` is the ISA's
/// non-temporal 64-byte store (destination 64-byte aligned) and `ISA.fence` its sfence.
/// Stores are never overlapping, so in-place operation (dst == a source) is safe.
@inlinable @inline(__always)
public func dmoverStoreLoop<ISA: DmoverStoreISA>(
    _: ISA.Type, _ dst: UnsafeMutableRawPointer, _ n: Int, nt: Bool, streamsPerPage: Int,
    block: (Int) -> Block, word: (Int) -> UInt64, byte: (Int) -> UInt8
) {
    var i = 0
    if nt && n >= 512 {
        // Byte/word head up to the first 64-byte boundary of dst.
        let head = (64 &- (Int(bitPattern: dst) & 63)) & 63
        while i &+ 8 <= head { dst.storeBytes(of: word(i), toByteOffset: i, as: UInt64.self); i &+= 8 }
        while i < head { dst.storeBytes(of: byte(i), toByteOffset: i, as: UInt8.self); i &+= 1 }
        // Several 4 KiB pages at once, 128 bytes from each in turn: the
        // hardware prefetchers then run that many streams per buffer in
        // parallel, and memory moves ~30% faster than one sequential stream
        // (measured on copy at 32 and 256 MiB; glibc's large copy does the
        // same). Only as many pages as the prefetchers can track for all
        // buffers (`dmoverPrefetchStreams`): past that they lose streams and
        // xor8 ran at half speed (4 pages × 9 buffers on Zen 2).
        let page = 4096
        let pages = dmoverPrefetchStreams / max(1, streamsPerPage)
        while pages >= 2 && pages < 4 && i &+ 2 &* page <= n {
            var at = i
            let end = i &+ page
            while at < end {
                let a0 = block(at), a1 = block(at &+ 64)
                let b0 = block(at &+ page), b1 = block(at &+ (page &+ 64))
                ISA.stream(dst + at, a0); ISA.stream(dst + (at &+ 64), a1)
                ISA.stream(dst + (at &+ page), b0); ISA.stream(dst + (at &+ (page &+ 64)), b1)
                at &+= 128
            }
            i &+= 2 &* page
        }
        while pages >= 4 && i &+ 4 &* page <= n {
            var at = i
            let end = i &+ page
            while at < end {
                let a0 = block(at), a1 = block(at &+ 64)
                let b0 = block(at &+ page), b1 = block(at &+ (page &+ 64))
                ISA.stream(dst + at, a0); ISA.stream(dst + (at &+ 64), a1)
                ISA.stream(dst + (at &+ page), b0); ISA.stream(dst + (at &+ (page &+ 64)), b1)
                let c0 = block(at &+ 2 &* page), c1 = block(at &+ (2 &* page &+ 64))
                let d0 = block(at &+ 3 &* page), d1 = block(at &+ (3 &* page &+ 64))
                ISA.stream(dst + (at &+ 2 &* page), c0); ISA.stream(dst + (at &+ (2 &* page &+ 64)), c1)
                ISA.stream(dst + (at &+ 3 &* page), d0); ISA.stream(dst + (at &+ (3 &* page &+ 64)), d1)
                at &+= 128
            }
            i &+= 4 &* page
        }
        while i &+ 256 <= n {
            let a = block(i), b = block(i &+ 64), c = block(i &+ 128), d = block(i &+ 192)
            ISA.stream(dst + i, a); ISA.stream(dst + (i &+ 64), b)
            ISA.stream(dst + (i &+ 128), c); ISA.stream(dst + (i &+ 192), d)
            i &+= 256
        }
        while i &+ 64 <= n { ISA.stream(dst + i, block(i)); i &+= 64 }
        ISA.fence()
    } else {
        while i &+ 256 <= n {
            let a = block(i), b = block(i &+ 64), c = block(i &+ 128), d = block(i &+ 192)
            dst.storeBytes(of: a, toByteOffset: i, as: Block.self)
            dst.storeBytes(of: b, toByteOffset: i &+ 64, as: Block.self)
            dst.storeBytes(of: c, toByteOffset: i &+ 128, as: Block.self)
            dst.storeBytes(of: d, toByteOffset: i &+ 192, as: Block.self)
            i &+= 256
        }
        while i &+ 64 <= n { dst.storeBytes(of: block(i), toByteOffset: i, as: Block.self); i &+= 64 }
    }
    while i &+ 8 <= n { dst.storeBytes(of: word(i), toByteOffset: i, as: UInt64.self); i &+= 8 }
    while i < n { dst.storeBytes(of: byte(i), toByteOffset: i, as: UInt8.self); i &+= 1 }
}

/// Fill body: the pattern word repeated (its bytes are all equal: zero and
/// fill8 pass one byte times 0x0101_0101_0101_0101, so any byte offset
/// starts the pattern).
@inlinable @inline(__always)
public func dmoverFillBody<ISA: DmoverStoreISA>(
    _ isa: ISA.Type, _ dst: UnsafeMutableRawPointer, _ pattern: UInt64, _ n: Int, _ nt: Bool
) {
    let v = Block(repeating: pattern)
    if n >= 256 && (!nt || n < 512) {
        // Temporal, 256 bytes or more: an unaligned block at the start if dst
        // is not 64-byte aligned, 256-byte steps from dst's first 64-byte
        // boundary (no store in the loop splits a cache line), and the last
        // 256 bytes stored at n - 256 over bytes already filled (a fill
        // reads nothing, so storing twice is harmless). One test after the
        // loop instead of the shared loop's 64-, 8- and 1-byte tails: at
        // 4 KiB the entry and exit branches cost ~1 ns of ~40 (Zen 2).
        var i = (64 &- (Int(bitPattern: dst) & 63)) & 63
        if i != 0 { dst.storeBytes(of: v, as: Block.self) }
        while i &+ 256 <= n {
            dst.storeBytes(of: v, toByteOffset: i, as: Block.self)
            dst.storeBytes(of: v, toByteOffset: i &+ 64, as: Block.self)
            dst.storeBytes(of: v, toByteOffset: i &+ 128, as: Block.self)
            dst.storeBytes(of: v, toByteOffset: i &+ 192, as: Block.self)
            i &+= 256
        }
        if i < n {
            dst.storeBytes(of: v, toByteOffset: n &- 256, as: Block.self)
            dst.storeBytes(of: v, toByteOffset: n &- 192, as: Block.self)
            dst.storeBytes(of: v, toByteOffset: n &- 128, as: Block.self)
            dst.storeBytes(of: v, toByteOffset: n &- 64, as: Block.self)
        }
        return
    }
    let b = UInt8(truncatingIfNeeded: pattern)
    dmoverStoreLoop(isa, dst, n, nt: nt, streamsPerPage: 1, block: { _ in v }, word: { _ in pattern }, byte: { _ in b })
}

/// Copies from this size up to the non-temporal size use rep movsb on CPUs
/// that prefer it (``MachineFacts/prefersStringInstructions``): against the 64-byte
/// vector loop, measured ~10% faster at 64 KiB and 1 MiB, equal at 16 KiB.
@inlinable @inline(__always)
public var dmoverRepCopyMinimum: Int { 16 << 10 }

/// Copy body. Temporal copies whose destination sits less than 256 bytes
/// after the source modulo the 4 KiB page (page-aligned buffers, the usual
/// I/O case) run from the end where `dmoverCopyBackwardOnPageAlias` says
/// so: a forward loop's loads would match the page offsets of stores still
/// in flight (4K aliasing), which glibc's memmove avoids the same way. Zen 2,
/// page-aligned buffers: 1 MiB copies ~10% faster, 4 and 64 KiB unchanged.
/// Zen 5 shows no such penalty and follows a descending loop worse: 4 KiB
/// copies from the L2 took twice as long backward.
@inlinable @inline(__always)
public func dmoverCopyBody<ISA: DmoverStoreISA>(
    _ isa: ISA.Type, _ dst: UnsafeMutableRawPointer, _ src: UnsafeRawPointer, _ n: Int, _ nt: Bool
) {
    let gap = Int(bitPattern: dst) &- Int(bitPattern: src)
    if !nt && n >= 256 && (gap == 0 || gap >= n || gap <= -n) {
        // Temporal, 256 bytes or more, buffers the same or apart: 256 bytes
        // per step, each step's loads before its stores, and the n mod 256
        // bytes left over copied as a whole 256-byte step that overlaps
        // bytes already copied (the source is unchanged, so they get the
        // same values again). One test after the loop instead of the shared
        // loop's 64-, 8- and 1-byte tails (~2 ns of ~41 at 4 KiB, Zen 2).
        if n >= 512 && gap & (4096 - 256) == 0 && dmoverCopyBackwardOnPageAlias {
            var i = n
            repeat {
                i &-= 256
                dmoverCopyStep(dst, src, i)
            } while i >= 256
            if i > 0 { dmoverCopyStep(dst, src, 0) }
        } else {
            var i = 0
            while i &+ 256 <= n {
                dmoverCopyStep(dst, src, i)
                i &+= 256
            }
            if i < n { dmoverCopyStep(dst, src, n &- 256) }
        }
        return
    }
    // Non-temporal, short, or overlapping buffers (forward, never a byte stored twice).
    dmoverStoreLoop(isa, dst, n, nt: nt, streamsPerPage: 2,
                    block: { src.loadUnaligned(fromByteOffset: $0, as: Block.self) },
                    word: { src.loadUnaligned(fromByteOffset: $0, as: UInt64.self) },
                    byte: { src.load(fromByteOffset: $0, as: UInt8.self) })
}

/// Copies bytes [i, i + 256): all four blocks loaded before any is stored,
/// stored from the last, so a step is right whichever way the loop runs.
@inlinable @inline(__always)
public func dmoverCopyStep(_ dst: UnsafeMutableRawPointer, _ src: UnsafeRawPointer, _ i: Int) {
    let a = src.loadUnaligned(fromByteOffset: i, as: Block.self)
    let b = src.loadUnaligned(fromByteOffset: i &+ 64, as: Block.self)
    let c = src.loadUnaligned(fromByteOffset: i &+ 128, as: Block.self)
    let d = src.loadUnaligned(fromByteOffset: i &+ 192, as: Block.self)
    dst.storeBytes(of: d, toByteOffset: i &+ 192, as: Block.self)
    dst.storeBytes(of: c, toByteOffset: i &+ 128, as: Block.self)
    dst.storeBytes(of: b, toByteOffset: i &+ 64, as: Block.self)
    dst.storeBytes(of: a, toByteOffset: i, as: Block.self)
}

/// XOR body for a compile-time number of sources: the source loop unrolls and
/// the pointers stay in registers (one kernel per count, never a run-time loop).
@inlinable @inline(__always)
public func dmoverXorBody<ISA: DmoverStoreISA, let N: Int>(
    _ isa: ISA.Type, _ dst: UnsafeMutableRawPointer, _ s: InlineArray<N, UnsafeRawPointer>, _ n: Int, _ nt: Bool
) {
    dmoverStoreLoop(isa, dst, n, nt: nt, streamsPerPage: N + 1,
                    block: { i in
                        var a = s[0].loadUnaligned(fromByteOffset: i, as: Block.self)
                        for j in 1..<N { a ^= s[j].loadUnaligned(fromByteOffset: i, as: Block.self) }
                        return a
                    },
                    word: { i in
                        var a = s[0].loadUnaligned(fromByteOffset: i, as: UInt64.self)
                        for j in 1..<N { a ^= s[j].loadUnaligned(fromByteOffset: i, as: UInt64.self) }
                        return a
                    },
                    byte: { i in
                        var a = s[0].load(fromByteOffset: i, as: UInt8.self)
                        for j in 1..<N { a ^= s[j].load(fromByteOffset: i, as: UInt8.self) }
                        return a
                    })
}

/// The bulk of an xor of many inputs, bytes [from, end) with end the last
/// multiple of 128 past `from` within n: 128 bytes per step, the inputs in an
/// inner loop that reads each pointer from memory. Fully unrolled, 9 to 16
/// pointers and four 64-byte partial sums do not fit in the registers and
/// the spills cost ~15% in cache (xor16 at 4 KiB on Zen 2; ISA-L's xor_gen
/// loops over its pointer array the same way). With `nt`, dst + from must be
/// 64-byte aligned and the caller fences. Every input is read at an offset
/// before the output is written there, so in-place use is safe. Returns end.
@inlinable @inline(__always)
public func dmoverXorManyBulk<ISA: DmoverStoreISA>(_: ISA.Type, _ dst: UnsafeMutableRawPointer,
                                                  _ s: UnsafePointer<UnsafeRawPointer>,
                                                  _ count: Int, from: Int, _ n: Int, nt: Bool) -> Int {
    var i = from
    while i &+ 128 <= n {
        let last = s[count &- 1]
        var a0 = last.loadUnaligned(fromByteOffset: i, as: Block.self)
        var a1 = last.loadUnaligned(fromByteOffset: i &+ 64, as: Block.self)
        var j = count &- 2
        while j >= 0 {
            let p = s[j]
            a0 ^= p.loadUnaligned(fromByteOffset: i, as: Block.self)
            a1 ^= p.loadUnaligned(fromByteOffset: i &+ 64, as: Block.self)
            j &-= 1
        }
        if nt {
            ISA.stream(dst + i, a0)
            ISA.stream(dst + (i &+ 64), a1)
        } else {
            dst.storeBytes(of: a0, toByteOffset: i, as: Block.self)
            dst.storeBytes(of: a1, toByteOffset: i &+ 64, as: Block.self)
        }
        i &+= 128
    }
    return i
}

/// xor of `count` inputs (5...16) in passes over each 4 KiB of the output:
/// the first 4 to 7 inputs, then four more at a time with the output itself
/// as a fifth input, all with temporal stores. Buffers at the same page
/// offset (page-aligned RAID stripes) map their lines to the same L1d set:
/// one pass over 9 to 16 inputs overflows the set's ways and the hardware
/// prefetchers' lines evict each other, while five streams fit and the
/// output chunk stays in L1d between passes (xor16 at 4 KiB on Zen 2: 3.6 ->
/// 6.4 GB/s, ISA-L xor_gen 4.0). The output must not overlap any input: a
/// later pass would read input bytes an earlier one overwrote
/// (`dmoverXorDisjoint`). Out of line: one copy per ISA, not per count.
@inlinable @inline(never)
public func dmoverXorGrouped<ISA: DmoverStoreISA>(_ isa: ISA.Type, _ dst: UnsafeMutableRawPointer,
                                                 _ s: UnsafePointer<UnsafeRawPointer>, _ count: Int, _ n: Int) {
    let first = 4 &+ ((count &- 4) & 3)
    var at = 0
    while at < n {
        let m = min(4096, n &- at)
        let d = dst + at
        switch first {
        case 4: dmoverXorBody(isa, d, dmoverXorPointers(s, at) as InlineArray<4, UnsafeRawPointer>, m, false)
        case 5: dmoverXorBody(isa, d, dmoverXorPointers(s, at) as InlineArray<5, UnsafeRawPointer>, m, false)
        case 6: dmoverXorBody(isa, d, dmoverXorPointers(s, at) as InlineArray<6, UnsafeRawPointer>, m, false)
        default: dmoverXorBody(isa, d, dmoverXorPointers(s, at) as InlineArray<7, UnsafeRawPointer>, m, false)
        }
        var g = first
        while g < count {
            var p = InlineArray<5, UnsafeRawPointer>(repeating: UnsafeRawPointer(d))
            p[1] = s[g] + at
            p[2] = s[g &+ 1] + at
            p[3] = s[g &+ 2] + at
            p[4] = s[g &+ 3] + at
            dmoverXorBody(isa, d, p, m, false)
            g &+= 4
        }
        at &+= m
    }
}

/// Inputs [0, K) of `s`, each advanced by `at`, as a fixed-size array.
@inlinable @inline(__always)
public func dmoverXorPointers<let K: Int>(_ s: UnsafePointer<UnsafeRawPointer>, _ at: Int)
    -> InlineArray<K, UnsafeRawPointer>
{
    var p = InlineArray<K, UnsafeRawPointer>(repeating: s[0] + at)
    for j in 1..<K { p[j] = s[j] + at }
    return p
}

/// Whether [dst, dst + n) overlaps none of the `count` inputs' [s[j], s[j] + n).
@inlinable @inline(__always)
public func dmoverXorDisjoint(_ dst: UnsafeMutableRawPointer, _ s: UnsafePointer<UnsafeRawPointer>,
                              _ count: Int, _ n: Int) -> Bool {
    let d = UInt(bitPattern: dst)
    for j in 0..<count {
        let a = UInt(bitPattern: s[j])
        if a < d &+ UInt(n) && d < a &+ UInt(n) { return false }
    }
    return true
}

/// Compare body: index of the first differing byte, or n.
@inlinable @inline(__always)
public func dmoverCompareBody(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ n: Int) -> Int {
    if n >= 256 {
        // 256 bytes per test; the n mod 256 bytes left over are tested as
        // the last 256 bytes, which overlap bytes already found equal (so
        // a difference there is still the first). The word loop then only
        // runs to locate a difference.
        var i = 0
        while i &+ 256 <= n {
            if dmoverCompareStepDiffers(a, b, i) { return dmoverCompareWords(a, b, i, n) }
            i &+= 256
        }
        if i == n || !dmoverCompareStepDiffers(a, b, n &- 256) { return n }
        return dmoverCompareWords(a, b, n &- 256, n)
    }
    return dmoverCompareWords(a, b, 0, n)
}

/// Whether bytes [i, i + 256) of a and b differ anywhere.
@inlinable @inline(__always)
public func dmoverCompareStepDiffers(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ i: Int) -> Bool {
    let d0 = a.loadUnaligned(fromByteOffset: i, as: Block.self) ^ b.loadUnaligned(fromByteOffset: i, as: Block.self)
    let d1 = a.loadUnaligned(fromByteOffset: i &+ 64, as: Block.self) ^ b.loadUnaligned(fromByteOffset: i &+ 64, as: Block.self)
    let d2 = a.loadUnaligned(fromByteOffset: i &+ 128, as: Block.self) ^ b.loadUnaligned(fromByteOffset: i &+ 128, as: Block.self)
    let d3 = a.loadUnaligned(fromByteOffset: i &+ 192, as: Block.self) ^ b.loadUnaligned(fromByteOffset: i &+ 192, as: Block.self)
    return any(((d0 | d1) | (d2 | d3)) .!= Block.zero)
}

/// Index of the first differing byte in [i, n), or n: 8 bytes per test.
@inlinable @inline(__always)
public func dmoverCompareWords(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ from: Int, _ n: Int) -> Int {
    var i = from
    while i &+ 8 <= n {
        let d = a.loadUnaligned(fromByteOffset: i, as: UInt64.self) ^ b.loadUnaligned(fromByteOffset: i, as: UInt64.self)
        if d != 0 { return i &+ d.trailingZeroBitCount / 8 }   // little-endian: lowest byte first
        i &+= 8
    }
    while i < n {
        if a.load(fromByteOffset: i, as: UInt8.self) != b.load(fromByteOffset: i, as: UInt8.self) { return i }
        i &+= 1
    }
    return n
}
