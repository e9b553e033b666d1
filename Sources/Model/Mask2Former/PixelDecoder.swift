// PixelDecoder.swift — Mask2Former's pixel decoder, mmdet's
// MSDeformAttnPixelDecoder as Rein / Causal-Tune configure it.
//
// Inputs: M feature maps (channel-major (C_in_i, H_i, W_i), strides 4, 8, 16, 32,
// highest resolution first). The E = encoderLevels lowest-resolution maps go
// through the encoder, lowest resolution first (encoder level e is input map
// M - 1 - e):
//   1. input_convs.e: 1x1 conv (with bias) + GroupNorm, flattened token-major;
//   2. positions: the normalised sine encoding of each map (SinePositionEncoding)
//      plus level_encoding.weight[e];
//   3. encoder.layers.k: deformable self-attention + FFN over all E levels' tokens
//      (DeformableEncoderLayer); its output, split by level, is the multi-scale
//      output the transformer decoder reads;
//   4. FPN, for input map i = M - E - 1 down to 0: lateral_convs.i (1x1 conv
//      without bias + GroupNorm) of map i, plus the previous output (at first
//      the highest-resolution encoder level) bilinearly resized to its size
//      (align_corners=False), then output_convs.i (3x3 conv without bias +
//      GroupNorm + ReLU);
//   5. mask_feature: 1x1 conv (with bias) of the last output.
// Outputs: the mask features (outChannels, H_0, W_0) channel-major, and the
// multi-scale features token-major: the E encoder levels' (H·W, C) blocks one
// after the other, lowest resolution first (mmdet's `multi_scale_features`
// order, num_outs = E).
//
// Training: `forward(..., keep:)` writes what the backward needs into a
// PixelDecoderSaved (one per decoder and input sizes, allocated once): each
// conv module's convolution output and GroupNorm statistics, every encoder
// layer's buffers, the FPN sums and outputs. `backward` takes the gradients of
// the mask features and of the multi-scale features and runs the steps above
// in reverse: mask_feature, then per FPN level output_convs (ReLU, GroupNorm,
// 3x3 conv), the bilinear resize's adjoint (to the previous output) and
// lateral_convs (to input map i); the FPN's share joins the multi-scale
// gradient of the highest-resolution encoder level; the encoder layers in
// reverse, which also give the positions' gradient — its per-level column sums
// are level_encoding's gradient (the sine part has none); last input_convs to
// the encoder's input maps. Parameter gradients are added into
// ParameterGradients (frozen ones skipped); the input maps' gradients are
// written into the saved struct's `inputGradients`.

import Tensor

/// The pixel decoder's sizes (defaults: Rein's configuration).
public struct PixelDecoderConfig: Sendable, Equatable, Codable {
    /// Channels of each input map, highest resolution (stride 4) first.
    public var inChannels: [Int]
    public var featureChannels: Int
    /// Channels of the mask features.
    public var outChannels: Int
    /// Input maps the encoder reads (the lowest-resolution ones).
    public var encoderLevels: Int
    public var encoderLayers: Int
    public var heads: Int
    /// Sampling points per head and level.
    public var points: Int
    public var feedforward: Int
    /// GroupNorm groups of every conv module (norm_cfg num_groups).
    public var groupNormGroups: Int

    public init(inChannels: [Int], featureChannels: Int = 256, outChannels: Int = 256, encoderLevels: Int = 3,
                encoderLayers: Int = 6, heads: Int = 8, points: Int = 4, feedforward: Int = 1024, groupNormGroups: Int = 32) {
        self.inChannels = inChannels
        self.featureChannels = featureChannels
        self.outChannels = outChannels
        self.encoderLevels = encoderLevels
        self.encoderLayers = encoderLayers
        self.heads = heads
        self.points = points
        self.feedforward = feedforward
        self.groupNormGroups = groupNormGroups
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case inChannels = "in_channels", featureChannels = "feature_channels", outChannels = "out_channels"
        case encoderLevels = "encoder_levels", encoderLayers = "encoder_layers", heads, points, feedforward
        case groupNormGroups = "group_norm_groups"
    }

