// SPDX-License-Identifier: BSD-2-Clause
// DeviceIO.swift: the descriptor's entry points (open, ioctl, NetBSD-exact read and write, close).

import BSDSystem
import CBSDShim
import CBSDShimABI
import Glibc

/// /dev/dmover on Linux. The corresponding C functions are `dmover_open`,
/// `dmover_ioctl`, `dmover_read`, `dmover_write`, `dmover_writable` and `dmover_close`.
public enum DmoverDevice {
    /// Opens a session descriptor.
    /// - Parameter flags: open(2) flags; O_NONBLOCK and O_CLOEXEC are honoured,
    ///   O_DIRECTORY, O_PATH and O_TMPFILE are EINVAL, the rest is ignored.
    /// - Throws: EINVAL, EMFILE, ENFILE, ENOMEM, EAGAIN (no thread).
    public static func open(flags: Int32) throws(Errno) -> Int32 {
        // O_PATH and __O_TMPFILE: the Glibc module lacks them (_GNU_SOURCE).
        if flags & (O_DIRECTORY | 0o10000000 | 0o20000000) != 0 { throw .invalidArgument }
        DmoverFork.install()
        WriteReadiness.register(source: writeReadinessSource, room: writeRoom)
        var sv: [Int32] = [-1, -1]
        // Both ends close-on-exec first: the serving end must never leak into an exec'd program.
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &sv) == 0 else {
            throw Errno.current
        }
        let client = sv[0], server = sv[1]
        var one: Int32 = 1
        var st = stat()
        var ok = setsockopt(server, SOL_SOCKET, 16 /* SO_PASSCRED */, &one, socklen_t(MemoryLayout<Int32>.size)) == 0
            && fstat(client, &st) == 0
        if ok && flags & O_CLOEXEC == 0 { ok = cbsdshim_fcntl_int(client, F_SETFD, 0) == 0 }
        if ok && flags & O_NONBLOCK != 0 { ok = cbsdshim_fcntl_int(client, F_SETFL, O_RDWR | O_NONBLOCK) == 0 }
        let device = Device(clientFD: client, serverFD: server, inode: UInt(st.st_ino))
        if ok && !DeviceTable.insert(device) { ok = false; errno = EMFILE }
        if !ok {
            let e = Errno.current
            FileDescriptorOps.close(client)
            FileDescriptorOps.close(server)
            throw e
        }
        guard DeviceServer.start(device) else {
            _ = DeviceTable.remove(client)
            FileDescriptorOps.close(client)
            FileDescriptorOps.close(server)
            throw .wouldBlock
        }
        return client
    }

    /// The descriptor's ioctl: DMIO_SETFUNC (both encodings), FIONBIO, FIOASYNC.
    /// - Throws: EBADF, EFAULT, EBUSY, ESRCH, ENXIO, ENOMEM, ENOTTY.
    public static func ioctl(_ fd: Int32, _ cmd: UInt, _ arg: UnsafeMutableRawPointer?) throws(Errno) {
        let r: Errno? = DeviceTable.with(fd) { d -> Errno? in
            switch cmd {
            case DeviceProtocol.setFuncLinux, DeviceProtocol.setFuncNetBSD:
                var name = dmio_setfunc()
                let ok = withUnsafeMutableBytes(of: &name) {
                    UserMemory.copyIn($0.baseAddress!, from: arg, count: Int(DMIO_MAX_FUNCNAME))
                }
                guard ok else { return .badAddress }
                name.dsf_name.63 = 0
                return withUnsafeBytes(of: &name) { p -> Errno? in
                    do throws(Errno) { try d.setFunction(p.baseAddress!.assumingMemoryBound(to: CChar.self)) } catch { return error }
                    return nil
                }
            case DeviceProtocol.fionbio, DeviceProtocol.fioasync:
                var on: Int32 = 0
                guard UserMemory.copyIn(&on, from: arg, count: 4) else { return .badAddress }
                if cmd == DeviceProtocol.fioasync { return nil }        // accepted; does nothing (as NetBSD)
                let fl = cbsdshim_fcntl(fd, F_GETFL)
                if fl < 0 { return Errno.current }
                if cbsdshim_fcntl_int(fd, F_SETFL, on != 0 ? fl | O_NONBLOCK : fl & ~O_NONBLOCK) < 0 { return Errno.current }
                return nil
            default:
                return .notTTY
            }
        } ?? .badFileDescriptor
        if let r { throw r }
    }

    /// Writes whole request records; NetBSD's semantics (see dmover_io.h).
    /// - Throws: EBADF, EINVAL, ENXIO, EFAULT, EWOULDBLOCK, EPIPE, EINTR.
    public static func write(_ fd: Int32, _ buf: UnsafeRawPointer?, _ count: Int) throws(Errno) -> Int {
        let r: Result<Int, Errno>? = DeviceTable.with(fd) { d in write(d, fd, buf, count) }
        guard let r else { throw .badFileDescriptor }
        return try r.get()
    }

    private static func write(_ d: Device, _ fd: Int32, _ buf: UnsafeRawPointer?, _ count: Int) -> Result<Int, Errno> {
        let size = DeviceProtocol.requestSize
        if count % size != 0 { return .failure(.invalidArgument) }
        if d.session == nil { return .failure(.noDevice) }
        if count == 0 { return .success(0) }
        guard let buf else { return .failure(.badAddress) }
        let records = Int32(count / size)
        var done: Int32 = 0
        while done < records {
            // Reserve room: at most DMIO_NREQS_MAX written and not yet read.
            let seen = cbsdshim_atomic_load_int(d.readCount)
            var w = cbsdshim_atomic_load_int(d.written)
            let room = DeviceProtocol.maxInFlight - (w &- seen)
            if room <= 0 {
                if nonBlocking(fd) { return done > 0 ? .success(Int(done) * size) : .failure(.wouldBlock) }
                d.waitingWriters.add(1, ordering: .sequentiallyConsistent)
                var signalled = false
                if cbsdshim_atomic_load_int(d.written) &- cbsdshim_atomic_load_int(d.readCount) >= DeviceProtocol.maxInFlight {
                    // NetBSD sleeps interruptibly: a signal whose handler lacks
                    // SA_RESTART ends the write (EINTR, or the records so far).
                    signalled = cbsdshim_futex_wait_signalled(d.readCount, seen) != 0
                }
                d.waitingWriters.subtract(1, ordering: .sequentiallyConsistent)
                if signalled { return done > 0 ? .success(Int(done) * size) : .failure(.interrupted) }
                continue
            }
            let k = min(room, records - done)
            guard cbsdshim_atomic_cas_int(d.written, &w, w &+ k) != 0 else { continue }
            d.updateWriteReadiness()
            switch sendAll(fd, buf + Int(done) * size, Int(k) * size) {
            case .success:
                done += k
                d.requestSends.add(1, ordering: .releasing)
            case .failure(let e):
                _ = cbsdshim_atomic_fetch_add_int(d.written, -k)
                d.updateWriteReadiness()
                return done > 0 ? .success(Int(done) * size) : .failure(e)
            }
        }
        return .success(count)
    }

    /// Sends k whole records (at most 64: one socket buffer, all or nothing).
    private static func sendAll(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Result<Void, Errno> {
        var sent = 0
        while sent < n {
            let r = send(fd, p + sent, n - sent, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
            if r >= 0 { sent += r; continue }
            let e = errno
            if e == EINTR { continue }
            if e == EAGAIN {                      // only if bare writes filled the socket
                cbsdshim_wait_socket_writable(fd)
                continue
            }
            return .failure(Errno(rawValue: e))
        }
        return .success(())
    }

    /// Reads whole response records; NetBSD's semantics (a blocking read fills the whole count).
    /// - Throws: EBADF, EINVAL, ENXIO, EFAULT, EWOULDBLOCK, EINTR.
    public static func read(_ fd: Int32, _ buf: UnsafeMutableRawPointer?, _ count: Int) throws(Errno) -> Int {
        let r: Result<Int, Errno>? = DeviceTable.with(fd) { d in read(d, fd, buf, count) }
        guard let r else { throw .badFileDescriptor }
        return try r.get()
    }

    private static func read(_ d: Device, _ fd: Int32, _ buf: UnsafeMutableRawPointer?, _ count: Int) -> Result<Int, Errno> {
        let size = DeviceProtocol.responseSize
        if count % size != 0 { return .failure(.invalidArgument) }
        if d.session == nil { return .failure(.noDevice) }
        if count == 0 { return .success(0) }
        guard let buf else { return .failure(.badAddress) }
        var got = 0
        var failure: Errno? = nil
        while got < count {
            let sends = d.responseSends.load(ordering: .acquiring)
            let r = recv(fd, buf + got, count - got, Int32(MSG_DONTWAIT))
            if r > 0 { got += r; continue }
            if r == 0 { break }                                        // the serving end is gone
            let e = errno
            if e == EINTR { continue }
            if e != EAGAIN { failure = Errno(rawValue: e); break }
            // Nothing ready: a non-blocking read returns what it has (whole records).
            if got % size == 0 && nonBlocking(fd) {
                if got == 0 { failure = .wouldBlock }
                break
            }
            // The server may be answering right now: watch it briefly before sleeping.
            if Spin.untilChanged(d.responseSends, from: sends) { continue }
            // Sleep in a blocking recv, not poll: the kernel restarts it after a
            // handler with SA_RESTART (as NetBSD restarts dmio_read) and ends it
            // with EINTR after one without.
            let b = recv(fd, buf + got, count - got, 0)
            if b > 0 { got += b; continue }
            if b == 0 { break }
            let e2 = errno
            if e2 == EINTR {
                if got % size != 0 { continue }                       // finish the record
                if got == 0 { failure = .interrupted }
                break
            }
            if e2 != EAGAIN { failure = Errno(rawValue: e2); break }
        }
        let records = got / size
        if records > 0 { d.responsesRead(Int32(records)) }
        if got == 0, let failure { return .failure(failure) }
        return .success(records * size)
    }

    @inline(__always) private static func nonBlocking(_ fd: Int32) -> Bool {
        cbsdshim_fcntl(fd, F_GETFL) & O_NONBLOCK != 0
    }

    /// For kevent's EVFILT_WRITE: a close-on-exec copy of the descriptor's
    /// readiness eventfd, or -1 if `fd` is not a dmover descriptor.
    private static let writeReadinessSource: WriteReadiness.SourceFunction = { fd in
        DeviceTable.with(fd) { d in d.writeReadinessSource() } ?? -1
    }

    /// For kevent's EVFILT_WRITE: requests that can be written now, or -1.
    private static let writeRoom: WriteReadiness.RoomFunction = { fd in
        DeviceTable.with(fd) { d in max(0, Int(DeviceProtocol.maxInFlight - d.inFlight)) } ?? -1
    }

    /// True if fewer than DMIO_NREQS_MAX requests are in flight.
    /// - Throws: EBADF.
    public static func writable(_ fd: Int32) throws(Errno) -> Bool {
        guard let w = DeviceTable.with(fd, { $0.inFlight < DeviceProtocol.maxInFlight }) else { throw .badFileDescriptor }
        return w
    }

    /// Closes the descriptor and ends its session (also for copies made with
    /// dup): a batch being served finishes first, requests not yet started are
    /// abandoned, and the serving thread has released everything when this
    /// returns (so the caller's buffers are never touched afterwards). In a
    /// fork child only the child's descriptor is closed.
    /// - Throws: EBADF.
    public static func close(_ fd: Int32) throws(Errno) {
        guard let d = DeviceTable.with(fd, { $0 }) else { throw .badFileDescriptor }
        _ = DeviceTable.remove(fd)
        if getpid() == d.opener { shutDown(d) }
        // The program's descriptor (not FileDescriptorOps.close, which is for
        // the library's own): an interposed close() may need to see it.
        if Glibc.close(fd) != 0 && errno != EINTR { throw Errno.current }
    }

    /// Stops the serving thread: abandons what was not started, waits for the
    /// batch in progress, shuts the socket down and waits until it has exited.
    private static func shutDown(_ d: Device) {
        let state = d.state
        _ = cbsdshim_atomic_fetch_or_int(state, Device.closing)
        while true {
            var s = cbsdshim_atomic_load_int(state)
            if s & Device.exited != 0 { return }
            if s & Device.busy != 0 {
                cbsdshim_futex_wait(state, s)
                continue
            }
            // Holding busy, the server cannot close its end under us.
            if cbsdshim_atomic_cas_int(state, &s, s | Device.busy) != 0 {
                shutdown(d.serverFD, Int32(SHUT_RDWR))
                _ = cbsdshim_atomic_fetch_and_int(state, ~Device.busy)
                cbsdshim_futex_wake_all(state)
                break
            }
        }
        while true {
            let s = cbsdshim_atomic_load_int(state)
            if s & Device.exited != 0 { return }
            cbsdshim_futex_wait(state, s)
        }
    }
}
