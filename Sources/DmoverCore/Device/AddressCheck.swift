// SPDX-License-Identifier: BSD-2-Clause
// AddressCheck.swift: proves client ranges readable or writable without changing them (one-call probes, or MADV_POPULATE_WRITE over merged spans).

import BSDSystem

/// A range to check: whole pages [lo, hi) on behalf of a record.
struct CheckedRange {
    var lo: UInt
    var hi: UInt
    var owner: Int32
}

/// Checks many ranges with few system calls: pages are merged into spans
/// (requests usually sit in arrays, buffers side by side). A span to read
/// takes one probe per two pages (ProcessMemory.probeReadable: 8 bytes
/// across each page boundary); a span to write takes one probe if it is one
/// page (probeWritable) and madvise(MADV_POPULATE_WRITE) if it is larger.
/// Both fail for unmapped, PROT_NONE or (for writing) read-only pages
/// without faulting and without changing a byte. Only a failed span is
/// checked range by range to find the records at fault. Where the probes
/// failed their check at load (valgrind, emulators), madvise serves reads
/// too; on kernels before 5.14, which lack the advice, one byte per page is
/// copied with process_vm_readv (and written back with process_vm_writev).
///
/// Why probes for reading at every span size: madvise walks the span page
/// by page through get_user_pages, which cost 50-90 ns a page on a Zen 2
/// guest and 220 ns on a Zen 5 guest with a newer kernel, against 50-60 ns a
/// page for the probes (half a call each). madvise steps over a transparent
/// huge page at once where probes take 256 calls, but the request then
/// reads all of those bytes: at most a probe per 8 KiB it will read anyway
/// bounds the worst case to a fraction of the request's own work, whereas
/// madvise on small pages cost as much as reading them. Writing keeps
/// madvise beyond one page: the write probe (an atomic add of 0 through a
/// futex call) cost 320 ns a page on the Zen 5 guest, more than madvise.
enum AddressCheck {
    /// The whole pages covering [addr, addr + len); nil if the range wraps around the address space.
    @inline(__always)
    static func pages(_ addr: UnsafeRawPointer?, _ len: Int, owner: Int32, _ f: MemoryFacts) -> CheckedRange? {
        let pageSize = f.pageSize
        let start = UInt(bitPattern: addr)
        let end = start &+ UInt(len)
        if end < start || end > UInt.max - pageSize { return nil }
        return CheckedRange(lo: start & ~(pageSize - 1), hi: (end &+ pageSize &- 1) & ~(pageSize - 1), owner: owner)
    }

    /// Calls fault(owner) for each owner with a range that cannot be read
    /// (or written); the ranges are reordered. Spans found readable are added
    /// to `proven` (reading checks only), so later levels can skip them.
    static func check(_ ranges: UnsafeMutablePointer<CheckedRange>, count: Int, write: Bool, _ f: MemoryFacts,
                      proven: inout ReadableSpans, fault: (Int32) -> Void) {
        if count == 0 { return }
        sortByStart(ranges, count)
        var i = 0
        while i < count {
            // Merge ranges that overlap or touch into one span.
            var j = i + 1, hi = ranges[i].hi
            while j < count && ranges[j].lo <= hi {
                hi = max(hi, ranges[j].hi)
                j += 1
            }
            if accessible(ranges[i].lo, hi, write, f) {
                if !write { proven.add(ranges[i].lo, hi) }
            } else {
                for k in i..<j where !accessible(ranges[k].lo, ranges[k].hi, write, f) { fault(ranges[k].owner) }
            }
            i = j
        }
    }

    /// Ranges usually arrive in address order: a scan of loads and compares
    /// finds that (insertion sort would also store every range back); small
    /// unordered sets take insertion sort, which allocates nothing, large
    /// ones the standard sort.
    private static func sortByStart(_ r: UnsafeMutablePointer<CheckedRange>, _ count: Int) {
        var ordered = 1
        while ordered < count && r[ordered - 1].lo <= r[ordered].lo { ordered += 1 }
        if ordered == count { return }
        if count > 256 {
            var buffer = UnsafeMutableBufferPointer(start: r, count: count)
            buffer.sort { $0.lo < $1.lo }
            return
        }
        var i = ordered
        while i < count {
            let x = r[i]
            var j = i
            while j > 0 && r[j - 1].lo > x.lo {
                r[j] = r[j - 1]
                j -= 1
            }
            r[j] = x
            i += 1
        }
    }

