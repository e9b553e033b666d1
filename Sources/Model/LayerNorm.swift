// LayerNorm.swift — nn.LayerNorm over the channel axis, over caller-owned buffers.

import Tensor

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

    /// y (rows x C) = LayerNorm(x). Overwrites y (which may alias x).
    public func forward(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>) {
        weight.withUnsafeBufferPointer { w in
            bias.withUnsafeBufferPointer { b in
                LayerNormKernel.forward(x, rows: rows, cols: features, weight: w.baseAddress!, bias: b.baseAddress!,
                                        eps: eps, into: y)
            }
        }
    }
}
