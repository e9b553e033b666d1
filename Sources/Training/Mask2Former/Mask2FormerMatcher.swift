// Mask2FormerMatcher.swift — the one-to-one matching of predictions to targets
// for one image and one decoder output: mmdet's HungarianAssigner with the
// match costs of Rein's Mask2Former configs.
//
// cost[q, m] = classWeight · (−softmax(classLogits[q])[class of m])
//            + maskWeight  · mean over points of BCE-with-logits(x[q, p], t[m, p])
//            + diceWeight  · (1 − (2 Σ_p σ(x[q, p]) t[m, p] + 1) / (Σ_p σ(x[q, p]) + Σ_p t[m, p] + 1))
//
// x[q, p] is prediction q's mask logit (H0 x W0, stride 4) and t[m, p] target
// m's binary mask (label resolution), both sampled bilinearly at the same
// points (PointSampling) for every prediction and target. The optimal
// assignment is LinearSumAssignment (scipy's algorithm); min(Q, M) pairs.
//
// Precision: point values in float32 as PyTorch has them; the two point sums
// over predictions x targets are float32 GEMMs (as the reference's einsum);
// the per-row sums and the costs are double.

import CTCore
import Foundation
import Tensor

/// A prediction (query) matched to a target.
public struct Mask2FormerMatch: Sendable, Equatable {
    public var query: Int
    public var target: Int
    public init(query: Int, target: Int) { (self.query, self.target) = (query, target) }
}

/// The sizes of one decoder output of the head.
public struct Mask2FormerPredictionShape: Sendable, Equatable {
    /// Q, the number of queries.
    public var queries: Int
    /// K, the number of classes; the class logits have K + 1 columns (the last is "no object").
    public var classes: Int
    /// H0 x W0, the mask logits' size (stride 4 of the input).
    public var maskHeight: Int
    public var maskWidth: Int

    public init(queries: Int, classes: Int, maskHeight: Int, maskWidth: Int) {
        (self.queries, self.classes, self.maskHeight, self.maskWidth) = (queries, classes, maskHeight, maskWidth)
    }

    /// Q x (K + 1).
    public var classLogitCount: Int { queries * (classes + 1) }
    /// Q x H0 x W0.
    public var maskLogitCount: Int { queries * maskHeight * maskWidth }
}

