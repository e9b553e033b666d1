// SegmentationMetrics.swift — IoU, accuracy and their means from a
// confusion matrix (MMSeg `IoUMetric.total_area_to_metrics`).
//
//   IoU_c  = TP / (TP + FP + FN)   undefined (nil) when the union is 0
//   Acc_c  = TP / labelled_c       undefined when no pixel is labelled c
//   mIoU   = mean of the defined IoUs, mAcc likewise
//   aAcc   = sum TP / sum labelled  (overall pixel accuracy)
// Values are fractions in [0, 1], computed in Double from exact counts;
// reports show them x100.

/// The metrics of one evaluation set.
public struct SegmentationMetrics: Sendable, Equatable {
    /// Per class: nil where undefined.
    public var iou: [Double?]
    public var accuracy: [Double?]
    public var meanIoU: Double?
    public var meanAccuracy: Double?
    public var pixelAccuracy: Double?

    public init(_ matrix: ConfusionMatrix) {
        let k = matrix.classCount
        var iou = [Double?](repeating: nil, count: k), accuracy = [Double?](repeating: nil, count: k)
        var intersections: UInt64 = 0, labelled: UInt64 = 0
        for c in 0 ..< k {
            let tp = matrix.intersection(c), gt = matrix.groundTruthPixels(c), union = matrix.union(c)
            if union > 0 { iou[c] = Double(tp) / Double(union) }
            if gt > 0 { accuracy[c] = Double(tp) / Double(gt) }
            intersections += tp
            labelled += gt
        }
        self.iou = iou
        self.accuracy = accuracy
        meanIoU = Self.mean(iou)
        meanAccuracy = Self.mean(accuracy)
        pixelAccuracy = labelled > 0 ? Double(intersections) / Double(labelled) : nil
    }

    /// Mean of the defined values; nil when none is defined.
    public static func mean(_ values: [Double?]) -> Double? {
        let defined = values.compactMap { $0 }
        return defined.isEmpty ? nil : defined.reduce(0, +) / Double(defined.count)
    }

    /// The paper's "Avg." column: the plain mean of several sets' mIoUs
    /// (sets without a defined mIoU are left out; nil if none has one).
    public static func average(_ meanIoUs: [Double?]) -> Double? { mean(meanIoUs) }
}
