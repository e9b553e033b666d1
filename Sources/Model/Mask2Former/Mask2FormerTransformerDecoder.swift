// Mask2FormerTransformerDecoder.swift — the transformer decoder of Mask2Former's
// head and its predictions (mmdet's Mask2FormerHead.forward, as Rein's
// ReinMask2FormerHead runs it with replace_query_feat=True), for one image.
//
// Inputs: the query embeddings E (Q x D) — query_pos = E and the starting
// queries x = querys2feat(E) (Linear D -> D) —, the pixel decoder's memory
// levels (H_l·W_l x D, token-major, lowest resolution first) and its mask
// features (C_m, H0, W0), channel-major at stride 4.
//
//   value_l = memory_l + level_embed[l]          key_l = value_l + sine_l
//       (sine_l: SinePositionEncoding of the level, D/2 features per axis)
//   prediction(x, l):  n = post_norm(x)
//       class logits (Q x K+1) = cls_embed(n)
//       mask logits (Q, H0, W0) = mask_embed(n) · mask features
//           (mask_embed: Linear, ReLU, Linear, ReLU, Linear)
//       mask (Q x H_l·W_l) = sigmoid(bilinear(mask logits -> H_l x W_l)) < 0.5,
//           a row with every key masked unmasked
//   prediction(x, level 0); then for i in 0..<layers:
//       x = layer_i(x, query_pos, key_{i % L}, value_{i % L}, mask)
//       prediction(x, level (i + 1) % L)
//
// The last prediction's class and mask logits stay in the activations (the
// semantic scores read them); an observer may see every prediction.
//
// Training: `forward(keep:)` runs the same steps with the training kernels and
// writes every prediction's class and mask logits (the loss reads all L + 1:
// deep supervision) and what the backward needs into a Mask2FormerDecoderSaved.
// `backward` (below) takes the gradients of all L + 1 predictions and runs
// from the last prediction to the first: at step p, layer p's backward (p < L)
// turns d(queries after layer p) into d(queries before it), then prediction p
// adds its share (mask logits: dE_p = dM_p Fᵀ, dF += E_pᵀ dM_p; the mask MLP,
// cls_embed and post_norm). The attention masks are constants. The gradients
// of query_pos and of the memory levels (key and value: memory + level_embed,
// + sine for the key) are gathered on the way; the query embeddings' gradient
// is d(query_pos) + querys2feat's backward.

import Foundation
import Tensor

/// The decoder's sizes; an integrator reads them from the checkpoint's shapes.
public struct Mask2FormerDecoderConfig: Sendable, Equatable, Codable {
    /// D, the query and memory width (transformer_decoder.post_norm.weight).
    public var embedDim: Int
    /// Attention heads (not in the shapes; 8 in every released config).
    public var heads: Int
    /// Q, the number of queries.
    public var queries: Int
    /// K, the classes without the no-object class (cls_embed.weight has K + 1 rows).
    public var classes: Int
    /// Decoder layers (9 in the released configs).
    public var layers: Int
    /// The FFN's hidden width (ffn.layers.0.0.weight rows).
    public var feedForward: Int
    /// Memory levels (level_embed.weight rows).
    public var levels: Int
    /// Channels of the mask features (mask_embed.4.weight rows).
    public var maskChannels: Int
    /// eps of every LayerNorm (nn.LayerNorm's default).
    public var layerNormEps: Float

    public init(embedDim: Int = 256, heads: Int = 8, queries: Int = 100, classes: Int = 19, layers: Int = 9,
                feedForward: Int = 2048, levels: Int = 3, maskChannels: Int? = nil, layerNormEps: Float = 1e-5) {
        self.embedDim = embedDim
        self.heads = heads
        self.queries = queries
        self.classes = classes
        self.layers = layers
        self.feedForward = feedForward
        self.levels = levels
        self.maskChannels = maskChannels ?? embedDim
        self.layerNormEps = layerNormEps
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case embedDim = "embed_dim", heads, queries, classes, layers, feedForward = "feed_forward", levels
        case maskChannels = "mask_channels", layerNormEps = "layer_norm_eps"
    }
}

