// SPDX-License-Identifier: BSD-2-Clause
// DmoverAPI.swift: the C ABI of include/dev/dmover/dmovervar.h (dmover_* functions),
// in header order. Kernel-style calls return 0 or an errno value.

import BSDSystem
import CBSDShimABI
import DmoverCore
import DmoverSIMD
import Glibc

// MARK: - backend interface

/// `int dmover_backend_register(struct dmover_backend *)`: see dmovervar.h.
@_cdecl("dmover_backend_register")
public func bsdshim_dmover_backend_register(_ dmb: UnsafeMutablePointer<dmover_backend>?) -> Int32 {
    guard let dmb else { return EINVAL }
    do { try BackendRegistry.register(dmb) } catch { return error.rawValue }
    return 0
}

/// `int dmover_backend_unregister(struct dmover_backend *)`: see dmovervar.h.
@_cdecl("dmover_backend_unregister")
public func bsdshim_dmover_backend_unregister(_ dmb: UnsafeMutablePointer<dmover_backend>?) -> Int32 {
    guard let dmb else { return EINVAL }
    do { try BackendRegistry.unregister(dmb) } catch { return error.rawValue }
    return 0
}

/// `struct dmover_request *dmover_backend_dequeue(struct dmover_backend *)`: see dmovervar.h.
@_cdecl("dmover_backend_dequeue")
public func bsdshim_dmover_backend_dequeue(_ dmb: UnsafeMutablePointer<dmover_backend>?)
    -> UnsafeMutablePointer<dmover_request>?
{
    guard let dmb else { return nil }
    return RequestProcessing.dequeue(dmb)
}

/// `void dmover_done(struct dmover_request *)`: see dmovervar.h.
@_cdecl("dmover_done")
public func bsdshim_dmover_done(_ dreq: UnsafeMutablePointer<dmover_request>?) {
    guard let dreq else { return }
    RequestProcessing.done(dreq)
}

/// `const struct dmover_algdesc *dmover_algdesc_lookup(const struct dmover_algdesc *, int, const char *)`.
@_cdecl("dmover_algdesc_lookup")
public func bsdshim_dmover_algdesc_lookup(
    _ dad: UnsafePointer<dmover_algdesc>?, _ ndad: Int32, _ name: UnsafePointer<CChar>?
) -> UnsafePointer<dmover_algdesc>? {
    algdescLookup(dad, count: Int(ndad), name: name)
}

// MARK: - client interface

/// `int dmover_session_create(const char *, struct dmover_session **)`: see dmovervar.h.
@_cdecl("dmover_session_create")
public func bsdshim_dmover_session_create(
    _ name: UnsafePointer<CChar>?, _ dsesp: UnsafeMutablePointer<UnsafeMutablePointer<dmover_session>?>?
) -> Int32 {
    guard let name, let dsesp else { return EINVAL }
    NativeKernels.install()
    do { dsesp.pointee = try SessionLifecycle.create(name) } catch { return error.rawValue }
    return 0
}

/// `void dmover_session_destroy(struct dmover_session *)`: see dmovervar.h.
@_cdecl("dmover_session_destroy")
public func bsdshim_dmover_session_destroy(_ dses: UnsafeMutablePointer<dmover_session>?) {
    guard let dses else { return }
    SessionLifecycle.destroy(dses)
}

/// `struct dmover_request *dmover_request_alloc(struct dmover_session *, dmover_buffer *)`.
@_cdecl("dmover_request_alloc")
public func bsdshim_dmover_request_alloc(
    _ dses: UnsafeMutablePointer<dmover_session>?, _ inbuf: UnsafeMutablePointer<dmover_buffer>?
) -> UnsafeMutablePointer<dmover_request>? {
    guard let dses else {
        Errno.current = .invalidArgument
        return nil
    }
    do { return try RequestBlocks.alloc(dses, inbuf: inbuf) } catch {
        Errno.current = error
        return nil
    }
}

/// `void dmover_request_free(struct dmover_request *)`: see dmovervar.h.
@_cdecl("dmover_request_free")
public func bsdshim_dmover_request_free(_ dreq: UnsafeMutablePointer<dmover_request>?) {
    guard let dreq else { return }
    RequestBlocks.free(dreq)
}

/// `void dmover_process(struct dmover_request *)`: see dmovervar.h.
@_cdecl("dmover_process")
public func bsdshim_dmover_process(_ dreq: UnsafeMutablePointer<dmover_request>?) {
    guard let dreq else { return }
    RequestProcessing.process(dreq)
}
