// SPDX-License-Identifier: BSD-2-Clause
// DmioState.swift: one /dev/dmover session descriptor: its readiness socket, function, counters and response ring.

import BSDSystem
import CBSDShim
import CBSDShimABI
import Glibc
import Synchronization

/// Record sizes and limits of the /dev/dmover protocol.
enum DeviceProtocol {
    // Computed, not stored: a stored static is initialised lazily, and every
    // use from another function pays a call to its initialisation check.
    @inline(__always) static var requestSize: Int { MemoryLayout<dmio_usrreq>.stride }      // 40 on LP64
    @inline(__always) static var responseSize: Int { MemoryLayout<dmio_usrresp>.stride }    // 16
    @inline(__always) static var maxInFlight: Int32 { Int32(DMIO_NREQS_MAX) }
    /// DMIO_SETFUNC as dmover_io.h defines it, _IOW('D', 0, struct dmio_setfunc)
    /// (the macro does not import: the C helper encodes it), and NetBSD's encoding.
    static let setFuncLinux = cbsdshim_ioc_write(UInt32(UInt8(ascii: "D")), 0, UInt(MemoryLayout<dmio_setfunc>.size))
    static let setFuncNetBSD = UInt(DMIO_SETFUNC_NETBSD)
    static let fionbio = cbsdshim_FIONBIO
    static let fioasync = cbsdshim_FIOASYNC
    static let fioclex = cbsdshim_FIOCLEX
    static let fionclex = cbsdshim_FIONCLEX
}

/// A descriptor's state (NetBSD's struct dmio_state). Requests are copied in and run by the writing
/// thread inside dmover_write (NetBSD lets a request complete at any time
/// before its response is read), so nothing of the caller's request records,
/// input arrays or iovec arrays is read after the call returns; responses
/// wait in a ring of DMIO_NREQS_MAX until dmover_read takes them. The
/// descriptor itself is a ReadinessSocket that the kernel reports readable
/// while responses wait and writable while fewer than 64 are in flight.
/// DmioState objects are kept for reuse, never freed: an entry point racing
/// with dmover_close holds a valid object and finds it closed.
public final class DmioState: @unchecked Sendable {
    private(set) var socket: ReadinessSocket
    /// The socket inode of the client end: tells our descriptor from a reused number.
    private(set) var clientInode: UInt
    /// The process that opened the descriptor: the only one whose requests run.
    private(set) var opener: pid_t
    /// False once closed (entry points then see EBADF).
    let open = Atomic<Bool>(false)
    /// A count bumped each time the object is reused. A call compares it
    /// with what it started on (serves), so a call woken by the session's
    /// end, or racing with it, never serves the next session the object is given.
    private let incarnation = Atomic<Int>(0)
    /// Descriptors in DeviceTable that name this open file (the one that
    /// opened it and its copies: dup, dup2, F_DUPFD...); the session ends
    /// when the last goes, as a file does. Changed under DeviceTable's lock.
    var references = 0
    /// The session (as its address) once DMIO_SETFUNC succeeded; 0 before.
    let sessionAddress = Atomic<Int>(0)
    /// Guards DMIO_SETFUNC, submission (writers run one batch at a time, in
    /// order, into the ring) and close.
    let writeLock = FutexLock()
    /// Guards taking responses from the ring.
    let readLock = FutexLock()
    /// Responses completed and responses read (both wrap; completed − read is
    /// what is in flight, at most DMIO_NREQS_MAX). Futex words: readers wait
    /// on `completed`, writers on `readCount`.
    let completed = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
    let readCount = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
    let waitingWriters = Atomic<Int>(0)
    let waitingReaders = Atomic<Int>(0)
    /// Response r lives at ring[r % DMIO_NREQS_MAX].
    let ring = UnsafeMutablePointer<dmio_usrresp>.allocate(capacity: Int(DeviceProtocol.maxInFlight))
    /// What the socket shows now (bit 0 readable, bit 1 writable), changed under readinessLock.
    private let shown = Atomic<Int>(0)
    private let readinessLock = FutexLock()
    /// eventfd readable exactly while there is room, for kevent's EVFILT_WRITE
    /// (its data is the room); made on the first registration, -1 otherwise.
    private let writeReadyFD = Atomic<Int32>(-1)
    /// Set by the first write through the preload library, which then reads
    /// for the program: the readable token may carry bytes (the responses
    /// waiting), which a plain read() of a linked program must never see.
    let tokenCarries = Atomic<Bool>(false)
    /// The request reused for every record, allocated with the session.
    var request: UnsafeMutablePointer<dmover_request>? = nil
    var ninputs = 0
    /// Working storage of the batch being run (under writeLock).
    let batch = RecordBatch()
    let records: UnsafeMutableRawPointer
    let responses: UnsafeMutablePointer<dmio_usrresp>

