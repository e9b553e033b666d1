// Mask2FormerLoss.swift — the training loss of the Mask2Former head as Rein's
// configs set up mmseg/mmdet's Mask2FormerHead, with its gradient with respect
// to every decoder output's class and mask logits (docs/mask2former.md,
// "Training loss").
//
// Every output (the initial prediction and each decoder layer: deep
// supervision) is matched on its own (Mask2FormerMatcher) and contributes
//   class: classWeight · Σ_q w_q CE(classLogits[q], y_q) / classFactor
//          (y_q the matched target's class or K = "no object"; w_q = 1, or
//          noObjectWeight for "no object"),
//   mask:  maskWeight · Σ_i Σ_p BCE-with-logits(x[i, p], t[i, p]) / (maskFactor · P),
//   dice:  diceWeight · Σ_i (1 − (2 Σ_p σ(x)t + 1) / (Σ_p σ(x) + Σ_p t + 1)) / maskFactor,
// over the matched pairs i, on P points per pair chosen by importance sampling
// (PointSampling.selectUncertain on oversampled candidates, then uniform ones).
// With no target (an all-ignore label) the mask terms are 0, as mmdet's
// zero-match branch gives them.
//
// Random draws, per output in order: the matcher's P points (when the image
// has targets), then the candidates of every matched pair (pair by pair, in
// ascending query order), then the uniform points of every pair.

import CTCore
import Foundation
import Tensor

/// The loss's settings; the defaults are Rein's (mmseg Mask2FormerHead `train_cfg` and losses).
public struct Mask2FormerLossConfig: Sendable, Equatable {
    /// P, points per mask for the matcher and the mask losses (`num_points`).
    public var points = 12544
    /// Candidates per point of the importance sampling (`oversample_ratio`).
    public var oversampleRatio = 3.0
    /// The share of points chosen by uncertainty (`importance_sample_ratio`).
    public var importanceSampleRatio = 0.75
    /// The weights of the class, mask (BCE) and dice terms, in the loss and in the matching cost.
    public var classWeight = 2.0
    public var maskWeight = 5.0
    public var diceWeight = 5.0
    /// The cross-entropy weight of the "no object" class (the other classes weigh 1).
    public var noObjectWeight = 0.1
    /// The dice smoothing term (naive dice, loss and cost).
    public var diceEpsilon = 1.0

    public init() {}

    /// Candidates drawn per matched mask: `int(points · oversampleRatio)`.
    public var candidatePoints: Int { Int(Double(points) * oversampleRatio) }
    /// Points chosen by uncertainty: `int(importanceSampleRatio · points)`.
    public var importantPoints: Int { Int(importanceSampleRatio * Double(points)) }
    /// Points drawn uniformly: the rest.
    public var uniformPoints: Int { points - importantPoints }

    /// Checks the settings; a bad one is a `TrainingError` naming it.
    public func validate() throws(TrainingError) {
        guard points >= 1, points <= 1 << 24 else { throw TrainingError("Mask2Former loss: points \(points) is not in 1...\(1 << 24)") }
        guard oversampleRatio.isFinite, oversampleRatio >= 1, oversampleRatio <= 64 else {
            throw TrainingError("Mask2Former loss: oversample ratio \(oversampleRatio) is not in 1...64")
        }
        guard importanceSampleRatio.isFinite, importanceSampleRatio >= 0, importanceSampleRatio <= 1 else {
            throw TrainingError("Mask2Former loss: importance sample ratio \(importanceSampleRatio) is not in 0...1")
        }
        for (name, value) in [("class weight", classWeight), ("mask weight", maskWeight), ("dice weight", diceWeight),
                              ("no-object weight", noObjectWeight), ("dice epsilon", diceEpsilon)]
            where !(value.isFinite && value >= 0) {
            throw TrainingError("Mask2Former loss: \(name) \(value) must be finite and not negative")
        }
        guard noObjectWeight > 0 else { throw TrainingError("Mask2Former loss: no-object weight must be positive") }
    }
}

/// The denominators of the loss. The class term divides by `classFactor`, the mask terms by
/// `maskFactor` (BCE by `maskFactor` · points).
///
/// `perSample`: each image normalised by its own counts; scaling each image's gradient by 1/B
/// (B images) and summing makes the batch loss the mean of the per-image losses.
/// `batch`: mmdet's factors for the batch (the sum over its images of the matched weights,
/// and of max(matched, 1)); passing them to every image with scale 1 and summing the gradients
/// gives exactly mmdet's batch loss. The two agree for one image; for several, mmdet weighs an
/// image by its share of the batch's counts instead of 1/B. (Across processes mmdet also
/// averages the mask factor over the processes: pass that mean instead.)
public struct Mask2FormerAverageFactors: Sendable, Equatable {
    public var classFactor: Double
    public var maskFactor: Double

