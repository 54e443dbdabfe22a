// SPDX-License-Identifier: BSD-2-Clause
// DeviceCloseTests.swift: a read or write blocked on a descriptor that another thread closes never reaches the next session.

import BSDSystem
import CBSDShim
import CBSDShimABI
@testable import DmoverCore
import Glibc
import Synchronization
import Testing

/// DmioState objects are reused for new descriptors (never freed). A thread
/// blocked on a descriptor that is closed under it must end (EBADF, as
/// NetBSD's close makes blocked calls fail) and never take part in the
/// session the reused object serves next.
@Suite struct DeviceCloseTests {
    /// True if thread `tid` of this process is asleep (state S in its stat).
    static func sleeping(_ tid: Int32) -> Bool {
        guard let f = fopen("/proc/self/task/\(tid)/stat", "r") else { return false }
        defer { fclose(f) }
        var line = [UInt8](repeating: 0, count: 512)
        let n = fread(&line, 1, line.count, f)
        // "tid (name) S ...": the state follows the last parenthesis.
        guard let close = line[0..<n].lastIndex(of: UInt8(ascii: ")")), close + 2 < n else { return false }
        return line[close + 2] == UInt8(ascii: "S")
    }

    @Test(arguments: [false, true])
    func aReaderBlockedOnAClosedDescriptorNeverTakesTheNextSessionsResponse(tracked: Bool) throws {
        let rounds = 300
        var stolen = 0, lost = 0
        for _ in 0..<rounds {
            let a = try openZeroSession(flags: 0)                               // blocking
            let result = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
            defer { result.deallocate() }
            result.initialize(to: -1)
            let tid = UnsafeMutablePointer<Atomic<Int32>>.allocate(capacity: 1)
            defer { tid.deallocate() }
            tid.initialize(to: Atomic<Int32>(0))
            let reader = TestThread {
                tid.pointee.store(cbsdshim_gettid(), ordering: .sequentiallyConsistent)
                var r = dmio_usrresp()
                do throws(Errno) {
                    _ = try DmoverDevice.read(a, &r, MemoryLayout<dmio_usrresp>.stride, tracked: tracked)
                    result.pointee = Int32(r.resp_id)
                } catch { result.pointee = -Int32(error.rawValue) }
            }
            // Until the reader sleeps for a response (the only sleep on its
            // way; other suites' readers may count in waitingReaders too).
            while tid.pointee.load(ordering: .sequentiallyConsistent) == 0 { sched_yield() }
            while !Self.sleeping(tid.pointee.load(ordering: .sequentiallyConsistent))
                || (DeviceTable.with(a) { $0.waitingReaders.load(ordering: .sequentiallyConsistent) } ?? 0) == 0 { sched_yield() }
            try DmoverDevice.close(a)
            let b = try openZeroSession(flags: O_NONBLOCK)
            var req = dmio_usrreq()
            req.req_id = 77
            let wsize = MemoryLayout<dmio_usrreq>.stride
            #expect(try DmoverDevice.write(b, &req, wsize, tracked: tracked) == wsize)
            reader.join()
            if result.pointee == 77 { stolen += 1 }
            var r = dmio_usrresp()
            if (try? DmoverDevice.read(b, &r, MemoryLayout<dmio_usrresp>.stride, tracked: tracked)) == nil { lost += 1 }
            try DmoverDevice.close(b)
        }
        #expect(stolen == 0 && lost == 0, "\(stolen) of \(rounds) stale readers took the next session's response")
    }
}