    private init(_ socket: ReadinessSocket, inode: UInt) {
        self.socket = socket
        clientInode = inode
        opener = DmoverFork.pid
        completed.initialize(to: 0)
        readCount.initialize(to: 0)
        records = .allocate(byteCount: Int(DeviceProtocol.maxInFlight) * DeviceProtocol.requestSize, alignment: 16)
        responses = .allocate(capacity: Int(DeviceProtocol.maxInFlight))
    }

    // MARK: reuse

    nonisolated(unsafe) private static var spare: [DmioState] = []
    private static let spareLock = FutexLock()

    /// A device for a new descriptor (a spare one when there is one).
    static func make(_ socket: ReadinessSocket, inode: UInt) -> DmioState {
        spareLock.lock()
        let d = spare.popLast()
        spareLock.unlock()
        guard let d else {
            let n = DmioState(socket, inode: inode)
            n.open.store(true, ordering: .releasing)
            n.shown.store(2, ordering: .sequentiallyConsistent)
            return n
        }
        d.socket = socket
        d.clientInode = inode
        d.opener = DmoverFork.pid
        d.completed.pointee = 0
        d.readCount.pointee = 0
        d.tokenCarries.store(false, ordering: .relaxed)
        d.shown.store(2, ordering: .sequentiallyConsistent)
        d.incarnation.add(1, ordering: .relaxed)
        d.open.store(true, ordering: .releasing)
        return d
    }

    /// Ends the session: waits for a batch being run and a read in progress,
    /// releases the session and the library's socket end, keeps the object.
    func retire() {
        writeLock.lock()
        readLock.lock()
        open.store(false, ordering: .sequentiallyConsistent)
        if let dreq = request { RequestBlocks.free(dreq) }
        request = nil
        if let dses = session { SessionLifecycle.destroy(dses) }
        sessionAddress.store(0, ordering: .releasing)
        readinessLock.lock()
        let fd = writeReadyFD.exchange(-1, ordering: .sequentiallyConsistent)
        if fd >= 0 { FileDescriptorOps.close(fd) }
        readinessLock.unlock()
        socket.closePeer()
        // Sleepers see the device closed.
        _ = cbsdshim_atomic_fetch_add_int(completed, 0)
        Futex.wakeAll(completed)
        Futex.wakeAll(readCount)
        readLock.unlock()
        writeLock.unlock()
        Self.spareLock.lock()
        Self.spare.append(self)
        Self.spareLock.unlock()
    }

    /// In a fork child (single-threaded): locks held by the parent's other
    /// threads are free, and the responses waiting in the ring stay the
    /// parent's. The child's copy of the ring cannot be shared with the parent,
    /// so were the child to read them too, one request would be answered
    /// twice; the child reads only the answers to its own (refused) requests.
    func forkChild() {
        for l in [writeLock, readLock, readinessLock] { l.reset() }
        readCount.pointee = completed.pointee
        waitingReaders.store(0, ordering: .relaxed)
        waitingWriters.store(0, ordering: .relaxed)
    }

    static func resetInChild() { spareLock.reset() }

    // MARK: state

    /// The incarnation a call on this object starts on (see serves).
    @inline(__always) var current: Int { incarnation.load(ordering: .acquiring) }

    /// True if the object is open and still the session it was when a call
    /// took `current` (under writeLock or readLock: the session's end then
    /// waits for the call). Any of the file's descriptors may serve it: a
    /// call on a copy that was closed meanwhile goes on while another copy
    /// keeps the file open, as a system call on a file whose descriptor
    /// another thread closes.
    @inline(__always) func serves(since start: Int) -> Bool {
        open.load(ordering: .acquiring) && incarnation.load(ordering: .relaxed) == start
    }

