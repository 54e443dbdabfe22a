// SPDX-License-Identifier: BSD-2-Clause
// FilterTable.swift: the one list of filters bsdshim implements (BSD's sysfilt_ops).

import CBSDShimABI

/// Maps a filter number (EVFILT_*) to its implementation. Adding a filter is
/// one new file under Filters/ plus one row here (its constant and its case):
/// the filter tells the engine what it must know through ``Filter``'s
/// requirements, and keeps whatever kernel resources it needs per kqueue in a
/// ``KqueueSource`` of its own (beside it, as Filters/<Name>Source.swift),
/// which the engine finds and routes to without being told of it.
enum FilterTable {
    static let read = ReadFilter()
    static let write = WriteFilter()
    static let timer = TimerFilter()
    static let user = UserFilter()
    static let proc = ProcFilter()
    static let vnode = VnodeFilter()
    static let signal = SignalFilter()
    static let except = ExceptFilter()
    static let fs = FsFilter()

    @inline(__always)
    static func ops(for filter: Int16) -> (any Filter)? {
        switch Int32(filter) {
        case EVFILT_READ: return read
        case EVFILT_WRITE: return write
        case EVFILT_TIMER: return timer
        case EVFILT_USER: return user
        case EVFILT_PROC: return proc
        case EVFILT_VNODE: return vnode
        case EVFILT_SIGNAL: return signal
        case EVFILT_EXCEPT: return except
        case EVFILT_FS: return fs
        default: return nil
        }
    }

    /// The filters whose ident is a descriptor (``Filter/identIsDescriptor``),
    /// built once: every close() under the preload library looks them up.
    /// (BSD numbers its filters from -1 down; none reaches -128.)
    static let descriptorFilters: [Int16] = (Int16(-128)...(-1)).reversed().filter {
        ops(for: $0)?.identIsDescriptor == true
    }

    /// Filters of the BSD numbering that bsdshim does not implement (yet, or
    /// ever on Linux): registering them fails with ENOSYS, not EINVAL.
    static func isKnown(_ filter: Int16) -> Bool {
        filter < 0 && filter >= -Int16(EVFILT_SYSCOUNT)
    }
}
