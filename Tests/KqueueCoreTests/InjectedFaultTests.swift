// SPDX-License-Identifier: BSD-2-Clause
// InjectedFaultTests.swift: kevent's error paths for failures the kernel rarely gives, through the syscall layer's seam.

import BSDSystem
import CBSDShimABI
import Glibc
import Testing
@testable import KqueueCore

/// Each test arms faults for its own thread only (the seam is per thread), so
/// these run beside the other suites. Debug builds only: release builds have
/// no seam, and the tests say so instead of passing vacuously.
@Suite struct InjectedFaultTests {
    func change(_ ident: UInt, _ filter: Int32, _ flags: Int32, _ fflags: UInt32 = 0, _ data: Int = 0) -> kevent {
        kevent(ident: ident, filter: Int16(filter), flags: UInt16(flags), fflags: fflags, data: data, udata: nil)
    }

    func run(_ kq: EpollKqueue, _ changes: [kevent], capacity: Int = 8) -> Result<[kevent], Errno> {
        var out = Array<kevent>(repeating: kevent(), count: max(capacity, 1))
        let r = changes.withUnsafeBufferPointer { c in
            out.withUnsafeMutableBufferPointer { o in
                Result { () throws(Errno) in
                    try kq.kevent(changes: c.baseAddress, count: c.count, events: o.baseAddress, capacity: capacity, timeout: 0)
                }
            }
        }
        return r.map { Array(out.prefix($0)) }
    }

    /// A pipe whose read end is readable (one byte written).
    func readablePipe() -> (Int32, Int32) {
        var p: [Int32] = [-1, -1]
        #expect(pipe(&p) == 0)
        var b: UInt8 = 1
        #expect(write(p[1], &b, 1) == 1)
        return (p[0], p[1])
    }


    @Test(.enabled(if: InjectedFault.isAvailable, "the seam exists in debug builds only"))
    func epollCtlOutOfMemoryIsTheChangesErrorAndRegistersNothing() throws {
        let kq = try EpollKqueue.create()
        defer { close(kq.fd) }
        let (r, w) = readablePipe()
        defer { close(r); close(w) }
        InjectedFault.arm(.epollCtl, .noMemory)
        let evs = try run(kq, [change(UInt(r), EVFILT_READ, EV_ADD)]).get()
        #expect(InjectedFault.disarm() == 0)
        #expect(evs.count == 1)
        #expect(evs.first.map { $0.flags & UInt16(EV_ERROR) != 0 && $0.data == Int(ENOMEM) } == true)
        // Nothing half-registered: no event, and deleting it finds nothing.
        #expect(try run(kq, []).get().isEmpty)
        let del = try run(kq, [change(UInt(r), EVFILT_READ, EV_DELETE)]).get()
        #expect(del.first.map { $0.flags & UInt16(EV_ERROR) != 0 && $0.data == Int(ENOENT) } == true)
        // The same change succeeds once the kernel has memory again.
        #expect(try run(kq, [change(UInt(r), EVFILT_READ, EV_ADD)], capacity: 0).get().isEmpty)
        let ready = try run(kq, []).get()
        #expect(ready.count == 1 && ready.first?.ident == UInt(r) && ready.first?.data == 1)
    }

    @Test(.enabled(if: InjectedFault.isAvailable, "the seam exists in debug builds only"))
    func interruptedEpollCtlIsRetried() throws {
        let kq = try EpollKqueue.create()
        defer { close(kq.fd) }
        let (r, w) = readablePipe()
        defer { close(r); close(w) }
        InjectedFault.arm(.epollCtl, .interrupted, count: 2)
        #expect(try run(kq, [change(UInt(r), EVFILT_READ, EV_ADD)], capacity: 0).get().isEmpty)
        #expect(InjectedFault.disarm() == 0)                 // both EINTRs were met, and retried
        let ready = try run(kq, []).get()
        #expect(ready.count == 1 && ready.first?.ident == UInt(r))
    }