    /// The sizes a checkpoint's tensors under `scope` (e.g. `decode_head.pixel_decoder.`) imply: input
    /// widths, feature and output channels, levels, layers and FFN width from the shapes. Heads, points
    /// and GroupNorm groups are not recorded in the shapes and are taken as given; the sampling offsets'
    /// width must agree with them.
    public static func inferred(from tensors: [String: Tensor], scope: ParameterScope, path: String, heads: Int = 8,
                                points: Int = 4, groupNormGroups: Int = 32) throws(WeightError) -> PixelDecoderConfig {
        func shape(_ name: String) throws(WeightError) -> [Int] {
            guard let t = tensors[scope.name(name)] else { throw WeightError(path: path, tensor: scope.name(name), reason: "missing") }
            return t.shape
        }
        func count(_ pattern: (Int) -> String) -> Int {
            var k = 0
            while tensors[scope.name(pattern(k))] != nil { k += 1 }
            return k
        }
        let levels = count { "input_convs.\($0).conv.weight" }, fpn = count { "lateral_convs.\($0).conv.weight" }
        let layers = count { "encoder.layers.\($0).norms.0.weight" }
        guard levels > 0 else { throw WeightError(path: path, tensor: scope.name("input_convs.0.conv.weight"), reason: "missing") }
        guard layers > 0 else { throw WeightError(path: path, tensor: scope.name("encoder.layers.0.norms.0.weight"), reason: "missing") }
        var inChannels = [Int](repeating: 0, count: levels + fpn)
        for e in 0 ..< levels {
            let s = try shape("input_convs.\(e).conv.weight")
            guard s.count == 4 else {
                throw WeightError(path: path, tensor: scope.name("input_convs.\(e).conv.weight"), reason: "expected a 4-D convolution weight")
            }
            inChannels[levels + fpn - 1 - e] = s[1]
        }
        // mmdet builds lateral_convs.j for input map fpn - 1 - j.
        for j in 0 ..< fpn {
            let s = try shape("lateral_convs.\(j).conv.weight")
            guard s.count == 4 else {
                throw WeightError(path: path, tensor: scope.name("lateral_convs.\(j).conv.weight"), reason: "expected a 4-D convolution weight")
            }
            inChannels[fpn - 1 - j] = s[1]
        }
        let feature = try shape("input_convs.0.conv.weight")[0]
        let out = try shape("mask_feature.weight")[0]
        let ffn = try shape("encoder.layers.0.ffn.layers.0.0.weight")[0]
        let offsets = try shape("encoder.layers.0.self_attn.sampling_offsets.weight")[0]
        guard offsets == heads * levels * points * 2 else {
            throw WeightError(path: path, tensor: scope.name("encoder.layers.0.self_attn.sampling_offsets.weight"),
                              reason: "\(offsets) outputs do not fit \(heads) heads x \(levels) levels x \(points) points x 2")
        }
        return PixelDecoderConfig(inChannels: inChannels, featureChannels: feature, outChannels: out, encoderLevels: levels,
                                  encoderLayers: layers, heads: heads, points: points, feedforward: ffn,
                                  groupNormGroups: groupNormGroups)
    }
}

public struct PixelDecoder: Sendable, ParameterWalkable {
    public let config: PixelDecoderConfig
    /// One per encoder level, lowest resolution first.
    public var inputConvs: [ConvGroupNorm]
    public var encoderLayers: [DeformableEncoderLayer]
    /// (encoderLevels, C): row e is added to encoder level e's positions.
    public var levelEncoding: Parameter
    /// FPN modules, indexed as mmdet's forward uses them: entry i for input map i.
    public var lateralConvs: [ConvGroupNorm]
    public var outputConvs: [ConvGroupNorm]
    /// 1x1 conv C -> outChannels, with bias.
    public var maskFeature: Conv2d

