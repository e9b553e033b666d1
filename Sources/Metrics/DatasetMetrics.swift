// DatasetMetrics.swift — one evaluation set's counts, with its class names.

import CTCore

/// The accumulated result of one evaluation set (or of one shard of it).
public struct DatasetMetrics: Sendable, Equatable {
    /// The set's name in reports, e.g. "cityscapes", "acdc-night".
    public var name: String
    /// Images accumulated.
    public var images: Int
    /// Samples of this set that were skipped (unreadable, no prediction, ...) and are not counted.
    public var skipped: Int = 0
    /// Names by class index (length K).
    public var classNames: [String]
    public var matrix: ConfusionMatrix

    /// An empty set of K classes; names default to the Cityscapes 19.
    public init(name: String, classCount: Int = 19, classNames: [String]? = nil, ignoreIndex: UInt8 = 255) {
        self.name = name
        images = 0
        self.classNames = classNames ?? CityscapesClasses.names(count: classCount)
        matrix = ConfusionMatrix(classCount: classCount, ignoreIndex: ignoreIndex)
        precondition(self.classNames.count == classCount, "DatasetMetrics: \(self.classNames.count) names for \(classCount) classes")
    }

    public init(name: String, images: Int, skipped: Int = 0, classNames: [String], matrix: ConfusionMatrix) throws(MetricsError) {
        guard classNames.count == matrix.classCount else {
            throw MetricsError(context: "dataset \(name)",
                               reason: "\(classNames.count) class names for \(matrix.classCount) classes")
        }
        self.name = name
        self.images = images
        self.skipped = skipped
        self.classNames = classNames
        self.matrix = matrix
    }

    /// Adds one image's prediction and label planes.
    public mutating func accumulate(prediction: [UInt8], label: [UInt8]) throws(MetricsError) {
        try matrix.accumulate(prediction: prediction, label: label)
        images += 1
    }

    /// Adds another shard of the same set.
    public mutating func merge(_ other: DatasetMetrics) throws(MetricsError) {
        guard other.name == name, other.classNames == classNames else {
            throw MetricsError(context: "dataset \(name)",
                               reason: "cannot merge \(other.name) with different name or class names")
        }
        try matrix.merge(other.matrix)
        images += other.images
        skipped += other.skipped
    }

    /// IoU, accuracy and means from the counts.
    public var metrics: SegmentationMetrics { SegmentationMetrics(matrix) }
}
