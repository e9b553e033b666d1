// LinearHead.swift — the `linear` segmentation head (method.md §3.1).
//
// The patch tokens after the adapter at four block indices, each LayerNorm'ed
// with its own affine, concatenated to 4C channels (block order as configured),
// one Linear 4C -> K per patch, then bilinear upsampling (align_corners=False)
// of the logits to the input size. The concatenation is never materialised:
// logits = Σ_j LN_j(f_j) W[:, jC:(j+1)C]ᵀ + b, one GEMM per block with ldb = 4C.
//
// Backward (below the forward): dL = bilinearᵀ(dlogits); db += Σ dL;
// dW_j += dLᵀ F_j; dF_j = dL W_j. The LayerNorm backward of F_j runs when the
// model's backward reaches block b_j (`normBackward`), with the statistics the
// forward kept.

import Tensor

/// What the head reads and predicts.
public struct LinearHeadConfig: Sendable, Equatable, Codable {
    /// Block indices (0-based) whose adapted patch tokens the head reads, in concatenation order.
    public var blocks: [Int]
    /// Classes K.
    public var classes: Int
    /// LayerNorm eps of the per-block norms.
    public var layerNormEps: Float

    public init(blocks: [Int], classes: Int = 19, layerNormEps: Float = 1e-6) {
        self.blocks = blocks
        self.classes = classes
        self.layerNormEps = layerNormEps
    }

    /// The default blocks for depth L: 1/3, 1/2, 2/3 and the last (3,5,7,11 for 12; 7,11,15,23 for 24).
    public static func defaultBlocks(depth: Int) -> [Int] {
        [depth / 3 - 1, depth / 2 - 1, 2 * depth / 3 - 1, depth - 1].map { max($0, 0) }
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case blocks, classes, layerNormEps = "layer_norm_eps" }
}

public struct LinearHead: Sendable, ParameterWalkable {
    public let config: LinearHeadConfig
    public let embedDim: Int
    /// One LayerNorm (C) per selected block.
    public var norms: [LayerNorm]
    /// Linear 4C -> K (weight (K, 4C), PyTorch layout).
    public var classifier: Linear

    public init(config: LinearHeadConfig, embedDim: Int, norms: [LayerNorm], classifier: Linear) throws(ModelInputError) {
        let j = config.blocks.count
        guard j > 0 else { throw ModelInputError("the linear head needs at least one block") }
        guard config.classes >= 1 && config.classes <= 256 else {
            throw ModelInputError("the linear head predicts 1...256 classes, got \(config.classes)")
        }
        guard norms.count == j, norms.allSatisfy({ $0.features == embedDim }) else {
            throw ModelInputError("the linear head needs \(j) LayerNorms of width \(embedDim)")
        }
        guard classifier.inFeatures == j * embedDim, classifier.outFeatures == config.classes else {
            throw ModelInputError("the head classifier must be Linear \(j * embedDim) -> \(config.classes), found \(classifier.inFeatures) -> \(classifier.outFeatures)")
        }
        self.config = config
        self.embedDim = embedDim
        self.norms = norms
        self.classifier = Linear(weight: classifier.weight, bias: classifier.bias, storedAsConvolution: true)
    }

    /// A head of `config` whose parameters a walk binds later.
    public init(config: LinearHeadConfig, embedDim c: Int) throws(ModelInputError) {
        let j = config.blocks.count
        try self.init(config: config, embedDim: c, norms: (0 ..< j).map { _ in LayerNorm(features: c, eps: config.layerNormEps) },
                      classifier: Linear(inFeatures: j * c, outFeatures: config.classes))
    }

    /// MMSegmentation names (under `decode_head.`): norms.{j}, conv_seg (a 1x1 convolution in files).
    public mutating func walkParameters<V: ParameterVisitor>(_ v: inout V, _ scope: ParameterScope) throws(WeightError) {
        for j in norms.indices { try norms[j].walkParameters(&v, scope.child("norms.\(j)")) }
        try classifier.walkParameters(&v, scope.child("conv_seg"))
    }

    /// PyTorch defaults: LayerNorm weight 1, bias 0; Linear weight and bias uniform(±1/√(4C)).
    public static func initialised(config: LinearHeadConfig, embedDim c: Int,
                                   using rng: inout some RandomNumberGenerator) throws(ModelInputError) -> LinearHead {
        let j = config.blocks.count, k = config.classes
        let norms = (0 ..< j).map { _ in
            LayerNorm(weight: Tensor(shape: [c], storage: [Float](repeating: 1, count: c)), bias: Tensor(zeros: [c]),
                      eps: config.layerNormEps)
        }
        let bound = 1 / Float(j * c).squareRoot()
        let weight = Tensor(shape: [k, j * c], storage: (0 ..< k * j * c).map { _ in Float.random(in: -bound ... bound, using: &rng) })
        let bias = Tensor(shape: [k], storage: (0 ..< k).map { _ in Float.random(in: -bound ... bound, using: &rng) })
        return try LinearHead(config: config, embedDim: c, norms: norms, classifier: Linear(weight: weight, bias: bias))
    }

