// SPDX-License-Identifier: BSD-2-Clause
// MachineInfo.swift: the CPU model and cache sizes that head `bsdshim bench`'s
// output (figures mean little without the machine they were measured on).

import Glibc

enum MachineInfo {
    /// "CPU: <model> (family F model M, <n> CPUs); caches: L1d 32K, L1i 32K, L2 512K, L3 16384K".
    /// Family and model name the microarchitecture where a VM's model name is generic.
    static func summary() -> String {
        let cpus = sysconf(Int32(_SC_NPROCESSORS_ONLN))
        let info = cpuInfo()
        var line = "CPU: " + (info["model name"] ?? "unknown model") + " ("
        if let family = info["cpu family"], let model = info["model"] {
            line += "family \(family) model \(model), "
        }
        line += "\(cpus) CPUs)"
        let caches = cacheSizes()
        if !caches.isEmpty { line += "; caches: " + caches.joined(separator: ", ") }
        return line
    }

    /// The fields of the first processor in /proc/cpuinfo.
    private static func cpuInfo() -> [String: String] {
        var fields: [String: String] = [:]
        guard let text = readSmallFile("/proc/cpuinfo") else { return fields }
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.isEmpty { break }                   // the end of the first processor
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = String(line[..<colon]).trimmed
            fields[key] = String(line[line.index(after: colon)...]).trimmed
        }
        return fields
    }

    /// CPU 0's caches from sysfs, e.g. ["L1d 32K", "L1i 32K", "L2 512K", "L3 16384K"].
    private static func cacheSizes() -> [String] {
        var result: [String] = []
        for index in 0..<8 {
            let dir = "/sys/devices/system/cpu/cpu0/cache/index\(index)/"
            guard let level = readSmallFile(dir + "level"), let type = readSmallFile(dir + "type"),
                  let size = readSmallFile(dir + "size") else { break }
            let suffix = switch type.trimmed { case "Data": "d"; case "Instruction": "i"; default: "" }
            result.append("L" + level.trimmed + suffix + " " + size.trimmed)
        }
        return result
    }

    /// The text of a small file (/proc and /sys files report no size, so read to the end).
    private static func readSmallFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(fd, &chunk, chunk.count)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            bytes += chunk[0..<n]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

private extension String {
    var trimmed: String {
        let blank: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" }
        return String(self.drop(while: blank).reversed().drop(while: blank).reversed())
    }
}