public struct Mask2FormerTransformerDecoder: Sendable, ParameterWalkable {
    public let config: Mask2FormerDecoderConfig
    public var layers: [Mask2FormerDecoderLayer]
    /// The norm every prediction reads the queries through.
    public var postNorm: LayerNorm
    /// D -> K + 1.
    public var classEmbed: Linear
    /// D -> D, D -> D, D -> C_m (ReLU after the first two).
    public var maskEmbed: [Linear]
    /// (levels, D).
    public var levelEmbed: Parameter
    /// D -> D: the starting queries from the query embeddings.
    public var queryToFeature: Linear

    /// A decoder whose parameters a walk binds later.
    public init(config: Mask2FormerDecoderConfig) throws(ModelInputError) {
        let d = config.embedDim
        guard config.queries > 0, config.classes > 0, config.layers > 0, config.levels > 0, config.maskChannels > 0 else {
            throw ModelInputError("the Mask2Former decoder needs positive sizes, got \(config)")
        }
        guard d % 2 == 0 else { throw ModelInputError("the Mask2Former decoder's width must be even (sine encoding), got \(d)") }
        self.config = config
        layers = []
        for _ in 0 ..< config.layers {
            layers.append(try Mask2FormerDecoderLayer(embedDim: d, heads: config.heads, feedForward: config.feedForward,
                                                      layerNormEps: config.layerNormEps))
        }
        postNorm = LayerNorm(features: d, eps: config.layerNormEps)
        classEmbed = Linear(inFeatures: d, outFeatures: config.classes + 1)
        maskEmbed = [Linear(inFeatures: d, outFeatures: d), Linear(inFeatures: d, outFeatures: d),
                     Linear(inFeatures: d, outFeatures: config.maskChannels)]
        levelEmbed = Parameter(unbound: [config.levels, d])
        queryToFeature = Linear(inFeatures: d, outFeatures: d)
    }

    /// mmdet / Rein names, relative to the head's scope (`decode_head.`):
    /// transformer_decoder.layers.{i}.…, transformer_decoder.post_norm, cls_embed,
    /// mask_embed.{0,2,4}, level_embed.weight, querys2feat.
    public mutating func walkParameters<V: ParameterVisitor>(_ v: inout V, _ scope: ParameterScope) throws(WeightError) {
        let decoder = scope.child("transformer_decoder")
        for i in layers.indices { try layers[i].walkParameters(&v, decoder.child("layers.\(i)")) }
        try postNorm.walkParameters(&v, decoder.child("post_norm"))
        try classEmbed.walkParameters(&v, scope.child("cls_embed"))
        for j in maskEmbed.indices { try maskEmbed[j].walkParameters(&v, scope.child("mask_embed.\(2 * j)")) }
        try v.visit(&levelEmbed, "level_embed.weight", in: scope, decay: false)
        try queryToFeature.walkParameters(&v, scope.child("querys2feat"))
    }

    /// The activations of one input shape: the memory levels' (height, width),
    /// lowest resolution first, and the mask features' size.
    public func makeActivations(levelSizes: [(height: Int, width: Int)], maskHeight: Int, maskWidth: Int,
                                threads: Int) throws(ModelInputError) -> Mask2FormerDecoderActivations {
        guard levelSizes.count == config.levels else {
            throw ModelInputError("the Mask2Former decoder reads \(config.levels) memory levels, got \(levelSizes.count)")
        }
        guard levelSizes.allSatisfy({ $0.height > 0 && $0.width > 0 }), maskHeight > 0, maskWidth > 0 else {
            throw ModelInputError("the Mask2Former decoder needs non-empty levels and mask features, got \(levelSizes), \(maskHeight)x\(maskWidth)")
        }
        let maxKeys = levelSizes.map { $0.height * $0.width }.max()!
        let scratch = layers.map { $0.scratchCount(queries: config.queries, keys: maxKeys) }.max()!
        return Mask2FormerDecoderActivations(config: config, levelSizes: levelSizes, maskHeight: maskHeight,
                                             maskWidth: maskWidth, layerScratch: scratch, threads: threads)
    }