    /// A decoder whose parameters a walk binds later.
    public init(config: PixelDecoderConfig) throws(ModelInputError) {
        let m = config.inChannels.count, e = config.encoderLevels, c = config.featureChannels, g = config.groupNormGroups
        guard e >= 1 && m >= e else {
            throw ModelInputError("the pixel decoder's encoder reads 1...\(m) of its \(m) input maps, got \(e)")
        }
        guard config.inChannels.allSatisfy({ $0 > 0 }), config.outChannels > 0, config.feedforward > 0, config.encoderLayers >= 1 else {
            throw ModelInputError("the pixel decoder's sizes must be positive: \(config)")
        }
        guard c > 0 && c % 2 == 0 && g > 0 && c % g == 0 && config.heads > 0 && c % config.heads == 0 && config.points > 0 else {
            throw ModelInputError("the pixel decoder's \(c) channels must be even and divisible by \(g) GroupNorm groups and \(config.heads) heads")
        }
        let fpn = m - e
        // mmdet builds lateral_convs.j for map fpn - 1 - j but applies lateral_convs.i to map i: the same
        // module only when the FPN maps are equally wide.
        guard fpn <= 1 || Set(config.inChannels[0 ..< fpn]).count == 1 else {
            throw ModelInputError("the pixel decoder's FPN maps must be equally wide, got \(Array(config.inChannels[0 ..< fpn]))")
        }
        self.config = config
        inputConvs = (0 ..< e).map {
            ConvGroupNorm(inChannels: config.inChannels[m - 1 - $0], outChannels: c, kernelSize: 1, convBias: true, groups: g, relu: false)
        }
        encoderLayers = (0 ..< config.encoderLayers).map { _ in
            DeformableEncoderLayer(embedDim: c, heads: config.heads, levels: e, points: config.points, feedforward: config.feedforward)
        }
        levelEncoding = Parameter(unbound: [e, c])
        lateralConvs = (0 ..< fpn).map {
            ConvGroupNorm(inChannels: config.inChannels[fpn - 1 - $0], outChannels: c, kernelSize: 1, convBias: false, groups: g, relu: false)
        }
        outputConvs = (0 ..< fpn).map { _ in
            ConvGroupNorm(inChannels: c, outChannels: c, kernelSize: 3, convBias: false, groups: g, relu: true)
        }
        maskFeature = Conv2d(inChannels: c, outChannels: config.outChannels, kernelSize: 1, bias: true)
    }

    /// mmdet names (under `decode_head.pixel_decoder.`), in the module's order: input_convs.{e},
    /// encoder.layers.{k}, level_encoding.weight, lateral_convs.{j}, output_convs.{j}, mask_feature.
    public mutating func walkParameters<V: ParameterVisitor>(_ v: inout V, _ scope: ParameterScope) throws(WeightError) {
        for i in inputConvs.indices { try inputConvs[i].walkParameters(&v, scope.child("input_convs.\(i)")) }
        for k in encoderLayers.indices { try encoderLayers[k].walkParameters(&v, scope.child("encoder.layers.\(k)")) }
        try v.visit(&levelEncoding, "weight", in: scope.child("level_encoding"), decay: true)
        for j in lateralConvs.indices { try lateralConvs[j].walkParameters(&v, scope.child("lateral_convs.\(j)")) }
        for j in outputConvs.indices { try outputConvs[j].walkParameters(&v, scope.child("output_convs.\(j)")) }
        try maskFeature.walkParameters(&v, scope.child("mask_feature"))
    }

