// SPDX-License-Identifier: BSD-2-Clause
// SystemTypesTests.swift: the Swift API speaks swift-system's types: it throws
// SystemPackage.Errno with the right case, takes and returns FileDescriptor,
// and watches a FilePath.

import BSDShim
import Glibc
import SystemPackage
import Synchronization
import Testing

/// A temporary directory, removed (with what the test left in it) with the value.
final class TemporaryDirectory {
    let path: FilePath
    init() throws {
        var template = Array("/tmp/bsdshim-api-dir-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) != nil }
        try #require(made)
        path = FilePath(String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }
    /// Creates `name` in the directory with `bytes`; returns its path.
    func create(_ name: String, _ bytes: [UInt8] = []) throws -> FilePath {
        let file = path.appending(name)
        let fd = try FileDescriptor.open(file, .writeOnly, options: [.create, .truncate], permissions: .ownerReadWrite)
        defer { try? fd.close() }
        #expect(try fd.writeAll(bytes) == bytes.count)
        return file
    }
    deinit {
        // The tests create plain files only, one level deep.
        if let dir = opendir(path.string) {
            while let entry = readdir(dir) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                if name != "." && name != ".." { unlink(path.appending(name).string) }
            }
            closedir(dir)
        }
        rmdir(path.string)
    }
}

/// A descriptor number that was open and is now closed. Taken near the top of
/// the descriptor table (descriptors are allocated lowest first), so that tests
/// running in parallel do not reuse it meanwhile.
/// Distinct high numbers for tests running in parallel: two calls must never
/// dup onto (and close) the same number.
let closedDescriptorsGiven = Atomic<Int32>(0)

func closedDescriptor() throws -> FileDescriptor {
    let (readEnd, writeEnd) = try FileDescriptor.pipe()
    defer { try? readEnd.close(); try? writeEnd.close() }
    let k = closedDescriptorsGiven.add(1, ordering: .relaxed).newValue
    let high = try readEnd.duplicate(as: FileDescriptor(rawValue: min(getdtablesize(), 4096) - 3 - k))
    try high.close()
    return high
}

@Suite struct SystemTypesTests {
    // MARK: - Errors are SystemPackage.Errno

    @Test func registeringAClosedFileDescriptorThrowsBadFileDescriptor() throws {
        let kq = try Kqueue()
        let closed = try closedDescriptor()
        // The thrown type is swift-system's Errno (typed throws: checked at compile time).
        do {
            try kq.register(.read(closed))
            Issue.record("registering a closed descriptor succeeded")
        } catch {
            let thrown: SystemPackage.Errno = error
            #expect(thrown == .badFileDescriptor)
            #expect(thrown.rawValue == EBADF)
        }
    }

    @Test func deletingAnUnknownRegistrationThrowsNoSuchFileOrDirectory() throws {
        let kq = try Kqueue()
        let p = try Pipe()
        #expect(throws: SystemPackage.Errno.noSuchFileOrDirectory) { try kq.delete(.read(p.read)) }
        #expect(throws: SystemPackage.Errno.noSuchFileOrDirectory) { try kq.delete(.user(4242)) }
        #expect(throws: SystemPackage.Errno.noSuchFileOrDirectory) { try kq.disable(.write(p.write)) }
    }

    @Test func invalidArgumentsThrowInvalidArgument() throws {
        let kq = try Kqueue()
        let p = try Pipe()
        #expect(throws: SystemPackage.Errno.invalidArgument) { try kq.register(.signal(0)) }
        #expect(throws: SystemPackage.Errno.invalidArgument) { try kq.register(.timer(9, interval: .seconds(-1))) }
        // A pipe is not a vnode.
        #expect(throws: SystemPackage.Errno.invalidArgument) { try kq.register(.vnode(p.read, .write)) }
    }

    @Test func applyReportsEachFailureAsAnErrno() throws {
        let kq = try Kqueue()
        let closed = try closedDescriptor()
        let results: [SystemPackage.Errno?] = try kq.apply([.add(.write(closed)), .delete(.user(8)), .add(.user(8))])
        #expect(results == [.badFileDescriptor, .noSuchFileOrDirectory, nil])
    }

    @Test func aClosedKqueueThrowsBadFileDescriptorEverywhere() throws {
        let kq = try Kqueue()
        kq.close()
        #expect(throws: SystemPackage.Errno.badFileDescriptor) { try kq.register(.user(1)) }
        #expect(throws: SystemPackage.Errno.badFileDescriptor) { try kq.trigger(user: 1) }
        #expect(throws: SystemPackage.Errno.badFileDescriptor) { try kq.apply([.add(.user(1))]) }
        #expect(throws: SystemPackage.Errno.badFileDescriptor) { try kq.wait(timeout: .zero) }
    }

