// SPDX-License-Identifier: BSD-2-Clause
// main.swift: kqueue benchmark: bsdshim's kevent() against the raw epoll equivalent, same process.
//
// Usage: kqueue-bench [--quick] [--only a|b|c|d|e|f]
// Every figure is a median over rounds; the ratio column (bsdshim / epoll, lower
// is better for times) is what to read: absolute numbers drift between runs.

import CBSDShimABI
import CBSDShim
import Glibc

// MARK: - Helpers

if CommandLine.arguments.contains("--help") || CommandLine.arguments.contains("-h") {
    print("""
    usage: kqueue-bench [--quick] [--only a|b|c|d|e|f]
      --quick   3 rounds per figure instead of 7
      --only X  one benchmark: a EVFILT_USER round trip, b pipe ping-pong,
                c EV_ADD/EV_DELETE, d waits, e timers, f event loop
    Prints each figure beside its raw-epoll twin, measured in the same run,
    as a ratio (bsdshim / raw epoll: below 1, bsdshim is ahead).
    """)
    exit(0)
}
let quick = CommandLine.arguments.contains("--quick")
let rounds = quick ? 3 : 7

@inline(__always) func now() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

func cpuNanoseconds() -> UInt64 {
    var ru = rusage()
    getrusage(Int32(RUSAGE_SELF.rawValue), &ru)
    let u = UInt64(ru.ru_utime.tv_sec) * 1_000_000_000 + UInt64(ru.ru_utime.tv_usec) * 1000
    let s = UInt64(ru.ru_stime.tv_sec) * 1_000_000_000 + UInt64(ru.ru_stime.tv_usec) * 1000
    return u + s
}

func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    return s[s.count / 2]
}

func openFDs() -> Int {
    guard let d = opendir("/proc/self/fd") else { return -1 }
    var n = 0
    while let e = readdir(d) {
        if e.pointee.d_name.0 != 0x2E { n += 1 }
    }
    closedir(d)
    return n - 1
}

func fmt(_ v: Double, _ digits: Int = 1) -> String {
    var p = 1.0
    for _ in 0..<digits { p *= 10 }
    let r = (v * p).rounded() / p
    var s = "\(r)"
    if let dot = s.firstIndex(of: ".") {
        let decimals = s.distance(from: dot, to: s.endIndex) - 1
        if decimals < digits { s += String(repeating: "0", count: digits - decimals) }
    }
    return s
}

func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
func lpad(_ s: String, _ n: Int) -> String { s.count >= n ? s : String(repeating: " ", count: n - s.count) + s }

struct Row {
    let name: String
    let ours: String
    let reference: String
    let ratio: Double
    let goal: String
}
nonisolated(unsafe) var rows: [Row] = []

func record(_ name: String, ours: Double, reference: Double, unit: String, goal: String, higherIsBetter: Bool = false) {
    let ratio = higherIsBetter ? reference / ours : ours / reference
    rows.append(Row(name: name, ours: fmt(ours) + " " + unit, reference: fmt(reference) + " " + unit,
                    ratio: ratio, goal: goal))
    print("  \(name): bsdshim \(fmt(ours)) \(unit), epoll \(fmt(reference)) \(unit): \(verdict(ratio))")
}

/// A ratio in words: which side is ahead (never a bare "x0.0").
func verdict(_ ratio: Double) -> String {
    if ratio.isNaN || ratio.isInfinite || ratio <= 0 { return "—" }
    if ratio >= 1.005 { return "\(fmt(ratio, 2))× — bsdshim slower" }
    if ratio <= 0.995 { return "\(fmt(ratio, 2))× — bsdshim faster" }
    return "\(fmt(ratio, 2))× — even"
}