    /// Runs the decoder from the query embeddings (Q x D; query_pos, and
    /// querys2feat of them the starting queries), the memory levels (one
    /// pointer per level, H_l·W_l x D, the activations' level order) and the mask
    /// features (C_m, H0, W0). The last prediction is left in
    /// `activations.classLogits` (Q x K+1) and `activations.maskLogits` (Q, H0, W0);
    /// `observe(p, classLogits, maskLogits)` sees prediction p = 0 (before layer 0)
    /// ... layers (after the last layer), when given.
    ///
    /// With `keep` (training; `makeTrainingBuffers(for:)` of these activations) every
    /// prediction goes to `keep.classLogits` ((L+1), Q, K+1) and `keep.maskLogits`
    /// ((L+1), Q, H0, W0) instead, with what `backward` needs.
    public func forward(queryEmbed: UnsafePointer<Float>, memory: [UnsafePointer<Float>], maskFeatures: UnsafePointer<Float>,
                        activations a: borrowing Mask2FormerDecoderActivations,
                        observe: ((Int, UnsafePointer<Float>, UnsafePointer<Float>) -> Void)? = nil,
                        keep: Mask2FormerDecoderSaved? = nil) {
        queryToFeature.forward(queryEmbed, rows: config.queries, into: a.x.baseAddress!, threads: a.threads)
        decode(queryPos: queryEmbed, memory: memory, maskFeatures: maskFeatures, activations: a, observe: observe, keep: keep)
    }

    /// The decoder from starting queries already in `activations.x` (Q x D) and
    /// their positions queryPos (Q x D); otherwise as `forward`.
    public func decode(queryPos: UnsafePointer<Float>, memory: [UnsafePointer<Float>], maskFeatures: UnsafePointer<Float>,
                       activations a: borrowing Mask2FormerDecoderActivations,
                       observe: ((Int, UnsafePointer<Float>, UnsafePointer<Float>) -> Void)? = nil,
                       keep: Mask2FormerDecoderSaved? = nil) {
        precondition(memory.count == config.levels, "Mask2FormerTransformerDecoder: \(memory.count) memory levels, expected \(config.levels)")
        if let keep { precondition(keep.fits(a), "Mask2FormerTransformerDecoder: training buffers of another input shape") }
        let d = config.embedDim, q = config.queries, threads = a.threads
        levelEmbed.withUnsafeBufferPointer { embed in
            for l in 0 ..< config.levels {
                let n = a.levelHeights[l] * a.levelWidths[l], offset = a.levelOffsets[l] * d
                let value = a.memoryValue.baseAddress! + offset, key = a.memoryKey.baseAddress! + offset
                let position = a.positions.baseAddress! + offset, level = embed.baseAddress! + l * d, source = memory[l]
                Threading.parallelFor(n, threads: threads, grain: max(1, 4096 / d)) { range in
                    for t in range {
                        for c in 0 ..< d {
                            let v = source[t * d + c] + level[c]
                            value[t * d + c] = v
                            key[t * d + c] = v + position[t * d + c]
                        }
                    }
                }
            }
        }
        let inference = PredictionBuffers(a, config: config)
        func buffers(_ p: Int) -> PredictionBuffers { keep?.prediction(p) ?? inference }
        predict(a, maskFeatures: maskFeatures, level: 0, classes: layers.isEmpty || observe != nil || keep != nil, into: buffers(0))
        observe?(0, buffers(0).classLogits, buffers(0).maskLogits)
        for i in layers.indices {
            let l = i % config.levels, offset = a.levelOffsets[l] * d
            layers[i].forward(a.x.baseAddress!, queryPos: queryPos, queries: q,
                              memoryKey: a.memoryKey.baseAddress! + offset, memoryValue: a.memoryValue.baseAddress! + offset,
                              keys: a.levelHeights[l] * a.levelWidths[l], mask: buffers(i).attentionMask,
                              scratch: a.scratch.baseAddress!, threads: threads, keep: keep?.layers[i])
            let last = i == layers.count - 1
            predict(a, maskFeatures: maskFeatures, level: last ? nil : (i + 1) % config.levels,
                    classes: last || observe != nil || keep != nil, into: buffers(i + 1))
            observe?(i + 1, buffers(i + 1).classLogits, buffers(i + 1).maskLogits)
        }
    }

