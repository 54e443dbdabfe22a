// SPDX-License-Identifier: BSD-2-Clause
// Device.swift: one /dev/dmover session descriptor: the socket pair, the function, the in-flight counters.

import BSDSystem
import CBSDShim
import CBSDShimABI
import Glibc
import Synchronization

/// Record sizes and limits of the /dev/dmover protocol.
enum DeviceProtocol {
    static let requestSize = MemoryLayout<dmio_usrreq>.stride        // 40 on LP64
    static let responseSize = MemoryLayout<dmio_usrresp>.stride      // 16
    static let maxInFlight = Int32(DMIO_NREQS_MAX)
    /// DMIO_SETFUNC: Linux _IOW('D', 0, struct dmio_setfunc), and NetBSD's encoding.
    static let setFuncLinux: UInt = 0x4040_4400
    static let setFuncNetBSD: UInt = 0x8040_4400
    static let fionbio: UInt = 0x5421
    static let fioasync: UInt = 0x5452
}

/// A descriptor's state. The client holds one end of a stream socket pair; a
/// library thread (DeviceServer) serves the other. Retained by the descriptor
/// table and by the serving thread; freed when both let go.
public final class Device: @unchecked Sendable {
    let clientFD: Int32
    let serverFD: Int32
    /// The socket inode of the client end: tells our descriptor from a reused number.
    let clientInode: UInt
    /// The process that opened the descriptor: the only one whose requests run.
    let opener: pid_t
    /// The session (as its address) once DMIO_SETFUNC succeeded; 0 before.
    let sessionAddress = Atomic<Int>(0)
    /// Guards DMIO_SETFUNC (set once).
    private let setFuncLock = UnsafeMutablePointer<UInt32>.allocate(capacity: 1)
    /// Requests written through dmover_write, responses read through dmover_read
    /// (both wrap; the difference is what is in flight). `readCount` doubles as
    /// the futex word writers wait on.
    let written: UnsafeMutablePointer<Int32>
    let readCount: UnsafeMutablePointer<Int32>
    let waitingWriters = Atomic<Int>(0)
    /// eventfd readable exactly while fewer than DMIO_NREQS_MAX requests are in
    /// flight (what kevent's EVFILT_WRITE watches). Made on the first EVFILT_WRITE
    /// registration, closed when the serving thread exits; -1 otherwise.
    private let writeReadyFD = Atomic<Int32>(-1)
    /// What writeReadyFD shows now (1 readable, 0 drained); flipped under writeReadyLock.
    private let writeReadyShown = Atomic<Int>(0)
    private let writeReadyLock = UnsafeMutablePointer<UInt32>.allocate(capacity: 1)
    /// Sends completed by dmover_write (requests) and by the server (responses): what Spin watches.
    let requestSends = Atomic<Int>(0)
    let responseSends = Atomic<Int>(0)
    /// Set by the serving thread before it closes its end (a fork child must not close a reused number).
    let serverClosed = Atomic<Bool>(false)
    /// busy: the server runs a batch or is exiting, or a closer shuts the socket
    /// down; closing: dmover_close was called (later batches are abandoned);
    /// exited: the serving thread released everything. A futex word.
    let state: UnsafeMutablePointer<Int32>
    static let busy: Int32 = 1
    static let closing: Int32 = 2
    static let exited: Int32 = 4
    /// The request the server reuses for every record (allocated with the session).
    var request: UnsafeMutablePointer<dmover_request>? = nil
    var ninputs = 0

    init(clientFD: Int32, serverFD: Int32, inode: UInt) {
        self.clientFD = clientFD
        self.serverFD = serverFD
        clientInode = inode
        opener = getpid()
        setFuncLock.initialize(to: 0)
        written = .allocate(capacity: 1)
        written.initialize(to: 0)
        readCount = .allocate(capacity: 1)
        readCount.initialize(to: 0)
        state = .allocate(capacity: 1)
        state.initialize(to: 0)
        writeReadyLock.initialize(to: 0)
    }

    deinit {
        closeWriteReadiness()
        writeReadyLock.deallocate()
        setFuncLock.deallocate()
        written.deallocate()
        readCount.deallocate()
        state.deallocate()
    }

    /// The session, once set (acquire: `request` and `ninputs` are visible).
    @inline(__always) var session: UnsafeMutablePointer<dmover_session>? {
        UnsafeMutablePointer(bitPattern: sessionAddress.load(ordering: .acquiring))
    }

