// SPDX-License-Identifier: BSD-2-Clause
// SoftwareBackend.swift: "swdmover", the SIMD software backend: its algorithm
// table (the one list of functions), registration, and request execution
// (inline for waiting/small requests, else on its thread; large ones split).

import BSDSystem
import CBSDShim
import CBSDShimABI
import DmoverKernels
import Glibc
import Synchronization

/// One function of the software backend.
struct SoftwareFunction: Sendable {
    enum Kind: Int, Sendable { case zero, fill8, copy, xor, crc32c, copyCRC32C, compare }
    let name: StaticString
    let kind: Kind
    let inputs: Int

    var hasOutput: Bool { kind != .crc32c && kind != .compare }

    /// dad_data of the function at table index i: (i + 1) | kind << 8 | inputs << 16,
    /// so the request path decodes it without touching the table.
    static func tag(_ i: Int, _ f: SoftwareFunction) -> Int { (i + 1) | f.kind.rawValue << 8 | f.inputs << 16 }
    var producesCRC: Bool { kind == .crc32c || kind == .copyCRC32C }

    /// The table: adding a function means one file plus one row here.
    static let table: [SoftwareFunction] = [
        SoftwareFunction(name: "zero", kind: .zero, inputs: 0),
        SoftwareFunction(name: "fill8", kind: .fill8, inputs: 0),
        SoftwareFunction(name: "copy", kind: .copy, inputs: 1),
        SoftwareFunction(name: "iscsi-crc32c", kind: .crc32c, inputs: 1),
        SoftwareFunction(name: "copy-crc32c", kind: .copyCRC32C, inputs: 1),
        SoftwareFunction(name: "compare", kind: .compare, inputs: 2),
        SoftwareFunction(name: "xor2", kind: .xor, inputs: 2),
        SoftwareFunction(name: "xor3", kind: .xor, inputs: 3),
        SoftwareFunction(name: "xor4", kind: .xor, inputs: 4),
        SoftwareFunction(name: "xor5", kind: .xor, inputs: 5),
        SoftwareFunction(name: "xor6", kind: .xor, inputs: 6),
        SoftwareFunction(name: "xor7", kind: .xor, inputs: 7),
        SoftwareFunction(name: "xor8", kind: .xor, inputs: 8),
        SoftwareFunction(name: "xor9", kind: .xor, inputs: 9),
        SoftwareFunction(name: "xor10", kind: .xor, inputs: 10),
        SoftwareFunction(name: "xor11", kind: .xor, inputs: 11),
        SoftwareFunction(name: "xor12", kind: .xor, inputs: 12),
        SoftwareFunction(name: "xor13", kind: .xor, inputs: 13),
        SoftwareFunction(name: "xor14", kind: .xor, inputs: 14),
        SoftwareFunction(name: "xor15", kind: .xor, inputs: 15),
        SoftwareFunction(name: "xor16", kind: .xor, inputs: 16),
    ]
}

/// The software backend (NetBSD swdmover), registered on first use unless
/// BSDSHIM_DMOVER_SWDMOVER=0.
final class SoftwareBackend: NativeBackend, @unchecked Sendable {
    static let shared = SoftwareBackend()
    let dmb: UnsafeMutablePointer<dmover_backend>
    private let queue = MutexCondition()
    private var head: UnsafeMutablePointer<dmover_request>? = nil
    private var tail: UnsafeMutablePointer<dmover_request>? = nil
    private var threadStarted = false
    let pool = WorkerPool()

