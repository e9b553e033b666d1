// MetricsReport.swift — the metrics of a run, and its JSON file
// (`metrics.json`, and the partial results of shards, in the same format).
//
// The file is written for people first: per set the summary percentages,
// then one line per class (name, IoU, Acc, and the four counts), then the
// confusion matrix one row per line. Percentages are x100 and unrounded;
// they are derived data, recomputed from the counts on load, which are the
// only stored truth. Loading checks format, version and shapes. See
// docs/augment-metrics.md for the schema.

import CTCore
import Foundation

/// The metrics of one or more evaluation sets, mergeable across shards.
public struct MetricsReport: Sendable, Equatable {
    public static let format = "ctpipe-metrics"
    public static let version = 1

    public var datasets: [DatasetMetrics]
    /// Names of the sets averaged in "Avg." (nil: every set).
    public var averageOver: [String]?
    /// True for a shard's partial result.
    public var partial: Bool

    public init(datasets: [DatasetMetrics] = [], averageOver: [String]? = nil, partial: Bool = false) {
        self.datasets = datasets
        self.averageOver = averageOver
        self.partial = partial
    }

    /// The set named `name`, if present.
    public subscript(name: String) -> DatasetMetrics? {
        datasets.first { $0.name == name }
    }

    /// The plain mean of the averaged sets' mIoUs (the paper's "Avg.").
    public var averageMeanIoU: Double? {
        let names = averageOver ?? datasets.map(\.name)
        return SegmentationMetrics.average(datasets.filter { names.contains($0.name) }.map(\.metrics.meanIoU))
    }

    /// Adds another report's sets: same-named sets merge, new ones append.
    public mutating func merge(_ other: MetricsReport) throws(MetricsError) {
        for set in other.datasets {
            if let i = datasets.firstIndex(where: { $0.name == set.name }) {
                try datasets[i].merge(set)
            } else {
                datasets.append(set)
            }
        }
        if averageOver == nil { averageOver = other.averageOver }
    }

    /// The JSON text (UTF-8), laid out for reading, keys in a fixed order.
    public func encoded() -> [UInt8] {
        var out = ""
        JSONLayout.write(jsonNode(), indent: 0, into: &out)
        return Array((out + "\n").utf8)
    }

    /// The document as an ordered tree (the same schema `encode(to:)` writes).
    func jsonNode() -> JSONLayout.Node {
        typealias N = JSONLayout.Node
        return .object([
            ("format", .string(Self.format)),
            ("version", .integer(Self.version)),
            ("partial", .bool(partial)),
            ("note", .string(Self.note)),
            ("average", .object([("mIoU", .percent(averageMeanIoU)),
                                 ("over", .array((averageOver ?? datasets.map(\.name)).map(N.string)))])),
            ("datasets", .array(datasets.map { DatasetRecord($0).jsonNode() })),
        ])
    }

    /// Decodes a metrics file; `path` names it in errors.
    public static func decode(_ bytes: [UInt8], path: String) throws(MetricsError) -> MetricsReport {
        do {
            return try JSONDecoder().decode(MetricsReport.self, from: Data(bytes))
        } catch let error as MetricsError {
            throw MetricsError(context: path, reason: error.description)
        } catch let DecodingError.dataCorrupted(context) {
            throw MetricsError(context: path, reason: "\(Self.jsonPath(context.codingPath)): \(context.debugDescription)")
        } catch let DecodingError.keyNotFound(key, context) {
            throw MetricsError(context: path, reason: "\(Self.jsonPath(context.codingPath + [key])): missing")
        } catch let DecodingError.typeMismatch(_, context) {
            throw MetricsError(context: path, reason: "\(Self.jsonPath(context.codingPath)): \(context.debugDescription)")
        } catch let DecodingError.valueNotFound(_, context) {
            throw MetricsError(context: path, reason: "\(Self.jsonPath(context.codingPath)): \(context.debugDescription)")
        } catch {
            throw MetricsError(context: path, reason: "not a metrics file: \(error)")
        }
    }

    static func jsonPath(_ keys: [any CodingKey]) -> String {
        keys.reduce("$") { path, key in
            if let i = key.intValue { return path + "[\(i)]" }
            return path + "." + key.stringValue
        }
    }
}

