// SPDX-License-Identifier: BSD-2-Clause
// DeviceTokenTests.swift: the preload path's readable token: its send checks the records, its receive the read buffer; responses always come from the ring.

import BSDSystem
import CBSDShimABI
@testable import DmoverCore
import Glibc
import Testing

/// The preload path's readable token is sent with the records of the write
/// that showed it as its bytes (the kernel's copy checks them) and received
/// into the read's buffer (the kernel's copy-out checks it), then the
/// responses are copied from the ring over it. Its bytes are never taken
/// for responses, whatever the counters say (they wrap at 2^32).
@Suite struct DeviceTokenTests {
    /// A token shown for requests [0, 2), then read past one by one from
    /// the ring while traffic never lets the ring empty: after 2^32
    /// responses the counters sit where the token's did. Simulated here by
    /// setting the counters to that position, with two new responses (ids
    /// 100, 101) in the ring: a read must return those, not the token's bytes.
    @Test func aTokenOutlivingItsResponsesIsNotTakenWhenTheCountersWrapBackToIt() throws {
        let fd = try openZeroSession()
        defer { try? DmoverDevice.close(fd) }
        var reqs = [dmio_usrreq](repeating: dmio_usrreq(), count: 2)
        reqs[0].req_id = 41
        reqs[1].req_id = 42
        let wsize = 2 * MemoryLayout<dmio_usrreq>.stride, rsize = MemoryLayout<dmio_usrresp>.stride
        #expect(try DmoverDevice.write(fd, &reqs, wsize, tracked: true) == wsize)   // the token's bytes: records 41, 42
        var one = dmio_usrresp()
        #expect(try DmoverDevice.read(fd, &one, rsize, tracked: true) == rsize)    // from the ring
        #expect(one.resp_id == 41)
        // 2^32 − 1 responses later, as seen by the counters (mod 2^32).
        let moved: Bool? = DeviceTable.with(fd) { d in
            var fresh = dmio_usrresp()
            fresh.resp_id = 100
            d.ring[0] = fresh
            fresh.resp_id = 101
            d.ring[1] = fresh
            d.readCount.pointee = 0
            d.completed.pointee = 2
            return true
        }
        #expect(moved == true)
        var two = [dmio_usrresp](repeating: dmio_usrresp(), count: 2)
        #expect(try DmoverDevice.read(fd, &two, 2 * rsize, tracked: true) == 2 * rsize)
        #expect(two[0].resp_id == 100 && two[1].resp_id == 101)
        var p = pollfd(fd: fd, events: Int16(POLLIN | POLLOUT), revents: 0)
        #expect(poll(&p, 1, 0) == 1 && p.revents == Int16(POLLOUT))
    }

    /// Records that cannot be read: EFAULT, nothing in flight, POLLIN still
    /// hidden.
    @Test func unreadableRecordsAreEFAULTAndShowNothing() throws {
        let fd = try openZeroSession()
        defer { try? DmoverDevice.close(fd) }
        let page = Int(ProcessMemory.pageSize)
        let map = try #require(mmap(nil, page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0))
        defer { munmap(map, page) }
        let wsize = MemoryLayout<dmio_usrreq>.stride
        #expect(throws: Errno.badAddress) { try DmoverDevice.write(fd, map, wsize, tracked: true) }
        var p = pollfd(fd: fd, events: Int16(POLLIN | POLLOUT), revents: 0)
        #expect(poll(&p, 1, 0) == 1 && p.revents == Int16(POLLOUT))
        var req = dmio_usrreq()
        req.req_id = 7
        #expect(try DmoverDevice.write(fd, &req, wsize, tracked: true) == wsize)
        var resp = dmio_usrresp()
        #expect(try DmoverDevice.read(fd, &resp, MemoryLayout<dmio_usrresp>.stride, tracked: true) == MemoryLayout<dmio_usrresp>.stride)
        #expect(resp.resp_id == 7)
    }

    /// A token shorter than the read (one record announced, 41 responses
    /// waiting: later writes found POLLIN shown) checks only its own length
    /// of the buffer: the rest is checked too, so a read into a buffer that
    /// runs into an unmapped page is EFAULT and every response stays.
    @Test func theBufferPastTheTokensLengthIsCheckedToo() throws {
        let fd = try openZeroSession()
        defer { try? DmoverDevice.close(fd) }
        let wsize = MemoryLayout<dmio_usrreq>.stride, rsize = MemoryLayout<dmio_usrresp>.stride
        var reqs = [dmio_usrreq](repeating: dmio_usrreq(), count: 41)
        for i in 0..<41 { reqs[i].req_id = UInt32(i) }
        #expect(try DmoverDevice.write(fd, &reqs, wsize, tracked: true) == wsize)   // token: one response, 16 bytes
        let rest = try reqs.withUnsafeBytes { try DmoverDevice.write(fd, $0.baseAddress! + wsize, 40 * wsize, tracked: true) }
        #expect(rest == 40 * wsize)
        let page = Int(ProcessMemory.pageSize)
        let map = try #require(mmap(nil, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0))
        defer { munmap(map, 2 * page) }
        #expect(munmap(map + page, page) == 0)
        // 41 responses (656 bytes) from 64 bytes before the hole: the token's 16 fit, the rest does not.
        #expect(throws: Errno.badAddress) { try DmoverDevice.read(fd, map + page - 64, 41 * rsize, tracked: true) }
        var resps = [dmio_usrresp](repeating: dmio_usrresp(), count: 41)
        #expect(try DmoverDevice.read(fd, &resps, 41 * rsize, tracked: true) == 41 * rsize)
        #expect(resps.enumerated().allSatisfy { $0.element.resp_id == UInt32($0.offset) })
        var p = pollfd(fd: fd, events: Int16(POLLIN | POLLOUT), revents: 0)
        #expect(poll(&p, 1, 0) == 1 && p.revents == Int16(POLLOUT))
    }
}
