// PredictionFolder.swift — the `predictions` stage: existing prediction PNGs
// (from ctpipe or any other tool) matched to samples by sample id.
//
// For a sample id such as `frankfurt/frankfurt_000000_000294`, the first file
// that exists wins:
//   <dir>/<id>.png
//   <dir>/<id>_labelIds.png, <dir>/<id>_trainIds.png, <dir>/<id>_color.png, <dir>/<id>_pred.png
//   the same names without the id's folders, anywhere below <dir> (flat or
//   differently nested folders), e.g. <dir>/frankfurt_000000_000294.png
// Predictions are decoded to trainIds by the folder's format: trainid (values
// 0..18, anything else ignored), labelid (Cityscapes labelIds), color (RGB in
// Cityscapes colours; other colours ignored).

import Datasets
import Foundation
import ImageIO
import ManifestSchema
import RunFolder

public struct PredictionFolder: Sendable {
    public let dir: String
    public let format: Manifest.PredictionFormat
    /// Applied to the prediction files and, when scoring, to the labels.
    public let limits: DecodeLimits
    /// basename -> path, for files found anywhere below `dir`.
    private let byName: [String: String]

    static let suffixes = [".png", "_labelIds.png", "_trainIds.png", "_color.png", "_pred.png"]

    public init(dir: String, format: Manifest.PredictionFormat, limits: DecodeLimits = .default) {
        self.dir = dir
        self.format = format
        self.limits = limits
        var index: [String: String] = [:]
        if let walker = FileManager.default.enumerator(atPath: dir) {
            while let relative = walker.nextObject() as? String {
                guard relative.hasSuffix(".png") else { continue }
                let name = (relative as NSString).lastPathComponent
                if index[name] == nil || relative < index[name]! { index[name] = relative }
            }
        }
        byName = index.mapValues { "\(dir)/\($0)" }
    }

    /// The prediction file of a sample id, or nil when none matches.
    public func file(for id: String) -> String? {
        for suffix in Self.suffixes {
            let path = "\(dir)/\(id)\(suffix)"
            if FileManager.default.fileExists(atPath: path) { return path }
        }
        let base = (id as NSString).lastPathComponent
        for suffix in Self.suffixes {
            if let path = byName[base + suffix] { return path }
        }
        return nil
    }

    /// Loads and decodes the prediction of `id` as a trainId plane.
    public func load(id: String, dataset: String) throws(RunProblem) -> LabelMap {
        guard let path = file(for: id) else {
            throw RunProblem(dataset: dataset, sample: id, file: "\(dir)/\(id).png", kind: "missing_prediction",
                             message: "no prediction file for sample \(id) (looked for \(id).png and the other accepted names)")
        }
        do {
            switch format {
            case .trainid:
                return try ImageFile.readLabel(path, limits: limits)
            case .labelid:
                return LabelEncoding.cityscapesLabelIds.map(try ImageFile.readLabel(path, limits: limits))
            case .color:
                return Self.trainIds(fromColors: try ImageFile.readRGB(path, limits: limits))
            }
        } catch {
            throw RunProblem(dataset: dataset, sample: id, file: path, kind: "unreadable_file",
                             message: "cannot decode prediction: \(error.reason)")
        }
    }

    /// RGB colour mask -> trainIds (colours not in the Cityscapes table -> 255).
    static func trainIds(fromColors image: Image8) -> LabelMap {
        var table: [UInt32: UInt8] = [:]
        for (t, c) in LabelTables.trainClassColors.enumerated() {
            table[UInt32(c.0) << 16 | UInt32(c.1) << 8 | UInt32(c.2)] = UInt8(t)
        }
        var out = [UInt8](repeating: 255, count: image.width * image.height)
        image.pixels.withUnsafeBufferPointer { src in
            for i in 0 ..< out.count {
                let key = UInt32(src[3 * i]) << 16 | UInt32(src[3 * i + 1]) << 8 | UInt32(src[3 * i + 2])
                if let t = table[key] { out[i] = t }
            }
        }
        return LabelMap(width: image.width, height: image.height, channels: 1, pixels: out)
    }
}
