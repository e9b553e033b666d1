// FeedForward.swift — the feed-forward layer of a block: MLP or SwiGLU, its
// forward pass and (MLP) its backward pass.
//
// MLP (vits/b/l):  fc1 (C -> 4C), exact GELU fused with fc1's bias, fc2 (4C -> C).
// SwiGLU (vitg):   w12 (C -> 2H) = [x1 | x2], SiLU(x1 + b1) * (x2 + b2) fused, w3 (H -> C).
// The last layer's bias is left to the block (fused with LayerScale and the
// residual add), so `forward` returns x·W_last^T without it.

import Tensor

public enum FeedForward: Sendable, ParameterWalkable {
    case mlp(fc1: Linear, fc2: Linear)
    case swiglu(w12: Linear, w3: Linear)

    /// A layer of `kind` whose parameters a walk binds later (SwiGLU: w12 C -> 2H, w3 H -> C).
    public init(kind: FeedForwardKind, embedDim c: Int, hidden h: Int) {
        switch kind {
        case .mlp: self = .mlp(fc1: Linear(inFeatures: c, outFeatures: h), fc2: Linear(inFeatures: h, outFeatures: c))
        case .swiglu: self = .swiglu(w12: Linear(inFeatures: c, outFeatures: 2 * h), w3: Linear(inFeatures: h, outFeatures: c))
        }
    }

    public mutating func walkParameters<V: ParameterVisitor>(_ v: inout V, _ scope: ParameterScope) throws(WeightError) {
        switch self {
        case .mlp(var fc1, var fc2):
            try fc1.walkParameters(&v, scope.child("fc1"))
            try fc2.walkParameters(&v, scope.child("fc2"))
            self = .mlp(fc1: fc1, fc2: fc2)
        case .swiglu(var w12, var w3):
            try w12.walkParameters(&v, scope.child("w12"))
            try w3.walkParameters(&v, scope.child("w3"))
            self = .swiglu(w12: w12, w3: w3)
        }
    }

    /// The final layer (its bias is added by the caller).
    public var output: Linear {
        switch self {
        case .mlp(_, let fc2): fc2
        case .swiglu(_, let w3): w3
        }
    }

    /// Floats of scratch `forward` needs per token.
    public var scratchPerToken: Int {
        switch self {
        case .mlp(let fc1, _): fc1.outFeatures
        case .swiglu(let w12, let w3): w12.outFeatures + w3.inFeatures
        }
    }

    /// x (T x C) -> y (T x C) = hidden · W_out^T, no output bias. `hidden`: T x scratchPerToken.
    /// `groups`: T holds that many images' token rows (see GEMM.linear).
    /// With `keep` (MLP, for a backward pass: T x 4C) fc1's output without its bias
    /// is kept there and GELU(· + b1) written to `hidden` (the training kernel);
    /// without it GELU runs in place over `hidden` (the fused inference kernel).
    public func forward(_ x: UnsafePointer<Float>, tokens t: Int, groups: Int = 1, hidden: UnsafeMutablePointer<Float>,
                        into y: UnsafeMutablePointer<Float>, threads: Int, keep preActivation: UnsafeMutablePointer<Float>? = nil) {
        switch self {
        case .mlp(let fc1, let fc2):
            if let preActivation {
                fc1.forwardNoBias(x, rows: t, groups: groups, into: preActivation, threads: threads)
                fc1.bias.withUnsafeBufferPointer {
                    ActivationBackwardKernels.gelu(preActivation, rows: t, cols: fc1.outFeatures, bias: $0.baseAddress!,
                                                   into: hidden, threads: threads)
                }
            } else {
                fc1.forwardNoBias(x, rows: t, groups: groups, into: hidden, threads: threads)
                fc1.bias.withUnsafeBufferPointer {
                    ActivationKernels.biasGELU(hidden, rows: t, cols: fc1.outFeatures, bias: $0.baseAddress!, threads: threads)
                }
            }
            fc2.forwardNoBias(hidden, rows: t, groups: groups, into: y, threads: threads)
        case .swiglu(let w12, let w3):
            let gated = hidden + t * w12.outFeatures
            w12.forwardNoBias(x, rows: t, groups: groups, into: hidden, threads: threads)
            w12.bias.withUnsafeBufferPointer {
                ActivationKernels.biasSwiGLU(hidden, rows: t, hidden: w3.inFeatures, bias: $0.baseAddress!, into: gated, threads: threads)
            }
            w3.forwardNoBias(gated, rows: t, groups: groups, into: y, threads: threads)
        }
    }

    /// MLP backward from dy (T x C), the gradient of fc2's output (bias included):
    /// parameter gradients into `gradients` when given, dx (T x C) = d(input), overwritten.
    /// `x` and `preActivation` are the forward's input and kept fc1 output; `hidden`
    /// (T x 4C) is scratch for GELU's output again, `dHidden` (T x 4C) for its gradient.
    /// SwiGLU layers have no backward pass (training rejects them) and leave dx untouched.
    public func backward(_ dy: UnsafePointer<Float>, input x: UnsafePointer<Float>, preActivation: UnsafePointer<Float>,
                         tokens t: Int, hidden: UnsafeMutablePointer<Float>, dHidden: UnsafeMutablePointer<Float>,
                         into dx: UnsafeMutablePointer<Float>, gradients: ParameterGradients?, threads: Int) {
        guard case .mlp(let fc1, let fc2) = self else { return }
        let c = fc2.outFeatures, f = fc1.outFeatures
        if gradients?[fc2.weight] != nil {
            fc1.bias.withUnsafeBufferPointer {
                ActivationBackwardKernels.gelu(preActivation, rows: t, cols: f, bias: $0.baseAddress!, into: hidden, threads: threads)
            }
        }
        fc2.backward(dy, ldy: c, input: hidden, ldx: f, rows: t, into: dHidden, gradients: gradients, threads: threads)
        fc1.bias.withUnsafeBufferPointer {
            ActivationBackwardKernels.geluBackward(dHidden, preActivation: preActivation, rows: t, cols: f, bias: $0.baseAddress!,
                                                   threads: threads)
        }
        fc1.backward(dHidden, ldy: f, input: x, ldx: c, rows: t, into: dx, gradients: gradients, threads: threads)
    }
}