    public init(classFactor: Double, maskFactor: Double) {
        (self.classFactor, self.maskFactor) = (classFactor, maskFactor)
    }

    /// Matched pairs of an image: min(Q, M) (the matching always matches that many).
    static func matched(_ targets: Mask2FormerTargets, queries: Int) -> Int { min(queries, targets.count) }

    /// One image's own factors: n + noObjectWeight · (Q − n), and max(n, 1), n matched pairs.
    public static func perSample(_ targets: Mask2FormerTargets, queries: Int, config: Mask2FormerLossConfig) -> Self {
        batch([targets], queries: queries, config: config)
    }

    /// mmdet's factors for a batch: the sums over its images of n + noObjectWeight · (Q − n)
    /// and of max(n, 1).
    public static func batch(_ targets: [Mask2FormerTargets], queries: Int, config: Mask2FormerLossConfig) -> Self {
        var classFactor = 0.0, maskFactor = 0.0
        for t in targets {
            let n = matched(t, queries: queries)
            classFactor += Double(n) + config.noObjectWeight * Double(queries - n)
            maskFactor += Double(max(n, 1))
        }
        return Self(classFactor: classFactor, maskFactor: max(maskFactor, 1))
    }
}

/// One decoder output's loss terms (weighted) and its matching.
public struct Mask2FormerOutputLoss: Sendable, Equatable {
    public var classLoss: Double
    public var maskLoss: Double
    public var diceLoss: Double
    /// The matched pairs, ascending query.
    public var matches: [Mask2FormerMatch]

    public var total: Double { classLoss + maskLoss + diceLoss }
}

/// The loss of every decoder output of one image.
public struct Mask2FormerLossResult: Sendable, Equatable {
    /// Output 0 is the initial prediction, output l the l-th decoder layer's.
    public var outputs: [Mask2FormerOutputLoss]
    /// The sum of every output's terms (not multiplied by `scale`).
    public var total: Double { outputs.reduce(0) { $0 + $1.total } }
}

public enum Mask2FormerLoss {
    /// The loss of one image's decoder outputs and its gradients.
    ///
    /// `classLogits[o]` is output o's Q x (K + 1) class logits, `maskLogits[o]` its Q x H0 x W0
    /// mask logits (o = 0 the initial prediction, then the L decoder layers). When given,
    /// `classGradients[o]` and `maskGradients[o]` (same sizes) are overwritten with the
    /// gradient of `scale` x the total loss. `random` supplies the matcher's and the
    /// importance sampling's points (order in the file comment). Non-finite logits, a bad
    /// config or mismatched counts are a `TrainingError`.
    public static func evaluate(classLogits: [UnsafePointer<Float>], maskLogits: [UnsafePointer<Float>],
                                shape: Mask2FormerPredictionShape, targets: Mask2FormerTargets,
                                config: Mask2FormerLossConfig = Mask2FormerLossConfig(),
                                factors: Mask2FormerAverageFactors, scale: Float,
                                classGradients: [UnsafeMutablePointer<Float>]? = nil,
                                maskGradients: [UnsafeMutablePointer<Float>]? = nil,
                                random: inout SplitMix64, threads: Int) throws(TrainingError) -> Mask2FormerLossResult {
        try config.validate()
        guard shape.queries >= 1, shape.classes >= 1, shape.maskHeight >= 1, shape.maskWidth >= 1 else {
            throw TrainingError("Mask2Former loss: prediction shape \(shape) has an empty dimension")
        }
        guard targets.classes.allSatisfy({ $0 < shape.classes }) else {
            throw TrainingError("Mask2Former loss: target classes \(targets.classes) do not fit a \(shape.classes)-class head")
        }
        guard !classLogits.isEmpty, maskLogits.count == classLogits.count else {
            throw TrainingError("Mask2Former loss: \(classLogits.count) class-logit and \(maskLogits.count) mask-logit outputs (need the same number, at least 1)")
        }
        if let classGradients, classGradients.count != classLogits.count {
            throw TrainingError("Mask2Former loss: \(classGradients.count) class-gradient buffers for \(classLogits.count) outputs")
        }
        if let maskGradients, maskGradients.count != classLogits.count {
            throw TrainingError("Mask2Former loss: \(maskGradients.count) mask-gradient buffers for \(classLogits.count) outputs")
        }
        guard factors.classFactor.isFinite, factors.classFactor > 0, factors.maskFactor.isFinite, factors.maskFactor > 0 else {
            throw TrainingError("Mask2Former loss: average factors \(factors) must be positive")
        }
        guard scale.isFinite else { throw TrainingError("Mask2Former loss: scale \(scale) is not finite") }
        for o in classLogits.indices {
            try checkFinite(classLogits[o], count: shape.classLogitCount, name: "output \(o) class logits")
            try checkFinite(maskLogits[o], count: shape.maskLogitCount, name: "output \(o) mask logits")
        }
        var outputs: [Mask2FormerOutputLoss] = []
        for o in classLogits.indices {
            outputs.append(try evaluateOutput(classLogits: classLogits[o], maskLogits: maskLogits[o], shape: shape,
                                              targets: targets, config: config, factors: factors, scale: scale,
                                              classGradient: classGradients?[o], maskGradient: maskGradients?[o],
                                              random: &random, threads: threads))
        }
        return Mask2FormerLossResult(outputs: outputs)
    }

