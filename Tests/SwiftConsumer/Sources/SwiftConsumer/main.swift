// SPDX-License-Identifier: BSD-2-Clause
// main.swift: a program using bsdshim's Swift API from another package. It
// waits for a pipe and a timer on a kqueue (synchronously and as an async
// sequence), XORs and checksums buffers with dmover sessions, and prints
// lines a script can check; the exit status is non-zero on any mismatch.

import BSDShim
import Glibc

var failures = 0
@MainActor func check(_ ok: Bool, _ line: String) {
    print((ok ? "ok " : "FAIL ") + line)
    if !ok { failures += 1 }
}

// kqueue: a pipe becomes readable with its byte count.
let kq = try Kqueue()
var fds: [Int32] = [0, 0]
guard pipe(&fds) == 0 else { fatalError("pipe") }
try kq.register(.read(fds[0]), userData: 1)
_ = write(fds[1], "bsdshim", 7)
let events = try kq.wait(timeout: .seconds(5))
check(events.first?.kind == .readable(fds[0], bytes: 7) && events.first?.userData == 1,
      "kqueue read: \(events.first.map { "\($0.kind)" } ?? "none")")

// kqueue as an AsyncSequence: three timer ticks.
try kq.register(.timer(1, interval: .milliseconds(5)), flags: .clear)
try kq.delete(.read(fds[0]))
var ticks = 0
for try await event in kq.events {
    if case .timer(1, let n) = event.kind { ticks += n }
    if ticks >= 3 { break }
}
check(ticks >= 3, "kqueue timer ticks: \(ticks >= 3 ? 3 : ticks)")
kq.close()
close(fds[0])
close(fds[1])

// dmover: xor of two buffers, and a CRC-32C check value.
let xor = try DMoverSession(function: .xor(2))
let parity = try xor.process([[0x0F, 0xF0, 0x55], [0xFF, 0xFF, 0x55]]).output
check(parity == [0xF0, 0x0F, 0x00], "dmover xor2: \(parity)")
let crc = try DMoverSession.crc32c(of: Array("123456789".utf8))
check(crc == 0xE306_9283, "dmover crc32c: 0x" + String(crc, radix: 16))

// dmover async: a copy submitted and awaited.
let copy = try DMoverSession(function: .copy)
let source: [UInt8] = Array(0..<64)
let sourceBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 16)
let targetBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 16)
source.withUnsafeBytes { sourceBuffer.copyMemory(from: $0) }
_ = try await copy.submit(output: DMoverBuffer(targetBuffer), inputs: [DMoverBuffer(UnsafeRawBufferPointer(sourceBuffer))])
let target = Array(UnsafeRawBufferPointer(targetBuffer))
sourceBuffer.deallocate()
targetBuffer.deallocate()
check(target == source, "dmover async copy: \(target == source ? 64 : 0) bytes")

print(failures == 0 ? "swift-consumer: all checks passed" : "swift-consumer: \(failures) checks failed")
exit(failures == 0 ? 0 : 1)
