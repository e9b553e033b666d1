// ImageFixtures.swift — the golden files written by scripts/make_imageio_fixtures.py
// (Pillow/OpenCV decodes, cv2.resize outputs): their manifest, reading expected
// images, and comparing decoded samples against them.

import CTCore
import Foundation
import ImageIO
import TestSupport

/// manifest.json, as the fixture script writes it.
struct FixtureManifest: Decodable, Sendable {
    struct Expected: Decodable, Sendable {
        var npy: String
        var reference: String
    }
    struct PNGEntry: Decodable, Sendable, CustomStringConvertible {
        var file: String
        var note: String
        var width: Int
        var height: Int
        var bit_depth: Int
        var color_type: String
        var palette_size: Int
        var interlaced: Bool
        var transparency: Bool
        var expected: [String: Expected]
        var description: String { file }
    }
    struct JPEGEntry: Decodable, Sendable, CustomStringConvertible {
        var file: String
        var note: String
        var width: Int
        var height: Int
        var components: Int
        var progressive: Bool
        var color_space: String
        var expected: [String: Expected]
        var description: String { file }
    }
    struct BrokenEntry: Decodable, Sendable, CustomStringConvertible {
        var file: String
        var codec: String
        /// Words the error reason must contain (case-insensitive), all of them.
        var expect: [String]
        var note: String
        var description: String { file }
    }
    struct ResizeEntry: Decodable, Sendable, CustomStringConvertible {
        var kind: String
        var source: String
        var width: Int
        var height: Int
        var npy: String
        var reference: String
        var description: String { npy }
    }
    var png: [PNGEntry]
    var jpeg: [JPEGEntry]
    var broken: [BrokenEntry]
    var resize: [ResizeEntry]
}

extension FixtureManifest {
    static func load() throws -> FixtureManifest {
        try fixtures.decode(FixtureManifest.self, from: "manifest.json")
    }

    /// The manifest, or an empty one when it cannot be read (`manifestLoads` then fails).
    static let loaded: FixtureManifest = (try? load()) ?? FixtureManifest(png: [], jpeg: [], broken: [], resize: [])
}

extension FixtureFolder {
    /// An (H, W, C) uint8 array as an image.
    func image8(_ name: String) throws -> Image8 {
        let array = try npy(name)
        guard array.dtype == .uint8, array.shape.count == 3 else { throw FixtureError("\(name): not (H, W, C) uint8") }
        return Image8(width: array.shape[1], height: array.shape[0], channels: array.shape[2], pixels: array.bytes)
    }
}

/// Compares decoded samples with an expected (H, W, C) array; nil when equal,
/// otherwise a description of the first difference and how many samples differ.
func difference(_ image: DecodedImage, _ expected: NPYArray) -> String? {
    let shape = [image.height, image.width, image.channels]
    guard shape == expected.shape else { return "shape \(shape) != expected \(expected.shape)" }
    let actual: [Int]
    let wanted: [Int]
    switch image {
    case .uint8(let r):
        guard expected.dtype == .uint8 else { return "8-bit samples, expected \(expected.dtype)" }
        actual = r.pixels.map(Int.init)
        wanted = expected.bytes.map(Int.init)
    case .uint16(let r):
        guard expected.dtype == .uint16 else { return "16-bit samples, expected \(expected.dtype)" }
        actual = r.pixels.map(Int.init)
        wanted = stride(from: 0, to: expected.bytes.count, by: 2).map { Int(expected.bytes[$0]) | Int(expected.bytes[$0 + 1]) << 8 }
    }
    guard let first = actual.indices.first(where: { actual[$0] != wanted[$0] }) else { return nil }
    let differing = zip(actual, wanted).filter { $0 != $1 }.count
    let maxDiff = zip(actual, wanted).map { abs($0 - $1) }.max() ?? 0
    let c = image.channels, w = image.width
    return "\(differing) samples differ (max abs diff \(maxDiff)); first at y=\(first / c / w) x=\(first / c % w) c=\(first % c): "
        + "\(actual[first]) != expected \(wanted[first])"
}
