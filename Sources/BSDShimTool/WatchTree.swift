// SPDX-License-Identifier: BSD-2-Clause
// WatchTree.swift: the files and directories `watch` holds open, and the
// directory snapshots it compares. kqueue only says that a directory changed
// (NOTE_WRITE); which entry changed comes from reading the directory again and
// comparing the (inode, name) pairs with the last reading, as BSD tools do.

import Glibc

/// One watched file or directory: an open descriptor registered for EVFILT_VNODE.
final class WatchNode {
    let fd: Int32
    let inode: UInt64
    let isDirectory: Bool
    /// Its name in `parent`, or the path as given for a root.
    var name: String
    /// nil for a path named on the command line.
    weak var parent: WatchNode?
    /// A directory whose entries are watched (a root, or any directory under --recursive).
    var scanned = false
    /// The last reading of the directory: entry name -> (inode, type).
    var entries: [String: DirectoryEntry] = [:]
    /// The watched entries, by name.
    var children: [String: WatchNode] = [:]

    init(fd: Int32, inode: UInt64, isDirectory: Bool, name: String, parent: WatchNode?) {
        self.fd = fd
        self.inode = inode
        self.isDirectory = isDirectory
        self.name = name
        self.parent = parent
    }

    /// The path to print: the parent's path and the name.
    var path: String {
        guard let parent else { return name }
        let base = parent.path
        return base.hasSuffix("/") ? base + name : base + "/" + name
    }
}

/// One name in a directory reading.
struct DirectoryEntry: Equatable {
    let inode: UInt64
    let type: String
}

enum DirectoryReader {
    /// The entries of the directory open as `fd` ("." and ".." left out), or nil
    /// if it can no longer be read (removed meanwhile).
    static func read(_ fd: Int32) -> [String: DirectoryEntry]? {
        // A descriptor of its own: closedir() closes it and the reading starts at the top.
        let own = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if own < 0 { return nil }
        guard let dir = fdopendir(own) else {
            close(own)
            return nil
        }
        defer { closedir(dir) }
        var result: [String: DirectoryEntry] = [:]
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: &entry.pointee.d_name) { raw in
                String(cString: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
            }
            if name == "." || name == ".." { continue }
            let type = typeName(entry.pointee.d_type, fd, name)
            result[name] = DirectoryEntry(inode: UInt64(entry.pointee.d_ino), type: type)
        }
        return result
    }

    /// "file", "dir", "symlink" or "other"; fstatat when the file system leaves d_type unknown.
    private static func typeName(_ dtype: UInt8, _ dirfd: Int32, _ name: String) -> String {
        var mode: mode_t
        switch Int32(dtype) {
        case Int32(DT_REG): return "file"
        case Int32(DT_DIR): return "dir"
        case Int32(DT_LNK): return "symlink"
        case Int32(DT_UNKNOWN):
            var st = stat()
            if fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 { return "other" }
            mode = st.st_mode & S_IFMT
        default: return "other"
        }
        switch mode {
        case S_IFREG: return "file"
        case S_IFDIR: return "dir"
        case S_IFLNK: return "symlink"
        default: return "other"
        }
    }
}
