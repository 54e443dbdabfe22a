// SPDX-License-Identifier: BSD-2-Clause
// DeviceTokenTests.swift: the readable token that carries responses on the preload path is never taken for responses it does not hold.

import BSDSystem
import CBSDShimABI
@testable import DmoverCore
import Glibc
import Testing

/// The preload path's readable token carries a copy of the batch it
/// announced; a read takes it only while it still is exactly what waits.
/// Counters wrap at 2^32, so position alone cannot tell an old token from a
/// current one.
@Suite struct DeviceTokenTests {
    /// A token shown for responses [0, 2), then read past one by one from
    /// the ring while traffic never lets the ring empty: after 2^32
    /// responses the counters sit where the token's did. Simulated here by
    /// setting the counters to that position, with two new responses (ids
    /// 100, 101) in the ring: a read must return those, not the token's copy.
    @Test func aTokenOutlivingItsResponsesIsNotTakenWhenTheCountersWrapBackToIt() throws {
        let fd = try openZeroSession()
        defer { try? DmoverDevice.close(fd) }
        var reqs = [dmio_usrreq](repeating: dmio_usrreq(), count: 2)
        reqs[0].req_id = 41
        reqs[1].req_id = 42
        let wsize = 2 * MemoryLayout<dmio_usrreq>.stride, rsize = MemoryLayout<dmio_usrresp>.stride
        #expect(try DmoverDevice.write(fd, &reqs, wsize, tracked: true) == wsize)   // token carries 41, 42
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
}
