// AdamW.swift — the optimiser of method.md §4, step for step as PyTorch's
// torch.optim.AdamW (single-tensor CPU path), in float32:
//
//   t += 1
//   p ← p · (1 - lr·wd)                       (decay group only; decoupled decay)
//   m ← m + (1 - β1)(g - m)                   (lerp)
//   v ← v·β2 + (1 - β2)·g·g
//   p ← p - (lr / (1 - β1^t)) · m / (√v / √(1 - β2^t) + ε)
// Scalars are computed in double and rounded to float where PyTorch does.
// Weight decay applies to the tensors the ParameterLayout puts in the decay
// group (no decay on norms, adapter tokens and s).

import Foundation
import Model
import Tensor

/// AdamW hyper-parameters (the paper's defaults).
public struct AdamWConfig: Sendable, Equatable {
    public var learningRate: Double
    public var beta1: Double
    public var beta2: Double
    public var eps: Double
    public var weightDecay: Double

    public init(learningRate: Double = 1e-4, beta1: Double = 0.9, beta2: Double = 0.999, eps: Double = 1e-8,
                weightDecay: Double = 0.05) {
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.weightDecay = weightDecay
    }
}

public struct AdamW: Sendable {
    public let config: AdamWConfig
    public let layout: ParameterLayout
    /// Optimiser steps taken.
    public private(set) var step: Int
    /// First and second moments, one array per trainable tensor (layout order).
    public private(set) var firstMoments: [[Float]]
    public private(set) var secondMoments: [[Float]]

    /// A fresh optimiser (zero moments, step 0).
    public init(config: AdamWConfig, layout: ParameterLayout) {
        self.config = config
        self.layout = layout
        step = 0
        firstMoments = layout.specs.map { [Float](repeating: 0, count: $0.count) }
        secondMoments = firstMoments
    }

    /// An optimiser restored from saved moments.
    public init(config: AdamWConfig, layout: ParameterLayout, step: Int, firstMoments: [[Float]],
                secondMoments: [[Float]]) throws(TrainingError) {
        guard firstMoments.count == layout.count, secondMoments.count == layout.count else {
            throw TrainingError("optimiser state has \(firstMoments.count)/\(secondMoments.count) moment tensors, the model \(layout.count)")
        }
        for (i, spec) in layout.specs.enumerated() where firstMoments[i].count != spec.count || secondMoments[i].count != spec.count {
            throw TrainingError("optimiser state for '\(spec.name)' has \(firstMoments[i].count) values, expected \(spec.count)")
        }
        self.config = config
        self.layout = layout
        self.step = step
        self.firstMoments = firstMoments
        self.secondMoments = secondMoments
    }

    /// One step at learning rate `lr`, in place, on the flat `values` (layout order: a model's
    /// trainable storage) with the gradients in `grads`.
    public mutating func apply(to values: UnsafeMutableBufferPointer<Float>, gradients grads: GradientStore, learningRate lr: Double) {
        precondition(values.count >= layout.valueCount && grads.layout == layout, "AdamW.apply: layout mismatch")
        step += 1
        let t = Double(step)
        let bias1 = 1 - pow(config.beta1, t), bias2 = 1 - pow(config.beta2, t)
        let stepSize = Float(-(lr / bias1))
        let bias2Root = Float(bias2.squareRoot())
        let decayFactor = Float(1 - lr * config.weightDecay)
        let w1 = Float(1 - config.beta1), beta2 = Float(config.beta2), w2 = Float(1 - config.beta2)
        let eps = Float(config.eps)
        for i in 0 ..< layout.count {
            let decay = layout.specs[i].decay && config.weightDecay != 0
            let g = grads[i]
            let p = UnsafeMutableBufferPointer(rebasing: values[layout.offsets[i] ..< layout.offsets[i] + layout.specs[i].count])
            firstMoments[i].withUnsafeMutableBufferPointer { m in
                secondMoments[i].withUnsafeMutableBufferPointer { v in
                    for k in 0 ..< p.count {
                        if decay { p[k] = p[k] * decayFactor }
                        let gk = g[k]
                        m[k] = m[k] + w1 * (gk - m[k])
                        v[k] = v[k] * beta2
                        v[k] = v[k] + w2 * gk * gk
                        let denom = v[k].squareRoot() / bias2Root + eps
                        p[k] = p[k] + stepSize * (m[k] / denom)
                    }
                }
            }
        }
    }
}
