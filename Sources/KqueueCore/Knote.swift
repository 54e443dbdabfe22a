// SPDX-License-Identifier: BSD-2-Clause
// Knote.swift: one registration (ident, filter) in one kqueue, BSD's struct knote.

import CBSDShimABI

/// Key of a knote in its kqueue: BSD identifies a knote by (ident, filter).
struct KnoteKey: Hashable {
    let ident: UInt
    let filter: Int16
}

/// One registration. Every mutable field is protected by the owning kqueue's
/// lock; that lock is what guarantees exclusive access, so the fields opt out
/// of Swift's dynamic exclusivity checks (`@exclusivity(unchecked)`), which
/// cost more than the kevent() work itself.
///
/// Common code (``EpollKqueue``) owns the life cycle and the EV_ONESHOT / EV_CLEAR /
/// EV_DISPATCH / EV_DISABLE state machine; the ``Filter`` owns what the event means.
///
/// Knotes are recycled through their kqueue's spare list (``EpollKqueue/makeKnote``),
/// so `configure(change:ops:)` must reset every stored property; a test
/// compares a recycled knote with a fresh one field by field.
final class Knote {
    // Declaration order is memory order: what EV_DELETE and the routing of an
    // epoll event read comes first, in as few cache lines as fit (with 10,000
    // knotes they are not in the L1 cache, and a miss costs more than the
    // change's own work); the rest follows.

    @exclusivity(unchecked) private(set) var ident: UInt
    @exclusivity(unchecked) private(set) var filter: Int16
    /// EV_DISABLE'd (or EV_DISPATCH'ed after a delivery).
    @exclusivity(unchecked) var disabled: Bool
    /// In the kqueue's userspace active queue (user events, timers, always-ready files).
    @exclusivity(unchecked) var queued: Bool

    // MARK: - Routing of epoll events (knotes backed by a descriptor)

    /// Slot in the kqueue's routing table and the generation stamped into
    /// epoll_data: an event whose generation does not match is stale and dropped.
    @exclusivity(unchecked) var slot: UInt32
    @exclusivity(unchecked) var generation: UInt32
    /// The descriptor filters' registration (``DescriptorFilter``).
    @exclusivity(unchecked) var fd: Descriptor
    /// The knote's inotify watches (``VnodeSource``).
    @exclusivity(unchecked) var watch: Watches
    /// The next knote on the kqueue's spare stack (``EpollKqueue/spareKnotes``),
    /// while this one is a spare; the stack owns it. Not `next`: a scan of
    /// the active queue holds a queued knote's `next` while a delivery may
    /// drop that knote.
    @exclusivity(unchecked) var nextSpare: Unmanaged<Knote>?

    /// The flags of the first EV_ADD (EV_ADD, EV_ONESHOT, EV_CLEAR, EV_DISPATCH,
    /// EV_RECEIPT...), returned with every event as BSD and libkqueue do.
    @exclusivity(unchecked) var flags: UInt16
    /// fflags and data given by the caller (kn_sfflags / kn_sdata).
    @exclusivity(unchecked) var sfflags: UInt32
    @exclusivity(unchecked) var sdata: Int
    @exclusivity(unchecked) var udata: UnsafeMutableRawPointer?
    /// Filter-private state (BSD's kn_hookid): e.g. "triggered" for EVFILT_USER.
    @exclusivity(unchecked) var hookID: Int
    /// The stamp of the kevent() call (``EpollKqueue/lastStamp``) that last returned this knote.
    @exclusivity(unchecked) var collectedIn: UInt64

    @exclusivity(unchecked) private(set) var ops: any Filter
    /// Output fflags and data accumulated since the last delivery.
    @exclusivity(unchecked) var fflags: UInt32
    @exclusivity(unchecked) var data: Int
    /// Filter-private: the last reported data of a file epoll cannot watch,
    /// a pipe's capacity, the shared signal count seen (BSD's kn_sdata use).
    @exclusivity(unchecked) var lastData: Int

    // MARK: - Userspace active queue links

    @exclusivity(unchecked) var next: Knote?
    @exclusivity(unchecked) unowned(unsafe) var prev: Knote?

    /// EVFILT_TIMER's schedule (``TimerFilter``, ``TimerSource``).
    @exclusivity(unchecked) var timer: Timer

    /// Writes each field once (no defaults overwritten): EV_ADD of a new
    /// descriptor runs this; ``configure(change:ops:)`` is its recycling twin.
    init(change: kevent, ops: any Filter) {
        ident = change.ident
        filter = change.filter
        self.ops = ops
        flags = change.flags & ~UInt16(EV_DELETE | EV_ENABLE | EV_DISABLE | EV_SYSFLAGS)
        sfflags = change.fflags
        sdata = change.data
        udata = change.udata
        fflags = 0
        data = 0
        hookID = 0
        disabled = false
        slot = .max
        generation = 0
        fd = Descriptor()
        lastData = -1
        watch = Watches()
        nextSpare = nil
        queued = false
        collectedIn = 0
        next = nil
        prev = nil
        timer = Timer()
    }

