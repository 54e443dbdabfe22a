// SPDX-License-Identifier: BSD-2-Clause
// DmoverIOAPI.swift: the C ABI of include/dev/dmover/dmover_io.h (dmover_open, dmover_ioctl, read/write/close), in header order.

import BSDSystem
import CBSDShimABI
import DmoverCore
import DmoverSIMD
import Glibc
import KqueueCore

/// `int dmover_open(int flags)`: see dmover_io.h.
@_cdecl("dmover_open")
public func bsdshim_dmover_open(_ flags: Int32) -> Int32 {
    NativeKernels.install()
    // kevent learns here how to ask about dmover descriptors (the first registration stays).
    DeviceReadiness.register(source: DmoverDevice.writeReadinessSource, room: DmoverDevice.writeRoom,
                             readable: DmoverDevice.responseBytes)
    do { return try DmoverDevice.open(flags: flags) } catch {
        Errno.current = error
        return -1
    }
}

/// `int dmover_ioctl(int fd, unsigned long cmd, void *arg)`: see dmover_io.h.
@_cdecl("dmover_ioctl")
public func bsdshim_dmover_ioctl(_ fd: Int32, _ cmd: UInt, _ arg: UnsafeMutableRawPointer?) -> Int32 {
    do { try DmoverDevice.ioctl(fd, cmd, arg) } catch {
        Errno.current = error
        return -1
    }
    return 0
}

/// `ssize_t dmover_write(int fd, const void *buf, size_t nbytes)`: see dmover_io.h.
@_cdecl("dmover_write")
public func bsdshim_dmover_write(_ fd: Int32, _ buf: UnsafeRawPointer?, _ nbytes: Int) -> Int {
    do { return try DmoverDevice.write(fd, buf, nbytes) } catch {
        Errno.current = error
        return -1
    }
}

/// `ssize_t dmover_read(int fd, void *buf, size_t nbytes)`: see dmover_io.h.
@_cdecl("dmover_read")
public func bsdshim_dmover_read(_ fd: Int32, _ buf: UnsafeMutableRawPointer?, _ nbytes: Int) -> Int {
    do { return try DmoverDevice.read(fd, buf, nbytes) } catch {
        Errno.current = error
        return -1
    }
}

/// dmover_write for the preload library's write()/writev(): fd is one it
/// returned and has seen no close of, so the descriptor's identity (an fstat)
/// is not checked again. Not for programs.
@_cdecl("bsdshim_dmover_write_tracked")
public func bsdshim_dmover_write_tracked(_ fd: Int32, _ buf: UnsafeRawPointer?, _ nbytes: Int) -> Int {
    do { return try DmoverDevice.write(fd, buf, nbytes, tracked: true) } catch {
        Errno.current = error
        return -1
    }
}

/// dmover_read for the preload library's read()/readv() (see bsdshim_dmover_write_tracked).
@_cdecl("bsdshim_dmover_read_tracked")
public func bsdshim_dmover_read_tracked(_ fd: Int32, _ buf: UnsafeMutableRawPointer?, _ nbytes: Int) -> Int {
    do { return try DmoverDevice.read(fd, buf, nbytes, tracked: true) } catch {
        Errno.current = error
        return -1
    }
}

/// For the preload library's dup family: `copy` names the same open file
/// as tracked descriptor `fd` (the same session). 0, or -1 with errno. Not for programs.
@_cdecl("bsdshim_dmover_duplicated")
public func bsdshim_dmover_duplicated(_ fd: Int32, _ copy: Int32) -> Int32 {
    do { try DmoverDevice.duplicated(fd, as: copy) } catch {
        Errno.current = error
        return -1
    }
    return 0
}

/// For the preload library: tracked descriptor fd is being closed or
/// replaced by a call other than close() (dup2, dup3, close_range). Not for programs.
@_cdecl("bsdshim_dmover_forget")
public func bsdshim_dmover_forget(_ fd: Int32) {
    DmoverDevice.forget(fd)
}

/// `int dmover_writable(int fd)`: see dmover_io.h.
@_cdecl("dmover_writable")
public func bsdshim_dmover_writable(_ fd: Int32) -> Int32 {
    do { return try DmoverDevice.writable(fd) ? 1 : 0 } catch {
        Errno.current = error
        return -1
    }
}

/// `int dmover_close(int fd)`: see dmover_io.h.
@_cdecl("dmover_close")
public func bsdshim_dmover_close(_ fd: Int32) -> Int32 {
    do { try DmoverDevice.close(fd) } catch {
        Errno.current = error
        return -1
    }
    return 0
}