    /// True if every page of [lo, hi) can be read (or written); no byte changes.
    static func accessible(_ lo: UInt, _ hi: UInt, _ write: Bool, _ f: MemoryFacts) -> Bool {
        let pageSize = f.pageSize
        if hi <= lo { return true }
        // No mapping spans more than half the address space (and Int(hi - lo)
        // would trap): a span reaching up to a kernel address is not accessible.
        if lo == 0 || hi - lo > UInt(Int.max) { return false }
        // Reading: one probe per two pages (8 bytes across their boundary),
        // and one for a last odd page; writing: one probe for one page (see
        // the type's comment for the costs behind both).
        if f.canProbe && (!write || hi - lo <= pageSize) {
            if write { return ProcessMemory.probeWritable(lo) }
            var page = lo
            while hi - page >= 2 * pageSize {
                if !ProcessMemory.probeReadable(page + pageSize - 4) { return false }
                page += 2 * pageSize
            }
            return page == hi || ProcessMemory.probeReadable(page)
        }
        if f.canPrefault { return ProcessMemory.prefault(lo, hi, forWriting: write) }
        var page = lo
        while page < hi {
            var byte: UInt8 = 0
            guard UserMemory.copyIn(&byte, from: UnsafeRawPointer(bitPattern: page), count: 1) else { return false }
            if write && !UserMemory.copyOut(UnsafeRawPointer(bitPattern: page)!, from: &byte, count: 1) { return false }
            page += pageSize
        }
        return true
    }
}

/// The page size and the kernel's checking calls, copied once into a
/// long-lived user (a RecordBatch): each use of a global pays a call to its
/// initialisation check, a stored copy one load.
struct MemoryFacts {
    let pageSize = ProcessMemory.pageSize
    let canProbe = ProcessMemory.canProbe
    let canPrefault = ProcessMemory.canPrefault
    /// For occasional callers.
    static let current = MemoryFacts()
}

/// Page spans proven readable while one batch is checked: the records' own
/// pages (copied in without a fault), then each level of descriptor arrays.
/// Programs build a request's record, input array and iovecs side by side
/// (often on one stack page), so most arrays need no system call of their
/// own. Few spans are kept: a lookup must cost less than the call it saves.
struct ReadableSpans {
    static let capacity = 4
    /// Storage for `capacity` spans, owned (allocated and freed) by the
    /// batch: a lookup loads the spans where they are (a tuple read through
    /// withUnsafeBytes is first copied out of its owner, ~100 bytes a
    /// lookup). A copy shares it: copies serve lookups only, made after the
    /// last add and dropped before the next.
    private let spans: UnsafeMutablePointer<CheckedRange>
    private var count = 0

    init(storage: UnsafeMutablePointer<CheckedRange>) { spans = storage }

    /// Forgets every span (a new batch: the client may have unmapped pages meanwhile).
    mutating func removeAll() { count = 0 }

    /// Adds the pages [lo, hi) once; beyond the capacity the span is dropped (only a missed saving).
    mutating func add(_ lo: UInt, _ hi: UInt) {
        if hi <= lo || count == Self.capacity || contains(CheckedRange(lo: lo, hi: hi, owner: -1)) { return }
        spans[count] = CheckedRange(lo: lo, hi: hi, owner: -1)
        count += 1
    }

    /// True if every page of `r` lies in one proven span.
    @inline(__always) func contains(_ r: CheckedRange) -> Bool {
        var i = 0
        while i < count {
            if spans[i].lo <= r.lo && r.hi <= spans[i].hi { return true }
            i &+= 1
        }
        return false
    }
}