    // Tunables and the kernel level, read on every request through `self`
    // (no global access); SoftwareBackendConfig and Kernels.use set them.
    let workers = Atomic<Int>(environmentInt("BSDSHIM_DMOVER_THREADS").map { max(1, $0) }
                              ?? min(CurrentProcess.allowedCPUCount, WorkerPool.maxParts))
    let splitMin = Atomic<Int>(environmentInt("BSDSHIM_DMOVER_SPLIT_MIN") ?? SoftwareBackendConfig.defaultSplitMinimum)
    let ntMin = Atomic<Int>(KernelTuning.current.nonTemporalMinimum)
    let fillNTMin = Atomic<Int>(KernelTuning.current.fillNonTemporalMinimum)
    let copyNTMin = Atomic<Int>(KernelTuning.current.copyNonTemporalMinimum)
    let xorNTWorkingSet = Atomic<Int>(KernelTuning.current.xorNonTemporalWorkingSet)
    let inlineMax = Atomic<Int>(environmentInt("BSDSHIM_DMOVER_INLINE_MAX") ?? 64 << 10)
    let level = Atomic<Int>(KernelLevel.baseline.rawValue)
    /// 1 when the kernel set that copies and fills with rep movsb/stosb is in use.
    let rep = Atomic<Int>(0)
    /// Address of the kernel table (2 sets per level: vector loops, string instructions): the baseline one until the ISA
    /// kernels are installed (tables are immutable once published).
    let tableBase = Atomic<UInt>(Kernels.baselineBase)
    /// Address of the kernel set in use (the table entry `level` · 2 + `rep`),
    /// republished by `publishKernels` whenever one of the three changes: the
    /// request path reads one word instead of three and an index computation.
    let activeSet = Atomic<UInt>(Kernels.baselineBase)
    /// Requests at least this long are split: max(splitMin, 64 KiB) with more
    /// than one worker, else never (Int.max). Republished by `publishSplit`
    /// when either tunable changes, so the light path makes one comparison.
    let linearSplitMin = Atomic<Int>(Int.max)

    /// The non-temporal size for zero and fill8 with kernels `k`: kernels that
    /// fill with rep stosb keep it up to `fillNTMin` too (the data stays in
    /// L3, as with glibc's memset).
    @inline(__always)
    func fillNTThreshold(_ k: ActiveKernels) -> Int { stringNTThreshold(k, fillNTMin) }

    /// The non-temporal size for copy with kernels `k`: kernels that copy
    /// with rep movsb keep it up to `copyNTMin` too.
    @inline(__always)
    func copyNTThreshold(_ k: ActiveKernels) -> Int { stringNTThreshold(k, copyNTMin) }

    /// The general non-temporal size, or, with kernels that use the string
    /// instructions, the larger of it and their own (`own`).
    @inline(__always)
    private func stringNTThreshold(_ k: ActiveKernels, _ own: borrowing Atomic<Int>) -> Int {
        let general = ntMin.load(ordering: .relaxed)
        return k.repStrings ? max(general, own.load(ordering: .relaxed)) : general
    }

    /// The non-temporal size for a function of `inputs` inputs with kernels `k`.
    @inline(__always)
    func ntThreshold(_ kind: SoftwareFunction.Kind, _ inputs: Int, _ k: ActiveKernels) -> Int {
        if kind == .zero || kind == .fill8 { return fillNTThreshold(k) }
        if kind == .copy { return copyNTThreshold(k) }
        let general = ntMin.load(ordering: .relaxed)
        // xor of 4 or more inputs: non-temporal once all buffers outgrow the
        // working-set limit (see KernelTuning.xorNonTemporalWorkingSet),
        // except where the grouped passes run (their output chunk stays in L1d).
        if kind == .xor && inputs >= 4 && inputs < dmoverXorGroupMinimum {
            return min(general, xorNTWorkingSet.load(ordering: .relaxed) / (inputs + 1))
        }
        return general
    }

    /// Whether an output of `length` bytes of a function of `inputs` inputs
    /// uses non-temporal stores with kernels `k`: `length >= ntThreshold(...)`
    /// without its division (tens of cycles on the request path), since
    /// length >= ws / (inputs + 1) exactly when (length + 1) · (inputs + 1) > ws.
    @inline(__always)
    func usesNonTemporal(_ kind: SoftwareFunction.Kind, _ inputs: Int, _ length: Int, _ k: ActiveKernels) -> Bool {
        if kind == .zero || kind == .fill8 { return length >= fillNTThreshold(k) }
        if kind == .copy { return length >= copyNTThreshold(k) }
        if length >= ntMin.load(ordering: .relaxed) { return true }
        guard kind == .xor && inputs >= 4 && inputs < dmoverXorGroupMinimum else { return false }
        let (m, overflow) = (length &+ 1).multipliedReportingOverflow(by: inputs &+ 1)
        return overflow || m > xorNTWorkingSet.load(ordering: .relaxed)
    }

    /// The kernels of the level in use.
    @inline(__always)
    var kernels: ActiveKernels { kernelSet.pointee }

    /// The kernel set in use, in the immutable table (read its fields where they are needed).
    @inline(__always)
    var kernelSet: UnsafePointer<ActiveKernels> {
        UnsafePointer<ActiveKernels>(bitPattern: activeSet.load(ordering: .acquiring)).unsafelyUnwrapped
    }