    @Test(.enabled(if: InjectedFault.isAvailable, "the seam exists in debug builds only"))
    func kqueueCreationFailsCleanlyWhenOutOfDescriptors() throws {
        InjectedFault.arm(.epollCreate, .tooManyOpenFiles)
        #expect(throws: Errno.tooManyOpenFiles) { try EpollKqueue.create() }
        #expect(InjectedFault.disarm() == 0)
        // And the next creation works (nothing left locked or half made).
        let kq = try EpollKqueue.create()
        close(kq.fd)
    }

    @Test(.enabled(if: InjectedFault.isAvailable, "the seam exists in debug builds only"))
    func timerDescriptorFailureIsTheChangesError() throws {
        let kq = try EpollKqueue.create()
        defer { close(kq.fd) }
        InjectedFault.arm(.timerfdCreate, .tooManyOpenFiles)
        InjectedFault.arm(.eventfd, .tooManyOpenFiles)
        let evs = try run(kq, [change(1, EVFILT_TIMER, EV_ADD | EV_ONESHOT, 0, 1)]).get()
        let armedLeft = InjectedFault.disarm()
        // The timer needs a descriptor of one kind or the other the first time:
        // whichever it asked for failed, so the change failed with EMFILE.
        #expect(armedLeft == 1)
        #expect(evs.count == 1 && evs.first.map { $0.flags & UInt16(EV_ERROR) != 0 && $0.data == Int(EMFILE) } == true)
        // Registered afresh once descriptors are available, it fires.
        #expect(try run(kq, [change(1, EVFILT_TIMER, EV_ADD | EV_ONESHOT, 0, 1)], capacity: 0).get().isEmpty)
        var fired: [kevent] = []
        for _ in 0..<200 where fired.isEmpty {
            usleep(2_000)
            fired = try run(kq, []).get()
        }
        #expect(fired.count == 1 && fired.first?.filter == Int16(EVFILT_TIMER))
    }

    @Test(.enabled(if: InjectedFault.isAvailable, "the seam exists in debug builds only"))
    func kqueueCreationThrowsWhenItsWakeupEventfdOrItsRegistrationFails() throws {
        // After its epoll_create1 succeeded: the wake-up eventfd, then the eventfd's registration.
        for (call, errno) in [(InjectedFault.Call.eventfd, Errno.tooManyOpenFiles), (.epollCtl, .noMemory)] {
            InjectedFault.arm(call, errno)
            #expect(throws: errno) { try EpollKqueue.create() }
            #expect(InjectedFault.disarm() == 0, "\(call)")
        }
        #expect(close(try EpollKqueue.create().fd) == 0)   // and the next creation works
    }

