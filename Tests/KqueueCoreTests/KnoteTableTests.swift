// SPDX-License-Identifier: BSD-2-Clause
// KnoteTableTests.swift: lookup by (ident, filter) through the array and the dictionary.

import CBSDShimABI
import Testing
@testable import KqueueCore

@Suite struct KnoteTableTests {
    func knote(_ ident: UInt, _ filter: Int32) -> Knote {
        Knote(change: kevent(ident: ident, filter: Int16(filter), flags: UInt16(EV_ADD),
                             fflags: 0, data: 0, udata: nil), ops: FilterTable.read)
    }

    @Test func readAndWriteOnOneDescriptorAreDistinct() {
        var t = KnoteTable()
        let r = knote(7, EVFILT_READ), w = knote(7, EVFILT_WRITE)
        t[7, Int16(EVFILT_READ)] = r
        t[7, Int16(EVFILT_WRITE)] = w
        #expect(t[7, Int16(EVFILT_READ)] === r)
        #expect(t[7, Int16(EVFILT_WRITE)] === w)
        #expect(t[7, Int16(EVFILT_USER)] == nil)
        #expect(t.count == 2)
        t[7, Int16(EVFILT_READ)] = nil
        #expect(t[7, Int16(EVFILT_READ)] == nil)
        #expect(t.count == 1)
    }

    @Test func otherFiltersAndHugeIdentsUseTheDictionary() {
        var t = KnoteTable()
        let u = knote(7, EVFILT_USER), big = knote(UInt.max, EVFILT_READ)
        t[7, Int16(EVFILT_USER)] = u
        t[UInt.max, Int16(EVFILT_READ)] = big
        #expect(t[7, Int16(EVFILT_USER)] === u)
        #expect(t[UInt.max, Int16(EVFILT_READ)] === big)
        #expect(t.all.count == 2)
        t.removeAll()
        #expect(t.count == 0 && t.all.isEmpty)
    }

    @Test func clearingAnAbsentEntryKeepsTheCount() {
        var t = KnoteTable()
        t[1_000, Int16(EVFILT_READ)] = nil
        t[3, Int16(EVFILT_TIMER)] = nil
        #expect(t.count == 0)
    }
}
