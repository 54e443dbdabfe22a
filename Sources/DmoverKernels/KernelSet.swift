// SPDX-License-Identifier: BSD-2-Clause
// KernelSet.swift: the kernel function types and one ISA's set of them.

/// Writes `n` bytes of `pattern` (a byte repeated 8 times) at `dst`; `nt` asks for non-temporal stores.
public typealias FillKernel = @Sendable (_ dst: UnsafeMutableRawPointer, _ pattern: UInt64, _ n: Int, _ nt: Bool) -> Void
/// Copies `n` bytes; `nt` asks for non-temporal stores.
public typealias CopyKernel = @Sendable (_ dst: UnsafeMutableRawPointer, _ src: UnsafeRawPointer, _ n: Int, _ nt: Bool) -> Void
/// dst = srcs[0] ^ … ^ srcs[k-1] over `n` bytes, for the kernel's fixed k.
public typealias XorKernel = @Sendable (_ dst: UnsafeMutableRawPointer, _ srcs: UnsafePointer<UnsafeRawPointer>, _ n: Int, _ nt: Bool) -> Void
/// Raw (no pre/post inversion) reflected CRC-32C register update over `n` bytes.
public typealias CRCKernel = @Sendable (_ crc: UInt32, _ src: UnsafeRawPointer, _ n: Int) -> UInt32
/// Index of the first differing byte of two buffers, or `n` when equal.
public typealias CompareKernel = @Sendable (_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ n: Int) -> Int

/// The kernels of one instruction-set level. `xor[k]` is the k-input kernel (k in 2...16).
public struct KernelSet: Sendable {
    public let name: String
    public let fill: FillKernel
    public let copy: CopyKernel
    public let xor: [XorKernel]
    public let compare: CompareKernel

    public init(name: String, fill: @escaping FillKernel, copy: @escaping CopyKernel,
                xor: [XorKernel], compare: @escaping CompareKernel) {
        precondition(xor.count == 17, "xor table is indexed by input count 0...16")
        self.name = name
        self.fill = fill
        self.copy = copy
        self.xor = xor
        self.compare = compare
    }
}
