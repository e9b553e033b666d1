// Linear.swift — y = x W^T + b over caller-owned buffers (PyTorch layout): the
// forward pass and, beside it, the backward pass.

import Tensor

/// A fully connected layer; weight (out, in), bias (out), as nn.Linear stores them.
public struct Linear: Sendable, ParameterWalkable {
    public let inFeatures: Int
    public let outFeatures: Int
    public var weight: Parameter
    public var bias: Parameter
    /// Files may store the weight as a 1x1 convolution (out, in, 1, 1) (the linear head's `conv_seg`).
    public let storedAsConvolution: Bool

    /// A layer whose parameters a walk binds later.
    public init(inFeatures: Int, outFeatures: Int, storedAsConvolution: Bool = false) {
        self.init(weight: Parameter(unbound: [outFeatures, inFeatures]), bias: Parameter(unbound: [outFeatures]),
                  storedAsConvolution: storedAsConvolution)
    }

    public init(weight: Parameter, bias: Parameter, storedAsConvolution: Bool = false) {
        precondition(weight.shape.count == 2 && bias.shape == [weight.shape[0]],
                     "Linear: weight \(weight.shapeDescription), bias \(bias.shapeDescription)")
        self.outFeatures = weight.shape[0]
        self.inFeatures = weight.shape[1]
        self.weight = weight
        self.bias = bias
        self.storedAsConvolution = storedAsConvolution
    }

    public init(weight: Tensor, bias: Tensor, storedAsConvolution: Bool = false) {
        self.init(weight: Parameter(weight), bias: Parameter(bias), storedAsConvolution: storedAsConvolution)
    }

    public mutating func walkParameters<V: ParameterVisitor>(_ v: inout V, _ scope: ParameterScope) throws(WeightError) {
        try v.visit(&weight, "weight", in: scope, decay: true,
                    fileShapes: storedAsConvolution ? [[outFeatures, inFeatures, 1, 1]] : [])
        try v.visit(&bias, "bias", in: scope, decay: true)
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
    /// (+= with `accumulate`) when `dx` is given.
    public func backward(_ dy: UnsafePointer<Float>, ldy: Int, input x: UnsafePointer<Float>, ldx: Int, rows: Int,
                         into dx: UnsafeMutablePointer<Float>?, accumulate: Bool = false, gradients: ParameterGradients?,
                         threads: Int) {
        if let dWeight = gradients?[weight], let dBias = gradients?[bias] {
            ActivationBackwardKernels.addColumnSums(dy, rows: rows, cols: outFeatures, ld: ldy, into: dBias, threads: threads)
            GradientGEMM.weight(dy, ldy: ldy, rows: rows, outFeatures: outFeatures, x: x, ldx: ldx, inFeatures: inFeatures,
                                into: dWeight, threads: threads)
        }
        if let dx {
            weight.withUnsafeBufferPointer {
                GradientGEMM.input(dy, ldy: ldy, rows: rows, outFeatures: outFeatures, weight: $0.baseAddress!,
                                   inFeatures: inFeatures, into: dx, ldx: ldx, beta: accumulate ? 1 : 0, threads: threads)
            }
        }
    }
}
