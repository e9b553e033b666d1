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
    public func forward(queryEmbed: UnsafePointer<Float>, memory: [UnsafePointer<Float>], maskFeatures: UnsafePointer<Float>,
                        activations a: borrowing Mask2FormerDecoderActivations,
                        observe: ((Int, UnsafePointer<Float>, UnsafePointer<Float>) -> Void)? = nil) {
        queryToFeature.forward(queryEmbed, rows: config.queries, into: a.x.baseAddress!, threads: a.threads)
        decode(queryPos: queryEmbed, memory: memory, maskFeatures: maskFeatures, activations: a, observe: observe)
    }

    /// The decoder from starting queries already in `activations.x` (Q x D) and
    /// their positions queryPos (Q x D); otherwise as `forward`.
    public func decode(queryPos: UnsafePointer<Float>, memory: [UnsafePointer<Float>], maskFeatures: UnsafePointer<Float>,
                       activations a: borrowing Mask2FormerDecoderActivations,
                       observe: ((Int, UnsafePointer<Float>, UnsafePointer<Float>) -> Void)? = nil) {
        precondition(memory.count == config.levels, "Mask2FormerTransformerDecoder: \(memory.count) memory levels, expected \(config.levels)")
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
        predict(a, maskFeatures: maskFeatures, level: 0, classes: layers.isEmpty || observe != nil)
        observe?(0, a.classLogits.baseAddress!, a.maskLogits.baseAddress!)
        for i in layers.indices {
            let l = i % config.levels, offset = a.levelOffsets[l] * d
            layers[i].forward(a.x.baseAddress!, queryPos: queryPos, queries: q,
                              memoryKey: a.memoryKey.baseAddress! + offset, memoryValue: a.memoryValue.baseAddress! + offset,
                              keys: a.levelHeights[l] * a.levelWidths[l], mask: a.mask.baseAddress!,
                              scratch: a.scratch.baseAddress!, threads: threads)
            let last = i == layers.count - 1
            predict(a, maskFeatures: maskFeatures, level: last ? nil : (i + 1) % config.levels, classes: last || observe != nil)
            observe?(i + 1, a.classLogits.baseAddress!, a.maskLogits.baseAddress!)
        }
    }

    /// One prediction from the queries in a.x: class logits (when `classes`), mask
    /// logits, and the attention mask at `level` (when given).
    func predict(_ a: borrowing Mask2FormerDecoderActivations, maskFeatures: UnsafePointer<Float>, level: Int?, classes: Bool) {
        let q = config.queries, d = config.embedDim, cm = config.maskChannels, threads = a.threads
        let plane = a.maskHeight * a.maskWidth
        let normed = a.normed.baseAddress!, h1 = a.hidden.baseAddress!, h2 = h1 + q * d, embedding = h2 + q * d
        postNorm.forward(a.x.baseAddress!, rows: q, into: normed, threads: threads)
        if classes { classEmbed.forward(normed, rows: q, into: a.classLogits.baseAddress!, threads: threads) }
        maskEmbed[0].forward(normed, rows: q, into: h1, threads: threads)
        Self.relu(h1, count: q * d)
        maskEmbed[1].forward(h1, rows: q, into: h2, threads: threads)
        Self.relu(h2, count: q * d)
        maskEmbed[2].forward(h2, rows: q, into: embedding, threads: threads)
        GEMM.rows(m: q, n: plane, k: cm, a: embedding, lda: cm, b: maskFeatures, ldb: plane, c: a.maskLogits.baseAddress!,
                  ldc: plane, threads: threads)
        guard let level else { return }
        let h = a.levelHeights[level], w = a.levelWidths[level], n = h * w
        let resized = a.resized.baseAddress!, mask = a.mask.baseAddress!
        Bilinear.resize(a.maskLogits.baseAddress!, planes: q, height: a.maskHeight, width: a.maskWidth, toHeight: h, width: w,
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