    @Test(.enabled(if: InjectedFault.isAvailable, "the seam exists in debug builds only"))
    func aFailedChangeWithNoRoomLeftFailsTheWholeCall() throws {
        let kq = try EpollKqueue.create()
        defer { close(kq.fd) }
        let (r1, w1) = readablePipe()
        let (r2, w2) = readablePipe()
        defer { close(r1); close(w1); close(r2); close(w2) }
        // No event list: the change's error is the call's.
        InjectedFault.arm(.epollCtl, .noMemory)
        #expect(throws: Errno.noMemory) { try run(kq, [change(UInt(r1), EVFILT_READ, EV_ADD)], capacity: 0).get() }
        #expect(InjectedFault.disarm() == 0)
        // A poll with room for one error entry: the first failure takes it, the second fails the call.
        InjectedFault.arm(.epollCtl, .noMemory, count: 2)
        #expect(throws: Errno.noMemory) {
            try run(kq, [change(UInt(r1), EVFILT_READ, EV_ADD), change(UInt(r2), EVFILT_READ, EV_ADD)], capacity: 1).get()
        }
        #expect(InjectedFault.disarm() == 0)
        // Nothing was registered, and the kqueue still works.
        #expect(kq.knoteCount == 0)
        #expect(try run(kq, []).get().isEmpty)
        #expect(try run(kq, [change(UInt(r2), EVFILT_READ, EV_ADD)], capacity: 0).get().isEmpty)
        let ready = try run(kq, []).get()
        #expect(ready.count == 1 && ready.first?.ident == UInt(r2))
    }

    @Test(.enabled(if: InjectedFault.isAvailable, "the seam exists in debug builds only"))
    func writeSetCreationFailureIsTheChangesErrorAndTheNextAddWorks() throws {
        let (r, w0) = readablePipe()
        // A write end whose number no kqueue is registered under: tests
        // elsewhere in this process close linked kqueues behind the
        // registry's back, and EVFILT_WRITE asks such a stale entry whether
        // the number is still a kqueue with an epoll_ctl, which would take
        // the epoll_ctl fault armed below (seen under ASan: EINVAL, not ENOMEM).
        // Numbers passed over stay open until the end, so dup() cannot hand them out again.
        var w = w0
        var passedOver: [Int32] = []
        while KqueueRegistry.lookup(w) != nil && passedOver.count < 64 {
            passedOver.append(w)
            w = dup(w0)
        }
        defer { close(r); for fd in passedOver + [w] { close(fd) } }
        // The first EVFILT_WRITE knote makes the kqueue's nested write set:
        // its epoll_create1 and its registration in the main set can fail.
        for (call, errno) in [(InjectedFault.Call.epollCreate, Errno.tooManyOpenFiles), (.epollCtl, .noMemory)] {
            let kq = try EpollKqueue.create()
            defer { close(kq.fd) }
            InjectedFault.arm(call, errno)
            let evs = try run(kq, [change(UInt(w), EVFILT_WRITE, EV_ADD)]).get()
            #expect(InjectedFault.disarm() == 0, "\(call)")
            #expect(evs.count == 1 && evs.first.map { $0.flags & UInt16(EV_ERROR) != 0 && $0.data == Int(errno.rawValue) } == true,
                    "\(call)")
            #expect(kq.knoteCount == 0)
            #expect(try run(kq, [change(UInt(w), EVFILT_WRITE, EV_ADD)], capacity: 0).get().isEmpty)
            let ready = try run(kq, []).get()
            #expect(ready.count == 1 && ready.first?.ident == UInt(w) && ready.first?.filter == Int16(EVFILT_WRITE), "\(call)")
        }
    }

    @Test(.enabled(if: InjectedFault.isAvailable, "the seam exists in debug builds only"))
    func signalHubEventfdFailureIsTheChangesError() throws {
        let kq = try EpollKqueue.create()
        defer { close(kq.fd) }
        InjectedFault.arm(.eventfd, .tooManyOpenFiles)
        let evs = try run(kq, [change(UInt(SIGURG), EVFILT_SIGNAL, EV_ADD)]).get()
        if InjectedFault.disarm() == 0 {
            // The process-wide hub had no eventfd yet: making it failed, and so did the change.
            #expect(evs.count == 1 && evs.first.map { $0.flags & UInt16(EV_ERROR) != 0 && $0.data == Int(EMFILE) } == true)
            #expect(kq.knoteCount == 0)
        } else {
            // A test running beside this one watches a signal: the hub existed, nothing failed.
            #expect(evs.isEmpty && kq.knoteCount == 1)
        }
        // Either way the next registration works, and deleting it leaves nothing behind.
        #expect(try run(kq, [change(UInt(SIGURG), EVFILT_SIGNAL, EV_ADD)], capacity: 0).get().isEmpty)
        #expect(kq.knoteCount == 1)
        #expect(try run(kq, [change(UInt(SIGURG), EVFILT_SIGNAL, EV_DELETE)], capacity: 0).get().isEmpty)
        #expect(kq.knoteCount == 0)
    }
}
