// PatchEmbedding.swift — the p x p stride-p convolution that turns an image into tokens.
//
// Computed as im2col + one GEMM: each patch becomes a row of 3·p·p values in
// (channel, y, x) order — the flattening of the PyTorch kernel (C, 3, p, p) —
// so tokens (N x C) = columns (N x 3p²) · W^T + b, rows in row-major grid order.
// The backward pass (below the forward) gives the parameter gradients only:
// nothing upstream of the image is trained.

import Tensor

public struct PatchEmbedding: Sendable, ParameterWalkable {
    public let patchSize: Int
    public let embedDim: Int
    /// (C, 3, p, p)
    public var weight: Parameter
    /// (C)
    public var bias: Parameter

    /// A layer whose parameters a walk binds later.
    public init(patchSize: Int, embedDim: Int) {
        self.init(weight: Parameter(unbound: [embedDim, 3, patchSize, patchSize]), bias: Parameter(unbound: [embedDim]))
    }

    public init(weight: Tensor, bias: Tensor) {
        self.init(weight: Parameter(weight), bias: Parameter(bias))
    }

    public mutating func walkParameters<V: ParameterVisitor>(_ v: inout V, _ scope: ParameterScope) throws(WeightError) {
        try v.visit(&weight, "weight", in: scope, decay: true)
        try v.visit(&bias, "bias", in: scope, decay: true)
    }

    public init(weight: Parameter, bias: Parameter) {
        precondition(weight.shape.count == 4 && weight.shape[1] == 3 && weight.shape[2] == weight.shape[3]
                     && bias.shape == [weight.shape[0]],
                     "PatchEmbedding: weight \(weight.shapeDescription), bias \(bias.shapeDescription)")
        embedDim = weight.shape[0]
        patchSize = weight.shape[2]
        self.weight = weight
        self.bias = bias
    }

    /// Values per im2col row.
    public var columnsPerPatch: Int { 3 * patchSize * patchSize }

    /// image (3, H, W), H and W multiples of p -> tokens (H/p · W/p, C), overwritten.
    /// `columns` is scratch of (H/p · W/p) x 3p² floats.
    public func forward(_ image: UnsafePointer<Float>, height: Int, width: Int,
                        columns: UnsafeMutablePointer<Float>, into tokens: UnsafeMutablePointer<Float>, threads: Int) {
        let p = patchSize
        precondition(height % p == 0 && width % p == 0 && height > 0 && width > 0,
                     "PatchEmbedding: \(height)x\(width) is not a multiple of the patch size \(p)")
        let gh = height / p, gw = width / p, k = columnsPerPatch
        Threading.parallelFor(gh, threads: threads) { rows in
            for gy in rows {
                for gx in 0 ..< gw {
                    let row = columns + (gy * gw + gx) * k
                    for c in 0 ..< 3 {
                        for ky in 0 ..< p {
                            let source = image + (c * height + gy * p + ky) * width + gx * p
                            (row + (c * p + ky) * p).update(from: source, count: p)
                        }
                    }
                }
            }
        }
        weight.withUnsafeBufferPointer { w in
            GEMM.linear(columns, rows: gh * gw, inFeatures: k, weight: w.baseAddress!, outFeatures: embedDim, into: tokens, threads: threads)
        }
        bias.withUnsafeBufferPointer { ActivationKernels.addBias(tokens, rows: gh * gw, cols: embedDim, bias: $0.baseAddress!, threads: threads) }
    }

    /// Adds the parameter gradients from dtokens (N rows of C, leading dimension `ld`) and the
    /// forward's im2col `columns` (N x 3p²): dW ((C, 3, p, p) flattened) += dtokensᵀ columns, db += Σ dtokens.
    public func backward(_ dTokens: UnsafePointer<Float>, ld: Int, columns: UnsafePointer<Float>, patches n: Int,
                         gradients: ParameterGradients, threads: Int) {
        let k = columnsPerPatch
        GradientGEMM.weight(dTokens, ldy: ld, rows: n, outFeatures: embedDim, x: columns, ldx: k, inFeatures: k,
                            into: gradients.of(weight), threads: threads)
        ActivationBackwardKernels.addColumnSums(dTokens, rows: n, cols: embedDim, ld: ld, into: gradients.of(bias), threads: threads)
    }
}