    private static func checkFinite(_ values: UnsafePointer<Float>, count: Int, name: String) throws(TrainingError) {
        for i in 0 ..< count where !values[i].isFinite {
            throw TrainingError("Mask2Former loss: \(name) element \(i) is \(values[i])")
        }
    }

    /// One output: matching, class term, mask terms and their gradients.
    static func evaluateOutput(classLogits: UnsafePointer<Float>, maskLogits: UnsafePointer<Float>,
                               shape: Mask2FormerPredictionShape, targets: Mask2FormerTargets,
                               config: Mask2FormerLossConfig, factors: Mask2FormerAverageFactors, scale: Float,
                               classGradient: UnsafeMutablePointer<Float>?, maskGradient: UnsafeMutablePointer<Float>?,
                               random: inout SplitMix64, threads: Int) throws(TrainingError) -> Mask2FormerOutputLoss {
        let q = shape.queries, k = shape.classes, k1 = k + 1
        var matches: [Mask2FormerMatch] = []
        if targets.count > 0 {
            let points = PointSampling.uniformPoints(config.points, &random)
            matches = try Mask2FormerMatcher.match(classLogits: classLogits, maskLogits: maskLogits, shape: shape,
                                                   targets: targets, points: points, config: config, threads: threads)
        }

        // Class term.
        var labels = [Int](repeating: k, count: q)
        for match in matches { labels[match.query] = targets.classes[match.target] }
        var classSum = 0.0
        let classScale = config.classWeight / factors.classFactor
        for query in 0 ..< q {
            let z = classLogits + query * k1
            let y = labels[query]
            let weight = y == k ? config.noObjectWeight : 1
            var top = -Float.infinity
            for c in 0 ..< k1 { top = max(top, z[c]) }
            var sum = 0.0
            for c in 0 ..< k1 { sum += Double(expf(z[c] - top)) }
            let logSumExp = Double(top) + log(sum)
            classSum += weight * (logSumExp - Double(z[y]))
            if let classGradient {
                let g = classGradient + query * k1
                let factor = Double(scale) * classScale * weight
                for c in 0 ..< k1 {
                    let p = exp(Double(z[c]) - logSumExp)
                    g[c] = Float(factor * (c == y ? p - 1 : p))
                }
            }
        }

        // Mask terms.
        let mapSize = shape.maskHeight * shape.maskWidth
        maskGradient?.initialize(repeating: 0, count: q * mapSize)
        let n = matches.count
        var bceSums = [Double](repeating: 0, count: n)
        var diceLosses = [Double](repeating: 0, count: n)
        if n > 0 {
            let candidateCount = config.candidatePoints, important = config.importantPoints
            let uniform = config.uniformPoints, p = config.points
            let candidates = PointSampling.uniformPoints(n * candidateCount, &random)
            let uniforms = PointSampling.uniformPoints(n * uniform, &random)
            let bceScale = Float(Double(scale) * config.maskWeight / (factors.maskFactor * Double(p)))
            let diceScale = Double(scale) * config.diceWeight / factors.maskFactor
            let eps = config.diceEpsilon
            let workers = min(max(threads, 1), n)
            candidates.withUnsafeBufferPointer { candidates in
                uniforms.withUnsafeBufferPointer { uniforms in
                    targets.label.withUnsafeBufferPointer { label in
                        bceSums.withUnsafeMutableBufferPointer { bceSums in
                            diceLosses.withUnsafeMutableBufferPointer { diceLosses in
                                let (bceOut, diceOut) = (bceSums.baseAddress!, diceLosses.baseAddress!)
                                Threading.forEachWorker(workers) { worker in
                                    let points = UnsafeMutablePointer<Float>.allocate(capacity: 2 * p)
                                    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: 2 * candidateCount)
                                    var values = [(x: Float, t: Float, s: Float)](repeating: (0, 0, 0), count: p)
                                    var predTaps = [BilinearTaps](repeating: BilinearTaps(x: 0, y: 0, height: 1, width: 1), count: p)
                                    defer { points.deallocate(); scratch.deallocate() }
                                    var i = worker
                                    while i < n {
                                        let match = matches[i]
                                        let map = maskLogits + match.query * mapSize
                                        PointSampling.selectUncertain(
                                            candidates: candidates.baseAddress! + 2 * i * candidateCount,
                                            candidateCount: candidateCount, importantCount: important, logits: map,
                                            height: shape.maskHeight, width: shape.maskWidth, output: points, scratch: scratch)
                                        if uniform > 0 {
                                            (points + 2 * important).update(from: uniforms.baseAddress! + 2 * i * uniform,
                                                                            count: 2 * uniform)
                                        }
                                        let c = UInt8(targets.classes[match.target])
                                        var bce = 0.0, a = 0.0, b = 0.0, tSum = 0.0
                                        for point in 0 ..< p {
                                            let x0 = points[2 * point], y0 = points[2 * point + 1]
                                            let pt = BilinearTaps(x: x0, y: y0, height: shape.maskHeight, width: shape.maskWidth)
                                            let lt = BilinearTaps(x: x0, y: y0, height: targets.height, width: targets.width)
                                            let x = pt.sample(map)
                                            let t = lt.sample(label: label.baseAddress!, equalTo: c)
                                            let s = sigmoid(x)
                                            bce += Double(softplus(x)) - Double(x) * Double(t)
                                            a += Double(s) * Double(t)
                                            b += Double(s)
                                            tSum += Double(t)
                                            values[point] = (x, t, s)
                                            predTaps[point] = pt
                                        }
                                        let denominator = b + tSum + eps
                                        let numerator = 2 * a + eps
                                        bceOut[i] = bce
                                        diceOut[i] = 1 - numerator / denominator
                                        if let maskGradient {
                                            let g = maskGradient + match.query * mapSize
                                            // d(1 − num/den)/dσ_p = −(2 t_p den − num) / den².
                                            let dDice = diceScale / (denominator * denominator)
                                            for point in 0 ..< p {
                                                let (_, t, s) = values[point]
                                                let ds = -(2 * Double(t) * denominator - numerator) * dDice
                                                let dx = bceScale * (s - t) + Float(ds * Double(s) * Double(1 - s))
                                                predTaps[point].scatter(dx, into: g)
                                            }
                                        }
                                        i += workers
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        let bceTotal = bceSums.reduce(0, +), diceTotal = diceLosses.reduce(0, +)
        return Mask2FormerOutputLoss(
            classLoss: config.classWeight * classSum / factors.classFactor,
            maskLoss: n == 0 ? 0 : config.maskWeight * bceTotal / (factors.maskFactor * Double(config.points)),
            diceLoss: n == 0 ? 0 : config.diceWeight * diceTotal / factors.maskFactor,
            matches: matches)
    }

    // MARK: - Scalar helpers shared with the matcher

    @inlinable
    static func sigmoid(_ x: Float) -> Float { 1 / (1 + expf(-x)) }

    /// log(1 + e^x), stable for large |x|: BCE-with-logits against 0 (against 1: softplus(−x)).
    @inlinable
    static func softplus(_ x: Float) -> Float { max(x, 0) + log1pf(expf(-abs(x))) }

    /// The softmax of `count` logits, in double.
    static func softmax(_ z: UnsafePointer<Float>, count: Int) -> [Double] {
        var top = -Float.infinity
        for c in 0 ..< count { top = max(top, z[c]) }
        var e = (0 ..< count).map { exp(Double(z[$0] - top)) }
        let sum = e.reduce(0, +)
        for c in 0 ..< count { e[c] /= sum }
        return e
    }
}