    /// Maps (highest resolution first) -> mask features (outChannels, H_0, W_0) channel-major and the
    /// multi-scale features (workspace.multiScaleRows, C) token-major, encoder levels lowest resolution
    /// first (their shapes: workspace.encoderShapes). `features[i]`: map i, (inChannels[i], H_i, W_i)
    /// channel-major with the workspace's shapes. Outputs must not overlap the inputs or each other.
    /// With `keep` (made for this decoder and the workspace's shapes) the forward also writes what
    /// `backward` needs; the outputs are the same.
    public func forward(features: [UnsafePointer<Float>], workspace ws: PixelDecoderWorkspace,
                        maskFeatures: UnsafeMutablePointer<Float>, multiScale: UnsafeMutablePointer<Float>,
                        keep: PixelDecoderSaved? = nil) {
        precondition(features.count == config.inChannels.count && ws.shapes.count == features.count && ws.channels == config.featureChannels,
                     "PixelDecoder.forward: \(features.count) maps for a decoder of \(config.inChannels.count) and a workspace of \(ws.shapes.count)")
        precondition(keep.map { $0.shapes == ws.shapes && $0.layers.count == encoderLayers.count } ?? true,
                     "PixelDecoder.forward: the saved buffers were made for other sizes")
        let c = config.featureChannels, m = features.count, e = config.encoderLevels, threads = ws.threads
        let a = ws.planeA.baseAddress!, up = ws.planeC.baseAddress!
        let convScratch = ws.convScratch.baseAddress!, pos = ws.position.baseAddress!
        var row = 0
        for level in 0 ..< e {
            let s = ws.encoderShapes[level]
            inputConvs[level].forward(features[m - 1 - level], height: s.height, width: s.width, scratch: convScratch, into: a,
                                      threads: threads, keep: keep?.inputConvs[level])
            Transpose.apply(a, rows: c, cols: s.count, into: multiScale + row * c, threads: threads)
            levelEncoding.withUnsafeBufferPointer { table in
                let embedding = table.baseAddress! + level * c, sine = ws.sine.baseAddress! + row * c
                Threading.parallelFor(s.count, threads: threads, grain: max(1, 16384 / c)) { range in
                    for t in range {
                        for k in 0 ..< c { pos[(row + t) * c + k] = sine[t * c + k] + embedding[k] }
                    }
                }
            }
            row += s.count
        }
        let encoderScratch = ws.encoderScratch.baseAddress!
        for (k, layer) in encoderLayers.enumerated() {
            layer.forward(multiScale, position: pos, shapes: ws.encoderShapes, scratch: encoderScratch, threads: threads,
                          keep: keep?.layers[k])
        }
        // The FPN: `b` holds the previous output, channel-major.
        var previous = ws.encoderShapes[e - 1]
        var b = keep?.encoderPlane ?? ws.planeB.baseAddress!
        Transpose.apply(multiScale + (row - previous.count) * c, rows: previous.count, cols: c, into: b, threads: threads)
        for i in stride(from: m - e - 1, through: 0, by: -1) {
            let s = ws.shapes[i], sum = keep?.sums[i] ?? a
            lateralConvs[i].forward(features[i], height: s.height, width: s.width, scratch: convScratch, into: sum, threads: threads,
                                    keep: keep?.laterals[i])
            Bilinear.resize(b, planes: c, height: previous.height, width: previous.width, toHeight: s.height, width: s.width,
                            into: up, threads: threads)
            let n = s.count
            Threading.parallelFor(c, threads: threads, grain: max(1, 16384 / n)) { range in
                for k in range.lowerBound * n ..< range.upperBound * n { sum[k] += up[k] }
            }
            let output = keep?.outputPlanes[i] ?? ws.planeB.baseAddress!
            outputConvs[i].forward(sum, height: s.height, width: s.width, scratch: convScratch, into: output, threads: threads,
                                   keep: keep?.outputs[i])
            b = output
            previous = s
        }
        maskFeature.forward(b, height: previous.height, width: previous.width, scratch: nil, into: maskFeatures, threads: threads)
    }

