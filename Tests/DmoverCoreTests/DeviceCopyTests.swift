// SPDX-License-Identifier: BSD-2-Clause
// DeviceCopyTests.swift: the descriptor's record copy-in and response copy-out, on the checked and the preload ("tracked") entry points.

import BSDSystem
import CBSDShimABI
import DmoverCore
import Glibc
import Testing

/// Copy-in and copy-out prove client pages with one check and then copy:
/// an inaccessible byte anywhere in a call's buffer must still be EFAULT for
/// the whole call, with nothing taken and nothing lost, on both entry points.
@Suite struct DeviceCopyTests {
    static let page = Int(sysconf(Int32(_SC_PAGESIZE)))

    /// Two pages, the second PROT_NONE: a buffer ending at the boundary is
    /// accessible, one byte more is not.
    func guardedPages() -> UnsafeMutableRawPointer {
        let p = mmap(nil, 2 * Self.page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)!
        mprotect(p + Self.page, Self.page, PROT_NONE)
        return p
    }

    func openZero() throws -> Int32 {
        let fd = try DmoverDevice.open(flags: O_NONBLOCK)
        var name = dmio_setfunc()
        withUnsafeMutableBytes(of: &name.dsf_name) { p in
            for (i, c) in "zero".utf8.enumerated() { p[i] = c }
        }
        try DmoverDevice.ioctl(fd, UInt(DMIO_SETFUNC_NETBSD), &name)
        return fd
    }

    @Test(arguments: [false, true])
    func aRecordOrResponseBufferRunningIntoAnInaccessiblePageIsEFAULTAndNothingIsLost(tracked: Bool) throws {
        let fd = try openZero()
        defer { try? DmoverDevice.close(fd) }
        let mem = guardedPages()
        defer { munmap(mem, 2 * Self.page) }
        let reqSize = MemoryLayout<dmio_usrreq>.stride, respSize = MemoryLayout<dmio_usrresp>.stride
        var out = [UInt8](repeating: 0xA5, count: 512)
        try out.withUnsafeMutableBytes { o throws in
            var iov = iovec(iov_base: o.baseAddress, iov_len: o.count)
            try withUnsafeMutablePointer(to: &iov) { iovp throws in
                // Two records whose second one straddles into the PROT_NONE page: the call is EFAULT.
                let recs = (mem + Self.page - reqSize - reqSize / 2).bindMemory(to: dmio_usrreq.self, capacity: 1)
                var req = dmio_usrreq()
                req.req_outbuf = dmio_buffer(dmbuf_iov: iovp, dmbuf_iovcnt: 1)
                req.req_id = 41
                UnsafeMutableRawPointer(recs).storeBytes(of: req, as: dmio_usrreq.self)
                #expect(throws: Errno.badAddress) { try DmoverDevice.write(fd, recs, 2 * reqSize, tracked: tracked) }
                var none = dmio_usrresp()                                   // nothing was taken
                #expect(throws: Errno.wouldBlock) { try DmoverDevice.read(fd, &none, respSize, tracked: tracked) }
                // The same record ending exactly at the boundary is accepted.
                let last = mem + Self.page - reqSize
                last.storeBytes(of: req, as: dmio_usrreq.self)
                #expect(try DmoverDevice.write(fd, last, reqSize, tracked: tracked) == reqSize)
            }
        }
        #expect(out.allSatisfy { $0 == 0 })
        // A response buffer running one byte into the PROT_NONE page: EFAULT, the response stays.
        #expect(throws: Errno.badAddress) {
            try DmoverDevice.read(fd, mem + Self.page - respSize + 1, respSize, tracked: tracked)
        }
        let at = mem + Self.page - respSize
        #expect(try DmoverDevice.read(fd, at, respSize, tracked: tracked) == respSize)
        let resp = at.load(as: dmio_usrresp.self)
        #expect(resp.resp_id == 41 && resp.resp_error == 0)
        #expect(throws: Errno.wouldBlock) { try DmoverDevice.read(fd, at, respSize, tracked: tracked) }
    }
}
