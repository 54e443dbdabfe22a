// SPDX-License-Identifier: BSD-2-Clause
// JSON.swift: one JSON object per line (JSON Lines) for --json output. Only
// strings, integers and booleans are needed, so a small encoder suffices.

/// A JSON value the tool prints.
enum JSONValue {
    case string(String)
    case int(Int64)
    case bool(Bool)
    case strings([String])
}

enum JSON {
    /// `{"k":v,...}` with the keys in the given order (stable output for scripts).
    static func object(_ fields: [(String, JSONValue)]) -> String {
        var out = "{"
        for (i, (key, value)) in fields.enumerated() {
            if i > 0 { out += "," }
            out += quoted(key) + ":" + encode(value)
        }
        return out + "}"
    }

    static func encode(_ value: JSONValue) -> String {
        switch value {
        case .string(let s): return quoted(s)
        case .int(let n): return String(n)
        case .bool(let b): return b ? "true" : "false"
        case .strings(let list): return "[" + list.map(quoted).joined(separator: ",") + "]"
        }
    }

    /// A JSON string literal: quotes, backslashes and control characters escaped.
    static func quoted(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20:
                let hex = String(u.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }
}
