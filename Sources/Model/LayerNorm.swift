// LayerNorm.swift — nn.LayerNorm over the channel axis, over caller-owned
// buffers: the forward pass (optionally keeping the row statistics its
// backward pass needs) and the backward pass.

import Tensor

/// What a LayerNorm forward keeps for its backward pass: per-row mean and
/// 1/sqrt(var + eps) (rows each). The input x is kept by the caller.
public struct LayerNormSaved {
    public let mean: UnsafeMutablePointer<Float>
    public let rstd: UnsafeMutablePointer<Float>
    public init(mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>) {
        self.mean = mean
        self.rstd = rstd
    }
}

public struct LayerNorm: Sendable, ParameterWalkable {
    public let features: Int
    public var weight: Parameter
    public var bias: Parameter
    public let eps: Float

    /// A layer whose parameters a walk binds later.
    public init(features: Int, eps: Float) {
        self.init(weight: Parameter(unbound: [features]), bias: Parameter(unbound: [features]), eps: eps)
    }

    public init(weight: Parameter, bias: Parameter, eps: Float) {
        precondition(weight.shape.count == 1 && bias.shape == weight.shape,
                     "LayerNorm: weight \(weight.shapeDescription), bias \(bias.shapeDescription)")
        features = weight.shape[0]
        self.weight = weight
        self.bias = bias
        self.eps = eps
    }

    public init(weight: Tensor, bias: Tensor, eps: Float) {
        self.init(weight: Parameter(weight), bias: Parameter(bias), eps: eps)
    }

    /// No weight decay on norms (method.md §4).
    public mutating func walkParameters<V: ParameterVisitor>(_ v: inout V, _ scope: ParameterScope) throws(WeightError) {
        try v.visit(&weight, "weight", in: scope, decay: false)
        try v.visit(&bias, "bias", in: scope, decay: false)
    }

    /// y (rows x C) = LayerNorm(x). Overwrites y (which may alias x). With `keep`
    /// the row statistics are written there too (the training kernel, same
    /// statistics); without it the fused inference kernel runs.
    public func forward(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>, threads: Int,
                        keep: LayerNormSaved? = nil) {
        weight.withUnsafeBufferPointer { w in
            bias.withUnsafeBufferPointer { b in
                if let keep {
                    LayerNormBackwardKernel.forward(x, rows: rows, cols: features, weight: w.baseAddress!, bias: b.baseAddress!,
                                                    eps: eps, into: y, mean: keep.mean, rstd: keep.rstd, threads: threads)
                } else {
                    LayerNormKernel.forward(x, rows: rows, cols: features, weight: w.baseAddress!, bias: b.baseAddress!,
                                            eps: eps, into: y, threads: threads)
                }
            }
        }
    }

    /// dx (rows x C) += (or = without `accumulate`) the input gradient from dy, the
    /// forward's input x and its kept statistics; parameter gradients added into
    /// `gradients` when given.
    public func backward(_ dy: UnsafePointer<Float>, input x: UnsafePointer<Float>, saved: LayerNormSaved, rows: Int,
                         into dx: UnsafeMutablePointer<Float>, accumulate: Bool, gradients: ParameterGradients?, threads: Int) {
        weight.withUnsafeBufferPointer { w in
            LayerNormBackwardKernel.backward(dy, x: x, mean: saved.mean, rstd: saved.rstd, rows: rows, cols: features,
                                             weight: w.baseAddress!, into: dx, accumulate: accumulate,
                                             dweight: gradients?[weight], dbias: gradients?[bias], threads: threads)
        }
    }
}
