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
    /// Named averages (the manifest's `averages`), shown instead of "Avg."; nil: the default "Avg.",
    /// the mean over every set.
    public var averages: [AverageGroup]?
    /// True for a shard's partial result.
    public var partial: Bool

    public init(datasets: [DatasetMetrics] = [], averages: [AverageGroup]? = nil, partial: Bool = false) {
        self.datasets = datasets
        self.averages = averages
        self.partial = partial
    }

    /// The set named `name`, if present.
    public subscript(name: String) -> DatasetMetrics? {
        datasets.first { $0.name == name }
    }

    /// The default "Avg.": the plain mean of every set's mIoU (sets without one are left out).
    public var averageMeanIoU: Double? {
        SegmentationMetrics.average(datasets.map(\.metrics.meanIoU))
    }

    /// A named group's mean mIoU: the plain mean over its sets, nil when one of them is
    /// missing from the report or has no mIoU (a group never averages fewer sets than it names).
    public func meanIoU(of group: AverageGroup) -> Double? {
        var values: [Double] = []
        for name in group.over {
            guard let value = self[name]?.metrics.meanIoU else { return nil }
            values.append(value)
        }
        return values.isEmpty ? nil : values.reduce(0, +) / Double(values.count)
    }

    /// The averages shown under the sets (table, CSV, report): each named group, or without
    /// groups the default "Avg." when there is more than one set.
    public var averageRows: [AverageValue] {
        if let averages { return averages.map { AverageValue(name: $0.name, over: $0.over, mIoU: meanIoU(of: $0)) } }
        guard datasets.count > 1 else { return [] }
        return [AverageValue(name: AverageGroup.defaultName, over: datasets.map(\.name), mIoU: averageMeanIoU)]
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
        if averages == nil { averages = other.averages }
    }

    /// The JSON text (UTF-8), laid out for reading, keys in a fixed order.
    public func encoded() -> [UInt8] {
        var out = ""
        JSONLayout.write(jsonNode(), indent: 0, into: &out)
        return Array((out + "\n").utf8)
    }

    /// The document as an ordered tree (the same schema `encode(to:)` writes).
    func jsonNode() -> JSONLayout.Node {
        .object([
            ("format", .string(Self.format)),
            ("version", .integer(Self.version)),
            ("partial", .bool(partial)),
            ("note", .string(Self.note)),
            averageMember(),
            ("datasets", .array(datasets.map { DatasetRecord($0).jsonNode() })),
        ])
    }

    /// `"average"` (the default: every set) or `"averages"` (the named groups).
    private func averageMember() -> (String, JSONLayout.Node) {
        typealias N = JSONLayout.Node
        guard let averages else {
            return ("average", .object([("mIoU", .percent(averageMeanIoU)), ("over", .array(datasets.map(\.name).map(N.string)))]))
        }
        return ("averages", .array(averages.map { group in
            .object([("name", .string(group.name)), ("mIoU", .percent(meanIoU(of: group))), ("over", .array(group.over.map(N.string)))])
        }))
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
        case format, version, partial, note, average, averages, datasets
    }
    enum AverageKey: String, CodingKey { case name, mIoU, over }

    static let note = "IoU, Acc, mIoU, mAcc, aAcc are percentages (x100), unrounded, derived from the counts; "
        + "confusion rows are ground-truth classes, columns predictions"

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(Self.format, forKey: .format)
        try c.encode(Self.version, forKey: .version)
        try c.encode(partial, forKey: .partial)
        try c.encode(Self.note, forKey: .note)
        if let averages {
            var list = c.nestedUnkeyedContainer(forKey: .averages)
            for group in averages {
                var item = list.nestedContainer(keyedBy: AverageKey.self)
                try item.encode(group.name, forKey: .name)
                try item.encode(meanIoU(of: group).map { $0 * 100 }, forKey: .mIoU)
                try item.encode(group.over, forKey: .over)
            }
        } else {
            var average = c.nestedContainer(keyedBy: AverageKey.self, forKey: .average)
            try average.encode(averageMeanIoU.map { $0 * 100 }, forKey: .mIoU)
            try average.encode(datasets.map(\.name), forKey: .over)
        }
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
        datasets = try c.decode([DatasetRecord].self, forKey: .datasets).map(\.dataset)
        if c.contains(.averages) {
            var list = try c.nestedUnkeyedContainer(forKey: .averages)
            var groups: [AverageGroup] = []
            while !list.isAtEnd {
                let item = try list.nestedContainer(keyedBy: AverageKey.self)
                groups.append(AverageGroup(name: try item.decode(String.self, forKey: .name),
                                           over: try item.decode([String].self, forKey: .over)))
            }
            averages = groups
        } else {
            // The default "Avg." (its list names every set, in order); files written before named
            // groups existed may name fewer sets: that list loads as one group called "Avg.".
            let average = try c.nestedContainer(keyedBy: AverageKey.self, forKey: .average)
            let over = try average.decodeIfPresent([String].self, forKey: .over)
            averages = over == nil || over == datasets.map(\.name) ? nil : [AverageGroup(name: AverageGroup.defaultName, over: over!)]
        }
    }
}

/// A named average of several sets' mIoUs (the manifest's `averages`; the paper's "Avg." columns).
public struct AverageGroup: Sendable, Equatable, Codable {
    /// The name of the default average over every set.
    public static let defaultName = "Avg."
    public var name: String
    /// The sets averaged, by name.
    public var over: [String]
    public init(name: String, over: [String]) {
        self.name = name
        self.over = over
    }
}

/// One average as shown: its name, its sets and its mean mIoU (a fraction; nil when undefined).
public struct AverageValue: Sendable, Equatable {
    public var name: String
    public var over: [String]
    public var mIoU: Double?
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