    /// Where one prediction goes: the activations' buffers (inference) or a prediction's kept ones.
    struct PredictionBuffers {
        /// The queries the prediction reads are copied here first (training), or nil.
        let input: UnsafeMutablePointer<Float>?
        let norm: LayerNormSaved?
        /// (Q, D) post_norm(x); (Q, D) twice the mask MLP's hidden rows; (Q, C_m) its output.
        let normed: UnsafeMutablePointer<Float>, hidden1: UnsafeMutablePointer<Float>, hidden2: UnsafeMutablePointer<Float>
        let embedding: UnsafeMutablePointer<Float>
        let classLogits: UnsafeMutablePointer<Float>, maskLogits: UnsafeMutablePointer<Float>
        /// (Q, H_l·W_l) the attention mask the next layer reads.
        let attentionMask: UnsafeMutablePointer<Bool>

        init(_ a: borrowing Mask2FormerDecoderActivations, config: Mask2FormerDecoderConfig) {
            let q = config.queries, d = config.embedDim
            input = nil
            norm = nil
            normed = a.normed.baseAddress!
            hidden1 = a.hidden.baseAddress!
            hidden2 = hidden1 + q * d
            embedding = hidden2 + q * d
            classLogits = a.classLogits.baseAddress!
            maskLogits = a.maskLogits.baseAddress!
            attentionMask = a.mask.baseAddress!
        }

        init(input: UnsafeMutablePointer<Float>?, norm: LayerNormSaved?, normed: UnsafeMutablePointer<Float>,
             hidden1: UnsafeMutablePointer<Float>, hidden2: UnsafeMutablePointer<Float>, embedding: UnsafeMutablePointer<Float>,
             classLogits: UnsafeMutablePointer<Float>, maskLogits: UnsafeMutablePointer<Float>,
             attentionMask: UnsafeMutablePointer<Bool>) {
            self.input = input
            self.norm = norm
            self.normed = normed
            self.hidden1 = hidden1
            self.hidden2 = hidden2
            self.embedding = embedding
            self.classLogits = classLogits
            self.maskLogits = maskLogits
            self.attentionMask = attentionMask
        }
    }

    /// One prediction from the queries in a.x: class logits (when `classes`), mask
    /// logits, and the attention mask at `level` (when given), into `b`.
    func predict(_ a: borrowing Mask2FormerDecoderActivations, maskFeatures: UnsafePointer<Float>, level: Int?, classes: Bool,
                 into b: PredictionBuffers) {
        let q = config.queries, d = config.embedDim, cm = config.maskChannels, threads = a.threads
        let plane = a.maskHeight * a.maskWidth
        if let input = b.input { input.update(from: a.x.baseAddress!, count: q * d) }
        postNorm.forward(a.x.baseAddress!, rows: q, into: b.normed, threads: threads, keep: b.norm)
        if classes { classEmbed.forward(b.normed, rows: q, into: b.classLogits, threads: threads) }
        maskEmbed[0].forward(b.normed, rows: q, into: b.hidden1, threads: threads)
        Self.relu(b.hidden1, count: q * d)
        maskEmbed[1].forward(b.hidden1, rows: q, into: b.hidden2, threads: threads)
        Self.relu(b.hidden2, count: q * d)
        maskEmbed[2].forward(b.hidden2, rows: q, into: b.embedding, threads: threads)
        GEMM.rows(m: q, n: plane, k: cm, a: b.embedding, lda: cm, b: maskFeatures, ldb: plane, c: b.maskLogits,
                  ldc: plane, threads: threads)
        guard let level else { return }
        let h = a.levelHeights[level], w = a.levelWidths[level], n = h * w
        let resized = a.resized.baseAddress!, mask = b.attentionMask
        Bilinear.resize(b.maskLogits, planes: q, height: a.maskHeight, width: a.maskWidth, toHeight: h, width: w,
                        into: resized, threads: threads)
        Threading.parallelFor(q, threads: threads) { range in
            for r in range {
                var masked = 0
                for j in 0 ..< n {
                    let m = 1 / (1 + Foundation.exp(-resized[r * n + j])) < 0.5
                    mask[r * n + j] = m
                    if m { masked += 1 }
                }
                if masked == n { (mask + r * n).update(repeating: false, count: n) }
            }
        }
    }

