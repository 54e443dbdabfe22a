// SPDX-License-Identifier: BSD-2-Clause
// DeviceIO.swift: the descriptor's entry points (open, ioctl, NetBSD-exact read and write, close).

import BSDSystem
import CBSDShim
import CBSDShimABI
import Glibc
import Synchronization

/// /dev/dmover on Linux. The corresponding C functions are `dmover_open`,
/// `dmover_ioctl`, `dmover_read`, `dmover_write`, `dmover_writable` and `dmover_close`.
public enum DmoverDevice {
    /// Opens a session descriptor.
    /// - Parameter flags: open(2) flags; O_NONBLOCK and O_CLOEXEC are honoured,
    ///   O_DIRECTORY, O_PATH and O_TMPFILE are EINVAL, the rest is ignored.
    /// - Throws: EINVAL, EMFILE, ENFILE, ENOMEM.
    public static func open(flags: Int32) throws(Errno) -> Int32 {
        if flags & (O_DIRECTORY | cbsdshim_O_PATH | cbsdshim_O_TMPFILE) != 0 { throw .invalidArgument }
        DmoverFork.install()
        let socket = try ReadinessSocket.make(closeOnExec: flags & O_CLOEXEC != 0, nonBlocking: flags & O_NONBLOCK != 0)
        let identity: FileDescriptorOps.Identity
        do { identity = try FileDescriptorOps.identity(socket.client) } catch {
            FileDescriptorOps.close(socket.client)
            socket.closePeer()
            throw error
        }
        nameSession(socket)
        let device = DmioState.make(socket, inode: identity.inode)
        guard DeviceTable.insert(device) else {
            FileDescriptorOps.close(socket.client)
            device.retire()
            throw .tooManyOpenFiles
        }
        return socket.client
    }

    /// Sessions named so far (makes each name unique in the process).
    private static let named = Atomic<Int>(0)

    /// Names the socket "bsdshim-dmover/<pid>/<n>" (abstract): the preload
    /// library of a program that inherits it across exec knows it by that
    /// prefix for a session left behind (CBSDShimPreload's
    /// find_inherited_sessions). A name can be taken only by an earlier
    /// process with the same pid whose socket lives on: the next number is
    /// tried. Unnamed if none can be had (it then is a plain socket to such
    /// a program).
    private static func nameSession(_ socket: ReadinessSocket) {
        for _ in 0..<4 {
            let n = named.add(1, ordering: .relaxed).newValue
            do throws(Errno) { try socket.name("bsdshim-dmover/\(DmoverFork.pid)/\(n)") } catch {
                if error.rawValue == EADDRINUSE { continue }
                return
            }
            return
        }
    }

    /// The descriptor's ioctl: DMIO_SETFUNC (both encodings), FIONBIO,
    /// FIOASYNC, and the generic FIOCLEX and FIONCLEX.
    /// - Throws: EBADF, EFAULT, EBUSY, ESRCH, ENXIO, ENOMEM, ENOTTY.
    public static func ioctl(_ fd: Int32, _ cmd: UInt, _ arg: UnsafeMutableRawPointer?) throws(Errno) {
        let found: Void? = try DeviceTable.with(fd) { (d) throws(Errno) in
            switch cmd {
            case DeviceProtocol.setFuncLinux, DeviceProtocol.setFuncNetBSD:
                var name = dmio_setfunc()
                let ok = withUnsafeMutableBytes(of: &name) {
                    UserMemory.copyIn($0.baseAddress!, from: arg, count: Int(DMIO_MAX_FUNCNAME))
                }
                guard ok else { throw .badAddress }
                withUnsafeMutableBytes(of: &name.dsf_name) { $0[Int(DMIO_MAX_FUNCNAME) - 1] = 0 }
                try withUnsafeBytes(of: &name) { (p) throws(Errno) in
                    try d.setFunction(p.baseAddress!.assumingMemoryBound(to: CChar.self))
                }
            case DeviceProtocol.fionbio, DeviceProtocol.fioasync:
                var on: Int32 = 0
                guard UserMemory.copyIn(&on, from: arg, count: MemoryLayout<Int32>.size) else { throw .badAddress }
                if cmd == DeviceProtocol.fioasync { return }        // accepted; does nothing (as NetBSD)
                try FileDescriptorOps.setNonBlocking(fd, on != 0)
            case DeviceProtocol.fioclex, DeviceProtocol.fionclex:
                // The generic ioctls every file takes (NetBSD's sys_ioctl,
                // Linux's do_vfs_ioctl): close-on-exec of this descriptor only.
                try FileDescriptorOps.fcntl(fd, F_SETFD, cmd == DeviceProtocol.fioclex ? FD_CLOEXEC : 0)
            default:
                throw .notTTY
            }
        }
        if found == nil { throw .badFileDescriptor }
    }

