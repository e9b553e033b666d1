// ConfusionMatrix.swift — exact pixel counts from which every metric follows.
//
// counts[g * K + p] = pixels whose ground truth is g and prediction p, over
// pixels whose ground truth is not the ignore value (255). As MMSeg's
// `intersect_and_union` builds its three histograms separately, a prediction
// outside 0..<K still counts in its pixel's ground-truth area, and a ground
// truth outside 0..<K (but not ignore) still counts in the prediction area:
// those pixels go to `predictionOutOfRange[g]` and `labelOutOfRange[p]`.
// Counts are UInt64 and merge exactly by addition, so results do not depend
// on sharding or order.

/// A K x K confusion matrix (rows ground truth, columns prediction).
public struct ConfusionMatrix: Sendable, Equatable {
    public let classCount: Int
    public let ignoreIndex: UInt8
    /// Row-major K x K: [groundTruth * K + prediction].
    public private(set) var counts: [UInt64]
    /// [g]: pixels with ground truth g whose prediction is outside 0..<K.
    public private(set) var predictionOutOfRange: [UInt64]
    /// [p]: pixels predicted p whose ground truth is outside 0..<K and not ignored.
    public private(set) var labelOutOfRange: [UInt64]

    /// An empty matrix for `classCount` classes (1...255; 255 is the ignore value).
    public init(classCount: Int, ignoreIndex: UInt8 = 255) {
        precondition(classCount >= 1 && classCount <= 255, "ConfusionMatrix: \(classCount) classes, expected 1...255")
        self.classCount = classCount
        self.ignoreIndex = ignoreIndex
        counts = [UInt64](repeating: 0, count: classCount * classCount)
        predictionOutOfRange = [UInt64](repeating: 0, count: classCount)
        labelOutOfRange = [UInt64](repeating: 0, count: classCount)
    }

    /// A matrix from stored counts (a decoded file); checks the shapes.
    public init(classCount: Int, ignoreIndex: UInt8 = 255, counts: [UInt64],
                predictionOutOfRange: [UInt64]? = nil, labelOutOfRange: [UInt64]? = nil) throws(MetricsError) {
        guard classCount >= 1 && classCount <= 255 else {
            throw MetricsError(context: "confusion matrix", reason: "\(classCount) classes, expected 1...255")
        }
        guard counts.count == classCount * classCount,
              (predictionOutOfRange?.count ?? classCount) == classCount,
              (labelOutOfRange?.count ?? classCount) == classCount else {
            throw MetricsError(context: "confusion matrix",
                               reason: "\(counts.count) counts for \(classCount) classes (expected \(classCount * classCount)) or out-of-range vectors of the wrong length")
        }
        self.classCount = classCount
        self.ignoreIndex = ignoreIndex
        self.counts = counts
        self.predictionOutOfRange = predictionOutOfRange ?? [UInt64](repeating: 0, count: classCount)
        self.labelOutOfRange = labelOutOfRange ?? [UInt64](repeating: 0, count: classCount)
    }

    /// Adds one image: `prediction` and `label` are planes of the same length.
    public mutating func accumulate(prediction: UnsafeBufferPointer<UInt8>,
                                    label: UnsafeBufferPointer<UInt8>) throws(MetricsError) {
        guard prediction.count == label.count else {
            throw MetricsError(context: "confusion matrix",
                               reason: "prediction has \(prediction.count) pixels, label \(label.count)")
        }
        add(prediction: prediction, label: label)
    }

    /// Adds one image from arrays.
    public mutating func accumulate(prediction: [UInt8], label: [UInt8]) throws(MetricsError) {
        guard prediction.count == label.count else {
            throw MetricsError(context: "confusion matrix",
                               reason: "prediction has \(prediction.count) pixels, label \(label.count)")
        }
        prediction.withUnsafeBufferPointer { p in
            label.withUnsafeBufferPointer { l in add(prediction: p, label: l) }
        }
    }

    private mutating func add(prediction: UnsafeBufferPointer<UInt8>, label: UnsafeBufferPointer<UInt8>) {
        // Flat histogram over (K+2) x (K+1) bins: rows 0..<K classes, row K an
        // out-of-range label, row K+1 the ignore value; column K an
        // out-of-range prediction. Two table lookups and one increment a pixel.
        let k = classCount, stride = k + 1
        var rowOffset = [Int](repeating: k * stride, count: 256)
        var column = [Int](repeating: k, count: 256)
        for v in 0 ..< k { rowOffset[v] = v * stride; column[v] = v }
        rowOffset[Int(ignoreIndex)] = (k + 1) * stride
        var histogram = [UInt64](repeating: 0, count: (k + 2) * stride)
        rowOffset.withUnsafeBufferPointer { rows in
            column.withUnsafeBufferPointer { cols in
                histogram.withUnsafeMutableBufferPointer { h in
                    for i in 0 ..< label.count {
                        h[rows[Int(label[i])] + cols[Int(prediction[i])]] &+= 1
                    }
                }
            }
        }
        for g in 0 ..< k {
            for p in 0 ..< k { counts[g * k + p] += histogram[g * stride + p] }
            predictionOutOfRange[g] += histogram[g * stride + k]
        }
        for p in 0 ..< k { labelOutOfRange[p] += histogram[k * stride + p] }
    }

    /// Adds another matrix (a shard, a machine). Exact and order-independent.
    public mutating func merge(_ other: ConfusionMatrix) throws(MetricsError) {
        guard other.classCount == classCount, other.ignoreIndex == ignoreIndex else {
            throw MetricsError(context: "confusion matrix",
                               reason: "cannot merge \(other.classCount) classes (ignore \(other.ignoreIndex)) into \(classCount) (ignore \(ignoreIndex))")
        }
        for i in counts.indices { counts[i] += other.counts[i] }
        for i in 0 ..< classCount {
            predictionOutOfRange[i] += other.predictionOutOfRange[i]
            labelOutOfRange[i] += other.labelOutOfRange[i]
        }
    }

    /// Pixels with ground truth g and prediction p.
    public func count(groundTruth g: Int, prediction p: Int) -> UInt64 { counts[g * classCount + p] }

    /// True positives of class c (MMSeg area_intersect).
    public func intersection(_ c: Int) -> UInt64 { counts[c * classCount + c] }

    /// Pixels labelled c (MMSeg area_label).
    public func groundTruthPixels(_ c: Int) -> UInt64 {
        var sum = predictionOutOfRange[c]
        for p in 0 ..< classCount { sum += counts[c * classCount + p] }
        return sum
    }

    /// Pixels predicted c (MMSeg area_pred_label).
    public func predictedPixels(_ c: Int) -> UInt64 {
        var sum = labelOutOfRange[c]
        for g in 0 ..< classCount { sum += counts[g * classCount + c] }
        return sum
    }

    /// TP + FP + FN of class c.
    public func union(_ c: Int) -> UInt64 { groundTruthPixels(c) + predictedPixels(c) - intersection(c) }

    /// Every pixel counted in some ground-truth area.
    public var totalGroundTruthPixels: UInt64 { (0 ..< classCount).reduce(0) { $0 + groundTruthPixels($1) } }
}