extension MetricsReport: Codable {
    enum Key: String, CodingKey {
        case format, version, partial, note, average, datasets
    }
    enum AverageKey: String, CodingKey { case mIoU, over }

    static let note = "IoU, Acc, mIoU, mAcc, aAcc are percentages (x100), unrounded, derived from the counts; "
        + "confusion rows are ground-truth classes, columns predictions"

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(Self.format, forKey: .format)
        try c.encode(Self.version, forKey: .version)
        try c.encode(partial, forKey: .partial)
        try c.encode(Self.note, forKey: .note)
        var average = c.nestedContainer(keyedBy: AverageKey.self, forKey: .average)
        try average.encode(averageMeanIoU.map { $0 * 100 }, forKey: .mIoU)
        try average.encode(averageOver ?? datasets.map(\.name), forKey: .over)
        try c.encode(datasets.map(DatasetRecord.init), forKey: .datasets)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        let format = try c.decode(String.self, forKey: .format)
        guard format == Self.format else {
            throw DecodingError.dataCorruptedError(forKey: .format, in: c,
                                                   debugDescription: "is \"\(format)\", expected \"\(Self.format)\"")
        }
        let version = try c.decode(Int.self, forKey: .version)
        guard version == Self.version else {
            throw DecodingError.dataCorruptedError(forKey: .version, in: c,
                                                   debugDescription: "is \(version); this ctpipe reads version \(Self.version)")
        }
        partial = try c.decodeIfPresent(Bool.self, forKey: .partial) ?? false
        let average = try c.nestedContainer(keyedBy: AverageKey.self, forKey: .average)
        datasets = try c.decode([DatasetRecord].self, forKey: .datasets).map(\.dataset)
        // A list naming every set, in order, means "all sets" (nil).
        let over = try average.decodeIfPresent([String].self, forKey: .over)
        averageOver = over == datasets.map(\.name) ? nil : over
    }
}

/// The JSON form of one set.
struct DatasetRecord: Codable {
    var dataset: DatasetMetrics

    init(_ dataset: DatasetMetrics) { self.dataset = dataset }

    enum Key: String, CodingKey {
        case name, samples, skipped, ignoreIndex, mIoU, mAcc, aAcc, IoU, Acc, classes, confusion, predictionOutOfRange, labelOutOfRange
    }
    enum ClassKey: String, CodingKey {
        case trainId, name, IoU, Acc, groundTruth, predicted, intersection, union
    }

    func jsonNode() -> JSONLayout.Node {
        typealias N = JSONLayout.Node
        let m = dataset.matrix, metrics = dataset.metrics, k = m.classCount
        var members: [(String, N)] = [
            ("name", .string(dataset.name)),
            ("samples", .integer(dataset.images)),
            ("skipped", .integer(dataset.skipped)),
            ("ignoreIndex", .integer(Int(m.ignoreIndex))),
            ("mIoU", .percent(metrics.meanIoU)),
            ("mAcc", .percent(metrics.meanAccuracy)),
            ("aAcc", .percent(metrics.pixelAccuracy)),
            ("IoU", .object((0 ..< k).map { (dataset.classNames[$0], .percent(metrics.iou[$0])) })),
            ("Acc", .object((0 ..< k).map { (dataset.classNames[$0], .percent(metrics.accuracy[$0])) })),
            ("classes", .array((0 ..< k).map { i in
                .object([("trainId", .integer(i)), ("name", .string(dataset.classNames[i])),
                         ("IoU", .percent(metrics.iou[i])), ("Acc", .percent(metrics.accuracy[i])),
                         ("groundTruth", .count(m.groundTruthPixels(i))), ("predicted", .count(m.predictedPixels(i))),
                         ("intersection", .count(m.intersection(i))), ("union", .count(m.union(i)))])
            })),
            ("confusion", .array((0 ..< k).map { g in .array(m.counts[g * k ..< (g + 1) * k].map(N.count)) })),
        ]
        if m.predictionOutOfRange.contains(where: { $0 != 0 }) {
            members.append(("predictionOutOfRange", .array(m.predictionOutOfRange.map(N.count))))
        }
        if m.labelOutOfRange.contains(where: { $0 != 0 }) {
            members.append(("labelOutOfRange", .array(m.labelOutOfRange.map(N.count))))
        }
        return .object(members)
    }

