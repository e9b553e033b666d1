// JSONLayout.swift — re-lays out compact JSON for reading: containers whose
// members are all scalars go on one line (a class row, a matrix row), other
// containers are indented two spaces a level. Key order is kept.

enum JSONLayout {
    indirect enum Node {
        case scalar(String)
        case array([Node])
        case object([(String, Node)])

        var isScalar: Bool { if case .scalar = self { return true } else { return false } }
    }

    /// Pretty text of compact, valid JSON (as JSONEncoder writes it).
    static func pretty(_ json: [UInt8]) -> String {
        var i = 0
        guard let root = parse(json, &i) else { return String(decoding: json, as: UTF8.self) }
        var out = ""
        write(root, indent: 0, into: &out)
        return out + "\n"
    }

    static func parse(_ s: [UInt8], _ i: inout Int) -> Node? {
        skipSpace(s, &i)
        guard i < s.count else { return nil }
        switch s[i] {
        case UInt8(ascii: "["):
            i += 1
            var items: [Node] = []
            skipSpace(s, &i)
            if i < s.count, s[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
            while i < s.count {
                guard let item = parse(s, &i) else { return nil }
                items.append(item)
                skipSpace(s, &i)
                guard i < s.count else { return nil }
                if s[i] == UInt8(ascii: ",") { i += 1; continue }
                if s[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
                return nil
            }
            return nil
        case UInt8(ascii: "{"):
            i += 1
            var members: [(String, Node)] = []
            skipSpace(s, &i)
            if i < s.count, s[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
            while i < s.count {
                guard case .scalar(let key)? = parse(s, &i) else { return nil }
                skipSpace(s, &i)
                guard i < s.count, s[i] == UInt8(ascii: ":") else { return nil }
                i += 1
                guard let value = parse(s, &i) else { return nil }
                members.append((key, value))
                skipSpace(s, &i)
                guard i < s.count else { return nil }
                if s[i] == UInt8(ascii: ",") { i += 1; continue }
                if s[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
                return nil
            }
            return nil
        case UInt8(ascii: "\""):
            let start = i
            i += 1
            while i < s.count, s[i] != UInt8(ascii: "\"") { i += s[i] == UInt8(ascii: "\\") ? 2 : 1 }
            i += 1
            return .scalar(String(decoding: s[start ..< min(i, s.count)], as: UTF8.self))
        default:
            let start = i
            while i < s.count, ![UInt8(ascii: ","), UInt8(ascii: "]"), UInt8(ascii: "}"), UInt8(ascii: " "),
                                 UInt8(ascii: "\n")].contains(s[i]) { i += 1 }
            return .scalar(String(decoding: s[start ..< i], as: UTF8.self))
        }
    }

    static func skipSpace(_ s: [UInt8], _ i: inout Int) {
        while i < s.count, [UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\t"), UInt8(ascii: "\r")].contains(s[i]) { i += 1 }
    }

    static func write(_ node: Node, indent: Int, into out: inout String) {
        let pad = String(repeating: " ", count: indent + 2), close = String(repeating: " ", count: indent)
        switch node {
        case .scalar(let text):
            out += text
        case .array(let items):
            if items.allSatisfy(\.isScalar) {
                out += "[" + items.map { n -> String in var t = ""; write(n, indent: 0, into: &t); return t }
                    .joined(separator: ", ") + "]"
                return
            }
            out += "[\n"
            for (n, item) in items.enumerated() {
                out += pad
                write(item, indent: indent + 2, into: &out)
                out += n + 1 < items.count ? ",\n" : "\n"
            }
            out += close + "]"
        case .object(let members):
            if members.allSatisfy({ $0.1.isScalar }) {
                out += "{" + members.map { key, value -> String in
                    var t = ""; write(value, indent: 0, into: &t); return "\(key): \(t)"
                }.joined(separator: ", ") + "}"
                return
            }
            out += "{\n"
            for (n, (key, value)) in members.enumerated() {
                out += pad + key + ": "
                write(value, indent: indent + 2, into: &out)
                out += n + 1 < members.count ? ",\n" : "\n"
            }
            out += close + "}"
        }
    }
}
