// SPDX-License-Identifier: BSD-2-Clause
// WatchSession.swift: `watch`'s state: the open files and directories, what a
// batch of kevents means for them, and the lines it prints.

import BSDShim
import Glibc

/// The watched tree(s) on one kqueue, turning vnode notes and directory diffs
/// into events: added, removed, renamed, written, attributes.
final class WatchSession {
    private let kqueue: ToolKqueue
    private let recursive: Bool
    private let printer: WatchPrinter
    /// Every open node by descriptor (the kevent identifier).
    private var nodes: [Int32: WatchNode] = [:]
    private var roots = 0

    init(recursive: Bool, printer: WatchPrinter) throws(ToolError) {
        kqueue = try ToolKqueue()
        self.recursive = recursive
        self.printer = printer
    }

    deinit {
        for fd in nodes.keys { close(fd) }
    }

    /// True while a path named on the command line is still watched.
    var isWatching: Bool { roots > 0 }

    /// Starts watching a path from the command line (a directory: its entries too).
    func addRoot(_ path: String) throws(ToolError) {
        // O_NONBLOCK: opening a FIFO to watch it must not wait for a writer.
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        if fd < 0 { throw .file(path, "cannot watch", errno: errno) }
        var st = stat()
        fstat(fd, &st)
        let node = WatchNode(fd: fd, inode: UInt64(st.st_ino), isDirectory: st.st_mode & S_IFMT == S_IFDIR,
                             name: path, parent: nil)
        nodes[fd] = node
        roots += 1
        try kqueue.watchVnode(fd, path: path)
        if node.isDirectory { scan(node, reportAdded: false) }
    }

    /// Waits up to `seconds` (nil: no limit) and prints what the events mean.
    func waitAndReport(seconds: Double?) throws(ToolError) {
        var events = try kqueue.wait(seconds: seconds)
        // A move between two watched directories notes both; take what is queued
        // already too, so that its halves meet in one diff and read as a rename.
        if !events.isEmpty { events += try kqueue.wait(seconds: 0) }
        // Look every descriptor up before changing anything: a node dropped
        // below may free a descriptor number that a new node then reuses.
        var notes: [(WatchNode, Kqueue.VnodeEvents)] = []
        for event in events {
            if case .vnode(let fd, let n) = event, let node = nodes[fd] { notes.append((node, n)) }
        }
        var changedDirectories: [WatchNode] = []
        for (node, n) in notes {
            if node.isDirectory && node.scanned && n.contains(.write) {
                if !changedDirectories.contains(where: { $0 === node }) { changedDirectories.append(node) }
            }
            if !node.isDirectory && !n.intersection([.write, .extend, .truncate]).isEmpty {
                printer.emit("written", node.path, type: "file")
            }
            if n.contains(.attrib) { printer.emit("attributes", node.path, type: node.isDirectory ? "dir" : "file") }
            // An entry's deletion and renaming show in its directory's diff; a root has none.
            if node.parent == nil && n.contains(.rename) && !n.contains(.delete) {
                printer.emit("renamed", node.path, type: node.isDirectory ? "dir" : "file", from: node.path, to: nil)
            }
            if node.parent == nil && n.contains(.delete) && nodes[node.fd] === node {
                printer.emit("removed", node.path, type: node.isDirectory ? "dir" : "file")
                drop(node)
                roots -= 1
            }
        }
        diff(changedDirectories.filter { nodes[$0.fd] === $0 })
    }

    /// Reads the changed directories again and reports the differences; an inode
    /// that left one name and appeared under another (in any of them) was renamed.
    private func diff(_ directories: [WatchNode]) {
        var removed: [(WatchNode, String, DirectoryEntry)] = []
        var added: [(WatchNode, String, DirectoryEntry)] = []
        for dir in directories {
            let now = DirectoryReader.read(dir.fd) ?? [:]
            for (name, entry) in dir.entries where now[name] != entry { removed.append((dir, name, entry)) }
            for (name, entry) in now where dir.entries[name] != entry { added.append((dir, name, entry)) }
            dir.entries = now
        }
        for (dir, name, entry) in removed {
            if let i = added.firstIndex(where: { $0.2.inode == entry.inode && $0.2.type == entry.type }) {
                let (newDir, newName, _) = added.remove(at: i)
                let from = join(dir, name)
                if let child = dir.children.removeValue(forKey: name) {
                    if let replaced = newDir.children.removeValue(forKey: newName) { drop(replaced) }
                    child.name = newName
                    child.parent = newDir
                    newDir.children[newName] = child
                }
                printer.emit("renamed", join(newDir, newName), type: entry.type, from: from, to: join(newDir, newName))
            } else {
                printer.emit("removed", join(dir, name), type: entry.type)
                if let child = dir.children.removeValue(forKey: name) { drop(child) }
            }
        }
        for (dir, name, entry) in added {
            if let old = dir.children.removeValue(forKey: name) { drop(old) }
            // Opened before it is reported: a change made once the line is seen is caught.
            let child = openEntry(dir, name, entry)
            printer.emit("added", join(dir, name), type: entry.type)
            if let child, child.isDirectory && recursive { scan(child, reportAdded: true) }
        }
    }

    /// Reads a directory whose entries are to be watched and opens them; a
    /// directory found while watching (--recursive) reports what it already holds.
    private func scan(_ dir: WatchNode, reportAdded: Bool) {
        dir.scanned = true
        dir.entries = DirectoryReader.read(dir.fd) ?? [:]
        for (name, entry) in dir.entries.sorted(by: { $0.key < $1.key }) {
            let child = openEntry(dir, name, entry)
            if reportAdded { printer.emit("added", join(dir, name), type: entry.type) }
            if let child, child.isDirectory && recursive { scan(child, reportAdded: reportAdded) }
        }
    }

    /// Opens and registers a regular file or directory entry. Anything else
    /// (symlinks, devices, FIFOs, sockets) is not opened: opening a device can
    /// have effects. A name that no longer has the inode just read is left to
    /// the next diff; one that cannot be opened (EMFILE, EACCES) still shows in diffs.
    private func openEntry(_ dir: WatchNode, _ name: String, _ entry: DirectoryEntry) -> WatchNode? {
        guard entry.type == "file" || entry.type == "dir" else { return nil }
        let fd = openat(dir.fd, name, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC)
        if fd < 0 { return nil }
        var st = stat()
        if fstat(fd, &st) != 0 || UInt64(st.st_ino) != entry.inode {
            close(fd)
            return nil
        }
        let node = WatchNode(fd: fd, inode: entry.inode, isDirectory: entry.type == "dir", name: name, parent: dir)
        do {
            try kqueue.watchVnode(fd, path: node.path)
        } catch {
            close(fd)
            return nil
        }
        nodes[fd] = node
        dir.children[name] = node
        return node
    }

    /// Stops watching `node` and everything under it.
    private func drop(_ node: WatchNode) {
        for child in node.children.values { drop(child) }
        node.children = [:]
        guard nodes[node.fd] === node else { return }
        kqueue.unwatchVnode(node.fd)
        close(node.fd)
        nodes[node.fd] = nil
    }

    private func join(_ dir: WatchNode, _ name: String) -> String {
        let base = dir.path
        return base.hasSuffix("/") ? base + name : base + "/" + name
    }
}