/// The CPU model and cache sizes, from /proc/cpuinfo and sysfs (figures mean
/// nothing without them).
func cpuDescription() -> String {
    func firstLine(_ path: String) -> String? {
        guard let f = fopen(path, "r") else { return nil }
        defer { fclose(f) }
        var buf = [CChar](repeating: 0, count: 256)
        guard fgets(&buf, 256, f) != nil else { return nil }
        let s = String(decoding: buf.prefix { $0 != 0 && $0 != 10 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return s
    }
    var model = "unknown CPU", family = "?", number = "?"
    if let f = fopen("/proc/cpuinfo", "r") {
        var buf = [CChar](repeating: 0, count: 512)
        while fgets(&buf, 512, f) != nil {
            let line = String(decoding: buf.prefix { $0 != 0 && $0 != 10 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            guard let colon = line.firstIndex(of: ":") else { continue }
            let value = String(line[line.index(after: colon)...].drop { $0 == " " })
            if line.hasPrefix("cpu family") { family = value }
            if line.hasPrefix("model\t") { number = value }
            if line.hasPrefix("model name") { model = value; break }
        }
        fclose(f)
    }
    var caches: [String] = []
    for i in 0..<8 {
        let dir = "/sys/devices/system/cpu/cpu0/cache/index\(i)/"
        guard let level = firstLine(dir + "level"), let size = firstLine(dir + "size") else { break }
        let type = firstLine(dir + "type") ?? ""
        caches.append("L\(level)\(type == "Data" ? "d" : type == "Instruction" ? "i" : "") \(size)")
    }
    return "\(model) (family \(family) model \(number)), \(sysconf(Int32(_SC_NPROCESSORS_ONLN))) CPUs online; caches (cpu0): \(caches.joined(separator: ", "))"
}

func kev(_ ident: UInt, _ filter: Int32, _ flags: Int32, _ fflags: UInt32 = 0, _ data: Int = 0) -> kevent {
    kevent(ident: ident, filter: Int16(filter), flags: UInt16(flags), fflags: fflags, data: data, udata: nil)
}

nonisolated(unsafe) var zero = timespec(tv_sec: 0, tv_nsec: 0)

// MARK: - (a) EVFILT_USER trigger + wait round trip vs eventfd + epoll_wait

func benchUserRoundTrip() {
    let iterations = quick ? 100_000 : 300_000
    var ours: [Double] = [], ref: [Double] = []
    let kq = kqueue()
    var add = kev(1, EVFILT_USER, EV_ADD | EV_CLEAR)
    _ = kevent(kq, &add, 1, nil, 0, nil)
    var trigger = kev(1, EVFILT_USER, 0, UInt32(NOTE_TRIGGER))
    var out = kevent()

    let ep = epoll_create1(Int32(EPOLL_CLOEXEC))
    let efd = eventfd(0, Int32(EFD_NONBLOCK))
    var ee = epoll_event()
    ee.events = cbsdshim_EPOLLIN
    ee.data.u64 = 1
    epoll_ctl(ep, Int32(EPOLL_CTL_ADD), efd, &ee)
    var one: UInt64 = 1
    var sink: UInt64 = 0
    var evs = epoll_event()

    for _ in 0..<rounds {
        var t0 = now()
        for _ in 0..<iterations {
            let n = kevent(kq, &trigger, 1, &out, 1, &zero)
            precondition(n == 1)
        }
        ours.append(Double(now() - t0) / Double(iterations))
        t0 = now()
        for _ in 0..<iterations {
            _ = write(efd, &one, 8)
            let n = epoll_wait(ep, &evs, 1, 0)
            precondition(n == 1)
            _ = read(efd, &sink, 8)
        }
        ref.append(Double(now() - t0) / Double(iterations))
    }
    close(kq); close(ep); close(efd)
    record("(a) EVFILT_USER trigger+wait round trip", ours: median(ours), reference: median(ref),
           unit: "ns", goal: "<= 1.10")
}

// MARK: - (b) two-thread pipe ping-pong

/// One side of a ping-pong: waits on its own kqueue/epoll for `readFD`, reads
/// the byte, writes it to `writeFD`.
final class PingPong: @unchecked Sendable {
    let useKqueue: Bool
    let iterations: Int
    /// The epoll side also asks FIONREAD per wake-up, as kevent() must for
    /// EVFILT_READ's `data` (the same information, one more syscall).
    var askBytes = false
    var ab: [Int32] = [0, 0]
    var ba: [Int32] = [0, 0]
    init(useKqueue: Bool, iterations: Int) {
        self.useKqueue = useKqueue
        self.iterations = iterations
        ab.withUnsafeMutableBufferPointer { _ = pipe($0.baseAddress!) }
        ba.withUnsafeMutableBufferPointer { _ = pipe($0.baseAddress!) }
    }

    func side(readFD: Int32, writeFD: Int32, starts: Bool) {
        var byte: UInt8 = 0x2A
        if useKqueue {
            let kq = kqueue()
            var ch = kev(UInt(readFD), EVFILT_READ, EV_ADD)
            _ = kevent(kq, &ch, 1, nil, 0, nil)
            var out = kevent()
            if starts { _ = write(writeFD, &byte, 1) }
            for _ in 0..<iterations {
                _ = kevent(kq, nil, 0, &out, 1, nil)
                _ = read(readFD, &byte, 1)
                _ = write(writeFD, &byte, 1)
            }
            close(kq)
        } else {
            let ep = epoll_create1(Int32(EPOLL_CLOEXEC))
            var ee = epoll_event()
            ee.events = cbsdshim_EPOLLIN
            ee.data.fd = readFD
            epoll_ctl(ep, Int32(EPOLL_CTL_ADD), readFD, &ee)
            var out = epoll_event()
            var avail: Int32 = 0
            if starts { _ = write(writeFD, &byte, 1) }
            for _ in 0..<iterations {
                _ = epoll_wait(ep, &out, 1, -1)
                if askBytes { _ = cbsdshim_ioctl_int(readFD, cbsdshim_FIONREAD, &avail) }
                _ = read(readFD, &byte, 1)
                _ = write(writeFD, &byte, 1)
            }
            close(ep)
        }
    }

    /// Round trips per second.
    func run() -> Double {
        let t0 = now()
        var tid = pthread_t()
        let box = Unmanaged.passRetained(self)
        pthread_create(&tid, nil, { arg in
            let me = Unmanaged<PingPong>.fromOpaque(arg!).takeRetainedValue()
            me.side(readFD: me.ab[0], writeFD: me.ba[1], starts: false)
            return nil
        }, box.toOpaque())
        side(readFD: ba[0], writeFD: ab[1], starts: true)
        pthread_join(tid, nil)
        let elapsed = Double(now() - t0) / 1e9
        for fd in ab + ba { close(fd) }
        return Double(iterations) / elapsed
    }
}

func benchPingPong() {
    let iterations = quick ? 20_000 : 50_000
    var ours: [Double] = [], ref: [Double] = [], refBytes: [Double] = []
    for _ in 0..<rounds {
        ours.append(PingPong(useKqueue: true, iterations: iterations).run())
        ref.append(PingPong(useKqueue: false, iterations: iterations).run())
        let withBytes = PingPong(useKqueue: false, iterations: iterations)
        withBytes.askBytes = true
        refBytes.append(withBytes.run())
    }
    // Report time per round trip so that the ratio reads like the others.
    record("(b) pipe ping-pong, 2 threads (per round trip)", ours: 1e9 / median(ours), reference: 1e9 / median(ref),
           unit: "ns", goal: "<= 1.10")
    record("(b) the same, epoll side also asks FIONREAD (kevent's data)", ours: 1e9 / median(ours),
           reference: 1e9 / median(refBytes), unit: "ns", goal: "-")
}

// MARK: - (c) EV_ADD of 10,000 sockets vs epoll_ctl

func benchAdd() {
    let count = 10_000
    var fds: [Int32] = []
    for _ in 0..<(count / 2) {
        var sv: [Int32] = [0, 0]
        sv.withUnsafeMutableBufferPointer { _ = socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, $0.baseAddress!) }
        fds += sv
    }
    var oursAdd: [Double] = [], refAdd: [Double] = [], oursDel: [Double] = [], refDel: [Double] = []
    var oursBatch: [Double] = []
    var batch = fds.map { kev(UInt($0), EVFILT_READ, EV_ADD) }
    func runBatch() {
        // The same 10,000 registrations as one change list (how kqueue programs batch).
        let bkq = kqueue()
        let t0 = now()
        _ = batch.withUnsafeMutableBufferPointer { kevent(bkq, $0.baseAddress, Int32($0.count), nil, 0, nil) }
        oursBatch.append(Double(now() - t0) / Double(count))
        close(bkq)
    }

    func runKqueue() {
        let kq = kqueue()
        var t0 = now()
        for fd in fds {
            var ch = kev(UInt(fd), EVFILT_READ, EV_ADD)
            _ = kevent(kq, &ch, 1, nil, 0, nil)
        }
        oursAdd.append(Double(now() - t0) / Double(count))
        t0 = now()
        for fd in fds {
            var ch = kev(UInt(fd), EVFILT_READ, EV_DELETE)
            _ = kevent(kq, &ch, 1, nil, 0, nil)
        }
        oursDel.append(Double(now() - t0) / Double(count))
        close(kq)
    }

    func runEpoll() {
        let ep = epoll_create1(Int32(EPOLL_CLOEXEC))
        var t0 = now()
        for fd in fds {
            var ee = epoll_event()
            ee.events = cbsdshim_EPOLLIN | cbsdshim_EPOLLRDHUP
            ee.data.u64 = UInt64(fd)
            epoll_ctl(ep, Int32(EPOLL_CTL_ADD), fd, &ee)
        }
        refAdd.append(Double(now() - t0) / Double(count))
        t0 = now()
        for fd in fds {
            var ee = epoll_event()
            epoll_ctl(ep, Int32(EPOLL_CTL_DEL), fd, &ee)
        }
        refDel.append(Double(now() - t0) / Double(count))
        close(ep)
    }

    for r in 0..<rounds {
        // Alternate which side goes first: the side that follows a mass
        // release of epoll items finds the kernel's caches in another state.
        // Each side follows one (the other side's, or the change-list run's).
        if r % 2 == 0 { runKqueue(); runEpoll() } else { runEpoll(); runKqueue() }
        runBatch()
    }
    for fd in fds { close(fd) }
    record("(c) EV_ADD, 10,000 sockets, one per call", ours: median(oursAdd), reference: median(refAdd),
           unit: "ns", goal: "<= 1.10")
    record("(c) EV_ADD, 10,000 sockets, one change list", ours: median(oursBatch), reference: median(refAdd),
           unit: "ns", goal: "<= 1.10")
    record("(c) EV_DELETE, 10,000 sockets", ours: median(oursDel), reference: median(refDel),
           unit: "ns", goal: "<= 1.10")
}

// MARK: - (d) one wait returning 1 event with N idle fds registered

func benchWait() {
    var flat: [(Int, Double)] = []
    for n in [100, 1_000, 10_000] {
        var fds: [Int32] = []
        for _ in 0..<(n / 2) {
            var sv: [Int32] = [0, 0]
            sv.withUnsafeMutableBufferPointer { _ = socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, $0.baseAddress!) }
            fds += sv
        }
        // One readable socket.
        var sv: [Int32] = [0, 0]
        sv.withUnsafeMutableBufferPointer { _ = socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, $0.baseAddress!) }
        var b: UInt8 = 1
        _ = write(sv[1], &b, 1)

        let kq = kqueue()
        let ep = epoll_create1(Int32(EPOLL_CLOEXEC))
        for fd in fds + [sv[0]] {
            var ch = kev(UInt(fd), EVFILT_READ, EV_ADD)
            _ = kevent(kq, &ch, 1, nil, 0, nil)
            var ee = epoll_event()
            ee.events = cbsdshim_EPOLLIN | cbsdshim_EPOLLRDHUP
            ee.data.fd = fd
            epoll_ctl(ep, Int32(EPOLL_CTL_ADD), fd, &ee)
        }
        let iterations = quick ? 50_000 : 200_000
        var ours: [Double] = [], ref: [Double] = []
        var out = kevent()
        var eout = epoll_event()
        var avail: Int32 = 0
        for _ in 0..<rounds {
            var t0 = now()
            for _ in 0..<iterations {
                let k = kevent(kq, nil, 0, &out, 1, &zero)
                precondition(k == 1 && out.data == 1)
            }
            ours.append(Double(now() - t0) / Double(iterations))
            t0 = now()
            for _ in 0..<iterations {
                let k = epoll_wait(ep, &eout, 1, 0)
                precondition(k == 1)
                _ = cbsdshim_ioctl_int(eout.data.fd, cbsdshim_FIONREAD, &avail)
            }
            ref.append(Double(now() - t0) / Double(iterations))
        }
        close(kq); close(ep)
        for fd in fds + sv { close(fd) }
        record("(d) wait -> 1 event, \(n) idle fds", ours: median(ours), reference: median(ref),
               unit: "ns", goal: n == 10_000 ? "<= 1.10" : "<= 1.2, flat")
        flat.append((n, median(ours)))
    }
    let growth = flat.last!.1 / flat.first!.1
    print("  (d) cost at 10,000 fds / cost at 100 fds: \(fmt(growth, 2))x (flat = ~1.0)")
}

// MARK: - (e) 10,000 periodic timers: descriptors and CPU per expiration

func benchTimers() {
    let count = 10_000
    let seconds = quick ? 1.0 : 3.0
    // Periods 1..50 ms, as in the reference measurement.
    func period(_ i: Int) -> Int { 1 + (i * 7919) % 50 }

    // bsdshim: all timers in one kqueue (earlier benchmarks' kqueues reclaimed first).
    libkqueue_drain_pending_close()
    let fdBefore = openFDs()
    let kq = kqueue()
    var changes = (0..<count).map { kev(UInt($0), EVFILT_TIMER, EV_ADD, 0, period($0)) }
    let setup0 = now()
    _ = changes.withUnsafeMutableBufferPointer { kevent(kq, $0.baseAddress, Int32(count), nil, 0, nil) }
    let oursSetup = Double(now() - setup0) / Double(count)
    let oursFDs = openFDs() - fdBefore
    var events = Array<kevent>(repeating: kevent(), count: 1024)
    var expirations = 0
    var cpu0 = cpuNanoseconds()
    var t0 = now()
    let limit = UInt64(seconds * 1e9)
    while now() - t0 < limit {
        let n = events.withUnsafeMutableBufferPointer { kevent(kq, nil, 0, $0.baseAddress, 1024, nil) }
        for i in 0..<Int(n) { expirations += events[i].data }
    }
    let oursCPU = Double(cpuNanoseconds() - cpu0) / Double(max(expirations, 1))
    let oursRate = Double(expirations) / seconds
    close(kq)

    // Reference: one timerfd per timer in one epoll.
    let refBefore = openFDs()
    let ep = epoll_create1(Int32(EPOLL_CLOEXEC))
    var tfds: [Int32] = []
    let rs0 = now()
    for i in 0..<count {
        let t = timerfd_create(CLOCK_MONOTONIC, Int32(TFD_NONBLOCK | TFD_CLOEXEC))
        if t < 0 { break }  // descriptor limit
        let ms = period(i)
        var spec = itimerspec(it_interval: timespec(tv_sec: ms / 1000, tv_nsec: (ms % 1000) * 1_000_000),
                              it_value: timespec(tv_sec: ms / 1000, tv_nsec: (ms % 1000) * 1_000_000))
        timerfd_settime(t, 0, &spec, nil)
        var ee = epoll_event()
        ee.events = cbsdshim_EPOLLIN
        ee.data.fd = t
        epoll_ctl(ep, Int32(EPOLL_CTL_ADD), t, &ee)
        tfds.append(t)
    }
    let refSetup = Double(now() - rs0) / Double(max(tfds.count, 1))
    let refFDs = openFDs() - refBefore
    var eevents = [epoll_event](repeating: epoll_event(), count: 1024)
    var refExp = 0
    var ticks: UInt64 = 0
    cpu0 = cpuNanoseconds()
    t0 = now()
    while now() - t0 < limit {
        let n = eevents.withUnsafeMutableBufferPointer { epoll_wait(ep, $0.baseAddress, 1024, -1) }
        for i in 0..<Int(max(n, 0)) {
            if read(eevents[i].data.fd, &ticks, 8) == 8 { refExp += Int(ticks) }
        }
    }
    let refCPU = Double(cpuNanoseconds() - cpu0) / Double(max(refExp, 1))
    for t in tfds { close(t) }
    close(ep)

    print("  (e) \(count) timers: bsdshim \(oursFDs) fds, \(fmt(oursRate / 1000)) k expirations/s; " +
          "timerfd-per-timer \(refFDs) fds (\(tfds.count) timers armed), \(fmt(Double(refExp) / seconds / 1000)) k/s")
    record("(e) 10,000 timers: CPU per expiration", ours: oursCPU, reference: refCPU, unit: "ns", goal: "<= 1.0")
    record("(e) 10,000 timers: setup per timer", ours: oursSetup, reference: refSetup, unit: "ns", goal: "-")
    rows.append(Row(name: "(e) 10,000 timers: descriptors used", ours: "\(oursFDs) fds",
                    reference: "\(refFDs) fds", ratio: .nan, goal: "<= 4 fds"))
}

// MARK: - (f) event loop re-arming its read events through the changelist

/// The loop of an event library's kqueue backend: every iteration hands the
/// kernel a changelist (EV_ADD|EV_ENABLE for the sockets it wants read again,
/// EV_DELETE for some it stops watching, EV_ADD for those it watches again)
/// and takes the ready events out in the same call; the program reads what
/// arrived, and writers make the next group of sockets ready. The raw-epoll
/// twin is the same loop as an epoll backend runs it: EPOLL_CTL_MOD for a
/// re-arm, EPOLL_CTL_DEL / EPOLL_CTL_ADD for the others, then epoll_wait and
/// FIONREAD per event (kevent returns the byte count in `data`).
func benchEventLoop() {
    let sockets = 256, group = 16
    let groups = sockets / group
    var readers: [Int32] = [], writers: [Int32] = []
    for _ in 0..<sockets {
        var sv: [Int32] = [0, 0]
        sv.withUnsafeMutableBufferPointer { _ = socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0, $0.baseAddress!) }
        readers.append(sv[0]); writers.append(sv[1])
    }
    let iterations = quick ? 20_000 : 60_000
    /// Every fourth socket of a group is deleted after its event and added back one iteration later.
    @inline(__always) func dropsOut(_ i: Int) -> Bool { i % 4 == 0 }

    func runKqueue() -> Double {
        let kq = kqueue()
        var changes = Array<kevent>(repeating: kevent(), count: 2 * group)
        var events = Array<kevent>(repeating: kevent(), count: 64)
        var add = readers.map { kev(UInt($0), EVFILT_READ, EV_ADD) }
        _ = add.withUnsafeMutableBufferPointer { kevent(kq, $0.baseAddress, Int32($0.count), nil, 0, nil) }
        var byte: UInt8 = 1
        var buf = [UInt8](repeating: 0, count: 16)
        var ready = 0
        let t0 = now()
        for it in 0..<iterations {
            let g = it % groups, last = (it + groups - 1) % groups, before = (it + groups - 2) % groups
            for j in 0..<group { _ = write(writers[g * group + j], &byte, 1) }
            var n = 0
            for j in 0..<group where it >= 1 {
                let i = last * group + j
                changes[n] = kev(UInt(readers[i]), EVFILT_READ, dropsOut(i) ? EV_DELETE : EV_ADD | EV_ENABLE)
                n += 1
                let k = before * group + j
                if it >= 2 && dropsOut(k) {
                    changes[n] = kev(UInt(readers[k]), EVFILT_READ, EV_ADD | EV_ENABLE)
                    n += 1
                }
            }
            let got = changes.withUnsafeBufferPointer { c in
                events.withUnsafeMutableBufferPointer { kevent(kq, c.baseAddress, Int32(n), $0.baseAddress, 64, &zero) }
            }
            precondition(got == Int32(group), "kevent returned \(got)")
            for e in 0..<Int(got) { _ = read(Int32(events[e].ident), &buf, min(16, events[e].data)); ready += 1 }
        }
        let t = Double(now() - t0) / Double(iterations)
        close(kq)
        return t
    }

    func runEpoll() -> Double {
        let ep = epoll_create1(Int32(EPOLL_CLOEXEC))
        var events = [epoll_event](repeating: epoll_event(), count: 64)
        func ctl(_ op: Int32, _ fd: Int32) {
            var ee = epoll_event()
            ee.events = cbsdshim_EPOLLIN | cbsdshim_EPOLLRDHUP
            ee.data.fd = fd
            epoll_ctl(ep, op, fd, &ee)
        }
        for fd in readers { ctl(Int32(EPOLL_CTL_ADD), fd) }
        var byte: UInt8 = 1
        var buf = [UInt8](repeating: 0, count: 16)
        var avail: Int32 = 0
        let t0 = now()
        for it in 0..<iterations {
            let g = it % groups, last = (it + groups - 1) % groups, before = (it + groups - 2) % groups
            for j in 0..<group { _ = write(writers[g * group + j], &byte, 1) }
            for j in 0..<group where it >= 1 {
                let i = last * group + j
                ctl(Int32(dropsOut(i) ? EPOLL_CTL_DEL : EPOLL_CTL_MOD), readers[i])
                let k = before * group + j
                if it >= 2 && dropsOut(k) { ctl(Int32(EPOLL_CTL_ADD), readers[k]) }
            }
            let got = events.withUnsafeMutableBufferPointer { epoll_wait(ep, $0.baseAddress, 64, 0) }
            precondition(got == Int32(group), "epoll_wait returned \(got)")
            for e in 0..<Int(got) {
                let fd = events[e].data.fd
                _ = cbsdshim_ioctl_int(fd, cbsdshim_FIONREAD, &avail)
                _ = read(fd, &buf, min(16, Int(avail)))
            }
        }
        let t = Double(now() - t0) / Double(iterations)
        close(ep)
        return t
    }

    var ours: [Double] = [], ref: [Double] = []
    for r in 0..<rounds {
        // Alternate which side goes first, so drift does not favour one.
        if r % 2 == 0 { ours.append(runKqueue()); ref.append(runEpoll()) }
        else { ref.append(runEpoll()); ours.append(runKqueue()) }
    }
    for fd in readers + writers { close(fd) }
    record("(f) event loop, \(sockets) sockets, re-arm via changelist (per iteration)", ours: median(ours),
           reference: median(ref), unit: "ns", goal: "<= 1.05")
}

