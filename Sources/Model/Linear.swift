// Linear.swift — y = x W^T + b over caller-owned buffers (PyTorch layout): the
// forward pass and, beside it, the backward pass.

import Tensor

/// Where a Linear backward adds its parameter gradients: weight (out, in), bias (out).
public struct LinearGradients {
    public let weight: UnsafeMutablePointer<Float>
    public let bias: UnsafeMutablePointer<Float>
    public init(weight: UnsafeMutablePointer<Float>, bias: UnsafeMutablePointer<Float>) {
        self.weight = weight
        self.bias = bias
    }
}

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

    /// Backward of y = x W^T + b from dy (rows x out, leading dimension `ldy`):
    /// with `gradients`, db += Σ_rows dy and dW += dyᵀ x (x: the forward's input,
    /// leading dimension `ldx`); then dx (rows x in, leading dimension `ldx`) = dy W
    /// when `dx` is given.
    public func backward(_ dy: UnsafePointer<Float>, ldy: Int, input x: UnsafePointer<Float>, ldx: Int, rows: Int,
                         into dx: UnsafeMutablePointer<Float>?, gradients: LinearGradients?, threads: Int) {
        if let gradients {
            ActivationBackwardKernels.addColumnSums(dy, rows: rows, cols: outFeatures, ld: ldy, into: gradients.bias, threads: threads)
            GradientGEMM.weight(dy, ldy: ldy, rows: rows, outFeatures: outFeatures, x: x, ldx: ldx, inFeatures: inFeatures,
                                into: gradients.weight, threads: threads)
        }
        if let dx {
            weight.withUnsafeBufferPointer {
                GradientGEMM.input(dy, ldy: ldy, rows: rows, outFeatures: outFeatures, weight: $0.baseAddress!,
                                   inFeatures: inFeatures, into: dx, ldx: ldx, threads: threads)
            }
        }
    }
}