    /// The session, once set (acquire: `request` and `ninputs` are visible).
    @inline(__always) var session: UnsafeMutablePointer<dmover_session>? {
        UnsafeMutablePointer(bitPattern: sessionAddress.load(ordering: .acquiring))
    }

    /// Requests written and not yet read.
    @inline(__always) var inFlight: Int32 {
        cbsdshim_atomic_load_int(completed) &- cbsdshim_atomic_load_int(readCount)
    }

    /// DMIO_SETFUNC: creates the session for `name` once.
    /// - Throws: EBUSY (already set), ESRCH, ENXIO, ENOMEM.
    func setFunction(_ name: UnsafePointer<CChar>) throws(Errno) {
        writeLock.lock()
        defer { writeLock.unlock() }
        if sessionAddress.load(ordering: .relaxed) != 0 { throw .busy }
        let dses = try SessionLifecycle.create(name)
        let dreq: UnsafeMutablePointer<dmover_request>
        do { dreq = try RequestBlocks.alloc(dses, inbuf: nil) } catch {
            SessionLifecycle.destroy(dses)
            throw error
        }
        request = dreq
        ninputs = Int(dses.pointee.dses_ninputs)
        sessionAddress.store(Int(bitPattern: dses), ordering: .releasing)
    }

    // MARK: readiness

    /// Makes the socket (and the EVFILT_WRITE eventfd) show the counts after
    /// they moved. Two loads unless the answer flips; the flipper stores the
    /// target `shown` before it moves the socket and re-reads the counts
    /// after each flip, so a concurrent change either sees the new `shown`
    /// and, if its counts differ, waits for the lock and flips it back itself,
    /// or is seen by the re-read. Either way a call returns only once the
    /// socket shows what its own change left.
    @inline(__always) func updateReadiness() {
        if want == shown.load(ordering: .sequentiallyConsistent) { return }
        readinessLock.lock()
        syncReadiness()
        readinessLock.unlock()
    }

    /// Under readLock, for a read of at most `atMost` responses into `buf`:
    /// when it takes every response waiting, receives the token into `buf`
    /// (the kernel's copy-out checks the token's length of it; the rest, if
    /// any, is checked as copyOut does), then copies the responses from the
    /// ring over those bytes, so hiding POLLIN is the read's only system call.
    /// Returns how many were taken (0: the read leaves responses waiting, or
    /// the token was not there: use the ring), or throws EFAULT (nothing taken;
    /// POLLIN is shown again).
    func takeWithToken(into buf: UnsafeMutableRawPointer, atMost: Int) throws(Errno) -> Int {
        readinessLock.lock()
        defer { readinessLock.unlock() }
        let was = shown.load(ordering: .sequentiallyConsistent)
        guard was & 1 != 0, open.load(ordering: .acquiring), DmoverFork.pid == opener else { return 0 }
        let first = cbsdshim_atomic_load_int(readCount)
        let k = Int(cbsdshim_atomic_load_int(completed) &- first)
        guard k > 0, k <= atMost else { return 0 }
        let bytes = k * DeviceProtocol.responseSize
        shown.store(was & ~1, ordering: .sequentiallyConsistent)       // before the receive, as in syncReadiness
        var taken = 0
        var fault = false
        do throws(Errno) {
            let checked = try socket.takeReadable(into: buf, count: bytes)
            if checked < bytes && !UserMemory.writable(buf + checked, count: bytes - checked) {
                fault = true
            } else {
                let slots = Int(DeviceProtocol.maxInFlight)
                let at = Int(first) & (slots - 1)
                let run1 = min(k, slots - at)
                memcpy(buf, ring + at, run1 * DeviceProtocol.responseSize)
                if k > run1 { memcpy(buf + run1 * DeviceProtocol.responseSize, ring, (k - run1) * DeviceProtocol.responseSize) }
                _ = cbsdshim_atomic_fetch_add_int(readCount, Int32(k))
                taken = k
            }
        } catch {
            // EFAULT: nothing taken. Anything else: the token was taken behind our back, the ring serves the read.
            fault = error == .badAddress
        }
        // Re-read the counts: shows POLLIN again if responses still wait
        // (EFAULT, or a writer appended meanwhile) and POLLOUT if room opened.
        syncReadiness()
        if fault { throw .badAddress }
        return taken
    }

