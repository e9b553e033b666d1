// FixtureFolder.swift — a test target's golden files (written by the scripts
// under scripts/make_*_fixtures.py) and typed reads of them. Each test target
// keeps its fixtures as its own resources, so the folder is made from that
// target's bundle (`FixtureFolder(bundle: .module)`) or from any folder URL.

import CTCore
import Foundation

/// A fixture that is missing, malformed or not of the expected type.
public struct FixtureError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// One folder of fixtures; names are paths relative to it.
public struct FixtureFolder: Sendable {
    /// The folder.
    public let url: URL

    /// The folder at `url`.
    public init(url: URL) { self.url = url }

    /// The `Fixtures` folder of a test target's resource bundle.
    public init(bundle: Bundle) {
        url = (bundle.resourceURL ?? bundle.bundleURL).appendingPathComponent("Fixtures")
    }

    /// The folder's path.
    public var path: String { url.path }

    /// The URL of a fixture.
    public func url(_ name: String) -> URL { url.appendingPathComponent(name) }

    /// The path of a fixture.
    public func path(_ name: String) -> String { url(name).path }

    /// A fixture's bytes.
    public func bytes(_ name: String) throws -> [UInt8] { try FileBytes.read(path(name)) }

    /// A `.npy` fixture, any dtype.
    public func npy(_ name: String) throws -> NPYArray { try NPYArray.decode(bytes(name), path: name) }

    /// A float32 `.npy` fixture: its values and shape.
    public func floatArray(_ name: String) throws -> (shape: [Int], values: [Float]) {
        try NPYFile.floatArray(npy(name), name: name)
    }

    /// The values of a float32 `.npy` fixture.
    public func floats(_ name: String) throws -> [Float] { try floatArray(name).values }

    /// A JSON fixture decoded as `type`.
    public func decode<T: Decodable>(_ type: T.Type, from name: String) throws -> T {
        try JSONDecoder().decode(type, from: Data(bytes(name)))
    }

    /// A JSON fixture as Foundation objects (dictionaries, arrays, numbers, strings).
    public func jsonObject(_ name: String) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(bytes(name)))
    }
}

/// `.npy` files by path: a command's outputs, or fixtures of another target.
public enum NPYFile {
    /// The array in the file at `path`, any dtype.
    public static func read(_ path: String) throws -> NPYArray {
        try NPYArray.decode(FileBytes.read(path), path: path)
    }

    /// A float32 array's values and shape.
    public static func floatArray(_ path: String) throws -> (shape: [Int], values: [Float]) {
        try floatArray(read(path), name: path)
    }

    static func floatArray(_ array: NPYArray, name: String) throws -> (shape: [Int], values: [Float]) {
        guard let values = array.floats else { throw FixtureError("\(name) is not float32 (\(array.dtype.rawValue))") }
        return (array.shape, values)
    }
}
