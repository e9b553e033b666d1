// JSONValue.swift — a parsed JSON document that keeps what strict validation
// needs: exact types, key order for messages, and numbers as written.

import CTCore
import Foundation

/// A JSON value. Objects keep their keys; numbers keep integer-ness.
public indirect enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// Parses UTF-8 JSON text; the error names the file and the parser's reason.
    public static func parse(_ bytes: [UInt8], path: String) throws(FileError) -> JSONValue {
        let any: Any
        do {
            any = try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
        } catch {
            let reason = (error as NSError).userInfo["NSDebugDescription"] as? String ?? "\(error)"
            throw FileError(path: path, reason: "not valid JSON: \(reason)")
        }
        return JSONValue(any)
    }

    init(_ any: Any) {
        switch any {
        case is NSNull: self = .null
        case let n as NSNumber:
            let code = String(cString: n.objCType)
            if code == "c" || code == "B" {
                self = .bool(n.boolValue)
            } else if code != "d", code != "f", let i = Int(exactly: n) {
                self = .int(i)
            } else {
                self = .double(n.doubleValue)
            }
        case let s as String: self = .string(s)
        case let a as [Any]: self = .array(a.map(JSONValue.init))
        case let o as [String: Any]: self = .object(o.mapValues(JSONValue.init))
        default: self = .null
        }
    }

    /// A short name of the value's type for messages ("a string", "an object", ...).
    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .int: "an integer"
        case .double: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }

    /// Plain Foundation form, for JSONSerialization output.
    public var foundation: Any {
        switch self {
        case .null: NSNull()
        case .bool(let b): b
        case .int(let i): i
        case .double(let d): d
        case .string(let s): s
        case .array(let a): a.map(\.foundation)
        case .object(let o): o.mapValues(\.foundation)
        }
    }

    /// Canonical text: sorted keys, no whitespace (stable hashes of manifests).
    public func canonicalText() -> String {
        switch self {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .double(let d): return d == d.rounded() && abs(d) < 1e15 ? String(Int(d)) : String(d)
        case .string(let s):
            let data = try? JSONSerialization.data(withJSONObject: [s], options: [.withoutEscapingSlashes])
            let text = data.map { String(decoding: $0, as: UTF8.self) } ?? "[\"\"]"
            return String(text.dropFirst().dropLast())
        case .array(let a): return "[" + a.map { $0.canonicalText() }.joined(separator: ",") + "]"
        case .object(let o):
            return "{" + o.keys.sorted().map { JSONValue.string($0).canonicalText() + ":" + o[$0]!.canonicalText() }
                .joined(separator: ",") + "}"
        }
    }
}