    /// The backward pass of `forward(..., keep: saved)`: from the gradients of the mask features
    /// (outChannels, H_0, W_0) channel-major and of the multi-scale features (multiScaleRows, C)
    /// token-major (nil: zero), adds every trainable parameter's gradient into `gradients` and writes
    /// the input maps' gradients into `saved.inputGradients`. `features`, `ws` and `saved`: those of
    /// that forward, unchanged since (the workspace still holds its positions).
    public func backward(maskFeatures dMask: UnsafePointer<Float>, multiScale dMultiScale: UnsafePointer<Float>?,
                         features: [UnsafePointer<Float>], workspace ws: PixelDecoderWorkspace, saved: PixelDecoderSaved,
                         gradients: ParameterGradients?) {
        precondition(features.count == config.inChannels.count && saved.shapes == ws.shapes && saved.layers.count == encoderLayers.count,
                     "PixelDecoder.backward: \(features.count) maps, or saved buffers made for other sizes")
        let c = config.featureChannels, m = features.count, e = config.encoderLevels, fpn = m - e, threads = ws.threads
        let dA = saved.dPlaneA, dB = saved.dPlaneB, convScratch = saved.convScratch
        // dB: the gradient of the FPN's current output (at first, mask_feature's input).
        let top = ws.shapes[0]
        maskFeature.backward(dMask, input: fpn > 0 ? saved.outputPlanes[0] : saved.encoderPlane, height: top.height, width: top.width,
                             scratch: nil, into: dB, gradients: gradients, threads: threads)
        for i in 0 ..< fpn {
            let s = ws.shapes[i], previous = i + 1 < fpn ? ws.shapes[i + 1] : ws.encoderShapes[e - 1]
            outputConvs[i].backward(dB, input: saved.sums[i], saved: saved.outputs[i], height: s.height, width: s.width,
                                    scratch: convScratch, into: dA, gradients: gradients, threads: threads)
            Bilinear.resizeBackward(dA, planes: c, height: previous.height, width: previous.width, fromHeight: s.height, width: s.width,
                                    into: dB, threads: threads)
            lateralConvs[i].backward(dA, input: features[i], saved: saved.laterals[i], height: s.height, width: s.width,
                                     scratch: convScratch, into: saved.inputGradients[i].baseAddress!, gradients: gradients,
                                     threads: threads)
        }
        // The encoder's output gradient: the multi-scale one plus the FPN's share of its last level.
        let n = ws.multiScaleRows, dX = saved.dMemory, dPosition = saved.dPosition, last = ws.encoderShapes[e - 1]
        if let dMultiScale { dX.update(from: dMultiScale, count: n * c) } else { dX.update(repeating: 0, count: n * c) }
        Transpose.addScaled(dB, rows: last.count, cols: c, alpha: 1, into: dX + (n - last.count) * c, threads: threads)
        dPosition.update(repeating: 0, count: n * c)
        for k in encoderLayers.indices.reversed() {
            encoderLayers[k].backward(dX, position: ws.position.baseAddress!, shapes: ws.encoderShapes, saved: saved.layers[k],
                                      scratch: saved.encoderScratch, position: dPosition, gradients: gradients, threads: threads)
        }
        let dLevel = gradients?[levelEncoding]
        var row = 0
        for level in 0 ..< e {
            let s = ws.encoderShapes[level]
            if let dLevel {
                ActivationBackwardKernels.addColumnSums(dPosition + row * c, rows: s.count, cols: c, ld: c, into: dLevel + level * c,
                                                        threads: threads)
            }
            Transpose.apply(dX + row * c, rows: s.count, cols: c, into: dA, threads: threads)
            inputConvs[level].backward(dA, input: features[m - 1 - level], saved: saved.inputConvs[level], height: s.height,
                                       width: s.width, scratch: convScratch, into: saved.inputGradients[m - 1 - level].baseAddress!,
                                       gradients: gradients, threads: threads)
            row += s.count
        }
    }
}

