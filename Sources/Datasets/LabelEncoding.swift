// LabelEncoding.swift — how the values stored in a label file map to the 19
// Cityscapes trainIds: a 256-entry lookup table plus the set of values the
// encoding defines (anything else is an "unknown label value").

import ImageIO

/// A label file encoding: raw value -> trainId (255 = ignore).
public struct LabelEncoding: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// Short name, e.g. `cityscapes_labelIds`.
    public let name: String
    /// 256 entries: raw value -> trainId 0...18 or 255.
    public let lut: [UInt8]
    /// 256 entries: whether the encoding defines this raw value.
    public let known: [Bool]

    public init(name: String, lut: [UInt8], known: [Bool]) {
        precondition(lut.count == 256 && known.count == 256, "LabelEncoding \(name): tables need 256 entries")
        self.name = name
        self.lut = lut
        self.known = known
    }

    public var description: String { name }

    /// Cityscapes `*_labelIds.png` (also ACDC `_gt_labelIds.png`): values 0...33.
    public static let cityscapesLabelIds = LabelEncoding(
        name: "cityscapes_labelIds", lut: LabelTables.cityscapesIdToTrainId,
        known: (0 ..< 256).map { $0 <= 33 })

    /// GTA5 palette labels: index = Cityscapes labelId 0...33, mapped as DAFormer/Rein gta.py does.
    public static let gta5LabelIds = LabelEncoding(
        name: "gta5_palette_labelIds", lut: LabelTables.gta5IdToTrainId,
        known: (0 ..< 256).map { $0 <= 33 })

    /// trainId files (`*_labelTrainIds.png`, BDD100K masks, converted Mapillary): 0...18 and 255.
    public static let trainIds = LabelEncoding(
        name: "trainIds", lut: (0 ..< 256).map { $0 <= 18 ? UInt8($0) : 255 },
        known: (0 ..< 256).map { $0 <= 18 || $0 == 255 })

    /// Mapillary palette indices mapped through a config's label list with the
    /// Rein/Causal-Tune name rule (`MapillaryConfig.trainIds`).
    public static func mapillary(version: String, trainIds: [UInt8]) -> LabelEncoding {
        precondition(trainIds.count <= 256, "Mapillary config with more than 256 labels")
        var lut = [UInt8](repeating: 255, count: 256)
        var known = [Bool](repeating: false, count: 256)
        for (index, trainId) in trainIds.enumerated() {
            lut[index] = trainId
            known[index] = true
        }
        return LabelEncoding(name: "mapillary_\(version)_palette", lut: lut, known: known)
    }

    /// Maps a raw label plane to trainIds.
    public func map(_ raw: LabelMap) -> LabelMap {
        var out = [UInt8](repeating: 255, count: raw.pixels.count)
        lut.withUnsafeBufferPointer { table in
            raw.pixels.withUnsafeBufferPointer { src in
                out.withUnsafeMutableBufferPointer { dst in
                    for i in 0 ..< src.count { dst[i] = table[Int(src[i])] }
                }
            }
        }
        return LabelMap(width: raw.width, height: raw.height, channels: 1, pixels: out)
    }

    /// Counts of each raw value (256 entries).
    public static func histogram(_ raw: LabelMap) -> [Int] {
        var counts = [Int](repeating: 0, count: 256)
        raw.pixels.withUnsafeBufferPointer { src in
            counts.withUnsafeMutableBufferPointer { c in
                for v in src { c[Int(v)] &+= 1 }
            }
        }
        return counts
    }

    /// Turns a raw-value histogram into trainId counts (256 entries, only 0...18 and 255 non-zero).
    public func trainIdCounts(histogram: [Int]) -> [Int] {
        var counts = [Int](repeating: 0, count: 256)
        for value in 0 ..< 256 where histogram[value] != 0 { counts[Int(lut[value])] += histogram[value] }
        return counts
    }

    /// The raw values outside the encoding, with counts (ascending value).
    public func unknownValues(histogram: [Int]) -> [(value: UInt8, count: Int)] {
        (0 ..< 256).compactMap { v in !known[v] && histogram[v] != 0 ? (UInt8(v), histogram[v]) : nil }
    }

    /// An `unknownLabelValues` problem for `file`, or nil when every value is defined.
    public func unknownValuesProblem(histogram: [Int], file: String) -> DatasetProblem? {
        let unknown = unknownValues(histogram: histogram)
        guard !unknown.isEmpty else { return nil }
        let listed = unknown.prefix(8).map { "\($0.value) (\($0.count) px)" }.joined(separator: ", ")
        let more = unknown.count > 8 ? " and \(unknown.count - 8) more" : ""
        return DatasetProblem(file: file, kind: .unknownLabelValues,
                              message: "values not defined by the \(name) encoding (read as 255 ignore): \(listed)\(more)")
    }
}