    /// Writes whole request records; NetBSD's semantics (see dmover_io.h).
    /// Every record is copied in and run before this returns.
    /// - Parameter tracked: the caller (the preload library) returned fd itself
    ///   and saw every close of it: the identity check is skipped.
    /// - Throws: EBADF, EINVAL, ENXIO, EFAULT, EWOULDBLOCK, EINTR.
    public static func write(_ fd: Int32, _ buf: UnsafeRawPointer?, _ count: Int, tracked: Bool = false) throws(Errno) -> Int {
        let r: Int? = tracked ? try DeviceTable.withTracked(fd) { (d) throws(Errno) in
                                    if !d.tokenCarries.load(ordering: .relaxed) { d.tokenCarries.store(true, ordering: .relaxed) }
                                    return try write(d, fd, buf, count)
                                }
                              : try DeviceTable.with(fd) { (d) throws(Errno) in try write(d, fd, buf, count) }
        guard let r else { throw .badFileDescriptor }
        return r
    }

    private static func write(_ d: DmioState, _ fd: Int32, _ buf: UnsafeRawPointer?, _ count: Int) throws(Errno) -> Int {
        let size = DeviceProtocol.requestSize
        // A count above SSIZE_MAX arrives negative: EINVAL, as NetBSD's sys_write.
        if count < 0 || count % size != 0 { throw .invalidArgument }
        if d.session == nil { throw .noDevice }
        if count == 0 { return 0 }
        guard let buf else { throw .badAddress }
        let start = d.current
        let records = Int32(count / size)
        var done: Int32 = 0
        while done < records {
            d.writeLock.lock()
            guard d.serves(since: start) else {
                d.writeLock.unlock()
                return try partial(Int(done) * size, or: .badFileDescriptor)
            }
            let seen = cbsdshim_atomic_load_int(d.readCount)
            let room = DeviceProtocol.maxInFlight - (cbsdshim_atomic_load_int(d.completed) &- seen)
            if room <= 0 {
                d.writeLock.unlock()
                if FileDescriptorOps.isNonBlocking(fd) { return try partial(Int(done) * size, or: .wouldBlock) }
                // NetBSD sleeps interruptibly (ERESTART): with nothing
                // written, a handler without SA_RESTART ends the write with
                // EINTR and one with it restarts it; with records written,
                // any handler ends it with their count (dofilewrite).
                d.waitingWriters.add(1, ordering: .sequentiallyConsistent)
                var signalled = false
                if d.inFlight >= DeviceProtocol.maxInFlight && d.serves(since: start) {
                    signalled = done > 0 ? Futex.waitUntilSignal(d.readCount, while: seen)
                                         : Futex.waitInterruptible(d.readCount, while: seen)
                }
                d.waitingWriters.subtract(1, ordering: .sequentiallyConsistent)
                if signalled { return try partial(Int(done) * size, or: .interrupted) }
                continue
            }
            let k = Int(min(room, records - done))
            let from = buf + Int(done) * size
            // Copy-in, as dmio_write's uiomove: a bad buffer is EFAULT for the call.
            guard UserMemory.copyIn(d.records, from: from, count: k * size) else {
                d.writeLock.unlock()
                return try partial(Int(done) * size, or: .badAddress)
            }
            run(d, count: k, copiedFrom: from)
            d.writeLock.unlock()
            if d.waitingReaders.load(ordering: .sequentiallyConsistent) != 0 { Futex.wakeAll(d.completed) }
            d.updateReadiness()
            done += Int32(k)
        }
        return count
    }