/// What a pixel decoder's training forward keeps for its backward pass, the backward's scratch and
/// the input maps' gradients, for one decoder and one set of input sizes (a window size): allocated
/// once, reused every step.
public final class PixelDecoderSaved: @unchecked Sendable {
    /// The input maps' sizes, highest resolution first.
    public let shapes: [LevelShape]
    /// Per input map i: its gradient (inChannels[i], H_i, W_i), written by `PixelDecoder.backward`.
    public let inputGradients: [UnsafeMutableBufferPointer<Float>]
    let inputConvs: [ConvGroupNormSaved]
    let layers: [DeformableEncoderLayerSaved]
    /// (C, H, W) the highest-resolution encoder level, channel-major (the first FPN input).
    let encoderPlane: UnsafeMutablePointer<Float>
    /// Per FPN map i (C, H_i, W_i): lateral_convs' buffers, the sum output_convs reads, output_convs'
    /// buffers and its output.
    let laterals: [ConvGroupNormSaved], sums: [UnsafeMutablePointer<Float>]
    let outputs: [ConvGroupNormSaved], outputPlanes: [UnsafeMutablePointer<Float>]
    /// Backward scratch: two planes (C x the largest map), the encoder's output and position
    /// gradients (multiScaleRows, C), the encoder layers' and the convolutions' scratch.
    let dPlaneA: UnsafeMutablePointer<Float>, dPlaneB: UnsafeMutablePointer<Float>
    let dMemory: UnsafeMutablePointer<Float>, dPosition: UnsafeMutablePointer<Float>
    let encoderScratch: UnsafeMutablePointer<Float>, convScratch: UnsafeMutablePointer<Float>
    private let storage: UnsafeMutableBufferPointer<Float>

    /// Buffers for `decoder` on the maps of `ws`.
    public init(decoder: PixelDecoder, workspace ws: PixelDecoderWorkspace) {
        let config = decoder.config, m = config.inChannels.count, e = config.encoderLevels, fpn = m - e
        let c = config.featureChannels, g = config.groupNormGroups, n = ws.multiScaleRows
        shapes = ws.shapes
        let maxPlane = c * (ws.shapes.map(\.count).max() ?? 0)
        let encoderScratchCount = n * (decoder.encoderLayers.map(\.backwardScratchPerToken).max() ?? 0)
        var convCount = 1
        for i in 0 ..< fpn {
            let s = ws.shapes[i]
            convCount = max(convCount, decoder.lateralConvs[i].backwardScratchCount(height: s.height, width: s.width),
                            decoder.outputConvs[i].backwardScratchCount(height: s.height, width: s.width))
        }
        for level in 0 ..< e {
            let s = ws.encoderShapes[level]
            convCount = max(convCount, decoder.inputConvs[level].backwardScratchCount(height: s.height, width: s.width))
        }
        var total = ws.encoderShapes.reduce(0) { $0 + c * $1.count + 2 * g }
        total += decoder.encoderLayers.reduce(0) { $0 + n * DeformableEncoderLayerSaved.perToken($1) }
        total += c * ws.encoderShapes[e - 1].count
        total += ws.shapes[0 ..< fpn].reduce(0) { $0 + 4 * c * $1.count + 4 * g }
        total += 2 * maxPlane + 2 * n * c + encoderScratchCount + convCount
        total += zip(config.inChannels, ws.shapes).reduce(0) { $0 + $1.0 * $1.1.count }
        storage = .allocate(capacity: total)
        storage.initialize(repeating: 0)
        var cursor = storage.baseAddress!
        func take(_ count: Int) -> UnsafeMutablePointer<Float> {
            defer { cursor += count }
            return cursor
        }
        func convSaved(_ count: Int) -> ConvGroupNormSaved {
            ConvGroupNormSaved(convolved: take(c * count), norm: GroupNormSaved(mean: take(g), rstd: take(g)))
        }
        inputConvs = ws.encoderShapes.map { convSaved($0.count) }
        layers = decoder.encoderLayers.map { DeformableEncoderLayerSaved(layer: $0, tokens: n, from: &cursor) }
        encoderPlane = take(c * ws.encoderShapes[e - 1].count)
        laterals = ws.shapes[0 ..< fpn].map { convSaved($0.count) }
        sums = ws.shapes[0 ..< fpn].map { take(c * $0.count) }
        outputs = ws.shapes[0 ..< fpn].map { convSaved($0.count) }
        outputPlanes = ws.shapes[0 ..< fpn].map { take(c * $0.count) }
        dPlaneA = take(maxPlane)
        dPlaneB = take(maxPlane)
        dMemory = take(n * c)
        dPosition = take(n * c)
        encoderScratch = take(encoderScratchCount)
        convScratch = take(convCount)
        inputGradients = zip(config.inChannels, ws.shapes).map { UnsafeMutableBufferPointer(start: take($0 * $1.count), count: $0 * $1.count) }
        precondition(cursor == storage.baseAddress! + total, "PixelDecoderSaved: the layout does not add up")
    }