    /// Buffers for training forwards and backward passes over `activations`' input shape
    /// (allocate once per window size; `byteCount` says how much they hold).
    public func makeTrainingBuffers(for a: borrowing Mask2FormerDecoderActivations) -> Mask2FormerDecoderTrainingBuffers {
        Mask2FormerDecoderTrainingBuffers(self, a)
    }

    /// Backward of a kept forward (`forward(queryEmbed:…, keep: buffers.saved)` over the same
    /// activations, parameters unchanged since). classGradients ((L+1), Q, K+1) and
    /// maskGradients ((L+1), Q, H0, W0) are the loss's gradients of every prediction.
    /// Parameter gradients are added into `gradients` (frozen parameters skipped; nil:
    /// none). Overwritten: dQueryEmbed (Q x D), dMemory (one pointer per level, H_l·W_l x D,
    /// the forward's order) and dMaskFeatures (C_m, H0, W0).
    public func backward(classGradients: UnsafePointer<Float>, maskGradients: UnsafePointer<Float>,
                         queryEmbed: UnsafePointer<Float>, maskFeatures: UnsafePointer<Float>,
                         activations a: borrowing Mask2FormerDecoderActivations, buffers t: borrowing Mask2FormerDecoderTrainingBuffers,
                         dQueryEmbed: UnsafeMutablePointer<Float>, dMemory: [UnsafeMutablePointer<Float>],
                         dMaskFeatures: UnsafeMutablePointer<Float>, gradients g: ParameterGradients?) {
        precondition(dMemory.count == config.levels, "Mask2FormerTransformerDecoder.backward: \(dMemory.count) memory levels, expected \(config.levels)")
        let s = t.saved
        precondition(s.fits(a), "Mask2FormerTransformerDecoder.backward: training buffers of another input shape")
        let d = config.embedDim, q = config.queries, k1 = config.classes + 1, cm = config.maskChannels, threads = a.threads
        let plane = a.maskHeight * a.maskWidth
        let dStream = t.dStream, dPos = t.dQueryPos
        dStream.update(repeating: 0, count: q * d)
        dPos.update(repeating: 0, count: q * d)
        dMaskFeatures.update(repeating: 0, count: cm * plane)
        for l in 0 ..< config.levels { dMemory[l].update(repeating: 0, count: a.levelHeights[l] * a.levelWidths[l] * d) }
        let dNormed = t.predictionScratch, dHidden1 = dNormed + q * d, dHidden2 = dHidden1 + q * d, dEmbedding = dHidden2 + q * d
        for p in stride(from: layers.count, through: 0, by: -1) {
            if p < layers.count {
                let l = p % config.levels, offset = a.levelOffsets[l] * d
                layers[p].backward(dStream, queries: q, memoryKey: a.memoryKey.baseAddress! + offset,
                                   memoryValue: a.memoryValue.baseAddress! + offset, keys: a.levelHeights[l] * a.levelWidths[l],
                                   mask: s.prediction(p).attentionMask, saved: s.layers[p], scratch: t.layerScratch,
                                   dQueryPos: dPos, dMemoryKey: dMemory[l], dMemoryValue: dMemory[l], gradients: g, threads: threads)
            }
            // Prediction p: mask logits M = E · F, E = mask_embed(n), class logits = cls_embed(n), n = post_norm(x_p).
            let b = s.prediction(p), dClass = classGradients + p * q * k1, dMask = maskGradients + p * q * plane
            GEMM.rows(m: q, n: cm, k: plane, a: dMask, lda: plane, b: maskFeatures, ldb: plane, transB: true, c: dEmbedding,
                      ldc: cm, threads: threads)
            GradientGEMM.transposedA(m: cm, n: plane, k: q, a: b.embedding, lda: cm, b: dMask, ldb: plane, beta: 1,
                                     c: dMaskFeatures, ldc: plane, threads: threads)
            maskEmbed[2].backward(dEmbedding, ldy: cm, input: b.hidden2, ldx: d, rows: q, into: dHidden2, gradients: g, threads: threads)
            for i in 0 ..< q * d where b.hidden2[i] <= 0 { dHidden2[i] = 0 }
            maskEmbed[1].backward(dHidden2, ldy: d, input: b.hidden1, ldx: d, rows: q, into: dHidden1, gradients: g, threads: threads)
            for i in 0 ..< q * d where b.hidden1[i] <= 0 { dHidden1[i] = 0 }
            maskEmbed[0].backward(dHidden1, ldy: d, input: b.normed, ldx: d, rows: q, into: dNormed, gradients: g, threads: threads)
            classEmbed.backward(dClass, ldy: k1, input: b.normed, ldx: d, rows: q, into: dNormed, accumulate: true, gradients: g,
                                threads: threads)
            postNorm.backward(dNormed, input: b.input!, saved: b.norm!, rows: q, into: dStream, accumulate: true, gradients: g,
                              threads: threads)
        }
        // x_0 = querys2feat(E), query_pos = E.
        queryToFeature.backward(dStream, ldy: d, input: queryEmbed, ldx: d, rows: q, into: dQueryEmbed, gradients: g, threads: threads)
        Mask2FormerDecoderLayer.addInPlace(dQueryEmbed, dPos, count: q * d)
        // value_l = memory_l + level_embed[l], key_l = value_l + sine_l.
        if let dLevel = g?[levelEmbed] {
            for l in 0 ..< config.levels {
                ActivationBackwardKernels.addColumnSums(dMemory[l], rows: a.levelHeights[l] * a.levelWidths[l], cols: d, ld: d,
                                                        into: dLevel + l * d, threads: threads)
            }
        }
    }

