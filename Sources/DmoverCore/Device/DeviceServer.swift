// SPDX-License-Identifier: BSD-2-Clause
// DeviceServer.swift: the thread serving one descriptor: reads request records with the sender's credentials, answers them.

import BSDSystem
import CBSDShim
import CBSDShimABI
import Glibc

/// Serves one Device until the client end is closed everywhere (EOF): reads
/// up to 64 records at a time, refuses records from other processes (EPERM)
/// and records before DMIO_SETFUNC (ENXIO), validates the rest without
/// faulting (RecordBatch), runs them one after another and writes the
/// responses in that order. At EOF it releases the session and every buffer.
final class DeviceServer {
    private let device: Device
    private static let batchMax = Int(DMIO_NREQS_MAX)
    private let reqSize = DeviceProtocol.requestSize
    /// Received bytes: a partial record carried over, then new bytes.
    private let buffer: UnsafeMutableRawPointer
    @exclusivity(unchecked) private var carry = 0
    @exclusivity(unchecked) private var carryForeign = false
    private let responses: UnsafeMutablePointer<dmio_usrresp>
    private let control = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 8)
    private let batch = RecordBatch()

    private init(_ device: Device) {
        self.device = device
        buffer = .allocate(byteCount: (Self.batchMax + 1) * DeviceProtocol.requestSize, alignment: 16)
        responses = .allocate(capacity: Self.batchMax)
    }

    deinit {
        buffer.deallocate()
        responses.deallocate()
        control.deallocate()
    }

    /// Starts the serving thread (it holds its own reference to the device).
    static func start(_ device: Device) -> Bool {
        let server = DeviceServer(device)
        return startLibraryThread(name: "dmoverio") { server.run() }
    }

    private func run() {
        while let (count, foreign) = receive() {
            if !serve(count: count, foreign: foreign) { break }
        }
        // EOF, or dmover_close shut the socket down: nothing is running; free
        // everything, holding `busy` so a closer never shuts down a closed number.
        let state = device.state
        while true {
            var s = cbsdshim_atomic_load_int(state)
            if s & Device.busy != 0 {
                cbsdshim_futex_wait(state, s)
                continue
            }
            if cbsdshim_atomic_cas_int(state, &s, s | Device.busy) != 0 { break }
        }
        device.releaseSession()
        device.serverClosed.store(true, ordering: .releasing)
        device.closeWriteReadiness()
        FileDescriptorOps.close(device.serverFD)
        _ = cbsdshim_atomic_fetch_or_int(state, Device.exited)
        _ = cbsdshim_atomic_fetch_and_int(state, ~Device.busy)
        cbsdshim_futex_wake_all(state)
    }

    /// Receives the next bytes (from one sender, as the kernel never merges
    /// writes with different credentials). Returns the whole records now in
    /// the buffer and whether the first of them holds bytes of another process
    /// (the later ones are from this sender), or nil at EOF.
    private func receive() -> (Int, (first: Bool, rest: Bool))? {
        while true {
            let room = (Self.batchMax * reqSize) - carry
            var iov = iovec(iov_base: buffer + carry, iov_len: room)
            var msg = msghdr()
            // Not yet blocking: a writer in this process may be about to send.
            let sends = device.requestSends.load(ordering: .acquiring)
            var n = withUnsafeMutablePointer(to: &iov) { iovp -> Int in
                msg.msg_iov = iovp
                msg.msg_iovlen = 1
                msg.msg_control = control
                msg.msg_controllen = 64
                return recvmsg(device.serverFD, &msg, Int32(MSG_CMSG_CLOEXEC | MSG_DONTWAIT))
            }
            if n < 0 && errno == EAGAIN {
                if Spin.untilChanged(device.requestSends, from: sends) { continue }
                n = withUnsafeMutablePointer(to: &iov) { iovp -> Int in
                    msg.msg_iov = iovp
                    msg.msg_iovlen = 1
                    msg.msg_control = control
                    msg.msg_controllen = 64
                    return recvmsg(device.serverFD, &msg, Int32(MSG_CMSG_CLOEXEC))
                }
            }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return nil }
            let foreign = senderPID(msg) != device.opener
            let firstForeign = (carry > 0 && carryForeign) || foreign
            let total = carry + n
            let records = total / reqSize
            let tail = total - records * reqSize
            if records == 0 {
                carryForeign = firstForeign
                carry = tail
                continue
            }
            // The trailing partial record waits for its remaining bytes.
            carry = tail
            carryForeign = foreign
            return (records, (firstForeign, foreign))
        }
    }

    /// The sender's pid from SCM_CREDENTIALS (SO_PASSCRED is on), or -1; closes any descriptors sent along.
    private func senderPID(_ msg: msghdr) -> pid_t {
        // struct cmsghdr { size_t len; int level; int type; } then struct ucred { pid; uid; gid }.
        var offset = 0, pid: pid_t = -1
        let end = min(Int(msg.msg_controllen), 64)
        while offset + 16 <= end {
            let len = control.load(fromByteOffset: offset, as: Int.self)
            let level = control.load(fromByteOffset: offset + 8, as: Int32.self)
            let type = control.load(fromByteOffset: offset + 12, as: Int32.self)
            if len < 16 { break }
            if level == SOL_SOCKET && type == 2 /* SCM_CREDENTIALS */ && len >= 16 + 12 {
                pid = control.load(fromByteOffset: offset + 16, as: pid_t.self)
            } else if level == SOL_SOCKET && type == 1 /* SCM_RIGHTS */ {
                // Descriptors sent to the device are not ours to keep.
                for k in 0..<((len - 16) / 4) { FileDescriptorOps.close(control.load(fromByteOffset: offset + 16 + 4 * k, as: Int32.self)) }
            }
            offset += (len + 7) & ~7
        }
        return pid
    }

    /// Answers `count` records. Returns false when the client end is gone.
    private func serve(count: Int, foreign: (first: Bool, rest: Bool)) -> Bool {
        let state = device.state
        var expected: Int32 = 0
        let abandoned = cbsdshim_atomic_cas_int(state, &expected, Device.busy) == 0  // closing: touch nothing
        let session = abandoned ? nil : device.session
        for i in 0..<count {
            let rec = (buffer + i * reqSize).load(as: dmio_usrreq.self)
            var resp = dmio_usrresp()
            resp.resp_id = rec.req_id
            if i == 0 ? foreign.first : foreign.rest {
                resp.resp_error = EPERM
            } else if session == nil {
                resp.resp_error = ENXIO
            } else {
                resp.resp_error = -1                              // to run
            }
            responses[i] = resp
        }
        if let session, let dreq = device.request {
            batch.run(buffer, count: count, responses: responses, session: session, request: dreq,
                      ninputs: device.ninputs)
        }
        if !abandoned {
            if cbsdshim_atomic_fetch_and_int(state, ~Device.busy) & Device.closing != 0 {
                cbsdshim_futex_wake_all(state)
            }
        }
        // Move the partial record to the front for the next receive.
        if carry > 0 { memmove(buffer, buffer + count * reqSize, carry) }
        if abandoned { return true }
        let sent = sendAll(UnsafeRawPointer(responses), count * DeviceProtocol.responseSize)
        device.responseSends.add(1, ordering: .releasing)
        return sent
    }

    private func sendAll(_ p: UnsafeRawPointer, _ n: Int) -> Bool {
        var sent = 0
        while sent < n {
            let r = send(device.serverFD, p + sent, n - sent, Int32(MSG_NOSIGNAL))
            if r < 0 {
                if errno == EINTR { continue }
                return false
            }
            sent += r
        }
        return true
    }
}
