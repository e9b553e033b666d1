// PrettyJSON.swift — the one layout of the JSON that ctpipe prints and writes
// with JSONEncoder (command summaries, run-folder records, ctbench reports):
// pretty-printed with sorted keys, so the output is stable for diffs and tests.

import Foundation

public enum PrettyJSON {
    /// `value` encoded pretty-printed with sorted keys. Slashes stay as they are unless
    /// `escapingSlashes` (the backbone, segmentation and training benchmarks print `\/`).
    public static func data<T: Encodable>(_ value: T, escapingSlashes: Bool = false) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = escapingSlashes ? [.prettyPrinted, .sortedKeys] : [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(value)
    }

    /// `data(value, escapingSlashes:)` as text.
    public static func string<T: Encodable>(_ value: T, escapingSlashes: Bool = false) throws -> String {
        String(decoding: try data(value, escapingSlashes: escapingSlashes), as: UTF8.self)
    }
}