    static func relu(_ x: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0 ..< count { x[i] = max(x[i], 0) }
    }
}

/// The buffers of one decoder forward for one input shape (memory level sizes,
/// mask feature size); made by `Mask2FormerTransformerDecoder.makeActivations`,
/// owned by one worker at a time.
public struct Mask2FormerDecoderActivations: ~Copyable {
    public let levelHeights: [Int], levelWidths: [Int]
    /// Token offset of each level in the concatenated memory buffers.
    public let levelOffsets: [Int]
    public let maskHeight: Int, maskWidth: Int
    /// Threads every step splits into.
    public let threads: Int
    /// (Σ H_l·W_l, D) the levels' sine encodings, memory + level embedding + sine, memory + level embedding.
    let positions: UnsafeMutableBufferPointer<Float>
    let memoryKey: UnsafeMutableBufferPointer<Float>
    let memoryValue: UnsafeMutableBufferPointer<Float>
    /// (Q, D) the queries.
    public let x: UnsafeMutableBufferPointer<Float>
    /// (Q, D) post-normed queries; (3, Q, max(D, C_m)) the mask MLP's hidden rows and output.
    let normed: UnsafeMutableBufferPointer<Float>
    let hidden: UnsafeMutableBufferPointer<Float>
    /// (Q, K + 1) the last prediction's class logits.
    public let classLogits: UnsafeMutableBufferPointer<Float>
    /// (Q, H0, W0) the last prediction's mask logits.
    public let maskLogits: UnsafeMutableBufferPointer<Float>
    /// (Q, max H_l·W_l) resized mask logits and the attention mask (true = masked).
    let resized: UnsafeMutableBufferPointer<Float>
    let mask: UnsafeMutableBufferPointer<Bool>
    let scratch: UnsafeMutableBufferPointer<Float>

