// LayerNorm.swift — nn.LayerNorm over the channel axis, over caller-owned buffers.

import Tensor

public struct LayerNorm: Sendable {
    public let features: Int
    public var weight: Tensor
    public var bias: Tensor
    public let eps: Float

    public init(weight: Tensor, bias: Tensor, eps: Float) {
        precondition(weight.shape.count == 1 && bias.shape == weight.shape,
                     "LayerNorm: weight \(weight.shapeDescription), bias \(bias.shapeDescription)")
        features = weight.shape[0]
        self.weight = weight
        self.bias = bias
        self.eps = eps
    }

    /// y (rows x C) = LayerNorm(x). Overwrites y (which may alias x).
    public func forward(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>, threads: Int) {
        weight.withUnsafeBufferPointer { w in
            bias.withUnsafeBufferPointer { b in
                LayerNormKernel.forward(x, rows: rows, cols: features, weight: w.baseAddress!, bias: b.baseAddress!,
                                        eps: eps, into: y, threads: threads)
            }
        }
    }
}