    /// Republishes `activeSet` after the table, the level or `rep` changed.
    func publishKernels() {
        let t = UnsafePointer<ActiveKernels>(bitPattern: tableBase.load(ordering: .acquiring)).unsafelyUnwrapped
        let set = t + (level.load(ordering: .relaxed) &* 2 &+ rep.load(ordering: .relaxed))
        activeSet.store(UInt(bitPattern: set), ordering: .releasing)
    }

    /// Republishes `linearSplitMin` after `workers` or `splitMin` changed.
    func publishSplit() {
        let w = workers.load(ordering: .relaxed)
        linearSplitMin.store(w > 1 ? max(splitMin.load(ordering: .relaxed), 64 << 10) : Int.max, ordering: .relaxed)
    }

    private init() {
        dmoverPrefetchStreams = KernelTuning.current.prefetchStreams
        dmoverXorGroupMinimum = KernelTuning.current.xorGroupMinimum
        dmoverCopyBackwardOnPageAlias = KernelTuning.current.copyBackwardOnPageAlias
        dmoverCRCPrefetchChain = KernelTuning.current.crcPrefetchChain
        dmoverCRCPrefetchMinimum = KernelTuning.current.crcPrefetchMinimum
        let table = SoftwareFunction.table
        let descs = UnsafeMutablePointer<dmover_algdesc>.allocate(capacity: table.count)
        for (i, f) in table.enumerated() {
            // StaticString storage is immortal: the name pointer stays valid.
            descs[i] = dmover_algdesc(dad_name: UnsafeRawPointer(f.name.utf8Start).assumingMemoryBound(to: CChar.self),
                                      dad_data: UnsafeMutableRawPointer(bitPattern: SoftwareFunction.tag(i, f)),
                                      dad_ninputs: Int32(f.inputs))
        }
        dmb = .allocate(capacity: 1)
        dmb.initialize(to: dmover_backend())
        dmb.pointee.dmb_name = UnsafePointer(strdup("swdmover"))
        dmb.pointee.dmb_speed = 1      // as NetBSD: any other backend that claims a speed wins
        dmb.pointee.dmb_algdescs = UnsafePointer(descs)
        dmb.pointee.dmb_nalgdescs = Int32(table.count)
        publishSplit()
    }

    private static let registered: Bool = {
        if let e = getenv("BSDSHIM_DMOVER_SWDMOVER"), String(cString: e) == "0" { return false }
        do { try BackendRegistry.register(shared.dmb, native: shared) } catch { return false }
        return true
    }()

    /// Registers the software backend once.
    static func ensureRegistered() { _ = registered }

    // MARK: - submission

    /// Whether a request without DMOVER_REQ_WAIT is small enough to run on
    /// the submitter's thread (a hand-off would cost more than the work).
    @inline(__always)
    func runsInline(_ dreq: UnsafeMutablePointer<dmover_request>) -> Bool {
        bytesMoved(dreq) <= inlineMax.load(ordering: .relaxed)
    }

    /// Validates and runs a request on this thread (light path first).
    @inline(__always)
    func run(_ dreq: UnsafeMutablePointer<dmover_request>) {
        RequestBlocks.markRunning(dreq)
        if !executeLinear(dreq, dreq.pointee.dreq_assignment) { execute(dreq) }
    }

    func submit(_ dreq: UnsafeMutablePointer<dmover_request>, wait: Bool) {
        // RequestProcessing.process runs synchronous requests without a callback itself;
        // what comes here has a callback or is large. A small one runs here
        // (no thread hand-off; its callback still goes to the completion thread).
        if wait || runsInline(dreq) {
            run(dreq)
            RequestProcessing.done(dreq, wake: false)      // a waiter is this very thread
            return
        }
        dreq.pointee.dreq_dmbq.tqe_next = nil
        queue.lock()
        if let t = tail { t.pointee.dreq_dmbq.tqe_next = dreq } else { head = dreq }
        tail = dreq
        if !threadStarted {
            threadStarted = LibraryThread.start(name: "swdmover", { [self] in run() })
            if !threadStarted {
                // No thread: do the work here rather than lose the request.
                head = nil
                tail = nil
                queue.unlock()
                execute(dreq)
                RequestProcessing.done(dreq)
                return
            }
        }
        queue.signal()
        queue.unlock()
    }

    func resetInChild() {
        queue.reset()
        head = nil
        tail = nil
        threadStarted = false
        pool.resetInChild()
    }