    @inline(__always) private var want: Int {
        let n = inFlight
        return (n > 0 ? 1 : 0) | (n < DeviceProtocol.maxInFlight ? 2 : 0)
    }

    /// Under readinessLock. In a fork child the socket is the parent's too:
    /// left alone.
    private func syncReadiness() {
        if !open.load(ordering: .acquiring) || DmoverFork.pid != opener { return }
        while true {
            let now = want
            let was = shown.load(ordering: .sequentiallyConsistent)
            if now == was { break }
            // Store the target before the socket moves: a caller whose counts
            // moved meanwhile and that sees `shown` differ from them waits for
            // readinessLock and syncs again. Stored after, a reader taking the
            // responses of a token being sent would see the old `shown` equal
            // its counts, return, and leave the token showing nothing to read.
            shown.store(now, ordering: .sequentiallyConsistent)
            var done = now
            // POLLOUT is hidden before POLLIN shows and shown after POLLIN
            // hides: a poller woken by one flip never sees the other stale.
            let writableFlips = (now ^ was) & 2 != 0
            if writableFlips && now & 2 == 0 { showWritable(false) }
            if (now ^ was) & 1 != 0 {
                if !showReadable(now & 1 != 0) {
                    // The token could not be sent (memory pressure): POLLIN stays
                    // unshown, and the next read, write or close tries again.
                    done = (now & ~1) | (was & 1)
                }
            }
            if writableFlips && now & 2 != 0 { showWritable(true) }
            if done != now {
                shown.store(done, ordering: .sequentiallyConsistent)
                break
            }
        }
    }

    /// Shows or hides POLLOUT, and the EVFILT_WRITE eventfd with it.
    private func showWritable(_ on: Bool) {
        socket.setWritable(on)
        let fd = writeReadyFD.load(ordering: .sequentiallyConsistent)
        if fd >= 0 {
            if on { EventFD(fd: fd).signal() } else { EventFD(fd: fd).reset() }
        }
    }

    /// Shows or hides POLLIN. A token that cannot be sent is tried again at
    /// once a few times: a poller may be waiting for it.
    private func showReadable(_ on: Bool) -> Bool {
        for _ in 0..<3 {
            if on && tokenCarries.load(ordering: .relaxed) {
                if (try? socket.setReadable(copying: ring + waitingRun.at, count: waitingRun.count * DeviceProtocol.responseSize)) != nil {
                    return true
                }
            } else if socket.setReadable(on) {
                return true
            }
            CurrentThread.yield()
        }
        return false
    }

    /// The first contiguous run in the ring of the responses waiting. A
    /// carrying token holds a copy of them: a read that takes them all
    /// receives the token into its own buffer (takeWithToken), and the
    /// kernel's copy-out is that much of the buffer's check.
    private var waitingRun: (at: Int, count: Int) {
        let slots = Int(DeviceProtocol.maxInFlight)
        let at = Int(cbsdshim_atomic_load_int(readCount)) & (slots - 1)
        return (at, min(Int(inFlight), slots - at))
    }

    /// A new close-on-exec descriptor polling readable while there is room
    /// (for EVFILT_WRITE), or -1 once closed.
    func writeReadinessSource() -> Int32 {
        readinessLock.lock()
        defer { readinessLock.unlock() }
        if !open.load(ordering: .acquiring) { return -1 }
        var fd = writeReadyFD.load(ordering: .sequentiallyConsistent)
        if fd < 0 {
            guard let ready = try? EventFD.create() else { return -1 }
            fd = ready.fd
            if shown.load(ordering: .sequentiallyConsistent) & 2 != 0 { ready.signal() }
            writeReadyFD.store(fd, ordering: .sequentiallyConsistent)
            syncReadiness()
        }
        return (try? FileDescriptorOps.fcntl(fd, F_DUPFD_CLOEXEC, 0)) ?? -1
    }
}