    /// Makes this knote the registration described by `change`, with every
    /// other field as a new knote has it. The filter is compared before it
    /// is stored: a knote recycled for the same filter (the common churn)
    /// skips the retain/release pair of the existential.
    func configure(change: kevent, ops: any Filter) {
        ident = change.ident
        filter = change.filter
        if self.ops !== ops { self.ops = ops }
        flags = change.flags & ~UInt16(EV_DELETE | EV_ENABLE | EV_DISABLE | EV_SYSFLAGS)
        sfflags = change.fflags
        sdata = change.data
        udata = change.udata
        fflags = 0
        data = 0
        hookID = 0
        disabled = false
        slot = .max
        generation = 0
        fd = Descriptor()
        lastData = -1
        watch = Watches()
        nextSpare = nil
        queued = false
        collectedIn = 0
        next = nil
        prev = nil
        timer = Timer()
    }

    @inline(__always) func has(_ flag: Int32) -> Bool { flags & UInt16(flag) != 0 }

    /// The event as returned to the caller: ident, filter, udata, the registered
    /// flags and the given output flags/fflags/data.
    @inline(__always)
    func event(flags extra: UInt16 = 0, fflags: UInt32, data: Int) -> kevent {
        kevent(ident: ident, filter: filter, flags: flags | extra,
               fflags: fflags, data: data, udata: udata)
    }
}

extension Knote {
    /// A descriptor-backed knote's epoll registration, kept by its filter
    /// (the routing slot and generation are the engine's, in ``Knote``).
    struct Descriptor: Equatable {
        /// Which epoll set the descriptor is registered in (see ``EpollSet``), or nil.
        var epollSet: EpollSet?
        /// The registered epoll interest (re-armed on EV_ENABLE).
        var epollEvents: UInt32 = 0
        /// What kind of descriptor this is, learned lazily (see ``DescriptorKind``).
        var kind: DescriptorKind = .unknown
        /// A descriptor the knote owns and closes on detach (EVFILT_PROC's
        /// pidfd, a /dev/dmover readiness descriptor), or -1.
        var owned: Int32 = -1
    }

    /// Watch descriptors in the kqueue's inotify instance, or -1.
    struct Watches: Equatable {
        /// The knote's own file (EVFILT_VNODE; regular files at end of file,
        /// pipes waiting for NOTE_LOWAT space).
        var descriptor: Int32 = -1
        /// EVFILT_VNODE on a directory: its parent directory (where its own rmdir shows).
        var parent: Int32 = -1
    }

    /// A timer's place in its clock's ``TimerHeap``.
    struct Timer: Equatable {
        /// Next expiry, in nanoseconds of the timer's clock.
        var deadline: UInt64 = 0
        /// Period in nanoseconds; 0 for a timer that fires once.
        var period: UInt64 = 0
        /// Position in the timer heap, -1 when not scheduled.
        var heapIndex: Int = -1
        /// NOTE_ABSOLUTE timers run on CLOCK_REALTIME.
        var realtime = false
    }
}

/// The kinds of descriptor EVFILT_READ/EVFILT_WRITE need to tell apart to fill
/// in `data`. Learned on the first event, never at EV_ADD (which stays one syscall).
enum DescriptorKind: UInt8 {
    case unknown
    /// FIONREAD / SIOCOUTQ work (pipes, FIFOs, connected sockets, ttys).
    case stream
    /// A listening socket: data = pending connections.
    case listeningSocket
    /// A kqueue descriptor: data = pending events.
    case kqueue
    /// eventfd: data = 8 (one counter).
    case eventfd
    /// Write side of a pipe or FIFO: data = capacity - contents.
    case pipe
    /// Write side of a socket: data = SO_SNDBUF - SIOCOUTQ.
    case socket
    /// Anything else pollable: data = 0.
    case other
    /// Not pollable (regular files, directories): always ready, handled in userspace.
    case alwaysReady
    /// A pipe or FIFO end watched for the direction it cannot go (EVFILT_READ
    /// on a write end, EVFILT_WRITE on a read end): never fires, as on BSD.
    case otherDirection
    /// Write side of a /dev/dmover descriptor: epoll watches the readiness
    /// descriptor the knote owns (see BSDSystem's DeviceReadiness); data = room.
    case libraryReadiness
}

/// Intrusive FIFO of knotes with userspace-decided readiness (BSD's kq_head).
struct KnoteQueue {
    private(set) var head: Knote?
    private unowned(unsafe) var tail: Knote?
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    mutating func append(_ kn: Knote) {
        if kn.queued { return }
        kn.queued = true
        kn.next = nil
        kn.prev = tail
        if let t = tail { t.next = kn } else { head = kn }
        tail = kn
        count += 1
    }

    /// Takes `kn` off the queue if it is on it. The check is inline: every
    /// EV_DELETE asks, and nearly always of a knote that is not queued.
    @inline(__always)
    mutating func remove(_ kn: Knote) {
        if kn.queued { unlink(kn) }
    }

    private mutating func unlink(_ kn: Knote) {
        kn.queued = false
        let n = kn.next
        if let p = kn.prev { p.next = n } else { head = n }
        if let n { n.prev = kn.prev } else { tail = kn.prev }
        kn.next = nil
        kn.prev = nil
        count -= 1
    }

    mutating func removeAll() {
        while let h = head { remove(h) }
    }
}
