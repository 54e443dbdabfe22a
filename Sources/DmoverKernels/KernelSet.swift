// SPDX-License-Identifier: BSD-2-Clause
// KernelSet.swift: the kernel entry points, written once for every instruction
// set. An ISA module (baseline, AVX2, AVX-512) declares its non-temporal store
// (`DmoverStoreISA`) and lists `DmoverKernelSet<ItsStore>`'s functions as C
// function pointers (`DmoverKernelEntryPoints`); the generic bodies are inlined
// into those pointers' closures there, so they are compiled for that module's
// -target-cpu. Nothing here runs on its own.

#if arch(x86_64)
import CDmoverIntrin
#endif

/// What an instruction set adds to the shared kernel bodies.
public protocol DmoverStoreISA {
    /// Non-temporal store of one 64-byte block (p 64-byte aligned).
    static func stream(_ p: UnsafeMutableRawPointer, _ v: Block)
    /// Orders the non-temporal stores before later stores (sfence).
    static func fence()
    /// Whether xor of 9 to 16 inputs loops over its pointer array for the
    /// bulk (`dmoverXorManyBulk`) instead of unrolling every input.
    static var loopsOverManyInputs: Bool { get }
}

/// fill(dst, pattern, length, nonTemporal)
public typealias DmoverFillEntry = @convention(c) (UnsafeMutableRawPointer, UInt64, Int, Bool) -> Void
/// copy(dst, src, length, nonTemporal)
public typealias DmoverCopyEntry = @convention(c) (UnsafeMutableRawPointer, UnsafeRawPointer, Int, Bool) -> Void
/// xorN(dst, inputs, length, nonTemporal)
public typealias DmoverXorEntry = @convention(c) (UnsafeMutableRawPointer, UnsafePointer<UnsafeRawPointer>, Int, Bool) -> Void
/// compare(a, b, length) -> index of the first difference, or length
public typealias DmoverCompareEntry = @convention(c) (UnsafeRawPointer, UnsafeRawPointer, Int) -> Int

/// One ISA module's kernels as plain C function pointers (no context, no
/// reference counting when called on the request path).
public struct DmoverKernelEntryPoints: @unchecked Sendable {
    public let fill: DmoverFillEntry
    public let copy: DmoverCopyEntry
    /// fill and copy with rep stosb/movsb between `dmoverRepCopyMinimum` and
    /// the non-temporal size (the vector loops where the ISA has no such choice).
    public let fillRepString: DmoverFillEntry
    public let copyRepString: DmoverCopyEntry
    public let compare: DmoverCompareEntry
    /// The kernels for 2...16 inputs, in order. A fixed-size value, not an
    /// Array: building one would instantiate generic metadata with a runtime
    /// helper every module emits as a weak symbol, and the linker could keep
    /// this module's copy, compiled for its ISA, for the whole program.
    public let xor: InlineArray<15, DmoverXorEntry>

    public init(fill: DmoverFillEntry, copy: DmoverCopyEntry, fillRepString: DmoverFillEntry,
                copyRepString: DmoverCopyEntry, compare: DmoverCompareEntry, xor: InlineArray<15, DmoverXorEntry>) {
        self.fill = fill
        self.copy = copy
        self.fillRepString = fillRepString
        self.copyRepString = copyRepString
        self.compare = compare
        self.xor = xor
    }
}

/// The kernels over the bodies of Bodies.swift, for the ISA whose store is `ISA`.
public enum DmoverKernelSet<ISA: DmoverStoreISA> {
    @inlinable @inline(__always)
    public static func fill(_ d: UnsafeMutableRawPointer, _ p: UInt64, _ n: Int, _ nt: Bool) {
        dmoverFillBody(ISA.self, d, p, n, nt)
    }

    @inlinable @inline(__always)
    public static func copy(_ d: UnsafeMutableRawPointer, _ s: UnsafeRawPointer, _ n: Int, _ nt: Bool) {
        dmoverCopyBody(ISA.self, d, s, n, nt)
    }

    #if arch(x86_64)
    /// fill for CPUs that prefer rep movsb, which have fast rep stosb too
    /// (the pattern is one byte repeated).
    @inlinable @inline(__always)
    public static func fillRepString(_ d: UnsafeMutableRawPointer, _ p: UInt64, _ n: Int, _ nt: Bool) {
        if !nt && n >= dmoverRepCopyMinimum {
            dmoverRepStosb(d, UInt8(truncatingIfNeeded: p), n)
        } else {
            dmoverFillBody(ISA.self, d, p, n, nt)
        }
    }

    /// copy for CPUs that prefer rep movsb (see dmoverRepCopyMinimum).
    @inlinable @inline(__always)
    public static func copyRepString(_ d: UnsafeMutableRawPointer, _ s: UnsafeRawPointer, _ n: Int, _ nt: Bool) {
        if !nt && n >= dmoverRepCopyMinimum {
            dmoverRepMovsb(d, s, n)
        } else {
            dmoverCopyBody(ISA.self, d, s, n, nt)
        }
    }
    #endif

    @inlinable @inline(__always)
    public static func compare(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ n: Int) -> Int {
        dmoverCompareBody(a, b, n)
    }
}

/// xor of a compile-time number of inputs N (one kernel per count: the input
/// loop unrolls and the pointers stay in registers).
public enum DmoverXorKernel<ISA: DmoverStoreISA, let N: Int> {
    @inlinable @inline(__always)
    public static func run(_ d: UnsafeMutableRawPointer, _ s: UnsafePointer<UnsafeRawPointer>, _ n: Int, _ nt: Bool) {
        if N >= 5 && !nt && N >= dmoverXorGroupMinimum && dmoverXorDisjoint(d, s, N, n) {
            dmoverXorGrouped(ISA.self, d, s, N, n)
            return
        }
        var p = InlineArray<N, UnsafeRawPointer>(repeating: s[0])
        for j in 1..<N { p[j] = s[j] }
        if N < 9 || !ISA.loopsOverManyInputs {
            dmoverXorBody(ISA.self, d, p, n, nt)
            return
        }
        // The pointer-array loop for the bulk (after a head that aligns the
        // output for non-temporal stores), the unrolled body for head and tail.
        let head = nt ? min(n, (64 &- (Int(bitPattern: d) & 63)) & 63) : 0
        if head > 0 { dmoverXorBody(ISA.self, d, p, head, false) }
        let done = dmoverXorManyBulk(ISA.self, d, s, N, from: head, n, nt: nt)
        if nt { ISA.fence() }
        if done < n {
            var q = p
            for j in 0..<N { q[j] = p[j] + done }
            dmoverXorBody(ISA.self, d + done, q, n &- done, false)
        }
    }
}

#if arch(x86_64)
/// rep movsb (inlined: its callers are compiled per ISA).
@inlinable @inline(__always)
public func dmoverRepMovsb(_ d: UnsafeMutableRawPointer, _ s: UnsafeRawPointer, _ n: Int) {
    cdm_rep_movsb(d, s, UInt(n))
}

/// rep stosb (inlined: its callers are compiled per ISA).
@inlinable @inline(__always)
public func dmoverRepStosb(_ d: UnsafeMutableRawPointer, _ byte: UInt8, _ n: Int) {
    cdm_rep_stosb(d, byte, UInt(n))
}
#endif
