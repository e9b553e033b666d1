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
                                                eps: block.norm1.eps, into: s.normed1, mean: s.mean1, rstd: s.rstd1, threads: a.threads)
            }
        }
        block.attention.qkv.forward(s.normed1, rows: t, into: s.qkv, threads: a.threads)
        AttentionTraining.forward(qkv: s.qkv, tokens: t, embedDim: c, heads: a.heads, into: s.attention, logSumExp: s.logSumExp,
                                  scratch: a.attentionScratch, slots: a.attentionSlots, threads: a.threads)
        block.attention.proj.forward(s.attention, rows: t, into: s.projected, threads: a.threads)
        block.ls1.withUnsafeBufferPointer {
            ActivationBackwardKernels.scaledResidual(x, s.projected, gamma: $0.baseAddress!, rows: t, cols: c, into: s.mid, threads: a.threads)
        }
        block.norm2.weight.withUnsafeBufferPointer { w in
            block.norm2.bias.withUnsafeBufferPointer { b in
                LayerNormBackwardKernel.forward(s.mid, rows: t, cols: c, weight: w.baseAddress!, bias: b.baseAddress!,
                                                eps: block.norm2.eps, into: s.normed2, mean: s.mean2, rstd: s.rstd2, threads: a.threads)
            }
        }
        fc1.forwardNoBias(s.normed2, rows: t, into: s.hidden, threads: a.threads)
        fc1.bias.withUnsafeBufferPointer {
            ActivationBackwardKernels.gelu(s.hidden, rows: t, cols: f, bias: $0.baseAddress!, into: a.activated, threads: a.threads)
        }
        fc2.forward(a.activated, rows: t, into: s.ffnOut, threads: a.threads)
        block.ls2.withUnsafeBufferPointer {
            ActivationBackwardKernels.scaledResidual(s.mid, s.ffnOut, gamma: $0.baseAddress!, rows: t, cols: c, into: out, threads: a.threads)
        }
    }

    /// a.dStream: d(out) in, d(x) out. Weight gradients go to `grads` at `indices` when given.
    static func backward(_ block: Block, input x: UnsafePointer<Float>, saved s: BlockBuffers, arena a: TrainingActivations,
                         grads: GradientStore?, indices: BlockParameterIndices?) {
        guard case .mlp(let fc1, let fc2) = block.ffn else { return }
        let t = a.tokens, c = a.embedDim, f = a.ffnHidden
        let dx = a.dStream, dy = a.dScratch
        let g = grads.flatMap { grads in indices.map { (grads, $0) } }

        // Feed-forward residual: out = mid + ls2 ⊙ y.
        block.ls2.withUnsafeBufferPointer { ActivationBackwardKernels.scaleColumns(dx, gamma: $0.baseAddress!, rows: t, cols: c, into: dy, threads: a.threads) }
        if let (grads, ix) = g {
            ActivationBackwardKernels.addColumnProducts(dx, s.ffnOut, rows: t, cols: c, into: grads[ix.ls2], threads: a.threads)
            ActivationBackwardKernels.addColumnSums(dy, rows: t, cols: c, ld: c, into: grads[ix.fc2Bias], threads: a.threads)
        }
        fc2.weight.withUnsafeBufferPointer {
            GradientGEMM.input(dy, ldy: c, rows: t, outFeatures: c, weight: $0.baseAddress!, inFeatures: f, into: a.dHidden, ldx: f, threads: a.threads)
        }
        if let (grads, ix) = g {
            fc1.bias.withUnsafeBufferPointer {
                ActivationBackwardKernels.gelu(s.hidden, rows: t, cols: f, bias: $0.baseAddress!, into: a.activated, threads: a.threads)
            }
            GradientGEMM.weight(dy, ldy: c, rows: t, outFeatures: c, x: a.activated, ldx: f, inFeatures: f, into: grads[ix.fc2Weight], threads: a.threads)
        }
        fc1.bias.withUnsafeBufferPointer {
            ActivationBackwardKernels.geluBackward(a.dHidden, preActivation: s.hidden, rows: t, cols: f, bias: $0.baseAddress!, threads: a.threads)
        }
        if let (grads, ix) = g {
            ActivationBackwardKernels.addColumnSums(a.dHidden, rows: t, cols: f, ld: f, into: grads[ix.fc1Bias], threads: a.threads)
            GradientGEMM.weight(a.dHidden, ldy: f, rows: t, outFeatures: f, x: s.normed2, ldx: c, inFeatures: c, into: grads[ix.fc1Weight], threads: a.threads)
        }
        fc1.weight.withUnsafeBufferPointer {
            GradientGEMM.input(a.dHidden, ldy: f, rows: t, outFeatures: f, weight: $0.baseAddress!, inFeatures: c, into: a.dNormed, ldx: c, threads: a.threads)
        }
        block.norm2.weight.withUnsafeBufferPointer { w in
            LayerNormBackwardKernel.backward(a.dNormed, x: s.mid, mean: s.mean2, rstd: s.rstd2, rows: t, cols: c, weight: w.baseAddress!,
                                             into: dx, accumulate: true,
                                             dweight: g.map { $0.0[$0.1.norm2Weight] }, dbias: g.map { $0.0[$0.1.norm2Bias] }, threads: a.threads)
        }

        // Attention residual: mid = x + ls1 ⊙ p.
        block.ls1.withUnsafeBufferPointer { ActivationBackwardKernels.scaleColumns(dx, gamma: $0.baseAddress!, rows: t, cols: c, into: dy, threads: a.threads) }
        if let (grads, ix) = g {
            ActivationBackwardKernels.addColumnProducts(dx, s.projected, rows: t, cols: c, into: grads[ix.ls1], threads: a.threads)
            ActivationBackwardKernels.addColumnSums(dy, rows: t, cols: c, ld: c, into: grads[ix.projBias], threads: a.threads)
            GradientGEMM.weight(dy, ldy: c, rows: t, outFeatures: c, x: s.attention, ldx: c, inFeatures: c, into: grads[ix.projWeight], threads: a.threads)
        }
        block.attention.proj.weight.withUnsafeBufferPointer {
            GradientGEMM.input(dy, ldy: c, rows: t, outFeatures: c, weight: $0.baseAddress!, inFeatures: c, into: a.dAttention, ldx: c, threads: a.threads)
        }
        AttentionTraining.backward(dOut: a.dAttention, qkv: s.qkv, out: s.attention, logSumExp: s.logSumExp, tokens: t, embedDim: c,
                                   heads: a.heads, into: a.dQKV, scratch: a.attentionScratch, slots: a.attentionSlots, threads: a.threads)
        if let (grads, ix) = g {
            ActivationBackwardKernels.addColumnSums(a.dQKV, rows: t, cols: 3 * c, ld: 3 * c, into: grads[ix.qkvBias], threads: a.threads)
            GradientGEMM.weight(a.dQKV, ldy: 3 * c, rows: t, outFeatures: 3 * c, x: s.normed1, ldx: c, inFeatures: c,
                                into: grads[ix.qkvWeight], threads: a.threads)
        }
        block.attention.qkv.weight.withUnsafeBufferPointer {
            GradientGEMM.input(a.dQKV, ldy: 3 * c, rows: t, outFeatures: 3 * c, weight: $0.baseAddress!, inFeatures: c,
                               into: a.dNormed, ldx: c, threads: a.threads)
        }
        block.norm1.weight.withUnsafeBufferPointer { w in
            LayerNormBackwardKernel.backward(a.dNormed, x: x, mean: s.mean1, rstd: s.rstd1, rows: t, cols: c, weight: w.baseAddress!,
                                             into: dx, accumulate: true,
                                             dweight: g.map { $0.0[$0.1.norm1Weight] }, dbias: g.map { $0.0[$0.1.norm1Bias] }, threads: a.threads)
        }
    }
}
