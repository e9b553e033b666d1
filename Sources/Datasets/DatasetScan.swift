// DatasetScan.swift — decode every label of a listing (in parallel), count
// trainId pixels and raw values outside the encoding, and check each label's
// size against its image. Counts are integers merged exactly, so the result
// does not depend on thread scheduling.

import Dispatch
import Foundation
import ImageIO

/// Totals over a split, plus the problems found while decoding.
public struct DatasetScan: Sendable, Equatable {
    /// 256 entries, index = trainId (only 0...18 and 255 can be non-zero).
    public var classPixels: [Int]
    /// 256 entries, index = raw label value outside the encoding.
    public var unknownValues: [Int]
    /// Samples whose label was decoded.
    public var scannedSamples: Int
    /// Problems in sample order (unreadable files, size mismatches, unknown values).
    public var problems: [DatasetProblem]

    public init(classPixels: [Int] = Array(repeating: 0, count: 256), unknownValues: [Int] = Array(repeating: 0, count: 256),
                scannedSamples: Int = 0, problems: [DatasetProblem] = []) {
        self.classPixels = classPixels
        self.unknownValues = unknownValues
        self.scannedSamples = scannedSamples
        self.problems = problems
    }
}

public enum DatasetScanner {
    /// Scans `samples`. The image of each sample is checked through its header
    /// (size), or fully decoded when `decodeImages` is set.
    public static func scan(_ samples: [Sample], decodeImages: Bool = false, limits: DecodeLimits = .default) -> DatasetScan {
        let chunks = Parallel.ranges(samples.count, chunks: 4 * max(1, Processors.active))
        let parts = Parallel.map(chunks.count) { k -> DatasetScan in
            var part = DatasetScan()
            for i in chunks[k] { scanOne(samples[i], decodeImages: decodeImages, limits: limits, into: &part) }
            return part
        }
        var total = DatasetScan()
        for part in parts {
            for v in 0 ..< 256 {
                total.classPixels[v] += part.classPixels[v]
                total.unknownValues[v] += part.unknownValues[v]
            }
            total.scannedSamples += part.scannedSamples
            total.problems += part.problems
        }
        return total
    }

    static func scanOne(_ sample: Sample, decodeImages: Bool, limits: DecodeLimits, into part: inout DatasetScan) {
        var imageSize: ImageSize?
        if decodeImages {
            do {
                let image = try sample.loadImage(limits: limits)
                imageSize = ImageSize(width: image.width, height: image.height)
            } catch { part.problems.append(error) }
        } else {
            switch ImageHeader.size(sample.imagePath) {
            case .success(let size): imageSize = size
            case .failure(let problem): part.problems.append(problem)
            }
        }
        let raw: LabelMap
        do { raw = try sample.loadRawLabel(limits: limits) } catch {
            part.problems.append(error)
            return
        }
        part.scannedSamples += 1
        let labelSize = ImageSize(width: raw.width, height: raw.height)
        if let imageSize, imageSize != labelSize {
            part.problems.append(.sizeMismatch(label: sample.labelPath, labelSize: labelSize, imageSize: imageSize))
        }
        let histogram = LabelEncoding.histogram(raw)
        let counts = sample.encoding.trainIdCounts(histogram: histogram)
        for v in 0 ..< 256 {
            part.classPixels[v] += counts[v]
            if !sample.encoding.known[v] { part.unknownValues[v] += histogram[v] }
        }
        if let problem = sample.encoding.unknownValuesProblem(histogram: histogram, file: sample.labelPath) {
            part.problems.append(problem)
        }
    }
}

enum Processors {
    /// Processors available to this process.
    static var active: Int { ProcessInfo.processInfo.activeProcessorCount }
}