    /// Runs the k records copied to d.records and appends their responses to
    /// the ring. Under writeLock, with room for k.
    private static func run(_ d: DmioState, count k: Int, copiedFrom client: UnsafeRawPointer) {
        let foreign = DmoverFork.pid != d.opener
        // Slots past `completed` are free (room was checked) and no reader
        // looks at them: when the k slots do not wrap, the responses are
        // built in the ring itself and published by the count below.
        let first = cbsdshim_atomic_load_int(d.completed)
        let slots = Int(DeviceProtocol.maxInFlight)
        let at = Int(first) & (slots - 1)
        let direct = at + k <= slots
        let out = direct ? d.ring + at : d.responses
        for i in 0..<k {
            let id = (d.records + i * DeviceProtocol.requestSize).load(as: dmio_usrreq.self).req_id
            out[i] = dmio_usrresp(resp_id: id, resp_error: foreign ? EPERM : -1,     // -1: to run
                                  resp_immediate: (0, 0, 0, 0, 0, 0, 0, 0))
        }
        if !foreign, let session = d.session, let dreq = d.request {
            d.batch.run(UnsafeRawPointer(d.records), count: k, copiedFrom: client, responses: out, session: session,
                        request: dreq, ninputs: d.ninputs)
        }
        if !direct { for i in 0..<k { d.ring[(at &+ i) & (slots - 1)] = out[i] } }
        _ = cbsdshim_atomic_fetch_add_int(d.completed, Int32(k))
    }

    /// Reads whole response records; NetBSD's semantics (a blocking read fills the whole count).
    /// - Parameter tracked: as for ``write(_:_:_:tracked:)``.
    /// - Throws: EBADF, EINVAL, ENXIO, EFAULT, EWOULDBLOCK, EINTR.
    public static func read(_ fd: Int32, _ buf: UnsafeMutableRawPointer?, _ count: Int, tracked: Bool = false) throws(Errno) -> Int {
        let r: Int? = tracked ? try DeviceTable.withTracked(fd) { (d) throws(Errno) in try read(d, fd, buf, count, carried: true) }
                              : try DeviceTable.with(fd) { (d) throws(Errno) in try read(d, fd, buf, count, carried: false) }
        guard let r else { throw .badFileDescriptor }
        return r
    }

    /// `carried`: the preload library's call, which may hide POLLIN by receiving the token into `buf` (DmioState.takeWithToken).
    private static func read(_ d: DmioState, _ fd: Int32, _ buf: UnsafeMutableRawPointer?, _ count: Int,
                             carried: Bool) throws(Errno) -> Int {
        let size = DeviceProtocol.responseSize
        // A count above SSIZE_MAX arrives negative: EINVAL, as NetBSD's sys_read (not 0, end of file).
        if count < 0 || count % size != 0 { throw .invalidArgument }
        if d.session == nil { throw .noDevice }
        if count == 0 { return 0 }
        guard let buf else { throw .badAddress }
        let want = count / size
        let slots = Int(DeviceProtocol.maxInFlight)
        let start = d.current
        var got = 0
        while got < want {
            d.readLock.lock()
            guard d.serves(since: start) else {
                d.readLock.unlock()
                return try partial(got * size, or: .badFileDescriptor)
            }
            let first = cbsdshim_atomic_load_int(d.readCount)
            let available = Int(cbsdshim_atomic_load_int(d.completed) &- first)
            if available > 0 && carried {
                let n: Int
                do throws(Errno) { n = try d.takeWithToken(into: buf + got * size, atMost: want - got) } catch {
                    d.readLock.unlock()
                    return try partial(got * size, or: error)
                }
                if n > 0 {
                    d.readLock.unlock()
                    if d.waitingWriters.load(ordering: .sequentiallyConsistent) != 0 { Futex.wakeAll(d.readCount) }
                    got += n
                    continue
                }
            }
            if available > 0 {
                let n = min(available, want - got)
                // Copy-out as uiomove: the ring's one or two runs to the caller, EFAULT if not writable.
                let at = Int(first) & (slots - 1)
                let run1 = min(n, slots - at)
                var ok = UserMemory.copyOut(buf + got * size, from: d.ring + at, count: run1 * size)
                if ok && n > run1 { ok = UserMemory.copyOut(buf + (got + run1) * size, from: d.ring, count: (n - run1) * size) }
                guard ok else {
                    d.readLock.unlock()
                    return try partial(got * size, or: .badAddress)
                }
                _ = cbsdshim_atomic_fetch_add_int(d.readCount, Int32(n))
                d.readLock.unlock()
                if d.waitingWriters.load(ordering: .sequentiallyConsistent) != 0 { Futex.wakeAll(d.readCount) }
                d.updateReadiness()
                got += n
                continue
            }
            d.readLock.unlock()
            if FileDescriptorOps.isNonBlocking(fd) { return try partial(got * size, or: .wouldBlock) }
            let seen = cbsdshim_atomic_load_int(d.completed)
            d.waitingReaders.add(1, ordering: .sequentiallyConsistent)
            var signalled = false
            if seen == cbsdshim_atomic_load_int(d.readCount) && d.serves(since: start) {
                // As the write's wait: with responses read, any handler ends the read with them.
                signalled = got > 0 ? Futex.waitUntilSignal(d.completed, while: seen)
                                    : Futex.waitInterruptible(d.completed, while: seen)
            }
            d.waitingReaders.subtract(1, ordering: .sequentiallyConsistent)
            if signalled { return try partial(got * size, or: .interrupted) }
        }
        return got * size
    }

