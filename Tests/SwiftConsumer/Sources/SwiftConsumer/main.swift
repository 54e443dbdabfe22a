// SPDX-License-Identifier: BSD-2-Clause
// main.swift: a program using bsdshim's Swift API from another package,
// together with swift-system in the same program. It waits for a pipe (opened
// and written with swift-system's FileDescriptor) and a timer on a kqueue
// (synchronously and as an async sequence), catches the API's errors as
// swift-system's Errno, watches a file by FilePath, XORs and checksums buffers
// with dmover sessions, and prints lines a script can check; the exit status
// is non-zero on any mismatch.

import BSDShim
import Glibc
import SystemPackage

var failures = 0
@MainActor func check(_ ok: Bool, _ line: String) {
    print((ok ? "ok " : "FAIL ") + line)
    if !ok { failures += 1 }
}

// kqueue: a swift-system pipe becomes readable with its byte count.
let kq = try Kqueue()
let (readEnd, writeEnd) = try FileDescriptor.pipe()
try kq.register(.read(readEnd), userData: 1)
_ = try writeEnd.writeAll("bsdshim".utf8)
let events = try kq.wait(timeout: .seconds(5))
check(events.first?.kind == .readable(readEnd, bytes: 7) && events.first?.userData == 1,
      "kqueue read: \(events.first.map { "\($0.kind)" } ?? "none")")
var received = [UInt8](repeating: 0, count: 16)
let count = try received.withUnsafeMutableBytes { try readEnd.read(into: $0) }
check(Array(received.prefix(count)) == Array("bsdshim".utf8), "pipe read with swift-system: \(count) bytes")

// Errors: the API throws swift-system's Errno, the same type swift-system's own calls throw.
do {
    try kq.delete(.write(writeEnd))
    check(false, "kqueue delete of an unknown registration succeeded")
} catch .noSuchFileOrDirectory {
    check(true, "kqueue delete unknown: Errno.noSuchFileOrDirectory")
} catch {
    check(false, "kqueue delete unknown: \(error)")
}
let spare = try readEnd.duplicate()
try spare.close()
do {
    try kq.register(.read(spare))
    check(false, "kqueue register of a closed descriptor succeeded")
} catch {
    check(error == Errno.badFileDescriptor, "kqueue register closed: \(error == .badFileDescriptor ? "Errno.badFileDescriptor" : "\(error)")")
}
do {
    _ = try FileDescriptor.open("/nonexistent/bsdshim", .readOnly)
    check(false, "swift-system open of a missing path succeeded")
} catch let error as Errno {
    check(error == .noSuchFileOrDirectory, "swift-system open: \(error == .noSuchFileOrDirectory ? "Errno.noSuchFileOrDirectory" : "\(error)")")
}

// kqueue watching a FilePath: a write to the file is reported under the returned descriptor.
let path = FilePath("/tmp/bsdshim-consumer-\(getpid())")
let file = try FileDescriptor.open(path, .readWrite, options: [.create, .truncate], permissions: .ownerReadWrite)
let watched = try kq.watch(path, for: [.write, .extend])
_ = try file.writeAll("changed".utf8)
let changes = try kq.wait(timeout: .seconds(5))
check(changes.first?.kind == .vnode(watched, [.write, .extend]),
      "kqueue watch path: \(changes.first.map { "\($0.kind)" } ?? "none")")
try kq.delete(.vnode(watched, []))
try watched.close()
try file.close()
unlink(path.string)

// kqueue as an AsyncSequence: three timer ticks.
try kq.register(.timer(1, interval: .milliseconds(5)), flags: .clear)
try kq.delete(.read(readEnd))
var ticks = 0
for try await event in kq.events {
    if case .timer(1, let n) = event.kind { ticks += n }
    if ticks >= 3 { break }
}
check(ticks >= 3, "kqueue timer ticks: \(ticks >= 3 ? 3 : ticks)")
kq.close()
try readEnd.close()
try writeEnd.close()

// dmover: xor of two buffers, and a CRC-32C check value.
let xor = try DmoverSession(function: .xor(2))
let parity = try xor.process([[0x0F, 0xF0, 0x55], [0xFF, 0xFF, 0x55]]).output
check(parity == [0xF0, 0x0F, 0x00], "dmover xor2: \(parity)")
let crc = try DmoverSession.crc32c(of: Array("123456789".utf8))
check(crc == 0xE306_9283, "dmover crc32c: 0x" + String(crc, radix: 16))
do {
    _ = try DmoverSession(function: .xor(17))
    check(false, "dmover xor17 exists")
} catch {
    check(error.errno == Errno.noSuchProcess, "dmover xor17: \(error.errno == .noSuchProcess ? "Errno.noSuchProcess" : "\(error)")")
}

// dmover async: a copy submitted and awaited.
let copy = try DmoverSession(function: .copy)
let source: [UInt8] = Array(0..<64)
let sourceBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 16)
let targetBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 16)
source.withUnsafeBytes { sourceBuffer.copyMemory(from: $0) }
_ = try await copy.submit(output: DmoverBuffer(targetBuffer), inputs: [DmoverBuffer(UnsafeRawBufferPointer(sourceBuffer))])
let target = Array(UnsafeRawBufferPointer(targetBuffer))
sourceBuffer.deallocate()
targetBuffer.deallocate()
check(target == source, "dmover async copy: \(target == source ? 64 : 0) bytes")

print(failures == 0 ? "swift-consumer: all checks passed" : "swift-consumer: \(failures) checks failed")
exit(failures == 0 ? 0 : 1)