    @Test func dmoverErrorsCarryASystemPackageErrno() {
        do {
            _ = try DmoverSession(function: .xor(17))
            Issue.record("xor17 has a backend")
        } catch {
            let errno: SystemPackage.Errno = error.errno
            #expect(errno == .noSuchProcess)
        }
        #expect(DmoverError.noBackend.errno == .noSuchAddressOrDevice)
        #expect(DmoverError.invalidShape.errno == .invalidArgument)
    }

    // MARK: - FileDescriptor in and out

    @Test func readAndWriteFiltersTakeFileDescriptors() throws {
        let kq = try Kqueue()
        let p = try Pipe()
        try kq.register(.read(p.read), userData: 1)
        try kq.register(.write(p.write), flags: .oneshot, userData: 2)
        // An empty pipe: only the write end is ready, with room to write.
        let first = try kq.wait(timeout: .seconds(5))
        #expect(first.count == 1)
        guard case .writable(let fd, let room)? = first.first?.kind else {
            Issue.record("expected the write end writable, got \(first)")
            return
        }
        #expect(fd == p.write)
        #expect(room > 0)
        #expect(first.first?.userData == 2)

        #expect(try p.write.writeAll(Array("kqueue".utf8)) == 6)
        let second = try kq.wait(timeout: .seconds(5))
        #expect(second.map(\.kind) == [.readable(p.read, bytes: 6)])
        #expect(second.first?.userData == 1)

        // Drained through swift-system: nothing more to report.
        var bytes = [UInt8](repeating: 0, count: 16)
        let n = try bytes.withUnsafeMutableBytes { try p.read.read(into: $0) }
        #expect(n == 6)
        #expect(try kq.wait(timeout: .zero).isEmpty)
    }

    @Test func rawAndFileDescriptorFormsNameTheSameRegistration() throws {
        let kq = try Kqueue()
        let p = try Pipe()
        #expect(Kqueue.Filter.read(p.read.rawValue) == .read(p.read))
        #expect(Kqueue.Filter.vnode(p.read.rawValue, .write) == .vnode(p.read, .write))
        try kq.register(.read(p.read.rawValue), userData: 5)
        p.send([7])
        #expect(try kq.wait(timeout: .seconds(5)).map(\.kind) == [.readable(p.read, bytes: 1)])
        try kq.delete(.read(p.read))
        #expect(throws: SystemPackage.Errno.noSuchFileOrDirectory) { try kq.delete(.read(p.read.rawValue)) }
    }

    @Test func theKqueueDescriptorIsAFileDescriptorAnotherKqueueCanWatch() throws {
        let inner = try Kqueue()
        let outer = try Kqueue()
        try outer.register(.read(inner.descriptor))
        #expect(try outer.wait(timeout: .zero).isEmpty)
        try inner.register(.user(3))
        try inner.trigger(user: 3)
        let events = try outer.wait(timeout: .seconds(5))
        guard case .readable(let fd, _)? = events.first?.kind else {
            Issue.record("expected the inner kqueue readable, got \(events)")
            return
        }
        #expect(fd == inner.descriptor)
        #expect(try inner.wait(timeout: .zero).map(\.kind) == [.user(3, flags: 0)])
    }

    // MARK: - FilePath

    @Test func watchingAFilePathReportsWritesUnderItsDescriptor() throws {
        let dir = try TemporaryDirectory()
        let path = try dir.create("watched")
        let kq = try Kqueue()
        let watched = try kq.watch(path, for: [.write, .extend], userData: 9)
        defer { try? watched.close() }
        #expect(try kq.wait(timeout: .zero).isEmpty)

        let writer = try FileDescriptor.open(path, .writeOnly, options: .append)
        defer { try? writer.close() }
        #expect(try writer.writeAll(Array("more".utf8)) == 4)
        let events = try kq.wait(timeout: .seconds(5))
        guard case .vnode(let fd, let changes)? = events.first?.kind else {
            Issue.record("expected a vnode event, got \(events)")
            return
        }
        #expect(fd == watched)
        #expect(changes.contains(.write))
        #expect(changes.contains(.extend))
        #expect(events.first?.userData == 9)
    }

    @Test func watchingADirectoryReportsANewEntryAsWrite() throws {
        let dir = try TemporaryDirectory()
        let kq = try Kqueue()
        let watched = try kq.watch(dir.path, for: .write)
        defer { try? watched.close() }
        _ = try dir.create("new-entry", [1])
        let events = try kq.wait(timeout: .seconds(5))
        #expect(events.map(\.kind) == [.vnode(watched, .write)])
    }

    @Test func watchingAPathThatCannotBeOpenedThrowsItsErrno() throws {
        let dir = try TemporaryDirectory()
        let file = try dir.create("plain")
        let kq = try Kqueue()
        #expect(throws: SystemPackage.Errno.noSuchFileOrDirectory) { try kq.watch(dir.path.appending("missing")) }
        #expect(throws: SystemPackage.Errno.notDirectory) { try kq.watch(file.appending("below")) }
        #expect(try kq.wait(timeout: .zero).isEmpty)
    }
}
