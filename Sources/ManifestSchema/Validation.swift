// Validation.swift — strict reading of JSON documents with JSON paths in every
// message, collecting all problems instead of stopping at the first.

import Foundation

/// One problem found while validating a manifest or pipeline, e.g.
/// `$.datasets[1].root: folder not found: data/bdd100k`.
public struct ValidationProblem: Sendable, Equatable, CustomStringConvertible, Codable {
    public let path: String, message: String
    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }
    public var description: String { "\(path): \(message)" }
}

/// All problems of one document; thrown by `ctpipe validate` and `ctpipe run`.
public struct ManifestError: Error, CustomStringConvertible, Sendable {
    public let file: String
    public let problems: [ValidationProblem]
    public var description: String {
        "\(file): \(problems.count) problem\(problems.count == 1 ? "" : "s")\n"
            + problems.map { "  \($0)" }.joined(separator: "\n")
    }
}

/// Reads typed fields out of `JSONValue` objects, recording a problem (with
/// its JSON path) for every missing, mistyped, out-of-range or unknown field.
struct FieldReader {
    private(set) var problems: [ValidationProblem] = []

    mutating func report(_ path: String, _ message: String) {
        problems.append(ValidationProblem(path: path, message: message))
    }

    /// The value as an object whose keys must all be in `allowed`.
    mutating func object(_ value: JSONValue, at path: String, allowed: [String]) -> [String: JSONValue]? {
        guard case .object(let object) = value else {
            report(path, "expected an object, found \(value.typeName)")
            return nil
        }
        for key in object.keys.sorted() where !allowed.contains(key) {
            let hint = allowed.min(by: { editDistance($0, key) < editDistance($1, key) })
                .flatMap { editDistance($0, key) <= 2 ? " (did you mean \"\($0)\"?)" : nil } ?? ""
            report(path + "." + key, "unknown key\(hint); allowed: \(allowed.joined(separator: ", "))")
        }
        return object
    }

    mutating func string(_ object: [String: JSONValue], _ key: String, at path: String) -> String? {
        guard let value = object[key] else { return nil }
        guard case .string(let s) = value else {
            report(path + "." + key, "expected a string, found \(value.typeName)")
            return nil
        }
        return s
    }

    mutating func requiredString(_ object: [String: JSONValue], _ key: String, at path: String) -> String? {
        guard object[key] != nil else {
            report(path + "." + key, "required field is missing")
            return nil
        }
        return string(object, key, at: path)
    }

    mutating func choice<T: RawRepresentable & CaseIterable>(_ object: [String: JSONValue], _ key: String, at path: String,
                                                               as type: T.Type) -> T? where T.RawValue == String {
        guard let text = string(object, key, at: path) else { return nil }
        guard let value = T(rawValue: text) else {
            report(path + "." + key, "\"\(text)\" is not one of \(T.allCases.map { $0.rawValue }.joined(separator: ", "))")
            return nil
        }
        return value
    }

    mutating func int(_ object: [String: JSONValue], _ key: String, at path: String, range: ClosedRange<Int>? = nil) -> Int? {
        guard let value = object[key] else { return nil }
        return intValue(value, at: path + "." + key, range: range)
    }

    /// An integer at a full JSON path (array elements).
    mutating func intValue(_ value: JSONValue, at path: String, range: ClosedRange<Int>? = nil) -> Int? {
        let result: Int
        switch value {
        case .int(let i): result = i
        case .double(let d) where d == d.rounded() && abs(d) < 1e15: result = Int(d)
        default:
            report(path, "expected an integer, found \(value.typeName)")
            return nil
        }
        if let range, !range.contains(result) {
            report(path, "\(result) is out of range \(range.lowerBound)...\(range.upperBound)")
            return nil
        }
        return result
    }

    mutating func double(_ object: [String: JSONValue], _ key: String, at path: String, range: ClosedRange<Double>? = nil) -> Double? {
        guard let value = object[key] else { return nil }
        let result: Double
        switch value {
        case .int(let i): result = Double(i)
        case .double(let d): result = d
        default:
            report(path + "." + key, "expected a number, found \(value.typeName)")
            return nil
        }
        if let range, !range.contains(result) {
            report(path + "." + key, "\(result) is out of range \(range.lowerBound)...\(range.upperBound)")
            return nil
        }
        return result
    }

    mutating func bool(_ object: [String: JSONValue], _ key: String, at path: String) -> Bool? {
        guard let value = object[key] else { return nil }
        guard case .bool(let b) = value else {
            report(path + "." + key, "expected true or false, found \(value.typeName)")
            return nil
        }
        return b
    }

    mutating func array(_ object: [String: JSONValue], _ key: String, at path: String) -> [JSONValue]? {
        guard let value = object[key] else { return nil }
        guard case .array(let a) = value else {
            report(path + "." + key, "expected an array, found \(value.typeName)")
            return nil
        }
        return a
    }

    mutating func ints(_ object: [String: JSONValue], _ key: String, at path: String, count: Int? = nil,
                       range: ClosedRange<Int>? = nil) -> [Int]? {
        guard let items = array(object, key, at: path) else { return nil }
        if let count, items.count != count {
            report(path + "." + key, "expected \(count) integers, found \(items.count)")
            return nil
        }
        var out: [Int] = []
        for (i, item) in items.enumerated() {
            guard let v = intValue(item, at: "\(path).\(key)[\(i)]", range: range) else { return nil }
            out.append(v)
        }
        return out
    }

    mutating func strings(_ object: [String: JSONValue], _ key: String, at path: String) -> [String]? {
        guard let items = array(object, key, at: path) else { return nil }
        var out: [String] = []
        for (i, item) in items.enumerated() {
            guard case .string(let s) = item else {
                report("\(path).\(key)[\(i)]", "expected a string, found \(item.typeName)")
                return nil
            }
            out.append(s)
        }
        return out
    }
}

/// Levenshtein distance, for "did you mean" hints on unknown keys.
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous = Array(0 ... b.count)
    for i in 1 ... a.count {
        var current = [i] + Array(repeating: 0, count: b.count)
        for j in 1 ... b.count {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        previous = current
    }
    return previous[b.count]
}