// MARK: - Main

print("bsdshim kqueue benchmark (\(quick ? "quick" : "full") run, \(rounds) rounds, median) — reference measured in the same process")
print("CPU: \(cpuDescription())")
// --only a|b|c|d|e|f runs one benchmark (for profiling).
let only: String? = CommandLine.arguments.firstIndex(of: "--only").flatMap {
    $0 + 1 < CommandLine.arguments.count ? CommandLine.arguments[$0 + 1] : nil
}
if only == nil || only == "a" { benchUserRoundTrip() }
if only == nil || only == "b" { benchPingPong() }
if only == nil || only == "c" { benchAdd() }
if only == nil || only == "d" { benchWait() }
if only == nil || only == "e" { benchTimers() }
if only == nil || only == "f" { benchEventLoop() }

print("")
print("| " + pad("benchmark", 64) + " | " + lpad("bsdshim", 14) + " | " + lpad("raw epoll", 14) + " | " + pad("bsdshim / raw epoll", 26) + " | goal |")
print("|" + String(repeating: "-", count: 66) + "|" + String(repeating: "-", count: 16) + "|" + String(repeating: "-", count: 16) + "|" + String(repeating: "-", count: 28) + "|------|")
for r in rows {
    print("| " + pad(r.name, 64) + " | " + lpad(r.ours, 14) + " | " + lpad(r.reference, 14) + " | " + pad(verdict(r.ratio), 26) + " | \(r.goal) |")
}
