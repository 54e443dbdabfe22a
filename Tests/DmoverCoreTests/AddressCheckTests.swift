// SPDX-License-Identifier: BSD-2-Clause
// AddressCheckTests.swift: the one-call probes and madvise answer alike for every span shape, change nothing and keep errno.

import BSDSystem
import CBSDShim
@testable import DmoverCore
import Glibc
import Testing

/// AddressCheck takes probes for a span to read (one per two pages) and for
/// one page to write, madvise for a larger span to write: whichever it
/// takes, a span of pages must be called readable or writable exactly when
/// every page in it is. Checked on a mapping of seven pages, each with one
/// of the kinds a client may hand over (the second PROT_NONE page lies
/// where a read span's later probes and its last odd page reach it).
@Suite struct AddressCheckTests {
    /// Read-write, PROT_NONE, read-only, read-write, untouched (read-write,
    /// never written: the zero page until written), PROT_NONE, read-write.
    enum Kind { case readWrite, none, readOnly, untouched }
    static let kinds: [Kind] = [.readWrite, .none, .readOnly, .readWrite, .untouched, .none, .readWrite]

    static func readable(_ k: Kind) -> Bool { k != .none }
    static func writable(_ k: Kind) -> Bool { k == .readWrite || k == .untouched }

    /// Maps the pages; the caller unmaps `kinds.count * page` bytes at the result.
    static func mapPages() throws -> UnsafeMutableRawPointer {
        let page = Int(ProcessMemory.pageSize)
        let m = try #require(mmap(nil, kinds.count * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0))
        try #require(m != MAP_FAILED)
        for (i, k) in kinds.enumerated() {
            switch k {
            case .readWrite: memset(m + i * page, 0x5A, page)
            case .none: #expect(mprotect(m + i * page, page, PROT_NONE) == 0)
            case .readOnly:
                memset(m + i * page, 0x3C, page)
                #expect(mprotect(m + i * page, page, PROT_READ) == 0)
            case .untouched: break
            }
        }
        return m
    }

    @Test func probesAreUsableHere() {
        // This kernel (5.14 or later, no filter) answers the probes; if it did
        // not, the madvise path would serve and the test below would still hold.
        #expect(ProcessMemory.canProbe)
    }

    /// Every span of 1 to 7 pages at every start (odd and even page counts,
    /// a bad page first, inside or last), read and write, with
    /// probes allowed (as shipped) and with madvise alone: the answer is the
    /// conjunction of the pages' kinds, no byte changes, errno is kept when
    /// the answer is yes.
    @Test func everySpanIsAnsweredByItsPages() throws {
        let page = ProcessMemory.pageSize
        let m = try Self.mapPages()
        defer { munmap(m, Self.kinds.count * Int(page)) }
        let base = UInt(bitPattern: m)
        let probing = MemoryFacts.current
        #expect(probing.canProbe)
        for length in 1...Self.kinds.count {
            for start in 0...(Self.kinds.count - length) {
                let span = Self.kinds[start..<(start + length)]
                let lo = base + UInt(start) * page, hi = lo + UInt(length) * page
                for write in [false, true] {
                    let want = span.allSatisfy { write ? Self.writable($0) : Self.readable($0) }
                    errno = ENOSPC
                    let got = AddressCheck.accessible(lo, hi, write, probing)
                    if got { #expect(errno == ENOSPC) }          // a refusal may leave madvise's error
                    #expect(got == want, "pages \(start)..<\(start + length) \(write ? "write" : "read")")
                    if ProcessMemory.canPrefault {
                        #expect(ProcessMemory.prefault(lo, hi, forWriting: write) == want)
                    }
                }
            }
        }
        // Nothing changed: the probes add 0 atomically and copy into the kernel only.
        for (i, k) in Self.kinds.enumerated() where k != .none {
            let p = (m + i * Int(page)).assumingMemoryBound(to: UInt8.self)
            let expected: UInt8 = k == .readOnly ? 0x3C : k == .untouched ? 0 : 0x5A
            #expect((0..<Int(page)).allSatisfy { p[$0] == expected }, "page \(i) changed")
        }
    }

    /// A written probe keeps a value another thread is changing: the add of 0
    /// is atomic, so no increment is lost.
    @Test func theWriteProbeLosesNoConcurrentUpdate() throws {
        let page = Int(ProcessMemory.pageSize)
        let m = try #require(mmap(nil, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0))
        defer { munmap(m, page) }
        let word = m.assumingMemoryBound(to: Int32.self)
        word.pointee = 0
        let rounds: Int32 = 200_000
        nonisolated(unsafe) let shared = word
        var thread = pthread_t()
        let started = pthread_create(&thread, nil, { arg in
            let w = arg!.assumingMemoryBound(to: Int32.self)
            for _ in 0..<200_000 { _ = cbsdshim_atomic_fetch_add_int(w, 1) }
            return nil
        }, UnsafeMutableRawPointer(shared))
        #expect(started == 0)
        for _ in 0..<2_000 { #expect(ProcessMemory.probeWritable(UInt(bitPattern: m))) }
        pthread_join(thread, nil)
        #expect(word.pointee == rounds)
    }
}
