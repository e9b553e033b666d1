// FeedForward.swift — the feed-forward layer of a block: MLP or SwiGLU.
//
// MLP (vits/b/l):  fc1 (C -> 4C), exact GELU fused with fc1's bias, fc2 (4C -> C).
// SwiGLU (vitg):   w12 (C -> 2H) = [x1 | x2], SiLU(x1 + b1) * (x2 + b2) fused, w3 (H -> C).
// The last layer's bias is left to the block (fused with LayerScale and the
// residual add), so `forward` returns x·W_last^T without it.

import Tensor

public enum FeedForward: Sendable {
    case mlp(fc1: Linear, fc2: Linear)
    case swiglu(w12: Linear, w3: Linear)

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
    public func forward(_ x: UnsafePointer<Float>, tokens t: Int, groups: Int = 1, hidden: UnsafeMutablePointer<Float>,
                        into y: UnsafeMutablePointer<Float>, threads: Int) {
        switch self {
        case .mlp(let fc1, let fc2):
            fc1.forwardNoBias(x, rows: t, groups: groups, into: hidden, threads: threads)
            fc1.bias.withUnsafeBufferPointer {
                ActivationKernels.biasGELU(hidden, rows: t, cols: fc1.outFeatures, bias: $0.baseAddress!, threads: threads)
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
}