public enum Mask2FormerMatcher {
    /// The matching cost matrix (Q x M, row-major, double) of one output against `targets`,
    /// the mask terms on `points` (2·P coordinates, (x, y) per point).
    public static func costs(classLogits: UnsafePointer<Float>, maskLogits: UnsafePointer<Float>,
                             shape: Mask2FormerPredictionShape, targets: Mask2FormerTargets, points: [Float],
                             config: Mask2FormerLossConfig, threads: Int) -> [Double] {
        let q = shape.queries, m = targets.count, p = points.count / 2, k1 = shape.classes + 1
        if m == 0 || q == 0 { return [] }
        let mapSize = shape.maskHeight * shape.maskWidth
        let predTaps = (0 ..< p).map { BilinearTaps(x: points[2 * $0], y: points[2 * $0 + 1],
                                                    height: shape.maskHeight, width: shape.maskWidth) }
        let labelTaps = (0 ..< p).map { BilinearTaps(x: points[2 * $0], y: points[2 * $0 + 1],
                                                     height: targets.height, width: targets.width) }
        var logits = [Float](repeating: 0, count: q * p)       // x[q, p]
        var sigmoids = [Float](repeating: 0, count: q * p)     // σ(x[q, p])
        var softplusSums = [Double](repeating: 0, count: q)    // Σ_p BCE(x, 0) = Σ_p softplus(x)
        var sigmoidSums = [Double](repeating: 0, count: q)
        var targetValues = [Float](repeating: 0, count: m * p) // t[m, p]
        var targetSums = [Double](repeating: 0, count: m)
        logits.withUnsafeMutableBufferPointer { logits in
            sigmoids.withUnsafeMutableBufferPointer { sigmoids in
                softplusSums.withUnsafeMutableBufferPointer { softplusSums in
                    sigmoidSums.withUnsafeMutableBufferPointer { sigmoidSums in
                        let (xs, ss, sp, sg) = (logits.baseAddress!, sigmoids.baseAddress!, softplusSums.baseAddress!,
                                                sigmoidSums.baseAddress!)
                        Threading.parallelFor(q, threads: threads) { range in
                            for query in range {
                                let map = maskLogits + query * mapSize
                                var softplus = 0.0, sigmoid = 0.0
                                for point in 0 ..< p {
                                    let x = predTaps[point].sample(map)
                                    let s = Mask2FormerLoss.sigmoid(x)
                                    xs[query * p + point] = x
                                    ss[query * p + point] = s
                                    softplus += Double(Mask2FormerLoss.softplus(x))
                                    sigmoid += Double(s)
                                }
                                sp[query] = softplus
                                sg[query] = sigmoid
                            }
                        }
                    }
                }
            }
        }
        targets.label.withUnsafeBufferPointer { label in
            for target in 0 ..< m {
                let c = UInt8(targets.classes[target])
                var sum = 0.0
                for point in 0 ..< p {
                    let t = labelTaps[point].sample(label: label.baseAddress!, equalTo: c)
                    targetValues[target * p + point] = t
                    sum += Double(t)
                }
                targetSums[target] = sum
            }
        }
        // Σ_p x·t and Σ_p σ(x)·t for every (q, m).
        var logitTarget = [Float](repeating: 0, count: q * m)
        var sigmoidTarget = [Float](repeating: 0, count: q * m)
        targetValues.withUnsafeBufferPointer { t in
            logits.withUnsafeBufferPointer { x in
                logitTarget.withUnsafeMutableBufferPointer { out in
                    GEMM.sgemm(transB: true, m: q, n: m, k: p, a: x.baseAddress!, lda: p, b: t.baseAddress!, ldb: p,
                               c: out.baseAddress!, ldc: m)
                }
            }
            sigmoids.withUnsafeBufferPointer { s in
                sigmoidTarget.withUnsafeMutableBufferPointer { out in
                    GEMM.sgemm(transB: true, m: q, n: m, k: p, a: s.baseAddress!, lda: p, b: t.baseAddress!, ldb: p,
                               c: out.baseAddress!, ldc: m)
                }
            }
        }
        var cost = [Double](repeating: 0, count: q * m)
        for query in 0 ..< q {
            let probabilities = Mask2FormerLoss.softmax(classLogits + query * k1, count: k1)
            for target in 0 ..< m {
                let classCost = -probabilities[targets.classes[target]]
                let maskCost = (softplusSums[query] - Double(logitTarget[query * m + target])) / Double(p)
                let diceCost = 1 - (2 * Double(sigmoidTarget[query * m + target]) + config.diceEpsilon)
                    / (sigmoidSums[query] + targetSums[target] + config.diceEpsilon)
                cost[query * m + target] = config.classWeight * classCost + config.maskWeight * maskCost
                    + config.diceWeight * diceCost
            }
        }
        return cost
    }

    /// The optimal matching of one output against `targets` on `points`: min(Q, M) pairs in
    /// ascending query order (the order mmdet's sampler gives the positives).
    public static func match(classLogits: UnsafePointer<Float>, maskLogits: UnsafePointer<Float>,
                             shape: Mask2FormerPredictionShape, targets: Mask2FormerTargets, points: [Float],
                             config: Mask2FormerLossConfig, threads: Int) throws(TrainingError) -> [Mask2FormerMatch] {
        if targets.count == 0 || shape.queries == 0 { return [] }
        let cost = costs(classLogits: classLogits, maskLogits: maskLogits, shape: shape, targets: targets, points: points,
                         config: config, threads: threads)
        let assignment = try LinearSumAssignment.solve(cost, rows: shape.queries, columns: targets.count)
        return zip(assignment.rows, assignment.columns).map { Mask2FormerMatch(query: $0, target: $1) }
    }
}