    deinit { storage.deallocate() }

    /// Bytes held.
    public var byteCount: Int { storage.count * MemoryLayout<Float>.stride }
}

/// The scratch of one pixel decoder for one set of input sizes, and the thread count its forward uses.
public final class PixelDecoderWorkspace: @unchecked Sendable {
    /// The input maps' sizes, highest resolution first.
    public let shapes: [LevelShape]
    /// The encoder levels' sizes, lowest resolution first (the multi-scale output's blocks).
    public let encoderShapes: [LevelShape]
    public let channels: Int
    public let threads: Int
    /// Rows of the multi-scale output (Σ encoder levels' H·W).
    public let multiScaleRows: Int
    /// The mask features' size (the first map's).
    public var maskShape: LevelShape { shapes[0] }
    /// Sine encodings of the encoder levels, token-major (multiScaleRows, C).
    let sine: UnsafeMutableBufferPointer<Float>
    /// Sine + level encodings.
    let position: UnsafeMutableBufferPointer<Float>
    let planeA: UnsafeMutableBufferPointer<Float>, planeB: UnsafeMutableBufferPointer<Float>, planeC: UnsafeMutableBufferPointer<Float>
    let encoderScratch: UnsafeMutableBufferPointer<Float>
    let convScratch: UnsafeMutableBufferPointer<Float>

    /// Scratch for `decoder` on maps of `shapes` (highest resolution first), forwards on `threads` threads.
    public init(decoder: PixelDecoder, shapes: [LevelShape], threads: Int) throws(ModelInputError) {
        let config = decoder.config, m = config.inChannels.count, e = config.encoderLevels, c = config.featureChannels
        guard shapes.count == m else { throw ModelInputError("the pixel decoder reads \(m) feature maps, got \(shapes.count)") }
        guard shapes.allSatisfy({ $0.height > 0 && $0.width > 0 }) else {
            throw ModelInputError("the pixel decoder's feature maps must not be empty: \(shapes.map { "\($0.height)x\($0.width)" })")
        }
        self.shapes = shapes
        encoderShapes = (0 ..< e).map { shapes[m - 1 - $0] }
        channels = c
        self.threads = max(threads, 1)
        multiScaleRows = encoderShapes.reduce(0) { $0 + $1.count }
        var sine = [Float]()
        sine.reserveCapacity(multiScaleRows * c)
        for s in encoderShapes { sine += SinePositionEncoding.tokenMajor(height: s.height, width: s.width, features: c / 2) }
        self.sine = .allocate(capacity: sine.count)
        _ = self.sine.initialize(from: sine)
        position = .allocate(capacity: multiScaleRows * c)
        position.initialize(repeating: 0)
        let plane = c * (shapes.map(\.count).max() ?? 0)
        planeA = .allocate(capacity: plane)
        planeB = .allocate(capacity: plane)
        planeC = .allocate(capacity: plane)
        for p in [planeA, planeB, planeC] { p.initialize(repeating: 0) }
        let perToken = decoder.encoderLayers.map(\.scratchPerToken).max() ?? 0
        encoderScratch = .allocate(capacity: max(1, multiScaleRows * perToken))
        encoderScratch.initialize(repeating: 0)
        var conv = 0
        for (i, s) in shapes.enumerated() where i < m - e {
            conv = max(conv, decoder.lateralConvs[i].scratchCount(height: s.height, width: s.width),
                       decoder.outputConvs[i].scratchCount(height: s.height, width: s.width))
        }
        convScratch = .allocate(capacity: max(1, conv))
        convScratch.initialize(repeating: 0)
    }

    deinit {
        for p in [sine, position, planeA, planeB, planeC, encoderScratch, convScratch] { p.deallocate() }
    }

    /// Bytes held.
    public var byteCount: Int {
        [sine, position, planeA, planeB, planeC, encoderScratch, convScratch].reduce(0) { $0 + $1.count } * MemoryLayout<Float>.stride
    }
}
