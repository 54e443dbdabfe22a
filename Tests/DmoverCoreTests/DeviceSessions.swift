// SPDX-License-Identifier: BSD-2-Clause
// DeviceSessions.swift: the /dev/dmover session the device tests start from.

import CBSDShimABI
import DmoverCore
import Glibc

/// A new session descriptor set to the "zero" function (DMIO_SETFUNC in
/// NetBSD's encoding, as a ported program sends it).
func openZeroSession(flags: Int32 = O_NONBLOCK) throws -> Int32 {
    let fd = try DmoverDevice.open(flags: flags)
    var name = dmio_setfunc()
    withUnsafeMutableBytes(of: &name.dsf_name) { p in
        for (i, c) in "zero".utf8.enumerated() { p[i] = c }
    }
    try DmoverDevice.ioctl(fd, UInt(DMIO_SETFUNC_NETBSD), &name)
    return fd
}