    init(config: Mask2FormerDecoderConfig, levelSizes: [(height: Int, width: Int)], maskHeight: Int, maskWidth: Int,
         layerScratch: Int, threads: Int) {
        let d = config.embedDim, q = config.queries
        levelHeights = levelSizes.map(\.height)
        levelWidths = levelSizes.map(\.width)
        let counts = levelSizes.map { $0.height * $0.width }
        var offsets: [Int] = [], total = 0
        for n in counts { offsets.append(total); total += n }
        levelOffsets = offsets
        self.maskHeight = maskHeight
        self.maskWidth = maskWidth
        self.threads = threads
        func buffer(_ count: Int) -> UnsafeMutableBufferPointer<Float> {
            let b = UnsafeMutableBufferPointer<Float>.allocate(capacity: max(count, 1))
            b.initialize(repeating: 0)
            return b
        }
        positions = buffer(total * d)
        for (l, size) in levelSizes.enumerated() {
            let sine = SinePositionEncoding.tokenMajor(height: size.height, width: size.width, features: d / 2)
            _ = UnsafeMutableBufferPointer(rebasing: positions[offsets[l] * d ..< (offsets[l] + counts[l]) * d])
                .update(fromContentsOf: sine)
        }
        memoryKey = buffer(total * d)
        memoryValue = buffer(total * d)
        x = buffer(q * d)
        normed = buffer(q * d)
        hidden = buffer(3 * q * max(d, config.maskChannels))
        classLogits = buffer(q * (config.classes + 1))
        maskLogits = buffer(q * maskHeight * maskWidth)
        resized = buffer(q * counts.max()!)
        mask = .allocate(capacity: q * counts.max()!)
        mask.initialize(repeating: false)
        scratch = buffer(layerScratch)
    }

    /// Bytes held.
    public var byteCount: Int {
        (positions.count + memoryKey.count + memoryValue.count + x.count + normed.count + hidden.count + classLogits.count
            + maskLogits.count + resized.count + scratch.count) * MemoryLayout<Float>.stride + mask.count
    }

    deinit {
        for b in [positions, memoryKey, memoryValue, x, normed, hidden, classLogits, maskLogits, resized, scratch] { b.deallocate() }
        mask.deallocate()
    }
}

/// What a training forward of the decoder keeps for its backward pass, and every
/// prediction's logits the loss reads (pointers into Mask2FormerDecoderTrainingBuffers).
public struct Mask2FormerDecoderSaved {
    /// ((L+1), Q, K+1) the class logits of prediction p = 0 (before layer 0) ... L (after the last layer).
    public let classLogits: UnsafeMutablePointer<Float>
    /// ((L+1), Q, H0, W0) their mask logits.
    public let maskLogits: UnsafeMutablePointer<Float>
    /// One per decoder layer.
    public let layers: [Mask2FormerDecoderLayerSaved]
    let predictions: [Mask2FormerTransformerDecoder.PredictionBuffers]
    /// The input shape they were made for: levels' token counts and the mask features' plane.
    let levelTokens: [Int], maskHeight: Int, maskWidth: Int

    func prediction(_ p: Int) -> Mask2FormerTransformerDecoder.PredictionBuffers { predictions[p] }

    func fits(_ a: borrowing Mask2FormerDecoderActivations) -> Bool {
        levelTokens == zip(a.levelHeights, a.levelWidths).map(*) && maskHeight == a.maskHeight && maskWidth == a.maskWidth
    }
}