    /// What a read or write that stops early returns: the bytes it moved,
    /// or `error` when it moved none.
    @inline(__always)
    private static func partial(_ bytes: Int, or error: Errno) throws(Errno) -> Int {
        if bytes > 0 { return bytes }
        throw error
    }

    // The three answers kevent needs about a dmover descriptor. The C ABI
    // (BSDShimExports) hands them to KqueueCore's DeviceReadiness: neither
    // core depends on the other.

    /// For kevent's EVFILT_WRITE: a close-on-exec copy of the descriptor's
    /// readiness eventfd, or -1 if `fd` is not a dmover descriptor.
    public static let writeReadinessSource: @convention(c) (Int32) -> Int32 = { fd in
        DeviceTable.with(fd) { d in d.writeReadinessSource() } ?? -1
    }

    /// For kevent's EVFILT_WRITE: requests that can be written now, or -1.
    public static let writeRoom: @convention(c) (Int32) -> Int = { fd in
        DeviceTable.with(fd) { d in max(0, Int(DeviceProtocol.maxInFlight - d.inFlight)) } ?? -1
    }

    /// For kevent's EVFILT_READ: bytes of responses ready, or -1.
    public static let responseBytes: @convention(c) (Int32) -> Int = { fd in
        DeviceTable.with(fd) { d in Int(d.inFlight) * DeviceProtocol.responseSize } ?? -1
    }

    /// For the preload library's dup, dup2, dup3 and fcntl(F_DUPFD...):
    /// `copy` now names the same open file as `fd` (same session).
    /// - Throws: EBADF (fd is not a session), EMFILE (copy out of range).
    public static func duplicated(_ fd: Int32, as copy: Int32) throws(Errno) {
        guard let ok = DeviceTable.withTracked(fd, { d in DeviceTable.attach(copy, to: d) }) else { throw .badFileDescriptor }
        if !ok { throw .tooManyOpenFiles }
    }

    /// For the preload library: descriptor fd was closed or replaced behind
    /// a call it sees (dup2 onto it, close_range): forgotten, and the
    /// session ends if it was the file's last.
    public static func forget(_ fd: Int32) {
        DeviceTable.detach(fd)
    }

    /// True if fewer than DMIO_NREQS_MAX requests are in flight.
    /// - Throws: EBADF.
    public static func writable(_ fd: Int32) throws(Errno) -> Bool {
        guard let w = DeviceTable.with(fd, { $0.inFlight < DeviceProtocol.maxInFlight }) else { throw .badFileDescriptor }
        return w
    }

    /// Closes the descriptor; the session ends with the file's last known
    /// descriptor (copies made with dup, dup2, F_DUPFD... share it): a batch
    /// being run finishes first; the caller's buffers are never touched once
    /// the session has ended. In a fork child only the child's copy of the
    /// descriptor is closed.
    /// - Throws: EBADF.
    public static func close(_ fd: Int32) throws(Errno) {
        guard DeviceTable.with(fd, { _ in true }) != nil else { throw .badFileDescriptor }
        DeviceTable.detach(fd)
        // The program's descriptor (not FileDescriptorOps.close, which is for
        // the library's own): an interposed close() may need to see it.
        try FileDescriptorOps.closeThroughLibc(fd)
    }
}
