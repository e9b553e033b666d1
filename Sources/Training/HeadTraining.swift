// HeadTraining.swift — the linear head (method.md §3.1) for training: its
// forward pass keeping the per-block LayerNorm statistics, and its backward
// pass from the gradient of the upsampled logits.
//
//   F_j = LN_j(patches after block b_j);  L = Σ_j F_j W_jᵀ + b (N, K);  logits = bilinear(L)
// Backward: dL = bilinearᵀ(dlogits); db += Σ dL; dW_j += dLᵀ F_j; dF_j = dL W_j.
// The LayerNorm backward of F_j runs when the block loop reaches block b_j
// (its input, the stream after that block's adapter, is kept in the arena).

import Model
import Tensor

enum HeadTraining {
    /// F_j = LN_j(patches), keeping the row statistics of head block j.
    static func normalise(_ head: LinearHead, _ j: Int, patches: UnsafePointer<Float>, arena a: TrainingActivations) {
        let n = a.patches, c = a.embedDim
        let norm = head.norms[j]
        norm.weight.withUnsafeBufferPointer { w in
            norm.bias.withUnsafeBufferPointer { b in
                LayerNormBackwardKernel.forward(patches, rows: n, cols: c, weight: w.baseAddress!, bias: b.baseAddress!, eps: norm.eps,
                                                into: a.headFeatures + j * n * c, mean: a.headMean + j * n, rstd: a.headRstd + j * n, threads: a.threads)
            }
        }
    }

    /// Patch logits and upsampled logits (a.logits, (K, H, W)) from the normalised features.
    static func classify(_ head: LinearHead, arena a: TrainingActivations) {
        head.classify(a.headFeatures, rows: a.patches, into: a.patchLogits, threads: a.threads)
        head.upsample(a.patchLogits, gridHeight: a.gridHeight, gridWidth: a.gridWidth, planes: a.planes,
                      height: a.height, width: a.width, into: a.logits, threads: a.threads)
    }

    /// From dlogits (in a.logits): classifier gradients and dF_j (a.dHeadFeatures, (J, N, C)).
    static func backward(_ head: LinearHead, arena a: TrainingActivations, grads: GradientStore) {
        let layout = grads.layout
        let n = a.patches, c = a.embedDim, k = a.classes, j = a.headBlocks
        Bilinear.resizeBackward(a.logits, planes: k, height: a.gridHeight, width: a.gridWidth,
                                fromHeight: a.height, width: a.width, into: a.planes, threads: a.threads)
        let dL = a.patchLogits
        for i in 0 ..< n {
            for cls in 0 ..< k { dL[i * k + cls] = a.planes[cls * n + i] }
        }
        ActivationBackwardKernels.addColumnSums(dL, rows: n, cols: k, ld: k, into: grads[layout.classifierBias], threads: a.threads)
        let dW = grads[layout.classifierWeight]
        head.classifier.weight.withUnsafeBufferPointer { w in
            for b in 0 ..< j {
                GradientGEMM.transposedA(m: k, n: c, k: n, a: dL, lda: k, b: a.headFeatures + b * n * c, ldb: c, beta: 1,
                                         c: dW + b * c, ldc: j * c, threads: a.threads)
                GEMM.rows(m: n, n: c, k: k, a: dL, lda: k, b: w.baseAddress! + b * c, ldb: j * c, c: a.dHeadFeatures + b * n * c, ldc: c, threads: a.threads)
            }
        }
    }

    /// Adds the LayerNorm backward of head block j into `dPatches` (the stream gradient's patch rows).
    static func normBackward(_ head: LinearHead, _ j: Int, patches: UnsafePointer<Float>, arena a: TrainingActivations,
                             into dPatches: UnsafeMutablePointer<Float>, grads: GradientStore) {
        let n = a.patches, c = a.embedDim
        head.norms[j].weight.withUnsafeBufferPointer { w in
            LayerNormBackwardKernel.backward(a.dHeadFeatures + j * n * c, x: patches, mean: a.headMean + j * n, rstd: a.headRstd + j * n,
                                             rows: n, cols: c, weight: w.baseAddress!, into: dPatches, accumulate: true,
                                             dweight: grads[grads.layout.headNormWeights[j]], dbias: grads[grads.layout.headNormBiases[j]], threads: a.threads)
        }
    }
}
