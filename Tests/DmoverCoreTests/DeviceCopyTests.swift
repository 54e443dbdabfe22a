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

    @Test(arguments: [false, true])
    func aRecordOrResponseBufferRunningIntoAnInaccessiblePageIsEFAULTAndNothingIsLost(tracked: Bool) throws {
        let fd = try openZeroSession()
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

    /// Writers and a reader race on one descriptor through the preload's
    /// entry points, where readable tokens carry responses: every response
    /// arrives once, and at the end poll shows writable and not readable.
    @Test func racingWritersAndReaderOnThePreloadPathLoseAndDuplicateNothing() throws {
        var seed = UInt64(UInt(bitPattern: time(nil)))
        print("DeviceCopyTests race seed \(seed)")
        let fd = try openZeroSession(flags: 0)                             // blocking: writers wait for room
        defer { try? DmoverDevice.close(fd) }
        let writers = 2, perWriter = 3000
        // One output buffer per writer: requests run in their writer's thread.
        let out = UnsafeMutableRawPointer.allocate(byteCount: 64 * writers, alignment: 64)
        defer { out.deallocate() }
        let iov = UnsafeMutablePointer<iovec>.allocate(capacity: writers)
        defer { iov.deallocate() }
        for w in 0..<writers { (iov + w).initialize(to: iovec(iov_base: out + 64 * w, iov_len: 64)) }
        let seen = UnsafeMutablePointer<UInt8>.allocate(capacity: writers * perWriter)
        defer { seen.deallocate() }
        seen.initialize(repeating: 0, count: writers * perWriter)
        var batches = [Int](repeating: 0, count: 4096)
        for i in batches.indices {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            batches[i] = Int(seed >> 33) % 9 + 1                    // 1...9 per call
        }
        let total = writers * perWriter
        let threads = (0..<writers).map { w in
            TestThread {
                var reqs = [dmio_usrreq](repeating: dmio_usrreq(), count: 9)
                var next = 0, call = w
                while next < perWriter {
                    let n = min(batches[call % batches.count], perWriter - next)
                    call += 1
                    for i in 0..<n {
                        reqs[i].req_outbuf = dmio_buffer(dmbuf_iov: iov + w, dmbuf_iovcnt: 1)
                        reqs[i].req_id = UInt32(w * perWriter + next + i)
                    }
                    let size = n * MemoryLayout<dmio_usrreq>.stride
                    if (try? DmoverDevice.write(fd, &reqs, size, tracked: true)) != size { return }
                    next += n
                }
            }
        }
        var resp = [dmio_usrresp](repeating: dmio_usrresp(), count: 9)
        var got = 0, call = 7, bad = 0
        while got < total {
            let n = min(batches[call % batches.count], total - got)
            call += 1
            let size = n * MemoryLayout<dmio_usrresp>.stride
            guard (try? DmoverDevice.read(fd, &resp, size, tracked: true)) == size else { break }
            for r in resp[0..<n] {
                if r.resp_error != 0 || Int(r.resp_id) >= total { bad += 1; continue }
                seen[Int(r.resp_id)] += 1
            }
            got += n
        }
        for t in threads { t.join() }
        #expect(got == total && bad == 0)
        #expect((0..<total).allSatisfy { seen[$0] == 1 })
        var p = pollfd(fd: fd, events: Int16(POLLIN | POLLOUT), revents: 0)
        #expect(poll(&p, 1, 0) == 1 && p.revents == Int16(POLLOUT))
    }
}

/// A joinable thread running a closure (pthreads: the tests use no Foundation).
final class TestThread: @unchecked Sendable {
    private var id = pthread_t()
    private let body: () -> Void

    init(_ body: @escaping () -> Void) {
        self.body = body
        let me = Unmanaged.passRetained(self).toOpaque()
        pthread_create(&id, nil, { arg in
            let t = Unmanaged<TestThread>.fromOpaque(arg!).takeRetainedValue()
            t.body()
            return nil
        }, me)
    }

    func join() { pthread_join(id, nil) }
}