/// The buffers of the decoder's training forward and backward for one input shape
/// (memory level sizes, mask feature size): the kept values (`saved`) and the
/// backward's scratch. Made by `Mask2FormerTransformerDecoder.makeTrainingBuffers(for:)`,
/// owned by one worker at a time.
public struct Mask2FormerDecoderTrainingBuffers: ~Copyable {
    public let saved: Mask2FormerDecoderSaved
    /// (Q, D) each: the gradient of the queries, of query_pos.
    let dStream: UnsafeMutablePointer<Float>, dQueryPos: UnsafeMutablePointer<Float>
    /// (3, Q, D) + (Q, C_m): a prediction's backward.
    let predictionScratch: UnsafeMutablePointer<Float>
    /// The largest layer backward's scratch.
    let layerScratch: UnsafeMutablePointer<Float>
    let floats: UnsafeMutableBufferPointer<Float>
    let bools: UnsafeMutableBufferPointer<Bool>

    init(_ decoder: Mask2FormerTransformerDecoder, _ a: borrowing Mask2FormerDecoderActivations) {
        let config = decoder.config
        let q = config.queries, d = config.embedDim, cm = config.maskChannels, k1 = config.classes + 1
        let layerCount = decoder.layers.count, predictions = layerCount + 1
        let plane = a.maskHeight * a.maskWidth
        let tokens = zip(a.levelHeights, a.levelWidths).map(*)
        func keys(_ i: Int) -> Int { tokens[i % config.levels] }
        let perPrediction = 4 * q * d + 2 * q + q * cm
        let layerCounts = (0 ..< layerCount).map { Mask2FormerDecoderLayerSaved.count(decoder.layers[$0], queries: q, keys: keys($0)) }
        let layerScratchCount = (0 ..< layerCount).map {
            decoder.layers[$0].backwardScratchCount(queries: q, keys: keys($0), threads: a.threads)
        }.max() ?? 0
        let total = predictions * (perPrediction + q * k1 + q * plane) + layerCounts.reduce(0, +)
            + 2 * q * d + 3 * q * d + q * cm + layerScratchCount
        floats = .allocate(capacity: max(total, 1))
        floats.initialize(repeating: 0)
        bools = .allocate(capacity: max(1, (0 ..< predictions).reduce(0) { $0 + q * keys($1) }))
        bools.initialize(repeating: false)
        var next = floats.baseAddress!, nextMask = bools.baseAddress!
        func take(_ count: Int) -> UnsafeMutablePointer<Float> {
            defer { next += count }
            return next
        }
        let classLogits = take(predictions * q * k1), maskLogits = take(predictions * q * plane)
        var kept: [Mask2FormerTransformerDecoder.PredictionBuffers] = []
        for p in 0 ..< predictions {
            let mask = nextMask
            nextMask += q * keys(p)
            kept.append(.init(input: take(q * d), norm: LayerNormSaved(mean: take(q), rstd: take(q)), normed: take(q * d),
                              hidden1: take(q * d), hidden2: take(q * d), embedding: take(q * cm),
                              classLogits: classLogits + p * q * k1, maskLogits: maskLogits + p * q * plane, attentionMask: mask))
        }
        var layers: [Mask2FormerDecoderLayerSaved] = []
        for i in 0 ..< layerCount {
            layers.append(Mask2FormerDecoderLayerSaved(carving: take(layerCounts[i]), decoder.layers[i], queries: q, keys: keys(i)))
        }
        saved = Mask2FormerDecoderSaved(classLogits: classLogits, maskLogits: maskLogits, layers: layers, predictions: kept,
                                        levelTokens: tokens, maskHeight: a.maskHeight, maskWidth: a.maskWidth)
        dStream = take(q * d)
        dQueryPos = take(q * d)
        predictionScratch = take(3 * q * d + q * cm)
        layerScratch = take(layerScratchCount)
        precondition(next - floats.baseAddress! == total, "Mask2FormerDecoderTrainingBuffers: \(next - floats.baseAddress!) floats carved of \(total)")
    }

    /// Bytes held.
    public var byteCount: Int { floats.count * MemoryLayout<Float>.stride + bools.count }

    deinit {
        floats.deallocate()
        bools.deallocate()
    }
}
