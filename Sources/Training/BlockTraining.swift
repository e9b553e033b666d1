// BlockTraining.swift — a DINOv2 block's forward pass that keeps what its
// backward pass needs, and the backward pass itself.
//
//   n1 = LN1(x); qkv = n1 Wqkvᵀ + b; O = Attn(qkv); p = O Wprojᵀ + b
//   mid = x + ls1 ⊙ p
//   n2 = LN2(mid); h = n2 W1ᵀ; a = GELU(h + b1); y = a W2ᵀ + b2
//   out = mid + ls2 ⊙ y
// Backward from dout (in the arena's stream gradient, overwritten with dx):
// activation gradients always; weight gradients (added into the store) when
// the backbone is trainable.

import Model
import Tensor

enum BlockTraining {
    /// out (T, C) = block(x), saving the internals in `saved`. `out` must not alias `x`.
    static func forward(_ block: Block, input x: UnsafePointer<Float>, output out: UnsafeMutablePointer<Float>,
                        saved s: BlockBuffers, arena a: TrainingActivations) throws(TrainingError) {
        guard case .mlp(let fc1, let fc2) = block.ffn else {
            throw TrainingError("training runs MLP feed-forward blocks only (this backbone has SwiGLU blocks)")
        }
        let t = a.tokens, c = a.embedDim, f = a.ffnHidden
        block.norm1.weight.withUnsafeBufferPointer { w in
            block.norm1.bias.withUnsafeBufferPointer { b in
                LayerNormBackwardKernel.forward(x, rows: t, cols: c, weight: w.baseAddress!, bias: b.baseAddress!,
                                                eps: block.norm1.eps, into: s.normed1, mean: s.mean1, rstd: s.rstd1)
            }
        }
        block.attention.qkv.forward(s.normed1, rows: t, into: s.qkv)
        AttentionTraining.forward(qkv: s.qkv, tokens: t, embedDim: c, heads: a.heads, into: s.attention, logSumExp: s.logSumExp,
                                  scratch: a.attentionScratch, slots: a.attentionSlots)
        block.attention.proj.forward(s.attention, rows: t, into: s.projected)
        block.ls1.withUnsafeBufferPointer {
            ActivationBackwardKernels.scaledResidual(x, s.projected, gamma: $0.baseAddress!, rows: t, cols: c, into: s.mid)
        }
        block.norm2.weight.withUnsafeBufferPointer { w in
            block.norm2.bias.withUnsafeBufferPointer { b in
                LayerNormBackwardKernel.forward(s.mid, rows: t, cols: c, weight: w.baseAddress!, bias: b.baseAddress!,
                                                eps: block.norm2.eps, into: s.normed2, mean: s.mean2, rstd: s.rstd2)
            }
        }
        fc1.forwardNoBias(s.normed2, rows: t, into: s.hidden)
        fc1.bias.withUnsafeBufferPointer {
            ActivationBackwardKernels.gelu(s.hidden, rows: t, cols: f, bias: $0.baseAddress!, into: a.activated)
        }
        fc2.forward(a.activated, rows: t, into: s.ffnOut)
        block.ls2.withUnsafeBufferPointer {
            ActivationBackwardKernels.scaledResidual(s.mid, s.ffnOut, gamma: $0.baseAddress!, rows: t, cols: c, into: out)
        }
    }

