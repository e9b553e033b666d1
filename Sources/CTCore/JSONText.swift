// JSONText.swift — JSON string literals for files that ctpipe lays out by hand
// (metrics.json, safetensors headers), where JSONEncoder's layout will not do.

public enum JSONText {
    /// The two-character escapes of a JSON string; other control characters become `\u00XX`.
    static let escapes: [Unicode.Scalar: String] = ["\"": "\\\"", "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"]

    /// `s` as a JSON string literal: quotes, backslashes and control characters escaped.
    public static func quote(_ s: String) -> String {
        let body = TextEscaping.escaping(s.unicodeScalars, escapes) { scalar in
            guard scalar.value < 0x20 else { return nil }
            let hex = String(scalar.value, radix: 16)
            return "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        }
        return "\"" + body + "\""
    }
}
