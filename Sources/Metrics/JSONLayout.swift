// JSONLayout.swift — writes JSON for reading: keys in the order given,
// containers whose members are all scalars on one line (a class row, a
// matrix row), other containers indented two spaces a level.

import CTCore

enum JSONLayout {
    indirect enum Node {
        /// Raw JSON text of a scalar (already escaped / formatted).
        case scalar(String)
        case array([Node])
        case object([(String, Node)])

        var isScalar: Bool { if case .scalar = self { return true } else { return false } }

        static func string(_ s: String) -> Node { .scalar(JSONLayout.quote(s)) }
        static func integer(_ n: Int) -> Node { .scalar(String(n)) }
        static func count(_ n: UInt64) -> Node { .scalar(String(n)) }
        static func bool(_ b: Bool) -> Node { .scalar(b ? "true" : "false") }
        /// A fraction shown x100, unrounded (shortest round-trip digits); null when undefined.
        static func percent(_ x: Double?) -> Node {
            guard let x, x.isFinite else { return .scalar("null") }
            return .scalar(number(x * 100))
        }
    }

    /// Shortest round-trip decimal; integral values without ".0".
    static func number(_ x: Double) -> String {
        if x == x.rounded(), abs(x) < 1e15 { return String(Int64(x)) }
        return "\(x)"
    }

    /// A JSON string literal.
    static func quote(_ s: String) -> String { JSONText.quote(s) }

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
                    var t = ""; write(value, indent: 0, into: &t); return "\(quote(key)): \(t)"
                }.joined(separator: ", ") + "}"
                return
            }
            out += "{\n"
            for (n, (key, value)) in members.enumerated() {
                out += pad + quote(key) + ": "
                write(value, indent: indent + 2, into: &out)
                out += n + 1 < members.count ? ",\n" : "\n"
            }
            out += close + "}"
        }
    }
}
