// SPDX-License-Identifier: BSD-2-Clause
// DeviceFaultTests.swift: the /dev/dmover descriptor's readiness when the kernel refuses a readiness flip.

import BSDSystem
import CBSDShimABI
import DmoverCore
import Glibc
import Testing

/// The seam is per thread and the device runs requests in the writing
/// thread, so the fault hits this test's write alone.
@Suite struct DeviceFaultTests {

    func pollIn(_ fd: Int32, timeoutMs: Int32) -> Bool {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&p, 1, timeoutMs) == 1 && p.revents & Int16(POLLIN) != 0
    }

    @Test(.enabled(if: InjectedFault.isAvailable, "the seam exists in debug builds only"))
    func aRefusedReadableTokenIsSentAgainSoPollSeesTheResponse() throws {
        let fd = try DmoverDevice.open(flags: O_NONBLOCK)
        defer { try? DmoverDevice.close(fd) }
        var name = dmio_setfunc()
        withUnsafeMutableBytes(of: &name.dsf_name) { p in
            for (i, c) in "zero".utf8.enumerated() { p[i] = c }
        }
        try DmoverDevice.ioctl(fd, 0x4040_4400, &name)                 // DMIO_SETFUNC
        var out = [UInt8](repeating: 0xA5, count: 4096)
        try out.withUnsafeMutableBytes { o in
            var iov = iovec(iov_base: o.baseAddress, iov_len: o.count)
            try withUnsafeMutablePointer(to: &iov) { iovp in
                var req = dmio_usrreq()
                req.req_outbuf.dmbuf_iov = iovp
                req.req_outbuf.dmbuf_iovcnt = 1
                req.req_id = 7
                // The kernel refuses the first datagram that would show POLLIN
                // (ENOBUFS under memory pressure looks the same).
                InjectedFault.arm(.datagramSend, .wouldBlock)
                let n = try DmoverDevice.write(fd, &req, MemoryLayout<dmio_usrreq>.stride)
                #expect(InjectedFault.disarm() == 0)               // the fault was met
                #expect(n == MemoryLayout<dmio_usrreq>.stride)
            }
        }
        // A poller must still see the response waiting.
        #expect(pollIn(fd, timeoutMs: 2000))
        var resp = dmio_usrresp()
        #expect(try DmoverDevice.read(fd, &resp, MemoryLayout<dmio_usrresp>.stride) == MemoryLayout<dmio_usrresp>.stride)
        #expect(resp.resp_id == 7 && resp.resp_error == 0)
        #expect(out.allSatisfy { $0 == 0 })
        #expect(!pollIn(fd, timeoutMs: 0))
    }
}