    /// Requests written and not yet read (through the entry points).
    @inline(__always) var inFlight: Int32 {
        cbsdshim_atomic_load_int(written) &- cbsdshim_atomic_load_int(readCount)
    }

    /// DMIO_SETFUNC: creates the session for `name` once.
    /// - Throws: EBUSY (already set), ESRCH, ENXIO, ENOMEM.
    func setFunction(_ name: UnsafePointer<CChar>) throws(Errno) {
        cbsdshim_lock(setFuncLock)
        defer { cbsdshim_unlock(setFuncLock) }
        if sessionAddress.load(ordering: .relaxed) != 0 { throw .busy }
        let dses = try Session.create(name)
        let dreq: UnsafeMutablePointer<dmover_request>
        do { dreq = try Request.alloc(dses, inbuf: nil) } catch {
            Session.destroy(dses)
            throw error
        }
        request = dreq
        ninputs = Int(dses.pointee.dses_ninputs)
        sessionAddress.store(Int(bitPattern: dses), ordering: .releasing)
    }

    /// Releases the session and the request (the serving thread, at the end).
    func releaseSession() {
        cbsdshim_lock(setFuncLock)
        if let dreq = request { Request.free(dreq) }
        request = nil
        if let dses = session { Session.destroy(dses) }
        sessionAddress.store(0, ordering: .releasing)
        cbsdshim_unlock(setFuncLock)
    }

    /// `count` responses were read: wake writers waiting for room.
    @inline(__always) func responsesRead(_ count: Int32) {
        _ = cbsdshim_atomic_fetch_add_int(readCount, count)
        if waitingWriters.load(ordering: .acquiring) != 0 { cbsdshim_futex_wake_all(readCount) }
        updateWriteReadiness()
    }

    /// Makes writeReadyFD show whether there is room, after `written` or
    /// `readCount` moved. Costs two loads unless the answer flips. The flipper
    /// re-reads the counts after each flip (all sequentially consistent), so a
    /// concurrent change either sees the new `writeReadyShown` and flips it back
    /// itself, or is seen by the flipper's re-read: the eventfd never ends wrong.
    @inline(__always) func updateWriteReadiness() {
        if writeReadyFD.load(ordering: .sequentiallyConsistent) < 0 { return }
        let room = inFlight < DeviceProtocol.maxInFlight ? 1 : 0
        if room == writeReadyShown.load(ordering: .sequentiallyConsistent) { return }
        cbsdshim_lock(writeReadyLock)
        syncWriteReadiness()
        cbsdshim_unlock(writeReadyLock)
    }

    /// Flips the eventfd until it matches the counts. Under writeReadyLock.
    private func syncWriteReadiness() {
        let fd = writeReadyFD.load(ordering: .sequentiallyConsistent)
        if fd < 0 { return }
        while true {
            let now = inFlight < DeviceProtocol.maxInFlight ? 1 : 0
            if now == writeReadyShown.load(ordering: .sequentiallyConsistent) { break }
            var v: UInt64 = 1
            if now == 1 {
                _ = Glibc.write(fd, &v, 8)
            } else {
                _ = Glibc.read(fd, &v, 8)
            }
            writeReadyShown.store(now, ordering: .sequentiallyConsistent)
        }
    }

    /// A new close-on-exec descriptor polling readable while there is room
    /// (for EVFILT_WRITE), or -1 once the serving thread is gone.
    func writeReadinessSource() -> Int32 {
        cbsdshim_lock(writeReadyLock)
        defer { cbsdshim_unlock(writeReadyLock) }
        if serverClosed.load(ordering: .acquiring) { return -1 }
        var fd = writeReadyFD.load(ordering: .sequentiallyConsistent)
        if fd < 0 {
            fd = eventfd(0, Int32(EFD_CLOEXEC | EFD_NONBLOCK))     // drained: shown = 0
            if fd < 0 { return -1 }
            writeReadyFD.store(fd, ordering: .sequentiallyConsistent)
            syncWriteReadiness()
        }
        return cbsdshim_fcntl_int(fd, 1030 /* F_DUPFD_CLOEXEC */, 0)
    }

    /// Called by the serving thread as it exits (knotes keep their own copies).
    func closeWriteReadiness() {
        cbsdshim_lock(writeReadyLock)
        let fd = writeReadyFD.exchange(-1, ordering: .sequentiallyConsistent)
        if fd >= 0 { FileDescriptorOps.close(fd) }
        cbsdshim_unlock(writeReadyLock)
    }
}