    /// a.dStream: d(out) in, d(x) out. Weight gradients go to `grads` when the block's parameters are trainable.
    static func backward(_ block: Block, input x: UnsafePointer<Float>, saved s: BlockBuffers, arena a: TrainingActivations,
                         grads: GradientStore) {
        guard case .mlp(let fc1, let fc2) = block.ffn else { return }
        let t = a.tokens, c = a.embedDim, f = a.ffnHidden
        let dx = a.dStream, dy = a.dScratch
        let g = grads.pointer(block.ls1) != nil ? grads : nil

        // Feed-forward residual: out = mid + ls2 ⊙ y.
        block.ls2.withUnsafeBufferPointer { ActivationBackwardKernels.scaleColumns(dx, gamma: $0.baseAddress!, rows: t, cols: c, into: dy) }
        if let g {
            ActivationBackwardKernels.addColumnProducts(dx, s.ffnOut, rows: t, cols: c, into: g[block.ls2])
            ActivationBackwardKernels.addColumnSums(dy, rows: t, cols: c, ld: c, into: g[fc2.bias])
        }
        fc2.weight.withUnsafeBufferPointer {
            GradientGEMM.input(dy, ldy: c, rows: t, outFeatures: c, weight: $0.baseAddress!, inFeatures: f, into: a.dHidden, ldx: f)
        }
        if let g {
            fc1.bias.withUnsafeBufferPointer {
                ActivationBackwardKernels.gelu(s.hidden, rows: t, cols: f, bias: $0.baseAddress!, into: a.activated)
            }
            GradientGEMM.weight(dy, ldy: c, rows: t, outFeatures: c, x: a.activated, ldx: f, inFeatures: f, into: g[fc2.weight])
        }
        fc1.bias.withUnsafeBufferPointer {
            ActivationBackwardKernels.geluBackward(a.dHidden, preActivation: s.hidden, rows: t, cols: f, bias: $0.baseAddress!)
        }
        if let g {
            ActivationBackwardKernels.addColumnSums(a.dHidden, rows: t, cols: f, ld: f, into: g[fc1.bias])
            GradientGEMM.weight(a.dHidden, ldy: f, rows: t, outFeatures: f, x: s.normed2, ldx: c, inFeatures: c, into: g[fc1.weight])
        }
        fc1.weight.withUnsafeBufferPointer {
            GradientGEMM.input(a.dHidden, ldy: f, rows: t, outFeatures: f, weight: $0.baseAddress!, inFeatures: c, into: a.dNormed, ldx: c)
        }
        block.norm2.weight.withUnsafeBufferPointer { w in
            LayerNormBackwardKernel.backward(a.dNormed, x: s.mid, mean: s.mean2, rstd: s.rstd2, rows: t, cols: c, weight: w.baseAddress!,
                                             into: dx, accumulate: true,
                                             dweight: g?[block.norm2.weight], dbias: g?[block.norm2.bias])
        }

        // Attention residual: mid = x + ls1 ⊙ p.
        block.ls1.withUnsafeBufferPointer { ActivationBackwardKernels.scaleColumns(dx, gamma: $0.baseAddress!, rows: t, cols: c, into: dy) }
        if let g {
            ActivationBackwardKernels.addColumnProducts(dx, s.projected, rows: t, cols: c, into: g[block.ls1])
            ActivationBackwardKernels.addColumnSums(dy, rows: t, cols: c, ld: c, into: g[block.attention.proj.bias])
            GradientGEMM.weight(dy, ldy: c, rows: t, outFeatures: c, x: s.attention, ldx: c, inFeatures: c, into: g[block.attention.proj.weight])
        }
        block.attention.proj.weight.withUnsafeBufferPointer {
            GradientGEMM.input(dy, ldy: c, rows: t, outFeatures: c, weight: $0.baseAddress!, inFeatures: c, into: a.dAttention, ldx: c)
        }
        AttentionTraining.backward(dOut: a.dAttention, qkv: s.qkv, out: s.attention, logSumExp: s.logSumExp, tokens: t, embedDim: c,
                                   heads: a.heads, into: a.dQKV, scratch: a.attentionScratch, slots: a.attentionSlots)
        if let g {
            ActivationBackwardKernels.addColumnSums(a.dQKV, rows: t, cols: 3 * c, ld: 3 * c, into: g[block.attention.qkv.bias])
            GradientGEMM.weight(a.dQKV, ldy: 3 * c, rows: t, outFeatures: 3 * c, x: s.normed1, ldx: c, inFeatures: c,
                                into: g[block.attention.qkv.weight])
        }
        block.attention.qkv.weight.withUnsafeBufferPointer {
            GradientGEMM.input(a.dQKV, ldy: 3 * c, rows: t, outFeatures: 3 * c, weight: $0.baseAddress!, inFeatures: c,
                               into: a.dNormed, ldx: c)
        }
        block.norm1.weight.withUnsafeBufferPointer { w in
            LayerNormBackwardKernel.backward(a.dNormed, x: x, mean: s.mean1, rstd: s.rstd1, rows: t, cols: c, weight: w.baseAddress!,
                                             into: dx, accumulate: true,
                                             dweight: g?[block.norm1.weight], dbias: g?[block.norm1.bias])
        }
    }
}
