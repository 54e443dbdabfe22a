// SPDX-License-Identifier: BSD-2-Clause
// Config.swift: the software backend's tunables as a Swift API (the values live
// in the backend object, read per request without a global access).

import Glibc

/// Tunables of the software backend (Swift API; environment variables give the defaults).
public enum SoftwareBackendConfig {
    /// Default split threshold (tuned with dmover-bench on a 2-core VM).
    static let defaultSplitMinimum = 4 << 20
    private static var b: SoftwareBackend { SoftwareBackend.shared }

    /// Threads one large request is split across (1 = no splitting). Default: one per CPU
    /// (BSDSHIM_DMOVER_THREADS).
    public static var workerThreads: Int {
        get { b.workers.load(ordering: .relaxed) }
        set { b.workers.store(min(max(1, newValue), WorkerPool.maxParts), ordering: .relaxed); b.publishSplit() }
    }
    /// Requests at least this long (bytes) are split (BSDSHIM_DMOVER_SPLIT_MIN, default 4 MiB).
    public static var splitMinimum: Int {
        get { b.splitMin.load(ordering: .relaxed) }
        set { b.splitMin.store(max(0, newValue), ordering: .relaxed); b.publishSplit() }
    }
    /// Outputs at least this long use non-temporal stores (BSDSHIM_DMOVER_NT_MIN; default
    /// from the CPU, see `KernelTuning`).
    public static var nonTemporalMinimum: Int {
        get { b.ntMin.load(ordering: .relaxed) }
        set { b.ntMin.store(max(0, newValue), ordering: .relaxed) }
    }
    /// When the kernels fill with rep stosb, zero and fill8 use non-temporal
    /// stores only from the larger of this and `nonTemporalMinimum`
    /// (BSDSHIM_DMOVER_FILL_NT_MIN, default half the L3 cache); other kernels
    /// use `nonTemporalMinimum` for them too.
    public static var fillNonTemporalMinimum: Int {
        get { b.fillNTMin.load(ordering: .relaxed) }
        set { b.fillNTMin.store(max(0, newValue), ordering: .relaxed) }
    }
    /// When the kernels copy with rep movsb, copy uses non-temporal stores
    /// only from the larger of this and `nonTemporalMinimum`
    /// (BSDSHIM_DMOVER_COPY_NT_MIN; default from the CPU: the L3 share per
    /// thread on AMD, `nonTemporalMinimum` elsewhere); other kernels use
    /// `nonTemporalMinimum` for it too.
    public static var copyNonTemporalMinimum: Int {
        get { b.copyNTMin.load(ordering: .relaxed) }
        set { b.copyNTMin.store(max(0, newValue), ordering: .relaxed) }
    }
    /// Asynchronous requests moving at most this many bytes (all buffers) run on
    /// the submitting thread; the callback still runs on the completion thread
    /// (BSDSHIM_DMOVER_INLINE_MAX, default 64 KiB).
    public static var inlineMaximum: Int {
        get { b.inlineMax.load(ordering: .relaxed) }
        set { b.inlineMax.store(max(0, newValue), ordering: .relaxed) }
    }
}