    /// features_j (N x C) = LN_j(patches), for selected block number `j`; with `keep`
    /// its row statistics are kept there for the backward pass.
    public func normalise(_ j: Int, patches: UnsafePointer<Float>, rows: Int, into features: UnsafeMutablePointer<Float>, threads: Int,
                          keep: LayerNormSaved? = nil) {
        norms[j].forward(patches, rows: rows, into: features, threads: threads, keep: keep)
    }

    /// patchLogits (N x K) = Σ_j features_j W_jᵀ + b, from the J normalised feature blocks (J, N, C).
    public func classify(_ features: UnsafePointer<Float>, rows n: Int, into patchLogits: UnsafeMutablePointer<Float>, threads: Int) {
        let c = embedDim, k = config.classes, j = config.blocks.count
        classifier.weight.withUnsafeBufferPointer { w in
            for b in 0 ..< j {
                GEMM.rows(m: n, n: k, k: c, a: features + b * n * c, lda: c, b: w.baseAddress! + b * c, ldb: j * c,
                          transB: true, beta: b == 0 ? 0 : 1, c: patchLogits, ldc: k, threads: threads)
            }
        }
        classifier.bias.withUnsafeBufferPointer { ActivationKernels.addBias(patchLogits, rows: n, cols: k, bias: $0.baseAddress!, threads: threads) }
    }

    /// logits (K, H, W) = bilinear upsampling of the patch logits (N = h·w rows of K) to H x W;
    /// `planes` is (K, h, w) scratch.
    public func upsample(_ patchLogits: UnsafePointer<Float>, gridHeight h: Int, gridWidth w: Int,
                         planes: UnsafeMutablePointer<Float>, height: Int, width: Int, into logits: UnsafeMutablePointer<Float>, threads: Int) {
        let k = config.classes, n = h * w
        for i in 0 ..< n {
            for c in 0 ..< k { planes[c * n + i] = patchLogits[i * k + c] }
        }
        Bilinear.resize(planes, planes: k, height: h, width: w, toHeight: height, width: width, into: logits, threads: threads)
    }

    /// Backward of classify + upsample from dlogits (K, H, W): classifier gradients
    /// into `gradients`, dF (J, N, C) = the features' gradient, overwritten.
    /// `features` are the forward's (J, N, C); `planes` (K, h·w) and `dPatchLogits`
    /// (N, K) are scratch.
    public func backward(_ dLogits: UnsafePointer<Float>, features: UnsafePointer<Float>, gridHeight h: Int, gridWidth w: Int,
                         height: Int, width: Int, planes: UnsafeMutablePointer<Float>, dPatchLogits dL: UnsafeMutablePointer<Float>,
                         into dFeatures: UnsafeMutablePointer<Float>, gradients: ParameterGradients, threads: Int) {
        let n = h * w, c = embedDim, k = config.classes, j = config.blocks.count
        Bilinear.resizeBackward(dLogits, planes: k, height: h, width: w, fromHeight: height, width: width, into: planes,
                                threads: threads)
        for i in 0 ..< n {
            for cls in 0 ..< k { dL[i * k + cls] = planes[cls * n + i] }
        }
        ActivationBackwardKernels.addColumnSums(dL, rows: n, cols: k, ld: k, into: gradients.of(classifier.bias), threads: threads)
        let dW = gradients.of(classifier.weight)
        classifier.weight.withUnsafeBufferPointer { wt in
            for b in 0 ..< j {
                GradientGEMM.transposedA(m: k, n: c, k: n, a: dL, lda: k, b: features + b * n * c, ldb: c, beta: 1,
                                         c: dW + b * c, ldc: j * c, threads: threads)
                GEMM.rows(m: n, n: c, k: k, a: dL, lda: k, b: wt.baseAddress! + b * c, ldb: j * c, c: dFeatures + b * n * c, ldc: c,
                          threads: threads)
            }
        }
    }

    /// Adds the LayerNorm backward of selected block `j` into dPatches (N x C): from
    /// dF_j (N x C), the patches that block's norm read and the statistics it kept.
    public func normBackward(_ j: Int, _ dFeatures: UnsafePointer<Float>, patches: UnsafePointer<Float>, saved: LayerNormSaved,
                             rows n: Int, into dPatches: UnsafeMutablePointer<Float>, gradients: ParameterGradients, threads: Int) {
        norms[j].backward(dFeatures, input: patches, saved: saved, rows: n, into: dPatches, accumulate: true, gradients: gradients,
                          threads: threads)
    }
}