    func encode(to encoder: any Encoder) throws {
        let m = dataset.matrix, metrics = dataset.metrics, k = m.classCount
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(dataset.name, forKey: .name)
        try c.encode(dataset.images, forKey: .samples)
        try c.encode(dataset.skipped, forKey: .skipped)
        try c.encode(m.ignoreIndex, forKey: .ignoreIndex)
        try c.encode(metrics.meanIoU.map { $0 * 100 }, forKey: .mIoU)
        try c.encode(metrics.meanAccuracy.map { $0 * 100 }, forKey: .mAcc)
        try c.encode(metrics.pixelAccuracy.map { $0 * 100 }, forKey: .aAcc)
        try c.encode(Dictionary(uniqueKeysWithValues: (0 ..< k).map { (dataset.classNames[$0], metrics.iou[$0].map { $0 * 100 }) }),
                     forKey: .IoU)
        try c.encode(Dictionary(uniqueKeysWithValues: (0 ..< k).map { (dataset.classNames[$0], metrics.accuracy[$0].map { $0 * 100 }) }),
                     forKey: .Acc)
        var classes = c.nestedUnkeyedContainer(forKey: .classes)
        for i in 0 ..< k {
            var row = classes.nestedContainer(keyedBy: ClassKey.self)
            try row.encode(i, forKey: .trainId)
            try row.encode(dataset.classNames[i], forKey: .name)
            try row.encode(metrics.iou[i].map { $0 * 100 }, forKey: .IoU)
            try row.encode(metrics.accuracy[i].map { $0 * 100 }, forKey: .Acc)
            try row.encode(m.groundTruthPixels(i), forKey: .groundTruth)
            try row.encode(m.predictedPixels(i), forKey: .predicted)
            try row.encode(m.intersection(i), forKey: .intersection)
            try row.encode(m.union(i), forKey: .union)
        }
        try c.encode((0 ..< k).map { Array(m.counts[$0 * k ..< ($0 + 1) * k]) }, forKey: .confusion)
        if m.predictionOutOfRange.contains(where: { $0 != 0 }) {
            try c.encode(m.predictionOutOfRange, forKey: .predictionOutOfRange)
        }
        if m.labelOutOfRange.contains(where: { $0 != 0 }) {
            try c.encode(m.labelOutOfRange, forKey: .labelOutOfRange)
        }
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        let name = try c.decode(String.self, forKey: .name)
        let images = try c.decode(Int.self, forKey: .samples)
        let skipped = try c.decodeIfPresent(Int.self, forKey: .skipped) ?? 0
        let ignore = try c.decodeIfPresent(UInt8.self, forKey: .ignoreIndex) ?? 255
        var classes = try c.nestedUnkeyedContainer(forKey: .classes)
        var names: [String] = []
        while !classes.isAtEnd {
            let row = try classes.nestedContainer(keyedBy: ClassKey.self)
            let id = try row.decode(Int.self, forKey: .trainId)
            guard id == names.count else {
                throw DecodingError.dataCorruptedError(forKey: .trainId, in: row,
                                                       debugDescription: "is \(id), expected \(names.count) (classes in trainId order)")
            }
            names.append(try row.decode(String.self, forKey: .name))
        }
        let rows = try c.decode([[UInt64]].self, forKey: .confusion)
        guard rows.count == names.count, rows.allSatisfy({ $0.count == names.count }) else {
            throw DecodingError.dataCorruptedError(forKey: .confusion, in: c,
                                                   debugDescription: "must be \(names.count) rows of \(names.count) counts (one per class)")
        }
        let matrix: ConfusionMatrix
        do {
            matrix = try ConfusionMatrix(classCount: names.count, ignoreIndex: ignore, counts: rows.flatMap { $0 },
                                         predictionOutOfRange: try c.decodeIfPresent([UInt64].self, forKey: .predictionOutOfRange),
                                         labelOutOfRange: try c.decodeIfPresent([UInt64].self, forKey: .labelOutOfRange))
        } catch let error as MetricsError {
            throw DecodingError.dataCorruptedError(forKey: .confusion, in: c, debugDescription: error.reason)
        }
        dataset = try DatasetMetrics(name: name, images: images, skipped: skipped, classNames: names, matrix: matrix)
    }
}
