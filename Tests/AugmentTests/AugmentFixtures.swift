// AugmentFixtures.swift — the golden data written by
// scripts/make_augment_fixtures.py, and injecting fixed random draws.

import Augment
import CTCore
import ImageIO
import TestSupport
import Testing

extension FixtureFolder {
    /// augment.json.
    func augment() throws -> AugmentFixture { try decode(AugmentFixture.self, from: "augment.json") }

    /// An (H, W, 3) or (H, W) uint8 array as a raster.
    func raster(_ name: String) throws -> Image8 {
        let a = try npy(name)
        return Raster(width: a.shape[1], height: a.shape[0], channels: a.shape.count == 3 ? a.shape[2] : 1,
                      pixels: a.bytes)
    }
}

struct AugmentFixture: Decodable {
    struct KeepRatio: Decodable { var size: [Int]; var scale: [Int]; var out: [Int] }
    struct Shortest: Decodable { var size: [Int]; var short: Int; var max: Int; var target: [Int]; var out: [Int] }
    struct Crop: Decodable {
        var name: String; var draws: [Int]; var requests: [[Int]]; var box: [Int]; var cropWidth: Int?
    }
    struct Checksums: Decodable { var toHSV: UInt64; var toRGBVector: UInt64; var toRGBScalar: UInt64 }
    struct Step: Decodable { var kind: String; var value: Double }
    struct Full: Decodable {
        var brightness: Double?; var contrastFirst: Bool; var contrast: Double?; var saturation: Double?; var hue: Int?
    }
    var keepRatio: [KeepRatio]
    var scales512: [Int]
    var scales1024: [Int]
    var shortestEdge: [Shortest]
    var nearestScale: [Int]
    var crop: [Crop]
    var hsvChecksums: Checksums
    var pmdSteps: [Step]
    var pmdFull: [Full]
    var normalizePad: [Int]
}

/// Fixed draws, checked against the bounds each transform asks for.
struct ScriptedRandom: RandomSource {
    enum Draw { case int(Int), real(Double) }
    var queue: [Draw]
    /// Every request in order: "int lo..<hi" or "uniform lo..<hi".
    var log: [String] = []

    init(_ queue: [Draw]) { self.queue = queue }

    mutating func integer(_ low: Int, _ high: Int) -> Int {
        log.append("int \(low)..<\(high)")
        guard !queue.isEmpty, case .int(let v) = queue.removeFirst() else {
            Issue.record("unexpected integer draw \(low)..<\(high)")
            return low
        }
        #expect(v >= low && v < high, "draw \(v) outside \(low)..<\(high)")
        return v
    }

    mutating func uniform(_ low: Double, _ high: Double) -> Double {
        log.append("uniform \(low)..<\(high)")
        guard !queue.isEmpty, case .real(let v) = queue.removeFirst() else {
            Issue.record("unexpected uniform draw \(low)..<\(high)")
            return low
        }
        #expect(v >= low && v < high, "draw \(v) outside \(low)..<\(high)")
        return v
    }
}
