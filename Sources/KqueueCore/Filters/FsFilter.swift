// SPDX-License-Identifier: BSD-2-Clause
// FsFilter.swift: EVFILT_FS, mount and unmount notifications from the kernel's mount table.

import BSDSystem
import CBSDShimABI
import Glibc

/// EVFILT_FS (DragonFly filt_fs): VQ_MOUNT when a file system is mounted,
/// VQ_UNMOUNT when one goes, in the caller's mount namespace. The kqueue's
/// ``FsSource`` keeps /proc/self/mountinfo open in its epoll set (opened for
/// the first FS knote, closed with the last): the kernel reports EPOLLPRI on it once per
/// change of the mount table, and the number of mounts before and after tells
/// which notes apply (a change that keeps the count, e.g. a remount or a
/// move, reports both). EV_CLEAR is implied; notes accumulate until delivered.
final class FsFilter: QueuedFilter {
    static let notes = UInt32(VQ_MOUNT | VQ_UNMOUNT)

    func attach(_ kn: Knote, to kq: EpollKqueue) throws(Errno) -> FilterOutcome {
        try kq.source(FsSource.self).add(kn, in: kq)
        kn.flags |= UInt16(EV_CLEAR)
        return .done
    }

    func detach(_ kn: Knote, from kq: EpollKqueue) -> FilterOutcome {
        kq.source(FsSource.self).remove(kn, in: kq)
        return .done
    }

    func touch(_ kn: Knote, with change: kevent, in kq: EpollKqueue) throws(Errno) -> FilterOutcome {
        kn.sfflags = change.fflags
        kn.sdata = change.data
        return .done
    }

    /// The mount table changed from `before` to `after` mounts.
    func mountsChanged(_ kn: Knote, before: Int, after: Int, in kq: EpollKqueue) {
        let notes = after > before ? UInt32(VQ_MOUNT)
            : after < before ? UInt32(VQ_UNMOUNT) : UInt32(VQ_MOUNT | VQ_UNMOUNT)
        kn.fflags |= notes
        kq.activate(kn)
    }

    func isActive(_ kn: Knote) -> Bool { kn.fflags != 0 }

    func process(_ kn: Knote, epollEvents: UInt32, in kq: EpollKqueue) -> kevent? {
        guard kn.fflags != 0 else { return nil }
        return kn.event(fflags: kn.fflags, data: 0)
    }
}
