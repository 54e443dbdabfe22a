// SPDX-License-Identifier: BSD-2-Clause
// Buffers.swift: validating dmover buffers and walking them as contiguous chunks.

import BSDSystem
import CBSDShimABI
import Glibc

/// One validated buffer: a linear region, or the first `length` bytes of an iovec array.
struct Segments {
    var linear: UnsafeMutableRawPointer?
    var iov: UnsafePointer<iovec>?
    var iovcnt: Int
    var length: Int

    static var empty: Segments { Segments(linear: nil, iov: nil, iovcnt: 0, length: 0) }

    /// Checks a buffer of the given type; throws why a bad one is bad.
    /// EINVAL: wrong type, NULL uio, bad iovcnt, iovecs shorter than uio_resid;
    /// EFAULT: NULL address with a non-zero length.
    static func make(_ type: dmover_buffer_type, _ buf: dmover_buffer) throws(Errno) -> Segments {
        switch type {
        case DMOVER_BUF_LINEAR:
            let l = buf.dmbuf_linear
            // size_t imports as Int: a length above Int.max reads as negative.
            guard l.l_len >= 0 else { throw .invalidArgument }
            if l.l_len > 0 && l.l_addr == nil { throw .badAddress }
            return Segments(linear: l.l_addr ?? UnsafeMutableRawPointer(bitPattern: 64), iov: nil,
                            iovcnt: 0, length: Int(l.l_len))
        case DMOVER_BUF_UIO:
            guard let uio = buf.dmbuf_uio else { throw .invalidArgument }
            let u = uio.pointee
            guard u.uio_iovcnt >= 0, u.uio_iovcnt <= 1024 /* IOV_MAX */, u.uio_resid >= 0 else {
                throw .invalidArgument
            }
            let resid = Int(u.uio_resid)
            if u.uio_iovcnt > 0 && u.uio_iov == nil { throw .badAddress }
            var have = 0
            for i in 0..<Int(u.uio_iovcnt) where have < resid {
                let v = u.uio_iov![i]
                guard v.iov_len >= 0 else { throw .invalidArgument }
                if v.iov_len > 0 && v.iov_base == nil { throw .badAddress }
                let (s, o) = have.addingReportingOverflow(Int(v.iov_len))
                have = o ? Int.max : s
            }
            guard have >= resid else { throw .invalidArgument }
            return Segments(linear: nil, iov: UnsafePointer(u.uio_iov), iovcnt: Int(u.uio_iovcnt),
                            length: resid)
        default:
            throw .invalidArgument
        }
    }
}

/// A position inside Segments; `chunk` gives the contiguous run from here.
struct Cursor {
    let seg: Segments
    var index = 0       // iovec index
    var offset = 0      // offset inside that iovec (or inside the linear region)
    var position = 0    // bytes consumed

    init(_ seg: Segments, at start: Int = 0) {
        self.seg = seg
        advance(start)
    }

    /// Pointer and length of the contiguous run at the cursor (length 0 at the end).
    @inline(__always)
    mutating func chunk() -> (UnsafeMutableRawPointer, Int) {
        let left = seg.length &- position
        if let l = seg.linear { return (l + offset, left) }
        guard left > 0, let iov = seg.iov else { return (UnsafeMutableRawPointer(bitPattern: 64)!, 0) }
        while index < seg.iovcnt && iov[index].iov_len == offset { index &+= 1; offset = 0 }
        let v = iov[index]
        return (v.iov_base! + offset, min(Int(v.iov_len) &- offset, left))
    }

    /// Moves forward by n bytes (n never passes the end).
    @inline(__always)
    mutating func advance(_ n: Int) {
        position &+= n
        if seg.linear != nil { offset &+= n; return }
        guard let iov = seg.iov else { return }
        var n = n
        while n > 0 {
            let room = Int(iov[index].iov_len) &- offset
            if n < room { offset &+= n; return }
            n &-= room
            index &+= 1
            offset = 0
        }
    }
}
