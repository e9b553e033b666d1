// Linear.swift — y = x W^T + b over caller-owned buffers (PyTorch layout).

import Tensor

/// A fully connected layer; weight (out, in), bias (out), as nn.Linear stores them.
public struct Linear: Sendable {
    public let inFeatures: Int
    public let outFeatures: Int
    public var weight: Tensor
    public var bias: Tensor

    public init(weight: Tensor, bias: Tensor) {
        precondition(weight.shape.count == 2 && bias.shape == [weight.shape[0]],
                     "Linear: weight \(weight.shapeDescription), bias \(bias.shapeDescription)")
        self.outFeatures = weight.shape[0]
        self.inFeatures = weight.shape[1]
        self.weight = weight
        self.bias = bias
    }

    /// y (rows x out) = x (rows x in) W^T, without the bias: the caller's next
    /// elementwise pass adds it (ActivationKernels, ResidualKernel). Overwrites y.
    /// `groups`: the rows are that many images' token rows, split per image (GEMM.linear).
    @inlinable
    public func forwardNoBias(_ x: UnsafePointer<Float>, rows: Int, groups: Int = 1, into y: UnsafeMutablePointer<Float>, threads: Int) {
        weight.withUnsafeBufferPointer { w in
            GEMM.linear(x, rows: rows, inFeatures: inFeatures, weight: w.baseAddress!, outFeatures: outFeatures, into: y,
                        groups: groups, threads: threads)
        }
    }

    /// y = x W^T + b. Overwrites y.
    public func forward(_ x: UnsafePointer<Float>, rows: Int, groups: Int = 1, into y: UnsafeMutablePointer<Float>, threads: Int) {
        forwardNoBias(x, rows: rows, groups: groups, into: y, threads: threads)
        bias.withUnsafeBufferPointer { ActivationKernels.addBias(y, rows: rows, cols: outFeatures, bias: $0.baseAddress!, threads: threads) }
    }
}