    /// Bytes a request touches (an estimate for the inline decision; bad shapes count as 0).
    private func bytesMoved(_ dreq: UnsafeMutablePointer<dmover_request>) -> Int {
        let r = dreq.pointee
        var n = 0
        switch r.dreq_outbuf_type {
        case DMOVER_BUF_LINEAR: n = Int(clamping: r.dreq_outbuf.dmbuf_linear.l_len)
        case DMOVER_BUF_UIO: n = Int(clamping: r.dreq_outbuf.dmbuf_uio?.pointee.uio_resid ?? 0)
        default:
            if let inb = r.dreq_inbuf {
                switch r.dreq_inbuf_type {
                case DMOVER_BUF_LINEAR: n = Int(clamping: inb[0].dmbuf_linear.l_len)
                case DMOVER_BUF_UIO: n = Int(clamping: inb[0].dmbuf_uio?.pointee.uio_resid ?? 0)
                default: break
                }
            }
        }
        let inputs = Int(r.dreq_session?.pointee.dses_ninputs ?? 0)
        return n.multipliedReportingOverflow(by: inputs + 1).overflow ? Int.max : n * (inputs + 1)
    }

    private func run() {
        queue.lock()
        while true {
            guard let d = head else {
                queue.wait()
                continue
            }
            head = d.pointee.dreq_dmbq.tqe_next
            if head == nil { tail = nil }
            queue.unlock()
            execute(d)
            RequestProcessing.done(d)
            queue.lock()
        }
    }

    // MARK: - execution

    /// Validates and runs a request, recording the result or the error in it.
    func execute(_ dreq: UnsafeMutablePointer<dmover_request>) {
        // Only the executing thread writes the flags of a running request.
        RequestBlocks.markRunning(dreq)
        guard let a = dreq.pointee.dreq_assignment?.pointee.das_algdesc?.pointee,
              let tag = a.dad_data, Int(bitPattern: tag) & 0xFF >= 1,
              Int(bitPattern: tag) & 0xFF <= SoftwareFunction.table.count
        else {
            RequestProcessing.fail(dreq, EINVAL)
            return
        }
        let function = SoftwareFunction.table[Int(bitPattern: tag) & 0xFF - 1]
        let k = kernels
        let op: Operation
        do { op = try Operation.make(dreq, function, ntThreshold: ntThreshold(function.kind, function.inputs, k)) } catch {
            RequestProcessing.fail(dreq, error.rawValue)
            return
        }
        var result: UInt64
        let workers = self.workers.load(ordering: .relaxed)
        if workers > 1 && op.length >= max(splitMin.load(ordering: .relaxed), 64 << 10),
           let r = pool.run(op, k, parts: workers) {
            result = r
        } else {
            result = Self.runPart(op, k, from: 0, to: op.length, first: true)
        }
        // Write results into the immediate, least-significant byte first.
        switch function.kind {
        case .crc32c, .copyCRC32C:
            let crc = ~UInt32(truncatingIfNeeded: result)
            withUnsafeMutableBytes(of: &dreq.pointee.dreq_immediate) {
                $0.storeBytes(of: crc.littleEndian, as: UInt32.self)
            }
        case .compare:
            result = CompareFunction.immediate(result)
            withUnsafeMutableBytes(of: &dreq.pointee.dreq_immediate) {
                $0.storeBytes(of: result.littleEndian, as: UInt64.self)
            }
        default:
            break
        }
    }

    /// Runs bytes [from, to) of an operation; `first` says whether the part starts the
    /// buffer (CRC parts after the first start from register 0 and are joined later).
    static func runPart(_ op: Operation, _ k: ActiveKernels, from: Int, to: Int, first: Bool) -> UInt64 {
        switch op.function.kind {
        case .zero: return ZeroFunction.run(op, k, from: from, to: to)
        case .fill8: return Fill8Function.run(op, k, from: from, to: to)
        case .copy: return CopyFunction.run(op, k, from: from, to: to)
        case .xor: return XORFunction.run(op, k, from: from, to: to)
        case .crc32c:
            return CRC32CFunction.run(op, k, initial: first ? CRC32CFunction.initial(op) : 0, from: from, to: to)
        case .copyCRC32C:
            return CopyCRC32CFunction.run(op, k, initial: first ? CRC32CFunction.initial(op) : 0, from: from, to: to)
        case .compare: return CompareFunction.run(op, k, from: from, to: to)
        }
    }
}
